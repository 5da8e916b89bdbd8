#include "pg/gate/server_files.hpp"

#include "pg/boundary/refusal.hpp"
#include "pg/gate/policy_cache.hpp"
#include "pg/gate/standby.hpp"
#include "pg/startup/installation.hpp"
#include "pg/protection/self_protection.hpp"
#include "pg/boundary/sqlstates.hpp"

extern "C" {
#include "tcop/tcopprot.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "utils/lsyscache.h"
}

namespace mpa::pg {

void refuse_server_file_call(Oid function) {
  if (!IsTransactionState() || approved_extension_script_is_running()) return;
  const char *name = get_func_name(function);
  // On a standby: outside mpa.database, whether a team governs is unknown;
  // in it, judged with the policies replayed by now.
  if (RecoveryInProgress()) {
    if (!in_mpa_database()) refuse_without_current_policies(psprintf("%s()", name));
    read_policies_anew_in_recovery();
  }
  if (!pg_mpa_is_governed()) return;
  const char *team = configuration_team();
  refuse({psprintf("%s()", name), team,
          psprintf("%s() reads or writes files on the server, which team \"%s\" governs with pg_mpa", name, team),
          "Server files hold pg_mpa's settings and the libraries every session loads: while a team governs "
          "pg_mpa, SQL does not reach them.",
          psprintf("Work on the file from the server's shell, or ask team \"%s\" to approve "
                   "mpa_unprotect('MPA CONFIGURE') first.",
                   team)});
}

}  // namespace mpa::pg
