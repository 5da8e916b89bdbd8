#include "pg/boundary/internal_sql.hpp"

#include "pg/protection/self_protection.hpp"

extern "C" {
#include "catalog/pg_authid_d.h"
#include "utils/guc.h"
}

namespace mpa::pg {

void with_pg_mpa_privileges(void (*body)(void *), void *context) {
  Oid saved_user;
  int saved_security;
  GetUserIdAndSecContext(&saved_user, &saved_security);
  SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID,
                         saved_security | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
  int nest_level = NewGUCNestLevel();
  set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
                    true, 0, false);
  enter_trusted_code();
  PG_TRY();
  {
    body(context);
  }
  PG_FINALLY();
  {
    leave_trusted_code();
  }
  PG_END_TRY();
  AtEOXact_GUC(true, nest_level);
  SetUserIdAndSecContext(saved_user, saved_security);
}

}  // namespace mpa::pg
