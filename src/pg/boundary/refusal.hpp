// pg_mpa's refusals, raised in one place: each is recorded in the audit
// (what was refused, the team whose approval it needs, the statement) and
// raised as an ERROR with pg_mpa's SQLSTATE, so that none is raised without
// its audit entry. The SQLSTATEs are in sqlstates.hpp.
#pragma once

#include "pg/boundary/postgres.hpp"
#include "pg/boundary/sqlstates.hpp"

namespace mpa::pg {

struct Refusal {
  const char *audited;        // what was refused, as the audit names it
  const char *team;           // whose approval it needs; nullptr: nobody's
  const char *message;
  const char *detail = nullptr;
  const char *hint = nullptr;
  int sqlstate = sqlstates::kApprovalRequired;
  const char *statement = nullptr;  // the refused text; nullptr: the current query's
};

// PostgreSQL-style: records the refusal and raises it.
[[noreturn]] void refuse(const Refusal &refusal);

}  // namespace mpa::pg
