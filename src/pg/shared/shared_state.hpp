// pg_mpa's shared memory: the code key, the mail worker's latch (so that a
// committing backend can wake it), the policy generation (so that backends
// know when their policy cache is stale), and what must survive the
// caller's ROLLBACK: the wrong-try counters of one-time codes and the audit
// events of refused statements and wrong codes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "pg/boundary/postgres.hpp"

extern "C" {
#include "datatype/timestamp.h"
#include "port/atomics.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
}

namespace mpa::pg {

inline constexpr std::size_t kCodeKeyBytes = 32;
inline constexpr int kAttemptSlots = 4096;
inline constexpr int kBurnSlots = 1024;
inline constexpr int kGuessSlots = 1024;
inline constexpr int kWrongCodesRemembered = 100;  // the largest per-day budget
inline constexpr int kClusterPolicySlots = 1024;  // mpa_protect refuses more (docs/decisions.md, "Every database")
inline constexpr int kApproverRoleSlots = 1024;
inline constexpr int kOutlineOperationSlots = 256;  // more than PostgreSQL has command tags
inline constexpr int kOperationBytes = 64;
// A policy's teams as the policy cache spells them: up to 8 teams
// (mpa_protect's limit) of up to 63 characters (mpa_team_create's), joined
// by 7 separators (',' or '&'), and the terminating zero: 8 * 63 + 7 + 1.
inline constexpr int kPolicyTeamsBytes = 512;
inline constexpr int kAuditRingSlots = 256;
inline constexpr int kAuditDetailBytes = 1536;

// A policy that reaches databases other than mpa.database: on a
// cluster-wide operation (roles, databases, tablespaces, ALTER SYSTEM) or
// MPA CONFIGURE (database ""), or for the objects of another database (its
// name) or of every one ("*"). Copied here so that the gate in every
// database knows it.
struct ClusterPolicy {
  int64 id;
  char database[NAMEDATALEN];
  char operation[kOperationBytes];
  char object[200];
  // The team, or the teams of a policy of several joined as at home
  // ("dba,security", "dba&security"; load_policy_teams in policy_cache.cpp),
  // so that the gate elsewhere names and requests every one of them.
  char team[kPolicyTeamsBytes];
  // mpa.policies.mode = 'dry-run': the gate there records what the policy
  // would have refused and refuses nothing (docs/decisions.md, "Policy
  // modes"). Never set on MPA CONFIGURE.
  bool dry_run;
};

// mpa.database's policies in outline: what the gate's first look at a
// statement asks. Not complete: too many operations to list here.
struct PolicyOutline {
  bool complete;
  bool governed;  // a policy on MPA CONFIGURE exists
  int policy_count;
  int operation_count;
  char operations[kOutlineOperationSlots][kOperationBytes];  // distinct, sorted (strcmp)
};

// Tries at one challenge (one mailed code).
// Slots are keyed by ids and by something drawn when the row was made (the
// code's nonce, the request's creation time): ids start again from 1 after
// the extension is re-created, and old counters must not carry over.
struct ChallengeAttempts {
  int64 challenge_id;        // 0: free
  uint64 nonce_tag;          // the first bytes of the challenge's nonce
  int tries;                 // evaluated or refused, counted before comparing
  bool spent;                // the right code was given: single use
  bool dead_reported;        // the approver was told the code died
  TimestampTz forget_after;  // the code's expiry: the slot is free after it
};

// Wrong tries of one approver at one request, across all its codes.
struct VoterAttempts {
  int64 request_id;  // 0: free
  TimestampTz request_created_at;
  Oid approver;
  int wrong;
  int64 last_challenge_id;  // the code that took the last wrong try
  bool lockout_reported;
  TimestampTz forget_after;  // the request's expiry
};

// Wrong codes entered in one approver's name, over every request and
// address confirmation: when the last ones were (a ring, oldest
// overwritten), for the per-hour and per-day budgets.
struct ApproverGuesses {
  Oid approver;  // InvalidOid: free
  int next;      // where the next wrong try goes in the ring
  TimestampTz wrong_at[kWrongCodesRemembered];  // 0: none
  bool budget_spent_unreported;  // the approver is still to be told
  int64 last_challenge_id;       // the code of the try that spent it (whose address is told)
};

// Codes of one approver burned by a submission that did not finish
// (code_submission.hpp): every code opened at or before `at` is dead.
struct CodeBurn {
  Oid approver;  // InvalidOid: free
  TimestampTz at;
};

// An audit event that happened in a transaction that rolls back (a refused
// statement, a wrong code), waiting for the worker to write it to mpa.audit.
struct PendingAuditEntry {
  TimestampTz at;
  int64 request_id;  // 0: none
  Oid role;          // the session role
  Oid database;
  char kind[32];
  char detail[kAuditDetailBytes];  // a JSON object
};

struct SharedState {
  // Drawn from OpenSSL's CSPRNG when the postmaster creates shared memory
  // (so again after every restart or crash); never written anywhere else.
  std::uint8_t code_key[kCodeKeyBytes];
  // Names the key: each challenge records the id of the key its code was
  // made with (mpa.challenges.key_id), so that a code made by a key this
  // server does not have (before a restart, on the old primary before a
  // failover) is told apart from a wrong one. Drawn separately from the
  // key, so it reveals nothing about it.
  int64 code_key_id;

  slock_t mutex;          // protects worker_latch
  Latch *worker_latch;    // the running mail worker's latch, or nullptr
  // Set by wake_mail_worker() before it sets the latch, cleared by the
  // worker when a round starts. The latch is also set by signals that need
  // no round (sinval catch-up, which busy DDL sends constantly): only this
  // flag, or a timer running out, makes the worker query its tables.
  pg_atomic_uint32 worker_has_work;

  pg_atomic_uint64 policy_generation;  // bumped when committed policies change

  // The restore window (protection/restore_window.hpp): the pid of the
  // session whose window is open (0: none), and whether one closed since
  // the worker last recorded a restore.
  pg_atomic_uint32 restore_window_pid;
  pg_atomic_uint32 restore_window_closed;

  LWLock *attempts_lock;  // protects both attempt tables, the guesses and the burns
  ChallengeAttempts challenges[kAttemptSlots];
  VoterAttempts voters[kAttemptSlots];
  CodeBurn burns[kBurnSlots];
  ApproverGuesses guesses[kGuessSlots];
  TimestampTz all_codes_burned_at;  // when the burns were full: everyone's codes

  // Written by backends of mpa.database when they load policies (not with
  // their transaction's own uncommitted change, not by parallel workers),
  // read by the gate in the other databases; the outline below by new
  // sessions in mpa.database too.
  LWLock *cluster_policies_lock;
  uint64 cluster_policies_generation;  // the policy generation they were read at; 0: none yet
  // Read while this server was a standby: replay moves no generation, so
  // after a promotion they may lack policies committed on the old primary
  // and are not used (policy_cache.cpp).
  bool cluster_policies_read_in_recovery;
  int cluster_policy_count;
  // False when more policies reach other databases than the slots hold
  // (mpa_protect refuses that many; a restore may bring them): the gate
  // elsewhere then refuses what those policies could name (fail closed).
  bool cluster_policies_complete;
  ClusterPolicy cluster_policies[kClusterPolicySlots];
  // When not complete: the distinct operations of the policies left out
  // (sorted; all of them, since there are fewer operations than slots).
  int missing_operation_count;
  char missing_operations[kOutlineOperationSlots][kOperationBytes];
  // Published with them, at the same generation (see policy_cache.cpp).
  PolicyOutline outline;
  // The roles that are approvers (distinct, sorted), for the gate of every
  // database: dropping or renaming one is refused. Not complete: more
  // approvers than slots.
  bool approver_roles_complete;
  int approver_role_count;
  Oid approver_roles[kApproverRoleSlots];

  // Audit events written by backends, taken by the worker (a ring).
  LWLock *audit_ring_lock;
  int audit_ring_first;   // oldest entry
  int audit_ring_count;
  uint64 audit_ring_lost;  // events dropped because the ring was full, not yet recorded
  PendingAuditEntry audit_ring[kAuditRingSlots];
};

// pg_mpa's shmem_request and shmem_startup hooks (src/pg/hooks/): ask for
// the shared memory, then create it (in the postmaster, when shared memory
// is (re)created) and draw the code key.
void request_shared_memory();
void attach_shared_memory();

// This backend's pointer to the shared state (attached at backend start).
SharedState *shared_state();

}  // namespace mpa::pg
