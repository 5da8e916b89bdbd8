// When a request is decided: the tally rules as pure functions over vote
// counts. Counting the votes without races (one vote per approver, counted
// under the request's row lock) is the caller's job; these functions only
// say what a consistent count means.
#pragma once

namespace mpa::tally {

enum class Outcome { Pending, Approved, Rejected };

// approvals, rejections: confirmed votes so far. eligible: approvers of the
// team who may vote on this request (the requester excluded). threshold: the
// team's approvals needed.
// Approved once approvals >= threshold; Rejected once the threshold can no
// longer be reached even if every approver who has not voted approves
// (approvals + eligible - approvals - rejections < threshold), which includes
// a team with fewer eligible approvers than its threshold; Pending otherwise.
// Throws mpa::Error (XX000) on inconsistent input: a negative count,
// approvals + rejections > eligible, or threshold < 1.
Outcome decide(int approvals, int rejections, int eligible, int threshold);

// Throws mpa::Error (22023) unless 1 <= threshold <= approvers, where
// approvers is the number of approvers enrolled in the team; the message
// names the bound that is broken. A negative `approvers` is an internal
// error (XX000).
void validate_threshold(int threshold, int approvers);

}  // namespace mpa::tally
