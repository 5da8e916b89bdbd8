// What a drop or a truncation also reaches: the objects it removes with its
// targets (with CASCADE where needed), or the tables it empties with them.
// One definition, a query on the catalogs only, run through SPI wherever it
// is needed: in mpa.database by mpa.cascade_of (what approvers are shown,
// what execution compares) and in the database a request is for by the
// describe task (docs/decisions.md, "Every database"), so that both
// databases compute the cascade with the same text.
#pragma once

#include "pg/gate/statement_description.hpp"

namespace mpa::pg {

// The query: $1 the operation (command tag), $2 the targets' classes
// (oid[]), $3 their OIDs (oid[]); rows (classid oid, objid oid), sorted,
// the targets themselves left out. Names are not qualified: run it with
// search_path = pg_catalog, pg_temp.
extern const char *const kCascadeSql;

struct StatementCascade {
  int count;
  Oid *classes;
  Oid *objects;
  // pg_describe_object of each, as this database describes it (nullptr for
  // an object gone meanwhile).
  const char **descriptions;
};

// An oid[] of `count` values.
Datum oid_array_datum(const Oid *values, int count);

// The cascade of the described statement in this database, each object
// described. Runs kCascadeSql through SPI with the search_path pinned.
// PostgreSQL-style: may ereport.
StatementCascade statement_cascade(const StatementDescription &description);

}  // namespace mpa::pg
