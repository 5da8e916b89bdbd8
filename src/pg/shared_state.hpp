// pg_mpa's shared memory: the code key, and the mail worker's latch so that a
// committing backend can wake it. Later parts add the challenge table here.
#pragma once

#include <cstddef>
#include <cstdint>

#include "pg/postgres.hpp"

extern "C" {
#include "storage/latch.h"
#include "storage/spin.h"
}

namespace mpa::pg {

inline constexpr std::size_t kCodeKeyBytes = 32;

struct SharedState {
  // Drawn from OpenSSL's CSPRNG when the postmaster creates shared memory
  // (so again after every restart or crash); never written anywhere else.
  std::uint8_t code_key[kCodeKeyBytes];

  slock_t mutex;          // protects worker_latch
  Latch *worker_latch;    // the running mail worker's latch, or nullptr
};

// Chains pg_mpa into shmem_request_hook / shmem_startup_hook. Only valid while
// shared_preload_libraries are processed.
void install_shared_state_hooks();

// This backend's pointer to the shared state (attached at backend start).
SharedState *shared_state();

}  // namespace mpa::pg
