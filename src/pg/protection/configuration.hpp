// Governed configuration (docs/decisions.md: "Once a team governs, every
// configuration change is itself a protected operation of that team").
// A team governs once a policy protects the pseudo-command MPA CONFIGURE
// ('*' or one function's name). A change is then requested as
//   SELECT mpa_request($$SELECT mpa_approver_add('ops', 'dave', 'd@x.org')$$, 'why');
// and, once approved, run by the requester with mpa_execute(id): pg_mpa runs
// exactly the approved call, and only while it runs do the configuration
// functions accept to change anything.
#pragma once

#include "pg/boundary/postgres.hpp"

extern "C" {
#include "nodes/parsenodes.h"
}

namespace mpa::pg {

inline constexpr const char *kConfigureOperation = "MPA CONFIGURE";

// The configuration function a request statement calls, if it is exactly
// "SELECT <configuration function>(<constants>)" where the function,
// resolved with pg_catalog and pg_mpa's schema only, is pg_mpa's own (by
// OID) and each argument a constant of a built-in type; nullptr otherwise.
// The same check is made again, on the plan, when the call runs.
const char *configuration_call(RawStmt *raw, const char *text);

// Whether a requested configuration call is being rehearsed (run to see
// that it can run, then rolled back): what it does is no event.
bool rehearsing_configuration();

}  // namespace mpa::pg
