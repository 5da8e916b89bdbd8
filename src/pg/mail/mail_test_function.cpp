// mpa_mail_test(email): a DBA checks the SMTP settings end to end.
#include <string>

#include "core/mail_address.hpp"
#include "pg/boundary/arguments.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/startup/installation.hpp"
#include "pg/mail/outbox.hpp"

extern "C" {
#include "commands/dbcommands.h"
}

namespace {

constexpr int kTestMailTtlSeconds = 24 * 60 * 60;

std::string test_mail_body() {
  using mpa::pg::call_postgres;
  std::string role = call_postgres([] { return GetUserNameFromId(GetUserId(), false); });
  std::string database = call_postgres([] { return get_database_name(MyDatabaseId); });
  return "This test message was queued by role \"" + role + "\" in database \"" + database +
         "\" with mpa_mail_test().\n\nIf you can read it, pg_mpa's mail settings work.\n";
}

}  // namespace

MPA_FUNCTION(mpa_mail_test) {
  std::string email = mpa::pg::text_argument(fcinfo, 0, "email", mpa::mail::kMaxAddressLength + 1);
  mpa::mail::validate_address(email);
  mpa::pg::require_mpa_database();
  std::string body = test_mail_body();
  mpa::pg::OutgoingMail mail{"test", email.c_str(), "pg_mpa test message", body.c_str(),
                             kTestMailTtlSeconds, nullptr, 0, 0};
  int64 id = mpa::pg::call_postgres([&mail] { return mpa::pg::queue_mail(mail); });
  PG_RETURN_INT64(id);
}
