// One task of pg_mpa's run in another database of the cluster
// (docs/decisions.md, "Every database"): a session can read and write only
// its own database, so what must happen elsewhere (describing a statement
// in the database it is for, claiming an approval in mpa.database, running
// an approved statement where it belongs) runs in a dynamic background
// worker connected to that database as a given role. The caller waits for
// it; the worker's error comes back with its SQLSTATE, message, detail and
// hint and is raised again in the caller.
//
// A task is a function of the library run in the worker's transaction,
// which commits when it returns and rolls back when it raises. Its input
// and output are bytes; write and read them with pqformat.h's
// pq_send*/pq_getmsg* (the databases may differ in nothing that matters to
// that: run_in_database refuses a database of another encoding). Not text
// through pq_sendstring/pq_getmsgstring (or pq_sendtext, pq_getmsgtext):
// they convert between the server's and the client's encoding, and the
// caller's client_encoding (LATIN1 beside a UTF8 server) would convert
// server text once more. Send a text's length and its bytes
// (pq_sendint32, pq_sendbytes; pq_getmsgint, pq_getmsgbytes).
//
// Each task has an entry point of its own (a worker's bgw_function_name
// names a symbol of the library), defined with MPA_DATABASE_TASK:
//
//   MPA_DATABASE_TASK(mpa_describe_task) (StringInfo input, StringInfo output) { ... }
//
// and started with run_in_database("mpa_describe_task", ...). Whatever
// runs in a task meets every rule of pg_mpa as in any session of that
// role: the gate, self-protection, the hooks.
#pragma once

#include "pg/boundary/postgres.hpp"

extern "C" {
#include "lib/stringinfo.h"
}

namespace mpa::pg {

using DatabaseTaskBody = void (*)(StringInfo input, StringInfo output);

// Runs the task `entry_point` in `database` as `role` with `input`, waits
// for it and returns its output (in the caller's memory context). Raises
// the task's error as its own, prefixed with where it ran. Before starting
// the worker it refuses what the worker could only fail on: a database
// that does not exist, does not allow connections or uses another
// encoding, a role that may not log in or connect to it (each with its
// SQLSTATE, as a connection would have been refused). Interruptible: a
// cancel of the caller stops the worker. PostgreSQL-style: may ereport.
StringInfo run_in_database(const char *entry_point, const char *what, Oid database, Oid role, StringInfo input);

// The body of a task's worker: attaches to the caller's segment, connects,
// runs `body` in a transaction and reports its outcome. Called only by
// MPA_DATABASE_TASK's entry point.
void serve_database_task(Datum segment, DatabaseTaskBody body);

}  // namespace mpa::pg

#define MPA_DATABASE_TASK(name)                                                  \
  static void name##_body(StringInfo input, StringInfo output);                 \
  extern "C" {                                                                  \
  PGDLLEXPORT void name(Datum segment);                                         \
  void name(Datum segment) { mpa::pg::serve_database_task(segment, name##_body); }  \
  }                                                                             \
  static void name##_body
