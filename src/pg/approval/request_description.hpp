// What a request records about its statement, computed by one code in
// mpa.database (mpa.describe, for requests there) and in the database a
// request is for (the describe task, src/pg/other_databases/): the
// statement's description, the object it is shown as, and the team whose
// approval it needs there. PostgreSQL-style: may ereport.
#pragma once

#include "pg/gate/statement_description.hpp"

namespace mpa::pg {

struct RequestDescription {
  StatementDescription statement;
  const char *object;  // the first governed target's name ("*" without targets)
  const char *team;    // nullptr: no policy here protects it
};

// Describes `text` (exactly one statement; targets must exist) with the
// names resolved on `search_path` (the requester's), judged by this
// database's policies as its gate would judge it.
RequestDescription describe_request(const char *text, const char *search_path);

// For a statement no enforcing policy protects (a request for it is
// answered MP002): the dry-run policies that name it, as a sentence for
// the answer's HINT ("Dry-run policy 7 (DROP TABLE on prod.*, team "dba",
// mode dry-run) names it: ..."), or nullptr when none does. Names resolved
// on `search_path`, as describe_request does.
const char *dry_run_hint(const char *text, const char *search_path);
// The same sentence for a statement already described, by this database's
// policies: the describe task of another database builds its HINT here, so
// a request for billing is told as one at home is.
const char *dry_run_hint(const StatementDescription &statement);

// The columns mpa.describe returns, in its order: operation, object,
// target_classes, target_oids, fingerprint, team, revoke_statement.
constexpr int kDescriptionColumns = 7;
void description_columns(const RequestDescription &description, Datum *values, bool *nulls);

}  // namespace mpa::pg
