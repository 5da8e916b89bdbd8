#include "pg/worker/housekeeping.hpp"

#include <climits>

#include "pg/approval/challenge_attempts.hpp"
#include "pg/gate/policy_cache.hpp"
#include "pg/boundary/postgres.hpp"
#include "pg/startup/installation.hpp"
#include "pg/worker/retention.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_type_d.h"
#include "commands/user.h"
#include "executor/spi.h"
#include "parser/parser.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/resowner.h"
#include "utils/syscache.h"
}

namespace mpa::pg {
namespace {

constexpr const char *kExpireRequestsSql =
    "SELECT mpa.finish(r, 'expired', CASE r.state WHEN 'approved'"
    "         THEN 'it was approved but not executed before it expired'"
    "         ELSE 'it was not decided before it expired' END)"
    "  FROM mpa.requests r"
    " WHERE r.id IN (SELECT id FROM mpa.requests WHERE state IN ('pending', 'approved')"
    "                   AND expires_at <= now() FOR UPDATE SKIP LOCKED)";

// Split where the notice names its request (mpa.queue_mail's last
// argument, which 0.1's SQL objects lack): run_housekeeping() joins the parts.
constexpr const char *kExpireCodesSql =
    "WITH expired AS ("
    "  UPDATE mpa.challenges SET state = 'expired'"
    "   WHERE id IN (SELECT id FROM mpa.challenges WHERE state = 'open' AND expires_at <= now()"
    "                   FOR UPDATE SKIP LOCKED)"
    "  RETURNING id, request_id, approver),"
    " audited AS ("
    "  INSERT INTO mpa.audit (kind, request_id, actor, detail)"
    "  SELECT 'code expired', request_id, 'pg_mpa mail worker',"
    "         jsonb_build_object('challenge', id, 'approver', approver::text) FROM expired)"
    " SELECT mpa.queue_mail('notice', c.email, format('[pg_mpa] your code for %s expired', mpa.challenge_purpose(c)),"
    "          format(E'The one-time code mailed to you for %s expired unused.\\n\\n' ||"
    "                 'To ask for a new one: %s' || E'\\n', mpa.challenge_purpose(c), mpa.challenge_retry(c)),"
    "          86400, NULL, NULL";
constexpr const char *kExpireCodesSqlEnd = ") FROM mpa.challenges c WHERE c.id IN (SELECT id FROM expired)";

constexpr const char *kCodeNoticeSql = "SELECT mpa.tell_code_notice($1, $2)";

constexpr const char *kWarnGrantsSql =
    "SELECT mpa.grant_ends_soon(g) FROM mpa.temporary_grants g"
    " WHERE g.revoked_at IS NULL AND g.warned_at IS NULL"
    "   AND g.ends_at - current_setting('mpa.grant_warning')::interval <= now()";

// Reminders (mpa.reminder_before; 0 is off): pending requests whose
// reminder time came, once each. Only a request that was open before its
// reminder time gets one: with mpa.request_ttl shorter than
// mpa.reminder_before the request mail itself is the reminder.
// 0.1's SQL objects have neither reminded_at nor mpa.remind: no reminders
// until ALTER EXTENSION pg_mpa UPDATE.
constexpr const char *kRemindSql =
    "SELECT mpa.remind(r) FROM mpa.requests r"
    " WHERE r.id IN (SELECT id FROM mpa.requests"
    "                 WHERE state = 'pending' AND reminded_at IS NULL AND expires_at > now()"
    "                   AND current_setting('mpa.reminder_before')::interval > interval '0'"
    "                   AND expires_at - current_setting('mpa.reminder_before')::interval <= now()"
    "                   AND expires_at - current_setting('mpa.reminder_before')::interval > created_at"
    "                 FOR UPDATE SKIP LOCKED)";
constexpr const char *kNextReminderSql =
    "SELECT (extract(epoch FROM min(expires_at - current_setting('mpa.reminder_before')::interval) - now())"
    "        * 1000)::float8"
    "  FROM mpa.requests"
    " WHERE state = 'pending' AND reminded_at IS NULL AND expires_at > now()"
    "   AND current_setting('mpa.reminder_before')::interval > interval '0'"
    "   AND expires_at - current_setting('mpa.reminder_before')::interval > created_at";

// Break-glass approvals their regular team has not reviewed within the
// window (mpa.break_glass_reviews_overdue: mailed once, durably, as
// reminders are). 0.1's SQL objects have no break-glass.
constexpr const char *kReviewsOverdueSql = "SELECT mpa.break_glass_reviews_overdue()";
constexpr const char *kNextReviewDueSql =
    "SELECT (extract(epoch FROM min(review_due_at) - now()) * 1000)::float8"
    "  FROM mpa.break_glass_uses WHERE review_due_at IS NOT NULL AND overdue_told_at IS NULL";

constexpr const char *kDueGrantsSql =
    "SELECT request_id, revoke_statement, requester::oid FROM mpa.temporary_grants"
    " WHERE revoked_at IS NULL AND ends_at <= now() ORDER BY ends_at LIMIT 100";

constexpr const char *kRecordRevocationSql =
    "SELECT mpa.grant_ended(g, $2) FROM mpa.temporary_grants g WHERE g.request_id = $1";

constexpr const char *kNextDeadlineSql =
    "SELECT (extract(epoch FROM least("
    "          (SELECT min(expires_at) FROM mpa.requests WHERE state IN ('pending', 'approved')),"
    "          (SELECT min(expires_at) FROM mpa.challenges WHERE state = 'open'),"
    "          (SELECT min(ends_at) FROM mpa.temporary_grants WHERE revoked_at IS NULL),"
    "          (SELECT min(ends_at - current_setting('mpa.grant_warning')::interval)"
    "             FROM mpa.temporary_grants WHERE revoked_at IS NULL AND warned_at IS NULL))"
    "        - now()) * 1000)::float8";

constexpr int kCodeNoticesPerRound = 64;
constexpr long kOverdueRetryMs = 1000;

void run(const char *sql) {
  if (SPI_execute(sql, false, 0) < 0) elog(ERROR, "pg_mpa housekeeping failed: %s", sql);
}

// What this round's transaction tells approvers about their codes: marked
// told only once it committed (housekeeping_committed).
CodeNotice told[kCodeNoticesPerRound];
int told_count = 0;

const char *notice_kind_name(CodeNoticeKind kind) {
  switch (kind) {
    case CodeNoticeKind::LockedOut: return "locked";
    case CodeNoticeKind::BudgetSpent: return "budget";
    case CodeNoticeKind::CodeDied: break;
  }
  return "dead";
}

void tell_code_notices() {
  told_count = find_untold_code_notices(told, kCodeNoticesPerRound);
  Oid types[2] = {INT8OID, TEXTOID};
  for (int i = 0; i < told_count; i++) {
    Datum values[2] = {Int64GetDatum(told[i].challenge_id), CStringGetTextDatum(notice_kind_name(told[i].kind))};
    if (SPI_execute_with_args(kCodeNoticeSql, 2, types, values, nullptr, false, 0) != SPI_OK_SELECT)
      elog(ERROR, "pg_mpa: cannot queue a notice about a code");
  }
}

// Runs PostgreSQL's own grant code on the REVOKE pg_mpa wrote, not the
// statement through ProcessUtility: no event trigger (someone else's code,
// perhaps made before a team governed pg_mpa) fires inside the worker, so
// none can fail the REVOKE and leave a temporary grant in place.
void run_revoke(const char *revoke_statement) {
  List *statements = raw_parser(revoke_statement, RAW_PARSE_DEFAULT);
  Node *statement = list_length(statements) == 1 ? linitial_node(RawStmt, statements)->stmt : nullptr;
  if (statement != nullptr && IsA(statement, GrantStmt) && !castNode(GrantStmt, statement)->is_grant)
    ExecuteGrantStmt(castNode(GrantStmt, statement));
  else if (statement != nullptr && IsA(statement, GrantRoleStmt) && !castNode(GrantRoleStmt, statement)->is_grant)
    GrantRole(castNode(GrantRoleStmt, statement));
  else
    elog(ERROR, "pg_mpa: \"%s\" is not a REVOKE", revoke_statement);
  CommandCounterIncrement();
}

// Runs one REVOKE as the role that made the grant (PostgreSQL records the
// grantor; a superuser's REVOKE would act as the object's owner instead), in
// a subtransaction: a grant revoked by hand meanwhile, or a role dropped,
// must not stop the others. Returns what happened, for the record.
const char *revoke_grant(const char *revoke_statement, Oid requester) {
  MemoryContext caller_context = CurrentMemoryContext;
  ResourceOwner caller_owner = CurrentResourceOwner;
  const char *outcome = "revoked";
  BeginInternalSubTransaction(nullptr);
  MemoryContextSwitchTo(caller_context);
  PG_TRY();
  {
    Oid saved_user;
    int saved_security;
    GetUserIdAndSecContext(&saved_user, &saved_security);
    Oid acting = SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(requester)) ? requester : saved_user;
    SetUserIdAndSecContext(acting, saved_security | SECURITY_LOCAL_USERID_CHANGE);
    run_revoke(revoke_statement);
    SetUserIdAndSecContext(saved_user, saved_security);
    ReleaseCurrentSubTransaction();
  }
  PG_CATCH();
  {
    MemoryContextSwitchTo(caller_context);
    ErrorData *error = CopyErrorData();
    FlushErrorState();
    RollbackAndReleaseCurrentSubTransaction();
    outcome = psprintf("not revoked: %s", error->message);
  }
  PG_END_TRY();
  MemoryContextSwitchTo(caller_context);
  CurrentResourceOwner = caller_owner;
  return outcome;
}

void end_due_grants() {
  if (SPI_execute(kDueGrantsSql, true, 0) != SPI_OK_SELECT) elog(ERROR, "pg_mpa: cannot read temporary grants");
  int count = static_cast<int>(SPI_processed);
  SPITupleTable *due = SPI_tuptable;
  for (int i = 0; i < count; i++) {
    bool is_null;
    int64 request_id = DatumGetInt64(SPI_getbinval(due->vals[i], due->tupdesc, 1, &is_null));
    char *revoke_statement = SPI_getvalue(due->vals[i], due->tupdesc, 2);
    Oid requester = DatumGetObjectId(SPI_getbinval(due->vals[i], due->tupdesc, 3, &is_null));
    const char *outcome = revoke_grant(revoke_statement, requester);
    Oid types[2] = {INT8OID, TEXTOID};
    Datum values[2] = {Int64GetDatum(request_id), CStringGetTextDatum(outcome)};
    if (SPI_execute_with_args(kRecordRevocationSql, 2, types, values, nullptr, false, 0) != SPI_OK_SELECT)
      elog(ERROR, "pg_mpa: cannot record the end of temporary grant %lld", static_cast<long long>(request_id));
  }
}

// How long until the next mail that `next_sql` dates is due (a reminder, an
// overdue break-glass review); LONG_MAX when none is waiting. (One overdue
// but not sent, its request held by another transaction, is looked at again
// shortly.) 0.1's SQL objects have neither.
long milliseconds_until_next(const char *next_sql, const char *what) {
  if (!sql_objects_are_current()) return LONG_MAX;
  if (SPI_execute(next_sql, true, 1) != SPI_OK_SELECT) elog(ERROR, "pg_mpa: cannot read %s", what);
  return milliseconds_of_deadline_result(kOverdueRetryMs);
}

}  // namespace

void housekeeping_committed() {
  mark_code_notices_told(told, told_count);
  told_count = 0;
}

void run_housekeeping() {
  refresh_policies();  // publishes committed policy changes to the other databases
  // Statements of other databases whose transaction ended: executed, or
  // approved again (docs/decisions.md, "Execution exactly once"). 0.1's
  // objects have none.
  if (sql_objects_are_current()) run("SELECT mpa.resolve_executions()");
  run(kExpireRequestsSql);
  run(psprintf("%s%s%s", kExpireCodesSql, sql_objects_are_current() ? ", c.request_id" : "", kExpireCodesSqlEnd));
  tell_code_notices();
  run(kWarnGrantsSql);
  if (sql_objects_are_current()) run(kRemindSql);
  if (sql_objects_are_current()) run(kReviewsOverdueSql);
  end_due_grants();
  run("SELECT mpa.check_team_health()");
  purge_past_retention();
}

long milliseconds_until_next_deadline() {
  if (SPI_execute(kNextDeadlineSql, true, 1) != SPI_OK_SELECT) elog(ERROR, "pg_mpa: cannot read deadlines");
  bool is_null = true;
  Datum ms = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null);
  double value = is_null ? 0 : DatumGetFloat8(ms);
  long purge_ms = milliseconds_until_next_purge();  // replaces SPI_tuptable
  purge_ms = Min(purge_ms, milliseconds_until_next(kNextReminderSql, "reminders"));
  purge_ms = Min(purge_ms, milliseconds_until_next(kNextReviewDueSql, "reviews due"));
  if (is_null) return purge_ms;
  // Still overdue after this round's housekeeping: another transaction holds
  // that row (SKIP LOCKED passed it by). Look again shortly, not at once.
  if (value <= 0) return Min(kOverdueRetryMs, purge_ms);
  return Min(purge_ms, value >= static_cast<double>(LONG_MAX) ? LONG_MAX : static_cast<long>(value) + 1);
}

}  // namespace mpa::pg
