// The mail worker's loop. PostgreSQL-style code: it owns no C++ objects, so an
// error anywhere simply ends the worker, and the postmaster starts a new one
// (which first takes back the rows its predecessor held).
//
// Each round: claim due rows in one transaction (SKIP LOCKED, with a lease),
// commit; send them with no transaction open (mail_delivery); record every
// verdict in a second transaction. A crash between send and record re-sends
// with the same Message-ID: at-least-once, never lost.
#include "pg/worker/mail_worker.hpp"

#include <cstring>

#include "pg/shared/audit_log.hpp"
#include "pg/worker/housekeeping.hpp"
#include "pg/mail/mail_delivery.hpp"
#include "pg/boundary/postgres.hpp"
#include "pg/protection/restore_window.hpp"
#include "pg/protection/self_protection.hpp"
#include "pg/startup/installation.hpp"
#include "pg/startup/settings.hpp"
#include "pg/shared/shared_state.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_extension_d.h"
#include "catalog/pg_type_d.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

PGDLLEXPORT void mpa_mail_worker_main(Datum);
}

namespace mpa::pg {
namespace {

constexpr int kBatchSize = 200;
constexpr long kIdleWaitMs = 60 * 1000;         // the longest sleep: timers are re-read then
constexpr long kNoExtensionWaitMs = 10 * 1000;  // CREATE EXTENSION also wakes us
constexpr const char *kLease = "10 minutes";    // a crashed worker's rows come back after this

// Rows held by a crashed predecessor (there is only one worker) and rows
// whose lease ran out go back to the queue; mail past its expiry is dropped.
constexpr const char *kReclaimSql =
    "UPDATE mpa.outbox SET status = 'pending', lease_until = NULL"
    " WHERE id IN (SELECT id FROM mpa.outbox WHERE status = 'sending' AND ($1 OR lease_until < now())"
    "                 FOR UPDATE SKIP LOCKED)";
constexpr const char *kExpireSql =
    "UPDATE mpa.outbox SET status = 'expired'"
    " WHERE id IN (SELECT id FROM mpa.outbox WHERE status = 'pending' AND expires_at <= now()"
    "                 FOR UPDATE SKIP LOCKED)";
// A code mail whose challenge is no longer open (used, replaced, expired)
// would carry a dead code: it is superseded instead of sent.
constexpr const char *kSupersedeDeadCodesSql =
    "UPDATE mpa.outbox SET status = 'superseded'"
    " WHERE id IN (SELECT o.id FROM mpa.outbox o JOIN mpa.challenges c ON c.id = o.challenge_id"
    "               WHERE o.status = 'pending' AND c.state <> 'open' FOR UPDATE OF o SKIP LOCKED)";
// A code mail whose code was made by a key this server does not have
// (queued before a restart, or on the old primary before a failover) would
// carry a code that cannot be checked here: it is superseded instead of
// sent (rendered with this server's key it would be a code that no check
// accepts), and the approver is told to ask for a new one, since they wait
// for a code that will not come.
constexpr const char *kSupersedeKeyGoneSql =
    "WITH gone AS ("
    "  UPDATE mpa.outbox SET status = 'superseded',"
    "         last_error = 'its code was made by a code key this server does not have (restart or failover)'"
    "   WHERE id IN (SELECT o.id FROM mpa.outbox o JOIN mpa.challenges c ON c.id = o.challenge_id"
    "                 WHERE o.status = 'pending' AND c.state = 'open' AND c.key_id IS DISTINCT FROM $1"
    "                 FOR UPDATE OF o SKIP LOCKED)"
    "  RETURNING challenge_id)"
    " SELECT mpa.tell_code_notice(challenge_id, 'key gone') FROM gone";
// Claims due rows with, for code mails, what binds their code. Code mails
// come first: a code lives minutes, and a flood of requests (any login can
// make them) must not make it wait behind their mail. A code mail of
// another key ($3) is never claimed: kSupersedeKeyGoneSql deals with it.
// %s: that condition; 0.1's SQL objects have no key ids (codes_carry_key_ids).
// Second %s: the request the mail is about and the other database it is
// for (0.1's SQL objects record neither: kNoRequestColumns).
constexpr const char *kClaimSqlFormat =
    "UPDATE mpa.outbox o SET status = 'sending', attempts = o.attempts + 1,"
    "       lease_until = now() + $2::interval"
    "  FROM (SELECT m.id, c.id AS challenge_id, c.request_id, c.fingerprint, c.approver::oid,"
    "               c.decision, c.nonce"
    "          FROM mpa.outbox m"
    "          LEFT JOIN mpa.challenge_bindings c ON c.id = m.challenge_id"
    "         WHERE m.status = 'pending' AND m.next_attempt_at <= now() AND m.expires_at > now()"
    "           AND %s"
    "         ORDER BY m.challenge_id IS NULL, m.next_attempt_at, m.id LIMIT $1 FOR UPDATE OF m SKIP LOCKED) due"
    " WHERE o.id = due.id"
    " RETURNING o.id, o.recipient, o.subject, o.body, o.message_id,"
    "           extract(epoch FROM o.expires_at)::float8, o.attempts,"
    "           due.challenge_id, due.request_id, due.fingerprint, due.approver, due.decision, due.nonce,"
    "           o.kind, mpa.mask_email(o.recipient), %s";
constexpr const char *kRequestColumns =
    "o.request_id, (SELECT r.database FROM mpa.requests r WHERE r.id = o.request_id)";
constexpr const char *kNoRequestColumns = "NULL::bigint, NULL::text";
constexpr const char *kNextDueSql =
    "SELECT (extract(epoch FROM min(next_attempt_at) - now()) * 1000)::float8"
    "  FROM mpa.outbox WHERE status = 'pending'";
// Only rows still held by us are updated: a row superseded meanwhile stays
// so. None of the worker's statements waits for a row another transaction
// holds (a vote or resend left open must not stall all mail): such rows are
// skipped and dealt with in a later round (a result not recorded because of
// it ends as a re-send after the lease: at-least-once).
// Final outcomes (sent, dead-lettered, expired unsent) are audited.
constexpr const char *kRecordSql =
    "WITH recorded AS ("
    "  UPDATE mpa.outbox SET status = $2, lease_until = NULL, last_error = $4,"
    "         sent_at = CASE WHEN $2 = 'sent' THEN now() END,"
    "         next_attempt_at = CASE WHEN $2 = 'pending'"
    "                                THEN now() + make_interval(secs => $3 / 1000.0)"
    "                                ELSE next_attempt_at END"
    "   WHERE id IN (SELECT id FROM mpa.outbox WHERE id = $1 AND status = 'sending'"
    "                   FOR UPDATE SKIP LOCKED)"
    "  RETURNING id, kind, recipient, status, attempts, last_error)"
    " INSERT INTO mpa.audit (kind, actor, detail)"
    " SELECT 'mail ' || status, 'pg_mpa mail worker',"
    "        jsonb_build_object('mail', id, 'kind', kind, 'to', mpa.mask_email(recipient), 'attempts', attempts,"
    "                           'error', last_error)"
    "   FROM recorded WHERE status <> 'pending'";

MemoryContext batch_context = nullptr;

void begin_transaction(const char *activity) {
  SetCurrentStatementStartTimestamp();
  StartTransactionCommand();
  SPI_connect();
  PushActiveSnapshot(GetTransactionSnapshot());
  pgstat_report_activity(STATE_RUNNING, activity);
}

// Holds pg_mpa's extension in share mode for the rest of the transaction,
// before any of its tables is touched: DROP EXTENSION and ALTER EXTENSION
// lock the extension exclusively before its objects, so they wait for the
// worker's transaction instead of deadlocking with it (the worker reaching
// a table the DROP already holds while the DROP waits for one the worker
// holds). False when pg_mpa is not installed (any more).
bool hold_extension() {
  Oid extension = get_extension_oid("pg_mpa", true);
  if (!OidIsValid(extension)) return false;
  LockDatabaseObject(ExtensionRelationId, extension, 0, AccessShareLock);
  // It may have been dropped while we waited for the lock.
  return get_extension_oid("pg_mpa", true) == extension;
}

// After a package upgrade and restart, this library runs with the SQL
// objects of the version before until ALTER EXTENSION pg_mpa UPDATE runs
// (docs/operations.md, "Upgrading"). It works with them (docs/decisions.md,
// "Upgrades"), and says so in the server log, once per worker: with a team
// governing pg_mpa the update is a request its approvers must know of.
void tell_version_mismatch() {
  static bool checked = false;
  if (checked) return;
  checked = true;
  const char *installed = installed_sql_version();
  if (installed == nullptr || strcmp(installed, kLibraryVersion) == 0) return;
  ereport(WARNING,
          (errmsg("pg_mpa's SQL objects are version %s, its library version %s", installed, kLibraryVersion),
           errhint("Run ALTER EXTENSION pg_mpa UPDATE in database \"%s\" (once a team governs pg_mpa, request "
                   "it with mpa_request() first).",
                   settings::database)));
}

void commit_transaction() {
  SPI_finish();
  PopActiveSnapshot();
  CommitTransactionCommand();
  // Only now may what the round wrote leave shared memory.
  release_committed_audit();
  housekeeping_committed();
  pgstat_report_stat(false);
  pgstat_report_activity(STATE_IDLE, nullptr);
}

void execute(const char *sql, int nargs, Oid *types, Datum *values, int expected) {
  int rc = SPI_execute_with_args(sql, nargs, types, values, nullptr, false, 0);
  if (rc != expected) elog(ERROR, "pg_mpa mail worker: query failed (%d): %s", rc, sql);
}

// Whether codes record the key that made them (mpa.challenges.key_id): not
// with 0.1's SQL objects, which the library runs with between a package
// upgrade's restart and ALTER EXTENSION pg_mpa UPDATE. Codes are then
// rendered and claimed as 0.1 did, without that check: the update is
// approved with them.
bool codes_carry_key_ids() { return sql_objects_are_current(); }

void reclaim_and_expire(bool reclaim_all) {
  Oid types[1] = {BOOLOID};
  Datum values[1] = {BoolGetDatum(reclaim_all)};
  execute(kReclaimSql, 1, types, values, SPI_OK_UPDATE);
  execute(kExpireSql, 0, nullptr, nullptr, SPI_OK_UPDATE);
  execute(kSupersedeDeadCodesSql, 0, nullptr, nullptr, SPI_OK_UPDATE);
  Oid key_types[1] = {INT8OID};
  Datum key_values[1] = {Int64GetDatum(shared_state()->code_key_id)};
  if (codes_carry_key_ids()) execute(kSupersedeKeyGoneSql, 1, key_types, key_values, SPI_OK_SELECT);
}

// Claims due rows; copies them into batch_context, which outlives the
// transaction. Returns the number claimed.
int claim(MailJob **jobs) {
  Oid types[3] = {INT4OID, TEXTOID, INT8OID};
  Datum values[3] = {Int32GetDatum(kBatchSize), CStringGetTextDatum(kLease),
                     Int64GetDatum(shared_state()->code_key_id)};
  const char *claim_sql =
      psprintf(kClaimSqlFormat, codes_carry_key_ids() ? "(m.challenge_id IS NULL OR c.key_id = $3)" : "true",
               sql_objects_are_current() ? kRequestColumns : kNoRequestColumns);
  execute(claim_sql, 3, types, values, SPI_OK_UPDATE_RETURNING);

  int count = static_cast<int>(SPI_processed);
  MemoryContext caller = MemoryContextSwitchTo(batch_context);
  *jobs = static_cast<MailJob *>(palloc0(sizeof(MailJob) * (count > 0 ? count : 1)));
  for (int i = 0; i < count; i++) {
    HeapTuple row = SPI_tuptable->vals[i];
    TupleDesc desc = SPI_tuptable->tupdesc;
    bool is_null = false;
    MailJob &job = (*jobs)[i];
    job.id = DatumGetInt64(SPI_getbinval(row, desc, 1, &is_null));
    job.recipient = SPI_getvalue(row, desc, 2);
    job.subject = SPI_getvalue(row, desc, 3);
    job.body = SPI_getvalue(row, desc, 4);
    job.message_id = SPI_getvalue(row, desc, 5);
    job.kind = SPI_getvalue(row, desc, 14);
    job.masked_recipient = SPI_getvalue(row, desc, 15);
    job.expires_at = DatumGetFloat8(SPI_getbinval(row, desc, 6, &is_null));
    job.attempts = DatumGetInt32(SPI_getbinval(row, desc, 7, &is_null));
    Datum request_id = SPI_getbinval(row, desc, 16, &is_null);
    job.request_id = is_null ? 0 : DatumGetInt64(request_id);
    job.database = SPI_getvalue(row, desc, 17);  // nullptr for NULL
    Datum challenge_id = SPI_getbinval(row, desc, 8, &is_null);
    job.carries_code = !is_null;
    if (job.carries_code) {
      bytea *nonce = DatumGetByteaPCopy(SPI_getbinval(row, desc, 13, &is_null));
      job.challenge = ChallengeBinding{DatumGetInt64(challenge_id),
                                       DatumGetInt64(SPI_getbinval(row, desc, 9, &is_null)),
                                       SPI_getvalue(row, desc, 10),
                                       DatumGetObjectId(SPI_getbinval(row, desc, 11, &is_null)),
                                       SPI_getvalue(row, desc, 12),
                                       VARDATA_ANY(nonce),
                                       static_cast<int>(VARSIZE_ANY_EXHDR(nonce))};
    }
  }
  // Sent in this order too (UPDATE ... RETURNING keeps no order).
  MailJob *ordered = static_cast<MailJob *>(palloc0(sizeof(MailJob) * (count > 0 ? count : 1)));
  int next = 0;
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < count; i++)
      if ((*jobs)[i].carries_code == (pass == 0)) ordered[next++] = (*jobs)[i];
  *jobs = ordered;
  MemoryContextSwitchTo(caller);
  return count;
}

long milliseconds_until_next_due() {
  execute(kNextDueSql, 0, nullptr, nullptr, SPI_OK_SELECT);
  bool is_null = true;
  Datum due = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null);
  if (is_null) return kIdleWaitMs;
  double ms = DatumGetFloat8(due);
  if (ms < 0) return 0;
  return ms < kIdleWaitMs ? static_cast<long>(ms) : kIdleWaitMs;
}

const char *status_for(MailVerdict verdict) {
  switch (verdict) {
    case MailVerdict::Sent: return "sent";
    case MailVerdict::Retry: return "pending";
    case MailVerdict::Failed: return "failed";
    case MailVerdict::Expired: return "expired";
  }
  return "pending";
}

// A WARNING in the server log for each mail not sent this round, so that
// an SMTP outage or a refused password file shows where a DBA looks, not
// only in mpa.outbox.last_error: which mail, the recipient masked, the
// reason (libcurl's and the server's words; never the password) and what
// happens next. Expired mail was not tried and is not a failure.
void warn_failed_mail(const MailJob *jobs, int count) {
  // No transaction is open: what the messages need goes with the batch.
  MemoryContext caller = MemoryContextSwitchTo(batch_context);
  for (int i = 0; i < count; i++) {
    const MailJob &job = jobs[i];
    if (job.verdict != MailVerdict::Retry && job.verdict != MailVerdict::Failed) continue;
    const char *next = job.verdict == MailVerdict::Failed
                           ? "given up"
                           : psprintf("next attempt at %s",
                                      timestamptz_to_str(TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
                                                                                     job.retry_after_ms)));
    ereport(WARNING, (errmsg("pg_mpa mail worker: mail %lld (%s, to %s) not sent: %s; %s",
                             static_cast<long long>(job.id), job.kind, job.masked_recipient, job.error, next)));
  }
  MemoryContextSwitchTo(caller);
}

// Records the batch's results, then chains the audit (after sending, so
// that chaining never delays mail; the next round follows at once).
void record(const MailJob *jobs, int count) {
  begin_transaction("pg_mpa: recording mail results");
  if (!hold_extension()) elog(ERROR, "pg_mpa mail worker: pg_mpa was dropped while mail was being sent");
  SPIPlanPtr plan = nullptr;
  Oid types[4] = {INT8OID, TEXTOID, INT8OID, TEXTOID};
  plan = SPI_prepare(kRecordSql, 4, types);
  if (plan == nullptr) elog(ERROR, "pg_mpa mail worker: cannot prepare result update");
  for (int i = 0; i < count; i++) {
    const MailJob &job = jobs[i];
    Datum values[4] = {Int64GetDatum(job.id), CStringGetTextDatum(status_for(job.verdict)),
                       Int64GetDatum(job.retry_after_ms), CStringGetTextDatum(job.error)};
    char nulls[4] = {' ', ' ', ' ', job.error[0] ? ' ' : 'n'};
    if (SPI_execute_plan(plan, values, nulls, false, 0) != SPI_OK_INSERT)
      elog(ERROR, "pg_mpa mail worker: cannot record result of mail %lld",
           static_cast<long long>(job.id));
  }
  write_and_chain_audit();
  commit_transaction();
}

// One round; returns how long to sleep before the next (0: more is due now).
long deliver_due_mail(bool first_round) {
  MemoryContextReset(batch_context);
  begin_transaction("pg_mpa: claiming mail");
  if (!hold_extension()) {
    commit_transaction();
    return kNoExtensionWaitMs;
  }
  tell_version_mismatch();
  // A backup being restored: nothing of the worker's may take the ids and
  // the places in the audit chain that the restored rows bring. Woken when
  // the window closes, it records the restore before anything else (and
  // looks for one a crash left unrecorded when it starts).
  if (restore_window_open_anywhere()) {
    commit_transaction();
    return kIdleWaitMs;
  }
  // (0.1's SQL objects have no mpa.finish_restore, nor restores to finish:
  // a restore installs the current version.)
  if ((restore_window_closed_since_asked() || first_round) && sql_objects_are_current())
    execute("SELECT mpa.finish_restore()", 0, nullptr, nullptr, SPI_OK_SELECT);
  run_housekeeping();
  reclaim_and_expire(first_round);
  // Every mail carries the audit chain's head as it is when the batch is claimed.
  const char *head = audit_head_line();
  if (head != nullptr) head = MemoryContextStrdup(batch_context, head);
  MailJob *jobs = nullptr;
  int count = claim(&jobs);
  long sleep_ms = count == kBatchSize ? 0 : milliseconds_until_next_due();
  long deadline_ms = milliseconds_until_next_deadline();
  if (deadline_ms < sleep_ms) sleep_ms = deadline_ms;
  if (count == 0 && write_and_chain_audit()) sleep_ms = 0;
  commit_transaction();

  if (count == 0) return sleep_ms;
  pgstat_report_activity(STATE_RUNNING, "pg_mpa: sending mail");
  deliver_mail_batch(jobs, count, head);
  warn_failed_mail(jobs, count);
  record(jobs, count);
  // Retries just scheduled may be due before the old estimate.
  return 0;
}

void publish_latch(Latch *latch) {
  SharedState *state = shared_state();
  SpinLockAcquire(&state->mutex);
  state->worker_latch = latch;
  SpinLockRelease(&state->mutex);
}

void unpublish_latch(int, Datum) { publish_latch(nullptr); }

// True when the configuration was reloaded.
bool handle_interrupts() {
  CHECK_FOR_INTERRUPTS();
  if (!ConfigReloadPending) return false;
  ConfigReloadPending = false;
  ProcessConfigFile(PGC_SIGHUP);
  return true;
}

// Sleeps until someone wakes the worker for work or `sleep_ms` pass, and
// sleeps on through other wake-ups. Those are catch-up signals: PostgreSQL
// signals the session furthest behind in the shared invalidation queue,
// which on a busy DDL server is this idle worker. It does not catch up
// (ProcessCatchupInterrupt): it falls behind until PostgreSQL marks it for a
// cache reset, which its next transaction does at once, cheaply, as its
// caches are small. Catching up meant running every invalidation message of
// the server, 1.2 % of the instructions of the DDL benchmark (a round for
// each signal, before that, a fifth of a core). Out of line so that
// bench/instructions.py can count the instructions the worker spends here.
pg_noinline void sleep_until_work(long sleep_ms) {
  TimestampTz round_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), sleep_ms);
  for (;;) {
    long remaining_ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), round_at);
    if (remaining_ms <= 0) return;
    (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, remaining_ms, PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
    // A reload may move a deadline (mpa.reminder_before, mpa.grant_warning):
    // a new round plans the sleep again.
    if (handle_interrupts()) return;
    if (pg_atomic_read_u32(&shared_state()->worker_has_work) != 0) return;
  }
}

}  // namespace

void register_mail_worker() {
  BackgroundWorker worker;
  std::memset(&worker, 0, sizeof worker);
  worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  // Not on a standby: the outbox is read-only there. It starts at promotion.
  worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
  worker.bgw_restart_time = 1;
  strlcpy(worker.bgw_library_name, "pg_mpa", BGW_MAXLEN);
  strlcpy(worker.bgw_function_name, "mpa_mail_worker_main", BGW_MAXLEN);
  strlcpy(worker.bgw_name, "pg_mpa mail worker", BGW_MAXLEN);
  strlcpy(worker.bgw_type, "pg_mpa mail worker", BGW_MAXLEN);
  RegisterBackgroundWorker(&worker);
}

}  // namespace mpa::pg

void mpa_mail_worker_main(Datum) {
  using namespace mpa::pg;
  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  pqsignal(SIGTERM, die);  // handled at CHECK_FOR_INTERRUPTS, not inside libcurl
  BackgroundWorkerUnblockSignals();
  BackgroundWorkerInitializeConnection(settings::database, nullptr, 0);
  // pg_mpa's SQL runs in its own environment, whatever ALTER SYSTEM, ALTER
  // DATABASE or ALTER ROLE set: names resolve in pg_catalog only (a now()
  // or an = earlier on the path would run here, trusted), and pg_mpa's
  // triggers fire. PGC_S_OVERRIDE outranks every other source, reloads too.
  SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
  SetConfigOption("session_replication_role", "origin", PGC_SUSET, PGC_S_OVERRIDE);
  // Nor can a setting stall it: mail, expiries and the audit chain go on.
  SetConfigOption("default_transaction_read_only", "off", PGC_SUSET, PGC_S_OVERRIDE);
  SetConfigOption("statement_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);
  SetConfigOption("lock_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);
  SetConfigOption("idle_in_transaction_session_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);
  // Its queries are small, but some are estimated dear on tables without
  // statistics (mpa.team_health once costed 130,000 over 720 guessed teams):
  // JIT compiling them took 140 ms of a round that publishes the policies
  // other databases wait for.
  SetConfigOption("jit", "off", PGC_SUSET, PGC_S_OVERRIDE);
  trust_this_process();  // it writes the outbox and the approval tables

  batch_context = AllocSetContextCreate(TopMemoryContext, "pg_mpa mail batch", ALLOCSET_DEFAULT_SIZES);
  before_shmem_exit(unpublish_latch, 0);
  publish_latch(MyLatch);

  bool first_round = true;
  for (;;) {
    handle_interrupts();
    // Cleared before the round: a wake-up during it brings another round.
    pg_atomic_exchange_u32(&shared_state()->worker_has_work, 0);
    long sleep_ms = deliver_due_mail(first_round);
    first_round = false;
    sleep_until_work(sleep_ms);
  }
}
