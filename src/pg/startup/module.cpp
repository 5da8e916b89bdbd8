// Library entry point: pg_mpa works only when loaded by the postmaster, since
// its hooks, shared memory and worker must exist before any session starts.
#include "pg/boundary/postgres.hpp"
#include "pg/hooks/hooks.hpp"
#include "pg/protection/self_protection.hpp"
#include "pg/startup/installation.hpp"
#include "pg/startup/settings.hpp"
#include "pg/worker/mail_worker.hpp"

extern "C" {
PG_MODULE_MAGIC;

PGDLLEXPORT void _PG_init(void);
}

void _PG_init(void) {
  if (!process_shared_preload_libraries_in_progress) {
    ereport(ERROR,
            (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
             errmsg("pg_mpa must be loaded via shared_preload_libraries"),
             errhint("Add pg_mpa to shared_preload_libraries in postgresql.conf and restart the "
                     "server, then run CREATE EXTENSION pg_mpa.")));
  }
  mpa::pg::settings::define_all();
  mpa::pg::install_hooks();
  mpa::pg::install_installation_cache();
  mpa::pg::register_self_protection_caches();
  mpa::pg::register_mail_worker();
}
