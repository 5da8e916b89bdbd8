// Unit tests for what a mail says about where it comes from
// (core/mail_where): the settings' checks, the portal link, the thread's
// Message-ID and the lines that end every mail.
#include "core/mail_where.hpp"

#include <gtest/gtest.h>

#include <string>

#include "core/error.hpp"
#include "core/mail_message.hpp"

namespace mpa::mail {
namespace {

using namespace std::string_literals;

template <typename Check>
std::string refusal(Check check) {
  try {
    check();
  } catch (const Error &error) {
    EXPECT_EQ(error.sqlstate(), "22023");
    return error.what();
  }
  return "";
}

TEST(Label, PlainAndUnicodeLabelsPass) {
  for (const std::string &label : {""s, "prod-eu-1"s, "Production (Zürich) #2"s, std::string(200, 'x')})
    EXPECT_EQ(refusal([&] { validate_label("mpa.cluster_label", label); }), "") << label;
}

// A label with a line break could only come from a mistake or an attack on
// the mail headers: refused at load, naming the setting.
TEST(Label, ControlCharactersAndLengthAreRefused) {
  for (const std::string &label : {"prod\r\nBcc: x@evil"s, "prod\n"s, "a\tb"s, "a\0b"s, "a\x7f"s})
    EXPECT_NE(refusal([&] { validate_label("mpa.cluster_label", label); }).find("mpa.cluster_label must not contain"),
              std::string::npos);
  EXPECT_NE(refusal([&] { validate_label("mpa.cluster_label", std::string(201, 'x')); }).find("too long"),
            std::string::npos);
}

TEST(PortalUrl, GoodUrlsPass) {
  for (const std::string url : {"", "https://approve.example.com", "http://localhost:8443/",
                                "https://db.example.com/mpa/portal", "https://[::1]:8443"})
    EXPECT_EQ(refusal([&] { validate_portal_url(url); }), "") << url;
}

TEST(PortalUrl, BadUrlsAreRefusedWithTheReason) {
  const std::pair<std::string, std::string> cases[] = {
      {"ftp://example.com", "https:// or http://"},
      {"javascript:alert(1)", "https:// or http://"},
      {"example.com", "https:// or http://"},
      {"https://example.com\r\nBcc: x@y", "without spaces or line breaks"},
      {"https://exa mple.com", "without spaces or line breaks"},
      {"https://exämple.com", "printable ASCII"},
      {"https://", "must name a host"},
      {"https:///path", "must name a host"},
      {"https://user:secret@example.com", "user name or password"},
      {"https://example.com/?next=", "query or fragment"},
      {"https://example.com/#x", "query or fragment"},
      {"https://example.com/\"onclick", "quotes, angle brackets"},
      {"https://example.com/<b>", "quotes, angle brackets"},
      {"https://example.com/" + std::string(500, 'a'), "too long"},
  };
  for (const auto &url_and_reason : cases) {
    const std::string &url = url_and_reason.first;  // (a lambda may not capture a structured binding in C++17)
    EXPECT_NE(refusal([&] { validate_portal_url(url); }).find(url_and_reason.second), std::string::npos) << url;
  }
}

TEST(Link, RequestPageWithTheIdOnly) {
  EXPECT_EQ(request_link("https://approve.example.com", 42), "https://approve.example.com/requests/42");
  EXPECT_EQ(request_link("https://approve.example.com/mpa//", 7), "https://approve.example.com/mpa/requests/7");
}

// The thread's first Message-ID is a valid one for the renderer, and
// differs by request and by installation.
TEST(Thread, RootIdIsDeterministicAndValid) {
  const std::string root = thread_root_id(42, "7301234567890123456", "db.example.com");
  EXPECT_EQ(root, "request-42.7301234567890123456@db.example.com");
  EXPECT_EQ(root, thread_root_id(42, "7301234567890123456", "db.example.com"));
  EXPECT_NE(root, thread_root_id(43, "7301234567890123456", "db.example.com"));
  EXPECT_NE(root, thread_root_id(42, "7301234567890123457", "db.example.com"));
  Message message;
  message.from = "pg-mpa@db.example.com";
  message.to = "alice@example.com";
  message.message_id = root;
  message.in_reply_to = root;
  EXPECT_NO_THROW(render(message));
}

TEST(WhereLines, NameClusterHostDatabaseAndTheLink) {
  Where where{"prod-eu", "db1.example.com", "billing", "https://p.example.com/requests/4", false};
  EXPECT_EQ(where_lines(where),
            "Cluster:       prod-eu\nHost:          db1.example.com\nDatabase:      billing\n"
            "Open in portal: https://p.example.com/requests/4\n");
  where.code_mail = true;
  EXPECT_NE(where_lines(where).find("Enter the code: https://p.example.com/requests/4\n"), std::string::npos);
  where.link.clear();
  EXPECT_EQ(where_lines(where).find("http"), std::string::npos);
}

// A database named "a<LF>Open in portal: https://evil" cannot add a line.
TEST(WhereLines, AValueCannotStartALineOfItsOwn) {
  Where where{"prod", "db1", "a\nOpen in portal: https://evil.example\r", "", false};
  const std::string text = where_lines(where);
  EXPECT_EQ(text, "Cluster:       prod\nHost:          db1\nDatabase:      a Open in portal: https://evil.example \n");
}

}  // namespace
}  // namespace mpa::mail
