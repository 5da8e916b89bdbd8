// Sends rendered messages to one SMTP server through libcurl, reusing one
// connection for a whole batch. No PostgreSQL here: the mail worker hands in
// plain values and gets back what happened to each message.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/retry_policy.hpp"

namespace mpa::mail {

struct SmtpConfig {
  std::string url;             // smtp://host:port or smtps://host:port
  bool require_starttls = true;  // on smtp://: STARTTLS or nothing, never plain text
  std::string user;            // empty: no AUTH
  std::string password;
  std::string ca_file;         // empty: the system's CA store
  long timeout_seconds = 30;   // connect timeout, and the limit for one message
};

struct SendResult {
  DeliveryOutcome outcome = DeliveryOutcome::Temporary;
  int reply_code = 0;        // last SMTP reply code, 0 if the server said nothing
  std::string error;         // empty when sent; else libcurl's reason and the server's reply
  bool session_failed = false;  // connect/TLS/AUTH/timeout: the next message would fail alike
};

// What the mail worker sends through. pg_mpa.so calls the SMTP session
// through this interface only, so that it does not link libcurl: the
// session lives in pg_mpa_smtp.so, which only the mail worker loads (every
// backend maps what the preloaded library links, and libcurl's dependencies
// cost each new connection about 100 us of CPU time).
class MailSession {
 public:
  virtual ~MailSession() = default;
  // Sends one RFC 5322 message (CRLF line endings) from `from` to `to`.
  virtual SendResult send(const std::string &from, const std::string &to, const std::string &message) = 0;
};

class SmtpSession final : public MailSession {
 public:
  // should_abort is polled during transfers (e.g. a pending shutdown); when
  // it returns true the transfer stops and counts as a temporary failure.
  SmtpSession(SmtpConfig config, std::function<bool()> should_abort);
  ~SmtpSession();
  SmtpSession(const SmtpSession &) = delete;
  SmtpSession &operator=(const SmtpSession &) = delete;

  SendResult send(const std::string &from, const std::string &to, const std::string &message) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// pg_mpa_smtp.so's entry point, found by this name: a new SmtpSession,
// which the caller deletes. Throws as SmtpSession's constructor does.
using OpenSmtpSession = MailSession *(*)(const SmtpConfig &config, std::function<bool()> should_abort);
inline constexpr const char *kOpenSmtpSessionSymbol = "mpa_open_smtp_session";

}  // namespace mpa::mail
