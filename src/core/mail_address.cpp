#include "core/mail_address.hpp"
#include "core/character_names.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace mpa::mail {
namespace {

[[noreturn]] void refuse(const std::string &reason) {
  throw Error(sqlstate::kInvalidParameterValue, "invalid e-mail address: " + reason);
}

bool contains_any(std::string_view text, std::string_view characters) {
  return text.find_first_of(characters) != std::string_view::npos;
}

bool is_ascii_letter_or_digit(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// RFC 5322 atext: the characters of an unquoted local part, besides dots.
bool is_atext(char c) {
  constexpr std::string_view kAtextSymbols = "!#$%&'*+-/=?^_`{|}~";
  return is_ascii_letter_or_digit(c) || kAtextSymbols.find(c) != std::string_view::npos;
}

// Refuses what cannot be a single bare address whatever its parts look like.
void check_overall_form(std::string_view address) {
  if (address.empty()) refuse("must not be empty");
  if (contains_any(address, std::string_view("\r\n\0", 3))) refuse("must not contain line breaks or NUL");
  if (std::any_of(address.begin(), address.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; }))
    refuse("internationalised addresses (non-ASCII characters) are not supported");
  if (contains_any(address, ",;")) refuse("must be a single address, not a list");
  if (contains_any(address, "<> \t"))
    refuse("must be a bare address such as name@example.com, without a display name, angle brackets or spaces");

  const auto at_count = std::count(address.begin(), address.end(), '@');
  if (at_count == 0) refuse("must contain an \"@\"");
  if (at_count > 1) refuse("must contain exactly one \"@\" (quoted local parts are not supported)");

  if (address.size() > kMaxAddressLength)
    refuse("is too long (" + std::to_string(address.size()) + " bytes, at most " + std::to_string(kMaxAddressLength) +
           ")");
}

// Dot-atom: runs of atext separated by single dots.
void check_local_part(std::string_view local) {
  const std::string prefix = "local part (before the \"@\") ";
  if (local.empty()) refuse(prefix + "is empty");
  if (local.size() > kMaxLocalPartLength)
    refuse(prefix + "is too long (" + std::to_string(local.size()) + " bytes, at most " +
           std::to_string(kMaxLocalPartLength) + ")");
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos)
    refuse(prefix + "must not start or end with a dot or contain two dots in a row");
  for (char c : local)
    if (c != '.' && !is_atext(c)) refuse(prefix + "contains " + describe_character(c) + ", which is not allowed");
}

void check_domain_label(std::string_view label, const std::string &prefix) {
  if (label.empty()) refuse(prefix + "must not start or end with a dot or contain two dots in a row");
  if (label.size() > kMaxDomainLabelLength)
    refuse(prefix + "has a label longer than " + std::to_string(kMaxDomainLabelLength) + " characters");
  for (char c : label)
    if (c != '-' && !is_ascii_letter_or_digit(c))
      refuse(prefix + "contains " + describe_character(c) + " (only letters, digits, hyphens and dots are allowed)");
  if (label.front() == '-' || label.back() == '-') refuse(prefix + "has a label that starts or ends with a hyphen");
}

// Dot-separated letter-digit-hyphen labels, at least two of them: mail for a
// single-label or IP-literal domain is a configuration mistake, not an address.
void check_domain(std::string_view domain) {
  const std::string prefix = "domain (after the \"@\") ";
  if (domain.empty()) refuse(prefix + "is empty");
  if (domain.find('.') == std::string_view::npos) refuse(prefix + "must contain a dot, as in example.com");

  std::string_view last_label;
  std::size_t label_start = 0;
  while (true) {
    const std::size_t dot = domain.find('.', label_start);
    last_label = domain.substr(label_start, dot == std::string_view::npos ? std::string_view::npos : dot - label_start);
    check_domain_label(last_label, prefix);
    if (dot == std::string_view::npos) break;
    label_start = dot + 1;
  }
  // An all-numeric top-level label means an IP address was typed; RFC 3696
  // section 2 rules such top-level domains out.
  if (std::all_of(last_label.begin(), last_label.end(), [](char c) { return c >= '0' && c <= '9'; }))
    refuse(prefix + "must end in a name, not a number (IP addresses are not accepted)");
}

}  // namespace

void validate_address(std::string_view address) {
  check_overall_form(address);
  const std::size_t at = address.find('@');
  check_local_part(address.substr(0, at));
  check_domain(address.substr(at + 1));
}

std::string mask_address(std::string_view address) {
  constexpr std::string_view kHidden = "***";
  const std::size_t at = address.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 >= address.size()) return std::string(kHidden);

  const std::string_view domain = address.substr(at + 1);
  const std::size_t last_dot = domain.rfind('.');
  const std::string_view top_level = last_dot == std::string_view::npos ? std::string_view() : domain.substr(last_dot);

  std::string masked;
  masked += address.front();
  masked += kHidden;
  masked += '@';
  masked += domain.front();
  masked += kHidden;
  masked += top_level;
  return masked;
}

}  // namespace mpa::mail
