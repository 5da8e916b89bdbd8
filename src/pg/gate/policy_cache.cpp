#include "pg/gate/policy_cache.hpp"
#include "pg/boundary/sqlstates.hpp"

#include <algorithm>
#include <cstring>

#include "core/policy.hpp"
#include "pg/shared/at_commit.hpp"
#include "pg/protection/configuration.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/startup/installation.hpp"
#include "pg/protection/self_protection.hpp"
#include "pg/shared/shared_state.hpp"
#include "pg/startup/settings.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/parallel.h"
#include "access/xlog.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_database_d.h"
#include "catalog/pg_namespace_d.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "parser/parse_relation.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
}

namespace mpa::pg {
namespace {

struct CachedPolicy {
  int64 id;
  char *operation;
  char *object;
  char *team;
  // mpa.policies.database: nullptr for mpa.database's objects (and, on a
  // cluster-wide operation, every database), "*" for every database's, or
  // another database's name (docs/decisions.md, "Every database").
  char *database;
  // mpa.policies.mode = 'dry-run': never decides a statement, only records
  // what it would have refused (docs/decisions.md, "Policy modes").
  // Published with the flag to the other databases' gates.
  bool dry_run = false;
  // mpa.policies.shared_votes: read at load, to spell the team (below).
  bool shared_votes = false;
};

// Lives in cache_context, which is reset at every reload. Policies are
// sorted by operation (then id) at load, and their patterns parsed once,
// when first needed: the gate and the object access hook look up one
// operation's range and compare values, without parsing or copying
// anything. Most statements only ask whether a policy names their command
// (a SET, a new session's first utility statement, never needs more).
MemoryContext cache_context = nullptr;
CachedPolicy *policies = nullptr;
int policy_count = 0;
// In mpa.database, the policies for the objects of other databases (by
// name, never judged here) and for every database ('*', judged here too,
// unless one for this database overrides them): published for the other
// databases' gates.
CachedPolicy *other_databases_policies = nullptr;
int other_databases_policy_count = 0;
// Elsewhere: whether more policies reach other databases than shared
// memory holds, so that some are missing from this copy. The gate then
// refuses what a policy could name (published_set_incomplete()).
bool copy_incomplete = false;
// Elsewhere: whether a published policy names a database (any, '*'
// included), found at load: DROP DATABASE and ALTER DATABASE ... RENAME are
// judged by the policies for the database they name, which this copy
// leaves out unless it is this one (docs/decisions.md, "Every database").
bool databases_named = false;
char (*missing_operations)[kOperationBytes] = nullptr;  // then: the operations of the missing ones
int missing_operation_count = 0;
// The distinct operations policies name (sorted), each with its range of
// policies and whether one of them names everything ('*'; known once the
// patterns are parsed): a '*' on ALTER SYSTEM must not make every dropped
// table worth a closer look. The gate asks for an operation several times
// per statement, and the object access hook once per dropped object.
struct OperationRange {
  const char *operation;
  int first;
  int count;
  bool names_everything;
};
OperationRange *operations = nullptr;
int operation_count = 0;
// The enforcing policies come first in `policies` (and `patterns`), the
// dry-run ones after them, each part sorted by operation with its own
// ranges: the enforcing lookups see exactly what they saw before dry-run
// existed, and the dry-run ones are asked only when none decides.
int enforcing_policy_count = 0;
OperationRange *dry_run_operations = nullptr;
int dry_run_operation_count = 0;
// Filled by parse_patterns(), on first need after a load.
bool patterns_parsed = false;
policy::PatternView *patterns = nullptr;  // patterns[i] is policies[i]'s
// The schemas policies name (values, sorted): what a cheap look at an
// object's schema can rule out.
const char **named_schemas = nullptr;
int named_schema_count = 0;
// Whether a policy names "pg_temp", as objects in temporary schemas are
// named (every session's).
bool temporary_schemas_named = false;
// The configuration team (see configuration_team()), found at load.
const char *configuring_team = nullptr;
// In mpa.database, the roles that are approvers (distinct, sorted), read
// with the policies: their changes move the policy generation too.
Oid *approver_roles = nullptr;
int approver_role_count = 0;
uint64 loaded_generation = 0;  // 0: nothing loaded
// Whether this backend's copy was read while this server was a standby.
// Replaying the primary's commits moves no policy generation (only commits
// made on this server do), so such a copy can lack every policy, team and
// approver committed on the primary since it was read. So it serves only
// the statement it was read for (read_for_statement): the next one reads
// the policies replayed by then (a session that had read them ran ALTER
// SYSTEM unapproved on the standby after governance had been replayed:
// test/tap/038); and once the server is promoted it is read again (a
// session connected to the standby ran a DROP protected since as if
// unprotected after the failover: test/tap/031). On a primary this stays
// false, and none of it costs anything there.
bool copy_read_in_recovery = false;
// The start of the statement the copy was read for, during recovery (a
// statement inside a function is part of the one that called it: one
// judgement never sees its copy reloaded under it). The gate also drops
// the copy at the start of each judgement (read_policies_anew_in_recovery):
// the statements of one query string share their start.
TimestampTz read_for_statement = 0;
// named_schemas resolved to the OIDs of the schemas that exist (sorted),
// for a look at a statement's names before they are resolved. Resolved
// again after a reload and after any change to pg_namespace (a schema
// created, renamed or dropped), which a syscache callback reports.
Oid *named_schema_oids = nullptr;
int named_schema_oid_count = 0;
bool named_schema_oids_valid = false;

// mpa.policies, or InvalidOid while pg_mpa is not installed here (also
// while its own CREATE EXTENSION script is still creating its tables).
Oid policies_table() {
  if (!OidIsValid(get_extension_oid("pg_mpa", true))) return InvalidOid;
  Oid schema = get_namespace_oid("mpa", true);
  return OidIsValid(schema) ? get_relname_relid("policies", schema) : InvalidOid;
}

// C++ core behind a PostgreSQL-style call.
bool cluster_wide(const char *operation) {
  return run_cpp([operation] { return policy::is_cluster_wide_operation(operation); });
}

// This database's name, read once per backend: a database cannot be
// renamed while anyone is connected to it.
const char *this_database_name() {
  static char *name = nullptr;
  if (name == nullptr) {
    const char *read = get_database_name(MyDatabaseId);
    name = MemoryContextStrdup(TopMemoryContext, read != nullptr ? read : "");
  }
  return name;
}

// Whether a published policy (its database as in its slot) is for this
// database: one on what holds everywhere (""), for every database ("*"),
// or naming this one.
bool slot_is_for_this_database(const char *database) {
  return database[0] == '\0' || std::strcmp(database, "*") == 0 || std::strcmp(database, this_database_name()) == 0;
}

}  // namespace

bool policy_holds_in_every_database(const char *operation) {
  return cluster_wide(operation) || strcmp(operation, kConfigureOperation) == 0;
}

namespace {

void copy_into(char *target, std::size_t size, const char *source) { strlcpy(target, source, size); }

// What was read while this server was a standby, once it no longer is one.
bool read_before_promotion(bool read_in_recovery) { return read_in_recovery && !RecoveryInProgress(); }

// Forgets a copy read during recovery once it is no longer current: after
// the promotion, or at the next statement while recovery goes on.
void forget_copy_no_longer_current() {
  if (!copy_read_in_recovery) return;  // a primary's copy: nothing more to check
  if (RecoveryInProgress()) {
    if (read_for_statement == GetCurrentStatementStartTimestamp()) return;
  } else {
    copy_read_in_recovery = false;
  }
  forget_cached_policies();
}

// The outline of this backend's copy, into shared memory (under the lock).
// The operations of both modes, merged (sorted, distinct): a dry-run
// policy's statement is judged like an enforcing one's.
void publish_outline(PolicyOutline &published) {
  int count = 0, enforcing = 0, dry_run = 0;
  published.complete = true;
  while ((enforcing < operation_count || dry_run < dry_run_operation_count) && published.complete) {
    const char *next;
    if (dry_run == dry_run_operation_count)
      next = operations[enforcing++].operation;
    else if (enforcing == operation_count)
      next = dry_run_operations[dry_run++].operation;
    else {
      int order = std::strcmp(operations[enforcing].operation, dry_run_operations[dry_run].operation);
      next = order <= 0 ? operations[enforcing].operation : dry_run_operations[dry_run].operation;
      if (order <= 0) enforcing++;
      if (order >= 0) dry_run++;
    }
    published.complete = count < kOutlineOperationSlots &&
                         strlcpy(published.operations[count++], next, kOperationBytes) <
                             static_cast<std::size_t>(kOperationBytes);
  }
  published.governed = configuring_team != nullptr;
  published.policy_count = policy_count;
  published.operation_count = count;
}

// In mpa.database, after a load: copies the outline of the policies and
// those on cluster-wide operations into shared memory, for new sessions
// here and for the gate in the other databases.
void publish_policies(uint64 generation, bool read_in_recovery) {
  SharedState *state = shared_state();
  LWLockAcquire(state->cluster_policies_lock, LW_EXCLUSIVE);
  // A newer copy is there already (one read after a promotion is newer than
  // one read before it, at the same generation).
  if (state->cluster_policies_generation > generation ||
      (state->cluster_policies_generation == generation && read_in_recovery &&
       !state->cluster_policies_read_in_recovery)) {
    LWLockRelease(state->cluster_policies_lock);
    return;
  }
  publish_outline(state->outline);
  int count = 0;
  bool complete = true;
  state->missing_operation_count = 0;
  // The policies on what holds in every database (cluster-wide operations,
  // MPA CONFIGURE), then those for other databases or for every one.
  auto publish = [&](const CachedPolicy &policy) {
    if (count == kClusterPolicySlots) {
      // Left out: its operation is listed, for the gates to refuse.
      complete = false;
      int &missing = state->missing_operation_count;
      bool listed = false;
      for (int i = 0; i < missing && !listed; i++) listed = strcmp(state->missing_operations[i], policy.operation) == 0;
      if (!listed && missing < kOutlineOperationSlots) copy_into(state->missing_operations[missing++], kOperationBytes, policy.operation);
      return;
    }
    ClusterPolicy &slot = state->cluster_policies[count++];
    slot.id = policy.id;
    copy_into(slot.database, sizeof slot.database, policy.database != nullptr ? policy.database : "");
    copy_into(slot.operation, sizeof slot.operation, policy.operation);
    copy_into(slot.object, sizeof slot.object, policy.object);
    copy_into(slot.team, sizeof slot.team, policy.team);
    slot.dry_run = policy.dry_run;
  };
  for (int i = 0; i < policy_count; i++)
    if (policies[i].database == nullptr && policy_holds_in_every_database(policies[i].operation)) publish(policies[i]);
  for (int i = 0; i < other_databases_policy_count; i++) publish(other_databases_policies[i]);
  if (!complete)
    ereport(WARNING, (errmsg("more than %d policies reach databases other than \"%s\"", kClusterPolicySlots,
                             settings::database),
                      errdetail("In the other databases, every statement a policy could name is refused."),
                      errhint("Write fewer, broader policies (schema.*, '*').")));
  state->cluster_policies_complete = complete;
  state->cluster_policy_count = count;
  state->approver_roles_complete = approver_role_count <= kApproverRoleSlots;
  state->approver_role_count = std::min(approver_role_count, kApproverRoleSlots);
  memcpy(state->approver_roles, approver_roles, sizeof(Oid) * state->approver_role_count);
  state->cluster_policies_generation = generation;
  state->cluster_policies_read_in_recovery = read_in_recovery;
  LWLockRelease(state->cluster_policies_lock);
}

// A text column of a policy row (every column is NOT NULL), copied into
// the current memory context.
char *text_column(HeapTuple row, TupleDesc desc, AttrNumber column) {
  bool is_null;
  return TextDatumGetCString(heap_getattr(row, column, desc, &is_null));
}

int compare_oids(const void *a, const void *b) {
  Oid left = *static_cast<const Oid *>(a), right = *static_cast<const Oid *>(b);
  return left < right ? -1 : left > right ? 1 : 0;
}

// Appends to a palloc'd array that doubles when full.
template <typename Item>
void append(Item *&items, int &count, int &capacity, const Item &item) {
  if (count == capacity) {
    capacity *= 2;
    items = static_cast<Item *>(repalloc(items, sizeof(Item) * capacity));
  }
  items[count++] = item;
}

// mpa.approvers' roles, read with the policies' snapshot into the cache.
void load_approver_roles(Snapshot snapshot) {
  Oid table = get_relname_relid("approvers", get_namespace_oid("mpa", false));
  if (!OidIsValid(table)) return;  // CREATE EXTENSION is still making the tables
  Relation relation = table_open(table, AccessShareLock);
  AttrNumber approver = attnameAttNum(relation, "approver", false);
  int capacity = 16;
  approver_roles = static_cast<Oid *>(MemoryContextAlloc(cache_context, sizeof(Oid) * capacity));
  SysScanDesc scan = systable_beginscan(relation, InvalidOid, false, snapshot, 0, nullptr);
  for (HeapTuple row; (row = systable_getnext(scan)) != nullptr;) {
    bool is_null;
    append(approver_roles, approver_role_count, capacity,
           DatumGetObjectId(heap_getattr(row, approver, RelationGetDescr(relation), &is_null)));
  }
  systable_endscan(scan);
  table_close(relation, AccessShareLock);
  qsort(approver_roles, approver_role_count, sizeof(Oid), compare_oids);
  int distinct = 0;
  for (int i = 0; i < approver_role_count; i++)
    if (distinct == 0 || approver_roles[distinct - 1] != approver_roles[i]) approver_roles[distinct++] = approver_roles[i];
  approver_role_count = distinct;
}

struct PolicyTeam {
  int64 policy_id;
  char *team;
};

int compare_policy_teams(const void *a, const void *b) {
  const auto *left = static_cast<const PolicyTeam *>(a);
  const auto *right = static_cast<const PolicyTeam *>(b);
  if (left->policy_id != right->policy_id) return left->policy_id < right->policy_id ? -1 : 1;
  return std::strcmp(left->team, right->team);
}

// A policy of several teams (mpa.policy_teams; docs/decisions.md, "Several
// teams"): its team becomes the approving teams as approving_team() says,
// the first team (mpa.policies.team) first, then the others by name,
// joined by ',' or, with shared votes, '&' (neither is allowed in a team's
// name). Runs in cache_context, with the policies' snapshot: no cost to any
// statement, only to a load.
void load_policy_teams(Snapshot snapshot) {
  Oid table = get_relname_relid("policy_teams", get_namespace_oid("mpa", false));
  if (!OidIsValid(table)) return;  // 0.1's tables, or CREATE EXTENSION still making them
  Relation relation = table_open(table, AccessShareLock);
  TupleDesc desc = RelationGetDescr(relation);
  AttrNumber policy_id = attnameAttNum(relation, "policy_id", false), team = attnameAttNum(relation, "team", false);
  int count = 0, capacity = 16;
  auto *rows = static_cast<PolicyTeam *>(palloc(sizeof(PolicyTeam) * capacity));
  SysScanDesc scan = systable_beginscan(relation, InvalidOid, false, snapshot, 0, nullptr);
  for (HeapTuple row; (row = systable_getnext(scan)) != nullptr;) {
    bool is_null;
    append(rows, count, capacity,
           PolicyTeam{DatumGetInt64(heap_getattr(row, policy_id, desc, &is_null)), text_column(row, desc, team)});
  }
  systable_endscan(scan);
  table_close(relation, AccessShareLock);
  if (count == 0) return;
  qsort(rows, count, sizeof(PolicyTeam), compare_policy_teams);
  for (int i = 0; i < policy_count; i++) {
    PolicyTeam key{policies[i].id, nullptr};
    int first = static_cast<int>(
        std::lower_bound(rows, rows + count, key,
                         [](const PolicyTeam &a, const PolicyTeam &b) { return a.policy_id < b.policy_id; }) -
        rows);
    StringInfoData teams;
    initStringInfo(&teams);
    appendStringInfoString(&teams, policies[i].team);
    bool several = false;
    for (int row = first; row < count && rows[row].policy_id == key.policy_id; row++) {
      if (std::strcmp(rows[row].team, policies[i].team) == 0) continue;
      appendStringInfoChar(&teams, policies[i].shared_votes ? '&' : ',');
      appendStringInfoString(&teams, rows[row].team);
      several = true;
    }
    if (several) policies[i].team = teams.data;
  }
}

// In mpa.database: the policies table, as committed when it is read.
//
// The table is read with a snapshot taken now, after the generation was
// read, never with the caller's: a repeatable-read transaction that began
// before a policy was committed would otherwise cache (and publish) the
// table without it, labelled with the new generation, and the gate would
// miss the policy for the rest of the session. It is a catalog snapshot,
// the one kind a backend may take at any time: also in parallel mode (a
// parallel worker, or the leader running a function during a parallel
// query), and without fixing the transaction's snapshot when the load
// comes first (before SET TRANSACTION ISOLATION LEVEL, say). A plain scan,
// without SPI, is also cheaper.
void load_from_table() {
  Oid table = policies_table();
  if (!OidIsValid(table)) return;
  pg_read_barrier();  // the snapshot sees every commit that moved the generation to the one read
  InvalidateCatalogSnapshot();
  Snapshot snapshot = RegisterSnapshot(GetCatalogSnapshot(table));
  Relation relation = table_open(table, AccessShareLock);
  TupleDesc desc = RelationGetDescr(relation);
  AttrNumber id = attnameAttNum(relation, "id", false), operation = attnameAttNum(relation, "operation", false),
             object = attnameAttNum(relation, "object", false), team = attnameAttNum(relation, "team", false);
  // 0.1's mpa.policies has no database column: every policy is this
  // database's (InvalidAttrNumber then).
  AttrNumber database = attnameAttNum(relation, "database", true);
  // Nor a mode: every policy enforces.
  AttrNumber mode = attnameAttNum(relation, "mode", true);
  // Nor shared votes (nor several teams).
  AttrNumber shared_votes = attnameAttNum(relation, "shared_votes", true);
  MemoryContext caller = MemoryContextSwitchTo(cache_context);
  int capacity = 64;
  policies = static_cast<CachedPolicy *>(palloc(sizeof(CachedPolicy) * capacity));
  SysScanDesc scan = systable_beginscan(relation, InvalidOid, false, snapshot, 0, nullptr);
  for (HeapTuple row; (row = systable_getnext(scan)) != nullptr;) {
    bool is_null;
    Datum value = database != InvalidAttrNumber ? heap_getattr(row, database, desc, &is_null) : Datum(0);
    char *database_name = database != InvalidAttrNumber && !is_null ? TextDatumGetCString(value) : nullptr;
    // Defensive: a dry-run row on MPA CONFIGURE (mpa_protect refuses one)
    // still governs.
    char *operation_name = text_column(row, desc, operation);
    bool dry_run = mode != InvalidAttrNumber && std::strcmp(text_column(row, desc, mode), "dry-run") == 0 &&
                   std::strcmp(operation_name, kConfigureOperation) != 0;
    bool shares_votes =
        shared_votes != InvalidAttrNumber && DatumGetBool(heap_getattr(row, shared_votes, desc, &is_null));
    append(policies, policy_count, capacity,
           CachedPolicy{DatumGetInt64(heap_getattr(row, id, desc, &is_null)), operation_name,
                        text_column(row, desc, object), text_column(row, desc, team), database_name, dry_run,
                        shares_votes});
  }
  systable_endscan(scan);
  load_policy_teams(snapshot);
  // The unused part of the last doubling back (10,000 policies: 0.2 MiB);
  // one slot at least, as elsewhere here.
  policies = static_cast<CachedPolicy *>(repalloc(policies, sizeof(CachedPolicy) * (policy_count + 1)));
  MemoryContextSwitchTo(caller);
  table_close(relation, AccessShareLock);
  load_approver_roles(snapshot);
  UnregisterSnapshot(snapshot);
}

// In mpa.database, after load_from_table(): moves the policies for other
// databases (by name) out of the copy judged here, and copies those for
// every database, into other_databases_policies, which publish_policies()
// publishes (whatever of them this copy drops as overridden here).
void set_aside_other_databases_policies() {
  other_databases_policies =
      static_cast<CachedPolicy *>(MemoryContextAlloc(cache_context, sizeof(CachedPolicy) * (policy_count + 1)));
  int kept = 0;
  for (int i = 0; i < policy_count; i++) {
    if (policies[i].database != nullptr) other_databases_policies[other_databases_policy_count++] = policies[i];
    if (policies[i].database == nullptr || std::strcmp(policies[i].database, "*") == 0) policies[kept++] = policies[i];
  }
  policy_count = kept;
}

// Elsewhere: the policies mpa.database published that are for this
// database (cluster-wide ones, those for every database, those naming it). Returns the
// generation they were read at (older than the current one until a backend
// of mpa.database, at the latest the mail worker, publishes again).
uint64 load_from_shared_memory() {
  SharedState *state = shared_state();
  LWLockAcquire(state->cluster_policies_lock, LW_SHARED);
  uint64 generation = state->cluster_policies_generation;
  // Read before a promotion: used until mpa.database publishes again (its
  // worker does in its first round), but not taken as current.
  if (read_before_promotion(state->cluster_policies_read_in_recovery)) generation = 0;
  copy_incomplete = !state->cluster_policies_complete;
  if (copy_incomplete) {
    missing_operation_count = state->missing_operation_count;
    missing_operations = static_cast<char(*)[kOperationBytes]>(
        MemoryContextAlloc(cache_context, sizeof(state->missing_operations[0]) * (missing_operation_count + 1)));
    memcpy(missing_operations, state->missing_operations, sizeof(state->missing_operations[0]) * missing_operation_count);
  }
  policies = static_cast<CachedPolicy *>(
      MemoryContextAllocZero(cache_context, sizeof(CachedPolicy) * (state->cluster_policy_count + 1)));
  for (int i = 0; i < state->cluster_policy_count; i++) {
    const ClusterPolicy &slot = state->cluster_policies[i];
    databases_named |= slot.database[0] != '\0';
    if (!slot_is_for_this_database(slot.database)) continue;
    // Defensive, as at home: MPA CONFIGURE always governs.
    bool dry_run = slot.dry_run && std::strcmp(slot.operation, kConfigureOperation) != 0;
    policies[policy_count++] =
        CachedPolicy{slot.id, MemoryContextStrdup(cache_context, slot.operation),
                     MemoryContextStrdup(cache_context, slot.object), MemoryContextStrdup(cache_context, slot.team),
                     slot.database[0] != '\0' ? MemoryContextStrdup(cache_context, slot.database) : nullptr, dry_run};
  }
  LWLockRelease(state->cluster_policies_lock);
  return generation;
}

int compare_policies(const void *a, const void *b) {
  const auto *left = static_cast<const CachedPolicy *>(a);
  const auto *right = static_cast<const CachedPolicy *>(b);
  if (left->dry_run != right->dry_run) return left->dry_run ? 1 : -1;  // enforcing ones first
  int by_operation = std::strcmp(left->operation, right->operation);
  if (by_operation != 0) return by_operation;
  return left->id < right->id ? -1 : left->id > right->id ? 1 : 0;
}

int compare_strings(const void *a, const void *b) {
  return std::strcmp(*static_cast<const char *const *>(a), *static_cast<const char *const *>(b));
}

// C++ core behind a PostgreSQL-style call: a stored pattern's parts,
// copied into the cache's memory.
policy::PatternView parse_into_cache(const CachedPolicy &cached) {
  return run_cpp([&cached] {
    policy::ParsedPattern parsed = policy::parse_stored_pattern({cached.id, cached.operation, cached.object, cached.team});
    return call_postgres([&parsed, &cached] {
      char *schema = MemoryContextStrdup(cache_context, parsed.schema.c_str());
      char *name = MemoryContextStrdup(cache_context, parsed.name.c_str());
      return policy::PatternView{cached.id, parsed.scope, schema, name};
    });
  });
}

int compare_operation_ranges(const void *key, const void *range) {
  return std::strcmp(static_cast<const char *>(key), static_cast<const OperationRange *>(range)->operation);
}

// The enforcing policies on `operation`, or nullptr if none.
const OperationRange *find_operation(const char *operation) {
  return static_cast<const OperationRange *>(
      bsearch(operation, operations, operation_count, sizeof(OperationRange), compare_operation_ranges));
}

// The dry-run policies on `operation`, or nullptr if none.
const OperationRange *find_dry_run_operation(const char *operation) {
  if (dry_run_operation_count == 0) return nullptr;
  return static_cast<const OperationRange *>(bsearch(operation, dry_run_operations, dry_run_operation_count,
                                                     sizeof(OperationRange), compare_operation_ranges));
}

// Whether a policy of either mode names `operation`: the statement is judged.
bool names_operation(const char *operation) {
  return find_operation(operation) != nullptr || find_dry_run_operation(operation) != nullptr;
}

// The configuration team: of a policy on MPA CONFIGURE for '*', else of the
// first one.
const char *find_configuring_team() {
  const OperationRange *range = find_operation(kConfigureOperation);
  if (range == nullptr) return nullptr;
  for (int i = range->first; i < range->first + range->count; i++)
    if (std::strcmp(policies[i].object, "*") == 0) return policies[i].team;
  return policies[range->first].team;
}

// Whether the policy is for every database (database '*').
bool for_every_database(const CachedPolicy &policy) {
  return policy.database != nullptr && std::strcmp(policy.database, "*") == 0;
}

// Same operation and object together, the one for every database last.
int compare_for_deduplication(const void *a, const void *b) {
  const auto *left = static_cast<const CachedPolicy *>(a);
  const auto *right = static_cast<const CachedPolicy *>(b);
  if (int by = std::strcmp(left->operation, right->operation)) return by;
  if (int by = std::strcmp(left->object, right->object)) return by;
  if (for_every_database(*left) != for_every_database(*right)) return for_every_database(*left) ? 1 : -1;
  return left->id < right->id ? -1 : left->id > right->id ? 1 : 0;
}

// A policy for this database (named, or mpa.database's own) is more
// specific than one for every database on the same operation and object:
// drops the latter from the copy, so that the most specific pattern decides
// among what is left as it always has.
// Returns how many of `items` are kept (moved to its front).
int drop_overridden(CachedPolicy *items, int count) {
  qsort(items, count, sizeof(CachedPolicy), compare_for_deduplication);
  int kept = 0;
  for (int i = 0; i < count; i++) {
    // A dry-run policy here overrides nothing: an enforcing one always wins.
    bool overridden = kept > 0 && for_every_database(items[i]) && !items[kept - 1].dry_run &&
                      std::strcmp(items[kept - 1].operation, items[i].operation) == 0 &&
                      std::strcmp(items[kept - 1].object, items[i].object) == 0;
    if (!overridden) items[kept++] = items[i];
  }
  return kept;
}

void drop_policies_overridden_here() { policy_count = drop_overridden(policies, policy_count); }

// Sorts the loaded policies and lists the operations they name.
void index_policies() {
  if (policy_count == 0) return;
  drop_policies_overridden_here();
  qsort(policies, policy_count, sizeof(CachedPolicy), compare_policies);
  operations = static_cast<OperationRange *>(MemoryContextAlloc(cache_context, sizeof(OperationRange) * policy_count));
  dry_run_operations =
      static_cast<OperationRange *>(MemoryContextAlloc(cache_context, sizeof(OperationRange) * policy_count));
  for (int i = 0; i < policy_count; i++) {
    OperationRange *ranges = policies[i].dry_run ? dry_run_operations : operations;
    int &count = policies[i].dry_run ? dry_run_operation_count : operation_count;
    if (!policies[i].dry_run) enforcing_policy_count = i + 1;
    if (count == 0 || std::strcmp(policies[i].operation, ranges[count - 1].operation) != 0)
      ranges[count++] = OperationRange{policies[i].operation, i, 0, false};
    ranges[count - 1].count++;
  }
  configuring_team = find_configuring_team();
}

// Parses the loaded policies' patterns, marks the operations with a
// policy for everything and lists the schemas policies name. A stored
// pattern that does not parse fails every statement that needs them.
void parse_patterns() {
  patterns = static_cast<policy::PatternView *>(
      MemoryContextAlloc(cache_context, sizeof(policy::PatternView) * (policy_count + 1)));
  named_schemas = static_cast<const char **>(MemoryContextAlloc(cache_context, sizeof(char *) * (policy_count + 1)));
  named_schema_count = 0;  // (from the start again if an earlier attempt failed)
  for (int range = 0; range < operation_count + dry_run_operation_count; range++) {
    OperationRange &operation =
        range < operation_count ? operations[range] : dry_run_operations[range - operation_count];
    for (int i = operation.first; i < operation.first + operation.count; i++) {
      patterns[i] = parse_into_cache(policies[i]);
      if (patterns[i].scope == policy::Scope::Everything)
        operation.names_everything = true;
      else if (!patterns[i].schema.empty())
        named_schemas[named_schema_count++] = patterns[i].schema.data();
    }
  }
  qsort(named_schemas, named_schema_count, sizeof(char *), compare_strings);
  const char *temporary = "pg_temp";
  temporary_schemas_named =
      bsearch(&temporary, named_schemas, named_schema_count, sizeof(char *), compare_strings) != nullptr;
  patterns_parsed = true;
}

// After ensure_fresh(): the patterns, parsed. Never reloads, so what the
// caller holds of the cache stays valid.
void ensure_patterns_parsed() {
  if (!patterns_parsed) parse_patterns();
}

void forget_named_schema_oids(Datum, int, uint32) { named_schema_oids_valid = false; }

void ensure_fresh() {
  forget_copy_no_longer_current();
  uint64 generation = pg_atomic_read_u64(&shared_state()->policy_generation);
  if (generation == loaded_generation) return;
  if (cache_context == nullptr) {
    cache_context = AllocSetContextCreate(TopMemoryContext, "pg_mpa policies", ALLOCSET_SMALL_SIZES);
    CacheRegisterSyscacheCallback(NAMESPACEOID, forget_named_schema_oids, 0);
  }
  MemoryContextReset(cache_context);
  named_schema_oids_valid = false;
  policies = nullptr;
  policy_count = 0;
  other_databases_policies = nullptr;
  other_databases_policy_count = 0;
  copy_incomplete = false;
  databases_named = false;
  missing_operations = nullptr;
  missing_operation_count = 0;
  patterns_parsed = false;
  patterns = nullptr;
  operations = nullptr;
  operation_count = 0;
  enforcing_policy_count = 0;
  dry_run_operations = nullptr;
  dry_run_operation_count = 0;
  named_schemas = nullptr;
  named_schema_count = 0;
  temporary_schemas_named = false;
  configuring_team = nullptr;
  approver_roles = nullptr;
  approver_role_count = 0;
  loaded_generation = 0;
  bool here = in_mpa_database();
  uint64 loaded = generation;
  // Asked before reading: a promotion that ends during the read leaves the
  // copy marked, to be read again.
  bool in_recovery = RecoveryInProgress();
  copy_read_in_recovery |= in_recovery;
  if (in_recovery) read_for_statement = GetCurrentStatementStartTimestamp();
  if (here) {
    load_from_table();
    set_aside_other_databases_policies();
  } else
    loaded = load_from_shared_memory();
  index_policies();
  loaded_generation = loaded;
  // This transaction's own uncommitted changes are in the copy (the session
  // sees them at once), but no other session may see them. (A parallel
  // worker sees its leader's, and does not know whether there are any.)
  if (here && !policy_change_is_pending() && !IsParallelWorker()) publish_policies(loaded, in_recovery);
}

// The gate's first look at a statement asks only whether a policy names its
// command, whether a team governs pg_mpa and whether any policy exists. A
// session whose copy is stale answers that from the outline mpa.database's
// backends publish with each load (the mail worker after every committed
// change), so that a new connection whose first statement is a SET never
// reads mpa.policies. Outside mpa.database the copy is the cluster-wide
// policies in shared memory, cheap to take.
PolicyOutline outline;          // this backend's copy of the published one
uint64 outline_generation = 0;  // its generation; 0: none

// Takes the published outline if it is of `generation`. Never one read
// during recovery: before a promotion it was stale at the next statement
// (replay moves no generation), and after one it is older than the
// promotion.
bool take_published_outline(uint64 generation) {
  SharedState *state = shared_state();
  LWLockAcquire(state->cluster_policies_lock, LW_SHARED);
  const PolicyOutline &published = state->outline;
  bool current = state->cluster_policies_generation == generation && published.complete &&
                 !state->cluster_policies_read_in_recovery;
  if (current) {
    // What precedes the operations, and the operations in use.
    memcpy(&outline, &published, offsetof(PolicyOutline, operations));
    memcpy(outline.operations, published.operations, sizeof outline.operations[0] * outline.operation_count);
    outline_generation = generation;
  }
  LWLockRelease(state->cluster_policies_lock);
  return current;
}

// The outline to answer from, or nullptr to answer from the copy, which is
// then fresh. A transaction with its own policy change pending uses its copy.
const PolicyOutline *current_outline() {
  forget_copy_no_longer_current();
  uint64 generation = pg_atomic_read_u64(&shared_state()->policy_generation);
  if (generation == loaded_generation) return nullptr;
  if (generation == outline_generation) return &outline;
  if (!policy_change_is_pending() && in_mpa_database() && take_published_outline(generation)) return &outline;
  ensure_fresh();
  return nullptr;
}

int compare_operation_names(const void *key, const void *name) {
  return std::strcmp(static_cast<const char *>(key), static_cast<const char *>(name));
}

// Whether some policy names the schema with this OID. Needs the patterns.
bool schema_oid_is_named(Oid schema) {
  if (temporary_schemas_named && isAnyTempNamespace(schema)) return true;
  if (!named_schema_oids_valid) {
    named_schema_oids = static_cast<Oid *>(MemoryContextAlloc(cache_context, sizeof(Oid) * (named_schema_count + 1)));
    named_schema_oid_count = 0;
    for (int i = 0; i < named_schema_count; i++) {
      Oid oid = get_namespace_oid(named_schemas[i], true);
      if (OidIsValid(oid)) named_schema_oids[named_schema_oid_count++] = oid;
    }
    qsort(named_schema_oids, named_schema_oid_count, sizeof(Oid), oid_cmp);
    named_schema_oids_valid = true;
  }
  return bsearch(&schema, named_schema_oids, named_schema_oid_count, sizeof(Oid), oid_cmp) != nullptr;
}

// Whether some policy names the schema `quoted` (as quote_identifier prints
// it). Conservative: a quoted spelling, whose value differs, counts as named.
// Needs the patterns.
bool schema_is_named(const char *quoted) {
  if (quoted[0] == '\0' || std::strchr(quoted, '"') != nullptr) return true;
  return bsearch(&quoted, named_schemas, named_schema_count, sizeof(char *), compare_strings) != nullptr;
}

// The team of the most specific policy on `operation` for one target, or
// nullptr if none.
const char *team_for(const char *operation, const char *schema, const char *name) {
  const OperationRange *range = find_operation(operation);
  if (range == nullptr) return nullptr;
  ensure_patterns_parsed();
  // Only '*' reaches an object in a schema no policy names.
  if (!range->names_everything && !schema_is_named(schema)) return nullptr;
  int best = run_cpp([&] {
    return policy::best_match(patterns + range->first, range->count,
                              policy::object_values(policy::ObjectName{schema, name}));
  });
  return best < 0 ? nullptr : pstrdup(policies[range->first + best].team);
}

}  // namespace

void forget_cached_policies() {
  loaded_generation = 0;
  outline_generation = 0;
}

void read_policies_anew_in_recovery() {
  if (copy_read_in_recovery) forget_cached_policies();
}

void refresh_policies() { ensure_fresh(); }

bool policy_may_be_missing(const char *operation) {
  ensure_fresh();
  for (int i = 0; i < missing_operation_count; i++)
    if (std::strcmp(missing_operations[i], operation) == 0) return true;
  return false;
}

bool operation_is_protected(const char *operation) {
  if (const PolicyOutline *from = current_outline())
    return bsearch(operation, from->operations, from->operation_count, kOperationBytes, compare_operation_names) !=
           nullptr;
  return names_operation(operation) || (copy_incomplete && policy_may_be_missing(operation));
}

bool pg_mpa_is_governed() {
  if (const PolicyOutline *from = current_outline()) return from->governed;
  return configuring_team != nullptr;
}

bool operation_may_reach_schema(const char *operation, Oid schema) {
  ensure_fresh();
  const OperationRange *range = find_operation(operation);
  // A dry-run policy's operation too: what it would have refused is
  // recorded (the second lookup costs only operations no enforcing policy
  // names, and finds nothing unless a dry-run one exists).
  if (range == nullptr) range = find_dry_run_operation(operation);
  if (range == nullptr) return false;
  ensure_patterns_parsed();
  if (range->names_everything || schema_oid_is_named(schema)) return true;
  const OperationRange *dry_run = find_dry_run_operation(operation);
  return dry_run != nullptr && dry_run != range && dry_run->names_everything;
}

const char *team_for_any_object_in(const char *operation, const char *schema) {
  ensure_fresh();
  const OperationRange *range = find_operation(operation);
  if (range == nullptr) return nullptr;
  ensure_patterns_parsed();
  const char *everything = nullptr;
  for (int i = range->first; i < range->first + range->count; i++) {
    if (patterns[i].scope == policy::Scope::Everything) {
      if (everything == nullptr) everything = policies[i].team;
    } else if (schema == nullptr || patterns[i].schema == schema) {
      return pstrdup(policies[i].team);  // names the schema (or an object in it): more specific
    }
  }
  return everything != nullptr ? pstrdup(everything) : nullptr;
}

bool relations_may_be_governed(const char *operation, const char *const *schemas, int count) {
  ensure_fresh();
  ensure_patterns_parsed();
  const OperationRange *range = find_operation(operation);
  if (range != nullptr && range->names_everything) return true;
  const OperationRange *dry_run = find_dry_run_operation(operation);
  if (dry_run != nullptr && dry_run->names_everything) return true;
  Oid pg_mpa_schema = configuring_team != nullptr ? pg_mpa_schema_oid() : InvalidOid;
  auto may_hold_governed = [pg_mpa_schema](Oid schema) {
    return OidIsValid(schema) && (schema == pg_mpa_schema || schema_oid_is_named(schema));
  };
  bool unqualified = false;
  for (int i = 0; i < count; i++) {
    // "pg_temp" is the session's temporary schema, which the search path holds.
    if (schemas[i] == nullptr || std::strcmp(schemas[i], "pg_temp") == 0)
      unqualified = true;
    else if (may_hold_governed(get_namespace_oid(schemas[i], true)))
      return true;
  }
  if (!unqualified) return false;
  List *path = fetch_search_path(true);  // with pg_temp and pg_catalog
  bool found = false;
  ListCell *cell;
  foreach (cell, path) {
    found = may_hold_governed(lfirst_oid(cell));
    if (found) break;
  }
  list_free(path);
  return found;
}

ApproverRole approver_role(Oid role) {
  if (in_mpa_database()) {
    ensure_fresh();
    return bsearch(&role, approver_roles, approver_role_count, sizeof(Oid), compare_oids) ? ApproverRole::Yes
                                                                                          : ApproverRole::No;
  }
  SharedState *state = shared_state();
  LWLockAcquire(state->cluster_policies_lock, LW_SHARED);
  ApproverRole answer = ApproverRole::Unknown;
  // Published at the current generation: a change committed since (an
  // approver just added) is not in it yet.
  bool current = state->cluster_policies_generation == pg_atomic_read_u64(&state->policy_generation) &&
                 !read_before_promotion(state->cluster_policies_read_in_recovery);
  if (current && state->approver_roles_complete)
    answer = bsearch(&role, state->approver_roles, state->approver_role_count, sizeof(Oid), compare_oids)
                 ? ApproverRole::Yes
                 : ApproverRole::No;
  LWLockRelease(state->cluster_policies_lock);
  return answer;
}

bool policies_exist() {
  if (const PolicyOutline *from = current_outline()) return from->policy_count > 0;
  return policy_count > 0;
}

namespace {

// For a statement renaming, moving or re-owning objects: the team of a policy
// that the change would take an object away from (policy::first_escaped),
// or nullptr. *target_index is the target concerned.
const char *team_guarding_names(const StatementDescription &description, bool leaves_schema,
                                int *target_index) {
  *target_index = -1;
  ensure_fresh();
  if (policy_count == 0) return nullptr;
  ensure_patterns_parsed();
  const char *team = nullptr;
  for (int i = 0; i < description.target_count && team == nullptr; i++) {
    const StatementTarget &target = description.targets[i];
    bool is_schema = target.class_id == NamespaceRelationId;
    // A schema, or an object in a schema, that no policy names escapes none.
    if (!schema_is_named(is_schema ? target.name : target.schema)) continue;
    int escaped = run_cpp([&] {
      // Only enforcing policies guard names (they come first).
      return policy::first_escaped(patterns, enforcing_policy_count,
                                   policy::object_values(policy::ObjectName{target.schema, target.name}), is_schema,
                                   leaves_schema);
    });
    if (escaped < 0) continue;
    team = pstrdup(policies[escaped].team);
    *target_index = i;
  }
  return team;
}

}  // namespace

const char *configuration_team() {
  ensure_fresh();
  return configuring_team;
}

const char *governing_team(const StatementDescription &description, int *target_index) {
  *target_index = -1;
  ensure_fresh();  // the whole copy: its patterns decide
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
              (errcode(sqlstates::kNotAsWritten),
               errmsg("%s on %s and %s needs the approval of two teams (\"%s\" and \"%s\")",
                      description.operation, target_display_name(description.targets[*target_index]),
                      target_display_name(target), team, target_team),
               errhint("Split the statement so that each team approves its own objects.")));
    }
  }
  return team;
}

int dry_run_policies(const StatementDescription &description, DryRunMatch **matches) {
  *matches = nullptr;
  ensure_fresh();
  const OperationRange *range = find_dry_run_operation(description.operation);
  if (range == nullptr) return 0;
  ensure_patterns_parsed();
  int targets = description.target_count > 0 ? description.target_count : 1;
  auto *found = static_cast<DryRunMatch *>(palloc(sizeof(DryRunMatch) * targets));
  int count = 0;
  for (int t = 0; t < targets; t++) {
    const char *schema = description.target_count > 0 ? description.targets[t].schema : "";
    const char *name = description.target_count > 0 ? description.targets[t].name : "";
    // Only '*' reaches an object in a schema no policy names.
    if (!range->names_everything && !schema_is_named(schema)) continue;
    int best = run_cpp([&] {
      return policy::best_match(patterns + range->first, range->count,
                                policy::object_values(policy::ObjectName{schema, name}));
    });
    if (best < 0) continue;
    const CachedPolicy &policy = policies[range->first + best];
    bool seen = false;  // one record per policy and statement
    for (int i = 0; i < count && !seen; i++) seen = found[i].policy_id == policy.id;
    if (!seen)
      found[count++] = DryRunMatch{policy.id, pstrdup(policy.operation), pstrdup(policy.object),
                                   pstrdup(policy.team), description.target_count > 0 ? t : -1};
  }
  *matches = found;
  return count;
}

bool policies_name_databases() {
  ensure_fresh();
  if (in_mpa_database()) return other_databases_policy_count > 0;
  return databases_named || copy_incomplete;
}

bool database_policies_may_be_missing() {
  ensure_fresh();
  return copy_incomplete;
}

namespace {

int compare_policy_ids(const void *a, const void *b) {
  int64 left = static_cast<const CachedPolicy *>(a)->id, right = static_cast<const CachedPolicy *>(b)->id;
  return left < right ? -1 : left > right ? 1 : 0;
}

// The enforcing policies for the objects of database `name` and, with
// `every_database`, those for every database ('*') that no policy naming
// it overrides (same operation and object), by id, in the caller's memory.
// Dry-run ones are left out: they refuse nothing, a database's drop
// included.
// In mpa.database from other_databases_policies; elsewhere from every
// published slot, not this backend's copy, which keeps only this
// database's. After ensure_fresh().
CachedPolicy *policies_for_database(const char *name, bool every_database, int *count) {
  auto wanted = [name, every_database](const char *database) {
    return std::strcmp(database, name) == 0 || (every_database && std::strcmp(database, "*") == 0);
  };
  *count = 0;
  CachedPolicy *found;
  if (in_mpa_database()) {
    found = static_cast<CachedPolicy *>(palloc(sizeof(CachedPolicy) * (other_databases_policy_count + 1)));
    for (int i = 0; i < other_databases_policy_count; i++)
      if (!other_databases_policies[i].dry_run && wanted(other_databases_policies[i].database))
        found[(*count)++] = other_databases_policies[i];
  } else {
    SharedState *state = shared_state();
    LWLockAcquire(state->cluster_policies_lock, LW_SHARED);
    found = static_cast<CachedPolicy *>(palloc(sizeof(CachedPolicy) * (state->cluster_policy_count + 1)));
    for (int i = 0; i < state->cluster_policy_count; i++) {
      const ClusterPolicy &slot = state->cluster_policies[i];
      if (slot.database[0] == '\0' || slot.dry_run || !wanted(slot.database)) continue;
      found[(*count)++] = CachedPolicy{slot.id, pstrdup(slot.operation), pstrdup(slot.object), pstrdup(slot.team),
                                       pstrdup(slot.database)};
    }
    LWLockRelease(state->cluster_policies_lock);
  }
  *count = drop_overridden(found, *count);
  qsort(found, *count, sizeof(CachedPolicy), compare_policy_ids);
  return found;
}

// "policies for database \"billing\"" or "policies for every database ('*')".
const char *policies_for_what(const CachedPolicy &policy) {
  return for_every_database(policy) ? "policies for every database ('*')"
                                    : psprintf("policies for database \"%s\"", policy.database);
}

// DROP DATABASE and ALTER DATABASE ... RENAME of a database other than
// mpa.database take its objects away from the policies that name them by
// the database's name: the team of those policies (for a drop, also of the
// policies for every database, '*': the drop removes what they protect
// there; a rename leaves those in force). Several teams: MP007, as for one
// statement on two teams' objects. mpa.database itself is left out: its
// drop or rename is one of pg_mpa's own objects', which the configuration
// team governs (governing_team), and without one DROP EXTENSION is as free.
// *reason: why, for the refusal's DETAIL.
const char *team_for_objects_of_database(const StatementDescription &description, int *target_index,
                                         const char **reason) {
  bool drop = std::strcmp(description.operation, "DROP DATABASE") == 0;
  bool rename = std::strcmp(description.operation, "ALTER DATABASE") == 0 && description.name_change == NameChange::Rename;
  if ((!drop && !rename) || description.target_count != 1) return nullptr;
  const StatementTarget &target = description.targets[0];
  if (target.class_id != DatabaseRelationId || !OidIsValid(target.object_id)) return nullptr;
  const char *name = get_database_name(target.object_id);
  if (name == nullptr || std::strcmp(name, settings::database) == 0) return nullptr;
  ensure_fresh();
  int count = 0;
  CachedPolicy *found = policies_for_database(name, drop, &count);
  if (count == 0) return nullptr;
  const CachedPolicy &first = found[0];
  for (int i = 1; i < count; i++) {
    if (std::strcmp(found[i].team, first.team) == 0) continue;
    ereport(ERROR,
            (errcode(sqlstates::kNotAsWritten),
             errmsg("%s on %s needs the approval of two teams (\"%s\" and \"%s\")", description.operation,
                    target.name, first.team, found[i].team),
             errdetail("Database \"%s\" holds objects that %s of team \"%s\" (%s on %s) and %s of team \"%s\" "
                       "(%s on %s) protect.",
                       name, policies_for_what(first), first.team, first.operation, first.object,
                       policies_for_what(found[i]), found[i].team, found[i].operation, found[i].object),
             errhint("Protect the statement itself, whose policy then decides (SELECT mpa_protect(%s, %s, "
                     "'<team>');), or remove one team's policies for the database first.",
                     quote_literal_cstr(description.operation), quote_literal_cstr(name))));
  }
  *target_index = 0;
  if (reason != nullptr)
    *reason = psprintf("Database \"%s\" holds objects that %s of team \"%s\" protect (%s on %s); %s.", name,
                       policies_for_what(first), first.team, first.operation, first.object,
                       drop ? "dropping the database removes them"
                            : "renaming the database takes them away from those policies, which name it");
  return pstrdup(first.team);
}

}  // namespace

const char *approval_phrase(const char *team) {
  const char *separator = std::strpbrk(team, ",&");
  if (separator == nullptr) return psprintf("team \"%s\"", team);
  StringInfoData phrase;
  initStringInfo(&phrase);
  appendStringInfoString(&phrase, "teams ");
  for (const char *name = team; name != nullptr;) {
    const char *end = std::strpbrk(name, ",&");
    if (name != team) appendStringInfoString(&phrase, end == nullptr ? " and " : ", ");
    appendStringInfo(&phrase, "\"%.*s\"", end == nullptr ? static_cast<int>(std::strlen(name)) : static_cast<int>(end - name), name);
    name = end == nullptr ? nullptr : end + 1;
  }
  return phrase.data;
}

const char *approving_team(const StatementDescription &description, int *target_index, const char **reason) {
  if (reason != nullptr) *reason = nullptr;
  const char *team = governing_team(description, target_index);
  if (team != nullptr) return team;
  if (description.name_change != NameChange::None &&
      (team = team_guarding_names(description, description.name_change == NameChange::Move, target_index)) != nullptr)
    return team;
  return team_for_objects_of_database(description, target_index, reason);
}

}  // namespace mpa::pg
