// A string written as a JSON string literal, shared by everything pg_mpa
// writes as text for other programs to read (the audit export, the server
// log's event lines).
#pragma once

#include <string>
#include <string_view>

namespace mpa::json {

// Appends `text` to `out` as a JSON string: quotes, backslashes and control
// characters escaped (\", \\, \n, \r, \t, \u00XX); every other byte as it is
// (UTF-8 stays readable; invalid UTF-8 goes through unchanged, byte for
// byte).
void append_string(std::string &out, std::string_view text);

}  // namespace mpa::json
