#include "pg/approval/challenge_code.hpp"

#include "core/otp.hpp"
#include "pg/shared/shared_state.hpp"

namespace mpa::pg {

std::string code_for(const ChallengeBinding &binding) {
  otp::ChallengeBinding core{binding.challenge_id,
                             binding.request_id,
                             binding.fingerprint,
                             static_cast<std::uint32_t>(binding.approver),
                             binding.decision,
                             std::string(binding.nonce, binding.nonce_length)};
  return otp::derive_code(shared_state()->code_key, kCodeKeyBytes, core);
}

}  // namespace mpa::pg
