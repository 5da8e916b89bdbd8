// Whether a libpq connection string (the CONNECTION of CREATE/ALTER
// SUBSCRIPTION) carries a password: pg_mpa refuses to record one in a
// request, which every role can read (docs/decisions.md, "Secrets in
// statements"). Both forms libpq reads: "key=value ..." and a
// postgres[ql]:// URI. Pure: no PostgreSQL.
#pragma once

#include <string_view>

namespace mpa::conninfo {

// True when `conninfo` gives a password: a `password` keyword, a URI's
// user:password@, or a URI's ?password= parameter. A string pg_mpa cannot
// read as either form counts as carrying one if it mentions "password"
// anywhere (case-insensitively): better a request refused than a secret
// recorded.
bool has_password(std::string_view conninfo);

}  // namespace mpa::conninfo
