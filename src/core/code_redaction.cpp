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

bool executed_statement_name(const char *text, char *out, unsigned long capacity) noexcept {
  if (text == nullptr || capacity == 0) return false;
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; };
  while (blank(*text)) ++text;
  if (!starts_with_ignoring_case(text, "execute") || !blank(text[7])) return false;
  text += 7;
  while (blank(*text)) ++text;
  unsigned long length = 0;
  if (*text == '"') {
    for (++text; *text && *text != '"'; ++text) {
      if (length + 1 == capacity) return false;
      out[length++] = *text;
    }
    if (*text != '"') return false;
  } else {
    for (; (*text >= 'a' && *text <= 'z') || (*text >= 'A' && *text <= 'Z') || is_digit(*text) || *text == '_' ||
           *text == '$';
         ++text) {
      if (length + 1 == capacity) return false;
      out[length++] = lower(*text);
    }
  }
  out[length] = '\0';
  return length > 0;
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
