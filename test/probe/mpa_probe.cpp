// Test-only functions that exercise pg_mpa's boundary guards and look at its
// shared memory from outside. Built and installed only by test/run, never
// with the extension: nothing here belongs in a production server.
#include <openssl/sha.h>

#include <string>

#include "pg/boundary/guard.hpp"
#include "pg/boundary/postgres.hpp"
#include "pg/shared/shared_state.hpp"

extern "C" {
#include "executor/spi.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
PG_MODULE_MAGIC;
}

namespace {

// Counts destructor runs, so a test can see that unwinding really happened.
long destructor_runs = 0;

struct Witness {
  std::string payload = std::string(1024, 'w');  // owns heap memory, like real code
  ~Witness() { ++destructor_runs; }
};

text *to_text(const std::string &value) {
  return mpa::pg::call_postgres([&value] { return cstring_to_text_with_len(value.data(), value.size()); });
}

}  // namespace

// Throws a C++ exception with the given SQLSTATE through a live Witness.
MPA_FUNCTION(mpa_probe_throw) {
  const char *sqlstate = text_to_cstring(PG_GETARG_TEXT_PP(0));  // before any C++ object
  Witness witness;
  throw mpa::Error(sqlstate, "probe exception: " + witness.payload.substr(0, 3), "probe detail",
                   "probe hint");
}

// Throws something that is not an mpa::Error.
MPA_FUNCTION(mpa_probe_throw_std) {
  Witness witness;
  (void)fcinfo;
  throw std::out_of_range("probe std exception");
}

// Calls int4in on the argument through call_postgres while a Witness lives;
// with catch_it the PostgresError is caught and described, otherwise it
// leaves through run_cpp as an ERROR.
MPA_FUNCTION(mpa_probe_postgres_error) {
  char *input = text_to_cstring(PG_GETARG_TEXT_PP(0));  // before any C++ object
  bool catch_it = PG_GETARG_BOOL(1);
  Witness witness;
  try {
    int32 value = mpa::pg::call_postgres(
        [input] { return DatumGetInt32(DirectFunctionCall1(int4in, CStringGetDatum(input))); });
    return PointerGetDatum(to_text("parsed " + std::to_string(value)));
  } catch (const mpa::pg::PostgresError &e) {
    if (!catch_it) throw;
    return PointerGetDatum(to_text("caught " + e.sqlstate() + ": " + e.what()));
  }
}

// Runs `query` with SPI through call_postgres while a Witness lives; its
// error leaves through run_cpp as PostgreSQL reported it (the internal
// query, the error's position in it and the context, not only the message).
MPA_FUNCTION(mpa_probe_spi_error) {
  char *query = text_to_cstring(PG_GETARG_TEXT_PP(0));  // before any C++ object
  Witness witness;
  mpa::pg::call_postgres([query] {
    SPI_connect();
    SPI_execute(query, false, 0);
    SPI_finish();
  });
  return PointerGetDatum(to_text("ran " + witness.payload.substr(0, 1)));
}

MPA_FUNCTION(mpa_probe_destructor_runs) {
  (void)fcinfo;
  return Int64GetDatum(destructor_runs);
}

// SHA-256 of pg_mpa's code key (never the key itself): lets a test check
// that the key exists, is shared by backends and changes with a restart.
MPA_FUNCTION(mpa_probe_code_key_digest) {
  (void)fcinfo;
  bool found = false;
  auto *state = static_cast<mpa::pg::SharedState *>(mpa::pg::call_postgres([&found] {
    return ShmemInitStruct("pg_mpa", sizeof(mpa::pg::SharedState), &found);
  }));
  if (!found) throw mpa::Error("55000", "pg_mpa shared memory not found");
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(state->code_key, sizeof state->code_key, digest);
  static constexpr char kHexDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char b : digest) {
    hex += kHexDigits[b >> 4];
    hex += kHexDigits[b & 0xf];
  }
  return PointerGetDatum(to_text(hex));
}
