#include "pg/policy_cache.hpp"

#include <cstring>
#include <string>
#include <vector>

#include "core/policy.hpp"
#include "pg/guard.hpp"
#include "pg/configuration.hpp"
#include "pg/installation.hpp"
#include "pg/internal_sql.hpp"
#include "pg/self_protection.hpp"
#include "pg/shared_state.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "catalog/pg_namespace_d.h"
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

// C++ core behind a PostgreSQL-style call.
bool cluster_wide(const char *operation) {
  return run_cpp([operation] { return policy::is_cluster_wide_operation(operation); });
}

void copy_into(char *target, std::size_t size, const char *source) { strlcpy(target, source, size); }

// Copies this backend's policies on cluster-wide operations into shared
// memory, for the gate in the other databases.
void publish_cluster_policies(uint64 generation) {
  SharedState *state = shared_state();
  LWLockAcquire(state->cluster_policies_lock, LW_EXCLUSIVE);
  if (state->cluster_policies_generation > generation) {  // a newer copy is there already
    LWLockRelease(state->cluster_policies_lock);
    return;
  }
  int count = 0;
  for (int i = 0; i < policy_count; i++) {
    // MPA CONFIGURE too: pg_mpa's settings can be changed from any database.
    if (!cluster_wide(policies[i].operation) && strcmp(policies[i].operation, kConfigureOperation) != 0)
      continue;
    if (count == kClusterPolicySlots) {
      ereport(WARNING, (errmsg("pg_mpa gates at most %d cluster-wide policies in other databases",
                               kClusterPolicySlots)));
      break;
    }
    ClusterPolicy &slot = state->cluster_policies[count++];
    slot.id = policies[i].id;
    copy_into(slot.operation, sizeof slot.operation, policies[i].operation);
    copy_into(slot.object, sizeof slot.object, policies[i].object);
    copy_into(slot.team, sizeof slot.team, policies[i].team);
  }
  state->cluster_policy_count = count;
  state->cluster_policies_generation = generation;
  LWLockRelease(state->cluster_policies_lock);
}

// In mpa.database: the policies table. Returns the generation loaded.
uint64 load_from_table(uint64 generation) {
  if (!policies_table_exists()) return generation;
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
  publish_cluster_policies(generation);
  return generation;
}

// Elsewhere: the cluster-wide policies mpa.database published. Returns the
// generation they were read at (older than the current one until a backend
// of mpa.database, at the latest the mail worker, publishes again).
uint64 load_from_shared_memory() {
  SharedState *state = shared_state();
  LWLockAcquire(state->cluster_policies_lock, LW_SHARED);
  uint64 generation = state->cluster_policies_generation;
  policy_count = state->cluster_policy_count;
  policies = static_cast<CachedPolicy *>(MemoryContextAllocZero(cache_context, sizeof(CachedPolicy) * (policy_count + 1)));
  for (int i = 0; i < policy_count; i++) {
    const ClusterPolicy &slot = state->cluster_policies[i];
    policies[i] = CachedPolicy{slot.id, MemoryContextStrdup(cache_context, slot.operation),
                               MemoryContextStrdup(cache_context, slot.object),
                               MemoryContextStrdup(cache_context, slot.team)};
  }
  LWLockRelease(state->cluster_policies_lock);
  return generation;
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
  loaded_generation = in_mpa_database() ? load_from_table(generation) : load_from_shared_memory();
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

void refresh_policies() { ensure_fresh(); }

bool operation_is_protected(const char *operation) {
  ensure_fresh();
  for (int i = 0; i < policy_count; i++)
    if (std::strcmp(policies[i].operation, operation) == 0) return true;
  return false;
}

bool policies_exist() {
  ensure_fresh();
  return policy_count > 0;
}

const char *team_guarding_names(const StatementDescription &description, bool leaves_schema,
                                int *target_index) {
  *target_index = -1;
  if (!policies_exist()) return nullptr;
  int found = -1;
  const char *team = run_cpp([&]() -> const char * {
    std::vector<policy::Policy> all;
    for (int i = 0; i < policy_count; i++)
      all.push_back({policies[i].id, policies[i].operation, policies[i].object, policies[i].team});
    for (int i = 0; i < description.target_count; i++) {
      const StatementTarget &target = description.targets[i];
      const policy::Policy *escaped =
          policy::escaped_by_renaming(all, policy::ObjectName{target.schema, target.name},
                                      target.class_id == NamespaceRelationId, leaves_schema);
      if (escaped == nullptr) continue;
      found = i;
      std::string name = escaped->team;
      return call_postgres([&name] { return pstrdup(name.c_str()); });
    }
    return nullptr;
  });
  *target_index = found;
  return team;
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
  if (pg_mpa_team != nullptr && description.changes_pg_mpa_setup) return pg_mpa_team;
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

const char *approving_team(const StatementDescription &description, int *target_index) {
  const char *team = governing_team(description, target_index);
  if (team != nullptr || description.name_change == NameChange::None) return team;
  return team_guarding_names(description, description.name_change == NameChange::Move, target_index);
}

}  // namespace mpa::pg
