#include "core/conninfo.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>

namespace mpa::conninfo {
namespace {

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

bool mentions_password(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower.find("password") != std::string::npos;
}

// "key=value ..." as libpq's conninfo_parse reads it: blanks around "=",
// values bare (a backslash escapes the next character) or in single quotes
// (likewise). Whether a key is "password" (libpq's keys are lower case and
// matched exactly); nullopt when the text is not of this form.
std::optional<bool> keyword_form_has_password(std::string_view text) {
  std::size_t i = 0;
  const std::size_t n = text.size();
  for (;;) {
    while (i < n && is_space(text[i])) i++;
    if (i == n) return false;
    std::size_t key_start = i;
    while (i < n && text[i] != '=' && !is_space(text[i])) i++;
    std::string_view key = text.substr(key_start, i - key_start);
    while (i < n && is_space(text[i])) i++;
    if (i == n || text[i] != '=' || key.empty()) return std::nullopt;
    i++;
    while (i < n && is_space(text[i])) i++;
    if (key == "password") return true;
    if (i < n && text[i] == '\'') {
      for (i++;; i++) {
        if (i >= n) return std::nullopt;  // unterminated quote
        if (text[i] == '\\') {
          i++;
          continue;
        }
        if (text[i] == '\'') break;
      }
      i++;
    } else {
      while (i < n && !is_space(text[i])) i += text[i] == '\\' ? 2 : 1;
    }
  }
}

// postgres[ql]://[user[:password]@]host.../db?param=value&...
bool uri_has_password(std::string_view uri, std::size_t prefix) {
  std::string_view rest = uri.substr(prefix);
  std::size_t authority_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, authority_end);
  std::size_t at = authority.rfind('@');
  if (at != std::string_view::npos && authority.substr(0, at).find(':') != std::string_view::npos) return true;
  std::size_t query = rest.find('?');
  if (query == std::string_view::npos) return false;
  std::string_view params = rest.substr(query + 1);
  for (std::size_t start = 0; start <= params.size();) {
    std::size_t end = params.find('&', start);
    if (end == std::string_view::npos) end = params.size();
    std::string_view param = params.substr(start, end - start);
    std::size_t eq = param.find('=');
    // Percent-encoded keys are decoded by libpq: "pass%77ord" is password.
    if (mentions_password(param.substr(0, eq)) || param.substr(0, eq).find('%') != std::string_view::npos)
      return true;
    start = end + 1;
  }
  return false;
}

}  // namespace

bool has_password(std::string_view conninfo) {
  for (std::string_view prefix : {"postgresql://", "postgres://"})
    if (conninfo.substr(0, prefix.size()) == prefix) return uri_has_password(conninfo, prefix.size());
  std::optional<bool> keyword = keyword_form_has_password(conninfo);
  return keyword ? *keyword : mentions_password(conninfo);
}

}  // namespace mpa::conninfo
