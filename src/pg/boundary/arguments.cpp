#include "pg/boundary/arguments.hpp"

#include "core/error.hpp"
#include "pg/boundary/guard.hpp"

extern "C" {
#include "commands/dbcommands.h"
#include "utils/builtins.h"
}

namespace mpa::pg {

std::string text_argument(FunctionCallInfo fcinfo, int index, const char *name,
                          std::size_t max_bytes) {
  if (PG_ARGISNULL(index))
    throw mpa::Error(sqlstate::kNullValueNotAllowed, std::string(name) + " must not be NULL");
  text *value = call_postgres([fcinfo, index] { return PG_GETARG_TEXT_PP(index); });
  std::size_t length = VARSIZE_ANY_EXHDR(value);
  if (length > max_bytes)
    throw mpa::Error(sqlstate::kStringDataRightTruncation,
                     std::string(name) + " is too long (" + std::to_string(length) +
                         " bytes, at most " + std::to_string(max_bytes) + ")");
  return std::string(VARDATA_ANY(value), length);
}

void check_database_name(const std::string &database, const char *hint) {
  // 1 to 63 bytes (NAMEDATALEN - 1).
  if (database.empty() || database.size() >= NAMEDATALEN || database.find_first_of("\r\n") != std::string::npos)
    throw mpa::Error(sqlstate::kInvalidParameterValue, "invalid database name", "", hint);
  if (!call_postgres([&database] { return OidIsValid(get_database_oid(database.c_str(), true)); }))
    throw mpa::Error(sqlstate::kInvalidParameterValue, "database \"" + database + "\" does not exist", "", hint);
}

}  // namespace mpa::pg
