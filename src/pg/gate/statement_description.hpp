// What a statement would do, as pg_mpa judges it: its command tag, the
// objects it targets (by OID, with the names policies use) and the
// fingerprint of its normalised text. mpa_request() and the gate describe
// statements with the same code, so what was approved is what runs.
#pragma once

#include "pg/boundary/postgres.hpp"

extern "C" {
#include "catalog/objectaddress.h"
#include "nodes/parsenodes.h"
}

namespace mpa::pg {

struct StatementTarget {
  Oid class_id;       // InvalidOid for things without a catalog row (settings)
  Oid object_id;
  const char *schema; // quoted as quote_identifier does; "" outside schemas
  const char *name;   // quoted; for settings, the setting name
};

// Statements that give objects another name, schema or owner: a policy
// naming an object by its old name would no longer apply, and re-owning a
// protected object hands it to someone else. Renaming a column changes no
// object's name; renaming a table's trigger, rule, row security policy or
// constraint changes the name policies give it. Move: the object may
// leave its schema (SET SCHEMA), or change hands (OWNER TO, REASSIGN OWNED).
enum class NameChange { None, Rename, Move };

struct StatementDescription {
  const char *operation;  // the command tag, e.g. "DROP TABLE"
  int target_count;
  StatementTarget *targets;
  const char *fingerprint;  // hex SHA-256 of the normalised statement text (nullptr: not computed)
  // For GRANT of roles or of table privileges: the REVOKE that undoes it
  // (what a temporary grant runs when it ends); nullptr for anything else.
  const char *revoke_statement;
  // Changes pg_mpa's settings or loads code: governed by the team that
  // governs pg_mpa (see changes_pg_mpa_setup).
  bool changes_pg_mpa_setup;
  NameChange name_change = NameChange::None;
};

NameChange name_change_of(Node *statement);

// CREATE OR REPLACE VIEW / FUNCTION / PROCEDURE of an object that exists
// alters it: the operation it is judged as then ("ALTER VIEW", ...), or
// nullptr for statements that replace nothing. Needs no catalog lookup (the
// description checks that the object exists).
const char *operation_when_replacing(Node *statement);

// Whether the statement changes pg_mpa's set-up or opens a route around it:
// its settings (mpa.*), the libraries loaded into sessions (one could
// replace pg_mpa's hooks), session_replication_role, LOAD, new extensions,
// event triggers, code in untrusted languages (C, plpython3u, ...), and COPY
// to or from a program or a server file.
bool changes_pg_mpa_setup(Node *statement);

// For statements whose targets are relations named in the parse tree (DROP
// TABLE, INDEX, SEQUENCE, VIEW, MATERIALIZED VIEW or FOREIGN TABLE;
// TRUNCATE; ALTER TABLE; renaming, moving or re-owning a relation): stores
// the schema each target is named in (nullptr when unqualified) into
// `schemas` and returns how many, without any catalog lookup. -1 for other
// statements and for more than `capacity` targets: describe those.
int relation_target_schemas(Node *statement, const char **schemas, int capacity);

// Policies match what a statement does, not its form: the statement to
// judge in place of `statement` when it is another spelling of one pg_mpa
// knows (ALTER GROUP r ADD USER u is GRANT r TO u, while any GRANT ROLE
// policy exists; an ALTER ROLE policy covers it otherwise); `statement`
// otherwise. PostgreSQL-style.
Node *judged_form(Node *statement);

// The role memberships CREATE ROLE u IN ROLE r grants (GRANT r TO u), or
// nullptr: judged apart, since the statement also creates a role.
Node *memberships_granted_by(Node *statement);

// The first role CREATE ROLE u ROLE m / ADMIN a makes a member of the new
// role u (m, else a), or nullptr when it names none.
const char *first_member_given_the_new_role(Node *statement);

// Parses `text`, which must hold exactly one statement, and describes it.
// Targets that do not exist are an error (a request names real objects).
// PostgreSQL-style: may ereport.
StatementDescription describe_statement_text(const char *text);

// Describes an already parsed utility statement whose source text is
// `text`; targets that do not exist are skipped (PostgreSQL will complain
// about them itself). The fingerprint is left out (nullptr): the gate
// computes it only for a statement that needs approval. PostgreSQL-style.
StatementDescription describe_parsed_statement(Node *statement, const char *text);

// Hex SHA-256 of the statement's normalised text. PostgreSQL-style.
const char *statement_fingerprint(const char *text);

// An object as a target, named the way policies name it.
StatementTarget target_of(const ObjectAddress &address);

// "schema.name" or "name", as shown in messages and stored in requests.
const char *target_display_name(const StatementTarget &target);

}  // namespace mpa::pg
