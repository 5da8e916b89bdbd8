// CREATE EXTENSION's own checks, and the database rule for every function.
#include "pg/startup/installation.hpp"

#include <cstring>
#include <string>

#include "core/error.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/protection/restore_window.hpp"
#include "pg/shared/at_commit.hpp"
#include "pg/startup/settings.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "utils/inval.h"
#include "utils/syscache.h"
}

namespace mpa::pg {

namespace {

struct Identity {
  bool known;
  Oid extension;
  Oid schema;
};
Identity identity{false, InvalidOid, InvalidOid};

void forget_identity(Datum, int, uint32) { identity.known = false; }

const Identity &current_identity() {
  if (!identity.known) {
    identity.extension = get_extension_oid("pg_mpa", true);
    identity.schema = OidIsValid(identity.extension) ? get_namespace_oid("mpa", true) : InvalidOid;
    identity.known = true;
  }
  return identity;
}

}  // namespace

Oid pg_mpa_extension_oid() { return current_identity().extension; }
Oid pg_mpa_schema_oid() { return current_identity().schema; }

char *installed_sql_version() {
  Oid extension = get_extension_oid("pg_mpa", true);
  if (!OidIsValid(extension)) return nullptr;
  Relation catalog = table_open(ExtensionRelationId, AccessShareLock);
  ScanKeyData key;
  ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(extension));
  SysScanDesc scan = systable_beginscan(catalog, ExtensionOidIndexId, true, nullptr, 1, &key);
  HeapTuple tuple = systable_getnext(scan);
  char *version = nullptr;
  bool is_null = true;
  Datum value = HeapTupleIsValid(tuple)
                    ? heap_getattr(tuple, Anum_pg_extension_extversion, RelationGetDescr(catalog), &is_null)
                    : Datum(0);
  if (!is_null) version = text_to_cstring(DatumGetTextPP(value));
  systable_endscan(scan);
  table_close(catalog, AccessShareLock);
  return version;
}

bool sql_objects_are_current() {
  const char *installed = installed_sql_version();
  return installed != nullptr && strcmp(installed, kLibraryVersion) == 0;
}

void install_installation_cache() { CacheRegisterSyscacheCallback(NAMESPACEOID, forget_identity, 0); }

bool in_mpa_database() {
  static Oid mpa_database_oid = InvalidOid;  // resolved once per backend
  if (!OidIsValid(mpa_database_oid)) mpa_database_oid = get_database_oid(settings::database, true);
  return MyDatabaseId == mpa_database_oid;
}

void require_mpa_database() {
  const char *current = call_postgres([] { return get_database_name(MyDatabaseId); });
  if (current != nullptr && std::strcmp(current, settings::database) == 0) return;
  throw mpa::Error("55000",
                   std::string("pg_mpa lives in database \"") + settings::database +
                       "\", not in \"" + (current ? current : "?") + "\"",
                   "The mpa tables and the mail worker exist only in the database named by "
                   "mpa.database.",
                   std::string("Connect to database \"") + settings::database +
                       "\", or set mpa.database in postgresql.conf and restart.");
}

}  // namespace mpa::pg

// Called by the extension script. Loading the library for this call already
// fails with a hint when pg_mpa is not in shared_preload_libraries (_PG_init).
// The mail worker and the gate wait for the extension; both learn of it
// when this commits.
MPA_FUNCTION(mpa_check_installation) {
  (void)fcinfo;
  mpa::pg::require_mpa_database();
  // A new installation may be restored from a backup by this session.
  mpa::pg::call_postgres([] { mpa::pg::open_restore_window_if_new(); });
  mpa::pg::wake_mail_worker_at_commit();
  mpa::pg::announce_policy_change_at_commit();
  PG_RETURN_VOID();
}
