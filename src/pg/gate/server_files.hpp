// The built-in functions that read or write files on the server, or list
// its directories (pg_read_file, pg_ls_dir, lo_import, lo_export, ...).
// Once a team governs pg_mpa they are a route around it: lo_export can
// overwrite postgresql.auto.conf, which holds shared_preload_libraries and
// pg_mpa's settings. Built-ins never reach the function manager hook, so
// they are caught at the object access hook's function-execute event, which
// the executor raises for every function call it prepares (in any query,
// view, SQL or PL/pgSQL function, default or check expression).
#pragma once

#include "pg/boundary/postgres.hpp"

extern "C" {
#include "utils/fmgroids.h"
}

namespace mpa::pg {

inline bool touches_server_files(Oid function) {
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

// Refuses a call of a function that touches server files while a team
// governs pg_mpa, unless it runs inside a statement the gate let through
// as approved. PostgreSQL-style.
void refuse_server_file_call(Oid function);

// Called for every function a query prepares: the switch inline, the rest
// only for the functions it names.
inline void gate_server_file_function(Oid function) {
  if (unlikely(touches_server_files(function))) refuse_server_file_call(function);
}

}  // namespace mpa::pg
