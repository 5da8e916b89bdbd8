// Retention (mpa.retention; docs/decisions.md, "Retention"): the mail worker
// deletes what only served a request while it was open, once it is older
// than the setting: delivered or dead mail (its body holds the statement and
// the justification) and spent codes (their nonces and addresses) of
// requests closed at least that long ago. Requests, votes and the audit are
// the record and are never deleted. Each round deletes a bounded batch, so a
// backlog (retention set on an old installation) does not hold up mail.
#pragma once

namespace mpa::pg {

// One batch of each, recorded in the audit (counts only). In the worker's
// transaction, SPI connected. PostgreSQL-style.
void purge_past_retention();

// Milliseconds until the next mail passes the retention (soon when the last
// batch was full, a large value when nothing waits or retention is off).
// In the worker's transaction, SPI connected.
long milliseconds_until_next_purge();

// The worker's timers: the milliseconds a deadline query's result says (its
// first column of its first row, float8 milliseconds from now): LONG_MAX
// for NULL (nothing waits), `overdue_ms` when the deadline passed yet the
// round left the row (another transaction holds it: look again shortly).
long milliseconds_of_deadline_result(long overdue_ms);

}  // namespace mpa::pg
