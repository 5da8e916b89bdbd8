#include "pg/hooks/hooks.hpp"

#include "pg/approval/log_redaction.hpp"
#include "pg/boundary/postgres.hpp"
#include "pg/gate/gate.hpp"
#include "pg/gate/indirect_paths.hpp"
#include "pg/gate/server_files.hpp"
#include "pg/protection/self_protection.hpp"
#include "pg/shared/shared_state.hpp"

extern "C" {
#include "catalog/objectaccess.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "storage/ipc.h"
#include "tcop/utility.h"
#include "utils/elog.h"
}

namespace mpa::pg {
namespace {

shmem_request_hook_type previous_shmem_request = nullptr;
shmem_startup_hook_type previous_shmem_startup = nullptr;
ProcessUtility_hook_type previous_process_utility = nullptr;
ExecutorCheckPerms_hook_type previous_check_perms = nullptr;
needs_fmgr_hook_type previous_needs_fmgr = nullptr;
fmgr_hook_type previous_fmgr = nullptr;
object_access_hook_type previous_object_access = nullptr;
emit_log_hook_type previous_emit_log = nullptr;

void on_shmem_request() {
  if (previous_shmem_request) previous_shmem_request();
  request_shared_memory();  // the code key, counters, the audit ring, published policies
}

void on_shmem_startup() {
  if (previous_shmem_startup) previous_shmem_startup();
  attach_shared_memory();
}

// The rest of the chain after the gate.
void run_rest_of_utility_chain(PlannedStmt *statement, const char *query, bool read_only_tree,
                               ProcessUtilityContext context, ParamListInfo params, QueryEnvironment *query_env,
                               DestReceiver *dest, QueryCompletion *completion) {
  (previous_process_utility ? previous_process_utility : standard_ProcessUtility)(
      statement, query, read_only_tree, context, params, query_env, dest, completion);
}

// The gate: protected utility statements without approval (MP001), and what
// no statement may do to pg_mpa (inheritance, LOCK, moves into its schema,
// hidden role grants, approvers' roles, restores outside their window).
void on_utility_statement(PlannedStmt *statement, const char *query, bool read_only_tree,
                          ProcessUtilityContext context, ParamListInfo params, QueryEnvironment *query_env,
                          DestReceiver *dest, QueryCompletion *completion) {
  gate_utility(run_rest_of_utility_chain, statement, query, read_only_tree, context, params, query_env, dest,
               completion);
}

// The hooks that run for every query are hot (see self_protection.cpp).
// Self-protection: writes to pg_mpa's tables by anyone but pg_mpa, to the
// catalogs once governed.
pg_attribute_hot bool on_check_permissions(List *range_table, bool ereport_on_violation) {
  if (previous_check_perms && !previous_check_perms(range_table, ereport_on_violation)) return false;
  return check_table_writes(range_table, ereport_on_violation);
}

// Self-protection watches the calls of pg_mpa's own functions.
pg_attribute_hot bool on_needs_fmgr(Oid function) {
  return (previous_needs_fmgr && previous_needs_fmgr(function)) || is_pg_mpa_function(function);
}

// Per call (PostgreSQL keeps *private_state with the function's FmgrInfo):
// whether this call marked pg_mpa's code as running. A hook chained before
// ours (sepgsql) keeps its own state there too: then *private_state points
// to both, kept in the FmgrInfo's memory (made once, reused by later calls).
struct ChainedCallState {
  Datum previous;
  bool raised;
};

pg_noinline ChainedCallState *chained_state(FmgrInfo *flinfo, Datum *private_state) {
  if (*private_state == Datum(0))
    *private_state = PointerGetDatum(MemoryContextAllocZero(flinfo->fn_mcxt, sizeof(ChainedCallState)));
  return reinterpret_cast<ChainedCallState *>(DatumGetPointer(*private_state));
}

// Self-protection: an internal function called from outside pg_mpa
// (MP010); the trust of pg_mpa's own calls, raised while they run.
pg_attribute_hot void on_function_call(FmgrHookEventType event, FmgrInfo *flinfo, Datum *private_state) {
  ChainedCallState *chained = nullptr;
  if (previous_fmgr) {
    chained = chained_state(flinfo, private_state);
    previous_fmgr(event, flinfo, &chained->previous);
  }
  switch (event) {
    case FHET_START: {
      bool raised = pg_mpa_call_starts(flinfo->fn_oid);
      if (chained)
        chained->raised = raised;
      else
        *private_state = BoolGetDatum(raised);
      break;
    }
    case FHET_END:
    case FHET_ABORT:
      if (chained ? chained->raised : DatumGetBool(*private_state)) pg_mpa_call_ends();
      break;
  }
}

// Every function a query prepares, and every object created, dropped,
// truncated or altered, comes here: decided in a switch.
pg_attribute_hot void on_object_access(ObjectAccessType access, Oid class_id, Oid object_id, int sub_id,
                                       void *arg) {
  if (previous_object_access) previous_object_access(access, class_id, object_id, sub_id, arg);
  switch (access) {
    case OAT_FUNCTION_EXECUTE:
      // The gate: the functions that read the server's files, once governed.
      gate_server_file_function(object_id);
      return;
    case OAT_POST_CREATE:
      // Self-protection: nothing created reaches into pg_mpa.
      refuse_objects_reaching_into_pg_mpa(class_id, object_id, sub_id, arg);
      return;
    default:
      // Self-protection: pg_mpa's tables are not truncated.
      refuse_truncate_of_pg_mpa_tables(access, class_id, object_id);
      // The gate: protected objects dropped or truncated without being
      // named (CASCADE, DROP OWNED, a schema's drop), renamed or moved. What
      // pg_mpa's own code or an approved statement does was judged already.
      if (!trusted_code_is_running() && !approved_statement_is_running())
        gate_indirect_change(access, class_id, object_id, sub_id, arg);
      // Self-protection: pg_mpa's objects are not dropped or altered, and
      // no function is renamed to a look-alike of its own.
      protect_pg_mpa_objects(access, class_id, object_id, sub_id, arg);
      return;
  }
}

// Codes kept out of the server log, before any hook loaded earlier sees the line.
void on_emit_log(ErrorData *edata) {
  redact_codes(edata);
  if (previous_emit_log) previous_emit_log(edata);
}

}  // namespace

void install_hooks() {
  previous_shmem_request = shmem_request_hook;
  shmem_request_hook = on_shmem_request;
  previous_shmem_startup = shmem_startup_hook;
  shmem_startup_hook = on_shmem_startup;
  previous_process_utility = ProcessUtility_hook;
  ProcessUtility_hook = on_utility_statement;
  previous_check_perms = ExecutorCheckPerms_hook;
  ExecutorCheckPerms_hook = on_check_permissions;
  previous_needs_fmgr = needs_fmgr_hook;
  needs_fmgr_hook = on_needs_fmgr;
  previous_fmgr = fmgr_hook;
  fmgr_hook = on_function_call;
  previous_object_access = object_access_hook;
  object_access_hook = on_object_access;
  previous_emit_log = emit_log_hook;
  emit_log_hook = on_emit_log;
}

}  // namespace mpa::pg
