#include "pg/protection/restore_window.hpp"

#include <cstring>

#include "pg/boundary/internal_sql.hpp"
#include "pg/boundary/refusal.hpp"
#include "pg/protection/self_protection.hpp"
#include "pg/shared/at_commit.hpp"
#include "pg/shared/shared_state.hpp"
#include "pg/startup/installation.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "storage/ipc.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
}

namespace mpa::pg {
namespace {

// The tables pg_dump carries (sql/install/17_backup_restore.sql marks them
// with pg_extension_config_dump). Not the outbox: mail waiting at the
// backup is not sent again from the copy (its history is in the audit).
constexpr const char *kRestoredTables[] = {"teams",      "approvers",     "policies",        "policy_teams",
                                           "requests",   "request_teams", "votes",           "temporary_grants",
                                           "challenges", "audit",         "break_glass",     "break_glass_uses",
                                           "reviews"};

bool opened_here = false;  // this session opened a window (which may have closed since)
// While the transaction (or savepoint) whose CREATE EXTENSION opened the
// window is open: its rollback closes the window.
SubTransactionId opened_in = InvalidSubTransactionId;
bool callbacks_registered = false;

uint32 window_holder() { return pg_atomic_read_u32(&shared_state()->restore_window_pid); }

// Closes the window if `pid` holds it; the worker then records the restore.
void close_window_of(uint32 pid) {
  SharedState *state = shared_state();
  if (pid == 0 || !pg_atomic_compare_exchange_u32(&state->restore_window_pid, &pid, 0)) return;
  pg_atomic_write_u32(&state->restore_window_closed, 1);
  wake_mail_worker();
}

void close_own_window() { close_window_of(static_cast<uint32>(MyProcPid)); }

void on_session_end(int, Datum) { close_own_window(); }

void on_transaction_end(XactEvent event, void *) {
  if (opened_in == InvalidSubTransactionId) return;
  if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT) close_own_window();
  if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_COMMIT ||
      event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_PREPARE)
    opened_in = InvalidSubTransactionId;
}

void on_subtransaction_end(SubXactEvent event, SubTransactionId subtransaction, SubTransactionId parent, void *) {
  if (opened_in == InvalidSubTransactionId || subtransaction != opened_in) return;
  if (event == SUBXACT_EVENT_ABORT_SUB) {
    close_own_window();
    opened_in = InvalidSubTransactionId;
  } else if (event == SUBXACT_EVENT_COMMIT_SUB) {
    opened_in = parent;
  }
}

bool carried_by_pg_dump(const char *table) {
  for (const char *restored : kRestoredTables)
    if (std::strcmp(restored, table) == 0) return true;
  return false;
}

// Runs one query of pg_mpa's on `table` (its name as the query's $1) with
// pg_mpa's privileges; returns its boolean result (false for none).
bool ask_about_table(const char *sql, const char *table) {
  bool answer = false;
  auto body = [sql, table, &answer] {
    Oid types[1] = {TEXTOID};
    Datum values[1] = {CStringGetTextDatum(table)};
    SPI_connect();
    if (SPI_execute_with_args(sql, 1, types, values, nullptr, false, 1) != SPI_OK_SELECT)
      elog(ERROR, "pg_mpa: cannot restore mpa.%s", table);
    bool is_null = true;
    Datum value = SPI_processed == 1 ? SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &is_null)
                                     : Datum(0);
    answer = !is_null && DatumGetBool(value);
    SPI_finish();
  };
  with_pg_mpa_privileges(body);
  return answer;
}

[[noreturn]] void refuse_copy(const char *table, const char *why, const char *detail, const char *hint) {
  refuse({psprintf("COPY into mpa.%s (%s)", table, why), nullptr,
          psprintf("COPY into pg_mpa's table mpa.%s is refused: %s", table, why), detail, hint});
}

// Refuses the COPY unless this session's window lets it through.
void admit(const CopyStmt *copy, const char *table) {
  uint32 holder = window_holder();
  if (holder != 0 && holder != static_cast<uint32>(MyProcPid))
    refuse_copy(table, psprintf("pg_mpa is being restored by another session (pid %u)", holder),
                "Only the session whose CREATE EXTENSION pg_mpa made the installation restores pg_mpa's tables.",
                "Restore with one job: pg_restore without -j (or with -j 1), a plain dump with one psql.");
  if (holder == 0 && opened_here)
    refuse_copy(table, "this session's restore window has closed",
                "The window closes for good at the first call of one of pg_mpa's functions, in any session, and "
                "when the creating transaction rolls back; after it only pg_mpa's own functions write its tables.",
                "Restore into a database where pg_mpa is not installed yet, in one session, before using pg_mpa.");
  if (holder == 0)
    refuse_copy(table, "pg_mpa's tables are written only by its own functions",
                "For every role including superusers. A backup is restored only by the session whose CREATE "
                "EXTENSION pg_mpa made a new installation, before pg_mpa is used.",
                "Restore into a database where pg_mpa is not installed yet, with one job (pg_restore without -j): "
                "the restore's own session creates pg_mpa and writes its tables.");
  if (!carried_by_pg_dump(table))
    refuse_copy(table, "a backup does not carry this table", "pg_dump carries teams, approvers, policies, "
                "policy_teams, requests, request_teams, votes, temporary_grants, challenges, audit, break_glass, "
                "break_glass_uses and reviews.", nullptr);
  if (copy->whereClause != nullptr || copy->options != NIL || copy->filename != nullptr || copy->is_program)
    refuse_copy(table, "only COPY ... FROM STDIN as pg_dump writes it restores pg_mpa",
                "No WHERE clause, no options, no file or program: the restore writes what the backup holds.",
                nullptr);
  if (!ask_about_table("SELECT mpa.restore_may_copy($1)", table))
    refuse_copy(table, "it is restored already",
                "Each of pg_mpa's tables is restored once, into the empty table of a new installation.", nullptr);
}

}  // namespace

void open_restore_window_if_new() {
  if (!creating_extension || IsBinaryUpgrade) return;
  // The script creates schema mpa next: if it exists, this is no new
  // installation (ALTER EXTENSION UPDATE; or CREATE SCHEMA fails anyway).
  if (OidIsValid(get_namespace_oid("mpa", true))) return;
  uint32 expected = 0;
  if (!pg_atomic_compare_exchange_u32(&shared_state()->restore_window_pid, &expected,
                                      static_cast<uint32>(MyProcPid)) &&
      expected != static_cast<uint32>(MyProcPid))
    return;  // another session's window is open: this one gets none
  if (!callbacks_registered) {
    before_shmem_exit(on_session_end, 0);
    RegisterXactCallback(on_transaction_end, nullptr);
    RegisterSubXactCallback(on_subtransaction_end, nullptr);
    callbacks_registered = true;
  }
  opened_here = true;
  opened_in = GetCurrentSubTransactionId();
}

void close_restore_window_on_use() {
  SharedState *state = shared_state();
  if (state == nullptr) return;
  uint32 holder = pg_atomic_read_u32(&state->restore_window_pid);
  if (holder != 0) close_window_of(holder);
}

bool restore_window_open_here() {
  return opened_here && window_holder() == static_cast<uint32>(MyProcPid);
}

bool restore_window_open_anywhere() { return window_holder() != 0; }

bool restore_window_closed_since_asked() {
  return pg_atomic_exchange_u32(&shared_state()->restore_window_closed, 0) != 0;
}

bool restore_copy(ProcessUtility_hook_type run, PlannedStmt *statement, const char *query, bool read_only_tree,
                  ProcessUtilityContext context, ParamListInfo params, QueryEnvironment *query_env,
                  DestReceiver *dest, QueryCompletion *completion) {
  Node *parsetree = statement->utilityStmt;
  if (!IsA(parsetree, CopyStmt)) return false;
  auto *copy = castNode(CopyStmt, parsetree);
  if (!copy->is_from || copy->relation == nullptr) return false;
  Oid schema = pg_mpa_schema_oid();
  if (!OidIsValid(schema)) return false;
  Oid relid = RangeVarGetRelid(copy->relation, NoLock, true);
  if (!OidIsValid(relid) || get_rel_namespace(relid) != schema) return false;
  const char *table = get_rel_name(relid);
  admit(copy, table);
  // pg_mpa's own write: the foreign keys' checks and pg_mpa's triggers (the
  // policies' publication) run inside it as they do inside its functions.
  enter_trusted_code();
  PG_TRY();
  {
    run(statement, query, read_only_tree, context, params, query_env, dest, completion);
  }
  PG_FINALLY();
  {
    leave_trusted_code();
  }
  PG_END_TRY();
  // Ends what the restored rows left open (requests, codes), moves the
  // table's id sequence past them, and notes the table as restored.
  ask_about_table("SELECT mpa.restore_copied($1) IS NULL", table);
  return true;
}

}  // namespace mpa::pg
