// The gate on a hot standby (docs/decisions.md, "Standbys and failover").
// A standby runs few statements: read-only transactions, and of what the
// gate judges only what changes no database (ALTER SYSTEM, COPY … TO a
// program or file, LOAD, SET, DO, the server-file functions). In
// mpa.database it judges them with the policies replayed so far (the policy
// cache reads them for each statement during recovery) and refuses a
// protected one, since nothing can be approved or spent on a read-only
// server. In the other databases pg_mpa cannot read the policies at all:
// what governance could protect is refused there, fail closed. The callers
// ask RecoveryInProgress() first, which once recovery has ended is a
// backend-local flag: a primary pays nothing more.
#pragma once

#include "pg/boundary/postgres.hpp"

namespace mpa::pg {

// During recovery: whether PostgreSQL refuses the statement with its own
// 25006 before doing anything (DDL, writes, COPY FROM), whatever pg_mpa
// would say; the gate then leaves it to PostgreSQL instead of answering
// with a misleading refusal of its own. False for anything not known to be
// refused (it is then judged).
bool refused_by_postgres_during_recovery(Node *parsetree);

// During recovery, outside mpa.database: refuses `what` (a command tag or
// a function's name with "()") with MP001, audited, saying that pg_mpa
// cannot read the current policies here and where it can run.
// PostgreSQL-style.
[[noreturn]] void refuse_without_current_policies(const char *what);

// Why a protected statement cannot be approved on a standby, and where it
// can be done instead (the DETAIL and HINT of the gate's refusal).
extern const char *const kStandbyRefusalDetail;
extern const char *const kStandbyRefusalHint;

}  // namespace mpa::pg
