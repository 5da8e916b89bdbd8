// Work that must wait for the current transaction to commit: waking the
// mail worker (its new mail is visible only then) and telling every backend
// that policies changed (so none caches a policy set that rolled back).
#pragma once

namespace mpa::pg {

void wake_mail_worker_at_commit();
void announce_policy_change_at_commit();

// Whether this transaction changed policies (or teams) and has not ended:
// a policy copy read now holds changes the other backends must not see.
bool policy_change_is_pending();

// This transaction claimed an approval for a statement of another database
// (execution_claim.hpp): the mail worker resolves the request from the
// commit log once the transaction ends, committed or aborted, so it is
// woken then. Unlike the other work here it allows PREPARE TRANSACTION: a
// prepared transaction keeps the request executing until COMMIT or
// ROLLBACK PREPARED, which the worker's timer then finds.
void resolve_execution_at_transaction_end();

// Wakes the mail worker now (from outside a transaction, e.g. a lock-out).
void wake_mail_worker();

}  // namespace mpa::pg
