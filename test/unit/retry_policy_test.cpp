// Unit tests for the mail worker's delivery rules (core/retry_policy).
#include "core/retry_policy.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "core/error.hpp"

namespace mpa::mail {
namespace {

using std::chrono::milliseconds;

constexpr double kJustBelowOne = 0.9999999999;
const milliseconds kBase{1000};
const milliseconds kCap{3600 * 1000};

TEST(ClassifySmtpReply, NoReplyAtAllIsTemporary) { EXPECT_EQ(classify_smtp_reply(0), DeliveryOutcome::Temporary); }

TEST(ClassifySmtpReply, ClassBoundaries) {
  EXPECT_EQ(classify_smtp_reply(200), DeliveryOutcome::Sent);
  EXPECT_EQ(classify_smtp_reply(250), DeliveryOutcome::Sent);
  EXPECT_EQ(classify_smtp_reply(299), DeliveryOutcome::Sent);
  EXPECT_EQ(classify_smtp_reply(400), DeliveryOutcome::Temporary);
  EXPECT_EQ(classify_smtp_reply(421), DeliveryOutcome::Temporary);
  EXPECT_EQ(classify_smtp_reply(451), DeliveryOutcome::Temporary);
  EXPECT_EQ(classify_smtp_reply(499), DeliveryOutcome::Temporary);
  EXPECT_EQ(classify_smtp_reply(500), DeliveryOutcome::Permanent);
  EXPECT_EQ(classify_smtp_reply(550), DeliveryOutcome::Permanent);
  EXPECT_EQ(classify_smtp_reply(554), DeliveryOutcome::Permanent);
  EXPECT_EQ(classify_smtp_reply(599), DeliveryOutcome::Permanent);
}

TEST(ClassifySmtpReply, UnexplainedCodesAreRetriedNotDropped) {
  for (int code :
       {-1, 1, 199, 300, 354, 399, 600, 999, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()}) {
    EXPECT_EQ(classify_smtp_reply(code), DeliveryOutcome::Temporary) << code;
  }
}

TEST(RetryDelay, FirstAttemptWaitsBetweenHalfBaseAndBase) {
  EXPECT_EQ(retry_delay(1, kBase, kCap, 0.0), milliseconds(500));
  EXPECT_EQ(retry_delay(1, kBase, kCap, kJustBelowOne), milliseconds(1000));
  EXPECT_EQ(retry_delay(1, kBase, kCap, 0.5), milliseconds(750));
}

TEST(RetryDelay, DoublesWithEachAttempt) {
  EXPECT_EQ(retry_delay(2, kBase, kCap, kJustBelowOne), milliseconds(2000));
  EXPECT_EQ(retry_delay(3, kBase, kCap, kJustBelowOne), milliseconds(4000));
  EXPECT_EQ(retry_delay(4, kBase, kCap, 0.0), milliseconds(4000));
  EXPECT_EQ(retry_delay(11, kBase, kCap, kJustBelowOne), milliseconds(1024 * 1000));
}

TEST(RetryDelay, StopsGrowingAtTheCap) {
  // 1 s * 2^11 = 2048 s is still below the one-hour cap; 2^12 s is not.
  EXPECT_EQ(retry_delay(12, kBase, kCap, kJustBelowOne), milliseconds(2048 * 1000));
  EXPECT_EQ(retry_delay(13, kBase, kCap, kJustBelowOne), kCap);
  EXPECT_EQ(retry_delay(13, kBase, kCap, 0.0), kCap / 2);
  EXPECT_EQ(retry_delay(50, kBase, kCap, kJustBelowOne), kCap);
}

TEST(RetryDelay, CapBelowBaseWins) {
  EXPECT_EQ(retry_delay(1, milliseconds(5000), milliseconds(1000), kJustBelowOne), milliseconds(1000));
}

TEST(RetryDelay, HugeAttemptCountsNeitherOverflowNorPassTheCap) {
  for (int attempts : {62, 63, 64, 65, 1000, std::numeric_limits<int>::max()}) {
    EXPECT_EQ(retry_delay(attempts, kBase, kCap, kJustBelowOne), kCap) << attempts;
    EXPECT_EQ(retry_delay(attempts, kBase, kCap, 0.0), kCap / 2) << attempts;
  }
}

TEST(RetryDelay, DoublingRightUpToTheLargestRepresentableDelay) {
  const milliseconds largest = milliseconds::max();  // 2^63 - 1
  const milliseconds one(1);
  EXPECT_EQ(retry_delay(62, one, largest, 0.0), milliseconds(std::int64_t{1} << 60));
  EXPECT_EQ(retry_delay(63, one, largest, 0.0), milliseconds(std::int64_t{1} << 61));
  EXPECT_EQ(retry_delay(64, one, largest, 0.0), largest / 2);
  EXPECT_EQ(retry_delay(std::numeric_limits<int>::max(), one, largest, 0.0), largest / 2);
  EXPECT_EQ(retry_delay(std::numeric_limits<int>::max(), largest, largest, 0.0), largest / 2);
  EXPECT_EQ(retry_delay(2, largest, largest, 0.0), largest / 2);
  EXPECT_EQ(retry_delay(2, largest / 2 + one, largest, 0.0), largest / 2);
  EXPECT_LE(retry_delay(2, largest, largest, kJustBelowOne), largest);
}

TEST(RetryDelay, UpperAndLowerBoundsNeverDecrease) {
  milliseconds previous_upper(0);
  milliseconds previous_lower(0);
  for (int attempts = 1; attempts <= 200; ++attempts) {
    const milliseconds upper = retry_delay(attempts, kBase, kCap, kJustBelowOne);
    const milliseconds lower = retry_delay(attempts, kBase, kCap, 0.0);
    EXPECT_GE(upper, previous_upper) << attempts;
    EXPECT_GE(lower, previous_lower) << attempts;
    EXPECT_LE(upper, kCap) << attempts;
    previous_upper = upper;
    previous_lower = lower;
  }
}

TEST(RetryDelay, JitterStaysWithinHalfToFullDelay) {
  for (int attempts = 1; attempts <= 20; ++attempts) {
    const milliseconds ceiling = std::min(kCap, kBase * (std::int64_t{1} << (attempts - 1)));
    milliseconds previous(0);
    for (int step = 0; step < 1000; ++step) {
      const milliseconds delay = retry_delay(attempts, kBase, kCap, step / 1000.0);
      EXPECT_GE(delay, ceiling / 2) << attempts << " " << step;
      EXPECT_LE(delay, ceiling) << attempts << " " << step;
      EXPECT_GE(delay, previous) << "jitter should pick the point monotonically";
      previous = delay;
    }
  }
}

TEST(RetryDelay, JitterIsUniformOverWholeMilliseconds) {
  // d = 3 ms: the delay is 1, 2 or 3 ms, each for a third of the jitter range
  // (sampled at the middle of each step, away from the boundaries).
  int counts[4] = {0, 0, 0, 0};
  constexpr int kSteps = 3000;
  for (int step = 0; step < kSteps; ++step)
    ++counts[retry_delay(1, milliseconds(3), kCap, (step + 0.5) / kSteps).count()];
  EXPECT_EQ(counts[0], 0);
  EXPECT_EQ(counts[1], kSteps / 3);
  EXPECT_EQ(counts[2], kSteps / 3);
  EXPECT_EQ(counts[3], kSteps / 3);
}

TEST(RetryDelay, ZeroBaseMeansNoWait) {
  EXPECT_EQ(retry_delay(1, milliseconds(0), kCap, 0.5), milliseconds(0));
  EXPECT_EQ(retry_delay(std::numeric_limits<int>::max(), milliseconds(0), kCap, 0.5), milliseconds(0));
}

TEST(RetryDelay, RefusesArgumentsOutsideItsContract) {
  auto expect_refused = [](int attempts, milliseconds base, milliseconds cap, double jitter) {
    try {
      retry_delay(attempts, base, cap, jitter);
      ADD_FAILURE() << "accepted attempts=" << attempts << " base=" << base.count() << " cap=" << cap.count()
                    << " jitter=" << jitter;
    } catch (const Error &error) {
      EXPECT_EQ(error.sqlstate(), "22023");
    }
  };
  expect_refused(0, kBase, kCap, 0.5);
  expect_refused(-1, kBase, kCap, 0.5);
  expect_refused(std::numeric_limits<int>::min(), kBase, kCap, 0.5);
  expect_refused(1, milliseconds(-1), kCap, 0.5);
  expect_refused(1, kBase, milliseconds(-1), 0.5);
  expect_refused(1, kBase, kCap, -0.0001);
  expect_refused(1, kBase, kCap, 1.0);
  expect_refused(1, kBase, kCap, std::nan(""));
  expect_refused(1, kBase, kCap, std::numeric_limits<double>::infinity());
}

}  // namespace
}  // namespace mpa::mail
