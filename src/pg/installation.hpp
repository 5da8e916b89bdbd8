// Where pg_mpa lives: the one database named by mpa.database.
#pragma once

namespace mpa::pg {

// Throws mpa::Error unless the current database is mpa.database: the mpa
// tables and the mail worker exist only there.
void require_mpa_database();

}  // namespace mpa::pg
