// Dry-run policies at work (docs/decisions.md, "Policy modes"): a statement
// that no enforcing policy decides runs, and each dry-run policy that would
// have refused it is named to the session (NOTICE) and recorded (an audit
// entry of kind 'dry-run', through the audit ring, so that it outlives a
// rollback and is written from any database). Once per policy and
// statement, whether the gate saw the object named or the object access
// hook saw it reached (a cascade, a schema's drop). PostgreSQL-style.
#pragma once

#include "pg/gate/statement_description.hpp"

extern "C" {
#include "catalog/objectaddress.h"
}

namespace mpa::pg {

// A new utility statement begins: what the dry-run policies recorded for
// the previous one no longer counts against this one. One store; the gate
// calls it for every utility statement.
void start_dry_run_statement();

// The gate, for a statement no enforcing policy decides: records the
// dry-run policies on its targets.
void record_dry_run(const StatementDescription &description, const char *text);

// The object access hook, for an object dropped or truncated without being
// named, that no enforcing policy protects: records the dry-run policy on
// it. The NOTICE names the change as `verb` and the object's description
// ("dropping table prod.t"), looked up only when a dry-run policy matched.
void record_indirect_dry_run(const StatementDescription &description, const char *verb, const ObjectAddress &object);

}  // namespace mpa::pg
