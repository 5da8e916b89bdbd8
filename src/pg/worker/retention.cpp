#include "pg/worker/retention.hpp"

#include <climits>

#include "pg/boundary/postgres.hpp"
#include "pg/startup/settings.hpp"

extern "C" {
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
}

namespace mpa::pg {
namespace {

// Rows per table and round: a round's deletions take milliseconds, and the
// next round follows within a second while a backlog lasts.
constexpr int kPurgeBatch = 1000;
constexpr long kBacklogRetryMs = 1000;

// Mail that reached its end: sent, dead-lettered, expired unsent or
// superseded. Mail still to be sent, or being sent, stays whatever its age.
constexpr const char *kPurgeMailSql =
    "WITH purged AS ("
    "  DELETE FROM mpa.outbox WHERE id IN ("
    "    SELECT id FROM mpa.outbox"
    "     WHERE status IN ('sent', 'failed', 'expired', 'superseded')"
    "       AND created_at <= now() - make_interval(secs => $1)"
    "     ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)"
    "  RETURNING 1)"
    " SELECT count(*) FROM purged";

// Codes no longer open (used, superseded, expired: nothing can use them
// any more) of requests closed for the retention, or of address
// confirmations, once their mail is gone. The resend cooldown looks at an approver's last code, so a code
// younger than the cooldown stays whatever the retention. The tries in
// shared memory are keyed by challenge id, never reused, and need no row.
constexpr const char *kPurgeCodesSql =
    "WITH purged AS ("
    "  DELETE FROM mpa.challenges WHERE id IN ("
    "    SELECT c.id FROM mpa.challenges c LEFT JOIN mpa.requests r ON r.id = c.request_id"
    "     WHERE c.state <> 'open'"
    "       AND c.created_at <= now() - make_interval(secs => $1)"
    "       AND c.created_at <= now() - current_setting('mpa.resend_cooldown')::interval"
    "       AND (c.request_id IS NULL"
    "            OR (r.state NOT IN ('pending', 'approved')"
    "                AND coalesce(r.executed_at, r.decided_at) <= now() - make_interval(secs => $1)))"
    "       AND NOT EXISTS (SELECT FROM mpa.outbox o WHERE o.challenge_id = c.id)"
    "     ORDER BY c.created_at LIMIT $2 FOR UPDATE OF c SKIP LOCKED)"
    "  RETURNING 1)"
    " SELECT count(*) FROM purged";

constexpr const char *kRecordSql =
    "INSERT INTO mpa.audit (kind, actor, detail)"
    " VALUES ('purged', 'pg_mpa mail worker',"
    "         jsonb_build_object('mail', $2, 'codes', $3, 'older_than', now() - make_interval(secs => $1),"
    "                            'retention', make_interval(secs => $1)::text))";

constexpr const char *kNextPurgeSql =
    "SELECT (extract(epoch FROM min(created_at) + make_interval(secs => $1) - now()) * 1000)::float8"
    "  FROM mpa.outbox WHERE status IN ('sent', 'failed', 'expired', 'superseded')";

// Whether the last round's batch was full: more is waiting.
bool backlog = false;

int64 purge(const char *sql) {
  Oid types[2] = {INT4OID, INT4OID};
  Datum values[2] = {Int32GetDatum(settings::retention_s), Int32GetDatum(kPurgeBatch)};
  if (SPI_execute_with_args(sql, 2, types, values, nullptr, false, 0) != SPI_OK_SELECT)
    elog(ERROR, "pg_mpa: the retention's deletion failed");
  bool is_null;
  return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null));
}

}  // namespace

void purge_past_retention() {
  backlog = false;
  if (settings::retention_s == 0) return;
  // Mail first: a code's mail must be gone before the code can go.
  int64 mail = purge(kPurgeMailSql);
  int64 codes = purge(kPurgeCodesSql);
  backlog = mail == kPurgeBatch || codes == kPurgeBatch;
  if (mail + codes == 0) return;
  Oid types[3] = {INT4OID, INT8OID, INT8OID};
  Datum values[3] = {Int32GetDatum(settings::retention_s), Int64GetDatum(mail), Int64GetDatum(codes)};
  if (SPI_execute_with_args(kRecordSql, 3, types, values, nullptr, false, 0) != SPI_OK_INSERT)
    elog(ERROR, "pg_mpa: cannot record the retention's deletion");
}

long milliseconds_until_next_purge() {
  if (settings::retention_s == 0) return LONG_MAX;
  if (backlog) return kBacklogRetryMs;
  Oid types[1] = {INT4OID};
  Datum values[1] = {Int32GetDatum(settings::retention_s)};
  if (SPI_execute_with_args(kNextPurgeSql, 1, types, values, nullptr, true, 1) != SPI_OK_SELECT)
    elog(ERROR, "pg_mpa: cannot read the retention's next deadline");
  return milliseconds_of_deadline_result(kBacklogRetryMs);
}

long milliseconds_of_deadline_result(long overdue_ms) {
  bool is_null = true;
  Datum ms = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null);
  if (is_null) return LONG_MAX;
  double value = DatumGetFloat8(ms);
  if (value <= 0) return overdue_ms;
  return value >= static_cast<double>(LONG_MAX) ? LONG_MAX : static_cast<long>(value) + 1;
}

}  // namespace mpa::pg
