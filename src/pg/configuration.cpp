#include "pg/configuration.hpp"

#include <cstring>

#include "pg/audit_log.hpp"
#include "pg/guard.hpp"
#include "pg/internal_sql.hpp"
#include "pg/policy_cache.hpp"
#include "pg/statement_description.hpp"

extern "C" {
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "utils/builtins.h"
}

namespace mpa::pg {
namespace {

constexpr const char *kConfigurationFunctions[] = {
    "mpa_team_create", "mpa_approver_add", "mpa_approver_remove", "mpa_approver_set_email",
    "mpa_team_set_threshold", "mpa_protect", "mpa_unprotect",
};

// The request being run by mpa.execute_configuration, 0 when none;
// kRehearsal while mpa.rehearse_configuration tries a call out.
constexpr int64 kRehearsal = -1;
int64 executing_request = 0;

// Raised at the end of a rehearsal to roll it back (caught by create_request).
constexpr int kRehearsalOver = MAKE_SQLSTATE('M', 'P', 'R', '0', '0');

bool is_constant(Node *argument) {
  if (IsA(argument, TypeCast)) argument = castNode(TypeCast, argument)->arg;
  return IsA(argument, A_Const);
}

// Loads an approved configuration request of the session role and marks it
// executed (in this transaction); returns its statement, or nullptr.
constexpr const char *kSpendSql =
    "WITH spent AS ("
    "  UPDATE mpa.requests SET state = 'executed', executed_at = now()"
    "   WHERE id = $1 AND state = 'approved' AND operation = 'MPA CONFIGURE'"
    "     AND requester = $2 AND expires_at > statement_timestamp()"
    "  RETURNING id, statement),"
    " audited AS ("
    "  INSERT INTO mpa.audit (kind, request_id, detail)"
    "  SELECT 'executed', id, jsonb_build_object('statement', statement) FROM spent)"
    " SELECT statement, pg_notify('mpa_events', json_build_object('request_id', id, 'kind', 'statement',"
    "                                                             'state', 'executed')::text)"
    "   FROM spent";

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

// Runs the approved call as the caller, with configuration unlocked only
// for its duration.
void run_configuration_request(int64 request_id, const char *statement) {
  executing_request = request_id;
  PG_TRY();
  {
    SPI_connect();
    if (SPI_execute(statement, false, 0) != SPI_OK_SELECT)
      elog(ERROR, "pg_mpa: configuration request %lld did not run", static_cast<long long>(request_id));
    SPI_finish();
  }
  PG_FINALLY();
  {
    executing_request = 0;
  }
  PG_END_TRY();
}

}  // namespace

const char *configuration_call(Node *statement) {
  if (!IsA(statement, SelectStmt)) return nullptr;
  auto *select = castNode(SelectStmt, statement);
  if (select->fromClause || select->whereClause || select->groupClause || select->havingClause ||
      select->windowClause || select->valuesLists || select->sortClause || select->limitCount ||
      select->limitOffset || select->lockingClause || select->withClause || select->distinctClause ||
      select->op != SETOP_NONE || list_length(select->targetList) != 1)
    return nullptr;
  Node *value = castNode(ResTarget, linitial(select->targetList))->val;
  if (!IsA(value, FuncCall)) return nullptr;
  auto *call = castNode(FuncCall, value);
  if (call->agg_order || call->agg_filter || call->over || call->agg_star || call->agg_distinct ||
      call->func_variadic || list_length(call->funcname) > 2)
    return nullptr;
  ListCell *cell;
  foreach (cell, call->args)
    if (!is_constant(lfirst_node(Node, cell))) return nullptr;
  const char *name = strVal(llast(call->funcname));
  for (const char *function : kConfigurationFunctions)
    if (std::strcmp(function, name) == 0) return function;
  return nullptr;
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
      ereport(ERROR, (errcode(MAKE_SQLSTATE('M', 'P', '0', '0', '4')),
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
    mpa::pg::call_postgres([call] { mpa::pg::audit_configuration(call); });
    PG_RETURN_VOID();
  }
  mpa::pg::call_postgres([function, call] {
    mpa::pg::StatementTarget target{InvalidOid, InvalidOid, "", function};
    mpa::pg::StatementDescription description{mpa::pg::kConfigureOperation, 1, &target, "", nullptr, false};
    int index = -1;
    const char *team = mpa::pg::governing_team(description, &index);
    if (team == nullptr) {
      mpa::pg::audit_configuration(call);
      return;
    }
    mpa::pg::audit_refusal(function, team, call);
    ereport(ERROR, (errcode(MAKE_SQLSTATE('M', 'P', '0', '0', '1')),
                    errmsg("%s is a configuration change that requires the approval of team \"%s\"",
                           function, team),
                    errdetail("Once a team governs pg_mpa, changes to teams, approvers and policies "
                              "go through a request like any protected statement."),
                    errhint("Ask for approval with: SELECT mpa_request(%s, 'why this is needed'); "
                            "once approved, run it with mpa_execute(<request id>).",
                            quote_literal_cstr(call))));
  });
  PG_RETURN_VOID();
}

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
    ereport(ERROR, (errcode(mpa::pg::kRehearsalOver), errmsg("pg_mpa: rehearsal over")));
  });
  PG_RETURN_VOID();
}
