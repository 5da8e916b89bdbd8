#include "pg/housekeeping.hpp"

#include <climits>

#include "pg/challenge_attempts.hpp"
#include "pg/postgres.hpp"

extern "C" {
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "utils/builtins.h"
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

constexpr const char *kExpireCodesSql =
    "WITH expired AS ("
    "  UPDATE mpa.challenges SET state = 'expired' WHERE state = 'open' AND expires_at <= now()"
    "  RETURNING request_id, email)"
    " SELECT mpa.queue_mail('notice', email, format('[pg_mpa] your code for request #%s expired', request_id),"
    "          format(E'The one-time code mailed to you for request #%s expired unused.\\n\\n' ||"
    "                 'To vote, ask for a new one: SELECT mpa_resend(%s);' || E'\\n', request_id, request_id),"
    "          86400, NULL, NULL)"
    "   FROM expired";

constexpr const char *kDeadCodeNoticeSql =
    "SELECT mpa.queue_mail('notice', c.email,"
    "         CASE WHEN $2 THEN format('[pg_mpa] locked out of request #%s', c.request_id)"
    "              ELSE format('[pg_mpa] your code for request #%s no longer works', c.request_id) END,"
    "         CASE WHEN $2 THEN format(E'Too many wrong codes were entered in your name for request #%s.\\n' ||"
    "                                  'You can no longer vote on it. If this was not you, tell your ' ||"
    "                                  E'security team: someone may be guessing your codes.\\n', c.request_id)"
    "              ELSE format(E'Your one-time code for request #%s was entered wrongly too often and ' ||"
    "                          E'no longer works.\\nTo vote, ask for a new one: SELECT mpa_resend(%s);\\n' ||"
    "                          E'If this was not you, tell your security team.\\n', c.request_id, c.request_id) END,"
    "         86400, NULL, NULL)"
    "  FROM mpa.challenges c WHERE c.id = $1";

constexpr const char *kNextDeadlineSql =
    "SELECT (extract(epoch FROM least("
    "          (SELECT min(expires_at) FROM mpa.requests WHERE state IN ('pending', 'approved')),"
    "          (SELECT min(expires_at) FROM mpa.challenges WHERE state = 'open')) - now()) * 1000)::float8";

constexpr int kDeadCodesPerRound = 64;

void run(const char *sql) {
  if (SPI_execute(sql, false, 0) < 0) elog(ERROR, "pg_mpa housekeeping failed: %s", sql);
}

void tell_dead_codes() {
  DeadCode dead[kDeadCodesPerRound];
  int count = take_unreported_dead_codes(dead, kDeadCodesPerRound);
  Oid types[2] = {INT8OID, BOOLOID};
  for (int i = 0; i < count; i++) {
    Datum values[2] = {Int64GetDatum(dead[i].challenge_id), BoolGetDatum(dead[i].locked_out)};
    if (SPI_execute_with_args(kDeadCodeNoticeSql, 2, types, values, nullptr, false, 0) != SPI_OK_SELECT)
      elog(ERROR, "pg_mpa: cannot queue the notice of a dead code");
  }
}

}  // namespace

void run_housekeeping() {
  run(kExpireRequestsSql);
  run(kExpireCodesSql);
  tell_dead_codes();
}

long milliseconds_until_next_deadline() {
  if (SPI_execute(kNextDeadlineSql, true, 1) != SPI_OK_SELECT) elog(ERROR, "pg_mpa: cannot read deadlines");
  bool is_null = true;
  Datum ms = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null);
  if (is_null) return LONG_MAX;
  double value = DatumGetFloat8(ms);
  return value <= 0 ? 0 : value >= static_cast<double>(LONG_MAX) ? LONG_MAX : static_cast<long>(value) + 1;
}

}  // namespace mpa::pg
