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

// Refuses (22023, with `hint`) a database name that is empty, longer than
// PostgreSQL's names (it would be truncated into another), holds CR or LF,
// or names no database of the cluster.
void check_database_name(const std::string &database, const char *hint);

}  // namespace mpa::pg
