// The gate: refuses protected statements that have no approved request, and
// lets an approved one through once, spending its approval in the same
// transaction (so a statement that fails or rolls back leaves it unspent).
#pragma once

namespace mpa::pg {

// Chains pg_mpa into ProcessUtility_hook (from _PG_init).
void install_gate();

}  // namespace mpa::pg
