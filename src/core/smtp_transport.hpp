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

class SmtpSession {
 public:
  // should_abort is polled during transfers (e.g. a pending shutdown); when
  // it returns true the transfer stops and counts as a temporary failure.
  SmtpSession(SmtpConfig config, std::function<bool()> should_abort);
  ~SmtpSession();
  SmtpSession(const SmtpSession &) = delete;
  SmtpSession &operator=(const SmtpSession &) = delete;

  // Sends one RFC 5322 message (CRLF line endings) from `from` to `to`.
  SendResult send(const std::string &from, const std::string &to, const std::string &message);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mpa::mail
