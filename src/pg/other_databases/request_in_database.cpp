// A request for another database's objects (docs/decisions.md, "Every
// database", "Requests for another database"): mpa_request(...,
// database => 'billing') runs in mpa.database, but the statement's names,
// its targets' OIDs, the team by billing's policies and what a drop there
// also removes exist only in billing. The describe task runs there, in a
// worker connected as the requester (so it sees what the requester would
// see), the same code mpa.describe runs at home (describe_request, then
// the cascade of statement_cascade), and sends the result back; the
// request is recorded at home with the database's name and OID.
//
// Here rather than in gate/: nothing of the gate's path, only what
// mpa_request needs of another database.
#include <cstring>
#include <string>

#include "pg/approval/request_description.hpp"
#include "pg/boundary/arguments.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/sqlstates.hpp"
#include "pg/gate/policy_cache.hpp"
#include "pg/gate/statement_cascade.hpp"
#include "pg/other_databases/database_task.hpp"
#include "pg/other_databases/task_message.hpp"
#include "pg/protection/configuration.hpp"
#include "pg/startup/settings.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/xact.h"
#include "commands/dbcommands.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "parser/parser.h"
#include "catalog/pg_type_d.h"
#include "utils/array.h"
#include "utils/builtins.h"
}

namespace {

using mpa::pg::get_text;
using mpa::pg::send_text;

// Roles, databases, tablespaces, ALTER SYSTEM and pg_mpa's configuration
// hold in every database: requested without database, run in mpa.database.
[[noreturn]] void refuse_database_for(const char *operation) {
  ereport(ERROR, errcode(ERRCODE_INVALID_PARAMETER_VALUE),
          errmsg("%s holds in every database: it is requested without database", operation),
          errhint("Leave database out: it runs in database \"%s\".", mpa::pg::settings::database));
}

}  // namespace

// In the database the request is for, as the requester: input statement,
// search_path; output the database's name, then what mpa.describe returns,
// then the cascade (count, then class, OID, description of each), then the
// HINT naming the dry-run policies here that name a statement no enforcing
// policy protects (NULL otherwise: with a team, or when none names it).
MPA_DATABASE_TASK(mpa_describe_task)(StringInfo input, StringInfo output) {
  // It only reads catalogs: nothing of the statement runs here.
  XactReadOnly = true;
  const char *statement = get_text(input);
  const char *search_path = get_text(input);
  mpa::pg::RequestDescription d = mpa::pg::describe_request(statement, search_path);
  const char *database = get_database_name(MyDatabaseId);
  if (mpa::pg::policy_holds_in_every_database(d.statement.operation)) refuse_database_for(d.statement.operation);
  // The gate here refuses every statement of this operation while a policy
  // on it may be missing from shared memory: no team can be named for it.
  if (d.team == nullptr && mpa::pg::policy_may_be_missing(d.statement.operation))
    ereport(ERROR, errcode(mpa::pg::sqlstates::kRequestState),
            errmsg("%s cannot be requested for database \"%s\": a policy on it may be missing there",
                   d.statement.operation, database),
            errdetail("More policies reach databases other than mpa.database than pg_mpa's shared memory holds."));
  mpa::pg::StatementCascade cascade = mpa::pg::statement_cascade(d.statement);
  send_text(output, database);
  send_text(output, d.statement.operation);
  send_text(output, d.object);
  send_text(output, d.team);
  send_text(output, d.statement.fingerprint);
  send_text(output, d.statement.revoke_statement);
  pq_sendint32(output, static_cast<uint32>(d.statement.target_count));
  for (int i = 0; i < d.statement.target_count; i++) {
    pq_sendint32(output, d.statement.targets[i].class_id);
    pq_sendint32(output, d.statement.targets[i].object_id);
  }
  pq_sendint32(output, static_cast<uint32>(cascade.count));
  for (int i = 0; i < cascade.count; i++) {
    pq_sendint32(output, cascade.classes[i]);
    pq_sendint32(output, cascade.objects[i]);
    send_text(output, cascade.descriptions[i]);
  }
  // Only here are billing's policies (its copy from shared memory): the
  // hint is built as at home, by the one function, and only on the path
  // where mpa_request answers MP002.
  send_text(output, d.team == nullptr ? mpa::pg::dry_run_hint(d.statement) : nullptr);
}

// mpa.describe_in_database(statement, search_path, database, OUT operation,
//   OUT object, OUT target_classes, OUT target_oids, OUT fingerprint,
//   OUT team, OUT revoke_statement, OUT database_name, OUT database_oid,
//   OUT cascade_classes, OUT cascade_oids, OUT cascade_descriptions,
//   OUT dry_run_hint)
// `database` is a name mpa.request_database returned. The task runs as the
// session user (the requester: SET ROLE changes nothing, as everywhere in
// requests); the database's name and OID are those it connected to.
MPA_FUNCTION(mpa_describe_in_database) {
  constexpr std::size_t kMaxStatementBytes = 64 * 1024;
  std::string statement = mpa::pg::text_argument(fcinfo, 0, "statement", kMaxStatementBytes);
  std::string search_path = mpa::pg::text_argument(fcinfo, 1, "search_path", kMaxStatementBytes);
  std::string database = mpa::pg::text_argument(fcinfo, 2, "database", NAMEDATALEN);
  return mpa::pg::call_postgres([&] {
    // A call of pg_mpa's configuration functions is known as one only here,
    // where they exist (another database would see a SELECT).
    List *statements = raw_parser(statement.c_str(), RAW_PARSE_DEFAULT);
    if (list_length(statements) == 1 && mpa::pg::configuration_call(linitial_node(RawStmt, statements), statement.c_str()))
      refuse_database_for(mpa::pg::kConfigureOperation);
    Oid database_oid = get_database_oid(database.c_str(), false);
    StringInfo input = makeStringInfo();
    send_text(input, statement.c_str());
    send_text(input, search_path.c_str());
    StringInfo output = mpa::pg::run_in_database(
        "mpa_describe_task", psprintf("describe the statement in database \"%s\"", database.c_str()), database_oid,
        GetSessionUserId(), input);
    const char *connected_to = get_text(output);
    mpa::pg::RequestDescription d{};
    d.statement.operation = get_text(output);
    d.object = get_text(output);
    d.team = get_text(output);
    d.statement.fingerprint = get_text(output);
    d.statement.revoke_statement = get_text(output);
    d.statement.target_count = static_cast<int>(pq_getmsgint(output, 4));
    d.statement.targets =
        static_cast<mpa::pg::StatementTarget *>(palloc0(sizeof(mpa::pg::StatementTarget) * (d.statement.target_count + 1)));
    for (int i = 0; i < d.statement.target_count; i++) {
      d.statement.targets[i].class_id = pq_getmsgint(output, 4);
      d.statement.targets[i].object_id = pq_getmsgint(output, 4);
    }
    int cascade_count = static_cast<int>(pq_getmsgint(output, 4));
    Oid *cascade_classes = static_cast<Oid *>(palloc(sizeof(Oid) * (cascade_count + 1)));
    Oid *cascade_oids = static_cast<Oid *>(palloc(sizeof(Oid) * (cascade_count + 1)));
    Datum *descriptions = static_cast<Datum *>(palloc(sizeof(Datum) * (cascade_count + 1)));
    bool *description_nulls = static_cast<bool *>(palloc(sizeof(bool) * (cascade_count + 1)));
    for (int i = 0; i < cascade_count; i++) {
      cascade_classes[i] = pq_getmsgint(output, 4);
      cascade_oids[i] = pq_getmsgint(output, 4);
      const char *description = get_text(output);
      description_nulls[i] = description == nullptr;
      descriptions[i] = description != nullptr ? CStringGetTextDatum(description) : Datum(0);
    }
    const char *hint = get_text(output);
    pq_getmsgend(output);

    TupleDesc desc;
    if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
      elog(ERROR, "mpa.describe_in_database must return a record");
    constexpr int kColumns = mpa::pg::kDescriptionColumns + 6;
    Datum values[kColumns];
    bool nulls[kColumns] = {};
    mpa::pg::description_columns(d, values, nulls);
    int dims[1] = {cascade_count};
    int lower_bounds[1] = {1};
    values[mpa::pg::kDescriptionColumns] = CStringGetTextDatum(connected_to);
    values[mpa::pg::kDescriptionColumns + 1] = ObjectIdGetDatum(database_oid);
    values[mpa::pg::kDescriptionColumns + 2] = mpa::pg::oid_array_datum(cascade_classes, cascade_count);
    values[mpa::pg::kDescriptionColumns + 3] = mpa::pg::oid_array_datum(cascade_oids, cascade_count);
    values[mpa::pg::kDescriptionColumns + 4] = PointerGetDatum(construct_md_array(
        descriptions, description_nulls, cascade_count > 0 ? 1 : 0, dims, lower_bounds, TEXTOID, -1, false, TYPALIGN_INT));
    values[mpa::pg::kDescriptionColumns + 5] = hint != nullptr ? CStringGetTextDatum(hint) : Datum(0);
    nulls[mpa::pg::kDescriptionColumns + 5] = hint == nullptr;
    return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls));
  });
}
