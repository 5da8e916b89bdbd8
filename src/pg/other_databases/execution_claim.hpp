// Spending an approval for a statement of another database than
// mpa.database (docs/decisions.md, "Execution exactly once"): the gate of
// that database claims the approval in mpa.database through a task
// (database_task.hpp) whose transaction commits, durably, before the
// statement runs: the request is then 'executing' by this transaction's id,
// and the commit log decides the rest (mpa.end_execution: committed ->
// executed, aborted or crashed -> approved again).
#pragma once

#include "pg/gate/statement_description.hpp"

namespace mpa::pg {

struct ElsewhereSpend {
  bool claimed;
  int64 request_id;
  // The statement now also removes (or empties) objects the approvers were
  // not shown: how it differs (nullptr: it does not, or no approval).
  const char *cascade_difference;
};

// Claims the session user's approval of `description` (fingerprint
// computed) for this database, waiting for another transaction that holds
// it (XactLockTableWait: interruptible, lock_timeout applies) and asking
// again once it ended. Claimed: the statement runs approved, and the mail
// worker is woken when this transaction ends to resolve the request.
// PostgreSQL-style: may ereport (the task's errors, the wait's).
ElsewhereSpend claim_approval_elsewhere(const StatementDescription &description);

}  // namespace mpa::pg
