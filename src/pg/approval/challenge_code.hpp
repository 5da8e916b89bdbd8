// The one-time code of a challenge, derived from the challenge's binding and
// the code key in shared memory, never stored (docs/decisions.md,
// "Approval": Codes). Used where a code is checked and where its mail is
// rendered.
#pragma once

#include <string>

#include "pg/boundary/postgres.hpp"

namespace mpa::pg {

struct ChallengeBinding {
  int64 challenge_id;
  int64 request_id;
  const char *fingerprint;  // the request's statement fingerprint
  Oid approver;
  const char *decision;     // "approve" or "reject"
  const char *nonce;        // raw bytes
  int nonce_length;
};

// C++: throws mpa::Error.
std::string code_for(const ChallengeBinding &binding);

}  // namespace mpa::pg
