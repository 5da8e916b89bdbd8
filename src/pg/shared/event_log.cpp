#include "pg/shared/event_log.hpp"

#include <string>
#include <vector>

#include "core/event_line.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/protection/configuration.hpp"
#include "pg/startup/settings.hpp"

extern "C" {
#include "access/xact.h"
#include "commands/dbcommands.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
}

namespace mpa::pg {
namespace {

// Set while an event line is being reported (keep_event_line_off_client).
bool writing_event_line = false;

struct RawField {
  const char *name;
  const char *value;
};

// A top-level value of the detail as the line shows it: strings as they
// are, numbers and booleans as JSON writes them, objects and arrays as
// JSON text; nullptr for JSON null (the field is then left out).
const char *value_text(const JsonbValue &value) {
  switch (value.type) {
    case jbvString: return pnstrdup(value.val.string.val, value.val.string.len);
    case jbvNumeric: return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(value.val.numeric)));
    case jbvBool: return value.val.boolean ? "true" : "false";
    case jbvNull: return nullptr;
    default: return JsonbToCString(nullptr, value.val.binary.data, value.val.binary.len);
  }
}

// The detail's top-level fields, in jsonb's order; *count set.
RawField *detail_fields(const char *detail, int *count) {
  Jsonb *jsonb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(detail)));
  RawField *fields = static_cast<RawField *>(palloc0(sizeof(RawField) * (JB_ROOT_COUNT(jsonb) + 1)));
  *count = 0;
  if (!JB_ROOT_IS_OBJECT(jsonb)) return fields;
  JsonbIterator *it = JsonbIteratorInit(&jsonb->root);
  JsonbValue value;
  JsonbIteratorToken token;
  const char *name = nullptr;
  while ((token = JsonbIteratorNext(&it, &value, true)) != WJB_DONE) {
    if (token == WJB_KEY) {
      name = pnstrdup(value.val.string.val, value.val.string.len);
    } else if (token == WJB_VALUE) {
      const char *text = value_text(value);
      if (text != nullptr) fields[(*count)++] = RawField{name, text};
    }
  }
  return fields;
}

// Who and where, as mpa.audit records them (session_user,
// current_database()); outside a transaction the catalogs cannot be read.
const char *role_name() {
  Oid role = GetSessionUserId();
  const char *name = IsTransactionState() ? GetUserNameFromId(role, true) : nullptr;
  return name != nullptr ? name : psprintf("role %u", role);
}

const char *database_name() {
  const char *name = IsTransactionState() ? get_database_name(MyDatabaseId) : nullptr;
  return name != nullptr ? name : psprintf("database %u", MyDatabaseId);
}

// C++ core behind a PostgreSQL-style call: the line, palloc'd.
char *line_of(const char *kind, int64 request_id, const char *role, const char *database, const RawField *fields,
              int count) {
  return run_cpp([&] {
    std::vector<events::Field> detail;
    for (int i = 0; i < count; i++) detail.push_back({fields[i].name, fields[i].value});
    std::string line = events::event_line(kind, request_id, role, database, detail);
    return call_postgres([&line] { return pstrdup(line.c_str()); });
  });
}

}  // namespace

void log_event(const char *kind, int64 request_id, const char *detail) {
  // A rehearsed configuration call (mpa_request of one) only pretends.
  if (!settings::log_events || rehearsing_configuration()) return;
  int count = 0;
  RawField *fields = detail_fields(detail, &count);
  char *line = line_of(kind, request_id, role_name(), database_name(), fields, count);
  int level = settings::log_level == LOG ? LOG_SERVER_ONLY : settings::log_level;
  // A session's log_min_messages (a superuser may SET it, or connect with
  // it) must not silence the line: it is lowered to the line's level for
  // this one report. mpa.log_events, in postgresql.conf, is the switch.
  int session_log_min_messages = log_min_messages;
  log_min_messages = settings::log_level;
  writing_event_line = true;
  PG_TRY();
  {
    // Neither the statement (mpa_verify's holds a code) nor the context
    // (pg_mpa's SQL) goes with the line.
    ereport(level, (errmsg_internal("%s", line), errhidestmt(true), errhidecontext(true)));
  }
  PG_FINALLY();
  {
    writing_event_line = false;
    log_min_messages = session_log_min_messages;
  }
  PG_END_TRY();
}

void keep_event_line_off_client(ErrorData *edata) {
  if (writing_event_line) edata->output_to_client = false;
}

}  // namespace mpa::pg
