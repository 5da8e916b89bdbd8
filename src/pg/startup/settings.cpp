// Registers pg_mpa's settings with their defaults, units and bounds.
#include "pg/startup/settings.hpp"

#include "core/mail_address.hpp"
#include "core/mail_where.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/postgres.hpp"
#include "pg/shared/shared_state.hpp"

extern "C" {
#include "utils/guc.h"
}

#include <climits>
#include <string_view>

namespace mpa::pg::settings {

char *database = nullptr;
char *smtp_url = nullptr;
bool smtp_starttls = true;
char *smtp_user = nullptr;
char *smtp_password = nullptr;
char *smtp_password_file = nullptr;
char *smtp_ca_file = nullptr;
int smtp_timeout_s = 30;
int mail_retry_delay_s = 30;
char *mail_from = nullptr;
char *cluster_label = nullptr;
char *portal_url = nullptr;
int reminder_before_s = 60 * 60;
int otp_ttl_s = 600;
bool govern_from_first_policy = true;
int max_requests_per_hour = 60;
int otp_max_attempts = 3;
int max_wrong_codes_per_hour = 10;
int max_wrong_codes_per_day = 30;
int resend_cooldown_s = 60;
int request_ttl_s = 24 * 60 * 60;
int grant_warning_s = 15 * 60;
int retention_s = 90 * 24 * 60 * 60;
// Read only by SQL (mpa.team_health), through current_setting().
int approver_active_period_s = 90 * 24 * 60 * 60;
bool log_events = true;
int log_level = LOG;

namespace {

constexpr int kOneHour = 60 * 60;
constexpr int kThirtyDays = 30 * 24 * kOneHour;

// mpa.log_level's choices. The line is written whatever log_min_messages
// says (a session must not silence it), so a debug level would only label
// it oddly; ERROR and above would abort the event's transaction.
const config_enum_entry kLogLevels[] = {
    {"log", LOG, false}, {"info", INFO, false}, {"notice", NOTICE, false}, {"warning", WARNING, false},
    {nullptr, 0, false}};

// The worker hands the URL to libcurl, which would follow any scheme it
// knows; only SMTP with or without implicit TLS is accepted here (libcurl is
// also restricted to those protocols).
bool check_smtp_url(char **value, void **, GucSource) {
  std::string_view url = *value ? *value : "";
  if (url.empty() || url.rfind("smtp://", 0) == 0 || url.rfind("smtps://", 0) == 0) {
    if (url.find_first_of("\r\n \t") == std::string_view::npos) return true;
  }
  GUC_check_errdetail("mpa.smtp_url must be smtp://host[:port] or smtps://host[:port].");
  return false;
}

// The label and the portal's address reach every mail (a header and the
// text): a value a mail cannot carry as written is refused at load, with
// the reason, rather than sent altered. No exception may leave a callback.
template <typename Validate>
bool check_mail_text(char **value, Validate validate) {
  if (*value == nullptr || **value == '\0') return true;
  try {
    validate(*value);
    return true;
  } catch (const std::exception &e) {
    GUC_check_errdetail("%s", e.what());
    return false;
  }
}

// The sender address reaches a mail header: it gets the same validation as an
// approver's address.
bool check_mail_from(char **value, void **, GucSource) {
  return check_mail_text(value, [](const char *text) {
    try {
      mpa::mail::validate_address(text);
    } catch (const mpa::Error &e) {
      throw mpa::Error(e.sqlstate(), std::string("mpa.mail_from: ") + e.what());
    }
  });
}

bool check_cluster_label(char **value, void **, GucSource) {
  return check_mail_text(value, [](const char *text) { mpa::mail::validate_label("mpa.cluster_label", text); });
}

bool check_portal_url(char **value, void **, GucSource) {
  return check_mail_text(value, [](const char *text) { mpa::mail::validate_portal_url(text); });
}

void define_string(const char *name, const char *description, char **target,
                   const char *default_value, GucContext context, int flags = 0,
                   GucStringCheckHook check = nullptr) {
  DefineCustomStringVariable(name, description, nullptr, target, default_value, context, flags,
                             check, nullptr, nullptr);
}

void define_seconds(const char *name, const char *description, int *target, int default_value,
                    int min_value, int max_value) {
  DefineCustomIntVariable(name, description, nullptr, target, default_value, min_value, max_value,
                          PGC_SIGHUP, GUC_UNIT_S, nullptr, nullptr, nullptr);
}

}  // namespace

void define_all() {
  define_string("mpa.database", "Database that holds the mpa tables and runs the mail worker.",
                &database, "postgres", PGC_POSTMASTER);
  define_string("mpa.smtp_url", "SMTP server for pg_mpa's mail: smtp://host:port or smtps://host:port.",
                &smtp_url, "", PGC_SIGHUP, 0, check_smtp_url);
  DefineCustomBoolVariable("mpa.smtp_starttls",
                           "Require STARTTLS on smtp:// URLs; never fall back to plain text.",
                           nullptr, &smtp_starttls, true, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  define_string("mpa.smtp_user", "User name for SMTP AUTH (empty: no AUTH).", &smtp_user, "",
                PGC_SIGHUP);
  define_string("mpa.smtp_password", "Password for SMTP AUTH.", &smtp_password, "", PGC_SIGHUP,
                GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL);
  define_string("mpa.smtp_password_file",
                "File holding the password for SMTP AUTH (owned by the server's user, no group or other "
                "access); instead of mpa.smtp_password.",
                &smtp_password_file, "", PGC_SIGHUP);
  define_string("mpa.smtp_ca_file",
                "CA bundle that verifies the SMTP server's certificate (empty: system store).",
                &smtp_ca_file, "", PGC_SIGHUP);
  define_seconds("mpa.smtp_timeout", "Connect and per-message transfer timeout for SMTP.",
                 &smtp_timeout_s, 30, 1, 600);
  define_seconds("mpa.mail_retry_delay",
                 "Wait before retrying a temporarily failed mail; doubles with each try, up to "
                 "an hour.",
                 &mail_retry_delay_s, 30, 1, kOneHour);
  define_string("mpa.mail_from", "Sender address of pg_mpa's mail.", &mail_from, "", PGC_SIGHUP, 0,
                check_mail_from);
  define_string("mpa.cluster_label",
                "Name of this cluster in pg_mpa's mail (empty: cluster_name, else the host name).",
                &cluster_label, "", PGC_SIGHUP, 0, check_cluster_label);
  define_string("mpa.portal_url",
                "Address of the approval portal; mail about a request links to its page there (empty: no "
                "links).",
                &portal_url, "", PGC_SIGHUP, 0, check_portal_url);
  define_seconds("mpa.reminder_before",
                 "How long before a pending request expires its approvers who have not voted are reminded, "
                 "once (0: no reminder).",
                 &reminder_before_s, 60 * 60, 0, kThirtyDays);
  define_seconds("mpa.otp_ttl", "How long a mailed one-time code stays valid.", &otp_ttl_s, 600, 1,
                 kOneHour);
  DefineCustomIntVariable("mpa.otp_max_attempts", "Wrong tries that kill a one-time code.", nullptr,
                          &otp_max_attempts, 3, 1, 10, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  define_seconds("mpa.resend_cooldown", "Minimum time between two codes for the same vote.",
                 &resend_cooldown_s, 60, 0, kOneHour);
  define_seconds("mpa.request_ttl", "How long a request may wait for its approvals.",
                 &request_ttl_s, 24 * kOneHour, 1, kThirtyDays);
  define_seconds("mpa.grant_warning", "How long before a temporary grant ends its people are told.",
                 &grant_warning_s, 15 * 60, 0, 24 * kOneHour);
  define_seconds("mpa.approver_active_period",
                 "How recently an approver must have voted or confirmed their address to count as active.",
                 &approver_active_period_s, 90 * 24 * kOneHour, kOneHour, 10 * 365 * 24 * kOneHour);
  // 0 keeps everything; the low end (seconds) is for tests, like the others'.
  DefineCustomIntVariable("mpa.retention",
                          "How long delivered or dead mail and spent codes of closed requests are kept "
                          "before the mail worker deletes them (0: forever). The audit is never deleted.",
                          nullptr, &retention_s, 90 * 24 * kOneHour, 0, INT_MAX, PGC_SIGHUP, GUC_UNIT_S, nullptr,
                          nullptr, nullptr);
  DefineCustomIntVariable("mpa.max_wrong_codes_per_hour",
                          "Wrong codes entered in one approver's name, over every request, in an hour "
                          "(0: no limit); then no code of theirs is accepted for a while.",
                          nullptr, &max_wrong_codes_per_hour, 10, 0, kWrongCodesRemembered, PGC_SIGHUP, 0,
                          nullptr, nullptr, nullptr);
  DefineCustomIntVariable("mpa.max_wrong_codes_per_day",
                          "Wrong codes entered in one approver's name, over every request, in a day "
                          "(0: no limit); then no code of theirs is accepted for a while.",
                          nullptr, &max_wrong_codes_per_day, 30, 0, kWrongCodesRemembered, PGC_SIGHUP, 0,
                          nullptr, nullptr, nullptr);
  DefineCustomIntVariable("mpa.max_requests_per_hour",
                          "Requests one role may make in an hour (0: no limit); more are refused.", nullptr,
                          &max_requests_per_hour, 60, 0, 100000, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomBoolVariable("mpa.govern_from_first_policy",
                           "The team of the first policy also governs pg_mpa's configuration, unless a "
                           "team was named to govern it before.",
                           nullptr, &govern_from_first_policy, true, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomBoolVariable("mpa.log_events",
                           "Write each approval event (request, vote, decision, execution, refusal, ...) to "
                           "the server log, as a line starting with \"MPA: \".",
                           nullptr, &log_events, true, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomEnumVariable("mpa.log_level", "Severity of the server log lines of approval events.", nullptr,
                           &log_level, LOG, kLogLevels, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  MarkGUCPrefixReserved("mpa");
}

}  // namespace mpa::pg::settings
