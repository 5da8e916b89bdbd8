// SQL-callable doors to pg_mpa's rules, for the extension's SQL functions
// (pg_mpa--*.sql): statement descriptions, policy and address checks, the
// tally. They live in schema mpa and PUBLIC may not call them.
#include <string>
#include <vector>

#include "core/mail_address.hpp"
#include "core/policy.hpp"
#include "core/tally.hpp"
#include "core/team_assignment.hpp"
#include "pg/boundary/arguments.hpp"
#include "pg/shared/at_commit.hpp"
#include "pg/protection/configuration.hpp"
#include "pg/protection/self_protection.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/mail/outbox.hpp"
#include "pg/gate/policy_cache.hpp"
#include "pg/approval/request_description.hpp"
#include "pg/gate/statement_cascade.hpp"
#include "pg/gate/statement_description.hpp"
#include "pg/shared/shared_state.hpp"
#include "pg/startup/settings.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_type_d.h"
#include "commands/dbcommands.h"
#include "commands/trigger.h"
#include "funcapi.h"
#include "parser/parser.h"
#include "tcop/cmdtag.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
}

namespace {

using mpa::pg::call_postgres;
using mpa::pg::text_argument;

// Requests hold one statement; anything near this size is not one a person
// reviews in a mail.
constexpr std::size_t kMaxStatementBytes = 64 * 1024;
constexpr std::size_t kMaxNameBytes = 1024;

int int_argument(FunctionCallInfo fcinfo, int index, const char *name) {
  if (PG_ARGISNULL(index))
    throw mpa::Error(mpa::sqlstate::kNullValueNotAllowed, std::string(name) + " must not be NULL");
  return PG_GETARG_INT32(index);
}

Datum text_datum(const std::string &value) {
  return call_postgres([&value] { return PointerGetDatum(cstring_to_text_with_len(value.data(), value.size())); });
}

}  // namespace

// mpa.describe(statement, search_path, OUT operation, OUT object,
//              OUT target_classes, OUT target_oids, OUT fingerprint, OUT team,
//              OUT revoke_statement)
// Names are resolved with `search_path`: the caller's, passed in by
// mpa_request (whose own search_path is pinned).
MPA_FUNCTION(mpa_describe) {
  std::string statement = text_argument(fcinfo, 0, "statement", kMaxStatementBytes);
  std::string search_path = text_argument(fcinfo, 1, "search_path", kMaxStatementBytes);
  return call_postgres([&] {
    mpa::pg::RequestDescription d = mpa::pg::describe_request(statement.c_str(), search_path.c_str());
    TupleDesc desc;
    if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
      elog(ERROR, "mpa.describe must return a record");
    Datum values[mpa::pg::kDescriptionColumns];
    bool nulls[mpa::pg::kDescriptionColumns];
    mpa::pg::description_columns(d, values, nulls);
    return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls));
  });
}

// mpa.dry_run_hint(statement, search_path) -> the HINT of mpa_request's
// MP002 for a statement only dry-run policies name, or NULL. Asked only
// once the statement was found unprotected (docs/decisions.md, "Policy
// modes").
MPA_FUNCTION(mpa_dry_run_hint) {
  std::string statement = text_argument(fcinfo, 0, "statement", kMaxStatementBytes);
  std::string search_path = text_argument(fcinfo, 1, "search_path", kMaxStatementBytes);
  const char *hint =
      call_postgres([&] { return mpa::pg::dry_run_hint(statement.c_str(), search_path.c_str()); });
  if (hint == nullptr) PG_RETURN_NULL();
  return text_datum(hint);
}

// mpa.cascade_query() -> the one text of what a drop or truncation also
// reaches (mpa.cascade_of runs it here; the describe task in the database
// a request is for).
MPA_FUNCTION(mpa_cascade_query) {
  (void)fcinfo;
  return text_datum(mpa::pg::kCascadeSql);
}

// mpa.tally(approvals, rejections, eligible, threshold) -> pending | approved | rejected
MPA_FUNCTION(mpa_tally) {
  using mpa::tally::Outcome;
  Outcome outcome = mpa::tally::decide(int_argument(fcinfo, 0, "approvals"), int_argument(fcinfo, 1, "rejections"),
                                       int_argument(fcinfo, 2, "eligible"), int_argument(fcinfo, 3, "threshold"));
  return text_datum(outcome == Outcome::Approved ? "approved"
                    : outcome == Outcome::Rejected ? "rejected"
                                                   : "pending");
}

namespace {

// A one-dimensional array argument without NULL elements (`nulls_allowed`:
// with them, reported in *nulls), at most kMaxVoters long.
constexpr int kMaxVoters = 100000;

int array_argument(FunctionCallInfo fcinfo, int index, const char *name, Oid type, Datum **items, bool **nulls,
                   bool nulls_allowed) {
  if (PG_ARGISNULL(index))
    throw mpa::Error(mpa::sqlstate::kNullValueNotAllowed, std::string(name) + " must not be NULL");
  int count = 0;
  bool has_null = call_postgres([&] {
    ArrayType *array = PG_GETARG_ARRAYTYPE_P(index);
    int16 length;
    bool by_value;
    char align;
    get_typlenbyvalalign(type, &length, &by_value, &align);
    if (ARR_NDIM(array) > 1) elog(ERROR, "%s must be one-dimensional", name);
    deconstruct_array(array, type, length, by_value, align, items, nulls, &count);
    bool any = false;
    for (int i = 0; i < count; i++) any |= (*nulls)[i];
    return any;
  });
  if (has_null && !nulls_allowed)
    throw mpa::Error(mpa::sqlstate::kNullValueNotAllowed, std::string(name) + " must not hold NULL");
  if (count > kMaxVoters) throw mpa::Error(mpa::sqlstate::kInvalidParameterValue, std::string(name) + " is too long");
  return count;
}

}  // namespace

// mpa.changes_pg_mpa(statement, target_classes, target_oids, home) ->
// whether a request's statement is pg_mpa's own configuration the way the
// gate judges it, besides MPA CONFIGURE itself (the SQL checks that): it
// changes pg_mpa's set-up (ALTER SYSTEM, LOAD, event triggers, server
// files, untrusted code: changes_pg_mpa_setup), or a target is one of
// pg_mpa's objects or, once governed, its home database (`home`: the
// targets are this database's). Break-glass never approves those: the
// governing team decides them, as it decides MPA CONFIGURE.
MPA_FUNCTION(mpa_changes_pg_mpa) {
  std::string statement = text_argument(fcinfo, 0, "statement", kMaxStatementBytes);
  Datum *classes, *oids;
  bool *class_nulls, *oid_nulls;
  int targets = array_argument(fcinfo, 1, "target_classes", OIDOID, &classes, &class_nulls, false);
  if (array_argument(fcinfo, 2, "target_oids", OIDOID, &oids, &oid_nulls, false) != targets)
    throw mpa::Error(mpa::sqlstate::kInvalidParameterValue, "target_classes and target_oids differ in length");
  if (PG_ARGISNULL(3)) throw mpa::Error(mpa::sqlstate::kNullValueNotAllowed, "home must not be NULL");
  bool home = PG_GETARG_BOOL(3);
  bool changes = call_postgres([&] {
    for (int i = 0; home && i < targets; i++)
      if (mpa::pg::is_pg_mpa_object(DatumGetObjectId(classes[i]), DatumGetObjectId(oids[i]))) return true;
    ListCell *cell;
    foreach (cell, raw_parser(statement.c_str(), RAW_PARSE_DEFAULT))
      if (mpa::pg::changes_pg_mpa_setup(lfirst_node(RawStmt, cell)->stmt)) return true;
    return false;
  });
  PG_RETURN_BOOL(changes);
}

// mpa.tally_teams(thresholds int[], memberships int[], votes text[], shared_votes,
//                 OUT outcome text, OUT counted int[])
// Approval by several teams (core/team_assignment): thresholds per team, in
// the request's order; per voter, a bit per team they belong to, and their
// vote: 'approve', 'reject', NULL (not yet) or 'requester' (never counts).
MPA_FUNCTION(mpa_tally_teams) {
  using mpa::tally::Outcome;
  using mpa::tally::Vote;
  Datum *threshold_items, *membership_items, *vote_items;
  bool *threshold_nulls, *membership_nulls, *vote_nulls;
  int teams = array_argument(fcinfo, 0, "thresholds", INT4OID, &threshold_items, &threshold_nulls, false);
  int voters = array_argument(fcinfo, 1, "memberships", INT4OID, &membership_items, &membership_nulls, false);
  if (array_argument(fcinfo, 2, "votes", TEXTOID, &vote_items, &vote_nulls, true) != voters)
    throw mpa::Error(mpa::sqlstate::kInvalidParameterValue, "memberships and votes differ in length");
  if (PG_ARGISNULL(3)) throw mpa::Error(mpa::sqlstate::kNullValueNotAllowed, "shared_votes must not be NULL");
  bool shared_votes = PG_GETARG_BOOL(3);
  if (teams > mpa::tally::kMaxTeams)  // checked before the vectors below are sized by it
    throw mpa::Error(mpa::sqlstate::kInvalidParameterValue, "too many teams");
  std::vector<int> thresholds;
  for (int i = 0; i < teams; i++) thresholds.push_back(DatumGetInt32(threshold_items[i]));
  std::vector<mpa::tally::Voter> voter_list;
  for (int i = 0; i < voters; i++) {
    std::string vote =
        vote_nulls[i] ? "" : call_postgres([&] { return static_cast<const char *>(TextDatumGetCString(vote_items[i])); });
    if (!vote.empty() && vote != "approve" && vote != "reject" && vote != "requester")
      throw mpa::Error(mpa::sqlstate::kInvalidParameterValue, "a vote is 'approve', 'reject', 'requester' or NULL");
    voter_list.push_back({static_cast<std::uint32_t>(DatumGetInt32(membership_items[i])),
                          vote == "approve" ? Vote::Approve : vote == "reject" ? Vote::Reject : Vote::None,
                          vote == "requester"});
  }
  mpa::tally::TeamsTally tally = mpa::tally::decide_teams(thresholds, voter_list, shared_votes);
  return call_postgres([&] {
    TupleDesc desc;
    if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
      elog(ERROR, "mpa.tally_teams must return a record");
    Datum *counted = static_cast<Datum *>(palloc(sizeof(Datum) * teams));
    for (int i = 0; i < teams; i++) counted[i] = Int32GetDatum(tally.counted[i]);
    Datum values[2] = {CStringGetTextDatum(tally.outcome == Outcome::Approved   ? "approved"
                                           : tally.outcome == Outcome::Rejected ? "rejected"
                                                                                : "pending"),
                       PointerGetDatum(construct_array(counted, teams, INT4OID, sizeof(int32), true, TYPALIGN_INT))};
    bool nulls[2] = {false, false};
    return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls));
  });
}

// mpa.check_threshold(threshold, approvers)
MPA_FUNCTION(mpa_check_threshold) {
  mpa::tally::validate_threshold(int_argument(fcinfo, 0, "threshold"), int_argument(fcinfo, 1, "approvers"));
  PG_RETURN_VOID();
}

// mpa.check_email(email): a registrable address, or a clear error.
MPA_FUNCTION(mpa_check_email) {
  mpa::mail::validate_address(text_argument(fcinfo, 0, "email", mpa::mail::kMaxAddressLength + 1));
  PG_RETURN_VOID();
}

// mpa.mask_email(email) -> "a***@e***.com"
MPA_FUNCTION(mpa_mask_email) {
  return text_datum(mpa::mail::mask_address(text_argument(fcinfo, 0, "email", kMaxNameBytes)));
}

// mpa.canonical_operation(text) -> "DROP TABLE": a command tag the gate
// sees (utility statements; queries never reach it), or MPA CONFIGURE.
MPA_FUNCTION(mpa_canonical_operation) {
  std::string operation =
      mpa::policy::normalize_operation(text_argument(fcinfo, 0, "operation", kMaxNameBytes));
  if (operation == mpa::pg::kConfigureOperation) return text_datum(operation);
  CommandTag tag = call_postgres([&operation] { return GetCommandTagEnum(operation.c_str()); });
  if (tag == CMDTAG_UNKNOWN || tag == CMDTAG_SELECT || tag == CMDTAG_INSERT || tag == CMDTAG_UPDATE ||
      tag == CMDTAG_DELETE || tag == CMDTAG_MERGE)
    throw mpa::Error(mpa::sqlstate::kInvalidParameterValue,
                     "invalid operation: \"" + operation + "\" is not a command pg_mpa can gate",
                     "", "Name a PostgreSQL command tag such as DROP TABLE, TRUNCATE TABLE, ALTER ROLE or "
                         "ALTER SYSTEM, or MPA CONFIGURE.");
  return text_datum(operation);
}

// mpa.canonical_object(text) -> the object pattern in canonical form
MPA_FUNCTION(mpa_canonical_object) {
  return text_datum(mpa::policy::normalize_pattern(text_argument(fcinfo, 0, "object", kMaxNameBytes)));
}

// mpa.policy_database(operation, database) -> what mpa.policies.database
// stores for a policy: NULL for mpa.database's objects (database left out,
// or named by mpa.database's own name: one spelling per meaning), '*' for
// every database's, else the name of a database that exists. A policy on
// what holds in every database (cluster-wide operations, MPA CONFIGURE)
// takes none (docs/decisions.md, "Every database").
MPA_FUNCTION(mpa_policy_database) {
  std::string operation = text_argument(fcinfo, 0, "operation", kMaxNameBytes);
  if (PG_ARGISNULL(1)) PG_RETURN_NULL();
  std::string database = text_argument(fcinfo, 1, "database", kMaxNameBytes);
  if (call_postgres([&operation] { return mpa::pg::policy_holds_in_every_database(operation.c_str()); }))
    throw mpa::Error(mpa::sqlstate::kInvalidParameterValue,
                     "a policy on " + operation + " takes no database: it holds in every database", "",
                     "Leave database out.");
  if (database == "*") return text_datum(database);
  mpa::pg::check_database_name(database, "Name a database of this cluster as pg_database spells it, or '*' for "
                                          "every database.");
  if (database == mpa::pg::settings::database) PG_RETURN_NULL();
  return text_datum(database);
}

// mpa.request_database(database) -> what mpa.requests.database stores for
// a request: NULL for mpa.database's objects (database left out, or named
// by mpa.database's own name), else the name of a database that exists. A
// request is for one database: '*' is no name here.
MPA_FUNCTION(mpa_request_database) {
  if (PG_ARGISNULL(0)) PG_RETURN_NULL();
  // Read whole up to a statement's size, so that a long name is refused
  // as a name (22023), not as an oversized argument.
  std::string database = text_argument(fcinfo, 0, "database", kMaxStatementBytes);
  const char *hint = "Name the one database of this cluster the statement is for, as pg_database spells it.";
  if (database == "*")
    throw mpa::Error(mpa::sqlstate::kInvalidParameterValue, "a request is for one database, not '*'", "", hint);
  mpa::pg::check_database_name(database, hint);
  if (database == mpa::pg::settings::database) PG_RETURN_NULL();
  return text_datum(database);
}

// mpa.reaches_other_databases(operation, database): whether a policy is
// published to the other databases' gates (where shared memory holds
// mpa.published_policy_slots() of them).
MPA_FUNCTION(mpa_reaches_other_databases) {
  std::string operation = text_argument(fcinfo, 0, "operation", kMaxNameBytes);
  PG_RETURN_BOOL(!PG_ARGISNULL(1) || call_postgres([&operation] {
                   return mpa::pg::policy_holds_in_every_database(operation.c_str());
                 }));
}

MPA_FUNCTION(mpa_published_policy_slots) {
  (void)fcinfo;
  PG_RETURN_INT32(mpa::pg::kClusterPolicySlots);
}

// mpa.queue_mail(kind, recipient, subject, body, ttl_seconds, supersede_key, challenge_id[, request_id])
// (0.1's SQL objects declare it without request_id.)
MPA_FUNCTION(mpa_queue_mail) {
  std::string kind = text_argument(fcinfo, 0, "kind", 32);
  std::string recipient = text_argument(fcinfo, 1, "recipient", mpa::mail::kMaxAddressLength + 1);
  mpa::mail::validate_address(recipient);
  std::string subject = text_argument(fcinfo, 2, "subject", kMaxNameBytes);
  std::string body = text_argument(fcinfo, 3, "body", 2 * kMaxStatementBytes);
  int ttl = int_argument(fcinfo, 4, "ttl_seconds");
  std::string supersede_key = PG_ARGISNULL(5) ? "" : text_argument(fcinfo, 5, "supersede_key", kMaxNameBytes);
  int64 challenge_id = PG_ARGISNULL(6) ? 0 : PG_GETARG_INT64(6);
  int64 request_id = PG_NARGS() > 7 && !PG_ARGISNULL(7) ? PG_GETARG_INT64(7) : 0;
  mpa::pg::OutgoingMail mail{kind.c_str(), recipient.c_str(), subject.c_str(), body.c_str(), ttl,
                             PG_ARGISNULL(5) ? nullptr : supersede_key.c_str(), challenge_id, request_id};
  PG_RETURN_INT64(call_postgres([&mail] { return mpa::pg::queue_mail(mail); }));
}

// Trigger on mpa.policies and mpa.teams: every backend reloads its policy
// cache once this transaction commits.
MPA_FUNCTION(mpa_policies_changed) {
  if (!CALLED_AS_TRIGGER(fcinfo)) throw mpa::Error("39P01", "mpa_policies_changed is a trigger");
  mpa::pg::announce_policy_change_at_commit();
  return PointerGetDatum(nullptr);
}
