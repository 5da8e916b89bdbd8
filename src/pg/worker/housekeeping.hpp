// The approval lifecycle's timers, run by the mail worker: requests and codes
// that ran out of time are expired; approvers are told when a code died of
// wrong tries or they were locked out (that news must not be lost to the
// ROLLBACK of the session that guessed, so it travels through shared
// memory); temporary grants are announced before they end, then revoked;
// a team that can no longer reach its threshold is told.
#pragma once

namespace mpa::pg {

// In the worker's transaction, with SPI connected. PostgreSQL-style.
void run_housekeeping();

// Right after the transaction that ran it committed: what it told the
// approvers is marked told (a round that failed tells it again).
void housekeeping_committed();

// Milliseconds until the next request, code or temporary grant needs the
// worker; a large value when nothing is open. In the worker's transaction, with SPI connected.
long milliseconds_until_next_deadline();

}  // namespace mpa::pg
