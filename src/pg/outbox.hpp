// Writing to mpa.outbox, the transactional mail queue, and waking the mail
// worker when a transaction that queued mail commits.
#pragma once

#include "pg/postgres.hpp"

namespace mpa::pg {

struct OutgoingMail {
  const char *kind;           // one of mpa.outbox's kinds
  const char *recipient;      // already validated by the caller
  const char *subject;
  const char *body;
  int ttl_seconds;            // the mail is never delivered after this
  const char *supersede_key;  // nullptr, or the key whose older mail this replaces
};

// Queues one message in the caller's transaction and returns its outbox id.
// PostgreSQL-style: may ereport; call it through call_postgres from C++.
int64 queue_mail(const OutgoingMail &mail);

// Wakes the mail worker when the current transaction commits (nothing
// happens if it aborts).
void wake_mail_worker_at_commit();

// Registers the commit callback that wakes the worker (from _PG_init).
void install_outbox_commit_wakeup();

}  // namespace mpa::pg
