#include "core/audit_chain.hpp"

#include "core/canonical_encoding.hpp"
#include "core/sha256.hpp"

namespace mpa::audit {
namespace {

constexpr std::string_view kEncodingTag = "pg_mpa-audit-v1";

std::string encode(const Entry &entry) {
  using namespace encoding;
  std::string encoded;
  encoded.reserve(128 + entry.kind.size() + entry.actor.size() + entry.database.size() + entry.detail.size());
  append_bytes_field(encoded, kEncodingTag);
  append_integer_field(encoded, static_cast<std::uint64_t>(entry.seq));
  append_integer_field(encoded, static_cast<std::uint64_t>(entry.id));
  append_integer_field(encoded, static_cast<std::uint64_t>(entry.recorded_at));
  append_bytes_field(encoded, entry.kind);
  append_integer_field(encoded, static_cast<std::uint64_t>(entry.request_id));
  append_bytes_field(encoded, entry.actor);
  append_bytes_field(encoded, entry.database);
  append_bytes_field(encoded, entry.detail);
  append_bytes_field(encoded, entry.previous_hash);
  return encoded;
}

}  // namespace

std::string entry_hash(const Entry &entry) { return sha256_hex(encode(entry), "an audit entry's hash"); }

std::optional<std::string> ChainVerifier::check(const Entry &entry, std::string_view stored_hash) {
  std::optional<std::string> broken;
  if (entry.seq != expected_seq_) {
    broken = entry.seq > expected_seq_
                 ? "entries " + std::to_string(expected_seq_) + " to " + std::to_string(entry.seq - 1) +
                       " are missing (deleted)"
                 : "position " + std::to_string(entry.seq) + " appears twice or out of order (an entry was "
                   "inserted or moved)";
  } else if (entry.previous_hash != previous_hash_) {
    broken = "it does not follow the entry before it (an entry before it was edited, deleted, inserted or "
             "moved)";
  } else if (entry_hash(entry) != stored_hash) {
    broken = "its content does not match its hash (the entry was edited)";
  }
  checked_++;
  expected_seq_ = entry.seq + 1;
  previous_hash_ = std::string(stored_hash);
  return broken;
}

}  // namespace mpa::audit
