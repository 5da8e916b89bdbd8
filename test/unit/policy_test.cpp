// Unit tests for policy patterns and matching (core/policy).
#include "core/policy.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/error.hpp"

namespace mpa::policy {
namespace {

using namespace std::string_literals;

// The message of the error normalize_operation / normalize_pattern throws,
// or "" if it accepts.
template <typename Normalize>
std::string refusal(Normalize normalize, std::string_view text) {
  try {
    normalize(text);
  } catch (const Error &error) {
    EXPECT_EQ(error.sqlstate(), "22023");
    return error.what();
  }
  return "";
}

std::string operation_refusal(std::string_view text) { return refusal(normalize_operation, text); }
std::string pattern_refusal(std::string_view text) { return refusal(normalize_pattern, text); }

void expect_pattern_refused_because(std::string_view pattern, const std::string &reason) {
  const std::string message = pattern_refusal(pattern);
  EXPECT_NE(message.find(reason), std::string::npos)
      << "pattern \"" << pattern << "\": expected a refusal mentioning \"" << reason << "\", got \"" << message
      << "\"";
}

TEST(NormalizeOperation, TrimsCollapsesAndUpperCases) {
  EXPECT_EQ(normalize_operation("drop  table"), "DROP TABLE");
  EXPECT_EQ(normalize_operation("  Alter\tSystem "), "ALTER SYSTEM");
  EXPECT_EQ(normalize_operation("GRANT"), "GRANT");
  EXPECT_EQ(normalize_operation("alter text search configuration"), "ALTER TEXT SEARCH CONFIGURATION");
  EXPECT_EQ(normalize_operation("a b c d e"), "A B C D E");
}

TEST(NormalizeOperation, Refusals) {
  EXPECT_EQ(operation_refusal(""), "invalid operation: must not be empty");
  EXPECT_EQ(operation_refusal(" \t "), "invalid operation: must not be empty");
  EXPECT_EQ(operation_refusal("a b c d e f"), "invalid operation: has 6 words (at most 5)");
  EXPECT_EQ(operation_refusal("DROP TABLE;"), "invalid operation: \";\" is not allowed (only letters A-Z and spaces are)");
  EXPECT_EQ(operation_refusal("DROP\nTABLE"),
            "invalid operation: byte 0x0A is not allowed (only letters A-Z and spaces are)");
  EXPECT_NE(operation_refusal("DROP_TABLE"), "");
  EXPECT_NE(operation_refusal("DROP TABLE2"), "");
  EXPECT_NE(operation_refusal("DR\xC3\x96P"), "");
}

TEST(NormalizePattern, CanonicalForms) {
  EXPECT_EQ(normalize_pattern("*"), "*");
  EXPECT_EQ(normalize_pattern(" * "), "*");
  EXPECT_EQ(normalize_pattern("public.accounts"), "public.accounts");
  EXPECT_EQ(normalize_pattern("Public.Accounts"), "public.accounts");
  EXPECT_EQ(normalize_pattern(" public . accounts "), "public.accounts");
  EXPECT_EQ(normalize_pattern("PROD.*"), "prod.*");
  EXPECT_EQ(normalize_pattern("alice"), "alice");
  EXPECT_EQ(normalize_pattern("_x1"), "_x1");
}

TEST(NormalizePattern, QuotedNamesStayQuotedOnlyWhenNeeded) {
  EXPECT_EQ(normalize_pattern("\"public\".\"accounts\""), "public.accounts");
  EXPECT_EQ(normalize_pattern("\"Public\".accounts"), "\"Public\".accounts");
  EXPECT_EQ(normalize_pattern("s.\"My Table\""), "s.\"My Table\"");
  EXPECT_EQ(normalize_pattern("s.\"a\"\"b\""), "s.\"a\"\"b\"");
  EXPECT_EQ(normalize_pattern("s.\"a.b\""), "s.\"a.b\"");
  EXPECT_EQ(normalize_pattern("\"caf\xC3\xA9\".*"), "\"caf\xC3\xA9\".*");
  // A table literally named "*" is not the wildcard.
  EXPECT_EQ(normalize_pattern("s.\"*\""), "s.\"*\"");
  EXPECT_EQ(normalize_pattern("\"*\""), "\"*\"");
  // quote_identifier quotes names with '$' (and with digits first); so do we.
  EXPECT_EQ(normalize_pattern("s.a$b"), "s.\"a$b\"");
  EXPECT_EQ(normalize_pattern("s.\"1x\""), "s.\"1x\"");
  // Keywords are not quoted: see policy.hpp.
  EXPECT_EQ(normalize_pattern("\"select\".*"), "select.*");
}

TEST(NormalizePattern, IsIdempotent) {
  for (const char *pattern : {"*", "Public.Accounts", "\"Public\".\"A\"\"b\"", "s.a$b", "s.\"*\"", "role", "x.*",
                              "\"caf\xC3\xA9\""}) {
    const std::string once = normalize_pattern(pattern);
    EXPECT_EQ(normalize_pattern(once), once) << pattern;
  }
}

TEST(NormalizePattern, RefusesBadShapes) {
  expect_pattern_refused_because("", "must not be empty");
  expect_pattern_refused_because("  ", "must not be empty");
  expect_pattern_refused_because("a.b.c", "more than two dot-separated parts");
  expect_pattern_refused_because("a.", "the name after the dot is missing");
  expect_pattern_refused_because("a..b", "the name after the dot is missing");
  expect_pattern_refused_because(".b", "the schema before the dot is missing");
  expect_pattern_refused_because(".", "the schema before the dot is missing");
  expect_pattern_refused_because("*.x", "\"*\" may only be the whole pattern");
  expect_pattern_refused_because("*.*", "\"*\" may only be the whole pattern");
  expect_pattern_refused_because("my table", "a space separates two names");
  expect_pattern_refused_because("a-b", "\"-\" is not allowed outside double quotes");
  expect_pattern_refused_because("s.a*", "\"*\" is not allowed outside double quotes");
  expect_pattern_refused_because("1abc", "\"1\" is not allowed outside double quotes");
  expect_pattern_refused_because("caf\xC3\xA9", "byte 0xC3 is not allowed outside double quotes");
  expect_pattern_refused_because("s.\"abc", "unterminated double-quoted name");
  expect_pattern_refused_because("s.\"\"", "empty double-quoted name");
}

TEST(NormalizePattern, RefusesLineBreaksAndNul) {
  for (const std::string &pattern : {"a\nb"s, "s.a\r"s, "\"a\nb\""s, "s.\"a\0b\""s, "\n"s})
    expect_pattern_refused_because(pattern, "must not contain line breaks or NUL");
}

TEST(NormalizePattern, IdentifierLengthLimit) {
  const std::string longest(kMaxIdentifierBytes, 'a');
  EXPECT_EQ(normalize_pattern(longest + "." + longest), longest + "." + longest);
  EXPECT_EQ(normalize_pattern("\"" + longest + "\""), longest);
  expect_pattern_refused_because(longest + "a", "name is too long (64 bytes, at most 63)");
  expect_pattern_refused_because("s." + longest + "a", "name is too long (64 bytes, at most 63)");
  expect_pattern_refused_because("\"" + longest + "a\".*", "name is too long (64 bytes, at most 63)");
  // The limit counts the name, not its quotes or escapes.
  const std::string quote_name_63 = "\"" + std::string(2 * 63, '"') + "\"";  // 63 quotes, each written twice
  EXPECT_EQ(normalize_pattern(quote_name_63), quote_name_63);
  expect_pattern_refused_because("\"" + std::string(2 * 64, '"') + "\"", "name is too long (64 bytes, at most 63)");
}

Policy policy(std::int64_t id, const char *operation, const char *object, const char *team = "dba") {
  return {id, operation, object, team};
}

std::int64_t matched_id(const std::vector<Policy> &policies, std::string_view operation, ObjectName object) {
  const Policy *found = match(policies, operation, object);
  return found == nullptr ? 0 : found->id;
}

TEST(Match, MostSpecificWins) {
  const std::vector<Policy> policies = {
      policy(1, "DROP TABLE", "*"),
      policy(2, "DROP TABLE", "public.*"),
      policy(3, "DROP TABLE", "public.accounts"),
  };
  EXPECT_EQ(matched_id(policies, "DROP TABLE", {"public", "accounts"}), 3);
  EXPECT_EQ(matched_id(policies, "DROP TABLE", {"public", "orders"}), 2);
  EXPECT_EQ(matched_id(policies, "DROP TABLE", {"prod", "accounts"}), 1);

  // Order in the vector does not matter.
  const std::vector<Policy> reversed(policies.rbegin(), policies.rend());
  EXPECT_EQ(matched_id(reversed, "DROP TABLE", {"public", "accounts"}), 3);
  EXPECT_EQ(matched_id(reversed, "DROP TABLE", {"public", "orders"}), 2);
}

TEST(Match, TiesGoToTheSmallestId) {
  const std::vector<Policy> policies = {policy(9, "TRUNCATE", "s.*", "b"), policy(4, "TRUNCATE", "S.*", "a")};
  EXPECT_EQ(matched_id(policies, "TRUNCATE", {"s", "t"}), 4);
}

TEST(Match, NothingAcrossOperations) {
  const std::vector<Policy> policies = {policy(1, "DROP TABLE", "*"), policy(2, "TRUNCATE", "public.accounts")};
  EXPECT_EQ(matched_id(policies, "ALTER TABLE", {"public", "accounts"}), 0);
  EXPECT_EQ(matched_id(policies, "DROP VIEW", {"public", "accounts"}), 0);
  EXPECT_EQ(matched_id(policies, "drop  table", {"public", "accounts"}), 1);
  EXPECT_EQ(matched_id({}, "DROP TABLE", {"public", "accounts"}), 0);
}

TEST(Match, ObjectsOutsideSchemas) {
  const std::vector<Policy> policies = {
      policy(1, "ALTER ROLE", "alice"),
      policy(2, "ALTER ROLE", "public.*"),
      policy(3, "ALTER ROLE", "public.bob"),
      policy(4, "DROP DATABASE", "*"),
  };
  EXPECT_EQ(matched_id(policies, "ALTER ROLE", {"", "alice"}), 1);
  // "schema.*" and "schema.name" never match a role, even one named like the table.
  EXPECT_EQ(matched_id(policies, "ALTER ROLE", {"", "bob"}), 0);
  EXPECT_EQ(matched_id(policies, "DROP DATABASE", {"", "prod"}), 4);
  // A bare name never matches an object inside a schema.
  EXPECT_EQ(matched_id(policies, "ALTER ROLE", {"other", "alice"}), 0);
}

TEST(Match, ComparesIdentifierValuesNotSpellings) {
  const std::vector<Policy> policies = {
      policy(1, "DROP TABLE", "\"Sales\".\"Q1 Report\""),
      policy(2, "DROP TABLE", "public.*"),
      policy(3, "DROP TABLE", "s.\"*\""),
      policy(4, "DROP TABLE", "\"select\".*"),
      policy(5, "DROP TABLE", "s.\"a$b\""),
      policy(6, "ALTER ROLE", "\"Alice\""),
  };
  EXPECT_EQ(matched_id(policies, "DROP TABLE", {"\"Sales\"", "\"Q1 Report\""}), 1);
  EXPECT_EQ(matched_id(policies, "DROP TABLE", {"sales", "\"Q1 Report\""}), 0);
  // quote_all_identifiers: every name printed quoted.
  EXPECT_EQ(matched_id(policies, "DROP TABLE", {"\"public\"", "\"t\""}), 2);
  // The table named "*" is matched only by the quoted pattern; other tables in s are not.
  EXPECT_EQ(matched_id(policies, "DROP TABLE", {"s", "\"*\""}), 3);
  EXPECT_EQ(matched_id(policies, "DROP TABLE", {"s", "t"}), 0);
  // quote_identifier quotes keywords; the canonical pattern does not.
  EXPECT_EQ(matched_id(policies, "DROP TABLE", {"\"select\"", "t"}), 4);
  EXPECT_EQ(matched_id(policies, "DROP TABLE", {"s", "\"a$b\""}), 5);
  EXPECT_EQ(matched_id(policies, "ALTER ROLE", {"", "\"Alice\""}), 6);
  EXPECT_EQ(matched_id(policies, "ALTER ROLE", {"", "alice"}), 0);
  EXPECT_EQ(matched_id(policies, "DROP TABLE", {"\"a\"\"b\"", "t"}), 0);
}

TEST(Match, EmbeddedQuotesInObjectNames) {
  const std::vector<Policy> policies = {policy(1, "DROP TABLE", "s.\"a\"\"b\"")};
  EXPECT_EQ(matched_id(policies, "DROP TABLE", {"s", "\"a\"\"b\""}), 1);
  EXPECT_EQ(matched_id(policies, "DROP TABLE", {"s", "\"a\"\"\"b\""}), 0);
}

TEST(Match, InvalidOperationArgumentIsRefused) {
  EXPECT_THROW(match({policy(1, "DROP TABLE", "*")}, "DROP;TABLE", {"s", "t"}), Error);
}

TEST(Match, CorruptStoredPoliciesFailClosed) {
  for (const std::vector<Policy> &policies :
       {std::vector<Policy>{policy(7, "DROP TABLE", "a.b.c")}, std::vector<Policy>{policy(7, "DROP;TABLE", "*")}}) {
    try {
      match(policies, "DROP TABLE", {"s", "t"});
      ADD_FAILURE() << "a corrupt policy was ignored";
    } catch (const Error &error) {
      EXPECT_EQ(error.sqlstate(), "XX000");
      EXPECT_NE(std::string(error.what()).find("policy 7 has an invalid"), std::string::npos) << error.what();
    }
  }
}

}  // namespace
}  // namespace mpa::policy

namespace {

TEST(NormalizeOperationAliases, BecomeTheCommandTag) {
  EXPECT_EQ(mpa::policy::normalize_operation("truncate"), "TRUNCATE TABLE");
  EXPECT_EQ(mpa::policy::normalize_operation("alter user"), "ALTER ROLE");
  EXPECT_EQ(mpa::policy::normalize_operation("DROP  GROUP"), "DROP ROLE");
  EXPECT_EQ(mpa::policy::normalize_operation("TRUNCATE TABLE"), "TRUNCATE TABLE");
}

}  // namespace

namespace {

TEST(ClusterWideOperations, AreThoseOnSharedObjects) {
  EXPECT_TRUE(mpa::policy::is_cluster_wide_operation("ALTER ROLE"));
  EXPECT_TRUE(mpa::policy::is_cluster_wide_operation("DROP DATABASE"));
  EXPECT_TRUE(mpa::policy::is_cluster_wide_operation("ALTER SYSTEM"));
  EXPECT_FALSE(mpa::policy::is_cluster_wide_operation("DROP TABLE"));
  EXPECT_FALSE(mpa::policy::is_cluster_wide_operation("MPA CONFIGURE"));
  EXPECT_FALSE(mpa::policy::is_cluster_wide_operation("alter role"));  // callers pass normalised text
}

}  // namespace

namespace {

using mpa::policy::escaped_by_renaming;
using mpa::policy::ObjectName;
using mpa::policy::Policy;

TEST(EscapedByRenaming, FindsPoliciesANameChangeWouldEscape) {
  const std::vector<Policy> policies = {
      {1, "DROP TABLE", "billing.invoices", "ops"},
      {2, "TRUNCATE TABLE", "app.*", "ops"},
      {3, "ALTER SYSTEM", "*", "sec"},
      {4, "ALTER ROLE", "bob", "sec"},
  };
  EXPECT_EQ(escaped_by_renaming(policies, ObjectName{"billing", "invoices"}, false, false)->id, 1);
  EXPECT_EQ(escaped_by_renaming(policies, ObjectName{"billing", "other"}, false, false), nullptr);
  EXPECT_EQ(escaped_by_renaming(policies, ObjectName{"app", "accounts"}, false, false), nullptr)
      << "a rename within the schema stays under app.*";
  EXPECT_EQ(escaped_by_renaming(policies, ObjectName{"app", "accounts"}, false, true)->id, 2)
      << "moving it out of the schema escapes app.*";
  EXPECT_EQ(escaped_by_renaming(policies, ObjectName{"", "billing"}, true, false)->id, 1);
  EXPECT_EQ(escaped_by_renaming(policies, ObjectName{"", "app"}, true, false)->id, 2);
  EXPECT_EQ(escaped_by_renaming(policies, ObjectName{"", "sandbox"}, true, false), nullptr);
  EXPECT_EQ(escaped_by_renaming(policies, ObjectName{"", "bob"}, false, false)->id, 4);
}

}  // namespace
