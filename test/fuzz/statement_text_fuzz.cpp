// libFuzzer target for statement normalisation (core/statement_text): for any
// bytes, normalize_statement either refuses with mpa::Error (anything else
// escaping is a bug) or returns text that is its own normal form and that
// has no leading or trailing space or semicolon.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/statement_text.hpp"

namespace {

void require(bool holds, const char *invariant) {
  if (holds) return;
  std::fprintf(stderr, "statement_text_fuzz: invariant broken: %s\n", invariant);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  const std::string_view sql(reinterpret_cast<const char *>(data), size);
  std::string once;
  try {
    once = mpa::sql::normalize_statement(sql);
  } catch (const mpa::Error &) {
    return 0;  // unterminated literal or comment, or an empty statement: refused, as it should be
  }
  require(!once.empty(), "a normalised statement is never empty");
  require(once.front() != ' ' && once.back() != ' ' && once.back() != ';',
          "no leading space, no trailing space or semicolon");
  require(once.size() <= sql.size(), "normalising never makes a statement longer");
  std::string twice;
  try {
    twice = mpa::sql::normalize_statement(once);
  } catch (const mpa::Error &) {
    require(false, "a normalised statement normalises again");
  }
  require(twice == once, "normalisation is idempotent");
  require(mpa::sql::fingerprint(once).size() == 64, "a fingerprint is 64 hex digits");
  return 0;
}
