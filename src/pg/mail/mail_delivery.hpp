// One delivery round of the mail worker, on plain data: the worker claims
// rows in a transaction, this sends them with no transaction open, and the
// worker records the verdicts in a new transaction.
#pragma once

#include "pg/approval/challenge_code.hpp"
#include "pg/boundary/postgres.hpp"

namespace mpa::pg {

enum class MailVerdict { Sent, Retry, Failed, Expired };

struct MailJob {
  // Claimed from mpa.outbox (palloc'd by the worker).
  int64 id;
  const char *kind;              // code, request, notice, ...
  const char *recipient;
  const char *masked_recipient;  // for the server log
  const char *subject;
  const char *body;
  const char *message_id;
  double expires_at;  // unix seconds
  int attempts;       // including this one
  bool carries_code;  // a code mail: the body's {{code}} is the challenge's code
  int64 request_id;   // 0, or the request the mail is about (threading, the link)
  const char *database;  // nullptr, or the other database the request is for
  ChallengeBinding challenge;
  // Filled in by deliver_mail_batch.
  MailVerdict verdict;
  int64 retry_after_ms;
  char error[512];
};

// Renders and sends every job over one SMTP connection (the first call
// loads the SMTP transport, pg_mpa_smtp.so, which links libcurl: only the
// mail worker maps it); each body ends with
// the audit chain's head (`audit_head`, if not nullptr). C++ inside run_cpp:
// it never raises a PostgreSQL error except through that wrapper.
void deliver_mail_batch(MailJob *jobs, int count, const char *audit_head);

}  // namespace mpa::pg
