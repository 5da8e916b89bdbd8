// Where pg_mpa lives: the one database named by mpa.database.
#pragma once

#include "pg/boundary/postgres.hpp"

namespace mpa::pg {

// Throws mpa::Error unless the current database is mpa.database: the mpa
// tables and the mail worker exist only there.
void require_mpa_database();

// Whether this backend is connected to mpa.database. PostgreSQL-style (a
// catalog lookup the first time; must run in a transaction).
bool in_mpa_database();

// pg_mpa's extension and its schema mpa in this database (InvalidOid when
// not installed). Looked up once and forgotten whenever any schema is
// created, renamed or dropped (the extension's script creates schema mpa;
// DROP EXTENSION drops it). In a transaction.
Oid pg_mpa_extension_oid();
Oid pg_mpa_schema_oid();

// The version of pg_mpa's SQL objects in this database (pg_extension's
// extversion; palloc'd), or nullptr when pg_mpa is not installed. Read from
// the catalog at each call: for the few places that ask, never the gate's
// path. In a transaction.
char *installed_sql_version();

// The version of the SQL objects this library was built with
// (pg_mpa.control's default_version).
constexpr const char *kLibraryVersion = MPA_LIBRARY_VERSION;

// Whether pg_mpa's SQL objects here are this library's version. False
// between a package upgrade's restart and ALTER EXTENSION pg_mpa UPDATE:
// they are then the previous version's, which the library must work with
// (the update is approved through them), leaving out what needs objects
// only the new version has (docs/decisions.md, "Upgrades"). In a
// transaction; a catalog read per call.
bool sql_objects_are_current();

// Registers the invalidation that keeps them right (from _PG_init).
void install_installation_cache();

}  // namespace mpa::pg
