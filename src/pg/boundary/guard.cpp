// The two boundary guards; see guard.hpp for the rules they enforce.
#include "pg/boundary/guard.hpp"

#include <cstring>
#include <new>
#include <string>

namespace mpa::pg::detail {
namespace {

// What an escaping C++ exception said. Plain static storage, so that copying
// it needs no allocation (an allocation could itself fail and longjmp out of
// a catch handler). Backends are single-threaded.
struct CapturedError {
  char sqlstate[6];
  char message[2048];
  char detail[2048];
  char hint[1024];
};
CapturedError captured;
// A PostgresError's report, re-raised as PostgreSQL made it (nullptr: use
// `captured`).
ErrorData *captured_report = nullptr;

template <std::size_t N>
void copy_truncated(char (&target)[N], const char *source) {
  std::strncpy(target, source, N - 1);
  target[N - 1] = '\0';
}

bool is_valid_sqlstate(const std::string &code) {
  if (code.size() != 5) return false;
  for (char c : code)
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'))) return false;
  return true;
}

void capture(const char *sqlstate, const char *message, const char *detail, const char *hint) {
  copy_truncated(captured.sqlstate, sqlstate);
  copy_truncated(captured.message, message);
  copy_truncated(captured.detail, detail);
  copy_truncated(captured.hint, hint);
}

}  // namespace

void capture_exception() noexcept {
  captured_report = nullptr;
  try {
    throw;
  } catch (const PostgresError &e) {
    captured_report = e.report();
  } catch (const mpa::Error &e) {
    capture(is_valid_sqlstate(e.sqlstate()) ? e.sqlstate().c_str() : sqlstate::kInternalError,
            e.what(), e.detail().c_str(), e.hint().c_str());
  } catch (const std::bad_alloc &) {
    capture(sqlstate::kOutOfMemory, "out of memory in pg_mpa", "", "");
  } catch (const std::exception &e) {
    capture(sqlstate::kInternalError, e.what(), "", "");
  } catch (...) {
    capture(sqlstate::kInternalError, "unknown C++ exception in pg_mpa", "", "");
  }
}

void raise_captured_exception(sigjmp_buf *exception_stack, ErrorContextCallback *context_stack) {
  // A C++ exception that left a PG_TRY block, or code that pushed an error
  // context callback, would leave these pointing into frames that are gone.
  PG_exception_stack = exception_stack;
  error_context_stack = context_stack;
  if (ErrorData *report = captured_report) {
    captured_report = nullptr;
    ReThrowError(report);
  }
  const char *s = captured.sqlstate;
  ereport(ERROR, (errcode(MAKE_SQLSTATE(s[0], s[1], s[2], s[3], s[4])),
                  errmsg_internal("%s", captured.message),
                  captured.detail[0] ? errdetail_internal("%s", captured.detail) : 0,
                  captured.hint[0] ? errhint("%s", captured.hint) : 0));
  pg_unreachable();
}

ErrorData *try_postgres(void (*callback)(void *), void *context) {
  MemoryContext caller_context = CurrentMemoryContext;
  ErrorData *volatile error = nullptr;
  PG_TRY();
  {
    callback(context);
  }
  PG_CATCH();
  {
    MemoryContextSwitchTo(caller_context);
    error = CopyErrorData();
    FlushErrorState();
  }
  PG_END_TRY();
  return error;
}

void throw_postgres_error(ErrorData *error) { throw PostgresError(error); }

}  // namespace mpa::pg::detail

namespace mpa::pg {

// The base's strings are C++ copies, for code that reads what went wrong;
// the report itself stays palloc'd in the caller's context.
PostgresError::PostgresError(ErrorData *report)
    : mpa::Error(unpack_sql_state(report->sqlerrcode), report->message ? report->message : "",
                 report->detail ? report->detail : "", report->hint ? report->hint : ""),
      report_(report) {}

}  // namespace mpa::pg
