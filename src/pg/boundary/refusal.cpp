#include "pg/boundary/refusal.hpp"

#include "pg/shared/audit_log.hpp"

extern "C" {
#include "tcop/tcopprot.h"
}

namespace mpa::pg {

void refuse(const Refusal &refusal) {
  audit_refusal(refusal.audited, refusal.team, refusal.statement ? refusal.statement : debug_query_string);
  ereport(ERROR, (errcode(refusal.sqlstate), errmsg("%s", refusal.message),
                  refusal.detail ? errdetail("%s", refusal.detail) : 0, refusal.hint ? errhint("%s", refusal.hint) : 0));
  pg_unreachable();
}

}  // namespace mpa::pg
