// The gate: refuses protected statements that have no approved request, and
// lets an approved one through once, spending its approval in the same
// transaction (so a statement that fails or rolls back leaves it unspent).
#pragma once

#include "pg/boundary/postgres.hpp"

extern "C" {
#include "tcop/utility.h"
}

namespace mpa::pg {

// pg_mpa's ProcessUtility hook (src/pg/hooks/): judges the utility
// statement and runs it with `run_rest` (the rest of the chain), or refuses
// it (MP001).
void gate_utility(ProcessUtility_hook_type run_rest, PlannedStmt *statement, const char *query, bool read_only_tree,
                  ProcessUtilityContext context, ParamListInfo params, QueryEnvironment *query_env,
                  DestReceiver *dest, QueryCompletion *completion);

}  // namespace mpa::pg
