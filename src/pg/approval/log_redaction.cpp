#include "pg/approval/log_redaction.hpp"

#include <initializer_list>

#include "core/code_redaction.hpp"
#include "pg/approval/code_submission.hpp"
#include "pg/boundary/postgres.hpp"
#include "pg/shared/event_log.hpp"

extern "C" {
#include "commands/prepare.h"
#include "tcop/tcopprot.h"
#include "utils/plancache.h"
}

namespace mpa::pg {
namespace {

// EXECUTE of a prepared statement whose text enters a code (the values,
// code included, are in the EXECUTE's own text).
bool executes_code_entry(const char *query) {
  char name[NAMEDATALEN];
  if (!otp::executed_statement_name(query, name, sizeof name)) return false;
  PreparedStatement *prepared = FetchPreparedStatement(name, false);
  return prepared != nullptr && otp::mentions_code_entry(prepared->plansource->query_string);
}

}  // namespace

// Runs for every log line; the core functions neither allocate nor throw.
// A line is about a code entry when the query calls a function that takes
// a code, or when any part of the line names one: EXECUTE of a prepared
// statement is logged as "statement: EXECUTE v(7, '123456')" with the
// prepared text (mpa_verify) only in its DETAIL, an error inside the call
// names it in its CONTEXT; and any line of a transaction in which a code
// was submitted (nested statements logged with their parameters by
// auto_explain or pgaudit). Every six-digit run of such a line is blanked,
// and the STATEMENT: line that would repeat the query is dropped.
void redact_codes(ErrorData *edata) {
  keep_event_line_off_client(edata);  // pg_mpa's one log hook serves its event lines too
  bool query_enters_code = otp::mentions_code_entry(debug_query_string) || executes_code_entry(debug_query_string);
  bool line_enters_code = query_enters_code || code_entered_in_this_transaction();
  for (const char *text : {edata->message, edata->detail, edata->detail_log, edata->context})
    line_enters_code = line_enters_code || otp::mentions_code_entry(text);
  if (line_enters_code) {
    edata->hide_stmt = true;
    for (char *text : {edata->message, edata->detail, edata->detail_log, edata->context})
      otp::blank_six_digit_runs(text);
  }
  if (query_enters_code && edata->elevel >= ERROR) code_entry_failed();
}

}  // namespace mpa::pg
