// pg_mpa's audit (mpa.audit; the chain's rules are in core/audit_chain.hpp).
// Events of the caller's transaction are written in it (mpa.audit(),
// mpa_audit_event). Events of a transaction that is about to roll back (a
// refused statement, a wrong code) travel through shared memory instead,
// and the mail worker writes them; it also chains every committed entry.
// If the server stops before the worker took them, events in shared memory
// are lost (they are few: the worker is woken at once).
#pragma once

#include "pg/boundary/postgres.hpp"

namespace mpa::pg {

// An event of the caller's transaction; `detail` is a JSON object's text.
// PostgreSQL-style.
void audit_in_transaction(const char *kind, int64 request_id, const char *detail);

// A configuration change let through: the configuration function and the
// call's text (the function alone reaches the server log). PostgreSQL-style.
void audit_configuration(const char *function, const char *call);

// A refused statement: what was refused, the team whose approval it needs,
// and the statement's text (clipped). PostgreSQL-style; never raises for a
// full queue (the loss is counted and recorded later).
void audit_refusal(const char *what, const char *team, const char *statement);

// A statement a dry-run policy would have refused, which ran: the policy
// (id, operation, pattern, team), the object it matched and the statement
// (clipped, secrets masked). Through the ring, as refusals: recorded though
// the statement's transaction rolls back. PostgreSQL-style.
void audit_dry_run(int64 policy_id, const char *operation, const char *pattern, const char *team,
                   const char *target, const char *statement);

// A code tried at a challenge ("wrong", "locked", "dead"). PostgreSQL-style.
void audit_code_try(int64 challenge_id, int64 request_id, const char *outcome);

// An approved statement run in another database by mpa_execute that failed
// there (`error`: "SQLSTATE: message"): recorded though the caller's
// transaction rolls back with the error. PostgreSQL-style.
void audit_execution_failed(int64 request_id, const char *database, const char *error);

// The worker: writes the events waiting in shared memory, then chains the
// committed entries not chained yet, a bounded batch at a time. Returns
// whether more are waiting: a full batch was chained, or events were
// written (chained by the next round, once committed). In a transaction,
// SPI connected. The events
// stay in shared memory until release_committed_audit().
bool write_and_chain_audit();

// The worker, right after its transaction committed: the events it wrote
// leave shared memory (a round that failed writes them again).
void release_committed_audit();

// The worker: "entry N, SHA-256 H" for the chain's last entry, palloc'd in
// the current context; nullptr while the chain is empty. SPI connected.
const char *audit_head_line();

}  // namespace mpa::pg
