#include "pg/protection/self_protection.hpp"

#include <cstring>

#include "pg/boundary/refusal.hpp"
#include "pg/protection/restore_window.hpp"
#include "pg/gate/indirect_paths.hpp"
#include "pg/startup/installation.hpp"
#include "pg/startup/settings.hpp"
#include "pg/boundary/internal_sql.hpp"
#include "pg/boundary/oid_memo.hpp"
#include "pg/gate/server_files.hpp"
#include "pg/gate/policy_cache.hpp"
#include "pg/boundary/postgres.hpp"
#include "pg/boundary/sqlstates.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "access/transam.h"
#include "catalog/pg_amop.h"
#include "catalog/pg_amproc.h"
#include "catalog/pg_attrdef.h"
#include "catalog/pg_cast.h"
#include "catalog/pg_database_d.h"
#include "catalog/pg_type.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_policy.h"
#include "catalog/pg_rewrite.h"
#include "catalog/pg_statistic_ext.h"
#include "catalog/pg_trigger.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"
#include "executor/spi.h"
#include "commands/dbcommands.h"
#include "tcop/tcopprot.h"
#include "catalog/dependency.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_extension_d.h"
#include "catalog/pg_namespace_d.h"
#include "catalog/namespace.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_class_d.h"
#include "catalog/pg_proc.h"
#include "commands/extension.h"
#include "executor/executor.h"
#include "parser/parsetree.h"
#include "utils/acl.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/catcache.h"
#include "utils/syscache.h"
}

namespace mpa::pg {
namespace {

int trusted_depth = 0;         // pg_mpa's functions and internal SQL running now
bool trusted_process = false;  // the mail worker
bool approved_statement_running = false;
bool pg_mpa_update_running = false;  // ALTER EXTENSION pg_mpa UPDATE, let through by the gate

bool running_trusted_code() { return trusted_process || trusted_depth > 0; }

// What a function is to pg_mpa's trust. Trust belongs to a call of
// pg_mpa's own code, never to a name or a schema: a function is pg_mpa's
// only as a member of the extension (by OID, in pg_depend).
//  * EntryPoint: a public function (mpa_request, mpa_vote, ...). Anyone may
//    call it; it enforces its own rules and, while it runs, pg_mpa's code
//    below it is trusted.
//  * Internal: a member in schema mpa (close a request, queue a mail, write
//    the audit, check a code, ...). It runs only below an entry point, in
//    pg_mpa's internal SQL or in the worker: called from anywhere else, by
//    anyone, superusers included, it is refused (REVOKE does not bind a
//    superuser; this does).
enum class FunctionKind : uint8 { Foreign, EntryPoint, Internal };

// What the hooks below ask for every query, remembered per backend: each
// function's kind (cleared when any function changes), and each written
// relation's schema (cleared for the relation when its relcache entry is
// invalidated, SET SCHEMA included).
OidMemo<FunctionKind> function_kinds;
OidMemo<Oid> relation_schemas;

void forget_function_kinds(Datum, int, uint32) { function_kinds.forget_all(); }

void forget_relation_schema(Datum, Oid relid) {
  if (OidIsValid(relid))
    relation_schemas.forget(relid);
  else
    relation_schemas.forget_all();
}

bool is_pg_mpa_schema(Oid schema) { return OidIsValid(schema) && schema == pg_mpa_schema_oid(); }

bool in_pg_mpa_schema(Oid relid) { return is_pg_mpa_schema(get_rel_namespace(relid)); }

[[noreturn]] void refuse_direct_write(Oid relid, const char *what) {
  const char *table = get_rel_name(relid);
  refuse({psprintf("%s on mpa.%s", what, table), nullptr, psprintf("%s on pg_mpa's table mpa.%s is refused", what, table),
          "pg_mpa's tables are written only by pg_mpa's own functions, for every role including superusers.",
          "Use pg_mpa's functions (mpa_request, mpa_vote, mpa_protect, ...)."});
}

// Every public function of pg_mpa is named mpa_* and every internal one
// lives in schema mpa: the name only spares other functions a pg_depend
// scan. It can withhold trust, never grant it.
FunctionKind lookup_function_kind(Oid function) {
  HeapTuple tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(function));
  if (!HeapTupleIsValid(tuple)) return FunctionKind::Foreign;
  auto *proc = reinterpret_cast<Form_pg_proc>(GETSTRUCT(tuple));
  bool internal = is_pg_mpa_schema(proc->pronamespace);
  bool candidate = internal || std::strncmp(NameStr(proc->proname), "mpa_", 4) == 0;
  ReleaseSysCache(tuple);
  Oid extension = pg_mpa_extension_oid();
  if (!candidate || !OidIsValid(extension) || getExtensionOfObject(ProcedureRelationId, function) != extension)
    return FunctionKind::Foreign;
  return internal ? FunctionKind::Internal : FunctionKind::EntryPoint;
}

FunctionKind function_kind(Oid function) { return function_kinds.get(function, lookup_function_kind); }

[[noreturn]] pg_noinline void refuse_internal_call(Oid function) {
  const char *name = format_procedure(function);
  refuse({psprintf("calling %s", name), nullptr, psprintf("%s is internal to pg_mpa", name),
          "pg_mpa's internal functions run only inside its public functions, for every role including superusers.",
          "Use pg_mpa's public functions (mpa_request, mpa_vote, mpa_verify, ...).", sqlstates::kInternalFunction});
}

// Whether the query may write this relation: not pg_mpa's tables (only its
// functions do), nor the system catalogs once a team governs pg_mpa.
pg_noinline bool write_allowed(const RangeTblEntry *entry, bool ereport_on_violation) {
  Oid schema = relation_schemas.get(entry->relid, get_rel_namespace);
  if (schema == PG_CATALOG_NAMESPACE && !approved_extension_script_is_running()) {
    // Editing the system catalogs by hand could undo anything pg_mpa
    // guards (its functions, dependencies, the extension itself): once a
    // team governs pg_mpa, nobody does it.
    const char *team = configuration_team();
    if (team == nullptr) return true;
    if (!ereport_on_violation) return false;
    const char *catalog = get_rel_name(entry->relid);
    refuse({psprintf("writing pg_catalog.%s", catalog), team,
            psprintf("writing the system catalog %s directly is refused", catalog),
            psprintf("Team \"%s\" governs pg_mpa; direct catalog edits could undo what it guards.", team)});
  }
  if (!is_pg_mpa_schema(schema)) return true;
  if (!ereport_on_violation) return false;
  refuse_direct_write(entry->relid, (entry->requiredPerms & ACL_INSERT)   ? "INSERT"
                                    : (entry->requiredPerms & ACL_UPDATE) ? "UPDATE"
                                                                           : "DELETE");
}

// Changes to pg_mpa's own objects are allowed to pg_mpa itself (its
// functions, its CREATE/ALTER EXTENSION script, pg_upgrade) and to an
// approved statement. Anyone may drop pg_mpa while no team governs it;
// nobody alters it, then or later: an alteration (a SET search_path, a
// disabled trigger, a function added to the extension) would outlive the
// moment governance starts.
bool pg_mpa_change_allowed(ObjectAccessType access, Oid class_id) {
  if (running_trusted_code() || approved_statement_running || IsBinaryUpgrade || pg_mpa_script_is_running())
    return true;
  // ALTER EXTENSION pg_mpa UPDATE sets the extension's version before its
  // script runs: that row only (what else runs then is judged as ever).
  if (pg_mpa_update_running && class_id == ExtensionRelationId) return true;
  return access == OAT_DROP && configuration_team() == nullptr;
}

// PostgreSQL's own bookkeeping, reported as internal: VACUUM FULL and
// CLUSTER build a transient table beside the old one, swap their files
// (an internal alteration) and drop the transient one (an internal drop).
// Maintenance of pg_mpa's tables, not a change of them.
bool is_maintenance(ObjectAccessType access, void *arg) {
  if (arg == nullptr) return false;
  if (access == OAT_POST_ALTER) return static_cast<ObjectAccessPostAlter *>(arg)->is_internal;
  if (access == OAT_DROP) return (static_cast<ObjectAccessDrop *>(arg)->dropflags & PERFORM_DELETION_INTERNAL) != 0;
  return false;
}

// The name of a function whose pg_proc row this command wrote (created or
// renamed): syscache lookups see it only from the next command on.
NameData written_function_name(Oid function) {
  NameData name{};
  Relation catalog = table_open(ProcedureRelationId, AccessShareLock);
  ScanKeyData key;
  ScanKeyInit(&key, Anum_pg_proc_oid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(function));
  SysScanDesc scan = systable_beginscan(catalog, ProcedureOidIndexId, true, SnapshotSelf, 1, &key);
  HeapTuple tuple = systable_getnext(scan);
  if (HeapTupleIsValid(tuple)) name = reinterpret_cast<Form_pg_proc>(GETSTRUCT(tuple))->proname;
  systable_endscan(scan);
  table_close(catalog, AccessShareLock);
  return name;
}

// Whether a function that is not pg_mpa's carries the name of one of
// pg_mpa's public functions. Such a look-alike (mpa_verify(int, text) in a
// schema earlier on an approver's search_path) would be called instead of
// pg_mpa's: it could read the code or change the decision it confirms.
// pg_mpa's public functions are all named mpa_*: other names cost nothing.
bool is_look_alike(Oid function) {
  NameData name = written_function_name(function);
  if (std::strncmp(NameStr(name), "mpa_", 4) != 0 || function_kind(function) != FunctionKind::Foreign) return false;
  CatCList *namesakes = SearchSysCacheList1(PROCNAMEARGSNSP, CStringGetDatum(NameStr(name)));
  bool look_alike = false;
  for (int i = 0; i < namesakes->n_members && !look_alike; i++) {
    Oid namesake = reinterpret_cast<Form_pg_proc>(GETSTRUCT(&namesakes->members[i]->tuple))->oid;
    look_alike = namesake != function && function_kind(namesake) == FunctionKind::EntryPoint;
  }
  ReleaseSysCacheList(namesakes);
  return look_alike;
}

[[noreturn]] void refuse_look_alike(Oid function) {
  NameData name = written_function_name(function);
  refuse({psprintf("a function named %s", NameStr(name)), configuration_team(),
          psprintf("a function named %s that is not pg_mpa's is refused", NameStr(name)),
          psprintf("%s is the name of one of pg_mpa's public functions: another function of that name, earlier "
                   "on an approver's search_path, would be called instead of pg_mpa's and see the approver's code.",
                   NameStr(name)),
          "Choose another name."});
}

// What a new catalog row can reach, and where to read it: its schema, the
// relations it hangs on (an index is in its table's schema, so the schema
// covers it), and the built-in objects it would extend (a cast between two
// built-in types changes what pg_mpa's own casts do; an operator or support
// function added to a built-in operator family, what its comparisons do).
struct NewRowColumns {
  Oid oid_index;
  AttrNumber oid;
  AttrNumber schema;
  AttrNumber relations[2];
  AttrNumber builtins[2];  // every one named must be built in
};

bool new_row_columns(Oid class_id, NewRowColumns *columns) {
  *columns = NewRowColumns{InvalidOid, InvalidAttrNumber, InvalidAttrNumber, {}, {}};
  switch (class_id) {
    case TypeRelationId:
      // Left out: a new type cannot change which type a name pg_mpa's SQL
      // uses resolves to (they exist in pg_catalog, searched first), and a
      // table's row and array types would double the cost of every CREATE.
      return false;
    case CastRelationId:
      *columns = NewRowColumns{CastOidIndexId, Anum_pg_cast_oid, InvalidAttrNumber, {},
                               {Anum_pg_cast_castsource, Anum_pg_cast_casttarget}};
      return true;
    case AccessMethodOperatorRelationId:
      *columns = NewRowColumns{AccessMethodOperatorOidIndexId, Anum_pg_amop_oid, InvalidAttrNumber, {},
                               {Anum_pg_amop_amopfamily}};
      return true;
    case AccessMethodProcedureRelationId:
      *columns = NewRowColumns{AccessMethodProcedureOidIndexId, Anum_pg_amproc_oid, InvalidAttrNumber, {},
                               {Anum_pg_amproc_amprocfamily}};
      return true;
    default:
      break;
  }
  if (!is_objectclass_supported(class_id)) return false;
  columns->oid_index = get_object_oid_index(class_id);
  columns->oid = get_object_attnum_oid(class_id);
  columns->schema = get_object_attnum_namespace(class_id);
  switch (class_id) {
    case TriggerRelationId: columns->relations[0] = Anum_pg_trigger_tgrelid; break;
    case RewriteRelationId: columns->relations[0] = Anum_pg_rewrite_ev_class; break;
    case PolicyRelationId: columns->relations[0] = Anum_pg_policy_polrelid; break;
    case StatisticExtRelationId: columns->relations[0] = Anum_pg_statistic_ext_stxrelid; break;
    case AttrDefaultRelationId: columns->relations[0] = Anum_pg_attrdef_adrelid; break;
    case ConstraintRelationId:
      columns->relations[0] = Anum_pg_constraint_conrelid;
      columns->relations[1] = Anum_pg_constraint_confrelid;
      break;
    default: break;
  }
  return true;
}

// A row PostgreSQL has just inserted into a catalog: syscache lookups see
// it only from the next command on, so it is read with SnapshotSelf.
// Each named column's OID goes to `out` (InvalidOid when not named or NULL).
bool read_new_row(Oid class_id, Oid object_id, const NewRowColumns &columns, const AttrNumber *wanted, int count,
                  Oid *out) {
  Relation catalog = table_open(class_id, AccessShareLock);
  ScanKeyData key;
  ScanKeyInit(&key, columns.oid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(object_id));
  SysScanDesc scan = systable_beginscan(catalog, columns.oid_index, true, SnapshotSelf, 1, &key);
  HeapTuple tuple = systable_getnext(scan);
  bool found = HeapTupleIsValid(tuple);
  for (int i = 0; i < count; i++) {
    bool is_null = true;
    Datum value = found && wanted[i] != InvalidAttrNumber
                      ? heap_getattr(tuple, wanted[i], RelationGetDescr(catalog), &is_null)
                      : Datum(0);
    out[i] = is_null ? InvalidOid : DatumGetObjectId(value);
  }
  systable_endscan(scan);
  table_close(catalog, AccessShareLock);
  return found;
}

const char *reached_by_schema(Oid schema) {
  if (is_pg_mpa_schema(schema)) return "pg_mpa's schema mpa";
  if (schema == PG_CATALOG_NAMESPACE && pg_mpa_is_governed()) return "the system catalog schema pg_catalog";
  return nullptr;
}

// A new relation (table, index, view, ...) is already in the relcache:
// its schema is read there, without a catalog scan.
const char *reached_by_new_relation(Oid relid, int sub_id) {
  if (sub_id != 0) return in_pg_mpa_schema(relid) ? "a table of pg_mpa" : nullptr;  // a new column
  Relation relation = RelationIdGetRelation(relid);
  if (relation == nullptr) return nullptr;
  Oid schema = RelationGetNamespace(relation);
  RelationClose(relation);
  return reached_by_schema(schema);
}

// Whether an object that hangs on a relation (a trigger, rule, policy,
// constraint, default, statistics) hangs on one of pg_mpa's.
bool hangs_on_pg_mpa_relation(Oid class_id, Oid object_id) {
  NewRowColumns columns;
  if (!new_row_columns(class_id, &columns)) return false;
  Oid relations[2];
  if (!read_new_row(class_id, object_id, columns, columns.relations, 2, relations)) return false;
  return (OidIsValid(relations[0]) && in_pg_mpa_schema(relations[0])) ||
         (OidIsValid(relations[1]) && in_pg_mpa_schema(relations[1]));
}

// Where a new object would reach into what pg_mpa trusts: pg_mpa's schema
// (a function there could shadow one its SQL calls), one of its relations
// (an index expression, trigger, rule or policy runs inside pg_mpa's own
// writes), one of its functions replaced, built-in casts and operator
// families, or, once governed, pg_catalog (a replaced built-in runs inside
// every query pg_mpa makes). Returns what to name in the refusal, or nullptr.
const char *reached_by_new_object(Oid class_id, Oid object_id, int sub_id) {
  if (class_id == RelationRelationId) return reached_by_new_relation(object_id, sub_id);
  if (class_id == ProcedureRelationId && is_pg_mpa_object(ProcedureRelationId, object_id))
    return "one of pg_mpa's functions (CREATE OR REPLACE)";
  if (class_id == ProcedureRelationId && is_look_alike(object_id)) refuse_look_alike(object_id);
  NewRowColumns columns;
  if (!new_row_columns(class_id, &columns)) return nullptr;
  const AttrNumber wanted[5] = {columns.schema, columns.relations[0], columns.relations[1], columns.builtins[0],
                                columns.builtins[1]};
  Oid values[5];
  if (!read_new_row(class_id, object_id, columns, wanted, 5, values)) return nullptr;
  if (const char *reached = reached_by_schema(values[0])) return reached;
  for (int i = 1; i <= 2; i++)
    if (OidIsValid(values[i]) && in_pg_mpa_schema(values[i])) return "a table of pg_mpa";
  bool extends_builtins = columns.builtins[0] != InvalidAttrNumber;
  for (int i = 0; i < 2; i++)
    if (columns.builtins[i] != InvalidAttrNumber && values[3 + i] >= FirstNormalObjectId) extends_builtins = false;
  return extends_builtins ? "a built-in type's casts or a built-in operator family" : nullptr;
}

}  // namespace

// The hooks that run for every query (src/pg/hooks/) call the functions
// below, marked hot and keeping only their fast path inline (what they
// rarely do is in functions of its own): GCC places them side by side, away
// from the rest of pg_mpa, so that a query loads few of pg_mpa's cache
// lines. Callgrind's cache simulation of pgbench -S counted these misses,
// not instructions, as most of what pg_mpa costs a query
// (docs/benchmarks.md).
pg_attribute_hot bool check_table_writes(List *range_table, bool ereport_on_violation) {
  if (running_trusted_code()) return true;
  ListCell *cell;
  foreach (cell, range_table) {
    auto *entry = lfirst_node(RangeTblEntry, cell);
    bool writes = entry->rtekind == RTE_RELATION && (entry->requiredPerms & (ACL_INSERT | ACL_UPDATE | ACL_DELETE));
    if (writes && !write_allowed(entry, ereport_on_violation)) return false;
  }
  return true;
}

pg_attribute_hot bool is_pg_mpa_function(Oid function) { return function_kind(function) != FunctionKind::Foreign; }

pg_attribute_hot bool pg_mpa_call_starts(Oid function) {
  FunctionKind kind = function_kind(function);
  if (kind == FunctionKind::Internal && !running_trusted_code()) refuse_internal_call(function);
  // pg_mpa is in use: no restore writes its tables any more.
  if (kind == FunctionKind::EntryPoint) close_restore_window_on_use();
  if (kind == FunctionKind::Foreign) return false;
  trusted_depth++;
  return true;
}

pg_attribute_hot void pg_mpa_call_ends() { trusted_depth--; }

bool trusted_code_is_running() { return running_trusted_code(); }

void refuse_truncate_of_pg_mpa_tables(ObjectAccessType access, Oid class_id, Oid object_id) {
  if (access == OAT_TRUNCATE && class_id == RelationRelationId && !running_trusted_code() &&
      in_pg_mpa_schema(object_id))
    refuse_direct_write(object_id, "TRUNCATE");
}

void protect_pg_mpa_objects(ObjectAccessType access, Oid class_id, Oid object_id, int, void *arg) {
  if (access == OAT_POST_ALTER && class_id == ProcedureRelationId && OidIsValid(pg_mpa_extension_oid()) &&
      !IsBinaryUpgrade && is_look_alike(object_id))
    refuse_look_alike(object_id);  // ALTER FUNCTION ... RENAME TO mpa_verify
  if ((access == OAT_DROP || access == OAT_POST_ALTER) && !is_maintenance(access, arg) &&
      is_pg_mpa_object(class_id, object_id) && !pg_mpa_change_allowed(access, class_id)) {
    ObjectAddress address{class_id, object_id, 0};
    const char *what = access == OAT_DROP ? "dropping" : "altering";
    const char *object = getObjectDescription(&address, false);
    const char *team = configuration_team();
    if (team == nullptr)
      refuse({psprintf("%s %s", what, object), nullptr, psprintf("%s of %s is refused", what, object),
              "It is one of pg_mpa's own objects: they change only with pg_mpa's own extension scripts (ALTER "
              "EXTENSION pg_mpa UPDATE)."});
    refuse({psprintf("%s %s", what, object), team,
            psprintf("%s of %s requires the approval of team \"%s\"", what, object, team),
            "It is one of pg_mpa's own objects, and a team governs pg_mpa.",
            "Ask for approval with mpa_request() for the statement."});
  }
}

// Objects created: refused where they would reach into pg_mpa (above),
// for every role and whether or not a team governs yet (such an object
// would outlive the moment governance starts), except in pg_mpa's own
// extension script and in a statement the gate let through as approved.
void refuse_objects_reaching_into_pg_mpa(Oid class_id, Oid object_id, int sub_id, void *arg) {
  auto *created = static_cast<ObjectAccessPostCreate *>(arg);
  // Internal objects (array types, TOAST tables, a foreign key's
  // triggers) come with a user's object that is judged itself.
  if ((created != nullptr && created->is_internal) || approved_statement_running) return;
  Oid extension = pg_mpa_extension_oid();
  if (!OidIsValid(extension) && !pg_mpa_is_governed()) return;
  // pg_upgrade re-creates pg_mpa's objects one by one, outside its script.
  if (IsBinaryUpgrade || pg_mpa_script_is_running()) return;
  const char *reached = reached_by_new_object(class_id, object_id, sub_id);
  if (reached == nullptr) return;
  refuse({psprintf("creating an object in %s", reached), configuration_team(),
          psprintf("creating an object in %s is refused", reached),
          "Code attached to pg_mpa's objects would run inside pg_mpa with its trust.",
          "pg_mpa's objects change only with its own extension scripts."});
}

bool is_pg_mpa_object(Oid class_id, Oid object_id) {
  // pg_mpa's home database, once a team governs pg_mpa, from any database:
  // renamed, dropped, closed to connections or re-owned, it would take
  // pg_mpa's protection (and every object in it) with it.
  if (class_id == DatabaseRelationId)
    return object_id == get_database_oid(settings::database, true) && pg_mpa_is_governed();
  Oid extension = pg_mpa_extension_oid();
  if (!OidIsValid(extension)) return false;
  switch (class_id) {
    case ExtensionRelationId:
      return object_id == extension;
    case NamespaceRelationId:
      return is_pg_mpa_schema(object_id);
    case RelationRelationId:
      return in_pg_mpa_schema(object_id);
    case ProcedureRelationId:
      return getExtensionOfObject(ProcedureRelationId, object_id) == extension;
    case TriggerRelationId:
    case RewriteRelationId:
    case PolicyRelationId:
    case ConstraintRelationId:
    case AttrDefaultRelationId:
    case StatisticExtRelationId:
      return hangs_on_pg_mpa_relation(class_id, object_id);
    default:
      return false;
  }
}

void refuse_inheritance_from_pg_mpa(Node *statement) {
  List *relations = NIL;
  if (IsA(statement, CreateStmt) || IsA(statement, CreateForeignTableStmt)) {
    relations = reinterpret_cast<CreateStmt *>(statement)->inhRelations;
  } else if (IsA(statement, AlterTableStmt)) {
    auto *alter = castNode(AlterTableStmt, statement);
    ListCell *cell;
    foreach (cell, alter->cmds) {
      auto *command = lfirst_node(AlterTableCmd, cell);
      if (command->subtype != AT_AddInherit && command->subtype != AT_AttachPartition) continue;
      // Both ends: a table of pg_mpa under another table would be written
      // through that table's name.
      relations = lappend(relations, alter->relation);
      relations = lappend(relations, command->subtype == AT_AddInherit
                                         ? command->def
                                         : reinterpret_cast<Node *>(castNode(PartitionCmd, command->def)->name));
    }
  }
  ListCell *cell;
  foreach (cell, relations) {
    Oid relid = RangeVarGetRelid(lfirst_node(RangeVar, cell), NoLock, true);
    if (!OidIsValid(relid) || !in_pg_mpa_schema(relid)) continue;
    refuse({psprintf("inheritance from mpa.%s", get_rel_name(relid)), nullptr,
            psprintf("inheritance or partitioning involving pg_mpa's table mpa.%s is refused", get_rel_name(relid)),
            "Rows of another table would count as pg_mpa's own, or pg_mpa's rows be written through another "
            "table, for every role including superusers."});
  }
}

void refuse_lock_of_pg_mpa_tables(Node *statement) {
  ListCell *cell;
  foreach (cell, castNode(LockStmt, statement)->relations) {
    Oid relid = RangeVarGetRelid(lfirst_node(RangeVar, cell), NoLock, true);
    if (!OidIsValid(relid)) continue;
    // A lock on a system catalog stalls a verification before pg_mpa runs
    // any of its code (the function lookup waits): once governed, refused.
    if (get_rel_namespace(relid) == PG_CATALOG_NAMESPACE && pg_mpa_is_governed()) {
      refuse({psprintf("LOCK TABLE pg_catalog.%s", get_rel_name(relid)), configuration_team(),
              psprintf("LOCK TABLE on the system catalog %s is refused", get_rel_name(relid)),
              psprintf("Team \"%s\" governs pg_mpa; a lock on a catalog would stall approvals.",
                       configuration_team())});
    }
    if (!in_pg_mpa_schema(relid)) continue;
    refuse({psprintf("LOCK TABLE mpa.%s", get_rel_name(relid)), nullptr,
            psprintf("LOCK TABLE on pg_mpa's table mpa.%s is refused", get_rel_name(relid)),
            "Only pg_mpa locks its tables, for every role including superusers."});
  }
}

void refuse_maintenance_hazards(Node *statement) {
  RangeVar *relation = nullptr;
  const char *what = nullptr;
  if (IsA(statement, AlterTableStmt) && !pg_mpa_is_governed() && !creating_extension && !IsBinaryUpgrade) {
    relation = castNode(AlterTableStmt, statement)->relation;
    what = "ALTER TABLE";
  } else if (IsA(statement, ClusterStmt) && IsTransactionBlock()) {
    relation = castNode(ClusterStmt, statement)->relation;
    what = "CLUSTER in a transaction block";
  } else if (IsA(statement, ReindexStmt) && IsTransactionBlock()) {
    relation = castNode(ReindexStmt, statement)->relation;
    what = "REINDEX in a transaction block";
  }
  if (relation == nullptr) return;
  Oid relid = RangeVarGetRelid(relation, NoLock, true);
  if (!OidIsValid(relid)) return;
  // REINDEX INDEX names an index of the table; the index is in its schema.
  if (!in_pg_mpa_schema(relid)) return;
  refuse({psprintf("%s of mpa.%s", what, get_rel_name(relid)), configuration_team(),
          psprintf("%s of pg_mpa's table mpa.%s is refused", what, get_rel_name(relid)),
          "pg_mpa's tables change only with its own extension scripts, and only pg_mpa holds their locks.",
          "Run VACUUM FULL, CLUSTER or REINDEX on its own, outside a transaction block."});
}

void refuse_move_into_protected_schema(Node *statement) {
  auto *move = castNode(AlterObjectSchemaStmt, statement);
  Oid schema = get_namespace_oid(move->newschema, true);
  if (!OidIsValid(schema) || creating_extension || approved_statement_running) return;
  bool into_pg_mpa = is_pg_mpa_schema(schema);
  if (!into_pg_mpa && !(schema == PG_CATALOG_NAMESPACE && pg_mpa_is_governed())) return;
  refuse({psprintf("SET SCHEMA %s", move->newschema), configuration_team(),
          psprintf("moving an object into schema %s is refused", move->newschema),
          into_pg_mpa ? "Nothing joins pg_mpa's schema: a function there could shadow one pg_mpa's SQL calls."
                      : "A team governs pg_mpa: an object moved into pg_catalog could shadow a built-in pg_mpa's "
                        "SQL calls."});
}

void set_approved_statement_running(bool running) { approved_statement_running = running; }
void set_pg_mpa_update_running(bool running) { pg_mpa_update_running = running; }
bool approved_statement_is_running() { return approved_statement_running; }
bool approved_extension_script_is_running() { return approved_statement_running && creating_extension; }
bool pg_mpa_script_is_running() {
  return creating_extension && OidIsValid(CurrentExtensionObject) && CurrentExtensionObject == pg_mpa_extension_oid();
}

void enter_trusted_code() { trusted_depth++; }
void leave_trusted_code() { trusted_depth--; }
void trust_this_process() { trusted_process = true; }

void without_trust(void (*body)(void *), void *context) {
  int saved_depth = trusted_depth;
  trusted_depth = 0;
  PG_TRY();
  {
    body(context);
  }
  PG_FINALLY();
  {
    trusted_depth = saved_depth;
  }
  PG_END_TRY();
}

// What governance does not start beside, made before pg_mpa's rules
// applied (they refuse it from then on): functions that are not pg_mpa's
// but carry a public function's name (called instead of pg_mpa's, they
// would see the code), and code that reaches the server's files and
// programs outside any extension (a C or internal function: `system` from
// libc, a built-in file reader under another name), or extensions made for
// that (adminpack writes files, file_fdw runs programs). Code in untrusted
// languages belonging to other extensions is theirs: each came with a
// CREATE EXTENSION a DBA chose (governed once pg_mpa is).
constexpr const char *kUnsafeBesideGovernanceSql =
    "SELECT pg_catalog.string_agg(what, ', ' ORDER BY what) FROM ("
    " SELECT 'function ' OPERATOR(pg_catalog.||) p.oid::pg_catalog.regprocedure::pg_catalog.text"
    "        OPERATOR(pg_catalog.||) ' (named like pg_mpa''s)' AS what"
    "   FROM pg_catalog.pg_proc p"
    "  WHERE p.proname OPERATOR(pg_catalog.=) ANY (SELECT m.proname FROM pg_catalog.pg_proc m"
    "          JOIN pg_catalog.pg_depend d ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass"
    "           AND d.objid OPERATOR(pg_catalog.=) m.oid AND d.deptype OPERATOR(pg_catalog.=) 'e'"
    "           AND d.refobjid OPERATOR(pg_catalog.=) $1)"
    "    AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d"
    "         WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass"
    "           AND d.objid OPERATOR(pg_catalog.=) p.oid AND d.deptype OPERATOR(pg_catalog.=) 'e'"
    "           AND d.refobjid OPERATOR(pg_catalog.=) $1)"
    " UNION ALL"
    " SELECT 'function ' OPERATOR(pg_catalog.||) p.oid::pg_catalog.regprocedure::pg_catalog.text"
    "        OPERATOR(pg_catalog.||) ' (language ' OPERATOR(pg_catalog.||) l.lanname OPERATOR(pg_catalog.||) ')'"
    "   FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid OPERATOR(pg_catalog.=) p.prolang"
    "  WHERE NOT l.lanpltrusted AND p.oid OPERATOR(pg_catalog.>=) 16384"
    "    AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d"
    "         WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass"
    "           AND d.objid OPERATOR(pg_catalog.=) p.oid AND d.deptype OPERATOR(pg_catalog.=) 'e')"
    " UNION ALL"
    " SELECT 'extension ' OPERATOR(pg_catalog.||) e.extname FROM pg_catalog.pg_extension e"
    "  WHERE e.extname OPERATOR(pg_catalog.=) ANY ('{adminpack,file_fdw}'::pg_catalog.name[])"
    ") unsafe";

void refuse_governance_beside_unsafe_code() {
  char *unsafe = nullptr;
  MemoryContext caller = CurrentMemoryContext;
  auto body = [&unsafe, caller] {
    Oid types[1] = {OIDOID};
    Datum values[1] = {ObjectIdGetDatum(pg_mpa_extension_oid())};
    SPI_connect();
    if (SPI_execute_with_args(kUnsafeBesideGovernanceSql, 1, types, values, nullptr, true, 1) != SPI_OK_SELECT)
      elog(ERROR, "pg_mpa: cannot read pg_proc");
    MemoryContext spi = MemoryContextSwitchTo(caller);
    unsafe = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
    MemoryContextSwitchTo(spi);
    SPI_finish();
  };
  with_pg_mpa_privileges(body);
  if (unsafe == nullptr) return;
  refuse({psprintf("governance beside %s", unsafe), nullptr, psprintf("governance cannot start beside: %s", unsafe),
          "Made before pg_mpa's rules applied, they would outlive them: a function named like one of pg_mpa's "
          "would be called instead of it and see an approver's code; code in an untrusted language outside an "
          "extension, adminpack and file_fdw reach the server's files and programs.",
          "Drop them (or rename the look-alikes), then try again. Extensions you need can be created afterwards "
          "with the governing team's approval."});
}

void register_self_protection_caches() {
  CacheRegisterSyscacheCallback(PROCOID, forget_function_kinds, 0);
  CacheRegisterRelcacheCallback(forget_relation_schema, 0);
}

}  // namespace mpa::pg
