// Queues mail in the caller's transaction; wakes the worker at commit.
#include "pg/mail/outbox.hpp"

#include <cstring>

#include "pg/shared/at_commit.hpp"
#include "pg/startup/settings.hpp"

extern "C" {
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "utils/builtins.h"
}

namespace mpa::pg {

// Message-IDs name the sender's domain, as RFC 5322 suggests.
const char *message_id_domain() {
  const char *at = settings::mail_from ? std::strrchr(settings::mail_from, '@') : nullptr;
  return at && at[1] ? at + 1 : "pg-mpa.invalid";
}

namespace {

// The queued mail is audited (with the address masked); sending it is
// audited by the worker. %s: the request the mail is about, $9 (the column
// mpa.outbox.request_id exists only with the current SQL objects, the only
// ones that name a request).
constexpr const char *kQueueSqlFormat =
    "WITH superseded AS ("
    "  UPDATE mpa.outbox SET status = 'superseded', lease_until = NULL"
    "   WHERE $5 IS NOT NULL AND supersede_key = $5 AND status IN ('pending', 'sending')),"
    " queued AS ("
    "  INSERT INTO mpa.outbox (kind, recipient, subject, body, message_id, expires_at,"
    "                          supersede_key, challenge_id%s)"
    "  VALUES ($1, $2, $3, $4, gen_random_uuid() || '@' || $6,"
    "          now() + make_interval(secs => $7), $5, $8%s)"
    "  RETURNING id, kind, recipient, subject, challenge_id),"
    " audited AS ("
    "  INSERT INTO mpa.audit (kind, detail)"
    "  SELECT 'mail queued', jsonb_build_object('mail', id, 'kind', kind, 'to', mpa.mask_email(recipient),"
    "                                           'subject', subject, 'challenge', challenge_id) FROM queued)"
    " SELECT id FROM queued";

}  // namespace

int64 queue_mail(const OutgoingMail &mail) {
  Oid types[9] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, FLOAT8OID, INT8OID, INT8OID};
  Datum values[9] = {
      CStringGetTextDatum(mail.kind),
      CStringGetTextDatum(mail.recipient),
      CStringGetTextDatum(mail.subject),
      CStringGetTextDatum(mail.body),
      mail.supersede_key ? CStringGetTextDatum(mail.supersede_key) : Datum(0),
      CStringGetTextDatum(message_id_domain()),
      Float8GetDatum(static_cast<double>(mail.ttl_seconds)),
      Int64GetDatum(mail.challenge_id),
      Int64GetDatum(mail.request_id),
  };
  char nulls[9] = {' ', ' ', ' ', ' ', mail.supersede_key ? ' ' : 'n', ' ', ' ',
                   mail.challenge_id ? ' ' : 'n', ' '};
  const bool about_request = mail.request_id != 0;
  const char *sql = psprintf(kQueueSqlFormat, about_request ? ", request_id" : "", about_request ? ", $9" : "");

  SPI_connect();
  if (SPI_execute_with_args(sql, about_request ? 9 : 8, types, values, nulls, false, 1) != SPI_OK_SELECT ||
      SPI_processed != 1)
    elog(ERROR, "pg_mpa could not queue mail");
  bool is_null = false;
  int64 id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null));
  SPI_finish();

  wake_mail_worker_at_commit();
  return id;
}

}  // namespace mpa::pg
