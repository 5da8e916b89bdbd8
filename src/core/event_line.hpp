// The server log line of an audit event (docs/operations.md, "Logs"):
//
//   MPA: event=vote request=7 role=alice database=postgres approver=alice decision=approve challenge=3
//
// A fixed prefix, "MPA: ", as pgaudit's "AUDIT: ", so that a log shipper can
// pick the lines out; then key=value fields (logfmt): event (mpa.audit's
// kind), request (only when the event concerns one), role, database, then
// the audit entry's detail, one field per key. A value is written bare when
// it is made of visible ASCII other than `"`, `\` and `=`; otherwise it is
// a JSON string (core/json_string.hpp), so a line never breaks and a value
// never ends early. Long values are clipped.
//
// Fields that hold text a person wrote (a statement, a justification, a
// configuration call) are kept out: a statement may carry a password
// (ALTER ROLE ... PASSWORD), and server logs travel beyond the database's
// access control (log shippers, archives, SIEMs) and stay there. They are
// in mpa.audit and mpa.requests.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mpa::events {

inline constexpr const char *kLinePrefix = "MPA: ";
// Longest value written; longer ones are cut (never inside a UTF-8
// character) and end in "...".
inline constexpr std::size_t kMaxValueBytes = 200;

struct Field {
  std::string name;
  std::string value;
};

// Whether the detail field `name` stays out of the log line.
bool kept_out_of_log(std::string_view name) noexcept;

// `value` as written in a line: bare or quoted and escaped, clipped.
std::string quote_value(std::string_view value);

// The whole line. `request_id` 0: the event concerns no request. Detail
// fields kept out of the log are left out; names are reduced to
// [A-Za-z0-9_] (other bytes become '_').
std::string event_line(std::string_view kind, long long request_id, std::string_view role,
                       std::string_view database, const std::vector<Field> &detail);

}  // namespace mpa::events
