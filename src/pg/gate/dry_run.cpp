#include "pg/gate/dry_run.hpp"

#include "pg/gate/policy_cache.hpp"
#include "pg/shared/audit_log.hpp"

extern "C" {
#include "access/xact.h"
#include "parser/scansup.h"
#include "tcop/tcopprot.h"
}

namespace mpa::pg {
namespace {

// The policies recorded during the current utility statement: a DROP
// TABLE the gate recorded is not recorded again when the object access
// hook sees the table go, nor a policy once per table of a dropped schema.
// Beyond the slots (a statement matching that many dry-run policies),
// records repeat rather than go missing.
// The list also starts afresh with each top-level statement, for drops
// that no utility statement began (SELECT lo_unlink(...)).
constexpr int kRecordedSlots = 32;
int64 recorded[kRecordedSlots];
int recorded_count = 0;
TimestampTz recorded_for_statement = 0;

bool recorded_already(int64 policy_id) {
  if (recorded_for_statement != GetCurrentStatementStartTimestamp()) {
    recorded_for_statement = GetCurrentStatementStartTimestamp();
    recorded_count = 0;
  }
  for (int i = 0; i < recorded_count; i++)
    if (recorded[i] == policy_id) return true;
  if (recorded_count < kRecordedSlots) recorded[recorded_count++] = policy_id;
  return false;
}

// One match: the audit entry, then the NOTICE (`what`: the change as the
// session is told it).
void record(const DryRunMatch &match, const char *target, const char *what, const char *statement) {
  if (recorded_already(match.policy_id)) return;
  audit_dry_run(match.policy_id, match.operation, match.pattern, match.team, target, statement);
  ereport(NOTICE, (errmsg("dry-run policy %lld (%s on %s, team \"%s\") would have required approval for %s",
                          static_cast<long long>(match.policy_id), match.operation, match.pattern, match.team, what),
                   errdetail("The statement ran: the policy is in dry-run mode.")));
}

}  // namespace

void start_dry_run_statement() { recorded_count = 0; }

void record_dry_run(const StatementDescription &description, const char *text) {
  DryRunMatch *matches;
  int count = dry_run_policies(description, &matches);
  for (int i = 0; i < count; i++) {
    const DryRunMatch &match = matches[i];
    const char *target = match.target >= 0 ? target_display_name(description.targets[match.target]) : "*";
    record(match, target, psprintf("%s on %s", description.operation, target), text);
  }
}

void record_indirect_dry_run(const StatementDescription &description, const char *verb, const ObjectAddress &object) {
  DryRunMatch *matches;
  int count = dry_run_policies(description, &matches);
  if (count == 0) return;
  const char *what = psprintf("%s %s", verb, getObjectDescription(&object, false));
  // The query as sent (the hook knows no statement's bounds), trimmed as
  // the gate trims a statement's text: "DROP SCHEMA prod CASCADE".
  const char *query = debug_query_string != nullptr ? debug_query_string : "";
  while (scanner_isspace(*query)) query++;
  int length = static_cast<int>(strlen(query));
  while (length > 0 && (scanner_isspace(query[length - 1]) || query[length - 1] == ';')) length--;
  const char *statement = pnstrdup(query, length);
  for (int i = 0; i < count; i++) record(matches[i], target_display_name(description.targets[0]), what, statement);
}

}  // namespace mpa::pg
