#include "pg/other_databases/database_task.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_database.h"
#include "mb/pg_wchar.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
}

#include <cstring>

namespace mpa::pg {
namespace {

// What a task's output may hold (a drop's cascade described object by
// object is the largest). The segment's pages are only touched as written.
constexpr Size kOutputCapacity = 16 * 1024 * 1024;
constexpr Size kReportText = 2048;

// The segment the caller makes and the worker answers in: the header, then
// the input, then room for the output.
struct TaskSegment {
  Oid database;
  Oid role;
  Size input_length;
  // Written by the worker before it exits.
  bool answered;
  bool failed;
  int sqlstate;
  Size output_length;
  char message[kReportText];
  char detail[kReportText];
  char hint[kReportText];
  char data[FLEXIBLE_ARRAY_MEMBER];
};

void copy_text(char *to, const char *from) { strlcpy(to, from != nullptr ? from : "", kReportText); }

const char *or_null(const char *text) { return text[0] != '\0' ? text : nullptr; }

// What the worker would be refused at its connection, refused here with a
// message that says so (the worker's own FATAL would reach only the log).
void refuse_what_cannot_connect(Oid database, Oid role) {
  HeapTuple tuple = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(database));
  if (!HeapTupleIsValid(tuple))
    ereport(ERROR, errcode(ERRCODE_UNDEFINED_DATABASE), errmsg("database with OID %u does not exist", database));
  auto *row = reinterpret_cast<Form_pg_database>(GETSTRUCT(tuple));
  char *name = pstrdup(NameStr(row->datname));
  bool allows_connections = row->datallowconn;
  int encoding = row->encoding;
  ReleaseSysCache(tuple);
  if (!allows_connections)
    ereport(ERROR, errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
            errmsg("database \"%s\" does not allow connections", name));
  if (encoding != GetDatabaseEncoding())
    ereport(ERROR, errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
            errmsg("database \"%s\" uses encoding %s, this one %s", name, pg_encoding_to_char(encoding),
                   GetDatabaseEncodingName()),
            errdetail("pg_mpa passes statements and names between databases of one encoding only."));
  tuple = SearchSysCache1(AUTHOID, ObjectIdGetDatum(role));
  if (!HeapTupleIsValid(tuple))
    ereport(ERROR, errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("role with OID %u does not exist", role));
  auto *authid = reinterpret_cast<Form_pg_authid>(GETSTRUCT(tuple));
  char *role_name = pstrdup(NameStr(authid->rolname));
  bool can_login = authid->rolcanlogin;
  ReleaseSysCache(tuple);
  if (!can_login)
    ereport(ERROR, errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
            errmsg("role \"%s\" is not permitted to log in", role_name));
  if (!superuser_arg(role) && pg_database_aclcheck(database, role, ACL_CONNECT) != ACLCHECK_OK)
    ereport(ERROR, errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
            errmsg("role \"%s\" may not connect to database \"%s\"", role_name, name),
            errdetail("pg_mpa works in another database only as the role that would run the statement there."));
}

BackgroundWorkerHandle *start_worker(const char *entry_point, const char *what, dsm_segment *segment) {
  BackgroundWorker worker;
  std::memset(&worker, 0, sizeof worker);
  worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
  worker.bgw_restart_time = BGW_NEVER_RESTART;
  strlcpy(worker.bgw_library_name, "pg_mpa", BGW_MAXLEN);
  strlcpy(worker.bgw_function_name, entry_point, BGW_MAXLEN);
  snprintf(worker.bgw_name, BGW_MAXLEN, "pg_mpa %s", what);
  strlcpy(worker.bgw_type, "pg_mpa database task", BGW_MAXLEN);
  worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(segment));
  worker.bgw_notify_pid = MyProcPid;
  BackgroundWorkerHandle *handle = nullptr;
  if (!RegisterDynamicBackgroundWorker(&worker, &handle))
    ereport(ERROR, errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
            errmsg("pg_mpa cannot %s: no background worker slot is free", what),
            errhint("Raise max_worker_processes (each statement pg_mpa runs in another database takes a worker "
                    "while it runs)."));
  return handle;
}

// Waits for the worker to end; a cancel (or any error) of the caller ends it too.
void wait_for(BackgroundWorkerHandle *handle) {
  BgwHandleStatus status;
  PG_TRY();
  {
    status = WaitForBackgroundWorkerShutdown(handle);
  }
  PG_CATCH();
  {
    TerminateBackgroundWorker(handle);
    PG_RE_THROW();
  }
  PG_END_TRY();
  if (status == BGWH_POSTMASTER_DIED)
    ereport(FATAL, errcode(ERRCODE_ADMIN_SHUTDOWN), errmsg("postmaster exited while pg_mpa waited for a worker"));
}

}  // namespace

StringInfo run_in_database(const char *entry_point, const char *what, Oid database, Oid role, StringInfo input) {
  refuse_what_cannot_connect(database, role);
  Size size = offsetof(TaskSegment, data) + input->len + kOutputCapacity;
  dsm_segment *segment = dsm_create(size, 0);
  auto *task = static_cast<TaskSegment *>(dsm_segment_address(segment));
  std::memset(task, 0, offsetof(TaskSegment, data));
  task->database = database;
  task->role = role;
  task->input_length = input->len;
  std::memcpy(task->data, input->data, input->len);
  wait_for(start_worker(entry_point, what, segment));
  if (!task->answered) {
    dsm_detach(segment);
    ereport(ERROR, errcode(ERRCODE_CONNECTION_FAILURE),
            errmsg("pg_mpa could not %s: its worker ended without an answer", what),
            errhint("The server log says why (the worker's connection, or a crash)."));
  }
  if (task->failed) {
    // Copied out before the segment goes.
    int sqlstate = task->sqlstate;
    char *message = pstrdup(task->message);
    char *detail = pstrdup(task->detail);
    char *hint = pstrdup(task->hint);
    dsm_detach(segment);
    ereport(ERROR, errcode(sqlstate), errmsg("%s", message), or_null(detail) ? errdetail("%s", detail) : 0,
            or_null(hint) ? errhint("%s", hint) : 0, errcontext("pg_mpa's worker to %s", what));
  }
  StringInfo output = makeStringInfo();
  appendBinaryStringInfo(output, task->data + task->input_length, static_cast<int>(task->output_length));
  dsm_detach(segment);
  return output;
}

void serve_database_task(Datum segment_handle, DatabaseTaskBody body) {
  pqsignal(SIGTERM, die);
  BackgroundWorkerUnblockSignals();
  dsm_segment *segment = dsm_attach(DatumGetUInt32(segment_handle));
  // The caller gave up before the worker began: nobody waits for an answer.
  if (segment == nullptr) proc_exit(0);
  auto *task = static_cast<TaskSegment *>(dsm_segment_address(segment));
  BackgroundWorkerInitializeConnectionByOid(task->database, task->role, 0);
  StringInfoData input{task->data, static_cast<int>(task->input_length), static_cast<int>(task->input_length), 0};
  StringInfo output = makeStringInfo();
  MemoryContext worker_context = CurrentMemoryContext;
  SetCurrentStatementStartTimestamp();
  StartTransactionCommand();
  PushActiveSnapshot(GetTransactionSnapshot());
  PG_TRY();
  {
    body(&input, output);
    if (static_cast<Size>(output->len) > kOutputCapacity)
      ereport(ERROR, errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED), errmsg("pg_mpa's worker has more to answer than it can"));
    PopActiveSnapshot();
    CommitTransactionCommand();
    std::memcpy(task->data + task->input_length, output->data, output->len);
    task->output_length = output->len;
  }
  PG_CATCH();
  {
    MemoryContextSwitchTo(worker_context);
    ErrorData *error = CopyErrorData();
    FlushErrorState();
    AbortOutOfAnyTransaction();
    task->failed = true;
    task->sqlstate = error->sqlerrcode;
    copy_text(task->message, error->message);
    copy_text(task->detail, error->detail);
    copy_text(task->hint, error->hint);
  }
  PG_END_TRY();
  task->answered = true;
  dsm_detach(segment);
  proc_exit(0);
}

}  // namespace mpa::pg
