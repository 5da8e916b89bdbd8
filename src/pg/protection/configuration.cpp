#include "pg/protection/configuration.hpp"

#include <cstring>

#include "pg/boundary/refusal.hpp"
#include "pg/shared/audit_log.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/internal_sql.hpp"
#include "pg/gate/policy_cache.hpp"
#include "pg/boundary/sqlstates.hpp"
#include "pg/gate/statement_description.hpp"

#include "pg/startup/installation.hpp"
#include "pg/protection/self_protection.hpp"

extern "C" {
#include "access/genam.h"
#include "access/table.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_proc_d.h"
#include "catalog/pg_type_d.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "parser/analyze.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/plancache.h"
}

namespace mpa::pg {
namespace {

constexpr const char *kConfigurationFunctions[] = {
    "mpa_team_create", "mpa_approver_add", "mpa_approver_remove", "mpa_approver_set_email",
    "mpa_team_set_threshold", "mpa_protect", "mpa_unprotect", "mpa_team_drop",
    // Break-glass (docs/decisions.md, "Policy modes"): a team that can
    // approve past the regular quorum is declared, changed and removed only
    // with the governing team's approval.
    "mpa_break_glass_team", "mpa_break_glass_team_drop",
};

// The request being run by mpa.execute_configuration, 0 when none;
// kRehearsal while mpa.rehearse_configuration tries a call out.
constexpr int64 kRehearsal = -1;
int64 executing_request = 0;


// Loads an approved configuration request of the session role and marks it
// executed (in this transaction); returns its statement, or nullptr.
// The row is locked (and checked again once locked) by the subquery, before
// mpa.mark_executed runs: two sessions cannot both spend it.
constexpr const char *kSpendSql =
    "SELECT r.statement, mpa.mark_executed(r) FROM mpa.requests r"
    " WHERE r.id = (SELECT id FROM mpa.requests"
    "                WHERE id = $1 AND state = 'approved' AND operation = 'MPA CONFIGURE'"
    "                  AND requester = $2 AND expires_at > statement_timestamp() FOR UPDATE)"
    "   AND r.state = 'approved'";

char *spend_configuration_request(int64 request_id) {
  struct Spend {
    int64 request_id;
    char *statement;
  } spend{request_id, nullptr};
  MemoryContext caller = CurrentMemoryContext;
  auto body = [&spend, caller] {
    Oid types[2] = {INT8OID, OIDOID};
    Datum values[2] = {Int64GetDatum(spend.request_id), ObjectIdGetDatum(GetSessionUserId())};
    SPI_connect();
    if (SPI_execute_with_args(kSpendSql, 2, types, values, nullptr, false, 1) != SPI_OK_SELECT)
      elog(ERROR, "pg_mpa: cannot read configuration request");
    if (SPI_processed == 1) {
      MemoryContext spi = MemoryContextSwitchTo(caller);
      spend.statement = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
      MemoryContextSwitchTo(spi);
    }
    SPI_finish();
  };
  with_pg_mpa_privileges(body);
  return spend.statement;
}

// The schema CREATE EXTENSION put pg_mpa's public functions in.
const char *public_schema_name() {
  Relation extensions = table_open(ExtensionRelationId, AccessShareLock);
  ScanKeyData key;
  ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
              ObjectIdGetDatum(pg_mpa_extension_oid()));
  SysScanDesc scan = systable_beginscan(extensions, ExtensionOidIndexId, true, nullptr, 1, &key);
  HeapTuple tuple = systable_getnext(scan);
  Oid schema = HeapTupleIsValid(tuple) ? reinterpret_cast<Form_pg_extension>(GETSTRUCT(tuple))->extnamespace
                                       : InvalidOid;
  systable_endscan(scan);
  table_close(extensions, AccessShareLock);
  const char *name = OidIsValid(schema) ? get_namespace_name(schema) : nullptr;
  if (name == nullptr) elog(ERROR, "pg_mpa: its schema is gone");
  return name;
}

// Configuration calls are resolved the way pg_mpa resolves them, whatever
// the caller's search_path: pg_catalog first, then pg_mpa's own schema.
// Restores the path when the GUC nest level returned is closed.
int pin_configuration_search_path() {
  int nest_level = NewGUCNestLevel();
  set_config_option("search_path", psprintf("pg_catalog, %s", quote_identifier(public_schema_name())), PGC_USERSET,
                    PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
  return nest_level;
}

bool is_configuration_function(Oid function) {
  if (!is_pg_mpa_object(ProcedureRelationId, function)) return false;
  const char *name = get_func_name(function);
  for (const char *configuration : kConfigurationFunctions)
    if (name != nullptr && std::strcmp(configuration, name) == 0) return true;
  return false;
}

// A plain value: a constant, possibly cast implicitly to the parameter's
// type (int to bigint) by a built-in function, or named (name => value).
// Nothing else is evaluated inside pg_mpa, built-in or not: a built-in can
// run a query string (query_to_xml) or read a setting into an error text.
bool is_plain_value(Node *node) {
  if (IsA(node, NamedArgExpr)) node = reinterpret_cast<Node *>(castNode(NamedArgExpr, node)->arg);
  if (IsA(node, RelabelType)) node = reinterpret_cast<Node *>(castNode(RelabelType, node)->arg);
  if (IsA(node, FuncExpr)) {
    auto *cast = castNode(FuncExpr, node);
    if (cast->funcformat != COERCE_IMPLICIT_CAST || cast->funcid >= FirstNormalObjectId ||
        list_length(cast->args) != 1)
      return false;
    node = static_cast<Node *>(linitial(cast->args));
  }
  return IsA(node, Const) && castNode(Const, node)->consttype < FirstNormalObjectId;
}

// The configuration function the analysed query calls, or InvalidOid when
// it is not exactly one of pg_mpa's configuration functions (by OID) over
// plain values.
Oid configuration_function_of(Query *query) {
  if (query->commandType != CMD_SELECT || list_length(query->targetList) != 1 || query->rtable != NIL ||
      query->jointree->quals != nullptr || query->hasAggs || query->hasWindowFuncs || query->hasTargetSRFs ||
      query->hasSubLinks || query->cteList != NIL || query->setOperations != nullptr ||
      query->groupClause != NIL || query->havingQual != nullptr || query->sortClause != NIL ||
      query->distinctClause != NIL || query->limitCount != nullptr || query->limitOffset != nullptr ||
      query->rowMarks != NIL)
    return InvalidOid;
  Node *expression = reinterpret_cast<Node *>(linitial_node(TargetEntry, query->targetList)->expr);
  if (!IsA(expression, FuncExpr)) return InvalidOid;
  auto *call = castNode(FuncExpr, expression);
  if (!is_configuration_function(call->funcid)) return InvalidOid;
  ListCell *cell;
  foreach (cell, call->args)
    if (!is_plain_value(static_cast<Node *>(lfirst(cell)))) return InvalidOid;
  return call->funcid;
}

// Runs the approved call, resolved as above and checked again by OID, as
// the caller, with configuration unlocked only for its duration.
void run_configuration_request(int64 request_id, const char *statement) {
  executing_request = request_id;
  PG_TRY();
  {
    int nest_level = pin_configuration_search_path();
    SPI_connect();
    SPIPlanPtr plan = SPI_prepare(statement, 0, nullptr);
    List *sources = plan ? SPI_plan_get_plan_sources(plan) : NIL;
    auto *source = list_length(sources) == 1 ? linitial_node(CachedPlanSource, sources) : nullptr;
    if (source == nullptr || list_length(source->query_list) != 1 ||
        !OidIsValid(configuration_function_of(linitial_node(Query, source->query_list))))
      ereport(ERROR, (errcode(mpa::pg::sqlstates::kRequestState),
                      errmsg("request %lld does not call one of pg_mpa's configuration functions",
                             static_cast<long long>(request_id))));
    if (SPI_execute_plan(plan, nullptr, nullptr, false, 0) != SPI_OK_SELECT)
      elog(ERROR, "pg_mpa: configuration request %lld did not run", static_cast<long long>(request_id));
    SPI_finish();
    AtEOXact_GUC(true, nest_level);
  }
  PG_FINALLY();
  {
    executing_request = 0;
  }
  PG_END_TRY();
}

// Only "SELECT f(...)" is analysed: anything else is no configuration call,
// and a request for it is judged as the statement it is.
bool looks_like_a_call(Node *statement) {
  if (!IsA(statement, SelectStmt)) return false;
  auto *select = castNode(SelectStmt, statement);
  return select->fromClause == NIL && select->valuesLists == NIL && select->op == SETOP_NONE &&
         list_length(select->targetList) == 1 &&
         IsA(castNode(ResTarget, linitial(select->targetList))->val, FuncCall);
}

// The transaction in which governance began: the one whose mpa_protect
// made the first policy on MPA CONFIGURE while none existed (secure by
// default, or named). Governance starts when it commits; until then its
// set-up goes on. No later transaction can be it: a transaction id is
// never reused while this backend lives, and none but the first policy
// sets it.
TransactionId governance_began_in = InvalidTransactionId;

bool governance_begins_in_this_transaction() {
  return TransactionIdIsValid(governance_began_in) && governance_began_in == GetTopTransactionIdIfAny();
}

}  // namespace

const char *configuration_call(RawStmt *raw, const char *text) {
  if (!looks_like_a_call(raw->stmt) || !OidIsValid(pg_mpa_extension_oid())) return nullptr;
  int nest_level = pin_configuration_search_path();
  Query *query = parse_analyze_fixedparams(raw, text, nullptr, 0, nullptr);
  Oid function = configuration_function_of(query);
  AtEOXact_GUC(true, nest_level);
  return OidIsValid(function) ? get_func_name(function) : nullptr;
}

}  // namespace mpa::pg

// mpa.execute_configuration(request_id): runs an approved MPA CONFIGURE
// request of the session role, once.
MPA_FUNCTION(mpa_execute_configuration) {
  if (PG_ARGISNULL(0)) throw mpa::Error(mpa::sqlstate::kNullValueNotAllowed, "request_id must not be NULL");
  int64 request_id = PG_GETARG_INT64(0);
  mpa::pg::call_postgres([request_id] {
    char *statement = mpa::pg::spend_configuration_request(request_id);
    if (statement == nullptr)
      ereport(ERROR, (errcode(mpa::pg::sqlstates::kRequestState),
                      errmsg("request %lld is not an approved configuration change of yours",
                             static_cast<long long>(request_id))));
    mpa::pg::run_configuration_request(request_id, statement);
  });
  PG_RETURN_VOID();
}

// mpa.authorize_configuration(function, call): lets a configuration change
// through when no team governs it, or while its approved request runs;
// otherwise refuses it like the gate refuses a protected statement.
MPA_FUNCTION(mpa_authorize_configuration) {
  if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
    throw mpa::Error(mpa::sqlstate::kNullValueNotAllowed, "function and call must not be NULL");
  const char *function = mpa::pg::call_postgres([fcinfo] { return text_to_cstring(PG_GETARG_TEXT_PP(0)); });
  const char *call = mpa::pg::call_postgres([fcinfo] { return text_to_cstring(PG_GETARG_TEXT_PP(1)); });
  if (mpa::pg::executing_request != 0) {
    mpa::pg::call_postgres([function, call] { mpa::pg::audit_configuration(function, call); });
    PG_RETURN_VOID();
  }
  mpa::pg::call_postgres([function, call] {
    mpa::pg::StatementTarget target{InvalidOid, InvalidOid, "", function};
    mpa::pg::StatementDescription description{mpa::pg::kConfigureOperation, 1, &target, "", nullptr, false};
    int index = -1;
    const char *team = mpa::pg::governing_team(description, &index);
    if (team == nullptr || mpa::pg::governance_begins_in_this_transaction()) {
      mpa::pg::audit_configuration(function, call);
      return;
    }
    mpa::pg::refuse({function, team,
                     psprintf("%s is a configuration change that requires the approval of team \"%s\"", function,
                              team),
                     "Once a team governs pg_mpa, changes to teams, approvers and policies go through a request "
                     "like any protected statement.",
                     psprintf("Ask for approval with: SELECT mpa_request(%s, 'why this is needed'); once approved, "
                              "run it with mpa_execute(<request id>).",
                              quote_literal_cstr(call)),
                     mpa::pg::sqlstates::kApprovalRequired, call});
  });
  PG_RETURN_VOID();
}

namespace mpa::pg {
bool rehearsing_configuration() { return executing_request == kRehearsal; }
}  // namespace mpa::pg

// mpa.rehearse_configuration(statement): runs a requested configuration
// call as if approved, then raises MPR00 so that the caller's exception
// block rolls it all back. A call that could not run (unknown team or role,
// bad address, ...) fails here, and its request is refused before anyone
// votes on it.
MPA_FUNCTION(mpa_rehearse_configuration) {
  if (PG_ARGISNULL(0)) throw mpa::Error(mpa::sqlstate::kNullValueNotAllowed, "statement must not be NULL");
  const char *statement = mpa::pg::call_postgres([fcinfo] { return text_to_cstring(PG_GETARG_TEXT_PP(0)); });
  mpa::pg::call_postgres([statement] {
    mpa::pg::run_configuration_request(mpa::pg::kRehearsal, statement);
    ereport(ERROR, (errcode(mpa::pg::sqlstates::kRehearsalOver), errmsg("pg_mpa: rehearsal over")));
  });
  PG_RETURN_VOID();
}

// mpa.governance_begins(): said by mpa_protect when it made the first policy
// on MPA CONFIGURE (after checking that none existed).
MPA_FUNCTION(mpa_governance_begins) {
  (void)fcinfo;
  mpa::pg::call_postgres([] {
    mpa::pg::refuse_governance_beside_unsafe_code();
    mpa::pg::governance_began_in = GetTopTransactionId();
  });
  PG_RETURN_VOID();
}
