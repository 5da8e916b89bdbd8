// Runs pg_mpa's own SQL with pg_mpa's privileges: as the bootstrap superuser
// (who owns the extension's tables when a superuser created it) and with
// search_path pinned to pg_catalog, so that neither the caller's privileges
// nor objects the caller put on the search_path change what our SQL does.
#pragma once

#include "pg/boundary/postgres.hpp"

namespace mpa::pg {

// PostgreSQL-style: may ereport. The previous user and search_path are
// restored on return; an error aborts the transaction, which restores them.
void with_pg_mpa_privileges(void (*body)(void *), void *context);

template <typename Body>
void with_pg_mpa_privileges(Body &body) {
  with_pg_mpa_privileges([](void *context) { (*static_cast<Body *>(context))(); }, &body);
}

}  // namespace mpa::pg
