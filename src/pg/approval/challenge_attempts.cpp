#include "pg/approval/challenge_attempts.hpp"

#include "pg/startup/settings.hpp"
#include "pg/shared/shared_state.hpp"

extern "C" {
#include "utils/timestamp.h"
}

namespace mpa::pg {
namespace {

int max_wrong_per_voter() { return settings::otp_max_attempts * kCodesPerVoter; }

// Finds the slot for `id` or takes a free (or forgotten) one; nullptr if full.
template <typename Slot, typename Matches, typename IsFree>
Slot *find_or_take(Slot *slots, Matches matches, IsFree is_free) {
  Slot *free_slot = nullptr;
  for (int i = 0; i < kAttemptSlots; i++) {
    if (matches(slots[i])) return &slots[i];
    if (free_slot == nullptr && is_free(slots[i])) free_slot = &slots[i];
  }
  if (free_slot != nullptr) memset(free_slot, 0, sizeof *free_slot);
  return free_slot;
}

ChallengeAttempts *challenge_slot(SharedState *state, const ChallengeKey &key, TimestampTz now) {
  ChallengeAttempts *slot = find_or_take(
      state->challenges,
      [&](const ChallengeAttempts &s) { return s.challenge_id == key.challenge_id && s.nonce_tag == key.nonce_tag; },
      [&](const ChallengeAttempts &s) { return s.challenge_id == 0 || s.forget_after < now; });
  if (slot != nullptr && slot->challenge_id == 0) {
    slot->challenge_id = key.challenge_id;
    slot->nonce_tag = key.nonce_tag;
    slot->forget_after = key.code_expires_at;
  }
  return slot;
}

bool same_voter(const VoterAttempts &slot, int64 request_id, TimestampTz created_at, Oid approver) {
  return slot.request_id == request_id && slot.request_created_at == created_at && slot.approver == approver;
}

VoterAttempts *voter_slot(SharedState *state, const ChallengeKey &key, TimestampTz now) {
  VoterAttempts *slot = find_or_take(
      state->voters,
      [&](const VoterAttempts &s) { return same_voter(s, key.request_id, key.request_created_at, key.approver); },
      [&](const VoterAttempts &s) { return s.request_id == 0 || s.forget_after < now; });
  if (slot != nullptr && slot->request_id == 0) {
    slot->request_id = key.request_id;
    slot->request_created_at = key.request_created_at;
    slot->approver = key.approver;
    slot->forget_after = key.request_expires_at;
  }
  return slot;
}

bool budgets_apply() { return settings::max_wrong_codes_per_hour > 0 || settings::max_wrong_codes_per_day > 0; }

// The time of the k-th most recent wrong try (1: the last), or 0.
TimestampTz recent_wrong_try(const ApproverGuesses &guesses, int k) {
  return guesses.wrong_at[(guesses.next - k + kWrongCodesRemembered) % kWrongCodesRemembered];
}

// When a budget of `limit` wrong tries per `period` lets a code be
// evaluated again: once the limit-th most recent try is a period old; 0
// when it does now.
TimestampTz back_after(const ApproverGuesses &guesses, int limit, int64 period, TimestampTz now) {
  if (limit <= 0) return 0;
  TimestampTz kth = recent_wrong_try(guesses, limit);
  return kth != 0 && kth + period > now ? kth + period : 0;
}

TimestampTz budget_back_at(const ApproverGuesses &guesses, TimestampTz now) {
  return Max(back_after(guesses, settings::max_wrong_codes_per_hour, USECS_PER_HOUR, now),
             back_after(guesses, settings::max_wrong_codes_per_day, USECS_PER_DAY, now));
}

// The approver's guesses, or a free slot for them: one whose last wrong try
// is a day old and whose approver was told (a free slot is taken only by a
// wrong try, so the approvers that hold slots are those guessed at within
// a day). nullptr if full.
ApproverGuesses *guesses_slot(SharedState *state, Oid approver, TimestampTz now) {
  ApproverGuesses *free_slot = nullptr;
  for (ApproverGuesses &slot : state->guesses) {
    if (slot.approver == approver) return &slot;
    bool forgotten = slot.approver == InvalidOid ||
                     (!slot.budget_spent_unreported && recent_wrong_try(slot, 1) + USECS_PER_DAY < now);
    if (free_slot == nullptr && forgotten) free_slot = &slot;
  }
  if (free_slot != nullptr) {
    memset(free_slot, 0, sizeof *free_slot);
    free_slot->approver = approver;
  }
  return free_slot;
}

// Records a wrong try; true when it spent the budget.
bool record_wrong_try(ApproverGuesses &guesses, int64 challenge_id, TimestampTz now) {
  guesses.wrong_at[guesses.next] = now;
  guesses.next = (guesses.next + 1) % kWrongCodesRemembered;
  // Spent: the next try, a moment later, would not be evaluated.
  if (budget_back_at(guesses, now + 1) == 0) return false;
  guesses.budget_spent_unreported = true;
  guesses.last_challenge_id = challenge_id;
  return true;
}

}  // namespace

[[noreturn]] void refuse_full_tables(SharedState *state) {
  LWLockRelease(state->attempts_lock);
  ereport(ERROR, (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED), errmsg("too many one-time codes are in use at once"),
                  errhint("Try again when some codes have expired.")));
}

CodeCheck count_and_check(const ChallengeKey &key, bool (*is_right)(void *), void *context) {
  SharedState *state = shared_state();
  TimestampTz now = GetCurrentTimestamp();
  LWLockAcquire(state->attempts_lock, LW_EXCLUSIVE);
  ChallengeAttempts *code = challenge_slot(state, key, now);
  VoterAttempts *voter = voter_slot(state, key, now);
  if (code == nullptr || voter == nullptr) refuse_full_tables(state);
  ApproverGuesses *guesses = nullptr;
  if (budgets_apply() && (guesses = guesses_slot(state, key.approver, now)) == nullptr) refuse_full_tables(state);

  CodeCheck result{CodeOutcome::Dead, 0, 0, false};
  if (guesses != nullptr && (result.budget_back_at = budget_back_at(*guesses, now)) != 0) {
    result.outcome = CodeOutcome::OverBudget;  // not evaluated, and no try of the code's taken
  } else if (voter->wrong >= max_wrong_per_voter()) {
    result.outcome = CodeOutcome::LockedOut;
  } else if (!code->spent && code->tries < settings::otp_max_attempts) {
    code->tries++;  // counted before the comparison
    if (is_right(context)) {
      code->spent = true;
      result.outcome = CodeOutcome::Accepted;
    } else {
      voter->wrong++;
      voter->last_challenge_id = key.challenge_id;
      result.outcome = voter->wrong >= max_wrong_per_voter() ? CodeOutcome::LockedOut
                                                             : CodeOutcome::Wrong;
      result.tries_left = settings::otp_max_attempts - code->tries;
      result.budget_just_spent = guesses != nullptr && record_wrong_try(*guesses, key.challenge_id, now);
    }
  }
  LWLockRelease(state->attempts_lock);
  return result;
}

bool voter_locked_out(int64 request_id, TimestampTz request_created_at, Oid approver) {
  SharedState *state = shared_state();
  bool locked = false;
  LWLockAcquire(state->attempts_lock, LW_SHARED);
  for (const VoterAttempts &slot : state->voters)
    if (same_voter(slot, request_id, request_created_at, approver))
      locked = slot.wrong >= max_wrong_per_voter();
  LWLockRelease(state->attempts_lock);
  return locked;
}

int find_untold_code_notices(CodeNotice *out, int capacity) {
  SharedState *state = shared_state();
  int count = 0;
  LWLockAcquire(state->attempts_lock, LW_SHARED);
  for (const ApproverGuesses &guesses : state->guesses) {
    if (count == capacity) break;
    if (guesses.approver != InvalidOid && guesses.budget_spent_unreported)
      out[count++] = CodeNotice{guesses.last_challenge_id, CodeNoticeKind::BudgetSpent};
  }
  // A lock-out is told once, in place of the death of the code that caused it.
  int lockouts_from = count;
  for (const VoterAttempts &voter : state->voters) {
    if (count == capacity) break;
    if (voter.request_id == 0 || voter.lockout_reported || voter.wrong < max_wrong_per_voter()) continue;
    out[count++] = CodeNotice{voter.last_challenge_id, CodeNoticeKind::LockedOut};
  }
  for (const ChallengeAttempts &code : state->challenges) {
    if (count == capacity) break;
    bool out_of_tries = code.challenge_id != 0 && !code.spent && !code.dead_reported &&
                        code.tries >= settings::otp_max_attempts;
    bool told_as_lockout = false;
    for (int i = lockouts_from; i < count; i++)
      told_as_lockout |= out[i].kind == CodeNoticeKind::LockedOut && out[i].challenge_id == code.challenge_id;
    if (out_of_tries && !told_as_lockout) out[count++] = CodeNotice{code.challenge_id, CodeNoticeKind::CodeDied};
  }
  LWLockRelease(state->attempts_lock);
  return count;
}

void mark_code_notices_told(const CodeNotice *notices, int count) {
  if (count == 0) return;
  SharedState *state = shared_state();
  LWLockAcquire(state->attempts_lock, LW_EXCLUSIVE);
  for (int i = 0; i < count; i++) {
    int64 challenge_id = notices[i].challenge_id;
    switch (notices[i].kind) {
      case CodeNoticeKind::BudgetSpent:
        for (ApproverGuesses &guesses : state->guesses)
          if (guesses.approver != InvalidOid && guesses.last_challenge_id == challenge_id)
            guesses.budget_spent_unreported = false;
        break;
      case CodeNoticeKind::LockedOut:
        for (VoterAttempts &voter : state->voters)
          if (voter.request_id != 0 && voter.last_challenge_id == challenge_id) voter.lockout_reported = true;
        [[fallthrough]];  // the code that caused it is told with it
      case CodeNoticeKind::CodeDied:
        for (ChallengeAttempts &code : state->challenges)
          if (code.challenge_id == challenge_id) code.dead_reported = true;
        break;
    }
  }
  LWLockRelease(state->attempts_lock);
}

}  // namespace mpa::pg
