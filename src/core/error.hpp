// The one error type that crosses from pg_mpa's C++ code towards PostgreSQL.
//
// Core code knows nothing of PostgreSQL, so the SQLSTATE travels as its
// five-character text form ("22023"); the adapter in src/pg/ turns it into an
// ereport() once every C++ object on the stack has been destroyed.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace mpa {

// SQLSTATEs used by core rules. pg_mpa's own class "MP" is for refusals that
// only pg_mpa makes (the gate, the approval rules).
namespace sqlstate {
inline constexpr const char *kInvalidParameterValue = "22023";
inline constexpr const char *kNullValueNotAllowed = "22004";
inline constexpr const char *kStringDataRightTruncation = "22001";
inline constexpr const char *kInternalError = "XX000";
inline constexpr const char *kOutOfMemory = "53200";
}  // namespace sqlstate

class Error : public std::runtime_error {
 public:
  Error(std::string sqlstate, const std::string &message, std::string detail = {},
        std::string hint = {})
      : std::runtime_error(message),
        sqlstate_(std::move(sqlstate)),
        detail_(std::move(detail)),
        hint_(std::move(hint)) {}

  const std::string &sqlstate() const noexcept { return sqlstate_; }
  const std::string &detail() const noexcept { return detail_; }
  const std::string &hint() const noexcept { return hint_; }

 private:
  std::string sqlstate_;
  std::string detail_;
  std::string hint_;
};

}  // namespace mpa
