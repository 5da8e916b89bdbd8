#include "pg/policy_cache.hpp"

#include <cstring>
#include <string>
#include <vector>

#include "core/policy.hpp"
#include "pg/guard.hpp"
#include "pg/configuration.hpp"
#include "pg/internal_sql.hpp"
#include "pg/self_protection.hpp"
#include "pg/shared_state.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "utils/lsyscache.h"
}

namespace mpa::pg {
namespace {

struct CachedPolicy {
  int64 id;
  char *operation;
  char *object;
  char *team;
};

// Lives in cache_context, which is reset at every reload.
MemoryContext cache_context = nullptr;
CachedPolicy *policies = nullptr;
int policy_count = 0;
uint64 loaded_generation = 0;  // 0: nothing loaded

// Whether pg_mpa is installed here, with its tables (not while its own
// CREATE EXTENSION script is still creating them).
bool policies_table_exists() {
  if (!OidIsValid(get_extension_oid("pg_mpa", true))) return false;
  Oid schema = get_namespace_oid("mpa", true);
  return OidIsValid(schema) && OidIsValid(get_relname_relid("policies", schema));
}

void load_policies() {
  if (!policies_table_exists()) return;
  auto body = [] {
    SPI_connect();
    if (SPI_execute("SELECT id, operation, object, team FROM mpa.policies", true, 0) != SPI_OK_SELECT)
      elog(ERROR, "pg_mpa: cannot read mpa.policies");
    MemoryContext spi = MemoryContextSwitchTo(cache_context);
    policy_count = static_cast<int>(SPI_processed);
    policies = static_cast<CachedPolicy *>(palloc0(sizeof(CachedPolicy) * (policy_count + 1)));
    for (int i = 0; i < policy_count; i++) {
      HeapTuple row = SPI_tuptable->vals[i];
      TupleDesc desc = SPI_tuptable->tupdesc;
      bool is_null;
      policies[i] = CachedPolicy{DatumGetInt64(SPI_getbinval(row, desc, 1, &is_null)),
                                 SPI_getvalue(row, desc, 2), SPI_getvalue(row, desc, 3),
                                 SPI_getvalue(row, desc, 4)};
    }
    MemoryContextSwitchTo(spi);
    SPI_finish();
  };
  with_pg_mpa_privileges(body);
}

void ensure_fresh() {
  uint64 generation = pg_atomic_read_u64(&shared_state()->policy_generation);
  if (generation == loaded_generation) return;
  if (cache_context == nullptr)
    cache_context = AllocSetContextCreate(TopMemoryContext, "pg_mpa policies", ALLOCSET_SMALL_SIZES);
  MemoryContextReset(cache_context);
  policies = nullptr;
  policy_count = 0;
  loaded_generation = 0;
  load_policies();
  loaded_generation = generation;
}

// C++ core behind a PostgreSQL-style call: the team of the most specific
// policy for one target, copied into palloc'd memory; nullptr if none.
const char *team_for(const char *operation, const char *schema, const char *name) {
  return run_cpp([&]() -> const char * {
    std::vector<policy::Policy> candidates;
    for (int i = 0; i < policy_count; i++)
      if (std::strcmp(policies[i].operation, operation) == 0)
        candidates.push_back({policies[i].id, policies[i].operation, policies[i].object, policies[i].team});
    const policy::Policy *match = policy::match(candidates, operation, policy::ObjectName{schema, name});
    if (match == nullptr) return nullptr;
    std::string team = match->team;
    return call_postgres([&team] { return pstrdup(team.c_str()); });
  });
}

}  // namespace

void forget_cached_policies() { loaded_generation = 0; }

bool operation_is_protected(const char *operation) {
  ensure_fresh();
  for (int i = 0; i < policy_count; i++)
    if (std::strcmp(policies[i].operation, operation) == 0) return true;
  return false;
}

const char *configuration_team() {
  ensure_fresh();
  const char *team = nullptr;
  for (int i = 0; i < policy_count; i++) {
    if (std::strcmp(policies[i].operation, kConfigureOperation) != 0) continue;
    if (std::strcmp(policies[i].object, "*") == 0) return policies[i].team;
    if (team == nullptr) team = policies[i].team;
  }
  return team;
}

const char *governing_team(const StatementDescription &description, int *target_index) {
  *target_index = -1;
  bool protected_operation = operation_is_protected(description.operation);
  const char *pg_mpa_team = configuration_team();
  if (!protected_operation && pg_mpa_team == nullptr) return nullptr;
  if (description.target_count == 0)
    return protected_operation ? team_for(description.operation, "", "") : nullptr;
  const char *team = nullptr;
  for (int i = 0; i < description.target_count; i++) {
    const StatementTarget &target = description.targets[i];
    const char *target_team = pg_mpa_team && is_pg_mpa_object(target.class_id, target.object_id)
                                  ? pg_mpa_team
                                  : protected_operation ? team_for(description.operation, target.schema, target.name)
                                                        : nullptr;
    if (target_team == nullptr) continue;
    if (team == nullptr) {
      team = target_team;
      *target_index = i;
    } else if (std::strcmp(team, target_team) != 0) {
      ereport(ERROR,
              (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
               errmsg("%s on %s and %s needs the approval of two teams (\"%s\" and \"%s\")",
                      description.operation, target_display_name(description.targets[*target_index]),
                      target_display_name(target), team, target_team),
               errhint("Split the statement so that each team approves its own objects.")));
    }
  }
  return team;
}

}  // namespace mpa::pg
