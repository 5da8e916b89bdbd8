// pg_mpa's events in the server log (docs/operations.md, "Logs"): every
// audit event, at the moment it happens and in the session where it
// happens, also becomes one server log line (core/event_line.hpp), so that
// a refusal is logged although its transaction rolls back. audit_log.cpp
// calls log_event for every event it records, in the transaction or
// through the ring; nothing else writes these lines.
#pragma once

#include "pg/boundary/postgres.hpp"

namespace mpa::pg {

// The line of the event `kind` of request `request_id` (0: none) whose
// audit detail is `detail` (a JSON object's text), written when
// mpa.log_events is on, at mpa.log_level, to the server log only, whatever
// the session's log_min_messages says. PostgreSQL-style.
void log_event(const char *kind, int64 request_id, const char *detail);

// Called first by pg_mpa's emit_log_hook: an event line never goes to the
// client (INFO, NOTICE and WARNING would, at the client's settings).
void keep_event_line_off_client(ErrorData *edata);

}  // namespace mpa::pg
