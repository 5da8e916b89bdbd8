#include "pg/approval/code_submission.hpp"

#include "pg/boundary/guard.hpp"
#include "pg/shared/shared_state.hpp"

extern "C" {
#include "access/xact.h"
#include "access/xlog.h"
#include "miscadmin.h"
#include "utils/timestamp.h"
}

namespace mpa::pg {
namespace {

// A burn is useless once every code opened before it expired (mpa.otp_ttl
// is at most an hour).
constexpr int64 kBurnLifetimeUs = INT64CONST(3600) * USECS_PER_SEC;

// The submission under way in this backend: the approver, and the
// subtransaction whose abort means the call did not finish.
Oid submitting_approver = InvalidOid;
SubTransactionId submitted_in = InvalidSubTransactionId;
TimestampTz submitted_in_statement = 0;  // the statement's start
bool submitted_in_transaction = false;   // a code entered this transaction
bool callbacks_registered = false;

void burn_codes_of(Oid approver) {
  SharedState *state = shared_state();
  TimestampTz now = GetCurrentTimestamp();
  LWLockAcquire(state->attempts_lock, LW_EXCLUSIVE);
  CodeBurn *slot = nullptr;
  for (CodeBurn &burn : state->burns) {
    if (burn.approver == approver) {
      slot = &burn;
      break;
    }
    if (slot == nullptr && (burn.approver == InvalidOid || burn.at + kBurnLifetimeUs < now)) slot = &burn;
  }
  if (slot != nullptr)
    *slot = CodeBurn{approver, now};
  else
    state->all_codes_burned_at = now;  // no room: burn everyone's rather than nobody's
  LWLockRelease(state->attempts_lock);
}

void burn_if_unfinished() {
  if (OidIsValid(submitting_approver)) burn_codes_of(submitting_approver);
  submitting_approver = InvalidOid;
}

void on_transaction_end(XactEvent event, void *) {
  if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT) burn_if_unfinished();
  submitting_approver = InvalidOid;
  submitted_in_transaction = false;
}

void on_subtransaction_end(SubXactEvent event, SubTransactionId subtransaction, SubTransactionId, void *) {
  if (event == SUBXACT_EVENT_ABORT_SUB && subtransaction == submitted_in) burn_if_unfinished();
}

}  // namespace

void register_callbacks_once() {
  if (callbacks_registered) return;
  RegisterXactCallback(on_transaction_end, nullptr);
  RegisterSubXactCallback(on_subtransaction_end, nullptr);
  callbacks_registered = true;
}

void note_code_submitted() {
  register_callbacks_once();
  submitting_approver = GetSessionUserId();
  submitted_in = GetCurrentSubTransactionId();
  submitted_in_statement = GetCurrentStatementStartTimestamp();
  submitted_in_transaction = true;
}

bool code_entered_in_this_transaction() { return submitted_in_transaction; }

void code_entry_failed() {
  bool checked_in_this_statement =
      !OidIsValid(submitting_approver) && submitted_in_statement == GetCurrentStatementStartTimestamp();
  if (checked_in_this_statement || !IsTransactionState()) return;
  register_callbacks_once();
  submitting_approver = GetSessionUserId();
  submitted_in = GetCurrentSubTransactionId();
}

void settle_code_submission() { submitting_approver = InvalidOid; }

TimestampTz codes_burned_at(Oid approver) {
  SharedState *state = shared_state();
  LWLockAcquire(state->attempts_lock, LW_SHARED);
  TimestampTz burned = state->all_codes_burned_at;
  for (const CodeBurn &burn : state->burns)
    if (burn.approver == approver && burn.at > burned) burned = burn.at;
  LWLockRelease(state->attempts_lock);
  return burned;
}

}  // namespace mpa::pg

// mpa.code_submitted(): the first statement of every public function that
// takes a code, before anything that could wait on a lock.
MPA_FUNCTION(mpa_code_submitted) {
  (void)fcinfo;
  // A standby has a code key of its own: a code checked there would count
  // as wrong (tries and guess budget spent, in shared memory that a
  // promotion keeps) or as made by a key gone, though it still works on
  // the primary. Refused before anything is noted, as a standby refuses
  // every write.
  if (RecoveryInProgress())
    throw mpa::Error("25006", "this server is a standby: codes are checked on the primary",
                     "Connect to the primary and enter the code there.");
  mpa::pg::note_code_submitted();
  PG_RETURN_VOID();
}

// mpa.code_settled(): said where a submission provably matched no open code.
MPA_FUNCTION(mpa_code_settled) {
  (void)fcinfo;
  mpa::pg::settle_code_submission();
  PG_RETURN_VOID();
}
