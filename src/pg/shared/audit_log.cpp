#include "pg/shared/audit_log.hpp"

#include <cstring>
#include <string>

#include "core/audit_chain.hpp"
#include "core/audit_export.hpp"
#include "pg/gate/statement_secrets.hpp"
#include "pg/shared/at_commit.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/shared/event_log.hpp"
#include "pg/shared/shared_state.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
}

namespace mpa::pg {
namespace {

struct JsonField {
  const char *name;
  const char *value;  // written as a JSON string; nullptr: JSON null
};

// {"name": "value", ...}, with `clipped` (if any) cut until the whole fits
// in a ring slot; multibyte characters are never split.
char *json_object(const JsonField *fields, int count, int clipped = -1) {
  int limit = kAuditDetailBytes;
  for (;;) {
    StringInfoData out;
    initStringInfo(&out);
    appendStringInfoChar(&out, '{');
    for (int i = 0; i < count; i++) {
      if (i > 0) appendStringInfoString(&out, ", ");
      escape_json(&out, fields[i].name);
      appendStringInfoString(&out, ": ");
      const char *value = fields[i].value;
      if (value == nullptr) {
        appendStringInfoString(&out, "null");
        continue;
      }
      if (i == clipped) {
        int length = static_cast<int>(strlen(value));
        value = pnstrdup(value, pg_mbcliplen(value, length, Min(length, limit)));
      }
      escape_json(&out, value);
    }
    appendStringInfoChar(&out, '}');
    if (out.len < kAuditDetailBytes || clipped < 0 || limit == 0) return out.data;
    limit /= 2;
  }
}

void push(const char *kind, int64 request_id, const char *detail) {
  log_event(kind, request_id, detail);  // now, in this session: the audit entry comes later, if at all
  SharedState *state = shared_state();
  if (state == nullptr) return;
  bool fits = strlen(detail) < kAuditDetailBytes;
  LWLockAcquire(state->audit_ring_lock, LW_EXCLUSIVE);
  if (state->audit_ring_count == kAuditRingSlots || !fits) {
    state->audit_ring_lost++;  // recorded as such by the worker
  } else {
    PendingAuditEntry &entry =
        state->audit_ring[(state->audit_ring_first + state->audit_ring_count) % kAuditRingSlots];
    entry.at = GetCurrentTimestamp();
    entry.request_id = request_id;
    entry.role = GetSessionUserId();
    entry.database = MyDatabaseId;
    strlcpy(entry.kind, kind, sizeof entry.kind);
    strlcpy(entry.detail, detail, sizeof entry.detail);
    state->audit_ring_count++;
  }
  LWLockRelease(state->audit_ring_lock);
  wake_mail_worker();  // now: this transaction will not commit
}

constexpr const char *kInsertSql =
    "INSERT INTO mpa.audit (kind, request_id, detail) VALUES ($1, $2, $3::jsonb)";

constexpr const char *kInsertPendingSql =
    "INSERT INTO mpa.audit (recorded_at, kind, request_id, actor, database, detail)"
    " VALUES ($1, $2, $3, coalesce((SELECT rolname FROM pg_roles WHERE oid = $4), 'role ' || $4),"
    "         coalesce((SELECT datname FROM pg_database WHERE oid = $5), 'database ' || $5), $6::jsonb)";

// Entries of the ring written to mpa.audit in the worker's transaction now
// under way: they leave the ring only once it committed
// (release_committed_audit), so a round that fails loses none.
int written_from_ring = 0;
uint64 lost_written = 0;

// Copies the waiting entries not written yet into `out`.
int peek_pending(PendingAuditEntry *out, uint64 *lost) {
  SharedState *state = shared_state();
  LWLockAcquire(state->audit_ring_lock, LW_SHARED);
  int count = state->audit_ring_count - written_from_ring;
  for (int i = 0; i < count; i++)
    out[i] = state->audit_ring[(state->audit_ring_first + written_from_ring + i) % kAuditRingSlots];
  *lost = state->audit_ring_lost - lost_written;
  LWLockRelease(state->audit_ring_lock);
  return count;
}

// Returns whether it wrote anything: rows the chain can take only in a
// later transaction, once these are committed.
bool write_pending() {
  static PendingAuditEntry taken[kAuditRingSlots];  // too large for the stack
  uint64 lost = 0;
  int count = peek_pending(taken, &lost);
  Oid types[6] = {TIMESTAMPTZOID, TEXTOID, INT8OID, OIDOID, OIDOID, TEXTOID};
  for (int i = 0; i < count; i++) {
    const PendingAuditEntry &entry = taken[i];
    Datum values[6] = {TimestampTzGetDatum(entry.at), CStringGetTextDatum(entry.kind),
                       Int64GetDatum(entry.request_id), ObjectIdGetDatum(entry.role),
                       ObjectIdGetDatum(entry.database), CStringGetTextDatum(entry.detail)};
    char nulls[6] = {' ', ' ', entry.request_id ? ' ' : 'n', ' ', ' ', ' '};
    if (SPI_execute_with_args(kInsertPendingSql, 6, types, values, nulls, false, 0) != SPI_OK_INSERT)
      elog(ERROR, "pg_mpa: cannot write an audit entry");
  }
  if (lost > 0) {
    char *detail = psprintf("{\"lost\": %llu}", static_cast<unsigned long long>(lost));
    Oid lost_types[3] = {TEXTOID, INT8OID, TEXTOID};
    Datum lost_values[3] = {CStringGetTextDatum("audit entries lost"), Int64GetDatum(0), CStringGetTextDatum(detail)};
    char lost_nulls[3] = {' ', 'n', ' '};
    if (SPI_execute_with_args(kInsertSql, 3, lost_types, lost_values, lost_nulls, false, 0) != SPI_OK_INSERT)
      elog(ERROR, "pg_mpa: cannot record lost audit entries");
  }
  written_from_ring += count;
  lost_written += lost;
  return count > 0 || lost > 0;
}

constexpr int kChainBatch = 5000;
constexpr const char *kHeadSql = "SELECT seq, hash FROM mpa.audit WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1";
constexpr const char *kChainSql = "UPDATE mpa.audit SET seq = $2, previous_hash = $3, hash = $4 WHERE id = $1";

// The chain's last entry: seq (0 when empty) and hash (palloc'd).
int64 read_head(char **hash) {
  if (SPI_execute(kHeadSql, true, 1) != SPI_OK_SELECT) elog(ERROR, "pg_mpa: cannot read the audit chain");
  *hash = pstrdup("");
  if (SPI_processed == 0) return 0;
  bool is_null;
  int64 seq = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null));
  char *stored = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
  if (stored != nullptr) *hash = stored;
  return seq;
}

// An entry as read from mpa.audit, in PostgreSQL memory (columns as in
// kEntryColumns); turned into a core entry only under run_cpp.
constexpr const char *kEntryColumns =
    "id, recorded_at, kind, coalesce(request_id, 0), actor, database, detail::text";
struct RawEntry {
  int64 id;
  TimestampTz recorded_at;
  int64 request_id;
  const char *kind;
  const char *actor;
  const char *database;
  const char *detail;
};

const char *text_or_empty(HeapTuple row, TupleDesc desc, int column) {
  char *value = SPI_getvalue(row, desc, column);
  return value ? value : "";
}

RawEntry read_entry(HeapTuple row, TupleDesc desc, int first_column) {
  bool is_null;
  return RawEntry{DatumGetInt64(SPI_getbinval(row, desc, first_column, &is_null)),
                  DatumGetTimestampTz(SPI_getbinval(row, desc, first_column + 1, &is_null)),
                  DatumGetInt64(SPI_getbinval(row, desc, first_column + 3, &is_null)),
                  text_or_empty(row, desc, first_column + 2),
                  text_or_empty(row, desc, first_column + 4),
                  text_or_empty(row, desc, first_column + 5),
                  text_or_empty(row, desc, first_column + 6)};
}

audit::Entry to_entry(const RawEntry &raw, int64 seq, const char *previous_hash) {
  return audit::Entry{seq, raw.id, raw.recorded_at, raw.kind, raw.request_id, raw.actor, raw.database,
                      raw.detail, previous_hash};
}

// C++ core behind a PostgreSQL-style call: the entry's hash, palloc'd.
char *hash_of(const RawEntry &raw, int64 seq, const char *previous_hash) {
  return run_cpp([&] {
    std::string hash = audit::entry_hash(to_entry(raw, seq, previous_hash));
    return call_postgres([&hash] { return pstrdup(hash.c_str()); });
  });
}

// Returns whether a full batch was chained (more may wait).
bool chain_committed_entries() {
  char *previous = nullptr;
  int64 seq = read_head(&previous);
  Oid batch_types[1] = {INT4OID};
  Datum batch_values[1] = {Int32GetDatum(kChainBatch)};
  char *unchained = psprintf("SELECT %s FROM mpa.audit WHERE seq IS NULL ORDER BY id LIMIT $1", kEntryColumns);
  if (SPI_execute_with_args(unchained, 1, batch_types, batch_values, nullptr, true, 0) != SPI_OK_SELECT)
    elog(ERROR, "pg_mpa: cannot read unchained audit entries");
  SPITupleTable *rows = SPI_tuptable;
  uint64 count = SPI_processed;
  if (count == 0) return false;
  Oid types[4] = {INT8OID, INT8OID, TEXTOID, TEXTOID};
  SPIPlanPtr plan = SPI_prepare(kChainSql, 4, types);
  if (plan == nullptr) elog(ERROR, "pg_mpa: cannot prepare the audit chaining");
  for (uint64 i = 0; i < count; i++) {
    RawEntry raw = read_entry(rows->vals[i], rows->tupdesc, 1);
    char *hash = hash_of(raw, ++seq, previous);
    Datum values[4] = {Int64GetDatum(raw.id), Int64GetDatum(seq), CStringGetTextDatum(previous),
                       CStringGetTextDatum(hash)};
    if (SPI_execute_plan(plan, values, nullptr, false, 0) != SPI_OK_UPDATE)
      elog(ERROR, "pg_mpa: cannot chain audit entry %lld", static_cast<long long>(raw.id));
    previous = hash;
  }
  return count == kChainBatch;
}

}  // namespace

void audit_in_transaction(const char *kind, int64 request_id, const char *detail) {
  Oid types[3] = {TEXTOID, INT8OID, TEXTOID};
  Datum values[3] = {CStringGetTextDatum(kind), Int64GetDatum(request_id), CStringGetTextDatum(detail)};
  char nulls[3] = {' ', request_id ? ' ' : 'n', ' '};
  SPI_connect();
  if (SPI_execute_with_args(kInsertSql, 3, types, values, nulls, false, 0) != SPI_OK_INSERT)
    elog(ERROR, "pg_mpa: cannot write an audit entry");
  SPI_finish();
  log_event(kind, request_id, detail);
  wake_mail_worker_at_commit();  // it chains the entry
}

void audit_configuration(const char *function, const char *call) {
  JsonField fields[2] = {{"function", function}, {"call", call}};
  audit_in_transaction("configuration", 0, json_object(fields, 2, 1));
}

void audit_refusal(const char *what, const char *team, const char *statement) {
  // Every role reads mpa.audit: passwords the statement gives are masked
  // (or, for a text that no longer parses, the statement is left out).
  statement = text_without_secrets(statement);
  JsonField fields[3] = {{"refused", what}, {"team", team}, {"statement", statement}};
  push("refused", 0, json_object(fields, 3, statement ? 2 : -1));
}

void audit_dry_run(int64 policy_id, const char *operation, const char *pattern, const char *team,
                   const char *target, const char *statement) {
  // Masked as a refused statement's is: every role reads mpa.audit.
  statement = text_without_secrets(statement);
  char *policy = psprintf("%lld", static_cast<long long>(policy_id));
  JsonField fields[6] = {{"policy", policy}, {"operation", operation}, {"pattern", pattern},
                         {"team", team},     {"target", target},       {"statement", statement}};
  push("dry-run", 0, json_object(fields, 6, statement ? 5 : -1));
}

void audit_code_try(int64 challenge_id, int64 request_id, const char *outcome) {
  char *challenge = psprintf("%lld", static_cast<long long>(challenge_id));
  JsonField fields[2] = {{"challenge", challenge}, {"outcome", outcome}};
  push("code tried", request_id, json_object(fields, 2));
}

void audit_execution_failed(int64 request_id, const char *database, const char *error) {
  JsonField fields[2] = {{"database", database}, {"error", error}};
  push("execution failed", request_id, json_object(fields, 2, 1));
}

void release_committed_audit() {
  if (written_from_ring == 0 && lost_written == 0) return;
  SharedState *state = shared_state();
  LWLockAcquire(state->audit_ring_lock, LW_EXCLUSIVE);
  state->audit_ring_first = (state->audit_ring_first + written_from_ring) % kAuditRingSlots;
  state->audit_ring_count -= written_from_ring;
  state->audit_ring_lost -= lost_written;
  LWLockRelease(state->audit_ring_lock);
  written_from_ring = 0;
  lost_written = 0;
}

bool write_and_chain_audit() {
  // The chain reads committed rows: what this round wrote waits for the next.
  bool written = write_pending();
  bool full_batch = chain_committed_entries();
  return written || full_batch;
}

const char *audit_head_line() {
  char *hash = nullptr;
  int64 seq = read_head(&hash);
  if (seq == 0) return nullptr;
  return psprintf("entry %lld, SHA-256 %s", static_cast<long long>(seq), hash);
}

}  // namespace mpa::pg

// mpa.audit(kind, request_id, detail): an event of this transaction.
MPA_FUNCTION(mpa_audit_event) {
  if (PG_ARGISNULL(0) || PG_ARGISNULL(2))
    throw mpa::Error(mpa::sqlstate::kNullValueNotAllowed, "kind and detail must not be NULL");
  mpa::pg::call_postgres([fcinfo] {
    mpa::pg::audit_in_transaction(text_to_cstring(PG_GETARG_TEXT_PP(0)), PG_ARGISNULL(1) ? 0 : PG_GETARG_INT64(1),
                                  JsonbToCString(nullptr, &PG_GETARG_JSONB_P(2)->root, -1));
  });
  PG_RETURN_VOID();
}

namespace {

struct Verdict {
  bool intact = true;
  int64 broken_seq = 0;
  int64 broken_id = 0;
  std::string reason;
};

// A chained entry as stored: its seq, then kEntryColumns, then its hashes.
struct StoredEntry {
  int64 seq;
  mpa::pg::RawEntry raw;
  const char *previous_hash;
  const char *hash;
};

constexpr int kWalkBatch = 10000;

// Walks the chained entries with from_seq <= seq <= to_seq in chain order,
// kWalkBatch at a time, and calls visit(stored) for each until it returns
// false. The entries' text lives until the next batch. SPI connected.
template <typename Visit>
void walk_chain(int64 from_seq, int64 to_seq, Visit visit) {
  using namespace mpa::pg;
  MemoryContext batch = call_postgres([from_seq, to_seq] {
    char *walk = psprintf("SELECT seq, %s, coalesce(previous_hash, ''), coalesce(hash, '')"
                          "  FROM mpa.audit WHERE seq BETWEEN $1 AND $2 ORDER BY seq", kEntryColumns);
    Oid types[2] = {INT8OID, INT8OID};
    SPIPlanPtr plan = SPI_prepare(walk, 2, types);
    if (plan == nullptr) elog(ERROR, "pg_mpa: cannot read mpa.audit");
    Datum values[2] = {Int64GetDatum(from_seq), Int64GetDatum(to_seq)};
    SPI_cursor_open("mpa_audit_walk", plan, values, nullptr, true);
    return AllocSetContextCreate(CurrentMemoryContext, "pg_mpa audit walk", ALLOCSET_DEFAULT_SIZES);
  });
  for (bool more = true; more;) {
    uint64 count = call_postgres([batch] {
      MemoryContextReset(batch);
      SPI_cursor_fetch(SPI_cursor_find("mpa_audit_walk"), true, kWalkBatch);
      return SPI_processed;
    });
    if (count == 0) break;
    for (uint64 i = 0; i < count && more; i++) {
      StoredEntry stored = call_postgres([i, batch] {
        MemoryContext caller = MemoryContextSwitchTo(batch);
        HeapTuple row = SPI_tuptable->vals[i];
        TupleDesc desc = SPI_tuptable->tupdesc;
        bool is_null;
        StoredEntry read{DatumGetInt64(SPI_getbinval(row, desc, 1, &is_null)), read_entry(row, desc, 2),
                         text_or_empty(row, desc, 9), text_or_empty(row, desc, 10)};
        MemoryContextSwitchTo(caller);
        return read;
      });
      more = visit(stored);
    }
    call_postgres([] { SPI_freetuptable(SPI_tuptable); });
  }
  call_postgres([batch] {
    SPI_cursor_close(SPI_cursor_find("mpa_audit_walk"));
    MemoryContextDelete(batch);
  });
}

}  // namespace

// mpa_audit_verify(): walks the chain in order and reports the first entry
// that breaks it, the chain's length and the entries not chained yet.
MPA_FUNCTION(mpa_audit_verify) {
  using namespace mpa::pg;
  mpa::audit::ChainVerifier verifier;
  Verdict verdict;
  call_postgres([] { SPI_connect(); });
  walk_chain(1, PG_INT64_MAX, [&](const StoredEntry &stored) {
    if (auto broken = verifier.check(to_entry(stored.raw, stored.seq, stored.previous_hash), stored.hash))
      verdict = Verdict{false, stored.seq, stored.raw.id, *broken};
    return verdict.intact;
  });
  int64 unchained = call_postgres([] {
    if (SPI_execute("SELECT count(*) FROM mpa.audit WHERE seq IS NULL", true, 1) != SPI_OK_SELECT)
      elog(ERROR, "pg_mpa: cannot count unchained audit entries");
    bool is_null;
    int64 n = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null));
    SPI_finish();
    return n;
  });
  int64 checked = verifier.checked();
  const char *reason = verdict.reason.c_str();
  HeapTuple tuple = call_postgres([&] {
    TupleDesc desc;
    if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
      elog(ERROR, "mpa_audit_verify must return a record");
    Datum values[6] = {BoolGetDatum(verdict.intact), Int64GetDatum(checked), Int64GetDatum(verdict.broken_seq),
                       Int64GetDatum(verdict.broken_id), CStringGetTextDatum(reason), Int64GetDatum(unchained)};
    bool nulls[6] = {false, false, verdict.intact, verdict.intact, verdict.intact, false};
    return heap_form_tuple(BlessTupleDesc(desc), values, nulls);
  });
  return HeapTupleGetDatum(tuple);
}

// mpa_audit_export(from_seq, to_seq): the chained entries from_seq..to_seq
// (to the end when to_seq is NULL), one line each in the form
// tools/mpa_audit_check reads (core/audit_export.hpp), in chain order.
MPA_FUNCTION(mpa_audit_export) {
  using namespace mpa::pg;
  if (PG_ARGISNULL(0))
    throw mpa::Error(mpa::sqlstate::kNullValueNotAllowed, "from_seq must not be NULL",
                     "The chain starts at entry 1; to continue an earlier export, start after its last entry.");
  int64 from_seq = PG_GETARG_INT64(0);
  int64 to_seq = PG_ARGISNULL(1) ? PG_INT64_MAX : PG_GETARG_INT64(1);
  if (from_seq < 1) throw mpa::Error(mpa::sqlstate::kInvalidParameterValue, "from_seq must be at least 1");
  if (to_seq < from_seq)
    throw mpa::Error(mpa::sqlstate::kInvalidParameterValue, "to_seq must not be below from_seq");
  ReturnSetInfo *result = call_postgres([fcinfo] {
    InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
    SPI_connect();
    return reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
  });
  walk_chain(from_seq, to_seq, [result](const StoredEntry &stored) {
    std::string line = mpa::audit::export_line(to_entry(stored.raw, stored.seq, stored.previous_hash), stored.hash);
    call_postgres([result, &line] {
      Datum value = PointerGetDatum(cstring_to_text_with_len(line.data(), static_cast<int>(line.size())));
      bool is_null = false;
      tuplestore_putvalues(result->setResult, result->setDesc, &value, &is_null);
      pfree(DatumGetPointer(value));
    });
    return true;
  });
  call_postgres([] { SPI_finish(); });
  return static_cast<Datum>(0);
}
