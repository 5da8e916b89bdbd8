#include "pg/approval/request_description.hpp"

#include "pg/gate/policy_cache.hpp"
#include "pg/gate/statement_cascade.hpp"

extern "C" {
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/guc.h"
}

namespace mpa::pg {

RequestDescription describe_request(const char *text, const char *search_path) {
  int nest_level = NewGUCNestLevel();
  set_config_option("search_path", search_path, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
  StatementDescription statement = describe_statement_text(text);
  int target = -1;
  const char *team = approving_team(statement, &target);
  AtEOXact_GUC(true, nest_level);
  int shown = target >= 0 ? target : (statement.target_count > 0 ? 0 : -1);
  return RequestDescription{statement, shown >= 0 ? target_display_name(statement.targets[shown]) : "*", team};
}

const char *dry_run_hint(const StatementDescription &statement) {
  DryRunMatch *matches;
  int count = dry_run_policies(statement, &matches);
  if (count == 0) return nullptr;
  StringInfoData hint;
  initStringInfo(&hint);
  for (int i = 0; i < count; i++)
    appendStringInfo(&hint, "%sry-run policy %lld (%s on %s, team \"%s\", mode dry-run)", i == 0 ? "D" : ", d",
                     static_cast<long long>(matches[i].policy_id), matches[i].operation, matches[i].pattern,
                     matches[i].team);
  appendStringInfoString(&hint, count == 1 ? " names it" : " name it");
  appendStringInfoString(&hint, ": the statement runs and is recorded in mpa.dry_run. Run the statement directly.");
  return hint.data;
}

const char *dry_run_hint(const char *text, const char *search_path) {
  int nest_level = NewGUCNestLevel();
  set_config_option("search_path", search_path, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
  StatementDescription statement = describe_statement_text(text);
  AtEOXact_GUC(true, nest_level);
  // The targets are resolved (schema and name): the requester's path is
  // not needed to match them.
  return dry_run_hint(statement);
}

void description_columns(const RequestDescription &description, Datum *values, bool *nulls) {
  const StatementDescription &d = description.statement;
  Oid *classes = static_cast<Oid *>(palloc(sizeof(Oid) * (d.target_count + 1)));
  Oid *oids = static_cast<Oid *>(palloc(sizeof(Oid) * (d.target_count + 1)));
  for (int i = 0; i < d.target_count; i++) {
    classes[i] = d.targets[i].class_id;
    oids[i] = d.targets[i].object_id;
  }
  values[0] = CStringGetTextDatum(d.operation);
  values[1] = CStringGetTextDatum(description.object);
  values[2] = oid_array_datum(classes, d.target_count);
  values[3] = oid_array_datum(oids, d.target_count);
  values[4] = CStringGetTextDatum(d.fingerprint);
  values[5] = description.team != nullptr ? CStringGetTextDatum(description.team) : Datum(0);
  values[6] = d.revoke_statement != nullptr ? CStringGetTextDatum(d.revoke_statement) : Datum(0);
  for (int i = 0; i < kDescriptionColumns; i++) nulls[i] = false;
  nulls[5] = description.team == nullptr;
  nulls[6] = d.revoke_statement == nullptr;
}

}  // namespace mpa::pg
