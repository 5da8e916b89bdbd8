#include "pg/other_databases/execution_claim.hpp"

#include "pg/boundary/internal_sql.hpp"
#include "pg/gate/statement_cascade.hpp"
#include "pg/other_databases/database_task.hpp"
#include "pg/other_databases/task_message.hpp"
#include "pg/shared/at_commit.hpp"
#include "pg/startup/installation.hpp"
#include "pg/startup/settings.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/transam.h"
#include "catalog/pg_authid.h"
#include "access/xact.h"
#include "catalog/pg_type_d.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/syscache.h"
#include "utils/xid8.h"
}

namespace mpa::pg {
namespace {

struct ObjectList {
  int count;
  Oid *classes;
  Oid *objects;
  const char **descriptions;  // nullptr: none sent
};

void send_objects(StringInfo buffer, int count, const Oid *classes, const Oid *objects, const char **descriptions) {
  pq_sendint32(buffer, count);
  for (int i = 0; i < count; i++) {
    pq_sendint32(buffer, classes[i]);
    pq_sendint32(buffer, objects[i]);
    send_text(buffer, descriptions != nullptr ? descriptions[i] : nullptr);
  }
}

ObjectList get_objects(StringInfo buffer) {
  ObjectList list;
  list.count = static_cast<int>(pq_getmsgint(buffer, 4));
  if (list.count < 0 || list.count > buffer->len) elog(ERROR, "pg_mpa: a claim with a bad object count");
  list.classes = static_cast<Oid *>(palloc(sizeof(Oid) * (list.count + 1)));
  list.objects = static_cast<Oid *>(palloc(sizeof(Oid) * (list.count + 1)));
  list.descriptions = static_cast<const char **>(palloc(sizeof(char *) * (list.count + 1)));
  for (int i = 0; i < list.count; i++) {
    list.classes[i] = pq_getmsgint(buffer, 4);
    list.objects[i] = pq_getmsgint(buffer, 4);
    list.descriptions[i] = get_text(buffer);
  }
  return list;
}

ArrayType *oid_array(const Oid *values, int count) {
  Datum *datums = static_cast<Datum *>(palloc(sizeof(Datum) * (count + 1)));
  for (int i = 0; i < count; i++) datums[i] = ObjectIdGetDatum(values[i]);
  return construct_array(datums, count, OIDOID, sizeof(Oid), true, TYPALIGN_INT);
}

// An oid[] or text[] column of the claim's answer, as C arrays (NULL: none).
int array_items(HeapTuple row, TupleDesc shape, int column, Oid type, Datum **items, bool **nulls) {
  bool is_null;
  Datum value = SPI_getbinval(row, shape, column, &is_null);
  if (is_null) return 0;
  int count;
  if (type == OIDOID)
    deconstruct_array(DatumGetArrayTypeP(value), OIDOID, sizeof(Oid), true, TYPALIGN_INT, items, nulls, &count);
  else
    deconstruct_array(DatumGetArrayTypeP(value), TEXTOID, -1, false, TYPALIGN_INT, items, nulls, &count);
  return count;
}

constexpr const char *kClaimSql =
    "SELECT outcome, request_id, holder, approved_classes, approved_oids, approved_descriptions"
    "  FROM mpa.claim_execution($1, $2, $3, $4, $5, $6, $7, $8, $9)";

// In mpa.database: runs mpa.claim_execution with pg_mpa's privileges and
// writes its answer to `output`.
void claim_here(StringInfo input, StringInfo output) {
  Oid database = pq_getmsgint(input, 4);
  const char *database_name = get_text(input);
  Oid requester = pq_getmsgint(input, 4);
  const char *fingerprint = get_text(input);
  ObjectList targets = get_objects(input);
  ObjectList cascade = get_objects(input);
  FullTransactionId xid = FullTransactionIdFromU64(static_cast<uint64>(pq_getmsgint64(input)));
  pq_getmsgend(input);
  // 0.1's objects: no request for another database exists.
  if (!sql_objects_are_current() || fingerprint == nullptr || database_name == nullptr) {
    send_text(output, "none");
    return;
  }
  // The claim is durable before the statement runs, whatever the
  // requester's synchronous_commit says (docs/decisions.md, "Execution
  // exactly once"). Local to this transaction: it ends with the task.
  set_config_option("synchronous_commit", "on", PGC_SUSET, PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);
  struct {
    Datum values[9];
    StringInfo output;
  } claim{{ObjectIdGetDatum(database), CStringGetTextDatum(database_name), ObjectIdGetDatum(requester), CStringGetTextDatum(fingerprint),
           PointerGetDatum(oid_array(targets.classes, targets.count)),
           PointerGetDatum(oid_array(targets.objects, targets.count)),
           PointerGetDatum(oid_array(cascade.classes, cascade.count)),
           PointerGetDatum(oid_array(cascade.objects, cascade.count)), FullTransactionIdGetDatum(xid)},
          output};
  MemoryContext caller = CurrentMemoryContext;
  auto body = [&claim, caller] {
    Oid types[9] = {OIDOID,      TEXTOID,     REGROLEOID,  TEXTOID, OIDARRAYOID,
                    OIDARRAYOID, OIDARRAYOID, OIDARRAYOID, XID8OID};
    SPI_connect();
    if (SPI_execute_with_args(kClaimSql, 9, types, claim.values, nullptr, false, 1) != SPI_OK_SELECT ||
        SPI_processed != 1)
      elog(ERROR, "pg_mpa: cannot claim an approval");
    HeapTuple row = SPI_tuptable->vals[0];
    TupleDesc shape = SPI_tuptable->tupdesc;
    MemoryContext spi = MemoryContextSwitchTo(caller);
    bool is_null;
    send_text(claim.output, SPI_getvalue(row, shape, 1));
    Datum id = SPI_getbinval(row, shape, 2, &is_null);
    pq_sendint64(claim.output, is_null ? 0 : DatumGetInt64(id));
    Datum holder = SPI_getbinval(row, shape, 3, &is_null);
    pq_sendint64(claim.output, is_null ? 0 : U64FromFullTransactionId(DatumGetFullTransactionId(holder)));
    Datum *classes, *objects, *descriptions;
    bool *class_nulls, *object_nulls, *description_nulls;
    int count = array_items(row, shape, 4, OIDOID, &classes, &class_nulls);
    if (array_items(row, shape, 5, OIDOID, &objects, &object_nulls) != count) count = 0;
    bool described = array_items(row, shape, 6, TEXTOID, &descriptions, &description_nulls) == count;
    pq_sendint32(claim.output, count);
    for (int i = 0; i < count; i++) {
      pq_sendint32(claim.output, DatumGetObjectId(classes[i]));
      pq_sendint32(claim.output, DatumGetObjectId(objects[i]));
      send_text(claim.output,
                described && !description_nulls[i] ? TextDatumGetCString(descriptions[i]) : nullptr);
    }
    MemoryContextSwitchTo(spi);
    SPI_finish();
  };
  with_pg_mpa_privileges(body);
}

// Appends to `out` (", "-separated) each object of `from` that is not in
// `other`: its description, or `fallback` (with its OID and class) when it
// has none.
void append_absent(StringInfo out, int count, const Oid *classes, const Oid *objects, const char *const *descriptions,
                   int other_count, const Oid *other_classes, const Oid *other_objects, const char *fallback) {
  for (int i = 0; i < count; i++) {
    bool present = false;
    for (int j = 0; j < other_count && !present; j++)
      present = other_classes[j] == classes[i] && other_objects[j] == objects[i];
    if (present) continue;
    appendStringInfo(out, "%s%s", out->len > 0 ? ", " : "",
                     descriptions[i] != nullptr ? descriptions[i] : psprintf(fallback, objects[i], classes[i]));
  }
}

// How the statement's cascade here differs from what approvers were shown
// (the request's, described in this database when it was requested): what
// it now also reaches, then what it no longer reaches, as the gate in
// mpa.database says it (mpa.cascade_difference).
const char *describe_difference(const char *operation, const StatementCascade &now, const ObjectList &approved) {
  const char *verb = strncmp(operation, "TRUNCATE", 8) == 0 ? "empties" : "removes";
  StringInfoData added, gone;
  initStringInfo(&added);
  initStringInfo(&gone);
  append_absent(&added, now.count, now.classes, now.objects, now.descriptions, approved.count, approved.classes,
                approved.objects, "object %u of class %u");
  append_absent(&gone, approved.count, approved.classes, approved.objects, approved.descriptions, now.count,
                now.classes, now.objects, "object %u of class %u (gone)");
  if (added.len == 0) return psprintf("no longer %s %s", verb, gone.data);
  if (gone.len == 0) return psprintf("now also %s %s", verb, added.data);
  return psprintf("now also %s %s; no longer %s %s", verb, added.data, verb, gone.data);
}

// Whether `role` may log in and connect to mpa.database, as the claim's
// worker does. One that may not has no approval to claim there (it makes
// its requests there); asked anyway, run_in_database would refuse it with
// its own 42501 in place of the gate's refusal and its HINT.
bool may_claim_at_home(Oid home, Oid role) {
  HeapTuple tuple = SearchSysCache1(AUTHOID, ObjectIdGetDatum(role));
  if (!HeapTupleIsValid(tuple)) return false;
  bool can_login = reinterpret_cast<Form_pg_authid>(GETSTRUCT(tuple))->rolcanlogin;
  ReleaseSysCache(tuple);
  return can_login && (superuser_arg(role) || pg_database_aclcheck(home, role, ACL_CONNECT) == ACLCHECK_OK);
}

}  // namespace

ElsewhereSpend claim_approval_elsewhere(const StatementDescription &description) {
  Oid home = get_database_oid(settings::database, false);
  if (!may_claim_at_home(home, GetSessionUserId())) return {false, 0, nullptr};
  StatementCascade cascade = statement_cascade(description);
  Oid *classes = static_cast<Oid *>(palloc(sizeof(Oid) * (description.target_count + 1)));
  Oid *objects = static_cast<Oid *>(palloc(sizeof(Oid) * (description.target_count + 1)));
  for (int i = 0; i < description.target_count; i++) {
    classes[i] = description.targets[i].class_id;
    objects[i] = description.targets[i].object_id;
  }
  // The id of the (sub)transaction the statement runs in, taken before the
  // claim: the claim's own transaction, later, gets a later id, and a
  // rolled-back savepoint counts as not run.
  FullTransactionId xid = GetCurrentFullTransactionId();
  for (;;) {
    StringInfoData input;
    initStringInfo(&input);
    pq_sendint32(&input, MyDatabaseId);
    send_text(&input, get_database_name(MyDatabaseId));
    pq_sendint32(&input, GetSessionUserId());
    send_text(&input, description.fingerprint);
    send_objects(&input, description.target_count, classes, objects, nullptr);
    send_objects(&input, cascade.count, cascade.classes, cascade.objects, nullptr);
    pq_sendint64(&input, U64FromFullTransactionId(xid));
    StringInfo output = run_in_database("mpa_claim_task", "claim an approval in mpa.database", home,
                                        GetSessionUserId(), &input);
    const char *outcome = get_text(output);
    int64 request_id = pq_getmsgint64(output);
    TransactionId holder = XidFromFullTransactionId(FullTransactionIdFromU64(pq_getmsgint64(output)));
    ObjectList approved = get_objects(output);
    if (outcome == nullptr) elog(ERROR, "pg_mpa: the claim of an approval gave no answer");
    if (strcmp(outcome, "claimed") == 0) {
      resolve_execution_at_transaction_end();
      return {true, request_id, nullptr};
    }
    if (strcmp(outcome, "cascade changed") == 0)
      return {false, request_id, describe_difference(description.operation, cascade, approved)};
    // Held by this very transaction (an earlier statement of it spent the
    // approval): spent, as at home.
    if (strcmp(outcome, "held") != 0 || TransactionIdIsCurrentTransactionId(holder)) return {false, 0, nullptr};
    // Another transaction runs it: its end decides (committed: spent;
    // aborted: ours to claim).
    XactLockTableWait(holder, nullptr, nullptr, XLTW_None);
  }
}

}  // namespace mpa::pg

MPA_DATABASE_TASK(mpa_claim_task)(StringInfo input, StringInfo output) { mpa::pg::claim_here(input, output); }
