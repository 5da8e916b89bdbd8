// The restore window: the one way into pg_mpa's tables that pg_mpa's own
// code does not make (docs/decisions.md, "Backup and restore").
//
// pg_dump carries pg_mpa's tables (pg_extension_config_dump) and pg_restore,
// or psql running a plain dump, writes them back with
// `COPY mpa.<table> (columns) FROM stdin`. Every other write of them stays
// refused. The window is narrow:
//  * it belongs to the session whose CREATE EXTENSION pg_mpa made a new
//    installation (the extension did not exist, so its tables are empty and
//    no team governs it: a governed pg_mpa cannot be dropped to make room);
//  * it lets through only COPY ... FROM STDIN of the tables pg_dump carries,
//    as pg_dump writes it (no WHERE, no options), each table once, into an
//    empty table; no INSERT, UPDATE or DELETE;
//  * it closes for good when that session ends, when its CREATE EXTENSION
//    rolls back, and at the first call of any of pg_mpa's public functions,
//    in any session. No statement reopens it.
// While it is open, the mail worker does nothing (its audit entries would
// take the ids and chain positions the restored audit brings), and the
// restored policies bind every session but the restoring one, whose
// remaining restore statements (indexes, grants, triggers) they would
// otherwise refuse. Once it closed, the worker records the restore in the
// audit (restore_window_finish_sql).
// PostgreSQL-style code (no C++ objects with destructors).
#pragma once

#include "pg/boundary/postgres.hpp"

extern "C" {
#include "tcop/utility.h"
}

namespace mpa::pg {

// CREATE EXTENSION pg_mpa's script, before it creates schema mpa: opens this
// session's window when this is a new installation (schema mpa does not
// exist yet; not ALTER EXTENSION UPDATE, not pg_upgrade).
void open_restore_window_if_new();

// A call of one of pg_mpa's public functions, in any session: the window,
// if one is open, closes for good. One atomic read when none is.
void close_restore_window_on_use();

// Whether this session's window is open (the restored policies do not bind
// its remaining restore statements). A local flag when it never opened.
bool restore_window_open_here();

// The mail worker: whether a window is open in any session (it then waits).
bool restore_window_open_anywhere();

// The mail worker: whether a window closed since it last asked (it then
// records the restore: SELECT mpa.finish_restore()).
bool restore_window_closed_since_asked();

// The gate, for every utility statement in pg_mpa's database: when the
// statement is a COPY ... FROM into one of pg_mpa's tables, refuses it
// (MP001) unless this session's window lets it through, and then runs it
// with `run` as pg_mpa's own write and records what it restored. Returns
// whether it handled the statement (false: not a COPY into pg_mpa).
bool restore_copy(ProcessUtility_hook_type run, PlannedStmt *statement, const char *query, bool read_only_tree,
                  ProcessUtilityContext context, ParamListInfo params, QueryEnvironment *query_env,
                  DestReceiver *dest, QueryCompletion *completion);

}  // namespace mpa::pg
