// Unit tests for the tally rules (core/tally).
#include "core/tally.hpp"

#include <gtest/gtest.h>

#include <climits>
#include <string>

#include "core/error.hpp"

namespace mpa::tally {
namespace {

// The definition, by brute force: approved if the threshold is met; else
// pending if some way the remaining voters could vote still meets it, and
// rejected if none does.
Outcome brute_force(int approvals, int rejections, int eligible, int threshold) {
  if (approvals >= threshold) return Outcome::Approved;
  const int remaining = eligible - approvals - rejections;
  for (unsigned votes = 0; votes < (1u << remaining); ++votes) {
    int more_approvals = 0;
    for (int voter = 0; voter < remaining; ++voter) more_approvals += (votes >> voter) & 1;
    if (approvals + more_approvals >= threshold) return Outcome::Pending;
  }
  return Outcome::Rejected;
}

TEST(Decide, AgreesWithBruteForceOnSmallTeams) {
  int cases = 0;
  for (int eligible = 0; eligible <= 10; ++eligible)
    for (int threshold = 1; threshold <= 12; ++threshold)
      for (int approvals = 0; approvals <= eligible; ++approvals)
        for (int rejections = 0; approvals + rejections <= eligible; ++rejections) {
          EXPECT_EQ(decide(approvals, rejections, eligible, threshold),
                    brute_force(approvals, rejections, eligible, threshold))
              << "approvals " << approvals << ", rejections " << rejections << ", eligible " << eligible
              << ", threshold " << threshold;
          ++cases;
        }
  EXPECT_GT(cases, 2000);
}

TEST(Decide, Examples) {
  EXPECT_EQ(decide(0, 0, 3, 2), Outcome::Pending);
  EXPECT_EQ(decide(2, 0, 3, 2), Outcome::Approved);
  EXPECT_EQ(decide(1, 1, 3, 2), Outcome::Pending);
  EXPECT_EQ(decide(0, 2, 3, 2), Outcome::Rejected);
  EXPECT_EQ(decide(2, 1, 3, 2), Outcome::Approved);
  // A team that cannot reach its threshold rejects at once.
  EXPECT_EQ(decide(0, 0, 1, 2), Outcome::Rejected);
  EXPECT_EQ(decide(0, 0, 0, 1), Outcome::Rejected);
}

TEST(Decide, HugeCountsDoNotOverflow) {
  EXPECT_EQ(decide(INT_MAX, 0, INT_MAX, INT_MAX), Outcome::Approved);
  EXPECT_EQ(decide(0, INT_MAX, INT_MAX, 1), Outcome::Rejected);
  EXPECT_EQ(decide(0, 0, INT_MAX, INT_MAX), Outcome::Pending);
}

void expect_internal_error(int approvals, int rejections, int eligible, int threshold) {
  try {
    decide(approvals, rejections, eligible, threshold);
    ADD_FAILURE() << "accepted approvals " << approvals << ", rejections " << rejections << ", eligible " << eligible
                  << ", threshold " << threshold;
  } catch (const Error &error) {
    EXPECT_EQ(error.sqlstate(), "XX000");
  }
}

TEST(Decide, RefusesInconsistentCounts) {
  expect_internal_error(-1, 0, 3, 2);
  expect_internal_error(0, -1, 3, 2);
  expect_internal_error(0, 0, -1, 1);
  expect_internal_error(0, 0, 3, 0);
  expect_internal_error(0, 0, 3, -5);
  expect_internal_error(2, 2, 3, 2);
  expect_internal_error(4, 0, 3, 2);
  expect_internal_error(INT_MAX, INT_MAX, INT_MAX, 1);
}

// The message of the error validate_threshold throws, or "" if it accepts.
std::string refusal(int threshold, int approvers) {
  try {
    validate_threshold(threshold, approvers);
  } catch (const Error &error) {
    EXPECT_EQ(error.sqlstate(), "22023");
    return error.what();
  }
  return "";
}

TEST(ValidateThreshold, AcceptsOneUpToTheNumberOfApprovers) {
  for (int approvers = 1; approvers <= 10; ++approvers)
    for (int threshold = 1; threshold <= approvers; ++threshold)
      EXPECT_EQ(refusal(threshold, approvers), "") << threshold << " of " << approvers;
}

TEST(ValidateThreshold, SaysWhichBoundIsBroken) {
  EXPECT_EQ(refusal(0, 3), "threshold must be at least 1, not 0");
  EXPECT_EQ(refusal(-2, 3), "threshold must be at least 1, not -2");
  EXPECT_EQ(refusal(4, 3), "threshold 4 exceeds the number of enrolled approvers (3)");
  EXPECT_EQ(refusal(1, 0), "threshold 1 exceeds the number of enrolled approvers (0)");
}

TEST(ValidateThreshold, NegativeApproverCountIsInternal) {
  try {
    validate_threshold(1, -1);
    FAIL() << "accepted a negative approver count";
  } catch (const Error &error) {
    EXPECT_EQ(error.sqlstate(), "XX000");
  }
}

}  // namespace
}  // namespace mpa::tally
