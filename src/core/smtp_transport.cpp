// libcurl SMTP transport; see smtp_transport.hpp.
#include "core/smtp_transport.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "core/error.hpp"

namespace mpa::mail {
namespace {

// curl_global_init is not thread-safe and must run once per process.
void ensure_curl_initialised() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      throw mpa::Error(sqlstate::kInternalError, "libcurl could not be initialised");
  });
}

struct Upload {
  const std::string *message;
  std::size_t offset;
};

size_t read_upload(char *buffer, size_t size, size_t count, void *userdata) {
  auto *upload = static_cast<Upload *>(userdata);
  std::size_t n = std::min(size * count, upload->message->size() - upload->offset);
  std::memcpy(buffer, upload->message->data() + upload->offset, n);
  upload->offset += n;
  return n;
}

// Failures where the server answered a command with a reply code: only these
// may be permanent. Connection, TLS, AUTH and timeout failures are problems of
// the path or the configuration, which a DBA fixes; the mail waits for that.
bool is_reply_failure(CURLcode code) {
  return code == CURLE_SEND_ERROR || code == CURLE_WEIRD_SERVER_REPLY || code == CURLE_RECV_ERROR;
}

}  // namespace

struct SmtpSession::Impl {
  SmtpConfig config;
  std::function<bool()> should_abort;
  CURL *curl = nullptr;
  std::string last_server_line;  // the server's last reply, for last_error
  bool failure_seen = false;     // last_server_line holds a 4xx/5xx reply
  char curl_error[CURL_ERROR_SIZE] = {};

  static int on_debug(CURL *, curl_infotype type, char *data, size_t size, void *userdata) {
    if (type == CURLINFO_HEADER_IN) {
      auto *self = static_cast<Impl *>(userdata);
      // The first 4xx/5xx reply of a transfer explains its failure; what
      // follows (e.g. "221 Bye" to libcurl's QUIT) must not replace it.
      if (self->failure_seen) return 0;
      std::string line(data, size);
      while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
      self->failure_seen = !line.empty() && (line[0] == '4' || line[0] == '5');
      self->last_server_line = std::move(line);
    }
    return 0;
  }

  static int on_progress(void *userdata, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<Impl *>(userdata)->should_abort() ? 1 : 0;
  }

  void set(CURLoption option, long value) { check(curl_easy_setopt(curl, option, value)); }
  void set(CURLoption option, const std::string &value) {
    check(curl_easy_setopt(curl, option, value.c_str()));
  }
  static void check(CURLcode code) {
    if (code != CURLE_OK)
      throw mpa::Error(sqlstate::kInternalError,
                       std::string("libcurl option refused: ") + curl_easy_strerror(code));
  }

  void configure() {
    set(CURLOPT_URL, config.url);
    check(curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps"));
    set(CURLOPT_NOSIGNAL, 1L);  // libcurl must not touch the worker's signal handlers
    set(CURLOPT_USE_SSL, config.require_starttls ? static_cast<long>(CURLUSESSL_ALL)
                                                 : static_cast<long>(CURLUSESSL_NONE));
    set(CURLOPT_SSL_VERIFYPEER, 1L);
    set(CURLOPT_SSL_VERIFYHOST, 2L);
    if (!config.ca_file.empty()) set(CURLOPT_CAINFO, config.ca_file);
    if (!config.user.empty()) {
      set(CURLOPT_USERNAME, config.user);
      set(CURLOPT_PASSWORD, config.password);
    }
    set(CURLOPT_CONNECTTIMEOUT, config.timeout_seconds);
    set(CURLOPT_TIMEOUT, config.timeout_seconds);
    set(CURLOPT_UPLOAD, 1L);
    check(curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_upload));
    check(curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_error));
    // VERBOSE only feeds on_debug, which keeps the server's replies; nothing
    // is printed, and message bodies (CURLINFO_DATA_OUT) are ignored.
    set(CURLOPT_VERBOSE, 1L);
    check(curl_easy_setopt(curl, CURLOPT_DEBUGFUNCTION, on_debug));
    check(curl_easy_setopt(curl, CURLOPT_DEBUGDATA, this));
    set(CURLOPT_NOPROGRESS, 0L);
    check(curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress));
    check(curl_easy_setopt(curl, CURLOPT_XFERINFODATA, this));
  }
};

SmtpSession::SmtpSession(SmtpConfig config, std::function<bool()> should_abort)
    : impl_(std::make_unique<Impl>()) {
  ensure_curl_initialised();
  impl_->config = std::move(config);
  impl_->should_abort = std::move(should_abort);
  impl_->curl = curl_easy_init();
  if (impl_->curl == nullptr) throw mpa::Error(sqlstate::kOutOfMemory, "libcurl handle not created");
  impl_->configure();
}

// Cleanup sends QUIT on the connection kept open for the batch.
SmtpSession::~SmtpSession() { curl_easy_cleanup(impl_->curl); }

SendResult SmtpSession::send(const std::string &from, const std::string &to,
                             const std::string &message) {
  Impl &s = *impl_;
  Upload upload{&message, 0};
  curl_slist *recipients = curl_slist_append(nullptr, to.c_str());
  if (recipients == nullptr) throw mpa::Error(sqlstate::kOutOfMemory, "out of memory");
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> recipients_owner(recipients,
                                                                               curl_slist_free_all);
  s.set(CURLOPT_MAIL_FROM, "<" + from + ">");
  Impl::check(curl_easy_setopt(s.curl, CURLOPT_MAIL_RCPT, recipients));
  Impl::check(curl_easy_setopt(s.curl, CURLOPT_READDATA, &upload));
  Impl::check(curl_easy_setopt(s.curl, CURLOPT_INFILESIZE_LARGE,
                               static_cast<curl_off_t>(message.size())));
  s.curl_error[0] = '\0';
  s.last_server_line.clear();
  s.failure_seen = false;

  CURLcode code = curl_easy_perform(s.curl);
  long reply_code = 0;
  curl_easy_getinfo(s.curl, CURLINFO_RESPONSE_CODE, &reply_code);
  curl_easy_setopt(s.curl, CURLOPT_MAIL_RCPT, nullptr);

  SendResult result;
  result.reply_code = static_cast<int>(reply_code);
  if (code == CURLE_OK) {
    result.outcome = DeliveryOutcome::Sent;
    return result;
  }
  result.session_failed = !is_reply_failure(code);
  result.outcome = is_reply_failure(code) ? classify_smtp_reply(result.reply_code)
                                          : DeliveryOutcome::Temporary;
  // A failed transfer whose last reply was positive (the link broke after
  // it) is not a delivery.
  if (result.outcome == DeliveryOutcome::Sent) result.outcome = DeliveryOutcome::Temporary;
  result.error = s.curl_error[0] ? s.curl_error : curl_easy_strerror(code);
  if (!s.last_server_line.empty()) result.error += " (server: " + s.last_server_line + ")";
  return result;
}

}  // namespace mpa::mail
