#include "pg/challenge_attempts.hpp"

#include "pg/settings.hpp"
#include "pg/shared_state.hpp"

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

}  // namespace

CodeCheck count_and_check(const ChallengeKey &key, bool (*is_right)(void *), void *context) {
  SharedState *state = shared_state();
  TimestampTz now = GetCurrentTimestamp();
  LWLockAcquire(state->attempts_lock, LW_EXCLUSIVE);
  ChallengeAttempts *code = challenge_slot(state, key, now);
  VoterAttempts *voter = voter_slot(state, key, now);
  if (code == nullptr || voter == nullptr) {
    LWLockRelease(state->attempts_lock);
    ereport(ERROR, (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
                    errmsg("too many one-time codes are in use at once"),
                    errhint("Try again when some codes have expired.")));
  }

  CodeCheck result{CodeOutcome::Dead, 0};
  if (voter->wrong >= max_wrong_per_voter()) {
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

int find_unreported_dead_codes(DeadCode *out, int capacity) {
  SharedState *state = shared_state();
  int count = 0;
  LWLockAcquire(state->attempts_lock, LW_SHARED);
  // A lock-out is told once, in place of the death of the code that caused it.
  for (const VoterAttempts &voter : state->voters) {
    if (count == capacity) break;
    if (voter.request_id == 0 || voter.lockout_reported || voter.wrong < max_wrong_per_voter()) continue;
    out[count++] = DeadCode{voter.last_challenge_id, true};
  }
  for (const ChallengeAttempts &code : state->challenges) {
    if (count == capacity) break;
    bool out_of_tries = code.challenge_id != 0 && !code.spent && !code.dead_reported &&
                        code.tries >= settings::otp_max_attempts;
    bool told_as_lockout = false;
    for (int i = 0; i < count; i++) told_as_lockout |= out[i].locked_out && out[i].challenge_id == code.challenge_id;
    if (out_of_tries && !told_as_lockout) out[count++] = DeadCode{code.challenge_id, false};
  }
  LWLockRelease(state->attempts_lock);
  return count;
}

void mark_dead_codes_reported(const DeadCode *codes, int count) {
  if (count == 0) return;
  SharedState *state = shared_state();
  LWLockAcquire(state->attempts_lock, LW_EXCLUSIVE);
  for (int i = 0; i < count; i++) {
    if (codes[i].locked_out)
      for (VoterAttempts &voter : state->voters)
        if (voter.request_id != 0 && voter.last_challenge_id == codes[i].challenge_id) voter.lockout_reported = true;
    for (ChallengeAttempts &code : state->challenges)
      if (code.challenge_id == codes[i].challenge_id) code.dead_reported = true;
  }
  LWLockRelease(state->attempts_lock);
}

}  // namespace mpa::pg
