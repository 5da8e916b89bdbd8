// The built-in functions that read or write files on the server, or list
// its directories (pg_read_file, pg_ls_dir, lo_import, lo_export, ...).
// Once a team governs pg_mpa they are a route around it: lo_export can
// overwrite postgresql.auto.conf, which holds shared_preload_libraries and
// pg_mpa's settings. Built-ins never reach the function manager hook, so
// they are caught at the object access hook's function-execute event, which
// the executor raises for every function call it prepares (in any query,
// view, SQL or PL/pgSQL function, default or check expression).
#pragma once

#include "pg/postgres.hpp"

namespace mpa::pg {

// Refuses the call while a team governs pg_mpa, unless it runs inside a
// statement the gate let through as approved. PostgreSQL-style.
void gate_server_file_function(Oid function);

}  // namespace mpa::pg
