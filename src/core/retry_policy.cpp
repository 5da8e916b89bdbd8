#include "core/retry_policy.hpp"

#include <algorithm>
#include <limits>

#include "core/error.hpp"

namespace mpa::mail {
namespace {

using Rep = std::chrono::milliseconds::rep;

void check_retry_arguments(int attempts, std::chrono::milliseconds base, std::chrono::milliseconds cap,
                           double jitter01) {
  if (attempts < 1) throw Error(sqlstate::kInvalidParameterValue, "retry delay needs at least one failed attempt");
  if (base.count() < 0 || cap.count() < 0)
    throw Error(sqlstate::kInvalidParameterValue, "retry delay base and cap must not be negative");
  // Written so that NaN fails too.
  if (!(jitter01 >= 0.0 && jitter01 < 1.0))
    throw Error(sqlstate::kInvalidParameterValue, "retry delay jitter must be in [0, 1)");
}

// min(cap, base * 2^doublings), without ever computing a product that
// could overflow: the doubling is only done when it stays within cap.
Rep capped_exponential(Rep base, Rep cap, int doublings) {
  if (base == 0) return 0;
  if (doublings >= std::numeric_limits<Rep>::digits) return cap;  // 2^doublings alone exceeds any cap
  if (base > (cap >> doublings)) return cap;
  return base << doublings;
}

}  // namespace

DeliveryOutcome classify_smtp_reply(int smtp_reply_code) {
  if (smtp_reply_code >= 200 && smtp_reply_code <= 299) return DeliveryOutcome::Sent;
  if (smtp_reply_code >= 500 && smtp_reply_code <= 599) return DeliveryOutcome::Permanent;
  return DeliveryOutcome::Temporary;
}

std::chrono::milliseconds retry_delay(int attempts, std::chrono::milliseconds base, std::chrono::milliseconds cap,
                                      double jitter01) {
  check_retry_arguments(attempts, base, cap, jitter01);
  const Rep longest = capped_exponential(base.count(), cap.count(), attempts - 1);
  const Rep shortest = longest / 2;
  const Rep span = longest - shortest;
  // span + 1 choices so that both ends of [shortest, longest] can come out;
  // the min() guards against the product rounding up to span + 1 in double.
  const auto offset = static_cast<Rep>(jitter01 * (static_cast<double>(span) + 1.0));
  return std::chrono::milliseconds(shortest + std::min(offset, span));
}

}  // namespace mpa::mail
