// The audit chain as text, to be checked away from the database
// (mpa_audit_export() writes it, tools/mpa_audit_check reads it): one JSON
// object per line, one line per chained entry, in chain order:
//
//   {"seq": 1, "id": 1, "recorded_at": "2025-03-01T12:00:00.000001Z",
//    "kind": "configuration", "request_id": null, "actor": "postgres",
//    "database": "postgres", "detail": "{\"call\": \"...\"}",
//    "previous_hash": "", "hash": "9f86d0..."}
//
// Every field the entry's hash covers (audit_chain.hpp) is there in a form
// that gives back its exact bytes: detail is jsonb's text as a JSON string
// (not a nested object a JSON tool could re-space), recorded_at is UTC to the
// microsecond (a bare integer of microseconds since 2000-01-01 outside years
// 1-9999), request_id null for none (hashed as 0). So the offline check
// recomputes each hash with the same code as the database, nothing else.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/audit_chain.hpp"

namespace mpa::audit {

struct ExportedEntry {
  Entry entry;
  std::string hash;
};

// One line of the export (without its line break).
std::string export_line(const Entry &entry, std::string_view hash);

// Reads one line back. Throws mpa::Error (22023) saying what is wrong: not
// JSON, a field missing, twice or unknown, a value of the wrong kind.
ExportedEntry parse_export_line(std::string_view line);

// Microseconds since 2000-01-01 00:00 UTC as "YYYY-MM-DDTHH:MM:SS.ffffffZ"
// (years 1 to 9999; nullopt outside), and back (nullopt unless exactly that
// form and a real date).
std::optional<std::string> format_utc(std::int64_t microseconds);
std::optional<std::int64_t> parse_utc(std::string_view text);

// A position in the chain and the hash of the entry there.
struct ChainPoint {
  std::int64_t seq;
  std::string hash;
};

// "N:HASH", or the line every mail of pg_mpa carries: "entry N, SHA-256 HASH"
// (HASH: 64 hex digits). nullopt otherwise.
std::optional<ChainPoint> parse_chain_point(std::string_view text);

struct ExportVerdict {
  bool intact;
  std::string message;
};

// Checks an export line by line: the chain (audit_chain.hpp's verifier),
// from its first entry, or continuing `after` (the head an earlier export
// ended with); and, if `head` is given, that the entry at head.seq is in the
// export with head.hash (the head a mail carried: entries cut off the end,
// or a rewritten history, disagree with it).
class ExportChecker {
 public:
  explicit ExportChecker(std::optional<ChainPoint> after = std::nullopt,
                         std::optional<ChainPoint> head = std::nullopt);

  // The next line of the file (empty lines are skipped but counted). Returns
  // false once the export is broken: later lines change nothing.
  bool add_line(std::string_view line);

  // "intact, N entries (A to B), head entry B, SHA-256 H", or where and why
  // it is broken.
  ExportVerdict verdict() const;

 private:
  std::optional<ChainPoint> after_;
  std::optional<ChainPoint> head_;
  std::optional<ChainVerifier> chain_;
  std::int64_t line_ = 0;
  std::int64_t first_seq_ = 0;
  std::string continued_hash_;  // the previous_hash the export starts from
  std::optional<std::string> hash_at_head_;
  std::optional<std::string> broken_;
};

}  // namespace mpa::audit
