// SQL-callable pieces of voting that need the code key or shared memory:
// fresh nonces and the checking of a code. The SQL functions in
// pg_mpa--*.sql (mpa_vote, mpa_verify, ...) call these; PUBLIC may not.
#include <string>

#include "core/otp.hpp"
#include "pg/boundary/arguments.hpp"
#include "pg/shared/at_commit.hpp"
#include "pg/shared/audit_log.hpp"
#include "pg/approval/challenge_attempts.hpp"
#include "pg/approval/challenge_code.hpp"
#include "pg/approval/code_submission.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/shared/shared_state.hpp"
#include "pg/startup/installation.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_type_d.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "port.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
}

namespace {

using namespace mpa::pg;

constexpr int kNonceBytes = 16;

struct LoadedChallenge {
  ChallengeBinding binding;
  ChallengeKey key;
  bool open;  // not used, superseded or expired
  TimestampTz opened_at;
  bool made_with_this_key;  // its key_id is this server's code key's
};

// %s: whether the code was made with this server's key ($2). 0.1's
// challenges carry no key id: with its SQL objects (a package upgrade's
// restart, before ALTER EXTENSION pg_mpa UPDATE) every code counts as made
// with this key, as 0.1 had it, and one made with a key gone since is
// simply a wrong code.
constexpr const char *kLoadSqlFormat =
    "SELECT request_id, approver::oid, decision, fingerprint, nonce,"
    "       expires_at, counted_until, state = 'open' AND expires_at > statement_timestamp(), counted_from,"
    "       created_at, %s"
    "  FROM mpa.challenge_bindings WHERE id = $1";

// PostgreSQL-style: reads the challenge row; strings are copied into the
// caller's memory context.
bool load_challenge(int64 challenge_id, LoadedChallenge *out) {
  Oid types[2] = {INT8OID, INT8OID};
  Datum values[2] = {Int64GetDatum(challenge_id), Int64GetDatum(shared_state()->code_key_id)};
  MemoryContext caller = CurrentMemoryContext;
  SPI_connect();
  const char *load_sql =
      psprintf(kLoadSqlFormat, sql_objects_are_current() ? "key_id IS NOT DISTINCT FROM $2" : "true");
  if (SPI_execute_with_args(load_sql, 2, types, values, nullptr, true, 1) != SPI_OK_SELECT)
    elog(ERROR, "pg_mpa: cannot read challenge %lld", static_cast<long long>(challenge_id));
  bool found = SPI_processed == 1;
  if (found) {
    HeapTuple row = SPI_tuptable->vals[0];
    TupleDesc desc = SPI_tuptable->tupdesc;
    bool is_null;
    MemoryContext spi = MemoryContextSwitchTo(caller);
    bytea *nonce = DatumGetByteaPCopy(SPI_getbinval(row, desc, 5, &is_null));
    out->binding = ChallengeBinding{
        challenge_id,
        DatumGetInt64(SPI_getbinval(row, desc, 1, &is_null)),
        SPI_getvalue(row, desc, 4),
        DatumGetObjectId(SPI_getbinval(row, desc, 2, &is_null)),
        SPI_getvalue(row, desc, 3),
        VARDATA_ANY(nonce),
        static_cast<int>(VARSIZE_ANY_EXHDR(nonce)),
    };
    MemoryContextSwitchTo(spi);
    uint64 nonce_tag = 0;
    memcpy(&nonce_tag, out->binding.nonce, Min(sizeof nonce_tag, static_cast<size_t>(out->binding.nonce_length)));
    out->key = ChallengeKey{challenge_id,
                            nonce_tag,
                            out->binding.request_id,
                            DatumGetTimestampTz(SPI_getbinval(row, desc, 9, &is_null)),
                            out->binding.approver,
                            DatumGetTimestampTz(SPI_getbinval(row, desc, 6, &is_null)),
                            DatumGetTimestampTz(SPI_getbinval(row, desc, 7, &is_null))};
    out->open = DatumGetBool(SPI_getbinval(row, desc, 8, &is_null));
    out->opened_at = DatumGetTimestampTz(SPI_getbinval(row, desc, 10, &is_null));
    out->made_with_this_key = DatumGetBool(SPI_getbinval(row, desc, 11, &is_null));
  }
  SPI_finish();
  return found;
}

struct Comparison {
  const std::string *expected;
  const std::string *given;
};

bool codes_match(void *context) {
  auto *comparison = static_cast<Comparison *>(context);
  return mpa::otp::codes_equal(*comparison->expected, *comparison->given);
}

const char *outcome_name(CodeOutcome outcome) {
  switch (outcome) {
    case CodeOutcome::Accepted: return "accepted";
    case CodeOutcome::Wrong: return "wrong";
    case CodeOutcome::Dead: return "dead";
    case CodeOutcome::LockedOut: return "locked";
    case CodeOutcome::OverBudget: return "budget";
    case CodeOutcome::KeyGone: return "key gone";
  }
  return "dead";
}

}  // namespace

// mpa.new_nonce() -> 16 bytes from the strong random source.
MPA_FUNCTION(mpa_new_nonce) {
  (void)fcinfo;
  bytea *nonce = mpa::pg::call_postgres([] {
    auto *value = static_cast<bytea *>(palloc(VARHDRSZ + kNonceBytes));
    SET_VARSIZE(value, VARHDRSZ + kNonceBytes);
    if (!pg_strong_random(VARDATA(value), kNonceBytes))
      ereport(ERROR, (errmsg("pg_mpa could not draw a random nonce")));
    return value;
  });
  PG_RETURN_BYTEA_P(nonce);
}

// mpa.code_key_id() -> the id of this server's code key (never the key):
// recorded with each challenge, and compared when its code is checked or
// mailed.
MPA_FUNCTION(mpa_code_key_id) {
  (void)fcinfo;
  PG_RETURN_INT64(shared_state()->code_key_id);
}

// mpa.check_code(challenge_id, code, OUT outcome, OUT tries_left, OUT
// budget_back_at): counts the try in shared memory, then compares in
// constant time.
MPA_FUNCTION(mpa_check_code) {
  if (PG_ARGISNULL(0)) throw mpa::Error(mpa::sqlstate::kNullValueNotAllowed, "challenge must not be NULL");
  int64 challenge_id = PG_GETARG_INT64(0);
  std::string given = text_argument(fcinfo, 1, "code", 64);
  // (Not settled: a code with a blank or a quote around it is still the code.)
  if (!mpa::otp::is_well_formed_code(given))
    throw mpa::Error(mpa::sqlstate::kInvalidParameterValue, "a code is six digits (0-9)",
                     "Copy the six digits from the mail.");

  LoadedChallenge challenge;
  bool found = call_postgres([&] { return load_challenge(challenge_id, &challenge); });
  CodeCheck check{CodeOutcome::Dead, 0, 0, false};
  if (found && challenge.open && !challenge.made_with_this_key) {
    // Made with a key this server does not have (mailed before the last
    // restart, or by the old primary before a failover): no code can match
    // it, so the try is not counted (it would burn tries and the guess
    // budget for a code the approver copied correctly) and the approver is
    // told why, to ask for a new one. Audited: someone entered such a code.
    check.outcome = CodeOutcome::KeyGone;
    call_postgres([&] { audit_code_try(challenge_id, challenge.binding.request_id, "key gone"); });
  }
  // A code opened before a submission of this approver that did not finish
  // (code_submission.hpp) is dead: it may have been seen.
  else if (found && challenge.open && challenge.opened_at > codes_burned_at(challenge.key.approver)) {
    std::string expected = code_for(challenge.binding);
    Comparison comparison{&expected, &given};
    check = call_postgres([&] { return count_and_check(challenge.key, codes_match, &comparison); });
    if (check.outcome != CodeOutcome::Accepted) {
      const char *outcome = outcome_name(check.outcome);
      call_postgres([&] { audit_code_try(challenge_id, challenge.binding.request_id, outcome); });
    }
    // A code that just died, a lock-out or a spent budget is told to the
    // approver by the worker, even if this transaction rolls back.
    if (check.outcome == CodeOutcome::LockedOut || (check.outcome == CodeOutcome::Wrong && check.tries_left == 0) ||
        check.budget_just_spent)
      wake_mail_worker();
  }
  settle_code_submission();  // checked: a wrong try is counted, a right code spent

  TupleDesc desc;
  call_postgres([&] {
    if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
      elog(ERROR, "mpa.check_code must return a record");
  });
  const char *outcome = outcome_name(check.outcome);
  int tries_left = check.tries_left;
  TimestampTz budget_back_at = check.budget_back_at;
  HeapTuple tuple = call_postgres([&] {
    Datum values[3] = {CStringGetTextDatum(outcome), Int32GetDatum(tries_left), TimestampTzGetDatum(budget_back_at)};
    bool nulls[3] = {false, false, budget_back_at == 0};
    return heap_form_tuple(BlessTupleDesc(desc), values, nulls);
  });
  return HeapTupleGetDatum(tuple);
}

// mpa.voter_locked_out(request_id, requested_at): whether the session role
// may still get codes for this request.
MPA_FUNCTION(mpa_voter_locked_out) {
  if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
    throw mpa::Error(mpa::sqlstate::kNullValueNotAllowed, "request_id and requested_at must not be NULL");
  int64 request_id = PG_GETARG_INT64(0);
  TimestampTz requested_at = PG_GETARG_TIMESTAMPTZ(1);
  PG_RETURN_BOOL(voter_locked_out(request_id, requested_at, GetSessionUserId()));
}
