// Creates pg_mpa's shared memory and draws the code key.
#include "pg/shared/shared_state.hpp"

#include <openssl/rand.h>

extern "C" {
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
}

namespace mpa::pg {
namespace {

SharedState *state = nullptr;
}  // namespace

void request_shared_memory() {
  RequestAddinShmemSpace(MAXALIGN(sizeof(SharedState)));
  RequestNamedLWLockTranche("pg_mpa", 3);
}

// Runs in the postmaster when shared memory is (re)created, and is the only
// place the key is made: a crash restart draws a new key, and a standby has
// its own, drawn when it started, which it keeps when promoted; so a restart
// or a failover voids every outstanding code by design.
void attach_shared_memory() {

  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  bool found = false;
  state = static_cast<SharedState *>(ShmemInitStruct("pg_mpa", sizeof(SharedState), &found));
  if (!found) {
    if (RAND_bytes(state->code_key, sizeof state->code_key) != 1 ||
        RAND_bytes(reinterpret_cast<unsigned char *>(&state->code_key_id), sizeof state->code_key_id) != 1) {
      LWLockRelease(AddinShmemInitLock);
      ereport(FATAL, (errmsg("pg_mpa could not draw its code key from OpenSSL's random generator")));
    }
    SpinLockInit(&state->mutex);
    state->worker_latch = nullptr;
    pg_atomic_init_u32(&state->worker_has_work, 1);
    pg_atomic_init_u64(&state->policy_generation, 1);
    pg_atomic_init_u32(&state->restore_window_pid, 0);
    pg_atomic_init_u32(&state->restore_window_closed, 0);
    LWLockPadded *locks = GetNamedLWLockTranche("pg_mpa");
    state->attempts_lock = &locks[0].lock;
    state->cluster_policies_lock = &locks[1].lock;
    state->audit_ring_lock = &locks[2].lock;
    state->audit_ring_first = 0;
    state->audit_ring_count = 0;
    state->audit_ring_lost = 0;
    state->cluster_policies_generation = 0;
    state->cluster_policies_read_in_recovery = false;
    state->cluster_policy_count = 0;
    state->cluster_policies_complete = true;
    state->missing_operation_count = 0;
    state->outline.complete = false;
    memset(state->challenges, 0, sizeof state->challenges);
    memset(state->voters, 0, sizeof state->voters);
    memset(state->burns, 0, sizeof state->burns);
    state->all_codes_burned_at = 0;
  }
  LWLockRelease(AddinShmemInitLock);
}

SharedState *shared_state() { return state; }

}  // namespace mpa::pg
