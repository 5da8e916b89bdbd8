// Keeping one-time codes out of the server log. An approver types the code
// into `SELECT mpa_verify(…, '123456')` (or mpa_confirm_email); with
// log_statement, log_duration or an error, PostgreSQL would write that text
// to the log. pg_mpa's log hook blanks every six-digit run in log text that
// mentions a function that takes a code.
//
// These run inside PostgreSQL's log hook, where nothing may allocate, throw
// or fail: they work in place on C strings and are noexcept.
#pragma once

namespace mpa::otp {

// Whether `text` (NUL-terminated, may be null) calls mpa_verify or
// mpa_confirm_email, in any case.
bool mentions_code_entry(const char *text) noexcept;

// Replaces, in place, every run of exactly six ASCII digits in `text` (may
// be null) with "******". Runs of other lengths (request ids, timestamps)
// are left alone. Returns whether anything was blanked.
bool blank_six_digit_runs(char *text) noexcept;

// The name of the prepared statement `text` executes ("EXECUTE name(...)",
// any case, leading blanks; a "quoted name" taken as written, an unquoted
// one folded to lower case) copied into `out` (NUL-terminated, at most
// capacity - 1 bytes); false when `text` is no EXECUTE or the name does not fit.
bool executed_statement_name(const char *text, char *out, unsigned long capacity) noexcept;

// blank_six_digit_runs(text), only when the text mentions one of them.
bool redact_codes_in_place(char *text) noexcept;

}  // namespace mpa::otp
