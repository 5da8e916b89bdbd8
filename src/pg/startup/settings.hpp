// pg_mpa's server settings (docs/decisions.md, "Settings"). All are set in
// postgresql.conf (or by ALTER SYSTEM, which the gate guards); none can be
// changed by a session: they are PGC_POSTMASTER or PGC_SIGHUP.
#pragma once

namespace mpa::pg::settings {

void define_all();

// Current values, maintained by the GUC machinery.
extern char *database;        // mpa.database
extern char *smtp_url;        // mpa.smtp_url
extern bool smtp_starttls;    // mpa.smtp_starttls
extern char *smtp_user;       // mpa.smtp_user
extern char *smtp_password;   // mpa.smtp_password
extern char *smtp_password_file;  // mpa.smtp_password_file
extern char *smtp_ca_file;    // mpa.smtp_ca_file
extern int smtp_timeout_s;    // mpa.smtp_timeout
extern int mail_retry_delay_s; // mpa.mail_retry_delay
extern char *mail_from;       // mpa.mail_from
extern char *cluster_label;   // mpa.cluster_label (empty: cluster_name, else the host name)
extern char *portal_url;      // mpa.portal_url (empty: mails carry no link)
extern int reminder_before_s; // mpa.reminder_before (0: no reminder)
extern int otp_ttl_s;         // mpa.otp_ttl
extern int otp_max_attempts;  // mpa.otp_max_attempts
extern int max_wrong_codes_per_hour;  // mpa.max_wrong_codes_per_hour (0: none)
extern int max_wrong_codes_per_day;   // mpa.max_wrong_codes_per_day (0: none)
extern int resend_cooldown_s; // mpa.resend_cooldown
extern int request_ttl_s;     // mpa.request_ttl
extern int grant_warning_s;   // mpa.grant_warning
extern bool govern_from_first_policy;  // mpa.govern_from_first_policy
extern int max_requests_per_hour;      // mpa.max_requests_per_hour
extern int retention_s;       // mpa.retention (0: keep forever)
extern bool log_events;       // mpa.log_events
extern int log_level;         // mpa.log_level (LOG, INFO, NOTICE or WARNING)

}  // namespace mpa::pg::settings
