#include "core/team_assignment.hpp"

#include <string>

#include "core/error.hpp"

namespace mpa::tally {
namespace {

void check_input(const std::vector<int> &thresholds, const std::vector<Voter> &voters) {
  const int teams = static_cast<int>(thresholds.size());
  if (teams < 1 || teams > kMaxTeams)
    throw Error(sqlstate::kInvalidParameterValue,
                "a request needs 1 to " + std::to_string(kMaxTeams) + " teams, not " + std::to_string(teams));
  for (int threshold : thresholds)
    if (threshold < 1)
      throw Error(sqlstate::kInvalidParameterValue, "threshold must be at least 1, not " + std::to_string(threshold));
  const std::uint32_t all = (1u << teams) - 1;
  for (const Voter &voter : voters) {
    if (voter.teams == 0 || (voter.teams & ~all) != 0)
      throw Error(sqlstate::kInternalError, "inconsistent vote count: a voter's teams " +
                                                std::to_string(voter.teams) + " are not among the request's " +
                                                std::to_string(teams));
    if (voter.requester && voter.vote != Vote::None)
      throw Error(sqlstate::kInternalError, "inconsistent vote count: the requester voted");
  }
}

// Per team, at most `thresholds` voters of `supporters` (each voter once,
// to a team they belong to), as many as possible: an augmenting-path
// matching where each team has `threshold` seats. Returns each voter's
// team (-1: none) in `seat_of`.
std::vector<int> assign(const std::vector<int> &thresholds, const std::vector<std::uint32_t> &supporters) {
  const int teams = static_cast<int>(thresholds.size());
  const int voters = static_cast<int>(supporters.size());
  std::vector<int> seat_of(voters, -1);
  std::vector<std::vector<int>> seated(teams);  // voters per team

  // Depth-first search for a path from `voter` to a free seat, moving seated
  // voters to other teams of theirs; `visited` marks teams tried.
  std::vector<char> visited;
  auto augment = [&](auto &self, int voter) -> bool {
    for (int team = 0; team < teams; ++team) {
      if (!(supporters[voter] & (1u << team)) || visited[team]) continue;
      visited[team] = 1;
      if (static_cast<int>(seated[team].size()) < thresholds[team]) {
        seated[team].push_back(voter);
        seat_of[voter] = team;
        return true;
      }
      for (int &other : seated[team]) {
        if (self(self, other)) {  // `other` moved to another team: its seat here is voter's
          other = voter;
          seat_of[voter] = team;
          return true;
        }
      }
    }
    return false;
  };
  for (int voter = 0; voter < voters; ++voter) {
    visited.assign(teams, 0);
    augment(augment, voter);
  }
  return seat_of;
}

// Whether `supporters` (memberships of voters each counted once unless
// shared) can give every team its threshold.
bool reaches_every_threshold(const std::vector<int> &thresholds, const std::vector<std::uint32_t> &supporters,
                             bool shared_votes) {
  const int teams = static_cast<int>(thresholds.size());
  std::vector<int> per_team(teams, 0);
  if (shared_votes) {
    for (std::uint32_t member_of : supporters)
      for (int team = 0; team < teams; ++team) per_team[team] += (member_of >> team) & 1;
  } else {
    for (int team : assign(thresholds, supporters))
      if (team >= 0) ++per_team[team];
  }
  for (int team = 0; team < teams; ++team)
    if (per_team[team] < thresholds[team]) return false;
  return true;
}

}  // namespace

TeamsTally decide_teams(const std::vector<int> &thresholds, const std::vector<Voter> &voters, bool shared_votes) {
  check_input(thresholds, voters);
  const int teams = static_cast<int>(thresholds.size());
  std::vector<std::uint32_t> approving, possible;  // possible: approving, or may still approve
  for (const Voter &voter : voters) {
    if (voter.requester) continue;
    if (voter.vote == Vote::Approve) approving.push_back(voter.teams);
    if (voter.vote != Vote::Reject) possible.push_back(voter.teams);
  }

  TeamsTally tally{Outcome::Pending, std::vector<int>(teams, 0)};
  if (shared_votes) {
    for (std::uint32_t member_of : approving)
      for (int team = 0; team < teams; ++team) tally.counted[team] += (member_of >> team) & 1;
  } else {
    std::vector<int> seat_of = assign(thresholds, approving);
    for (std::size_t voter = 0; voter < approving.size(); ++voter) {
      int team = seat_of[voter];
      if (team < 0)  // every team of theirs is full: shown with their first team
        while (!(approving[voter] & (1u << ++team))) {
        }
      ++tally.counted[team];
    }
  }

  if (reaches_every_threshold(thresholds, approving, shared_votes))
    tally.outcome = Outcome::Approved;
  else if (!reaches_every_threshold(thresholds, possible, shared_votes))
    tally.outcome = Outcome::Rejected;
  return tally;
}

}  // namespace mpa::tally
