#include "pg/boundary/arguments.hpp"

#include "core/error.hpp"
#include "pg/boundary/guard.hpp"

extern "C" {
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

}  // namespace mpa::pg
