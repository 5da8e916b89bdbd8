// A secret read from a file of its own (mpa.smtp_password_file), so that it
// need not sit in postgresql.conf, which Debian creates world-readable.
// The file is trusted the way PostgreSQL trusts ssl_key_file: a regular
// file owned by the server's user that no one else may read or write.
// No PostgreSQL here: the mail worker calls it as it connects.
#pragma once

#include <cstddef>
#include <string>

namespace mpa::secrets {

// A longer file is refused: a secret is a line, not a document (and the
// file is read in full each time the worker connects).
inline constexpr std::size_t kMaxSecretFileBytes = 4096;

// The secret in a file's contents: one line, its line end ("\n" or
// "\r\n") stripped. Throws mpa::Error (22023) when the contents are empty,
// hold more than one line or a NUL byte; the message never quotes them.
std::string secret_from_contents(std::string contents);

// Opens `path`, checks the open file (fstat: no race with a rename) is a
// regular file owned by this process's effective user with no group or
// other permission bits, no longer than kMaxSecretFileBytes, and returns
// secret_from_contents() of it. Throws mpa::Error (22023) naming the path
// and the reason.
std::string read_secret_file(const std::string &path);

}  // namespace mpa::secrets
