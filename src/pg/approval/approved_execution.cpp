// mpa.run_approved_statement(statement, search_path): the last step of
// mpa_execute for a statement (configuration calls have their own runner).
// The statement runs as the caller, with the search_path the caller had
// when calling mpa_execute, and without pg_mpa's trust: the gate sees it as
// if typed, recognises the approval and spends it.
#include "pg/boundary/guard.hpp"
#include "pg/protection/self_protection.hpp"

extern "C" {
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/guc.h"
}

MPA_FUNCTION(mpa_run_approved_statement) {
  if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
    throw mpa::Error(mpa::sqlstate::kNullValueNotAllowed, "statement and search_path must not be NULL");
  mpa::pg::call_postgres([fcinfo] {
    const char *statement = text_to_cstring(PG_GETARG_TEXT_PP(0));
    int nest_level = NewGUCNestLevel();
    set_config_option("search_path", text_to_cstring(PG_GETARG_TEXT_PP(1)), PGC_USERSET, PGC_S_SESSION,
                      GUC_ACTION_SAVE, true, 0, false);
    auto run = [](void *text) {
      SPI_connect();
      if (SPI_execute(static_cast<const char *>(text), false, 0) < 0)
        elog(ERROR, "pg_mpa: the approved statement did not run");
      SPI_finish();
    };
    mpa::pg::without_trust(run, const_cast<char *>(statement));
    AtEOXact_GUC(true, nest_level);
  });
  PG_RETURN_VOID();
}
