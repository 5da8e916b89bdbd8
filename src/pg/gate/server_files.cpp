#include "pg/gate/server_files.hpp"

#include "pg/shared/audit_log.hpp"
#include "pg/gate/policy_cache.hpp"
#include "pg/protection/self_protection.hpp"
#include "pg/boundary/sqlstates.hpp"

extern "C" {
#include "tcop/tcopprot.h"
#include "access/xact.h"
#include "utils/lsyscache.h"
}

namespace mpa::pg {

void refuse_server_file_call(Oid function) {
  if (!IsTransactionState() || approved_extension_script_is_running() || !pg_mpa_is_governed()) return;
  const char *team = configuration_team();
  audit_refusal(psprintf("%s()", get_func_name(function)), team, debug_query_string);
  ereport(ERROR,
          (errcode(sqlstates::kApprovalRequired),
           errmsg("%s() reads or writes files on the server, which team \"%s\" governs with pg_mpa",
                  get_func_name(function), team),
           errdetail("Server files hold pg_mpa's settings and the libraries every session loads: while a "
                     "team governs pg_mpa, SQL does not reach them."),
           errhint("Work on the file from the server's shell, or ask team \"%s\" to approve "
                   "mpa_unprotect('MPA CONFIGURE') first.",
                   team)));
}

}  // namespace mpa::pg
