// Where pg_mpa lives: the one database named by mpa.database.
#pragma once

namespace mpa::pg {

// Throws mpa::Error unless the current database is mpa.database: the mpa
// tables and the mail worker exist only there.
void require_mpa_database();

// Whether this backend is connected to mpa.database. PostgreSQL-style (a
// catalog lookup the first time; must run in a transaction).
bool in_mpa_database();

}  // namespace mpa::pg
