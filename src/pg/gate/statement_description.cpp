// Describes statements: command tag, targets by OID, fingerprint.
#include "pg/gate/statement_description.hpp"

#include <string>

#include "core/statement_text.hpp"
#include "pg/protection/configuration.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/sqlstates.hpp"
#include "pg/gate/policy_cache.hpp"
#include "pg/gate/statement_secrets.hpp"

extern "C" {
#include "access/genam.h"
#include "access/relation.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_authid_d.h"
#include "catalog/pg_class.h"
#include "catalog/pg_database_d.h"
#include "catalog/pg_policy_d.h"
#include "catalog/pg_proc_d.h"
#include "catalog/pg_rewrite_d.h"
#include "catalog/pg_trigger_d.h"
#include "catalog/pg_constraint_d.h"
#include "catalog/pg_shdepend.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "lib/stringinfo.h"
#include "nodes/value.h"
#include "parser/parser.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "catalog/pg_language.h"
}

namespace mpa::pg {
namespace {

// Collects targets into a growing palloc'd array.
struct TargetList {
  StatementTarget *items = nullptr;
  int count = 0;
  int capacity = 0;
  bool require_existing = false;

  void add(Oid class_id, Oid object_id, const char *schema, const char *name) {
    if (count == capacity) {
      capacity = capacity ? capacity * 2 : 4;
      items = static_cast<StatementTarget *>(
          items ? repalloc(items, sizeof(StatementTarget) * capacity)
                : palloc(sizeof(StatementTarget) * capacity));
    }
    items[count++] = StatementTarget{class_id, object_id, schema, name};
  }

  void missing(const char *what) {
    if (require_existing)
      ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("%s does not exist", what)));
  }
};

void add_address(TargetList &targets, const ObjectAddress &address) {
  StatementTarget target = target_of(address);
  targets.add(target.class_id, target.object_id, target.schema, target.name);
}

void add_relation(TargetList &targets, RangeVar *relation) {
  Oid relid = RangeVarGetRelid(relation, NoLock, true);
  if (!OidIsValid(relid)) {
    targets.missing(relation->relname);
    return;
  }
  add_address(targets, ObjectAddress{RelationRelationId, relid, 0});
}

// GRANT ... ON ALL TABLES IN SCHEMA: every relation it grants on (tables,
// partitioned and foreign tables, views, materialized views), as if each
// had been named, so that a policy on one of them sees the grant.
void add_tables_in_schema(TargetList &targets, const char *schema_name) {
  Oid schema = get_namespace_oid(schema_name, true);
  if (!OidIsValid(schema)) {
    targets.missing(schema_name);
    return;
  }
  List *relids = NIL;
  Relation classes = table_open(RelationRelationId, AccessShareLock);
  ScanKeyData key;
  ScanKeyInit(&key, Anum_pg_class_relnamespace, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(schema));
  SysScanDesc scan = systable_beginscan(classes, InvalidOid, false, nullptr, 1, &key);
  while (HeapTuple tuple = systable_getnext(scan)) {
    auto *relation = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple));
    switch (relation->relkind) {
      case RELKIND_RELATION:
      case RELKIND_PARTITIONED_TABLE:
      case RELKIND_FOREIGN_TABLE:
      case RELKIND_VIEW:
      case RELKIND_MATVIEW:
        relids = lappend_oid(relids, relation->oid);
        break;
      default:
        break;
    }
  }
  systable_endscan(scan);
  table_close(classes, AccessShareLock);
  // In OID order: the request and its execution must list the same targets
  // the same way, whatever order the catalog's heap holds them in.
  list_sort(relids, list_oid_cmp);
  ListCell *cell;
  foreach (cell, relids) add_address(targets, ObjectAddress{RelationRelationId, lfirst_oid(cell), 0});
}

// The object `object` names, or an invalid address when there is none.
ObjectAddress existing_object(ObjectType type, Node *object) {
  Relation relation = nullptr;
  ObjectAddress address = get_object_address(type, object, &relation, AccessShareLock, true);
  if (relation != nullptr) relation_close(relation, NoLock);
  return address;
}

void add_object(TargetList &targets, ObjectType type, Node *object) {
  ObjectAddress address = existing_object(type, object);
  if (!OidIsValid(address.objectId)) {
    targets.missing(IsA(object, String) ? strVal(object) : NameListToString(castNode(List, object)));
    return;
  }
  add_address(targets, address);
}

// An object a statement creates, or replaces: by OID when it exists, else
// by the name policies will give it once made ("schema.name"), so that a
// policy on that name meets its creation too.
void add_made_object(TargetList &targets, const ObjectAddress &existing, Oid class_id, Oid schema, const char *name) {
  if (OidIsValid(existing.objectId))
    add_address(targets, existing);
  else
    targets.add(class_id, InvalidOid, quote_identifier(get_namespace_name(schema)), quote_identifier(name));
}

// CREATE [OR REPLACE] VIEW: the view, in the schema it would be made in.
void add_created_relation(TargetList &targets, RangeVar *relation) {
  Oid relid = RangeVarGetRelid(relation, NoLock, true);
  Oid schema = OidIsValid(relid) ? InvalidOid : RangeVarGetCreationNamespace(relation);
  add_made_object(targets, ObjectAddress{RelationRelationId, relid, 0}, RelationRelationId, schema, relation->relname);
}

// A part of a table (trigger, rule, row security policy, constraint) a
// statement names, as "the table's schema.its own name".
void add_table_part(TargetList &targets, ObjectType type, Oid class_id, RangeVar *table, const char *part) {
  Oid relid = RangeVarGetRelid(table, NoLock, true);
  if (!OidIsValid(relid) || part == nullptr) return;  // the table's own target says it is missing
  Oid schema = get_rel_namespace(relid);
  List *name = list_make3(makeString(get_namespace_name(schema)), makeString(get_rel_name(relid)),
                          makeString(pstrdup(part)));
  add_made_object(targets, existing_object(type, reinterpret_cast<Node *>(name)), class_id, schema, part);
}

// CREATE [OR REPLACE] FUNCTION/PROCEDURE: the function its input arguments
// identify, in the schema it would be made in.
void add_defined_function(TargetList &targets, CreateFunctionStmt *create) {
  ObjectWithArgs *function = makeNode(ObjectWithArgs);
  function->objname = create->funcname;
  ListCell *cell;
  foreach (cell, create->parameters) {
    auto *parameter = lfirst_node(FunctionParameter, cell);
    if (parameter->mode == FUNC_PARAM_IN || parameter->mode == FUNC_PARAM_INOUT ||
        parameter->mode == FUNC_PARAM_VARIADIC || parameter->mode == FUNC_PARAM_DEFAULT)
      function->objargs = lappend(function->objargs, parameter->argType);
  }
  ObjectAddress existing =
      existing_object(create->is_procedure ? OBJECT_PROCEDURE : OBJECT_FUNCTION, reinterpret_cast<Node *>(function));
  char *name = nullptr;
  Oid schema = OidIsValid(existing.objectId) ? InvalidOid : QualifiedNameGetCreationNamespace(create->funcname, &name);
  add_made_object(targets, existing, ProcedureRelationId, schema, name);
}

// The catalog of the table parts a RenameStmt can rename, or InvalidOid.
Oid table_part_class(ObjectType type) {
  switch (type) {
    case OBJECT_TRIGGER: return TriggerRelationId;
    case OBJECT_RULE: return RewriteRelationId;
    case OBJECT_POLICY: return PolicyRelationId;
    case OBJECT_TABCONSTRAINT: return ConstraintRelationId;
    default: return InvalidOid;
  }
}

void add_role_name(TargetList &targets, const char *name) {
  Oid roleid = get_role_oid(name, true);
  if (!OidIsValid(roleid)) {
    targets.missing(name);
    return;
  }
  targets.add(AuthIdRelationId, roleid, "", quote_identifier(name));
}

// CURRENT_USER, CURRENT_ROLE and SESSION_USER are the roles they stand for
// (a policy on a role must not be dodged by naming it so); ALL and PUBLIC
// name no role: only a '*' policy applies to them.
void add_role(TargetList &targets, RoleSpec *role) {
  if (role == nullptr || role->roletype == ROLESPEC_PUBLIC) return;
  if (role->roletype == ROLESPEC_CSTRING) {
    add_role_name(targets, role->rolename);
    return;
  }
  Oid roleid = get_rolespec_oid(role, true);
  if (OidIsValid(roleid)) add_role_name(targets, GetUserNameFromId(roleid, false));
}

// Objects named by a bare name (schemas, extensions, tablespaces).
void add_named_object(TargetList &targets, ObjectType type, const char *name) {
  add_object(targets, type, reinterpret_cast<Node *>(makeString(pstrdup(name))));
}

void add_database(TargetList &targets, const char *name) {
  Oid dbid = get_database_oid(name, true);
  if (!OidIsValid(dbid)) {
    targets.missing(name);
    return;
  }
  targets.add(DatabaseRelationId, dbid, "", quote_identifier(name));
}

// REASSIGN OWNED: every object of this database (and every shared object)
// the roles own, as pg_shdepend records them; the roles themselves are not
// changed. Objects of the bootstrap superuser are not recorded, but
// PostgreSQL refuses to reassign those anyway.
void add_objects_owned_by(TargetList &targets, List *roles) {
  Relation shdepend = table_open(SharedDependRelationId, AccessShareLock);
  ListCell *cell;
  foreach (cell, roles) {
    Oid role = get_rolespec_oid(lfirst_node(RoleSpec, cell), true);
    if (!OidIsValid(role)) continue;
    ScanKeyData key[2];
    ScanKeyInit(&key[0], Anum_pg_shdepend_refclassid, BTEqualStrategyNumber, F_OIDEQ,
                ObjectIdGetDatum(AuthIdRelationId));
    ScanKeyInit(&key[1], Anum_pg_shdepend_refobjid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(role));
    SysScanDesc scan = systable_beginscan(shdepend, SharedDependReferenceIndexId, true, nullptr, 2, key);
    while (HeapTuple tuple = systable_getnext(scan)) {
      auto *dependency = reinterpret_cast<Form_pg_shdepend>(GETSTRUCT(tuple));
      if (dependency->deptype != SHARED_DEPENDENCY_OWNER) continue;
      if (dependency->dbid != MyDatabaseId && OidIsValid(dependency->dbid)) continue;
      add_address(targets, ObjectAddress{dependency->classid, dependency->objid, 0});
    }
    systable_endscan(scan);
  }
  table_close(shdepend, AccessShareLock);
}

void collect_targets(TargetList &targets, Node *statement) {
  ListCell *cell;
  switch (nodeTag(statement)) {
    case T_DropStmt: {
      auto *drop = castNode(DropStmt, statement);
      foreach (cell, drop->objects) add_object(targets, drop->removeType, lfirst_node(Node, cell));
      break;
    }
    case T_TruncateStmt:
      foreach (cell, castNode(TruncateStmt, statement)->relations)
        add_relation(targets, lfirst_node(RangeVar, cell));
      break;
    case T_AlterTableStmt:
      add_relation(targets, castNode(AlterTableStmt, statement)->relation);
      break;
    case T_RenameStmt: {
      auto *rename = castNode(RenameStmt, statement);
      // A table's part is renamed: the part itself (a policy may name it,
      // 'schema.its_name'), and the table.
      if (rename->relation && OidIsValid(table_part_class(rename->renameType)))
        add_table_part(targets, rename->renameType, table_part_class(rename->renameType), rename->relation,
                       rename->subname);
      if (rename->relation)
        add_relation(targets, rename->relation);
      else if (rename->renameType == OBJECT_ROLE)
        add_role_name(targets, rename->subname);
      else if (rename->renameType == OBJECT_DATABASE)
        add_database(targets, rename->subname);
      else if (rename->object != nullptr)
        add_object(targets, rename->renameType, rename->object);
      else if (rename->subname != nullptr)  // schemas, tablespaces: named by subname
        add_named_object(targets, rename->renameType, rename->subname);
      break;
    }
    case T_AlterObjectSchemaStmt: {
      auto *move = castNode(AlterObjectSchemaStmt, statement);
      if (move->relation)
        add_relation(targets, move->relation);
      else
        add_object(targets, move->objectType, move->object);
      break;
    }
    case T_AlterOwnerStmt: {
      auto *owner = castNode(AlterOwnerStmt, statement);
      if (owner->relation)
        add_relation(targets, owner->relation);
      else
        add_object(targets, owner->objectType, owner->object);
      break;
    }
    case T_AlterRoleStmt:
      add_role(targets, castNode(AlterRoleStmt, statement)->role);
      break;
    case T_AlterRoleSetStmt:
      add_role(targets, castNode(AlterRoleSetStmt, statement)->role);
      break;
    case T_DropRoleStmt:
      foreach (cell, castNode(DropRoleStmt, statement)->roles)
        add_role(targets, lfirst_node(RoleSpec, cell));
      break;
    case T_GrantRoleStmt:
      foreach (cell, castNode(GrantRoleStmt, statement)->granted_roles)
        add_role_name(targets, lfirst_node(AccessPriv, cell)->priv_name);
      break;
    case T_GrantStmt: {
      auto *grant = castNode(GrantStmt, statement);
      if (grant->objtype != OBJECT_TABLE) break;
      if (grant->targtype == ACL_TARGET_OBJECT)
        foreach (cell, grant->objects) add_relation(targets, lfirst_node(RangeVar, cell));
      else if (grant->targtype == ACL_TARGET_ALL_IN_SCHEMA)
        foreach (cell, grant->objects) add_tables_in_schema(targets, strVal(lfirst(cell)));
      break;
    }
    case T_AlterExtensionStmt:
      add_named_object(targets, OBJECT_EXTENSION, castNode(AlterExtensionStmt, statement)->extname);
      break;
    case T_AlterExtensionContentsStmt:
      add_named_object(targets, OBJECT_EXTENSION, castNode(AlterExtensionContentsStmt, statement)->extname);
      break;
    // A table's parts: the table, and the part by its own name.
    case T_CreateTrigStmt: {
      auto *trigger = castNode(CreateTrigStmt, statement);
      add_relation(targets, trigger->relation);
      add_table_part(targets, OBJECT_TRIGGER, TriggerRelationId, trigger->relation, trigger->trigname);
      break;
    }
    case T_RuleStmt: {
      auto *rule = castNode(RuleStmt, statement);
      add_relation(targets, rule->relation);
      add_table_part(targets, OBJECT_RULE, RewriteRelationId, rule->relation, rule->rulename);
      break;
    }
    case T_CreatePolicyStmt: {
      auto *policy = castNode(CreatePolicyStmt, statement);
      add_relation(targets, policy->table);
      add_table_part(targets, OBJECT_POLICY, PolicyRelationId, policy->table, policy->policy_name);
      break;
    }
    case T_AlterPolicyStmt: {
      auto *policy = castNode(AlterPolicyStmt, statement);
      add_relation(targets, policy->table);
      add_table_part(targets, OBJECT_POLICY, PolicyRelationId, policy->table, policy->policy_name);
      break;
    }
    case T_ViewStmt:
      add_created_relation(targets, castNode(ViewStmt, statement)->view);
      break;
    case T_CreateFunctionStmt:
      add_defined_function(targets, castNode(CreateFunctionStmt, statement));
      break;
    case T_DropTableSpaceStmt:
      add_named_object(targets, OBJECT_TABLESPACE, castNode(DropTableSpaceStmt, statement)->tablespacename);
      break;
    case T_AlterTableSpaceOptionsStmt:
      add_named_object(targets, OBJECT_TABLESPACE,
                       castNode(AlterTableSpaceOptionsStmt, statement)->tablespacename);
      break;
    case T_AlterDatabaseRefreshCollStmt:
      add_database(targets, castNode(AlterDatabaseRefreshCollStmt, statement)->dbname);
      break;
    case T_DropdbStmt:
      add_database(targets, castNode(DropdbStmt, statement)->dbname);
      break;
    case T_AlterDatabaseStmt:
      add_database(targets, castNode(AlterDatabaseStmt, statement)->dbname);
      break;
    case T_AlterDatabaseSetStmt:
      add_database(targets, castNode(AlterDatabaseSetStmt, statement)->dbname);
      break;
    case T_ReassignOwnedStmt:
      add_objects_owned_by(targets, castNode(ReassignOwnedStmt, statement)->roles);
      break;
    case T_AlterSystemStmt: {
      VariableSetStmt *set = castNode(AlterSystemStmt, statement)->setstmt;
      targets.add(InvalidOid, InvalidOid, "", set->name ? pstrdup(set->name) : "ALL");
      break;
    }
    default:
      break;  // no object to name: only an operation-wide '*' policy applies
  }
}

// "a, b" from a list of role specs or privilege names, quoted.
char *role_list(List *roles) {
  StringInfoData out;
  initStringInfo(&out);
  ListCell *cell;
  foreach (cell, roles) {
    Node *item = lfirst_node(Node, cell);
    // PUBLIC is no role: get_rolespec_name would fail on it.
    if (IsA(item, RoleSpec) && castNode(RoleSpec, item)->roletype == ROLESPEC_PUBLIC) {
      appendStringInfo(&out, "%sPUBLIC", out.len ? ", " : "");
      continue;
    }
    // A name is taken as written: the role may not exist yet (CREATE ROLE u
    // IN ROLE r is judged as GRANT r TO u before u is created).
    const char *name = IsA(item, AccessPriv)                                  ? castNode(AccessPriv, item)->priv_name
                       : castNode(RoleSpec, item)->roletype == ROLESPEC_CSTRING ? castNode(RoleSpec, item)->rolename
                                                                                 : get_rolespec_name(castNode(RoleSpec, item));
    appendStringInfo(&out, "%s%s", out.len ? ", " : "", quote_identifier(name));
  }
  return out.data;
}

// The REVOKE undoing a GRANT of roles, or of privileges on tables; nullptr
// for statements a temporary grant cannot be made of.
const char *revocation_of(Node *statement) {
  if (IsA(statement, GrantRoleStmt)) {
    auto *grant = castNode(GrantRoleStmt, statement);
    if (!grant->is_grant) return nullptr;
    return psprintf("REVOKE %s FROM %s", role_list(grant->granted_roles), role_list(grant->grantee_roles));
  }
  if (!IsA(statement, GrantStmt)) return nullptr;
  auto *grant = castNode(GrantStmt, statement);
  if (!grant->is_grant || grant->targtype != ACL_TARGET_OBJECT || grant->objtype != OBJECT_TABLE)
    return nullptr;
  StringInfoData privileges, tables;
  initStringInfo(&privileges);
  initStringInfo(&tables);
  ListCell *cell;
  foreach (cell, grant->privileges) {
    auto *privilege = lfirst_node(AccessPriv, cell);
    if (privilege->cols != NIL) return nullptr;  // column privileges: not supported
    appendStringInfo(&privileges, "%s%s", privileges.len ? ", " : "", privilege->priv_name);
  }
  foreach (cell, grant->objects) {
    auto *table = lfirst_node(RangeVar, cell);
    Oid relid = RangeVarGetRelid(table, NoLock, true);
    if (!OidIsValid(relid)) return nullptr;
    appendStringInfo(&tables, "%s%s", tables.len ? ", " : "",
                     quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), get_rel_name(relid)));
  }
  return psprintf("REVOKE %s ON TABLE %s FROM %s", privileges.len ? privileges.data : "ALL PRIVILEGES",
                  tables.data, role_list(grant->grantees));
}

// Settings that decide what pg_mpa is: its own, the libraries loaded into
// every session (one could replace pg_mpa's hooks), session_replication_role
// (replica mode silences triggers, pg_mpa's too) and allow_system_table_mods.
bool is_pg_mpa_setting(const char *name) {
  return name != nullptr &&
         (pg_strncasecmp(name, "mpa.", 4) == 0 || pg_strcasecmp(name, "shared_preload_libraries") == 0 ||
          pg_strcasecmp(name, "session_preload_libraries") == 0 ||
          pg_strcasecmp(name, "local_preload_libraries") == 0 ||
          pg_strcasecmp(name, "session_replication_role") == 0 ||
          pg_strcasecmp(name, "allow_system_table_mods") == 0);
}

// Settings of other roles' and databases' sessions that pg_mpa relies on:
// its own and the above, and log_min_messages, which above ERROR would keep
// pg_mpa's log hook from seeing an approver's code entry cancelled before
// pg_mpa's code ran (the hook burns that code). A session's own SET of it
// is free: it hides only that session's errors.
bool is_pg_mpa_setting_for_others(const char *name) {
  return is_pg_mpa_setting(name) || (name != nullptr && pg_strcasecmp(name, "log_min_messages") == 0);
}

// Languages whose functions run outside PostgreSQL's sandbox (C, internal,
// plperlu, plpython3u, ...): creating such code is a route to the server.
// The predefined roles that open the server's files and programs to a
// role that is not a superuser.
bool grants_server_access(GrantRoleStmt *grant) {
  if (!grant->is_grant) return false;
  ListCell *cell;
  foreach (cell, grant->granted_roles) {
    const char *role = castNode(AccessPriv, lfirst(cell))->priv_name;
    if (role != nullptr && (strcmp(role, "pg_execute_server_program") == 0 ||
                            strcmp(role, "pg_read_server_files") == 0 ||
                            strcmp(role, "pg_write_server_files") == 0))
      return true;
  }
  return false;
}

bool is_untrusted_language(const char *language) {
  if (language == nullptr) return false;  // the default, SQL, is trusted
  HeapTuple tuple = SearchSysCache1(LANGNAME, CStringGetDatum(language));
  if (!HeapTupleIsValid(tuple)) return false;  // PostgreSQL reports it
  bool trusted = reinterpret_cast<Form_pg_language>(GETSTRUCT(tuple))->lanpltrusted;
  ReleaseSysCache(tuple);
  return !trusted;
}

const char *language_option(List *options) {
  ListCell *cell;
  foreach (cell, options) {
    auto *option = lfirst_node(DefElem, cell);
    if (strcmp(option->defname, "language") == 0) return strVal(option->arg);
  }
  return nullptr;
}

}  // namespace

bool changes_pg_mpa_setup(Node *parsetree) {
  switch (nodeTag(parsetree)) {
    // Any parameter: the server's own file writers (the logging collector's
    // log_directory and log_filename, archive_command, ...) could otherwise
    // reach postgresql.auto.conf or run a program; one rule closes them all.
    case T_AlterSystemStmt:
      return true;
    case T_AlterRoleSetStmt:
      return is_pg_mpa_setting_for_others(castNode(AlterRoleSetStmt, parsetree)->setstmt->name);
    case T_AlterDatabaseSetStmt:
      return is_pg_mpa_setting_for_others(castNode(AlterDatabaseSetStmt, parsetree)->setstmt->name);
    case T_VariableSetStmt:
      return is_pg_mpa_setting(castNode(VariableSetStmt, parsetree)->name);
    case T_GrantRoleStmt:
      return grants_server_access(castNode(GrantRoleStmt, parsetree));
    case T_LoadStmt:
    case T_CreateExtensionStmt:
    // Event triggers run code inside every DDL statement of every user:
    // made, enabled, renamed or given to another owner (who could then
    // replace their function).
    case T_CreateEventTrigStmt:
    case T_AlterEventTrigStmt:
      return true;
    case T_RenameStmt:
      return castNode(RenameStmt, parsetree)->renameType == OBJECT_EVENT_TRIGGER;
    case T_AlterOwnerStmt:
      return castNode(AlterOwnerStmt, parsetree)->objectType == OBJECT_EVENT_TRIGGER;
    case T_CopyStmt: {  // COPY … PROGRAM, or a file on the server
      auto *copy = castNode(CopyStmt, parsetree);
      return copy->is_program || copy->filename != nullptr;
    }
    case T_CreateFunctionStmt:
      return is_untrusted_language(language_option(castNode(CreateFunctionStmt, parsetree)->options));
    case T_DoStmt:
      return is_untrusted_language(language_option(castNode(DoStmt, parsetree)->args));
    default:
      return false;
  }
}

namespace {

StatementDescription describe(Node *statement, const char *text, bool require_existing, bool with_fingerprint) {
  // Fingerprints read '...' literals the standard way; with backslash
  // escapes in plain strings the same text could mean another statement.
  if (!standard_conforming_strings)
    ereport(ERROR, (errcode(sqlstates::kNotAsWritten),
                    errmsg("pg_mpa needs standard_conforming_strings = on to judge a statement")));
  TargetList targets;
  targets.require_existing = require_existing;
  collect_targets(targets, statement);
  // CREATE OR REPLACE of an object that exists alters it: judged as such.
  const char *operation = GetCommandTagName(CreateCommandTag(statement));
  const char *replacing = operation_when_replacing(statement);
  if (replacing != nullptr && targets.count > 0 && OidIsValid(targets.items[0].object_id)) operation = replacing;
  return StatementDescription{operation, targets.count,
                              targets.items, with_fingerprint ? statement_fingerprint(text) : nullptr,
                              revocation_of(statement),
                              changes_pg_mpa_setup(statement), name_change_of(statement)};
}

// A request for a pg_mpa configuration change names the function it calls.
StatementDescription describe_configuration_call(const char *function, const char *text) {
  auto *target = static_cast<StatementTarget *>(palloc(sizeof(StatementTarget)));
  *target = StatementTarget{InvalidOid, InvalidOid, "", function};
  return StatementDescription{kConfigureOperation, 1, target, statement_fingerprint(text), nullptr, false};
}

}  // namespace

namespace {

// The schema of a name list ("name", "schema.name", "catalog.schema.name").
const char *schema_of_name_list(List *names) {
  return list_length(names) >= 2 ? strVal(list_nth(names, list_length(names) - 2)) : nullptr;
}

bool is_relation_type(ObjectType type) {
  switch (type) {
    case OBJECT_TABLE:
    case OBJECT_INDEX:
    case OBJECT_SEQUENCE:
    case OBJECT_VIEW:
    case OBJECT_MATVIEW:
    case OBJECT_FOREIGN_TABLE:
      return true;
    default:
      return false;
  }
}

}  // namespace

// Mirrors collect_targets() for the statements it names relations of.
int relation_target_schemas(Node *statement, const char **schemas, int capacity) {
  RangeVar *relation = nullptr;
  switch (nodeTag(statement)) {
    case T_DropStmt: {
      auto *drop = castNode(DropStmt, statement);
      if (!is_relation_type(drop->removeType) || list_length(drop->objects) > capacity) return -1;
      int count = 0;
      ListCell *cell;
      foreach (cell, drop->objects) schemas[count++] = schema_of_name_list(lfirst_node(List, cell));
      return count;
    }
    case T_TruncateStmt: {
      List *relations = castNode(TruncateStmt, statement)->relations;
      if (list_length(relations) > capacity) return -1;
      int count = 0;
      ListCell *cell;
      foreach (cell, relations) schemas[count++] = lfirst_node(RangeVar, cell)->schemaname;
      return count;
    }
    case T_AlterTableStmt: relation = castNode(AlterTableStmt, statement)->relation; break;
    case T_RenameStmt: relation = castNode(RenameStmt, statement)->relation; break;
    case T_AlterObjectSchemaStmt: relation = castNode(AlterObjectSchemaStmt, statement)->relation; break;
    case T_AlterOwnerStmt: relation = castNode(AlterOwnerStmt, statement)->relation; break;
    default: break;
  }
  if (relation == nullptr || capacity < 1) return -1;
  schemas[0] = relation->schemaname;
  return 1;
}

const char *operation_when_replacing(Node *statement) {
  if (IsA(statement, ViewStmt) && castNode(ViewStmt, statement)->replace) return "ALTER VIEW";
  if (IsA(statement, CreateFunctionStmt) && castNode(CreateFunctionStmt, statement)->replace)
    return castNode(CreateFunctionStmt, statement)->is_procedure ? "ALTER PROCEDURE" : "ALTER FUNCTION";
  return nullptr;
}

NameChange name_change_of(Node *parsetree) {
  switch (nodeTag(parsetree)) {
    case T_AlterObjectSchemaStmt:
    case T_AlterOwnerStmt:
    case T_ReassignOwnedStmt:
      return NameChange::Move;
    case T_AlterTableStmt: {
      ListCell *cell;
      foreach (cell, castNode(AlterTableStmt, parsetree)->cmds)
        if (lfirst_node(AlterTableCmd, cell)->subtype == AT_ChangeOwner) return NameChange::Move;
      return NameChange::None;
    }
    case T_RenameStmt:
      // A table's triggers, rules, row security policies and constraints
      // have names policies use ('schema.their_name'): renaming one could
      // take it away from a policy, as renaming any object can.
      switch (castNode(RenameStmt, parsetree)->renameType) {
        case OBJECT_COLUMN:
        case OBJECT_ATTRIBUTE:
        case OBJECT_DOMCONSTRAINT:
          return NameChange::None;
        default:
          return NameChange::Rename;
      }
    default:
      return NameChange::None;
  }
}

namespace {

List *option_list(List *options, const char *name) {
  ListCell *cell;
  foreach (cell, options) {
    auto *option = lfirst_node(DefElem, cell);
    if (strcmp(option->defname, name) == 0) return castNode(List, option->arg);
  }
  return NIL;
}

// CURRENT_ROLE, CURRENT_USER and SESSION_USER are the roles they stand for:
// a policy on a role must not be dodged by naming it so.
const char *role_name(RoleSpec *role) {
  return role->roletype == ROLESPEC_CSTRING ? role->rolename : get_rolespec_name(role);
}

AccessPriv *role_privilege(const char *role) {
  AccessPriv *privilege = makeNode(AccessPriv);
  privilege->priv_name = pstrdup(role);
  return privilege;
}

Node *role_grant(List *granted_roles, List *grantees) {
  GrantRoleStmt *grant = makeNode(GrantRoleStmt);
  grant->granted_roles = granted_roles;
  grant->grantee_roles = grantees;
  grant->is_grant = true;
  return reinterpret_cast<Node *>(grant);
}

}  // namespace

Node *judged_form(Node *statement) {
  if (!IsA(statement, AlterRoleStmt)) return statement;
  auto *alter = castNode(AlterRoleStmt, statement);
  List *members = option_list(alter->options, "rolemembers");
  if (alter->action != +1 || members == NIL || alter->role->roletype == ROLESPEC_PUBLIC) return statement;
  // Without any GRANT ROLE policy it stays the ALTER ROLE it is spelled as,
  // so that an ALTER ROLE policy goes on covering it.
  if (!operation_is_protected("GRANT ROLE")) return statement;
  return role_grant(list_make1(role_privilege(role_name(alter->role))), members);
}

Node *memberships_granted_by(Node *statement) {
  if (!IsA(statement, CreateRoleStmt)) return nullptr;
  auto *create = castNode(CreateRoleStmt, statement);
  List *joined = option_list(create->options, "addroleto");
  if (joined == NIL) return nullptr;
  List *granted = NIL;
  ListCell *cell;
  foreach (cell, joined) {
    auto *role = lfirst_node(RoleSpec, cell);
    if (role->roletype != ROLESPEC_PUBLIC) granted = lappend(granted, role_privilege(role_name(role)));
  }
  RoleSpec *created = makeNode(RoleSpec);
  created->roletype = ROLESPEC_CSTRING;
  created->rolename = create->role;
  created->location = -1;
  return granted == NIL ? nullptr : role_grant(granted, list_make1(created));
}

const char *first_member_given_the_new_role(Node *statement) {
  if (!IsA(statement, CreateRoleStmt)) return nullptr;
  auto *create = castNode(CreateRoleStmt, statement);
  for (const char *option : {"rolemembers", "adminmembers"}) {
    List *members = option_list(create->options, option);
    if (members != NIL) return role_name(linitial_node(RoleSpec, members));
  }
  return nullptr;
}

StatementDescription describe_statement_text(const char *text) {
  List *statements = raw_parser(text, RAW_PARSE_DEFAULT);
  if (list_length(statements) != 1)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("a request must hold exactly one statement, not %d",
                           list_length(statements)),
                    errhint("Make one request for each statement.")));
  RawStmt *raw = linitial_node(RawStmt, statements);
  // Before anything is recorded: a request is readable by every role.
  refuse_request_with_secret(raw->stmt);
  if (const char *function = configuration_call(raw, text)) return describe_configuration_call(function, text);
  return describe(judged_form(raw->stmt), text, true, true);
}

StatementDescription describe_parsed_statement(Node *statement, const char *text) {
  return describe(statement, text, false, false);
}

const char *statement_fingerprint(const char *text) {
  return run_cpp([text] {
    std::string fingerprint = sql::fingerprint(sql::normalize_statement(text));
    return call_postgres([&fingerprint] { return pstrdup(fingerprint.c_str()); });
  });
}

namespace {

// Relations, the common case, and types straight from their catalog row
// (temporary schemas as "pg_temp", as getObjectIdentityParts names them; it
// gives a type as one formatted, qualified string, which no "schema.name"
// policy would match). false when the row is gone.
bool target_from_catalog_row(const ObjectAddress &address, StatementTarget *target) {
  bool is_relation = address.classId == RelationRelationId;
  HeapTuple tuple = SearchSysCache1(is_relation ? RELOID : TYPEOID, ObjectIdGetDatum(address.objectId));
  if (!HeapTupleIsValid(tuple)) return false;
  Oid schema = InvalidOid;
  const char *name = nullptr;
  if (is_relation) {
    auto *relation = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple));
    schema = relation->relnamespace;
    name = pstrdup(NameStr(relation->relname));
  } else {
    auto *type = reinterpret_cast<Form_pg_type>(GETSTRUCT(tuple));
    schema = type->typnamespace;
    name = pstrdup(NameStr(type->typname));
  }
  ReleaseSysCache(tuple);
  *target = StatementTarget{address.classId, address.objectId, quote_identifier(get_namespace_name_or_temp(schema)),
                            quote_identifier(name)};
  return true;
}

}  // namespace

StatementTarget target_of(const ObjectAddress &address) {
  StatementTarget target;
  if ((address.classId == RelationRelationId || address.classId == TypeRelationId) &&
      target_from_catalog_row(address, &target))
    return target;
  // Other objects as getObjectIdentityParts names them (a list of C
  // strings): the last part is the name, the first (if more than one) the
  // schema. Identity parts are (schema, name) for objects in schemas, (schema,
  // table, name) for the parts of a table (triggers, rules, row security
  // policies, constraints): those are named by their table's schema and
  // their own name, so that 'schema.*' covers them.
  List *parts = NIL;
  List *args = NIL;
  getObjectIdentityParts(&address, &parts, &args, false);
  int n = list_length(parts);
  const char *name = quote_identifier(static_cast<const char *>(llast(parts)));
  const char *schema = n >= 2 ? quote_identifier(static_cast<const char *>(linitial(parts))) : "";
  return StatementTarget{address.classId, address.objectId, schema, name};
}

const char *target_display_name(const StatementTarget &target) {
  return target.schema[0] ? psprintf("%s.%s", target.schema, target.name) : target.name;
}

}  // namespace mpa::pg
