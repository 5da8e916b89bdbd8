#include "pg/self_protection.hpp"

#include <cstring>

#include "pg/audit_log.hpp"
#include "pg/indirect_paths.hpp"
#include "pg/installation.hpp"
#include "pg/oid_memo.hpp"
#include "pg/server_files.hpp"
#include "pg/policy_cache.hpp"
#include "pg/postgres.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_attrdef.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_policy.h"
#include "catalog/pg_rewrite.h"
#include "catalog/pg_statistic_ext.h"
#include "catalog/pg_trigger.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
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
#include "utils/syscache.h"
}

namespace mpa::pg {
namespace {

ExecutorCheckPerms_hook_type previous_check_perms = nullptr;
needs_fmgr_hook_type previous_needs_fmgr = nullptr;
fmgr_hook_type previous_fmgr = nullptr;
object_access_hook_type previous_object_access = nullptr;

int trusted_depth = 0;         // pg_mpa's functions and internal SQL running now
bool trusted_process = false;  // the mail worker
bool approved_statement_running = false;

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
  audit_refusal(psprintf("%s on mpa.%s", what, get_rel_name(relid)), nullptr, debug_query_string);
  ereport(ERROR, (errcode(MAKE_SQLSTATE('M', 'P', '0', '0', '1')),
                  errmsg("%s on pg_mpa's table mpa.%s is refused", what, get_rel_name(relid)),
                  errdetail("pg_mpa's tables are written only by pg_mpa's own functions, "
                            "for every role including superusers."),
                  errhint("Use pg_mpa's functions (mpa_request, mpa_vote, mpa_protect, ...).")));
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
  audit_refusal(psprintf("calling %s", name), nullptr, debug_query_string);
  ereport(ERROR, (errcode(MAKE_SQLSTATE('M', 'P', '0', '1', '0')),
                  errmsg("%s is internal to pg_mpa", name),
                  errdetail("pg_mpa's internal functions run only inside its public functions, "
                            "for every role including superusers."),
                  errhint("Use pg_mpa's public functions (mpa_request, mpa_vote, mpa_verify, ...).")));
}

// Whether the query may write this relation: not pg_mpa's tables (only its
// functions do), nor the system catalogs once a team governs pg_mpa.
pg_noinline bool write_allowed(const RangeTblEntry *entry, bool ereport_on_violation) {
  Oid schema = relation_schemas.get(entry->relid, get_rel_namespace);
  if (schema == PG_CATALOG_NAMESPACE && !approved_statement_running) {
    // Editing the system catalogs by hand could undo anything pg_mpa
    // guards (its functions, dependencies, the extension itself): once a
    // team governs pg_mpa, nobody does it.
    const char *team = configuration_team();
    if (team == nullptr) return true;
    if (!ereport_on_violation) return false;
    ereport(ERROR, (errcode(MAKE_SQLSTATE('M', 'P', '0', '0', '1')),
                    errmsg("writing the system catalog %s directly is refused", get_rel_name(entry->relid)),
                    errdetail("Team \"%s\" governs pg_mpa; direct catalog edits could undo what it guards.",
                              team)));
  }
  if (!is_pg_mpa_schema(schema)) return true;
  if (!ereport_on_violation) return false;
  refuse_direct_write(entry->relid, (entry->requiredPerms & ACL_INSERT)   ? "INSERT"
                                    : (entry->requiredPerms & ACL_UPDATE) ? "UPDATE"
                                                                           : "DELETE");
}

// The hooks that run for every query are marked hot and keep only their
// fast path inline (what they rarely do is in functions of its own): GCC
// places them side by side, away from the rest of pg_mpa, so that a query
// loads few of pg_mpa's cache lines. Callgrind's cache simulation of
// pgbench -S counted these misses, not instructions, as most of what
// pg_mpa costs a query (docs/benchmarks.md).
pg_attribute_hot bool check_permissions(List *range_table, bool ereport_on_violation) {
  if (previous_check_perms && !previous_check_perms(range_table, ereport_on_violation)) return false;
  if (running_trusted_code()) return true;
  ListCell *cell;
  foreach (cell, range_table) {
    auto *entry = lfirst_node(RangeTblEntry, cell);
    bool writes = entry->rtekind == RTE_RELATION && (entry->requiredPerms & (ACL_INSERT | ACL_UPDATE | ACL_DELETE));
    if (writes && !write_allowed(entry, ereport_on_violation)) return false;
  }
  return true;
}

pg_attribute_hot bool needs_function_hook(Oid function) {
  if (previous_needs_fmgr && previous_needs_fmgr(function)) return true;
  return function_kind(function) != FunctionKind::Foreign;
}

// *private_state remembers, per call, whether this call raised the depth.
pg_attribute_hot void on_function_event(FmgrHookEventType event, FmgrInfo *flinfo, Datum *private_state) {
  if (previous_fmgr) previous_fmgr(event, flinfo, private_state);
  switch (event) {
    case FHET_START: {
      FunctionKind kind = function_kind(flinfo->fn_oid);
      if (kind == FunctionKind::Internal && !running_trusted_code()) refuse_internal_call(flinfo->fn_oid);
      *private_state = BoolGetDatum(kind != FunctionKind::Foreign);
      if (DatumGetBool(*private_state)) trusted_depth++;
      break;
    }
    case FHET_END:
    case FHET_ABORT:
      if (DatumGetBool(*private_state)) trusted_depth--;
      break;
  }
}

// Changes to pg_mpa's own objects are allowed to pg_mpa itself (its
// functions, its CREATE/ALTER EXTENSION script), to an approved statement,
// and to anyone while no team governs pg_mpa.
bool pg_mpa_change_allowed() {
  if (running_trusted_code() || approved_statement_running) return true;
  Oid extension = pg_mpa_extension_oid();
  if (creating_extension && CurrentExtensionObject == extension) return true;
  return configuration_team() == nullptr;
}

// Objects dropped, truncated or altered (DDL, not queries).
pg_noinline void on_object_change(ObjectAccessType access, Oid class_id, Oid object_id, int sub_id, void *arg) {
  if (access == OAT_TRUNCATE && class_id == RelationRelationId && !running_trusted_code() &&
      in_pg_mpa_schema(object_id))
    refuse_direct_write(object_id, "TRUNCATE");
  if (!running_trusted_code() && !approved_statement_running)
    gate_indirect_change(access, class_id, object_id, sub_id, arg);
  if ((access == OAT_DROP || access == OAT_POST_ALTER) && is_pg_mpa_object(class_id, object_id) &&
      !pg_mpa_change_allowed()) {
    ObjectAddress object{class_id, object_id, 0};
    audit_refusal(psprintf("%s %s", access == OAT_DROP ? "dropping" : "altering", getObjectDescription(&object, false)),
                  configuration_team(), debug_query_string);
    ereport(ERROR,
            (errcode(MAKE_SQLSTATE('M', 'P', '0', '0', '1')),
             errmsg("%s of %s requires the approval of team \"%s\"", access == OAT_DROP ? "dropping" : "altering",
                    getObjectDescription(&object, false), configuration_team()),
             errdetail("It is one of pg_mpa's own objects, and a team governs pg_mpa."),
             errhint("Ask for approval with mpa_request() for the statement.")));
  }
}

// A row PostgreSQL has just inserted into a catalog: syscache lookups see
// it only from the next command on, so it is read with SnapshotSelf
// (palloc'd copy; nullptr when not found).
HeapTuple fresh_catalog_row(Relation catalog, Oid class_id, Oid object_id) {
  ScanKeyData key;
  ScanKeyInit(&key, get_object_attnum_oid(class_id), BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(object_id));
  SysScanDesc scan = systable_beginscan(catalog, get_object_oid_index(class_id), true, SnapshotSelf, 1, &key);
  HeapTuple tuple = systable_getnext(scan);
  HeapTuple copy = HeapTupleIsValid(tuple) ? heap_copytuple(tuple) : nullptr;
  systable_endscan(scan);
  return copy;
}

Oid oid_column(HeapTuple tuple, Relation catalog, AttrNumber column) {
  bool is_null = true;
  Datum value = column != InvalidAttrNumber ? heap_getattr(tuple, column, RelationGetDescr(catalog), &is_null)
                                            : Datum(0);
  return is_null ? InvalidOid : DatumGetObjectId(value);
}

// The relations a new object hangs on (an index is in its table's schema,
// so the schema rule covers it): a trigger, a rule, a row security policy,
// extended statistics, a constraint (both ends of a foreign key), a default.
void attached_relation_columns(Oid class_id, AttrNumber *first, AttrNumber *second) {
  *first = *second = InvalidAttrNumber;
  switch (class_id) {
    case TriggerRelationId: *first = Anum_pg_trigger_tgrelid; break;
    case RewriteRelationId: *first = Anum_pg_rewrite_ev_class; break;
    case PolicyRelationId: *first = Anum_pg_policy_polrelid; break;
    case StatisticExtRelationId: *first = Anum_pg_statistic_ext_stxrelid; break;
    case AttrDefaultRelationId: *first = Anum_pg_attrdef_adrelid; break;
    case ConstraintRelationId:
      *first = Anum_pg_constraint_conrelid;
      *second = Anum_pg_constraint_confrelid;
      break;
    default: break;
  }
}

// Where a new object would reach into what pg_mpa trusts: pg_mpa's schema
// (a function there could shadow one its SQL calls), one of its relations
// (an index expression, trigger, rule or policy runs inside pg_mpa's own
// writes), one of its functions replaced, or, once governed, pg_catalog
// (a replaced built-in runs inside every query pg_mpa makes). Returns what
// to name in the refusal, or nullptr.
const char *reached_by_new_object(Oid class_id, Oid object_id, int sub_id) {
  if (class_id == ProcedureRelationId && is_pg_mpa_object(ProcedureRelationId, object_id))
    return "one of pg_mpa's functions (CREATE OR REPLACE)";
  if (class_id == RelationRelationId && sub_id != 0)  // a new column
    return in_pg_mpa_schema(object_id) ? "a table of pg_mpa" : nullptr;
  if (!is_objectclass_supported(class_id)) return nullptr;
  Relation catalog = table_open(class_id, AccessShareLock);
  HeapTuple row = fresh_catalog_row(catalog, class_id, object_id);
  const char *reached = nullptr;
  if (row != nullptr) {
    Oid schema = oid_column(row, catalog, get_object_attnum_namespace(class_id));
    AttrNumber first, second;
    attached_relation_columns(class_id, &first, &second);
    Oid relations[2] = {oid_column(row, catalog, first), oid_column(row, catalog, second)};
    if (is_pg_mpa_schema(schema))
      reached = "pg_mpa's schema mpa";
    else if ((OidIsValid(relations[0]) && in_pg_mpa_schema(relations[0])) ||
             (OidIsValid(relations[1]) && in_pg_mpa_schema(relations[1])))
      reached = "a table of pg_mpa";
    else if (schema == PG_CATALOG_NAMESPACE && pg_mpa_is_governed())
      reached = "the system catalog schema pg_catalog";
  }
  table_close(catalog, AccessShareLock);
  return reached;
}

// Objects created: refused where they would reach into pg_mpa (above),
// for every role and whether or not a team governs yet (such an object
// would outlive the moment governance starts), except in pg_mpa's own
// extension script and in a statement the gate let through as approved.
pg_noinline void on_object_created(Oid class_id, Oid object_id, int sub_id, void *arg) {
  auto *created = static_cast<ObjectAccessPostCreate *>(arg);
  // Internal objects (array types, TOAST tables, a foreign key's
  // triggers) come with a user's object that is judged itself.
  if ((created != nullptr && created->is_internal) || approved_statement_running) return;
  Oid extension = pg_mpa_extension_oid();
  if (!OidIsValid(extension) && !pg_mpa_is_governed()) return;
  if (creating_extension && OidIsValid(extension) && CurrentExtensionObject == extension) return;
  const char *reached = reached_by_new_object(class_id, object_id, sub_id);
  if (reached == nullptr) return;
  audit_refusal(psprintf("creating an object in %s", reached), configuration_team(), debug_query_string);
  ereport(ERROR, (errcode(MAKE_SQLSTATE('M', 'P', '0', '0', '1')),
                  errmsg("creating an object in %s is refused", reached),
                  errdetail("Code attached to pg_mpa's objects would run inside pg_mpa with its trust."),
                  errhint("pg_mpa's objects change only with its own extension scripts.")));
}

pg_attribute_hot void on_object_access(ObjectAccessType access, Oid class_id, Oid object_id, int sub_id,
                                       void *arg) {
  if (previous_object_access) previous_object_access(access, class_id, object_id, sub_id, arg);
  // Every function a query prepares comes here: decided in a switch.
  if (access == OAT_FUNCTION_EXECUTE) {
    gate_server_file_function(object_id);
    return;
  }
  if (access == OAT_POST_CREATE) {
    on_object_created(class_id, object_id, sub_id, arg);
    return;
  }
  on_object_change(access, class_id, object_id, sub_id, arg);
}

}  // namespace

bool is_pg_mpa_object(Oid class_id, Oid object_id) {
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
    default:
      return false;
  }
}

void refuse_inheritance_from_pg_mpa(Node *statement) {
  List *relations = NIL;
  if (IsA(statement, CreateStmt) || IsA(statement, CreateForeignTableStmt)) {
    relations = reinterpret_cast<CreateStmt *>(statement)->inhRelations;
  } else if (IsA(statement, AlterTableStmt)) {
    ListCell *cell;
    foreach (cell, castNode(AlterTableStmt, statement)->cmds) {
      auto *command = lfirst_node(AlterTableCmd, cell);
      if (command->subtype == AT_AddInherit)
        relations = lappend(relations, command->def);
      else if (command->subtype == AT_AttachPartition)
        relations = lappend(relations, castNode(PartitionCmd, command->def)->name);
    }
  }
  ListCell *cell;
  foreach (cell, relations) {
    Oid relid = RangeVarGetRelid(lfirst_node(RangeVar, cell), NoLock, true);
    if (!OidIsValid(relid) || !in_pg_mpa_schema(relid)) continue;
    audit_refusal(psprintf("inheritance from mpa.%s", get_rel_name(relid)), nullptr, debug_query_string);
    ereport(ERROR, (errcode(MAKE_SQLSTATE('M', 'P', '0', '0', '1')),
                    errmsg("inheriting from or partitioning with pg_mpa's table mpa.%s is refused",
                           get_rel_name(relid)),
                    errdetail("Rows of another table would count as pg_mpa's own, for every role "
                              "including superusers.")));
  }
}

void refuse_lock_of_pg_mpa_tables(Node *statement) {
  ListCell *cell;
  foreach (cell, castNode(LockStmt, statement)->relations) {
    Oid relid = RangeVarGetRelid(lfirst_node(RangeVar, cell), NoLock, true);
    if (!OidIsValid(relid) || !in_pg_mpa_schema(relid)) continue;
    audit_refusal(psprintf("LOCK TABLE mpa.%s", get_rel_name(relid)), nullptr, debug_query_string);
    ereport(ERROR, (errcode(MAKE_SQLSTATE('M', 'P', '0', '0', '1')),
                    errmsg("LOCK TABLE on pg_mpa's table mpa.%s is refused", get_rel_name(relid)),
                    errdetail("Only pg_mpa locks its tables, for every role including superusers.")));
  }
}

void set_approved_statement_running(bool running) { approved_statement_running = running; }
bool approved_statement_is_running() { return approved_statement_running; }

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

void install_self_protection() {
  previous_check_perms = ExecutorCheckPerms_hook;
  ExecutorCheckPerms_hook = check_permissions;
  previous_needs_fmgr = needs_fmgr_hook;
  needs_fmgr_hook = needs_function_hook;
  previous_fmgr = fmgr_hook;
  fmgr_hook = on_function_event;
  previous_object_access = object_access_hook;
  object_access_hook = on_object_access;
  CacheRegisterSyscacheCallback(PROCOID, forget_function_kinds, 0);
  CacheRegisterRelcacheCallback(forget_relation_schema, 0);
}

}  // namespace mpa::pg
