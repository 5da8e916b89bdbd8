// pg_mpa's own SQLSTATEs (class MP) for the errors its PostgreSQL side
// raises with ereport. The SQL script raises the same codes by name
// ('MP001', ...); src/core/error.hpp has the standard ones C++ throws.
#pragma once

#include "pg/boundary/postgres.hpp"

namespace mpa::pg::sqlstates {

// MP001: the statement needs a team's approval, or is refused outright
// because it would change or reach pg_mpa's own objects.
inline constexpr int kApprovalRequired = MAKE_SQLSTATE('M', 'P', '0', '0', '1');
// MP003: not yours (not the requester, not an approver of the team).
inline constexpr int kNotYours = MAKE_SQLSTATE('M', 'P', '0', '0', '3');
// MP004: the request is not in a state that allows this (not approved, spent).
inline constexpr int kRequestState = MAKE_SQLSTATE('M', 'P', '0', '0', '4');
// MP007: pg_mpa will not take the statement as written: one statement for
// two teams' objects, a statement it cannot read the strings of
// (standard_conforming_strings = off), a prepared transaction holding its
// state, a request carrying a password. Another form does what was meant
// (the HINT says which).
inline constexpr int kNotAsWritten = MAKE_SQLSTATE('M', 'P', '0', '0', '7');
// MP010: an internal function of pg_mpa called from outside pg_mpa.
inline constexpr int kInternalFunction = MAKE_SQLSTATE('M', 'P', '0', '1', '0');
// MPR00: raised to end a configuration rehearsal (caught by create_request).
inline constexpr int kRehearsalOver = MAKE_SQLSTATE('M', 'P', 'R', '0', '0');

}  // namespace mpa::pg::sqlstates
