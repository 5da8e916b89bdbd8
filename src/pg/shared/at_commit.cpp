#include "pg/shared/at_commit.hpp"
#include "pg/boundary/sqlstates.hpp"

#include "pg/gate/policy_cache.hpp"
#include "pg/boundary/postgres.hpp"
#include "pg/shared/shared_state.hpp"

extern "C" {
#include "access/xact.h"
}

namespace mpa::pg {
namespace {

bool wake_worker_pending = false;
bool execution_claimed = false;
bool policy_change_pending = false;
bool callback_registered = false;

void on_transaction_end(XactEvent event, void *) {
  switch (event) {
    case XACT_EVENT_COMMIT:
    case XACT_EVENT_PARALLEL_COMMIT:
      if (policy_change_pending) {
        pg_atomic_fetch_add_u64(&shared_state()->policy_generation, 1);
        forget_cached_policies();
        wake_worker_pending = true;  // it publishes the change to the other databases
      }
      if (wake_worker_pending || execution_claimed) wake_mail_worker();
      break;
    case XACT_EVENT_ABORT:
    case XACT_EVENT_PARALLEL_ABORT:
      // Our own uncommitted policies may be cached: drop them.
      if (policy_change_pending) forget_cached_policies();
      // A claimed approval is approved again, by the worker.
      if (execution_claimed) wake_mail_worker();
      break;
    case XACT_EVENT_PRE_PREPARE:
      // COMMIT PREPARED runs no callback of ours, in whatever session: the
      // policy generation would never move, and every backend would keep
      // its copy without the change. And a prepared transaction that
      // changed pg_mpa's state (every such change leaves the worker mail
      // or an audit entry) would hold its row locks, a request's included,
      // for as long as nobody ends it: approvals would stall behind it.
      if (policy_change_pending || wake_worker_pending)
        ereport(ERROR, (errcode(sqlstates::kNotAsWritten),
                        errmsg("a transaction that changed pg_mpa's state cannot be prepared"),
                        errhint("Commit it instead of PREPARE TRANSACTION.")));
      return;
    case XACT_EVENT_PREPARE:
      // Its mail is sent once COMMIT PREPARED makes it visible: the worker's
      // timer finds it, as it finds any mail it was not woken for.
      break;
    default:
      return;
  }
  wake_worker_pending = false;
  policy_change_pending = false;
  execution_claimed = false;
}

// A rolled-back savepoint may have held policy changes this backend has
// cached: drop the copy (the transaction's change stays pending).
void on_subtransaction_end(SubXactEvent event, SubTransactionId, SubTransactionId, void *) {
  if (event == SUBXACT_EVENT_ABORT_SUB && policy_change_pending) forget_cached_policies();
  // A statement of another database rolled back with its savepoint: its
  // claimed approval is approved again (the worker sees the subtransaction
  // aborted).
  if (event == SUBXACT_EVENT_ABORT_SUB && execution_claimed) wake_mail_worker();
}

// The callbacks are registered in a session the first time it has work for
// a commit, not at start: PostgreSQL calls every registered callback at
// each transaction's end, and most sessions (an application's queries)
// never have any. It then stays for the session.
void register_callback_once() {
  if (callback_registered) return;
  RegisterXactCallback(on_transaction_end, nullptr);
  RegisterSubXactCallback(on_subtransaction_end, nullptr);
  callback_registered = true;
}

}  // namespace

void wake_mail_worker_at_commit() {
  register_callback_once();
  wake_worker_pending = true;
}

void resolve_execution_at_transaction_end() {
  register_callback_once();
  execution_claimed = true;
}

void announce_policy_change_at_commit() {
  register_callback_once();
  policy_change_pending = true;
  forget_cached_policies();  // this backend sees its own change at once
}

bool policy_change_is_pending() { return policy_change_pending; }

void wake_mail_worker() {
  SharedState *state = shared_state();
  if (state == nullptr) return;
  pg_atomic_write_u32(&state->worker_has_work, 1);  // SetLatch is a barrier: the worker sees it
  SpinLockAcquire(&state->mutex);
  Latch *latch = state->worker_latch;
  SpinLockRelease(&state->mutex);
  if (latch != nullptr) SetLatch(latch);
}

}  // namespace mpa::pg
