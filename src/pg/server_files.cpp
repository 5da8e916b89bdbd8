#include "pg/server_files.hpp"

#include "pg/audit_log.hpp"
#include "pg/policy_cache.hpp"
#include "pg/self_protection.hpp"

extern "C" {
#include "tcop/tcopprot.h"
#include "access/xact.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
}

namespace mpa::pg {
namespace {

bool touches_server_files(Oid function) {
  switch (function) {
    case F_PG_READ_FILE_OLD:
    case F_PG_READ_FILE_TEXT:
    case F_PG_READ_FILE_TEXT_INT8_INT8:
    case F_PG_READ_FILE_TEXT_INT8_INT8_BOOL:
    case F_PG_READ_BINARY_FILE_TEXT:
    case F_PG_READ_BINARY_FILE_TEXT_INT8_INT8:
    case F_PG_READ_BINARY_FILE_TEXT_INT8_INT8_BOOL:
    case F_PG_STAT_FILE_TEXT:
    case F_PG_STAT_FILE_TEXT_BOOL:
    case F_PG_LS_DIR_TEXT:
    case F_PG_LS_DIR_TEXT_BOOL_BOOL:
    case F_PG_LS_LOGDIR:
    case F_PG_LS_WALDIR:
    case F_PG_LS_TMPDIR_:
    case F_PG_LS_TMPDIR_OID:
    case F_PG_LS_ARCHIVE_STATUSDIR:
    case F_PG_LS_LOGICALSNAPDIR:
    case F_PG_LS_LOGICALMAPDIR:
    case F_PG_LS_REPLSLOTDIR:
    case F_LO_IMPORT_TEXT:
    case F_LO_IMPORT_TEXT_OID:
    case F_LO_EXPORT:
      return true;
    default:
      return false;
  }
}

}  // namespace

void gate_server_file_function(Oid function) {
  if (!touches_server_files(function) || !IsTransactionState() || approved_statement_is_running()) return;
  const char *team = configuration_team();
  if (team == nullptr) return;
  audit_refusal(psprintf("%s()", get_func_name(function)), team, debug_query_string);
  ereport(ERROR,
          (errcode(MAKE_SQLSTATE('M', 'P', '0', '0', '1')),
           errmsg("%s() reads or writes files on the server, which team \"%s\" governs with pg_mpa",
                  get_func_name(function), team),
           errdetail("Server files hold pg_mpa's settings and the libraries every session loads: while a "
                     "team governs pg_mpa, SQL does not reach them."),
           errhint("Ask team \"%s\" to approve the statement that needs the file (an approved statement "
                   "may call these functions), or work on the file from the server's shell.",
                   team)));
}

}  // namespace mpa::pg
