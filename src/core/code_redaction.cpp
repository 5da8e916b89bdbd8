#include "core/code_redaction.hpp"

#include <cstddef>

namespace mpa::otp {
namespace {

// The public functions that take a code.
constexpr const char *kEntryFunctions[] = {"mpa_verify", "mpa_confirm_email"};

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool starts_with_ignoring_case(const char *text, const char *prefix) noexcept {
  for (; *prefix; ++text, ++prefix)
    if (lower(*text) != *prefix) return false;
  return true;
}

}  // namespace

bool mentions_code_entry(const char *text) noexcept {
  if (text == nullptr) return false;
  for (; *text; ++text)
    for (const char *function : kEntryFunctions)
      if (starts_with_ignoring_case(text, function)) return true;
  return false;
}

bool redact_codes_in_place(char *text) noexcept {
  return mentions_code_entry(text) && blank_six_digit_runs(text);
}

bool blank_six_digit_runs(char *text) noexcept {
  if (text == nullptr) return false;
  bool redacted = false;
  std::size_t i = 0;
  while (text[i]) {
    if (!is_digit(text[i])) {
      ++i;
      continue;
    }
    std::size_t start = i;
    while (is_digit(text[i])) ++i;
    if (i - start == 6) {
      for (std::size_t j = start; j < i; ++j) text[j] = '*';
      redacted = true;
    }
  }
  return redacted;
}

}  // namespace mpa::otp
