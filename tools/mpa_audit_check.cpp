// mpa_audit_check: checks an export of pg_mpa's audit chain away from the
// database (README, "Retention and audit export").
//
//   psql -XAt -c 'SELECT line FROM mpa_audit_export()' > audit.jsonl
//   mpa_audit_check [--after 'entry N, SHA-256 H'] [--head 'entry N, SHA-256 H'] audit.jsonl
//
// Recomputes every entry's hash with pg_mpa's own code (src/core/audit_chain)
// and follows the links. --after: the export continues an earlier one, which
// ended with that entry. --head: the chain head a mail of pg_mpa carried; the
// entry there must be in the export with that hash. Reads standard input for
// "-" or no file. Prints one line; exits 0 when intact (and the head
// matches), 1 when not, 2 on a usage or read error.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>

#include "core/audit_export.hpp"

namespace {

int usage(const char *problem) {
  std::cerr << "mpa_audit_check: " << problem << "\n"
            << "usage: mpa_audit_check [--after 'entry N, SHA-256 H'] [--head 'entry N, SHA-256 H'] [FILE]\n"
            << "  (N:H is accepted for either)\n";
  return 2;
}

}  // namespace

int main(int argc, char **argv) {
  std::optional<mpa::audit::ChainPoint> after, head;
  const char *path = nullptr;
  for (int i = 1; i < argc; i++) {
    bool is_after = std::strcmp(argv[i], "--after") == 0;
    if (is_after || std::strcmp(argv[i], "--head") == 0) {
      if (i + 1 == argc) return usage("an option lacks its value");
      auto point = mpa::audit::parse_chain_point(argv[++i]);
      if (!point) return usage("a chain position is 'entry N, SHA-256 <64 hex digits>' or N:<64 hex digits>");
      (is_after ? after : head) = *point;
    } else if (argv[i][0] == '-' && std::strcmp(argv[i], "-") != 0) {
      return usage("unknown option");
    } else if (path != nullptr) {
      return usage("one file at a time");
    } else {
      path = argv[i];
    }
  }
  std::ifstream file;
  bool from_stdin = path == nullptr || std::strcmp(path, "-") == 0;
  if (!from_stdin) {
    file.open(path, std::ios::binary);
    if (!file) {
      std::cerr << "mpa_audit_check: cannot read " << path << ": " << std::strerror(errno) << "\n";
      return 2;
    }
  }
  std::istream &in = from_stdin ? std::cin : file;
  try {
    mpa::audit::ExportChecker checker(after, head);
    std::string line;
    while (std::getline(in, line))
      if (!checker.add_line(line)) break;
    if (in.bad()) {
      std::cerr << "mpa_audit_check: read error\n";
      return 2;
    }
    mpa::audit::ExportVerdict verdict = checker.verdict();
    std::cout << verdict.message << "\n";
    return verdict.intact ? 0 : 1;
  } catch (const std::exception &e) {  // OpenSSL failed, or out of memory
    std::cerr << "mpa_audit_check: " << e.what() << "\n";
    return 2;
  }
}
