// Wrong-try bookkeeping for one-time codes, in shared memory: a try is
// counted before the comparison and outside the caller's transaction, so
// ROLLBACK, SAVEPOINT or a second session cannot refund or multiply tries.
#pragma once

#include "pg/postgres.hpp"

namespace mpa::pg {

enum class CodeOutcome {
  Accepted,   // right code; the challenge is now spent
  Wrong,      // wrong code; tries_left more may be evaluated
  Dead,       // spent, or out of tries: ask for a new code
  LockedOut,  // too many wrong tries at this request across all codes
};

struct CodeCheck {
  CodeOutcome outcome;
  int tries_left;
};

struct ChallengeKey {
  int64 challenge_id;
  uint64 nonce_tag;
  int64 request_id;
  TimestampTz request_created_at;
  Oid approver;
  TimestampTz code_expires_at;
  TimestampTz request_expires_at;
};

// How many wrong tries one approver has at one request, over every code:
// otp_max_attempts per code, for this many codes (resend-and-guess stops).
inline constexpr int kCodesPerVoter = 3;

// Counts a try at `key` and, if it may be evaluated, runs is_right() under
// the lock (so parallel guesses are evaluated one at a time, never more than
// allowed). Errors (table full) are raised with ereport.
CodeCheck count_and_check(const ChallengeKey &key, bool (*is_right)(void *), void *context);

// Whether the approver may still get codes for this request.
bool voter_locked_out(int64 request_id, TimestampTz request_created_at, Oid approver);

// A code that died of wrong tries or a lock-out not yet told to the approver.
struct DeadCode {
  int64 challenge_id;
  bool locked_out;
};

// Collects up to `capacity` unreported deaths (not marked yet).
int find_unreported_dead_codes(DeadCode *out, int capacity);

// Marks them reported: once the notices about them are committed (a round
// that failed reports them again).
void mark_dead_codes_reported(const DeadCode *codes, int count);

}  // namespace mpa::pg
