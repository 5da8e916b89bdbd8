// Wrong-try bookkeeping for one-time codes, in shared memory: a try is
// counted before the comparison and outside the caller's transaction, so
// ROLLBACK, SAVEPOINT or a second session cannot refund or multiply tries.
#pragma once

#include "pg/boundary/postgres.hpp"

namespace mpa::pg {

enum class CodeOutcome {
  Accepted,   // right code; the challenge is now spent
  Wrong,      // wrong code; tries_left more may be evaluated
  Dead,       // spent, or out of tries: ask for a new code
  KeyGone,    // made with a key this server does not have (a restart or a
              // failover since): no try counted, ask for a new code
  LockedOut,  // too many wrong tries at this request across all codes
  OverBudget, // too many wrong codes in the approver's name lately, over
              // every request: none is evaluated until budget_back_at
};

struct CodeCheck {
  CodeOutcome outcome;
  int tries_left;
  TimestampTz budget_back_at;  // OverBudget: when a code is evaluated again
  bool budget_just_spent;      // this wrong try spent the budget: tell the approver
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

// What the approver is still to be told about their codes: a code that
// died of wrong tries, a lock-out from a request, or their budget of wrong
// codes spent (named by the code of the try that spent it).
enum class CodeNoticeKind : uint8 { CodeDied, LockedOut, BudgetSpent };
struct CodeNotice {
  int64 challenge_id;
  CodeNoticeKind kind;
};

// Collects up to `capacity` notices not told yet (not marked yet).
int find_untold_code_notices(CodeNotice *out, int capacity);

// Marks them told: once the mail about them is committed (a round that
// failed tells them again).
void mark_code_notices_told(const CodeNotice *notices, int count);

}  // namespace mpa::pg
