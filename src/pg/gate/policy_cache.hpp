// This backend's copy of mpa.policies (outside mpa.database: of the
// policies on cluster-wide operations, from shared memory). The gate
// consults it for every utility statement, so a statement whose command no
// policy names costs one atomic read and a short scan, never a query. The
// copy is reloaded when the shared policy generation moves (a committed
// change anywhere), read as committed at that moment. Until a statement
// needs more, a session answers whether a policy names a command, whether
// a team governs pg_mpa and whether any policy exists from the outline
// published in shared memory, without loading the copy (docs/decisions.md,
// "The policy cache").
#pragma once

#include "pg/gate/statement_description.hpp"

namespace mpa::pg {

// Whether a policy on `operation` holds in every database whatever its
// database says: a cluster-wide operation (roles, databases, tablespaces,
// ALTER SYSTEM) or MPA CONFIGURE. Such policies take no database.
bool policy_holds_in_every_database(const char *operation);

// Outside mpa.database: whether a policy on `operation` may be missing from
// this database's copy, because more policies reach other databases than
// shared memory holds. The gate then refuses the statement (fail closed).
// Must run in a transaction.
bool policy_may_be_missing(const char *operation);

// Drops the copy (and the outline taken); the next use reloads it.
void forget_cached_policies();

// During recovery, at the start of a judgement (a utility statement, a
// server-file function): drops a copy read during recovery, so that the
// judgement reads the policies replayed by now. Replay moves no policy
// generation; a copy otherwise serves the rest of the statement it was
// read for, and one query string of several statements is one statement
// to PostgreSQL's clock. Nothing on a primary.
void read_policies_anew_in_recovery();

// Reloads the copy if stale. In mpa.database this also publishes the
// policies on cluster-wide operations (roles, databases, tablespaces, ALTER
// SYSTEM) to shared memory, where the gate of every other database reads
// them, with the outline new sessions here read (unless the transaction
// has its own policy change pending, or this is a parallel worker); the
// mail worker calls it every round. Must run in a transaction.
void refresh_policies();

// Whether a committed policy names this command tag. Must run in a
// transaction. False when pg_mpa is not installed in this database.
bool operation_is_protected(const char *operation);

// Whether a team governs pg_mpa (configuration_team() is not nullptr),
// without loading the policies where their outline says. Must run in a
// transaction.
bool pg_mpa_is_governed();

// The team that governs pg_mpa itself (a policy on MPA CONFIGURE, '*'
// preferred), or nullptr while none does and superusers configure freely.
const char *configuration_team();

// The team whose approval the statement needs, or nullptr. pg_mpa's own
// objects (its extension, schema, tables and functions) are governed by the
// configuration team. When several
// targets are governed by different teams the statement is refused: each
// team approves its own objects. *target_index is the first governed target
// (-1 for a statement without targets). PostgreSQL-style: may ereport.
const char *governing_team(const StatementDescription &description, int *target_index);

// The team whose approval the statement needs: its governing team, else,
// for a statement renaming, moving or re-owning objects, the team of a
// policy it would take an object away from, else, for DROP DATABASE and
// ALTER DATABASE ... RENAME of a database other than mpa.database, the team
// of the policies for its objects (docs/decisions.md, "Every database";
// two teams there: MP007). nullptr: no approval needed. *reason (if given)
// is then why, when the statement's own operation does not say it (a
// sentence for a DETAIL), else nullptr. The gate and mpa_request() both ask
// this. PostgreSQL-style.
// The answer is the policy's team, or for a policy of several teams
// (docs/decisions.md, "Several teams") their names joined by ',' (each vote
// counts for one team) or '&' (for every team of its voter), the first
// team first: characters no team name holds. So one string compares as
// "the same approval" (MP007) and travels as it did to mpa.describe, whose
// caller splits it (mpa.create_request). Spelt out by approval_phrase().
const char *approving_team(const StatementDescription &description, int *target_index,
                           const char **reason = nullptr);

// 'team "dba"', or 'teams "dba" and "security"', for an answer of
// approving_team() (palloc'd).
const char *approval_phrase(const char *team);

// A dry-run policy that would have decided a statement no enforcing
// policy decides (docs/decisions.md, "Policy modes"): its id, operation,
// pattern and team, and the statement's target it matched (-1: none).
struct DryRunMatch {
  int64 policy_id;
  const char *operation;
  const char *pattern;
  const char *team;
  int target;
};

// The dry-run policies (one entry each, the most specific per target) on
// the statement's targets, into *matches (palloc'd); returns how many. Ask
// it only once no enforcing policy decided the statement.
int dry_run_policies(const StatementDescription &description, DryRunMatch **matches);

// Whether a policy names a database other than mpa.database, or every
// database ('*'): only then can DROP DATABASE or ALTER DATABASE ... RENAME
// take a policy's objects away. Loads this backend's copy (those statements
// are rare). Must run in a transaction.
bool policies_name_databases();

// Outside mpa.database: whether some policies for other databases are
// missing from shared memory (more than it holds), so that a database's
// drop or rename cannot be judged here. Must run in a transaction.
bool database_policies_may_be_missing();

// False when no policy on `operation` (enforcing or dry-run) can name an
// object in this schema: none on it names the schema or everything ('*').
// Lets the object access
// hook pass over the objects of unprotected schemas cheaply.
bool operation_may_reach_schema(const char *operation, Oid schema);

// The team of a policy on `operation` that names `schema` (an identifier
// value) or an object in it, else of one that names everything ('*');
// nullptr when none does. A nullptr schema stands for every schema: then
// any policy on `operation` counts. For statements on objects that do not
// exist yet (default privileges of future tables).
const char *team_for_any_object_in(const char *operation, const char *schema);

// For a statement on relations named, unresolved, in `schemas` (nullptr:
// an unqualified name, found on the search path): false when describing it
// could find no team, because no policy names any of those schemas (for
// the statement itself, or for a name it would take away), no policy on
// `operation` names everything, and none is pg_mpa's own schema while a
// team governs pg_mpa. Lets the gate pass over ordinary DDL without
// resolving names, locking or reading catalogs. PostgreSQL-style.
bool relations_may_be_governed(const char *operation, const char *const *schemas, int count);

// Whether any policy exists (in this database's view).
bool policies_exist();

// Whether `role` is an approver of some team. In mpa.database from this
// backend's copy (its own transaction's changes included); elsewhere from
// what mpa.database published: Unknown while that is older than the last
// committed change (the worker publishes it a moment later), or when more
// approvers exist than shared memory holds. Must run in a transaction.
enum class ApproverRole { No, Yes, Unknown };
ApproverRole approver_role(Oid role);

}  // namespace mpa::pg
