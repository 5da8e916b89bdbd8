#include "pg/gate/statement_cascade.hpp"

extern "C" {
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
}

namespace mpa::pg {

const char *const kCascadeSql =
    // Drops: objects that depend on one removed (normal and automatic
    // dependencies), and the object a removed one is part of (an internal
    // dependency: a view goes with its _RETURN rule).
    "WITH RECURSIVE dependents(classid, objid, depth) AS ("
    "  SELECT d.classid, d.objid, 1 FROM pg_depend d"
    "    JOIN unnest($2::oid[], $3::oid[]) AS t(classid, objid)"
    "      ON d.refclassid = t.classid AND d.refobjid = t.objid"
    "   WHERE d.deptype IN ('n', 'a') AND $1::text LIKE 'DROP %'"
    "  UNION"
    "  SELECT CASE WHEN d.deptype = 'i' THEN d.refclassid ELSE d.classid END,"
    "         CASE WHEN d.deptype = 'i' THEN d.refobjid ELSE d.objid END, p.depth + 1"
    "    FROM dependents p JOIN pg_depend d"
    "      ON (d.deptype IN ('n', 'a') AND d.refclassid = p.classid AND d.refobjid = p.objid)"
    "      OR (d.deptype = 'i' AND d.classid = p.classid AND d.objid = p.objid)"
    "   WHERE p.depth < 20"
    "),"
    // TRUNCATE: the tables it empties with them, with CASCADE where needed:
    // tables referencing one emptied by a foreign key, and the partitions
    // and inheritance children of one emptied (without ONLY).
    "emptied(relid, depth) AS ("
    "  SELECT t.objid, 0 FROM unnest($2::oid[], $3::oid[]) AS t(classid, objid)"
    "   WHERE t.classid = 'pg_class'::regclass AND $1::text LIKE 'TRUNCATE%'"
    "  UNION"
    "  SELECT x.relid, e.depth + 1"
    "    FROM emptied e"
    "    CROSS JOIN LATERAL (SELECT c.conrelid FROM pg_constraint c WHERE c.contype = 'f' AND c.confrelid = e.relid"
    "                        UNION ALL"
    "                        SELECT i.inhrelid FROM pg_inherits i WHERE i.inhparent = e.relid) AS x(relid)"
    "   WHERE e.depth < 20"
    ")"
    "SELECT DISTINCT classid, objid FROM ("
    "  SELECT classid, objid FROM dependents"
    "  UNION ALL"
    "  SELECT 'pg_class'::regclass::oid, relid FROM emptied"
    ") removed"
    " WHERE NOT (classid = ANY ($2::oid[]) AND objid = ANY ($3::oid[]))"
    " ORDER BY classid, objid";

Datum oid_array_datum(const Oid *values, int count) {
  Datum *datums = static_cast<Datum *>(palloc(sizeof(Datum) * (count + 1)));
  for (int i = 0; i < count; i++) datums[i] = ObjectIdGetDatum(values[i]);
  return PointerGetDatum(construct_array(datums, count, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
}

StatementCascade statement_cascade(const StatementDescription &description) {
  int count = description.target_count;
  Oid *classes = static_cast<Oid *>(palloc(sizeof(Oid) * (count + 1)));
  Oid *objects = static_cast<Oid *>(palloc(sizeof(Oid) * (count + 1)));
  for (int i = 0; i < count; i++) {
    classes[i] = description.targets[i].class_id;
    objects[i] = description.targets[i].object_id;
  }
  // The catalogs and pg_catalog's operators, whatever the caller's path says.
  int nest_level = NewGUCNestLevel();
  set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0,
                    false);
  const char *query = psprintf(
      "SELECT c.classid, c.objid, pg_describe_object(c.classid, c.objid, 0) FROM (%s) c ORDER BY 1, 2", kCascadeSql);
  Oid types[3] = {TEXTOID, OIDARRAYOID, OIDARRAYOID};
  Datum values[3] = {CStringGetTextDatum(description.operation), oid_array_datum(classes, count),
                     oid_array_datum(objects, count)};
  MemoryContext caller = CurrentMemoryContext;
  SPI_connect();
  if (SPI_execute_with_args(query, 3, types, values, nullptr, true, 0) != SPI_OK_SELECT)
    elog(ERROR, "pg_mpa: cannot compute what the statement also reaches");
  MemoryContext spi = MemoryContextSwitchTo(caller);
  StatementCascade cascade{static_cast<int>(SPI_processed), static_cast<Oid *>(palloc(sizeof(Oid) * (SPI_processed + 1))),
                           static_cast<Oid *>(palloc(sizeof(Oid) * (SPI_processed + 1))),
                           static_cast<const char **>(palloc(sizeof(char *) * (SPI_processed + 1)))};
  for (uint64 i = 0; i < SPI_processed; i++) {
    HeapTuple row = SPI_tuptable->vals[i];
    bool is_null;
    cascade.classes[i] = DatumGetObjectId(SPI_getbinval(row, SPI_tuptable->tupdesc, 1, &is_null));
    cascade.objects[i] = DatumGetObjectId(SPI_getbinval(row, SPI_tuptable->tupdesc, 2, &is_null));
    cascade.descriptions[i] = SPI_getvalue(row, SPI_tuptable->tupdesc, 3);
  }
  MemoryContextSwitchTo(spi);
  SPI_finish();
  AtEOXact_GUC(true, nest_level);
  return cascade;
}

}  // namespace mpa::pg
