#include "pg/gate/gate.hpp"

#include "pg/boundary/refusal.hpp"
#include "pg/shared/at_commit.hpp"
#include "pg/startup/installation.hpp"
#include "pg/boundary/internal_sql.hpp"
#include "pg/gate/policy_cache.hpp"
#include "pg/gate/dry_run.hpp"
#include "pg/protection/restore_window.hpp"
#include "pg/protection/self_protection.hpp"
#include "pg/startup/settings.hpp"
#include "pg/boundary/sqlstates.hpp"
#include "pg/gate/standby.hpp"
#include "pg/gate/statement_description.hpp"
#include "pg/gate/statement_secrets.hpp"
#include "pg/other_databases/execution_claim.hpp"

extern "C" {
#include "access/genam.h"
#include "access/table.h"
#include "access/xact.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "catalog/pg_event_trigger.h"
#include "commands/trigger.h"
#include "lib/stringinfo.h"
#include "utils/rel.h"
#include "access/xlog.h"
#include "catalog/pg_authid_d.h"
#include "utils/acl.h"
#include "catalog/pg_type_d.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "parser/scansup.h"
#include "tcop/utility.h"
#include "utils/array.h"
#include "utils/builtins.h"
}

namespace mpa::pg {
namespace {

// The rest of the ProcessUtility chain after the gate (src/pg/hooks/):
// the hook installed before pg_mpa's, or PostgreSQL's own.
ProcessUtility_hook_type rest_of_chain = nullptr;


// This statement's own text within a possibly multi-statement string,
// without surrounding blanks and semicolons (it is shown in the hint).
char *statement_text(const char *query, const PlannedStmt *statement) {
  int location = statement->stmt_location > 0 ? statement->stmt_location : 0;
  int length = statement->stmt_len > 0 ? statement->stmt_len : static_cast<int>(strlen(query + location));
  const char *start = query + location;
  while (length > 0 && scanner_isspace(*start)) start++, length--;
  while (length > 0 && (scanner_isspace(start[length - 1]) || start[length - 1] == ';')) length--;
  return pnstrdup(start, length);
}

ArrayType *oid_array(const StatementDescription &description, bool classes) {
  Datum *items = static_cast<Datum *>(palloc(sizeof(Datum) * (description.target_count + 1)));
  for (int i = 0; i < description.target_count; i++)
    items[i] = ObjectIdGetDatum(classes ? description.targets[i].class_id : description.targets[i].object_id);
  return construct_array(items, description.target_count, OIDOID, sizeof(Oid), true, TYPALIGN_INT);
}

// Spends the caller's approved request for exactly this statement (same
// fingerprint, same target OIDs), if there is one (mpa.mark_executed), and
// says how what it would also remove differs from what approvers were shown
// (NULL: not at all). Concurrent executions of one approval serialise on the
// row lock the subquery takes before anything is marked; only the first
// finds it approved.
// Only requests for mpa.database's own objects (database_oid NULL): another
// database's request names that database's OIDs, which may equal objects'
// here. %s: that condition, left out while the SQL objects are 0.1's
// (without the column, and without such requests).
constexpr const char *kSpendApprovalSql =
    "SELECT r.id, mpa.mark_executed(r),"
    "       mpa.cascade_difference(r.operation, r.target_classes, r.target_oids, r.cascade_classes, r.cascade_oids)"
    "  FROM mpa.requests r"
    " WHERE r.id = (SELECT id FROM mpa.requests"
    "                WHERE state = 'approved' AND kind = 'statement' AND requester = $1 AND fingerprint = $2"
    "                  AND target_classes = $3 AND target_oids = $4 AND expires_at > statement_timestamp() %s"
    "                ORDER BY id LIMIT 1 FOR UPDATE)"
    "   AND r.state = 'approved'";

// The statement would remove (or empty) other objects than approvers were
// shown (one attached since, or gone): not what they approved. The error
// rolls the spending (or the claim) back; the request stays approved for
// when it matches again.
[[noreturn]] void refuse_changed_reach(int64 request_id, const char *difference) {
  long long id = static_cast<long long>(request_id);
  refuse({psprintf("request %lld: what the statement reaches changed", id), nullptr,
          psprintf("request %lld was approved when the statement reached other objects", id),
          psprintf("Since the request, the statement %s.", difference),
          "Undo the change, or ask for a new approval with mpa_request()."});
}

bool spend_approval(const StatementDescription &description) {
  struct Spend {
    const StatementDescription *description;
    bool spent;
    int64 request_id;
    char *cascade_difference;
  } spend{&description, false, 0, nullptr};
  MemoryContext caller = CurrentMemoryContext;
  auto body = [&spend, caller] {
    Oid types[4] = {OIDOID, TEXTOID, OIDARRAYOID, OIDARRAYOID};
    Datum values[4] = {ObjectIdGetDatum(GetSessionUserId()),
                       CStringGetTextDatum(spend.description->fingerprint),
                       PointerGetDatum(oid_array(*spend.description, true)),
                       PointerGetDatum(oid_array(*spend.description, false))};
    const char *query =
        psprintf(kSpendApprovalSql, sql_objects_are_current() ? "AND database_oid IS NULL" : "");
    SPI_connect();
    if (SPI_execute_with_args(query, 4, types, values, nullptr, false, 1) != SPI_OK_SELECT)
      elog(ERROR, "pg_mpa: cannot check approvals");
    spend.spent = SPI_processed == 1;
    if (spend.spent) {
      bool is_null;
      spend.request_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null));
      MemoryContext spi = MemoryContextSwitchTo(caller);
      spend.cascade_difference = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
      MemoryContextSwitchTo(spi);
    }
    SPI_finish();
  };
  with_pg_mpa_privileges(body);
  if (spend.cascade_difference != nullptr) refuse_changed_reach(spend.request_id, spend.cascade_difference);
  // A temporary grant's end is a new deadline for the worker.
  if (spend.spent) wake_mail_worker_at_commit();
  return spend.spent;
}

// REVOKE only takes access away: it is never gated, so that a temporary
// grant can always be ended early, by hand or by the worker.
bool is_revoke(Node *parsetree) {
  return (IsA(parsetree, GrantStmt) && !castNode(GrantStmt, parsetree)->is_grant) ||
         (IsA(parsetree, GrantRoleStmt) && !castNode(GrantRoleStmt, parsetree)->is_grant);
}

// Statements that can change one of pg_mpa's own objects (examined only
// once a team governs pg_mpa).
bool may_change_pg_mpa(Node *parsetree) {
  switch (nodeTag(parsetree)) {
    case T_DropStmt:
    case T_TruncateStmt:
    case T_AlterTableStmt:
    case T_RenameStmt:
    case T_AlterObjectSchemaStmt:
    case T_AlterOwnerStmt:
    case T_AlterExtensionStmt:
    case T_AlterExtensionContentsStmt:
    case T_CreateTrigStmt:
    case T_RuleStmt:
    case T_CreatePolicyStmt:
    case T_AlterPolicyStmt:
    case T_GrantStmt:
    case T_DropdbStmt:  // pg_mpa's home database is one of its objects
    case T_AlterDatabaseStmt:
    case T_AlterDatabaseSetStmt:
    case T_AlterDatabaseRefreshCollStmt:
      return true;
    default:
      return false;
  }
}

// DROP DATABASE and ALTER DATABASE ... RENAME take a database's objects
// away from the policies that name the database (docs/decisions.md, "Every
// database"), whatever those policies' operations.
bool takes_database_objects(Node *parsetree) {
  return IsA(parsetree, DropdbStmt) ||
         (IsA(parsetree, RenameStmt) && castNode(RenameStmt, parsetree)->renameType == OBJECT_DATABASE);
}

// Outside mpa.database, when more policies reach other databases than
// shared memory holds, a statement whose command a left-out policy names:
// which object that policy names is not known here, so it is refused.
[[noreturn]] void refuse_where_policies_are_missing(const char *operation) {
  refuse({psprintf("%s where policies are missing", operation), nullptr,
          psprintf("%s is refused in database \"%s\": more policies reach databases other than \"%s\" than "
                   "pg_mpa's shared memory holds, and one on %s may be missing here",
                   operation, get_database_name(MyDatabaseId), settings::database, operation),
          "pg_mpa fails closed rather than let a statement a policy names run unjudged.",
          psprintf("In database \"%s\", replace policies for other databases with fewer, broader ones (schema.*, "
                   "'*').",
                   settings::database)});
}

// Refuses the statement (`text`) for want of `team`'s approval, naming the
// operation and its first governed target, and records the refusal.
[[noreturn]] void refuse_statement(const StatementDescription &description, int target, const char *team,
                                   const char *text, const char *detail, const char *hint) {
  const char *object = target >= 0 ? target_display_name(description.targets[target]) : "*";
  refuse({psprintf("%s on %s", description.operation, object), team,
          psprintf("%s on %s requires the approval of %s", description.operation, object, approval_phrase(team)), detail,
          hint, sqlstates::kApprovalRequired, text});
}

// CREATE ROLE u IN ROLE r grants membership in r, and CREATE ROLE u ROLE m
// (or ADMIN m) membership in u: a role made SUPERUSER or BYPASSRLS could be
// handed to m at birth. When a policy protects either grant, the combined
// statement is refused: the role is created on its own and the grant
// requested apart (a request approves one statement). The new role is
// judged by its name: it does not exist yet, a policy may name it ('*').
void refuse_protected_memberships(Node *parsetree, const char *query, const PlannedStmt *statement) {
  if (!operation_is_protected("GRANT ROLE") && !pg_mpa_is_governed()) return;
  auto *create = castNode(CreateRoleStmt, parsetree);
  char *text = statement_text(query, statement);
  if (Node *grant = memberships_granted_by(parsetree)) {
    StatementDescription description = describe_parsed_statement(grant, text);
    int target = -1;
    if (const char *team = approving_team(description, &target))
      refuse_statement(description, target, team, text, "CREATE ROLE ... IN ROLE grants a membership that pg_mpa protects.",
             psprintf("Create the role without IN ROLE, then ask for approval of the grant: SELECT mpa_request("
                      "'GRANT %s TO %s', 'why this is needed');",
                      quote_identifier(linitial_node(AccessPriv, castNode(GrantRoleStmt, grant)->granted_roles)->priv_name),
                      quote_identifier(create->role)));
  }
  if (const char *member = first_member_given_the_new_role(parsetree)) {
    StatementTarget created{AuthIdRelationId, InvalidOid, "", quote_identifier(create->role)};
    StatementDescription description{"GRANT ROLE", 1, &created, nullptr, nullptr, false};
    int target = -1;
    if (const char *team = approving_team(description, &target))
      refuse_statement(description, target, team, text,
             "CREATE ROLE ... ROLE/ADMIN makes other roles members of the new role, a grant pg_mpa protects.",
             psprintf("Create the role without ROLE and ADMIN, then ask for approval of the grant: SELECT "
                      "mpa_request('GRANT %s TO %s', 'why this is needed');",
                      quote_identifier(create->role), quote_identifier(member)));
  }
}

// ALTER DEFAULT PRIVILEGES ... GRANT ... ON TABLES grants on tables that do
// not exist yet: each one made later would carry the grant, unapproved.
// Where a GRANT policy names the schema (or an object in it, or
// everything; without IN SCHEMA, any GRANT policy), it is refused: the
// grant is requested for each table once it exists. REVOKE is never gated.
void refuse_protected_default_privileges(Node *parsetree) {
  auto *statement = castNode(AlterDefaultPrivilegesStmt, parsetree);
  GrantStmt *action = statement->action;
  if (!action->is_grant || action->objtype != OBJECT_TABLE || !operation_is_protected("GRANT")) return;
  List *schemas = NIL;
  ListCell *cell;
  foreach (cell, statement->options) {
    auto *option = lfirst_node(DefElem, cell);
    if (strcmp(option->defname, "schemas") == 0) schemas = castNode(List, option->arg);
  }
  const char *schema = nullptr;
  const char *team = nullptr;
  if (schemas == NIL) {
    team = team_for_any_object_in("GRANT", nullptr);
  } else {
    foreach (cell, schemas) {
      schema = strVal(lfirst(cell));
      if ((team = team_for_any_object_in("GRANT", schema)) != nullptr) break;
    }
  }
  if (team == nullptr) return;
  const char *where = schema != nullptr ? psprintf("schema %s", quote_identifier(schema)) : "every schema";
  refuse({psprintf("ALTER DEFAULT PRIVILEGES in %s", where), team,
          psprintf("ALTER DEFAULT PRIVILEGES granting on future tables in %s is refused", where),
          psprintf("A GRANT policy of team \"%s\" covers tables there: every table made later would carry the "
                   "grant without its approval.",
                   team),
          "Once a table exists, ask for approval of the grant on it with mpa_request()."});
}

// An approver's role is neither dropped nor renamed while it is one, in
// any database: fewer roles that can vote could leave a team below its
// threshold (nothing approvable), and a dropped role's OID could come back
// as someone else's. Approved or not: the approver is removed first, with
// mpa_approver_remove (a configuration change).
void refuse_removing_approvers(Node *parsetree) {
  List *names = NIL;
  if (IsA(parsetree, DropRoleStmt)) {
    ListCell *cell;
    foreach (cell, castNode(DropRoleStmt, parsetree)->roles) {
      auto *role = lfirst_node(RoleSpec, cell);
      if (role->roletype == ROLESPEC_CSTRING) names = lappend(names, role->rolename);
    }
  } else if (IsA(parsetree, RenameStmt) && castNode(RenameStmt, parsetree)->renameType == OBJECT_ROLE) {
    names = list_make1(castNode(RenameStmt, parsetree)->subname);
  }
  ListCell *cell;
  foreach (cell, names) {
    const char *name = static_cast<const char *>(lfirst(cell));
    Oid role = get_role_oid(name, true);
    if (!OidIsValid(role)) continue;
    ApproverRole approver = approver_role(role);
    if (approver == ApproverRole::No) continue;
    const char *what = IsA(parsetree, DropRoleStmt) ? "dropping" : "renaming";
    const char *audited = psprintf("%s approver role %s", what, name);
    if (approver == ApproverRole::Unknown)
      refuse({audited, configuration_team(),
              psprintf("%s role %s is refused here: pg_mpa cannot tell whether it is an approver", what,
                       quote_identifier(name)),
              psprintf("The approvers live in database \"%s\"; this database has no current copy of them.",
                       settings::database),
              psprintf("Run the statement in database \"%s\".", settings::database)});
    refuse({audited, configuration_team(),
            psprintf("%s role %s is refused: it is an approver of pg_mpa", what, quote_identifier(name)),
            "Fewer roles that can vote could leave a team unable to approve anything.",
            "Remove it from its teams with mpa_approver_remove() first (a configuration change)."});
  }
}

// A statement of pg_mpa's own extension script (CREATE or ALTER EXTENSION
// pg_mpa UPDATE) on pg_mpa's objects: those it has (by OID) and those it
// makes (no OID yet; what the script makes becomes pg_mpa's). The gate
// judged the CREATE/ALTER EXTENSION itself (once governed, it ran as an
// approved request); the statements of its script are its parts, as the
// object access hook already treats them. Without this, the re-created
// functions' GRANTs of an approved update were refused as unapproved
// changes of pg_mpa (docs/decisions.md, "Upgrades"). Anything else the
// script reaches (a protected table of the application) is judged as ever.
bool is_pg_mpa_script_statement(const StatementDescription &description) {
  if (!pg_mpa_script_is_running() || description.target_count == 0) return false;
  for (int i = 0; i < description.target_count; i++) {
    const StatementTarget &target = description.targets[i];
    bool made_by_script = OidIsValid(target.class_id) && !OidIsValid(target.object_id);
    if (!made_by_script && !is_pg_mpa_object(target.class_id, target.object_id)) return false;
  }
  return true;
}

// Returns whether the statement runs as an approved one (its approval was
// spent); refuses it when it needs an approval it does not have.
bool check_statement(PlannedStmt *statement, const char *query) {
  Node *parsetree = statement->utilityStmt;
  start_dry_run_statement();
  // Nothing can be looked up outside a live transaction (COMMIT, ROLLBACK
  // in a failed transaction); no protected command runs there either.
  if (!IsTransactionState() || IsA(parsetree, TransactionStmt) || is_revoke(parsetree)) return false;
  // A standby (once recovery has ended, RecoveryInProgress() reads a
  // backend-local flag: a primary pays one call here).
  if (RecoveryInProgress()) {
    // PostgreSQL refuses it with its own 25006 before doing anything.
    if (refused_by_postgres_during_recovery(parsetree)) return false;
    // Elsewhere than mpa.database the policies cannot be read here: what
    // governance could protect is refused whether or not a team governs
    // (cluster-wide policies name nothing else a standby runs: ALTER SYSTEM
    // is part of the set-up).
    if (!in_mpa_database() && changes_pg_mpa_setup(parsetree))
      refuse_without_current_policies(GetCommandTagName(CreateCommandTag(parsetree)));
    // Judged with the policies replayed by now.
    read_policies_anew_in_recovery();
  }
  if (IsA(parsetree, CreateStmt) || IsA(parsetree, CreateForeignTableStmt) || IsA(parsetree, AlterTableStmt))
    refuse_inheritance_from_pg_mpa(parsetree);
  if (IsA(parsetree, LockStmt)) refuse_lock_of_pg_mpa_tables(parsetree);
  if (IsA(parsetree, AlterObjectSchemaStmt)) refuse_move_into_protected_schema(parsetree);
  if (IsA(parsetree, AlterTableStmt) || IsA(parsetree, ClusterStmt) || IsA(parsetree, ReindexStmt))
    refuse_maintenance_hazards(parsetree);
  if (IsA(parsetree, CreateRoleStmt)) refuse_protected_memberships(parsetree, query, statement);
  if (IsA(parsetree, DropRoleStmt) || IsA(parsetree, RenameStmt)) refuse_removing_approvers(parsetree);
  if (IsA(parsetree, AlterDefaultPrivilegesStmt)) refuse_protected_default_privileges(parsetree);
  // The session restoring a backup runs the rest of it (indexes, grants,
  // triggers) under no policy, as before its restore began: the policies it
  // restored bind every other session at once, and it from its window's end.
  if (restore_window_open_here()) return false;
  // Judged by what it does: ALTER GROUP r ADD USER u as GRANT r TO u.
  parsetree = judged_form(parsetree);
  NameChange change = name_change_of(parsetree);
  bool governed = pg_mpa_is_governed();
  // Inside a statement already approved (an approved CREATE EXTENSION runs
  // its script), nested statements are part of what was approved.
  bool changes_setup = governed && !approved_statement_is_running() && changes_pg_mpa_setup(parsetree);
  const char *operation = GetCommandTagName(CreateCommandTag(parsetree));
  const char *replacing = operation_when_replacing(parsetree);
  if (!operation_is_protected(operation) && !(replacing != nullptr && operation_is_protected(replacing)) &&
      !(governed && may_change_pg_mpa(parsetree)) && !changes_setup &&
      !(change != NameChange::None && policies_exist()) &&
      !(takes_database_objects(parsetree) && policies_name_databases()))
    return false;
  // Elsewhere than mpa.database, a policy on this command (or, for a
  // database's drop or rename, for that database) may be among those shared
  // memory could not hold: fail closed.
  if (!in_mpa_database() && (policy_may_be_missing(operation) ||
                             (takes_database_objects(parsetree) && database_policies_may_be_missing())))
    refuse_where_policies_are_missing(operation);
  // Ordinary DDL on relations in schemas no policy names: judged from the
  // names alone, before resolving them.
  constexpr int kMaxNamedRelations = 8;
  const char *schemas[kMaxNamedRelations];
  int named = relation_target_schemas(parsetree, schemas, kMaxNamedRelations);
  if (named >= 0 && !changes_setup && !relations_may_be_governed(operation, schemas, named)) return false;

  char *text = statement_text(query, statement);
  StatementDescription description = describe_parsed_statement(parsetree, text);
  if (is_pg_mpa_script_statement(description)) return false;
  int target = -1;
  // why: set when the team's policies are not on the statement's own
  // operation (a database's drop or rename, for its objects' policies).
  const char *why = nullptr;
  const char *team = approving_team(description, &target, &why);
  if (team == nullptr) {
    // Run, but named to the session and recorded if a dry-run policy
    // would have refused it (docs/decisions.md, "Policy modes").
    record_dry_run(description, text);
    return false;
  }
  // Cluster-wide operations can be run from any database, but their
  // requests and approvals live in mpa.database: a protected one runs only
  // there. (A statement with a secret cannot be requested as typed: the
  // HINT in mpa.database says what to request instead.)
  if (!in_mpa_database() && policy_holds_in_every_database(description.operation))
    refuse_statement(description, target, team, text,
           psprintf("%s%sIts requests and approvals live in database \"%s\"; protected cluster-wide operations "
                    "run only there.",
                    why != nullptr ? why : "", why != nullptr ? " " : "", settings::database),
           secret_in_statement(statement->utilityStmt) != nullptr
               ? psprintf("Connect to database \"%s\" and ask for approval with mpa_request().", settings::database)
               : psprintf("Connect to database \"%s\" and ask for approval with: SELECT mpa_request(%s, 'why this "
                          "is needed');",
                          settings::database, quote_literal_cstr(text)));
  // This database's objects: requested in mpa.database for this database
  // and spent through a claim there (docs/decisions.md, "Execution exactly
  // once"); refused without an approval. A standby claims nothing.
  if (!in_mpa_database()) {
    if (!RecoveryInProgress()) {
      description.fingerprint = statement_fingerprint(text);
      ElsewhereSpend spend = claim_approval_elsewhere(description);
      if (spend.cascade_difference != nullptr) refuse_changed_reach(spend.request_id, spend.cascade_difference);
      if (spend.claimed) return true;
    }
    refuse_statement(description, target, team, text,
           psprintf("Its requests and approvals live in database \"%s\".", settings::database),
           psprintf("Connect to database \"%s\" and ask for approval with: SELECT mpa_request(%s, 'why this is "
                    "needed', database => %s);",
                    settings::database, quote_literal_cstr(text), quote_literal_cstr(get_database_name(MyDatabaseId))));
  }
  // Nothing is approved or spent on a read-only server.
  if (RecoveryInProgress()) refuse_statement(description, target, team, text, kStandbyRefusalDetail, kStandbyRefusalHint);
  description.fingerprint = statement_fingerprint(text);
  if (spend_approval(description)) return true;

  // A statement with a secret is not requested as typed (mpa_request
  // refuses it): the hint says what to request instead.
  const StatementSecret *secret = secret_in_statement(statement->utilityStmt);
  refuse_statement(description, target, team, text,
         why != nullptr ? why
                        : "pg_mpa protects this operation: it runs only after the team's approvers have voted for it "
                          "with codes mailed to them.",
         secret ? psprintf("A request cannot carry %s. %s", secret->what, secret->hint)
                : psprintf("Ask for approval with: SELECT mpa_request(%s, 'why this is needed');",
                           quote_literal_cstr(text)));
}

// Runs a statement that an approved one reached (a trigger's or a
// function's) as if typed: the approvers voted for the approved statement,
// not for code that runs inside it. The approved statement's own parts (its
// subcommands, the script of an approved CREATE/ALTER EXTENSION) stay part
// of it.
bool reached_from_approved_statement(ProcessUtilityContext context) {
  return approved_statement_is_running() && context != PROCESS_UTILITY_SUBCOMMAND && !creating_extension;
}

// Runs `step` with the gate's "approved statement running" mark set to
// `approved`, and puts the previous mark back however it ends.
void run_marked(bool approved, ProcessUtility_hook_type step, PlannedStmt *statement, const char *query, bool read_only_tree,
                ProcessUtilityContext context, ParamListInfo params, QueryEnvironment *query_env,
                DestReceiver *dest, QueryCompletion *completion) {
  bool previous = approved_statement_is_running();
  set_approved_statement_running(approved);
  PG_TRY();
  {
    step(statement, query, read_only_tree, context, params, query_env, dest, completion);
  }
  PG_FINALLY();
  {
    set_approved_statement_running(previous);
  }
  PG_END_TRY();
}

// Runs ALTER EXTENSION pg_mpa UPDATE as pg_mpa's own change: PostgreSQL
// alters the extension's catalog row (its version) before the script runs,
// outside it (self_protection refused that as a change of pg_mpa's objects).
void run_pg_mpa_update(PlannedStmt *statement, const char *query, bool read_only_tree, ProcessUtilityContext context,
                       ParamListInfo params, QueryEnvironment *query_env, DestReceiver *dest,
                       QueryCompletion *completion) {
  set_pg_mpa_update_running(true);
  PG_TRY();
  {
    rest_of_chain(statement, query, read_only_tree, context, params, query_env, dest, completion);
  }
  PG_FINALLY();
  {
    set_pg_mpa_update_running(false);
  }
  PG_END_TRY();
}

// Whether the statement runs one of pg_mpa's own extension scripts.
bool runs_pg_mpa_script(Node *parsetree) {
  if (IsA(parsetree, CreateExtensionStmt)) return strcmp(castNode(CreateExtensionStmt, parsetree)->extname, "pg_mpa") == 0;
  if (IsA(parsetree, AlterExtensionStmt)) return strcmp(castNode(AlterExtensionStmt, parsetree)->extname, "pg_mpa") == 0;
  return false;
}

// pg_mpa's own script may change pg_mpa's objects (self_protection), and
// an event trigger fires inside each of its statements with that right: a
// function of anyone's (made before governance, or approved for another
// purpose) could alter pg_mpa for good while it is created or updated
// (ALTER FUNCTION mpa.… SET search_path). Its scripts run only while no
// event trigger is enabled, for every role.
void refuse_pg_mpa_script_beside_event_triggers(Node *parsetree) {
  if (!runs_pg_mpa_script(parsetree)) return;
  StringInfoData enabled;
  initStringInfo(&enabled);
  Relation catalog = table_open(EventTriggerRelationId, AccessShareLock);
  SysScanDesc scan = systable_beginscan(catalog, InvalidOid, false, nullptr, 0, nullptr);
  for (HeapTuple tuple = systable_getnext(scan); HeapTupleIsValid(tuple); tuple = systable_getnext(scan)) {
    auto *trigger = reinterpret_cast<Form_pg_event_trigger>(GETSTRUCT(tuple));
    if (trigger->evtenabled == TRIGGER_DISABLED) continue;
    appendStringInfo(&enabled, "%s%s", enabled.len > 0 ? ", " : "", quote_identifier(NameStr(trigger->evtname)));
  }
  systable_endscan(scan);
  table_close(catalog, AccessShareLock);
  if (enabled.len == 0) return;
  refuse({"pg_mpa's extension script beside event triggers", configuration_team(),
          psprintf("%s is refused while event triggers are enabled: %s", GetCommandTagName(CreateCommandTag(parsetree)),
                   enabled.data),
          "pg_mpa's own script may change pg_mpa's objects, and an event trigger would run inside it with that "
          "right.",
          "Disable them (ALTER EVENT TRIGGER … DISABLE), run it, then enable them again."});
}

void gate_and_run(PlannedStmt *statement, const char *query, bool read_only_tree, ProcessUtilityContext context,
                  ParamListInfo params, QueryEnvironment *query_env, DestReceiver *dest,
                  QueryCompletion *completion) {
  // A backup's COPY into pg_mpa's tables: in the restore window, or refused.
  if (IsTransactionState() &&
      restore_copy(rest_of_chain, statement, query, read_only_tree, context, params, query_env, dest, completion))
    return;
  bool approved = check_statement(statement, query);
  // The gate let it through: unprotected (no team governs pg_mpa) or approved.
  Node *parsetree = statement->utilityStmt;
  refuse_pg_mpa_script_beside_event_triggers(parsetree);
  ProcessUtility_hook_type step =
      IsA(parsetree, AlterExtensionStmt) && runs_pg_mpa_script(parsetree) ? run_pg_mpa_update : rest_of_chain;
  // A statement that needs no approval keeps the mark it runs under (the
  // subcommands of an approved one stay part of it); an approved one may
  // change pg_mpa's own objects (self_protection).
  if (approved)
    run_marked(true, step, statement, query, read_only_tree, context, params, query_env, dest, completion);
  else
    step(statement, query, read_only_tree, context, params, query_env, dest, completion);
}

}  // namespace

// A statement reached from inside an approved one runs unmarked, and the
// approved statement is marked again once it returns.
void gate_utility(ProcessUtility_hook_type run_rest, PlannedStmt *statement, const char *query, bool read_only_tree,
                  ProcessUtilityContext context, ParamListInfo params, QueryEnvironment *query_env,
                  DestReceiver *dest, QueryCompletion *completion) {
  rest_of_chain = run_rest;
  if (reached_from_approved_statement(context))
    run_marked(false, gate_and_run, statement, query, read_only_tree, context, params, query_env, dest,
               completion);
  else
    gate_and_run(statement, query, read_only_tree, context, params, query_env, dest, completion);
}

}  // namespace mpa::pg
