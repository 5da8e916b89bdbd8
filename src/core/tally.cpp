#include "core/tally.hpp"

#include <cstdint>
#include <string>

#include "core/error.hpp"

namespace mpa::tally {
namespace {

[[noreturn]] void inconsistent(const std::string &what) {
  throw Error(sqlstate::kInternalError, "inconsistent vote count: " + what);
}

}  // namespace

Outcome decide(int approvals, int rejections, int eligible, int threshold) {
  if (approvals < 0 || rejections < 0 || eligible < 0)
    inconsistent("approvals " + std::to_string(approvals) + ", rejections " + std::to_string(rejections) +
                 ", eligible " + std::to_string(eligible) + " (none may be negative)");
  if (threshold < 1) inconsistent("threshold " + std::to_string(threshold) + " is below 1");
  // 64-bit sums: the counts are ints and their sum must not overflow.
  const std::int64_t votes = std::int64_t{approvals} + rejections;
  if (votes > eligible)
    inconsistent(std::to_string(votes) + " votes from " + std::to_string(eligible) + " eligible approvers");

  if (approvals >= threshold) return Outcome::Approved;
  const std::int64_t best_possible = std::int64_t{eligible} - rejections;
  if (best_possible < threshold) return Outcome::Rejected;
  return Outcome::Pending;
}

void validate_threshold(int threshold, int approvers) {
  if (approvers < 0)
    throw Error(sqlstate::kInternalError, "negative approver count " + std::to_string(approvers));
  if (threshold < 1)
    throw Error(sqlstate::kInvalidParameterValue,
                "threshold must be at least 1, not " + std::to_string(threshold));
  if (threshold > approvers)
    throw Error(sqlstate::kInvalidParameterValue,
                "threshold " + std::to_string(threshold) + " exceeds the number of enrolled approvers (" +
                    std::to_string(approvers) + ")",
                "", "Enrol more approvers first, or lower the threshold.");
}

}  // namespace mpa::tally
