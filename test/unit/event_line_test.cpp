// Unit tests for the server log line of an audit event (core/event_line).
#include "core/event_line.hpp"

#include <gtest/gtest.h>

#include <string>

namespace mpa::events {
namespace {

TEST(EventLine, FixedFieldsThenDetail) {
  EXPECT_EQ(event_line("vote", 7, "alice", "postgres", {{"approver", "alice"}, {"decision", "approve"}}),
            "MPA: event=vote request=7 role=alice database=postgres approver=alice decision=approve");
}

TEST(EventLine, NoRequestFieldWithoutARequest) {
  EXPECT_EQ(event_line("refused", 0, "mallory", "app", {{"refused", "DROP TABLE on public.t"}}),
            "MPA: event=refused role=mallory database=app refused=\"DROP TABLE on public.t\"");
}

TEST(EventLine, TextAPersonWroteStaysOut) {
  std::string line = event_line("request", 3, "bob", "postgres",
                                {{"statement", "ALTER ROLE x PASSWORD 'hunter2'"},
                                 {"justification", "because"},
                                 {"call", "mpa_approver_add('t', 'a', 'a@example.com')"},
                                 {"operation", "ALTER ROLE"}});
  EXPECT_EQ(line, "MPA: event=request request=3 role=bob database=postgres operation=\"ALTER ROLE\"");
}

TEST(EventLine, KindWithSpacesIsQuoted) {
  EXPECT_EQ(event_line("code tried", 2, "a", "d", {}), "MPA: event=\"code tried\" request=2 role=a database=d");
}

TEST(EventLine, OddFieldNamesAreReduced) {
  EXPECT_EQ(event_line("k", 0, "a", "d", {{"we ird=", "v"}, {"", "w"}}), "MPA: event=k role=a database=d we_ird_=v _=w");
}

TEST(QuoteValue, BareWhenPlain) { EXPECT_EQ(quote_value("public.accounts"), "public.accounts"); }

TEST(QuoteValue, EmptyIsQuoted) { EXPECT_EQ(quote_value(""), "\"\""); }

// A quoted value is a JSON string.
TEST(QuoteValue, LineBreaksAndQuotesAreEscaped) {
  EXPECT_EQ(quote_value("a\r\nb \"c\" d\\e=f\tg\x01"), "\"a\\r\\nb \\\"c\\\" d\\\\e=f\\tg\\u0001\"");
}

TEST(QuoteValue, NonAsciiIsQuotedAndKept) { EXPECT_EQ(quote_value("caf\xc3\xa9"), "\"caf\xc3\xa9\""); }

TEST(QuoteValue, LongValuesAreClippedOnACharacterBoundary) {
  std::string value(kMaxValueBytes - 1, 'x');
  value += "\xc3\xa9\xc3\xa9";  // a two-byte character straddles the limit
  std::string quoted = quote_value(value);
  EXPECT_EQ(quoted, "\"" + std::string(kMaxValueBytes - 1, 'x') + "...\"");
}

TEST(QuoteValue, ValueOfExactlyTheLimitIsWhole) {
  std::string value(kMaxValueBytes, 'y');
  EXPECT_EQ(quote_value(value), value);
}

TEST(KeptOutOfLog, OnlyTheFreeTextFields) {
  EXPECT_TRUE(kept_out_of_log("statement"));
  EXPECT_TRUE(kept_out_of_log("justification"));
  EXPECT_TRUE(kept_out_of_log("call"));
  EXPECT_FALSE(kept_out_of_log("object"));
  EXPECT_FALSE(kept_out_of_log("statements"));
}

}  // namespace
}  // namespace mpa::events
