// pg_mpa protects itself. Trust belongs to a call of pg_mpa's own code:
//  * Its public functions (members of the extension outside schema mpa) are
//    entry points; its internal functions (members in schema mpa) run only
//    below one of them, in its internal SQL or in its worker, and are
//    refused to any other caller (MP010). Membership is by OID.
//  * Its tables are written only by that trusted code: a direct INSERT,
//    UPDATE, DELETE, COPY FROM, TRUNCATE or row lock on a table in schema
//    mpa is refused for every role.
//  * Its objects change only with its own extension scripts: nothing is
//    created in schema mpa, replaces one of its functions, hangs on its
//    tables or extends built-in casts and operator families, and nothing of
//    it is altered, for every role, always. Once a team governs pg_mpa
//    (a policy on MPA CONFIGURE) it cannot be dropped either, however
//    reached, and nothing is created in pg_catalog, except by a statement
//    the gate let through as approved by that team.
// Settings, libraries and the routes to files and programs are closed by
// the gate (changes_pg_mpa_setup) and server_files.hpp; docs/threat-model.md
// and docs/self-protection.md list every path.
#pragma once

#include "pg/boundary/postgres.hpp"

extern "C" {
#include "catalog/objectaccess.h"
#include "nodes/pg_list.h"
}

namespace mpa::pg {

// Whether the object is one of pg_mpa's own (see above): its extension,
// schema, tables, functions and what hangs on its tables; and, once a team
// governs pg_mpa, its home database (mpa.database).
bool is_pg_mpa_object(Oid class_id, Oid object_id);

// Refuses a statement that would make a relation inherit from, or a
// partition of, one of pg_mpa's tables (its rows would count as pg_mpa's),
// or put one of pg_mpa's tables under another: for every role, always.
void refuse_inheritance_from_pg_mpa(Node *statement);

// Refuses LOCK TABLE of one of pg_mpa's tables, for every role, always, and
// of a system catalog once governed: a stranger's lock would stall
// approvals (and hold a waiting verification, its code on display).
void refuse_lock_of_pg_mpa_tables(Node *statement);

// Refuses, for every role: ALTER TABLE of one of pg_mpa's tables while no
// team governs (SET UNLOGGED or SET ACCESS METHOD rewrite it without any
// other trace; once governed the gate asks the governing team), and
// CLUSTER or REINDEX of one inside a transaction block (its lock would be
// held at will, like LOCK TABLE's).
void refuse_maintenance_hazards(Node *statement);

// Refuses ALTER ... SET SCHEMA into pg_mpa's schema (always) or into
// pg_catalog (once governed): the same rule as for objects created there.
void refuse_move_into_protected_schema(Node *statement);

// The gate marks the run of a statement it let through as approved.
void set_approved_statement_running(bool running);
bool approved_statement_is_running();

// The gate marks the run of an ALTER EXTENSION pg_mpa UPDATE it let through
// (no team governs, or its request was approved): PostgreSQL alters the
// extension (its version) before the script runs, and that is pg_mpa's own
// change, as the script's are.
void set_pg_mpa_update_running(bool running);

// Whether the query running now may do what only an approved statement's
// own work may (write the system catalogs, call the server-file functions):
// the script of an approved CREATE/ALTER EXTENSION. A query a trigger or a
// function runs inside an approved statement is not part of what was
// approved, nor is a query the approved statement itself evaluates.
bool approved_extension_script_is_running();

// pg_mpa's own extension script is running (CREATE EXTENSION pg_mpa, ALTER
// EXTENSION pg_mpa UPDATE): it may change pg_mpa's objects (no event
// trigger runs beside it: the gate). Asked only where a change would
// otherwise be refused: ordinary statements never get there.
bool pg_mpa_script_is_running();

// What pg_mpa's hooks (src/pg/hooks/) ask of self-protection:
// ExecutorCheckPerms: whether the query may write the relations it names
// (pg_mpa's tables only by pg_mpa's code; the catalogs not once governed);
// raises (MP001) or returns false, as PostgreSQL asks.
bool check_table_writes(List *range_table, bool ereport_on_violation);
// needs_fmgr: whether the function is pg_mpa's (its calls are watched).
bool is_pg_mpa_function(Oid function);
// fmgr, at the start of a call of a function of pg_mpa's: refuses an
// internal one called from outside pg_mpa (MP010), closes a restore
// window at the first use of pg_mpa, and marks pg_mpa's code as running
// (returns whether it did; pg_mpa_call_ends() undoes it).
bool pg_mpa_call_starts(Oid function);
void pg_mpa_call_ends();
// object_access, OAT_POST_CREATE: refuses (MP001) an object that would
// reach into pg_mpa (its schema, its tables, its functions replaced, a
// look-alike of a public function, built-in casts and operator families,
// pg_catalog once governed).
void refuse_objects_reaching_into_pg_mpa(Oid class_id, Oid object_id, int sub_id, void *arg);
// object_access, OAT_TRUNCATE: refuses a TRUNCATE of pg_mpa's tables
// however reached (MP001).
void refuse_truncate_of_pg_mpa_tables(ObjectAccessType access, Oid class_id, Oid object_id);
// object_access, OAT_DROP / OAT_POST_ALTER: refuses a function renamed to a
// look-alike of a public one, and the drop or alteration of pg_mpa's
// objects (MP001).
void protect_pg_mpa_objects(ObjectAccessType access, Oid class_id, Oid object_id, int sub_id, void *arg);
// Whether pg_mpa's own code is running (its functions, internal SQL, the
// worker): what it does is not judged as a stranger's.
bool trusted_code_is_running();

// Registers the caches self-protection keeps (from _PG_init).
void register_self_protection_caches();

// Refuses (MP001) to let governance start beside what was made before
// pg_mpa's rules applied and would outlive them: functions named like its
// public ones (they could be called instead), code in untrusted languages
// outside any extension, and adminpack and file_fdw (they reach the
// server's files and programs).
void refuse_governance_beside_unsafe_code();

// Marks the running code as pg_mpa's own for a while (balanced calls).
void enter_trusted_code();
void leave_trusted_code();

// The mail worker is pg_mpa's own for its whole life.
void trust_this_process();

// Runs body(context) with pg_mpa's trust set aside: the statement of an
// approved request runs as its requester, and whatever it reaches
// (functions, triggers, pg_mpa's internal functions) meets every rule as if
// typed. PostgreSQL-style: may ereport; the trust is restored either way.
void without_trust(void (*body)(void *), void *context);

}  // namespace mpa::pg
