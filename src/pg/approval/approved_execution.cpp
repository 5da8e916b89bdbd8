// mpa.run_approved_statement(statement, search_path): the last step of
// mpa_execute for a statement (configuration calls have their own runner).
// The statement runs as the caller, with the search_path the caller had
// when calling mpa_execute, and without pg_mpa's trust: the gate sees it as
// if typed, recognises the approval and spends it.
//
// mpa.run_approved_statement_elsewhere(request_id, search_path): the same
// for a request for another database (docs/decisions.md, "Execution exactly
// once"): a task worker connected there as the requester runs it the same
// way, so that database's gate claims the approval in mpa.database as for
// a statement typed there; its error is raised again here.
#include "pg/boundary/guard.hpp"
#include "pg/boundary/internal_sql.hpp"
#include "pg/boundary/sqlstates.hpp"
#include "pg/other_databases/database_task.hpp"
#include "pg/other_databases/task_message.hpp"
#include "pg/protection/self_protection.hpp"
#include "pg/shared/audit_log.hpp"

extern "C" {
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
}

namespace mpa::pg {
namespace {

// Runs `statement` as if the session typed it with `search_path`.
// PostgreSQL-style.
void run_as_typed(const char *statement, const char *search_path) {
  int nest_level = NewGUCNestLevel();
  set_config_option("search_path", search_path, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
  auto run = [](void *text) {
    SPI_connect();
    if (SPI_execute(static_cast<const char *>(text), false, 0) < 0)
      elog(ERROR, "pg_mpa: the approved statement did not run");
    SPI_finish();
  };
  without_trust(run, const_cast<char *>(statement));
  AtEOXact_GUC(true, nest_level);
}

struct ElsewhereRequest {
  int64 id;
  Oid database_oid;
  const char *database;
  Oid requester;
  const char *statement;
};

constexpr const char *kElsewhereRequestSql =
    "SELECT database_oid, database, requester::oid, statement FROM mpa.requests"
    " WHERE id = $1 AND state = 'approved' AND database_oid IS NOT NULL";

// Committed there: the request is resolved at once where this transaction
// sees the claim (READ COMMITTED; else the worker does, woken by that
// commit). Locked as the worker locks it: one of the two resolves it.
constexpr const char *kResolveSql =
    "SELECT mpa.end_execution(r) FROM mpa.requests r"
    " WHERE r.id = (SELECT id FROM mpa.requests WHERE id = $1 AND state = 'executing' FOR UPDATE)";

// The approved request for another database, read with pg_mpa's
// privileges; mpa.execute_request checked its state and its requester.
ElsewhereRequest read_request(int64 id) {
  ElsewhereRequest request{id, InvalidOid, nullptr, InvalidOid, nullptr};
  MemoryContext caller = CurrentMemoryContext;
  auto body = [&request, caller] {
    Oid types[1] = {INT8OID};
    Datum values[1] = {Int64GetDatum(request.id)};
    SPI_connect();
    if (SPI_execute_with_args(kElsewhereRequestSql, 1, types, values, nullptr, true, 1) != SPI_OK_SELECT)
      elog(ERROR, "pg_mpa: cannot read request %lld", static_cast<long long>(request.id));
    if (SPI_processed == 1) {
      HeapTuple row = SPI_tuptable->vals[0];
      TupleDesc shape = SPI_tuptable->tupdesc;
      bool is_null;
      MemoryContext spi = MemoryContextSwitchTo(caller);
      request.database_oid = DatumGetObjectId(SPI_getbinval(row, shape, 1, &is_null));
      request.database = SPI_getvalue(row, shape, 2);
      request.requester = DatumGetObjectId(SPI_getbinval(row, shape, 3, &is_null));
      request.statement = SPI_getvalue(row, shape, 4);
      MemoryContextSwitchTo(spi);
    }
    SPI_finish();
  };
  with_pg_mpa_privileges(body);
  if (request.statement == nullptr)
    ereport(ERROR, errcode(sqlstates::kRequestState),
            errmsg("request %lld is not an approved request for another database", static_cast<long long>(id)));
  if (request.requester != GetSessionUserId())
    ereport(ERROR, errcode(sqlstates::kNotYours),
            errmsg("only the requester may execute request %lld", static_cast<long long>(id)));
  return request;
}

void run_elsewhere(int64 id, const char *search_path) {
  ElsewhereRequest request = read_request(id);
  StringInfoData input;
  initStringInfo(&input);
  send_text(&input, request.statement);
  send_text(&input, search_path);
  MemoryContext caller = CurrentMemoryContext;
  PG_TRY();
  {
    run_in_database("mpa_execute_task",
                    psprintf("run request %lld in database \"%s\"", static_cast<long long>(id), request.database),
                    request.database_oid, request.requester, &input);
  }
  PG_CATCH();
  {
    // The failure is recorded though this transaction rolls back with it;
    // the claim (if the gate there made one) ended with that database's
    // transaction: the request is approved again.
    MemoryContextSwitchTo(caller);
    ErrorData *error = CopyErrorData();
    FlushErrorState();
    audit_execution_failed(id, request.database,
                           psprintf("%s: %s", unpack_sql_state(error->sqlerrcode), error->message));
    ReThrowError(error);
  }
  PG_END_TRY();
  auto resolve = [id] {
    Oid types[1] = {INT8OID};
    Datum values[1] = {Int64GetDatum(id)};
    SPI_connect();
    if (SPI_execute_with_args(kResolveSql, 1, types, values, nullptr, false, 0) != SPI_OK_SELECT)
      elog(ERROR, "pg_mpa: cannot record the execution of request %lld", static_cast<long long>(id));
    SPI_finish();
  };
  with_pg_mpa_privileges(resolve);
}

}  // namespace
}  // namespace mpa::pg

MPA_FUNCTION(mpa_run_approved_statement) {
  if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
    throw mpa::Error(mpa::sqlstate::kNullValueNotAllowed, "statement and search_path must not be NULL");
  mpa::pg::call_postgres([fcinfo] {
    mpa::pg::run_as_typed(text_to_cstring(PG_GETARG_TEXT_PP(0)), text_to_cstring(PG_GETARG_TEXT_PP(1)));
  });
  PG_RETURN_VOID();
}

MPA_FUNCTION(mpa_run_approved_statement_elsewhere) {
  if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
    throw mpa::Error(mpa::sqlstate::kNullValueNotAllowed, "request_id and search_path must not be NULL");
  mpa::pg::call_postgres(
      [fcinfo] { mpa::pg::run_elsewhere(PG_GETARG_INT64(0), text_to_cstring(PG_GETARG_TEXT_PP(1))); });
  PG_RETURN_VOID();
}

// In the request's database, as the requester: the approved statement, as
// mpa_execute runs it at home.
MPA_DATABASE_TASK(mpa_execute_task)(StringInfo input, StringInfo) {
  const char *statement = mpa::pg::get_text(input);
  const char *search_path = mpa::pg::get_text(input);
  if (statement == nullptr || search_path == nullptr) elog(ERROR, "pg_mpa: an approved statement without its text");
  mpa::pg::run_as_typed(statement, search_path);
}
