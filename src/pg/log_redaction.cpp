#include "pg/log_redaction.hpp"

#include <initializer_list>

#include "core/code_redaction.hpp"
#include "pg/code_submission.hpp"
#include "pg/postgres.hpp"

extern "C" {
#include "tcop/tcopprot.h"
}

namespace mpa::pg {
namespace {

emit_log_hook_type previous_emit_log_hook = nullptr;

// Runs for every log line; the core functions neither allocate nor throw.
// When the query calls a function that takes a code, every line about it is blanked (its
// "statement:" and "parameters:" lines name the call only through the
// query), and the STATEMENT: line that would repeat the query is dropped.
// Redacts first, then hands the line on: a hook loaded before pg_mpa (a
// log shipper, an audit extension) never sees a code.
void redact_codes(ErrorData *edata) {
  bool query_enters_code = otp::mentions_code_entry(debug_query_string);
  if (query_enters_code) edata->hide_stmt = true;
  if (query_enters_code && edata->elevel >= ERROR) code_entry_failed();
  for (char *text : {edata->message, edata->detail, edata->detail_log, edata->context}) {
    if (query_enters_code)
      otp::blank_six_digit_runs(text);
    else
      otp::redact_codes_in_place(text);
  }
  if (previous_emit_log_hook) previous_emit_log_hook(edata);
}

}  // namespace

void install_log_redaction() {
  previous_emit_log_hook = emit_log_hook;
  emit_log_hook = redact_codes;
}

}  // namespace mpa::pg
