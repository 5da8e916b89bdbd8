// The two boundary guards; see guard.hpp for the rules they enforce.
#include "pg/guard.hpp"

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
  try {
    throw;
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

void raise_captured_exception() {
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

void throw_postgres_error(ErrorData *error) {
  // Copy into C++ strings first: the ErrorData is palloc'd and freed here, so
  // the exception owns everything it carries.
  std::string sqlstate = unpack_sql_state(error->sqlerrcode);
  std::string message = error->message ? error->message : "";
  std::string detail = error->detail ? error->detail : "";
  std::string hint = error->hint ? error->hint : "";
  FreeErrorData(error);
  throw PostgresError(std::move(sqlstate), message, std::move(detail), std::move(hint));
}

}  // namespace mpa::pg::detail
