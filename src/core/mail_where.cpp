#include "core/mail_where.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace mpa::mail {
namespace {

[[noreturn]] void refuse(const std::string &message) { throw Error(sqlstate::kInvalidParameterValue, message); }

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

}  // namespace

void validate_label(std::string_view setting, std::string_view label) {
  const std::string name(setting);
  // A line break would start a header of its own if anything ever wrote the
  // label raw; mail_message flattens it anyway, so refusing it here is about
  // saying clearly that the value is not what the DBA meant.
  if (std::any_of(label.begin(), label.end(), [](char c) { return is_control(static_cast<unsigned char>(c)); }))
    refuse(name + " must not contain control characters (line breaks, tabs, NUL)");
  if (label.size() > kMaxLabelLength)
    refuse(name + " is too long (at most " + std::to_string(kMaxLabelLength) + " bytes)");
}

void validate_portal_url(std::string_view url) {
  if (url.empty()) return;
  const std::string prefix = "mpa.portal_url ";
  if (url.size() > kMaxPortalUrlLength)
    refuse(prefix + "is too long (at most " + std::to_string(kMaxPortalUrlLength) + " bytes)");
  // Printable ASCII only: no line break can reach a mail, no space can end
  // the link early in a mail reader, no look-alike letters.
  for (unsigned char c : url)
    if (c <= 0x20 || c >= 0x7f) refuse(prefix + "must be printable ASCII without spaces or line breaks");
  std::string_view rest;
  if (starts_with(url, "https://"))
    rest = url.substr(8);
  else if (starts_with(url, "http://"))
    rest = url.substr(7);
  else
    refuse(prefix + "must start with https:// or http://");
  const std::size_t host_end = rest.find('/');
  const std::string_view authority = rest.substr(0, host_end);
  if (authority.empty() || authority[0] == ':') refuse(prefix + "must name a host");
  // user:password@host would put a secret in every mail.
  if (authority.find('@') != std::string_view::npos) refuse(prefix + "must not contain a user name or password");
  // Links are made by appending "/requests/<id>": a query or fragment
  // would swallow it.
  if (url.find_first_of("?#") != std::string_view::npos) refuse(prefix + "must not contain a query or fragment");
  if (url.find_first_of("\"<>\\^`{|}") != std::string_view::npos)
    refuse(prefix + "must not contain quotes, angle brackets or braces");
}

std::string request_link(std::string_view portal_url, std::int64_t request_id) {
  std::string_view base = portal_url;
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  return std::string(base) + "/requests/" + std::to_string(request_id);
}

std::string thread_root_id(std::int64_t request_id, std::string_view installation, std::string_view domain) {
  return "request-" + std::to_string(request_id) + "." + std::string(installation) + "@" + std::string(domain);
}

// A database may be named with a line break in it (a quoted identifier):
// it must not forge a line of its own in the mail's text.
std::string one_line(std::string_view text) {
  std::string line(text);
  for (char &c : line)
    if (is_control(static_cast<unsigned char>(c))) c = ' ';
  return line;
}

std::string where_lines(const Where &where) {
  std::string text = "Cluster:       " + one_line(where.cluster) + "\n";
  text += "Host:          " + one_line(where.host) + "\n";
  text += "Database:      " + one_line(where.database) + "\n";
  if (!where.link.empty())
    text += (where.code_mail ? "Enter the code: " : "Open in portal: ") + where.link + "\n";
  return text;
}

}  // namespace mpa::mail
