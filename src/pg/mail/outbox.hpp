// Writing to mpa.outbox, the transactional mail queue. The mail worker is
// woken when the transaction commits (at_commit.hpp).
#pragma once

#include "pg/boundary/postgres.hpp"

namespace mpa::pg {

struct OutgoingMail {
  const char *kind;           // one of mpa.outbox's kinds
  const char *recipient;      // already validated by the caller
  const char *subject;
  const char *body;
  int ttl_seconds;            // the mail is never delivered after this
  const char *supersede_key;  // nullptr, or the key whose older mail this replaces
  int64 challenge_id;         // 0, or the challenge whose code the worker renders in
  int64 request_id;           // 0, or the request the mail is about: threads it and links to it
};

// The domain of pg_mpa's Message-IDs: mpa.mail_from's.
const char *message_id_domain();

// Queues one message in the caller's transaction and returns its outbox id.
// PostgreSQL-style: may ereport; call it through call_postgres from C++.
int64 queue_mail(const OutgoingMail &mail);

}  // namespace mpa::pg
