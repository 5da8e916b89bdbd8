#include "pg/boundary/refusal.hpp"

#include <string>

#include "pg/boundary/arguments.hpp"
#include "pg/boundary/guard.hpp"

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

// mpa.refuse(audited, team, message, hint): the door of the extension's SQL
// to refuse(), for refusals of protected things decided there (break-glass
// on pg_mpa's own configuration): audited through the ring like the gate's,
// so the entry survives the caller's rollback, then raised as MP001.
MPA_FUNCTION(mpa_refuse) {
  std::string audited = mpa::pg::text_argument(fcinfo, 0, "audited", 200);
  std::string team = mpa::pg::text_argument(fcinfo, 1, "team", 200);
  std::string message = mpa::pg::text_argument(fcinfo, 2, "message", 2000);
  std::string hint = mpa::pg::text_argument(fcinfo, 3, "hint", 2000);
  mpa::pg::call_postgres([&] {
    mpa::pg::refuse({audited.c_str(), team.c_str(), message.c_str(), nullptr, hint.c_str()});
  });
  PG_RETURN_VOID();
}
