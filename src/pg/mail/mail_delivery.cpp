// Renders claimed outbox rows and sends them over one SMTP session.
#include "pg/mail/mail_delivery.hpp"

#include <chrono>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>

#include "core/mail_message.hpp"
#include "core/mail_where.hpp"
#include "core/retry_policy.hpp"
#include "core/secret_file.hpp"
#include "core/smtp_transport.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/mail/outbox.hpp"
#include "pg/startup/settings.hpp"

extern "C" {
#include <unistd.h>

#include "access/xlog.h"
#include "common/pg_prng.h"
#include "utils/guc.h"
}

namespace mpa::pg {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kRetryCap = std::chrono::hours(1);

// pg_mpa_smtp.so's session factory (see core/smtp_transport.hpp), loaded
// by the first delivery.
mail::OpenSmtpSession open_smtp_session = nullptr;

// The factory, loaded on first use. A library that cannot be loaded (its
// file missing, say) throws PostgresError; loading leaves nothing half
// done, so the caller carries on.
mail::OpenSmtpSession smtp_transport() {
  if (open_smtp_session == nullptr)
    open_smtp_session = call_postgres([] {
      return reinterpret_cast<mail::OpenSmtpSession>(
          load_external_function("$libdir/pg_mpa_smtp", mail::kOpenSmtpSessionSymbol, true, nullptr));
    });
  return open_smtp_session;
}

void set_error(MailJob &job, const std::string &error) {
  std::strncpy(job.error, error.c_str(), sizeof job.error - 1);
  job.error[sizeof job.error - 1] = '\0';
}

void schedule_retry(MailJob &job, const std::string &error) {
  job.verdict = MailVerdict::Retry;
  job.retry_after_ms = mail::retry_delay(job.attempts, milliseconds(settings::mail_retry_delay_s * 1000LL),
                                         kRetryCap, pg_prng_double(&pg_global_prng_state))
                           .count();
  set_error(job, error);
}

bool is_set(const char *setting) { return setting != nullptr && setting[0] != '\0'; }

// The SMTP password: mpa.smtp_password, or read from mpa.smtp_password_file
// now (each round: a new password in the file counts from the next round;
// only when AUTH is used). Throws mpa::Error naming what is wrong with the
// file; the message never holds the password.
std::string smtp_password() {
  if (!is_set(settings::smtp_password_file) || !is_set(settings::smtp_user)) return settings::smtp_password;
  try {
    return secrets::read_secret_file(settings::smtp_password_file);
  } catch (const mpa::Error &e) {
    throw mpa::Error(e.sqlstate(), std::string("mpa.smtp_password_file: ") + e.what());
  }
}

mail::SmtpConfig smtp_config() {
  mail::SmtpConfig config;
  config.url = settings::smtp_url;
  config.require_starttls = settings::smtp_starttls;
  config.user = settings::smtp_user;
  config.password = smtp_password();
  config.ca_file = settings::smtp_ca_file;
  config.timeout_seconds = settings::smtp_timeout_s;
  return config;
}

// Where a code mail's body takes its code. The stored body never holds one.
constexpr std::string_view kCodePlaceholder = "{{code}}";

std::string body_of(const MailJob &job) {
  std::string body = job.body;
  if (!job.carries_code) return body;
  std::size_t at = body.find(kCodePlaceholder);
  if (at == std::string::npos) throw mpa::Error(sqlstate::kInternalError, "code mail without a place for the code");
  return body.replace(at, kCodePlaceholder.size(), code_for(job.challenge));
}

// Where every mail of this round comes from (docs/decisions.md, "Mail that
// says where and links there"), read once per round: the settings change
// only at a reload, between rounds.
struct Origin {
  std::string cluster;       // mpa.cluster_label, else cluster_name, else the host name
  std::string host;
  std::string installation;  // the system identifier: the same on every server of this cluster's history
};

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "unknown host";
  return name;
}

Origin origin() {
  Origin here;
  here.host = host_name();
  const char *cluster_name = call_postgres([] { return GetConfigOption("cluster_name", true, false); });
  if (is_set(settings::cluster_label))
    here.cluster = settings::cluster_label;
  else if (is_set(cluster_name))
    here.cluster = cluster_name;
  else
    here.cluster = here.host;
  here.installation = std::to_string(static_cast<unsigned long long>(GetSystemIdentifier()));
  return here;
}

std::string render(const MailJob &job, const Origin &here, std::time_t now, const char *audit_head) {
  mail::Message message;
  message.from = settings::mail_from;
  message.from_name = "pg_mpa";
  message.to = job.recipient;
  message.subject = job.subject;
  message.body = body_of(job);
  // Which server and database the mail is about, and where to act on it:
  // approvers of several clusters must not vote on the wrong one.
  mail::Where where;
  where.cluster = here.cluster;
  where.host = here.host;
  where.database = job.database != nullptr ? job.database : settings::database;
  if (job.request_id != 0 && is_set(settings::portal_url))
    where.link = mail::request_link(settings::portal_url, job.request_id);
  where.code_mail = job.carries_code;
  message.body += "\n" + mail::where_lines(where);
  // Anchors the audit chain outside the database: a history rewritten
  // later disagrees with the heads approvers already hold.
  if (audit_head != nullptr) message.body += std::string("\n-- \npg_mpa audit chain head: ") + audit_head + "\n";
  message.message_id = job.message_id;
  // One thread per request: its first mail (the request to the team, the
  // same message to each approver) has the thread's Message-ID, every
  // later one names it.
  if (job.request_id != 0) {
    const std::string root = mail::thread_root_id(job.request_id, here.installation, message_id_domain());
    if (std::strcmp(job.kind, "request") == 0)
      message.message_id = root;
    else
      message.in_reply_to = root;
    message.headers.emplace_back("X-MPA-Request", std::to_string(job.request_id));
  }
  message.date = now;
  message.headers.emplace_back("X-MPA-Outbox-Id", std::to_string(job.id));
  message.headers.emplace_back("X-MPA-Cluster", here.cluster);
  return mail::render(message);
}

// Settings that make sending impossible: every job waits for a fix.
const char *configuration_problem() {
  if (!is_set(settings::smtp_url)) return "mpa.smtp_url is not set";
  if (!is_set(settings::mail_from)) return "mpa.mail_from is not set";
  // Two passwords: which one the DBA meant is a guess, and the one in
  // postgresql.conf is what the file is there to replace.
  if (is_set(settings::smtp_password) && is_set(settings::smtp_password_file))
    return "both mpa.smtp_password and mpa.smtp_password_file are set; remove mpa.smtp_password";
  return nullptr;
}

}  // namespace

void deliver_mail_batch(MailJob *jobs, int count, const char *audit_head) {
  run_cpp([jobs, count, audit_head] {
    if (const char *problem = configuration_problem()) {
      for (int i = 0; i < count; i++) schedule_retry(jobs[i], problem);
      return;
    }
    mail::OpenSmtpSession open_session;
    try {
      open_session = smtp_transport();
    } catch (const PostgresError &e) {
      // A broken installation: the mail waits for it to be fixed, and the
      // worker's other duties (expiry, revoking grants) go on meanwhile.
      for (int i = 0; i < count; i++) schedule_retry(jobs[i], std::string("pg_mpa_smtp: ") + e.what());
      return;
    }
    mail::SmtpConfig config;
    try {
      config = smtp_config();
    } catch (const mpa::Error &e) {
      // The password file is refused: the mail waits until it is fixed.
      for (int i = 0; i < count; i++) schedule_retry(jobs[i], e.what());
      return;
    }
    // A pending SIGTERM ends the current transfer; the job is retried later.
    const Origin here = origin();
    std::unique_ptr<mail::MailSession> session(open_session(config, [] { return ProcDiePending != 0; }));
    for (int i = 0; i < count; i++) {
      MailJob &job = jobs[i];
      std::time_t now = std::time(nullptr);
      if (static_cast<double>(now) >= job.expires_at) {
        job.verdict = MailVerdict::Expired;
        continue;
      }
      std::string rendered;
      try {
        rendered = render(job, here, now, audit_head);
      } catch (const mpa::Error &e) {
        // The row passed validation when it was queued, so the settings
        // changed under it (mpa.mail_from); the next try would fail alike.
        job.verdict = MailVerdict::Failed;
        set_error(job, e.what());
        continue;
      }
      mail::SendResult result = session->send(settings::mail_from, job.recipient, rendered);
      switch (result.outcome) {
        case mail::DeliveryOutcome::Sent: job.verdict = MailVerdict::Sent; break;
        case mail::DeliveryOutcome::Permanent:
          job.verdict = MailVerdict::Failed;
          set_error(job, result.error);
          break;
        case mail::DeliveryOutcome::Temporary: schedule_retry(job, result.error); break;
      }
      if (result.outcome == mail::DeliveryOutcome::Temporary && result.session_failed) {
        // The server cannot be reached or talked to: the rest of the batch
        // would wait out the same timeout one by one. Retry them all later.
        for (int j = i + 1; j < count; j++) schedule_retry(jobs[j], "not tried: " + result.error);
        break;
      }
    }
  });
}

}  // namespace mpa::pg
