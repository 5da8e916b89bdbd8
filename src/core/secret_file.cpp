#include "core/secret_file.hpp"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.hpp"

namespace mpa::secrets {
namespace {

[[noreturn]] void refuse(const std::string &path, const std::string &reason) {
  throw mpa::Error(sqlstate::kInvalidParameterValue, "password file \"" + path + "\" " + reason);
}

// Closes the file however the read ends.
struct OpenFile {
  int fd;
  ~OpenFile() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

std::string secret_from_contents(std::string contents) {
  if (!contents.empty() && contents.back() == '\n') {
    contents.pop_back();
    if (!contents.empty() && contents.back() == '\r') contents.pop_back();
  }
  if (contents.empty()) throw mpa::Error(sqlstate::kInvalidParameterValue, "is empty");
  if (contents.find_first_of("\r\n") != std::string::npos)
    throw mpa::Error(sqlstate::kInvalidParameterValue, "holds more than one line");
  if (contents.find('\0') != std::string::npos)
    throw mpa::Error(sqlstate::kInvalidParameterValue, "holds a NUL byte");
  return contents;
}

std::string read_secret_file(const std::string &path) {
  OpenFile file{open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)};
  if (file.fd < 0) refuse(path, std::string("cannot be opened: ") + std::strerror(errno));
  struct stat st;
  if (fstat(file.fd, &st) != 0) refuse(path, std::string("cannot be examined: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) refuse(path, "is not a regular file");
  if (st.st_uid != geteuid()) refuse(path, "must be owned by the database server's user");
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
    refuse(path, "has group or other access; it must be u=rw (0600) or less");
  const std::string too_long = "is longer than " + std::to_string(kMaxSecretFileBytes) + " bytes";
  if (static_cast<unsigned long long>(st.st_size) > kMaxSecretFileBytes) refuse(path, too_long);
  std::string contents;
  char buffer[512];
  for (;;) {
    ssize_t got = read(file.fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) refuse(path, std::string("cannot be read: ") + std::strerror(errno));
    if (got == 0) break;
    contents.append(buffer, static_cast<std::size_t>(got));
    // It may have grown since fstat.
    if (contents.size() > kMaxSecretFileBytes) refuse(path, too_long);
  }
  try {
    return secret_from_contents(std::move(contents));
  } catch (const mpa::Error &e) {
    refuse(path, e.what());
  }
}

}  // namespace mpa::secrets
