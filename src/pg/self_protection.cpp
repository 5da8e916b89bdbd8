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

// What the hooks below ask for every query, remembered per backend:
// whether a function is one of pg_mpa's (cleared when any function
// changes; a function taken out of the extension with ALTER EXTENSION, an
// approved change once pg_mpa is governed, stays trusted until then, its
// code unchanged), and each written relation's schema (cleared for the
// relation when its relcache entry is invalidated, SET SCHEMA included).
OidMemo<bool> trusted_functions;
OidMemo<Oid> relation_schemas;

void forget_trusted_functions(Datum, int, uint32) { trusted_functions.forget_all(); }

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

// pg_mpa's own functions: members of the extension, except mpa_execute,
// which runs an approved statement with the caller's privileges and so
// must not lend it pg_mpa's trust.
bool lookup_trusted_function(Oid function) {
  HeapTuple tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(function));
  if (!HeapTupleIsValid(tuple)) return false;
  auto *proc = reinterpret_cast<Form_pg_proc>(GETSTRUCT(tuple));
  const char *name = NameStr(proc->proname);
  bool candidate = std::strncmp(name, "mpa_", 4) == 0 || is_pg_mpa_schema(proc->pronamespace);
  bool excluded = std::strcmp(name, "mpa_execute") == 0;
  ReleaseSysCache(tuple);
  if (!candidate || excluded) return false;
  Oid extension = pg_mpa_extension_oid();
  return OidIsValid(extension) && getExtensionOfObject(ProcedureRelationId, function) == extension;
}

bool is_trusted_function(Oid function) { return trusted_functions.get(function, lookup_trusted_function); }

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
  return is_trusted_function(function);
}

// *private_state remembers, per call, whether this call raised the depth.
pg_attribute_hot void on_function_event(FmgrHookEventType event, FmgrInfo *flinfo, Datum *private_state) {
  if (previous_fmgr) previous_fmgr(event, flinfo, private_state);
  switch (event) {
    case FHET_START:
      *private_state = BoolGetDatum(is_trusted_function(flinfo->fn_oid));
      if (DatumGetBool(*private_state)) trusted_depth++;
      break;
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

pg_attribute_hot void on_object_access(ObjectAccessType access, Oid class_id, Oid object_id, int sub_id,
                                       void *arg) {
  if (previous_object_access) previous_object_access(access, class_id, object_id, sub_id, arg);
  // Every function a query prepares comes here: decided in a switch.
  if (access == OAT_FUNCTION_EXECUTE) {
    gate_server_file_function(object_id);
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

void set_approved_statement_running(bool running) { approved_statement_running = running; }
bool approved_statement_is_running() { return approved_statement_running; }

void enter_trusted_code() { trusted_depth++; }
void leave_trusted_code() { trusted_depth--; }
void trust_this_process() { trusted_process = true; }

void install_self_protection() {
  previous_check_perms = ExecutorCheckPerms_hook;
  ExecutorCheckPerms_hook = check_permissions;
  previous_needs_fmgr = needs_fmgr_hook;
  needs_fmgr_hook = needs_function_hook;
  previous_fmgr = fmgr_hook;
  fmgr_hook = on_function_event;
  previous_object_access = object_access_hook;
  object_access_hook = on_object_access;
  CacheRegisterSyscacheCallback(PROCOID, forget_trusted_functions, 0);
  CacheRegisterRelcacheCallback(forget_relation_schema, 0);
}

}  // namespace mpa::pg
