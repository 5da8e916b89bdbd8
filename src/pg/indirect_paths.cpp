#include "pg/indirect_paths.hpp"

#include "pg/audit_log.hpp"
#include "pg/policy_cache.hpp"
#include "pg/statement_description.hpp"

extern "C" {
#include "tcop/tcopprot.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "utils/lsyscache.h"
#include "catalog/pg_class_d.h"
#include "catalog/pg_proc_d.h"
#include "catalog/pg_type_d.h"
}

namespace mpa::pg {
namespace {

// "DROP TABLE", "DROP MATERIALIZED VIEW", "DROP FUNCTION": the command tag of
// the statement that would drop this object by name.
const char *drop_operation(const ObjectAddress &address) {
  char *type = getObjectTypeDescription(&address, true);
  if (type == nullptr) return nullptr;
  for (char *c = type; *c; c++) *c = pg_toupper(static_cast<unsigned char>(*c));
  return psprintf("DROP %s", type);
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
  ObjectAddress address{class_id, object_id, 0};
  // Most objects a cascade reaches live in schemas no policy names: two
  // cache lookups rule them out (DROP SCHEMA … CASCADE of thousands). Only
  // for relations, types and functions, which policies name "schema.name".
  bool named_in_schema = class_id == RelationRelationId || class_id == TypeRelationId ||
                         class_id == ProcedureRelationId;
  Oid schema = named_in_schema ? get_object_namespace(&address) : InvalidOid;
  if (OidIsValid(schema)) {
    const char *schema_name = get_namespace_name(schema);
    if (schema_name != nullptr && !objects_in_schema_may_be_protected(schema_name)) return;
  }
  const char *operation = access == OAT_TRUNCATE ? "TRUNCATE TABLE" : drop_operation(address);
  if (operation == nullptr || !operation_is_protected(operation)) return;

  StatementTarget target = target_of(address);
  StatementDescription description{operation, 1, &target, "", nullptr, false};
  int index = -1;
  const char *team = governing_team(description, &index);
  if (team == nullptr) return;
  const char *verb = access == OAT_DROP ? "dropping" : "truncating";
  audit_refusal(psprintf("%s %s", verb, getObjectDescription(&address, false)), team, debug_query_string);
  ereport(ERROR,
          (errcode(MAKE_SQLSTATE('M', 'P', '0', '0', '1')),
           errmsg("%s %s requires the approval of team \"%s\"", verb, getObjectDescription(&address, false), team),
           errdetail("The statement reaches a protected object without naming it (CASCADE, DROP OWNED, "
                     "an owning extension, partitions or inheritance)."),
           errhint("Ask for approval of this statement with mpa_request(); once approved, it may "
                   "remove what it reaches.")));
}

}  // namespace mpa::pg
