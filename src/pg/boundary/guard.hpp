// The two guards of the C++/PostgreSQL boundary (docs/architecture.md,
// "The boundary").
//
// PostgreSQL reports errors with siglongjmp, which skips C++ destructors, and
// a C++ exception must never unwind through PostgreSQL's C frames. So:
//
//  * run_cpp(body): every fmgr entry point, hook and worker callback runs its
//    C++ body inside it. An escaping exception is copied into plain static
//    storage, the body's objects are destroyed by normal unwinding, and only
//    then is the error re-raised with ereport(ERROR). A PostgreSQL error
//    that travelled as a PostgresError is re-raised as PostgreSQL reported
//    it (its ErrorData: context, position, internal query and all). The
//    error stack and error context stack are put back as they were when
//    the body began, whatever the body left behind.
//
//  * call_postgres(fn): C++ code that owns objects with destructors calls
//    PostgreSQL functions that may ereport(ERROR) through it. The error is
//    caught right there (PG_TRY), copied, and thrown as PostgresError, which
//    carries the original SQLSTATE, message, detail and hint, and keeps the
//    whole report. `fn` must be a thin call: it must not itself own objects
//    with destructors, nor throw.
//    Catching PostgresError and carrying on is only sound where the failed
//    call left no half-done state (e.g. a type input function); anything
//    touching transactions, SPI or locks must let it reach run_cpp.
#pragma once

#include <type_traits>
#include <utility>

#include "core/error.hpp"
#include "pg/boundary/postgres.hpp"

namespace mpa::pg {

// A PostgreSQL error travelling through C++ frames as an exception. It keeps
// PostgreSQL's report (copied into the memory context that was current when
// the call began, which outlives the exception) for run_cpp to re-raise.
class PostgresError : public mpa::Error {
 public:
  explicit PostgresError(ErrorData *report);
  ErrorData *report() const { return report_; }

 private:
  ErrorData *report_;
};

namespace detail {
// Reports what an escaping exception said, after its frames are gone, with
// PostgreSQL's error stacks as they were when the body began.
[[noreturn]] void raise_captured_exception(sigjmp_buf *exception_stack, ErrorContextCallback *context_stack);
void capture_exception() noexcept;
// Runs callback(context) under PG_TRY; returns the copied error or nullptr.
ErrorData *try_postgres(void (*callback)(void *), void *context);
[[noreturn]] void throw_postgres_error(ErrorData *error);
}  // namespace detail

template <typename Body>
auto run_cpp(Body &&body) -> decltype(body()) {
  sigjmp_buf *exception_stack = PG_exception_stack;
  ErrorContextCallback *context_stack = error_context_stack;
  try {
    return body();
  } catch (...) {
    detail::capture_exception();
  }
  // The exception object and every object of `body` are destroyed here.
  detail::raise_captured_exception(exception_stack, context_stack);
}

template <typename Fn>
auto call_postgres(Fn &&fn) -> std::invoke_result_t<Fn &> {
  using Result = std::invoke_result_t<Fn &>;
  if constexpr (std::is_void_v<Result>) {
    ErrorData *error = detail::try_postgres(
        [](void *context) { (*static_cast<std::remove_reference_t<Fn> *>(context))(); },
        const_cast<void *>(static_cast<const void *>(&fn)));
    if (error != nullptr) detail::throw_postgres_error(error);
  } else {
    static_assert(std::is_trivially_copyable_v<Result> && std::is_default_constructible_v<Result>,
                  "call_postgres returns plain PostgreSQL values only");
    Result result{};
    auto store = [&result, &fn]() { result = fn(); };
    ErrorData *error = detail::try_postgres(
        [](void *context) { (*static_cast<decltype(store) *>(context))(); }, &store);
    if (error != nullptr) detail::throw_postgres_error(error);
    return result;
  }
}

}  // namespace mpa::pg

// Defines an fmgr entry point whose body is C++ run under run_cpp:
//   MPA_FUNCTION(mpa_mail_test) { ... return PointerGetDatum(...); }
#define MPA_FUNCTION(name)                                                      \
  static Datum name##_body(FunctionCallInfo fcinfo);                            \
  extern "C" {                                                                  \
  PG_FUNCTION_INFO_V1(name);                                                    \
  PGDLLEXPORT Datum name(PG_FUNCTION_ARGS) {                                    \
    return mpa::pg::run_cpp([fcinfo]() { return name##_body(fcinfo); });        \
  }                                                                             \
  }                                                                             \
  static Datum name##_body(FunctionCallInfo fcinfo)
