// Approval by several teams (docs/decisions.md, "Several teams"): whether
// the votes on a request can be assigned to its teams so that every team
// reaches its own threshold. Pure: the caller reads teams, memberships and
// votes under the request's row lock and passes them in.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tally.hpp"

namespace mpa::tally {

// A policy names at most this many teams: the rule looks at every subset of
// them (2^8), and a mail line per team stays readable.
inline constexpr int kMaxTeams = 8;

enum class Vote { None, Approve, Reject };

// One approver of at least one of the request's teams. teams: bit i set when
// a member of team i (the order of the thresholds). The requester is passed
// too, marked: never eligible, whatever teams they are in.
struct Voter {
  std::uint32_t teams;
  Vote vote;
  bool requester;
};

struct TeamsTally {
  Outcome outcome;
  // Per team (same order): the approvals counted for it. Without shared
  // votes, those of one assignment that serves every team as far as the
  // approvals allow (so "2 of 2 from dba" never counts a person that
  // security needs too); approvals left over after that go to a team of
  // their voter. With shared votes, every approval of a member.
  std::vector<int> counted;
};

// thresholds: one per team (1..kMaxTeams teams, each at least 1).
// shared_votes false: each approving voter counts for at most ONE team they
// belong to; true: for every team they belong to.
// Approved when the approvals can be so assigned that every team reaches its
// threshold; Rejected when that is impossible even if every eligible voter
// who has not voted approves (a rejecting vote removes its voter from every
// team); Pending otherwise.
// Throws mpa::Error: 22023 for no team, more than kMaxTeams, a threshold
// below 1; XX000 for a voter in none of the teams or in a team that does not
// exist, or a requester who voted.
TeamsTally decide_teams(const std::vector<int> &thresholds, const std::vector<Voter> &voters, bool shared_votes);

}  // namespace mpa::tally
