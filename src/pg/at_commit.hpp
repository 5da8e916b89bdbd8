// Work that must wait for the current transaction to commit: waking the
// mail worker (its new mail is visible only then) and telling every backend
// that policies changed (so none caches a policy set that rolled back).
#pragma once

namespace mpa::pg {

void wake_mail_worker_at_commit();
void announce_policy_change_at_commit();

// Wakes the mail worker now (from outside a transaction, e.g. a lock-out).
void wake_mail_worker();

}  // namespace mpa::pg
