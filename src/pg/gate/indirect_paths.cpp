#include "pg/gate/indirect_paths.hpp"

#include "pg/boundary/refusal.hpp"
#include "pg/gate/dry_run.hpp"
#include "pg/gate/policy_cache.hpp"
#include "pg/boundary/sqlstates.hpp"
#include "pg/gate/statement_description.hpp"

extern "C" {
#include "tcop/tcopprot.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "utils/lsyscache.h"
#include "catalog/pg_class.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "utils/syscache.h"
}

namespace mpa::pg {
namespace {

// What removing an object amounts to: the command tag of the statement that
// would remove it by name ("DROP TABLE", "DROP MATERIALIZED VIEW",
// "TRUNCATE TABLE"), and, for the objects policies name "schema.name"
// (relations, types, functions), its schema.
struct IndirectChange {
  const char *operation;  // nullptr: the object is gone
  Oid schema;             // InvalidOid: not named by schema
};

// As getObjectTypeDescription() names relation kinds.
const char *relation_drop_operation(char relkind) {
  switch (relkind) {
    case RELKIND_RELATION:
    case RELKIND_PARTITIONED_TABLE: return "DROP TABLE";
    case RELKIND_INDEX:
    case RELKIND_PARTITIONED_INDEX: return "DROP INDEX";
    case RELKIND_SEQUENCE: return "DROP SEQUENCE";
    case RELKIND_TOASTVALUE: return "DROP TOAST TABLE";
    case RELKIND_VIEW: return "DROP VIEW";
    case RELKIND_MATVIEW: return "DROP MATERIALIZED VIEW";
    case RELKIND_COMPOSITE_TYPE: return "DROP COMPOSITE TYPE";
    case RELKIND_FOREIGN_TABLE: return "DROP FOREIGN TABLE";
    default: return "DROP RELATION";
  }
}

const char *function_drop_operation(char prokind) {
  switch (prokind) {
    case PROKIND_AGGREGATE: return "DROP AGGREGATE";
    case PROKIND_PROCEDURE: return "DROP PROCEDURE";
    default: return "DROP FUNCTION";
  }
}

// One catalog lookup for the objects a cascade reaches by the thousand
// (relations, their row and array types, functions): the hook runs for
// each of them, so nothing here builds strings.
IndirectChange change_of(ObjectAccessType access, const ObjectAddress &address) {
  IndirectChange change{nullptr, InvalidOid};
  HeapTuple tuple = nullptr;
  switch (address.classId) {
    case RelationRelationId:
      tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(address.objectId));
      if (!HeapTupleIsValid(tuple)) return change;
      {
        auto *relation = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple));
        change = {access == OAT_TRUNCATE ? "TRUNCATE TABLE" : relation_drop_operation(relation->relkind),
                  relation->relnamespace};
      }
      break;
    case TypeRelationId:
      tuple = SearchSysCache1(TYPEOID, ObjectIdGetDatum(address.objectId));
      if (!HeapTupleIsValid(tuple)) return change;
      change = {"DROP TYPE", reinterpret_cast<Form_pg_type>(GETSTRUCT(tuple))->typnamespace};
      break;
    case ProcedureRelationId:
      tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(address.objectId));
      if (!HeapTupleIsValid(tuple)) return change;
      {
        auto *function = reinterpret_cast<Form_pg_proc>(GETSTRUCT(tuple));
        change = {function_drop_operation(function->prokind), function->pronamespace};
      }
      break;
    default: {
      // Rarer objects (constraints, triggers, schemas, ...): named as
      // PostgreSQL describes their type.
      char *type = getObjectTypeDescription(&address, true);
      if (type == nullptr) return change;
      for (char *c = type; *c; c++) *c = pg_toupper(static_cast<unsigned char>(*c));
      return {psprintf("DROP %s", type), InvalidOid};
    }
  }
  ReleaseSysCache(tuple);
  return change;
}

}  // namespace

void gate_indirect_change(ObjectAccessType access, Oid class_id, Oid object_id, int sub_id, void *arg) {
  if (sub_id != 0) return;  // a column, not the object: ALTER TABLE … DROP COLUMN
  if (access == OAT_DROP) {
    // PostgreSQL's own clean-ups (temporary objects at session end,
    // ON COMMIT DROP) are not statements anyone could have asked for.
    auto *drop = static_cast<ObjectAccessDrop *>(arg);
    if (drop != nullptr && (drop->dropflags & PERFORM_DELETION_INTERNAL)) return;
  } else if (access != OAT_TRUNCATE) {
    return;
  }
  if (!IsTransactionState()) return;
  // Types (every table brings two) and truncated tables have their
  // operation without a catalog lookup: most of a cascade ends here.
  const char *known_operation = access == OAT_TRUNCATE ? "TRUNCATE TABLE"
                                : class_id == TypeRelationId ? "DROP TYPE"
                                                             : nullptr;
  if (known_operation != nullptr && !operation_is_protected(known_operation)) return;
  ObjectAddress address{class_id, object_id, 0};
  IndirectChange change = change_of(access, address);
  if (change.operation == nullptr) return;
  // Most objects a cascade reaches live in schemas no policy on their
  // operation names.
  bool may_be_governed = OidIsValid(change.schema) ? operation_may_reach_schema(change.operation, change.schema)
                                                   : operation_is_protected(change.operation);
  if (!may_be_governed) return;
  const char *operation = change.operation;

  StatementTarget target = target_of(address);
  StatementDescription description{operation, 1, &target, "", nullptr, false};
  int index = -1;
  const char *team = governing_team(description, &index);
  const char *verb = access == OAT_DROP ? "dropping" : "truncating";
  if (team == nullptr) {
    // No enforcing policy protects it: a dry-run one that would have is
    // recorded, after them, as for a statement naming it (a dry-run DROP
    // TABLE on prod.* records DROP SCHEMA prod CASCADE).
    record_indirect_dry_run(description, verb, address);
    return;
  }
  const char *object = getObjectDescription(&address, false);
  refuse({psprintf("%s %s", verb, object), team, psprintf("%s %s requires the approval of team \"%s\"", verb, object, team),
          "The statement reaches a protected object without naming it (CASCADE, DROP OWNED, an owning extension, "
          "partitions or inheritance).",
          "Ask for approval of this statement with mpa_request(); once approved, it may remove what it reaches."});
}

}  // namespace mpa::pg
