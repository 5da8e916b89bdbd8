// Unit tests for finding a password in a libpq connection string
// (core/conninfo): what a subscription request may not record.
#include "core/conninfo.hpp"

#include <gtest/gtest.h>

namespace mpa::conninfo {
namespace {

TEST(Conninfo, KeywordFormWithoutPasswordHasNone) {
  EXPECT_FALSE(has_password(""));
  EXPECT_FALSE(has_password("host=db1 port=5432 dbname=app user=repl"));
  // A value that merely looks like a password keyword is a value.
  EXPECT_FALSE(has_password("dbname='password=x' user=repl"));
  EXPECT_FALSE(has_password("dbname=password_store"));
  EXPECT_FALSE(has_password("host=db1 passfile=/etc/pgpass"));
}

TEST(Conninfo, KeywordFormPasswordFound) {
  EXPECT_TRUE(has_password("host=db1 password=s3cret"));
  EXPECT_TRUE(has_password("password = 's3 cret' host=db1"));
  EXPECT_TRUE(has_password("dbname='a b\\' c' password=x"));
  EXPECT_TRUE(has_password("host=db1 password="));
}

TEST(Conninfo, UnreadableTextMentioningPasswordCounts) {
  // libpq would refuse these; pg_mpa does not guess whether a secret is in them.
  EXPECT_TRUE(has_password("host=db1 dbname='unterminated password=x"));
  EXPECT_TRUE(has_password("garbage PASSWORD x"));
  EXPECT_FALSE(has_password("host=db1 dbname='unterminated"));
}

TEST(Conninfo, UriForms) {
  EXPECT_FALSE(has_password("postgresql://repl@db1:5432/app"));
  EXPECT_FALSE(has_password("postgres://db1/app?sslmode=require"));
  EXPECT_TRUE(has_password("postgresql://repl:s3cret@db1/app"));
  EXPECT_TRUE(has_password("postgres://repl:@db1"));
  EXPECT_TRUE(has_password("postgresql://db1/app?sslmode=require&password=s3cret"));
  EXPECT_TRUE(has_password("postgresql://db1/app?pass%77ord=s3cret"));
  // An "@" in the path is not a user:password@.
  EXPECT_FALSE(has_password("postgresql://db1/a:b@c"));
}

}  // namespace
}  // namespace mpa::conninfo
