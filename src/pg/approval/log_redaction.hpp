// Keeps one-time codes out of the server log (core/code_redaction.hpp).
#pragma once

#include "pg/boundary/postgres.hpp"

namespace mpa::pg {

// pg_mpa's emit_log hook (src/pg/hooks/), before any hook loaded earlier
// sees the line (a log shipper, an audit extension): blanks the codes of a
// line about a code entry, drops its STATEMENT:, notes a failed entry, and
// keeps pg_mpa's event lines off the client.
void redact_codes(ErrorData *edata);

}  // namespace mpa::pg
