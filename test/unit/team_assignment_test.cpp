// Unit tests for approval by several teams (core/team_assignment).
#include "core/team_assignment.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "core/error.hpp"

namespace mpa::tally {
namespace {

constexpr std::uint32_t kDba = 1, kSecurity = 2, kBoth = 3;

Voter approves(std::uint32_t teams) { return {teams, Vote::Approve, false}; }
Voter rejects(std::uint32_t teams) { return {teams, Vote::Reject, false}; }
Voter waits(std::uint32_t teams) { return {teams, Vote::None, false}; }

Outcome outcome(const std::vector<int> &thresholds, const std::vector<Voter> &voters, bool shared = false) {
  return decide_teams(thresholds, voters, shared).outcome;
}

// The definition, by brute force over small cases: approved if some choice of
// one team per approving voter meets every threshold; rejected if no way the
// voters who have not voted could vote gets there; pending otherwise.
bool brute_reaches(const std::vector<int> &thresholds, const std::vector<std::uint32_t> &approving) {
  const int teams = static_cast<int>(thresholds.size());
  std::vector<int> choice(approving.size(), -1);
  auto search = [&](auto &self, std::size_t voter) -> bool {
    if (voter == approving.size()) {
      std::vector<int> per_team(teams, 0);
      for (int team : choice)
        if (team >= 0) ++per_team[team];
      for (int team = 0; team < teams; ++team)
        if (per_team[team] < thresholds[team]) return false;
      return true;
    }
    for (int team = -1; team < teams; ++team) {
      if (team >= 0 && !(approving[voter] & (1u << team))) continue;
      choice[voter] = team;
      if (self(self, voter + 1)) return true;
    }
    return false;
  };
  return search(search, 0);
}

TEST(DecideTeams, AgreesWithBruteForceOnTwoAndThreeTeams) {
  int cases = 0;
  for (int teams = 2; teams <= 3; ++teams) {
    const std::uint32_t masks = (1u << teams) - 1;
    for (int t0 = 1; t0 <= 2; ++t0)
      for (int t1 = 1; t1 <= 2; ++t1) {
        std::vector<int> thresholds{t0, t1};
        if (teams == 3) thresholds.push_back(1);
        // Four voters, each with a membership (1..masks) and a vote (3 ways).
        for (std::uint32_t code = 0; code < masks * masks * masks * masks * 81; code += 11) {
          std::vector<Voter> voters;
          std::vector<std::uint32_t> approving, possible;
          std::uint32_t rest = code;
          for (int v = 0; v < 4; ++v) {
            std::uint32_t member_of = rest % masks + 1;
            rest /= masks;
            Vote vote = static_cast<Vote>(rest % 3);
            rest /= 3;
            voters.push_back({member_of, vote, false});
            if (vote == Vote::Approve) approving.push_back(member_of);
            if (vote != Vote::Reject) possible.push_back(member_of);
          }
          Outcome expected = brute_reaches(thresholds, approving)   ? Outcome::Approved
                             : !brute_reaches(thresholds, possible) ? Outcome::Rejected
                                                                    : Outcome::Pending;
          ASSERT_EQ(outcome(thresholds, voters), expected) << "case " << code << " of " << teams << " teams";
          ++cases;
        }
      }
  }
  EXPECT_GT(cases, 1000);
}

// Both teams at their threshold with different people.
TEST(DecideTeams, EveryTeamReachesItsThreshold) {
  EXPECT_EQ(outcome({2, 1}, {approves(kDba), approves(kDba), approves(kSecurity)}), Outcome::Approved);
  EXPECT_EQ(outcome({2, 1}, {approves(kDba), approves(kDba), waits(kSecurity)}), Outcome::Pending);
}

// A person in both teams counts once by default: dba 1 + security 1 needs two people.
TEST(DecideTeams, OverlapCountsOnceWithoutSharedVotes) {
  EXPECT_EQ(outcome({1, 1}, {approves(kBoth), waits(kDba), waits(kSecurity)}), Outcome::Pending);
  TeamsTally tally = decide_teams({1, 1}, {approves(kBoth), waits(kDba), waits(kSecurity)}, false);
  EXPECT_EQ(tally.counted[0] + tally.counted[1], 1);
  // Two people, one in both: the one in both is seated where the other is not.
  tally = decide_teams({1, 1}, {approves(kBoth), approves(kDba)}, false);
  EXPECT_EQ(tally.outcome, Outcome::Approved);
  EXPECT_EQ(tally.counted, (std::vector<int>{1, 1}));
  // ... whichever order they come in (an assignment, not first come first served).
  EXPECT_EQ(outcome({1, 1}, {approves(kDba), approves(kBoth)}), Outcome::Approved);
  EXPECT_EQ(outcome({1, 1}, {approves(kBoth), approves(kSecurity)}), Outcome::Approved);
}

TEST(DecideTeams, OverlapCountsForEveryTeamWithSharedVotes) {
  TeamsTally tally = decide_teams({1, 1}, {approves(kBoth), waits(kDba)}, true);
  EXPECT_EQ(tally.outcome, Outcome::Approved);
  EXPECT_EQ(tally.counted, (std::vector<int>{1, 1}));
}

// Early rejection: security's only other member rejected, the rest cannot make up for it.
TEST(DecideTeams, RejectedOnceATeamCanNoLongerReachItsThreshold) {
  EXPECT_EQ(outcome({2, 1}, {approves(kDba), waits(kDba), rejects(kSecurity)}), Outcome::Rejected);
  // A rejecting voter in both teams is gone from both.
  EXPECT_EQ(outcome({1, 1}, {rejects(kBoth), approves(kDba)}), Outcome::Rejected);
  // Enough people overall, but the one in both is needed by both teams: rejected without shared votes ...
  EXPECT_EQ(outcome({1, 1}, {waits(kBoth), rejects(kSecurity), approves(kDba)}), Outcome::Pending);
  EXPECT_EQ(outcome({2, 1}, {waits(kBoth), rejects(kSecurity), approves(kDba)}), Outcome::Rejected);
  // ... and still possible with them.
  EXPECT_EQ(outcome({2, 1}, {waits(kBoth), rejects(kSecurity), approves(kDba)}, true), Outcome::Pending);
}

// The requester is in the teams' lists but never counts: not even as someone who may still approve.
TEST(DecideTeams, RequesterNeverCounts) {
  EXPECT_EQ(outcome({1, 1}, {{kSecurity, Vote::None, true}, approves(kDba)}), Outcome::Rejected);
  EXPECT_EQ(outcome({1, 1}, {{kSecurity, Vote::None, true}, approves(kDba), waits(kSecurity)}), Outcome::Pending);
  EXPECT_THROW(outcome({1, 1}, {{kSecurity, Vote::Approve, true}, approves(kDba)}), Error);
}

// One team behaves as mpa::tally::decide does.
TEST(DecideTeams, OneTeamAgreesWithDecide) {
  for (int eligible = 0; eligible <= 5; ++eligible)
    for (int approvals = 0; approvals <= eligible; ++approvals)
      for (int rejections = 0; approvals + rejections <= eligible; ++rejections)
        for (int threshold = 1; threshold <= 4; ++threshold) {
          std::vector<Voter> voters;
          for (int i = 0; i < eligible; ++i)
            voters.push_back(i < approvals ? approves(1) : i < approvals + rejections ? rejects(1) : waits(1));
          EXPECT_EQ(outcome({threshold}, voters), decide(approvals, rejections, eligible, threshold));
        }
}

TEST(DecideTeams, EightTeams) {
  std::vector<Voter> voters;
  for (int team = 0; team < kMaxTeams; ++team) voters.push_back(approves(1u << team));
  EXPECT_EQ(outcome(std::vector<int>(kMaxTeams, 1), voters), Outcome::Approved);
}

TEST(DecideTeams, RefusesBadInput) {
  auto sqlstate_of = [](auto call) {
    try {
      call();
    } catch (const Error &e) {
      return e.sqlstate();
    }
    return std::string("no error");
  };
  EXPECT_EQ(sqlstate_of([] { decide_teams({}, {}, false); }), "22023");
  EXPECT_EQ(sqlstate_of([] { decide_teams(std::vector<int>(kMaxTeams + 1, 1), {}, false); }), "22023");
  EXPECT_EQ(sqlstate_of([] { decide_teams({1, 0}, {}, false); }), "22023");
  EXPECT_EQ(sqlstate_of([] { decide_teams({1, 1}, {approves(0)}, false); }), "XX000");
  EXPECT_EQ(sqlstate_of([] { decide_teams({1, 1}, {approves(4)}, false); }), "XX000");
}

}  // namespace
}  // namespace mpa::tally
