// pg_mpa_smtp.so: core's libcurl SMTP transport as a library of its own.
// Only the mail worker loads it (load_external_function), so that the
// backends of every session, which map whatever the preloaded pg_mpa.so
// links, do not map libcurl and its dependencies.
#include <type_traits>
#include <utility>

#include "core/smtp_transport.hpp"

extern "C" {
#include "postgres.h"

#include "fmgr.h"

PG_MODULE_MAGIC;

PGDLLEXPORT mpa::mail::MailSession *mpa_open_smtp_session(const mpa::mail::SmtpConfig &config,
                                                          std::function<bool()> should_abort);
}

// Its type is mpa::mail::OpenSmtpSession: checked here, where both are seen.
static_assert(std::is_same_v<decltype(&mpa_open_smtp_session), mpa::mail::OpenSmtpSession>);

mpa::mail::MailSession *mpa_open_smtp_session(const mpa::mail::SmtpConfig &config,
                                              std::function<bool()> should_abort) {
  return new mpa::mail::SmtpSession(config, std::move(should_abort));
}
