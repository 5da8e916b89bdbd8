// Reading SQL arguments into C++ values. Every argument from SQL is hostile:
// NULLs and oversized values get a clear error naming the argument before
// any work is done.
#pragma once

#include <cstddef>
#include <string>

#include "pg/boundary/postgres.hpp"

namespace mpa::pg {

// The text argument `index`, named `name` in errors; refuses NULL and values
// longer than max_bytes.
std::string text_argument(FunctionCallInfo fcinfo, int index, const char *name,
                          std::size_t max_bytes);

}  // namespace mpa::pg
