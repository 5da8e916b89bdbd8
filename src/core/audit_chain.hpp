// The audit chain. Every entry of mpa.audit carries the SHA-256 of its own
// canonical encoding, and that encoding includes the previous entry's hash:
// editing, deleting, inserting or reordering entries breaks the chain at
// the first entry concerned. Cutting entries off the end does not break
// it; the head (position and hash of the last entry), which pg_mpa writes
// into every mail it sends, shows that afterwards.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace mpa::audit {

struct Entry {
  std::int64_t seq;           // position in the chain: 1, 2, 3, ...
  std::int64_t id;            // the row's id (order of insertion)
  std::int64_t recorded_at;   // microseconds since 2000-01-01 00:00 UTC
  std::string kind;           // "request", "vote", "refused", ...
  std::int64_t request_id;    // 0 when the entry is about no request
  std::string actor;          // the session role, by name
  std::string database;       // where it happened
  std::string detail;         // jsonb's text form (keys in jsonb's order)
  std::string previous_hash;  // hex; empty for the first entry
};

// Hex SHA-256 of the entry's canonical encoding (canonical_encoding.hpp,
// with the tag "pg_mpa-audit-v1" first and the fields in Entry's order).
// Throws mpa::Error (XX000) if OpenSSL fails.
std::string entry_hash(const Entry &entry);

// Walks a chain in seq order and finds the first broken entry.
class ChainVerifier {
 public:
  // A chain from its first entry.
  ChainVerifier() = default;
  // The rest of a chain from the entry after `head_seq`, whose hash is
  // `head_hash` (an export that continues an earlier one).
  ChainVerifier(std::int64_t head_seq, std::string head_hash)
      : expected_seq_(head_seq + 1), previous_hash_(std::move(head_hash)) {}

  // Checks one more entry with the hash stored beside it. Returns why it
  // breaks the chain, or nullopt. After a break the verifier goes on from
  // this entry, so each later call judges the chain from there.
  std::optional<std::string> check(const Entry &entry, std::string_view stored_hash);

  std::int64_t checked() const { return checked_; }
  // Position and hash of the last entry checked (0 and "" before any).
  std::int64_t head_seq() const { return expected_seq_ - 1; }
  const std::string &head_hash() const { return previous_hash_; }

 private:
  std::int64_t expected_seq_ = 1;
  std::string previous_hash_;
  std::int64_t checked_ = 0;
};

}  // namespace mpa::audit
