// Unit tests for statement normalisation and fingerprints (core/statement_text).
#include "core/statement_text.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace mpa::sql {
namespace {

using namespace std::string_literals;

// normalize_statement, checking idempotence on the way.
std::string normalized(std::string_view sql) {
  const std::string once = normalize_statement(sql);
  EXPECT_EQ(normalize_statement(once), once) << "not idempotent for: " << sql;
  return once;
}

void expect_same(std::string_view a, std::string_view b) {
  EXPECT_EQ(normalized(a), normalized(b)) << "\"" << a << "\" vs \"" << b << "\"";
}

void expect_different(std::string_view a, std::string_view b) {
  EXPECT_NE(normalized(a), normalized(b)) << "\"" << a << "\" vs \"" << b << "\"";
}

// The error normalize_statement throws, as "sqlstate: message", or "" if none.
std::string refusal(std::string_view sql) {
  try {
    normalize_statement(sql);
  } catch (const Error &error) {
    return error.sqlstate() + ": " + error.what();
  }
  return "";
}

TEST(NormalizeStatement, CaseWhitespaceAndCommentsDoNotMatter) {
  for (const char *variant : {"DROP TABLE Accounts;", "drop   table accounts", "drop/* c */table accounts -- x\n;",
                              " \n\tDrop\r\nTable ACCOUNTS ; ; ", "-- lead\ndrop table accounts;-- trail",
                              "drop /* a /* nested */ comment */ table\faccounts\v"}) {
    EXPECT_EQ(normalized(variant), "drop table accounts") << variant;
  }
}

TEST(NormalizeStatement, SpacesGoNextToPunctuation) {
  EXPECT_EQ(normalized("SELECT a , b FROM t WHERE x = 1 AND f ( y ) = 2"), "select a,b from t where x=1 and f(y)=2");
  EXPECT_EQ(normalized("select s . t . c from s . t"), "select s.t.c from s.t");
  EXPECT_EQ(normalized("select t . * from t"), "select t.* from t");
  EXPECT_EQ(normalized("select \"A\" . \"B\" from x"), "select \"A\".\"B\" from x");
  EXPECT_EQ(normalized("insert into t values ( 1 , 'a' ) , ( 2 , 'b' )"), "insert into t values(1,'a'),(2,'b')");
  expect_same("select count ( * ) from t", "select count(*) from t");
}

TEST(NormalizeStatement, SpacesThatKeepTokensApartStay) {
  EXPECT_EQ(normalized("select a = ~b"), "select a= ~b");
  expect_different("select a = ~b", "select a =~ b");
  expect_different("select a < = b", "select a <= b");
  expect_different("select x : = 1", "select x := 1");
  expect_different("select 1 . 5", "select 1.5");
  expect_different("select 1. e5", "select 1.e5");
  expect_different("select x . 5", "select x .5");
  expect_different("select a . . b", "select a .. b");
  expect_different("select e 'x'", "select e'x'");
  expect_different("select u & 'x'", "select u&'x'");
  EXPECT_EQ(normalized("select 1 .. 2"), "select 1 .. 2");
  EXPECT_EQ(normalized("select $1 . x"), "select $1 .x");
}

TEST(NormalizeStatement, CommentsNeverJoinTheirNeighbours) {
  EXPECT_EQ(normalized("select 1 -/**/- 2"), "select 1 - - 2");
  EXPECT_EQ(normalized("select a/**/b"), "select a b");
  EXPECT_EQ(normalized("select 1 +-- c\n1"), "select 1 + 1");
  EXPECT_EQ(normalized("select 1 */* c */2"), "select 1 * 2");
  EXPECT_EQ(normalized("select a/**/.b"), "select a.b");
}

TEST(NormalizeStatement, NestedAndTrickyBlockComments) {
  EXPECT_EQ(normalized("select /* a /* b */ c */ 1"), "select 1");
  EXPECT_EQ(normalized("select /**/ 1"), "select 1");
  EXPECT_EQ(normalized("select /* ***/ 1"), "select 1");
  EXPECT_EQ(refusal("select /*/ 1"), "42601: unterminated /* comment in statement");
  EXPECT_EQ(refusal("select /* /* */ 1"), "42601: unterminated /* comment in statement");
}

TEST(NormalizeStatement, QuotedIdentifiersAreKept) {
  expect_different("drop table \"Accounts\"", "drop table accounts");
  EXPECT_EQ(normalized("DROP TABLE \"Accounts\""), "drop table \"Accounts\"");
  EXPECT_EQ(normalized("select \"a\"\"B\" from \"My  Table\""), "select \"a\"\"B\" from \"My  Table\"");
  EXPECT_EQ(normalized("select U&\"d\\0061T\" from t"), "select u&\"d\\0061T\" from t");
  EXPECT_EQ(normalized("select \"--not a comment\""), "select \"--not a comment\"");
}

TEST(NormalizeStatement, StringContentIsKept) {
  EXPECT_EQ(normalized("SELECT 'Hello  World' , 'it''s'"), "select 'Hello  World','it''s'");
  expect_different("select 'A'", "select 'a'");
  expect_different("select 'a b'", "select 'a  b'");
  EXPECT_EQ(normalized("select '/* not */ -- a comment'"), "select '/* not */ -- a comment'");
  EXPECT_EQ(normalized("select 'a\\'"), "select 'a\\'");  // standard_conforming_strings: \ is ordinary
}

TEST(NormalizeStatement, EscapeStrings) {
  EXPECT_EQ(normalized("SELECT E'\\''"), "select e'\\''");
  EXPECT_EQ(normalized("SELECT E'It\\'s  X' , 'B'"), "select e'It\\'s  X','B'");
  EXPECT_EQ(normalized("select e'\\\\' , X"), "select e'\\\\',x");
  EXPECT_EQ(normalized("select E'a''B'"), "select e'a''B'");
  expect_same("select E'x'", "select e'x'");
  // A word ending in e is not a prefix.
  EXPECT_EQ(normalized("select namE'x Y'"), "select name'x Y'");
}

TEST(NormalizeStatement, OtherPrefixedStrings) {
  EXPECT_EQ(normalized("select N'Ab' , B'1010' , X'FF' , U&'d\\0061T' UESCAPE '!'"),
            "select n'Ab',b'1010',x'FF',u&'d\\0061T' uescape '!'");
}

TEST(NormalizeStatement, StringsContinuedOnTheNextLine) {
  EXPECT_EQ(normalized("select 'a'\n  'B'"), "select 'a'\n'B'");
  EXPECT_EQ(normalized("select 'a'  -- c\n -- d\n\n 'B' , 1"), "select 'a'\n'B',1");
  // Not continuations: no line break, or a block comment in between.
  EXPECT_EQ(normalized("select 'a'  'B'"), "select 'a' 'B'");
  EXPECT_EQ(normalized("select 'a' /* c */\n'B'"), "select 'a' 'B'");
  // A continued E'' string keeps its backslash escapes: the \' does not end it.
  EXPECT_EQ(normalized("select E'a'\n'\\' Foo ' , 1"), "select e'a'\n'\\' Foo ',1");
}

TEST(NormalizeStatement, DollarQuotes) {
  EXPECT_EQ(normalized("SELECT $$ Hello -- not a comment $$"), "select $$ Hello -- not a comment $$");
  EXPECT_EQ(normalized("CREATE FUNCTION f() RETURNS int AS $fn$ SELECT $x$ A $x$, $$ B $$ $fn$ LANGUAGE sql"),
            "create function f()returns int as $fn$ SELECT $x$ A $x$, $$ B $$ $fn$ language sql");
  // Tags are case-sensitive and a near miss does not close.
  EXPECT_EQ(normalized("select $Tag$ a $tag$ b $Tag$"), "select $Tag$ a $tag$ b $Tag$");
  EXPECT_EQ(normalized("select $a$ $ba$ $a$"), "select $a$ $ba$ $a$");
  EXPECT_EQ(normalized("select $a$x$b$a$"), "select $a$x$b$a$");
  EXPECT_EQ(normalized("select $\xC3\xA9$ X $\xC3\xA9$"), "select $\xC3\xA9$ X $\xC3\xA9$");
  // Inside a word, $ is an identifier character.
  EXPECT_EQ(normalized("select A$$B$$"), "select a$$b$$");
}

TEST(NormalizeStatement, ParametersAreNotTags) {
  EXPECT_EQ(normalized("SELECT $1 , $2 FROM T WHERE X = $3"), "select $1,$2 from t where x=$3");
  EXPECT_EQ(normalized("select $1$$ X $$"), "select $1$$ X $$");
  EXPECT_EQ(normalized("select $Foo , 1"), "select $foo,1");
}

TEST(NormalizeStatement, NonAsciiBytesAreKept) {
  EXPECT_EQ(normalized("SELECT CAF\xC3\x89 FROM Caf\xC3\xA9"), "select caf\xC3\x89 from caf\xC3\xA9");
  expect_different("select caf\xC3\x89", "select caf\xC3\xA9");
}

TEST(NormalizeStatement, TrailingSemicolonsGoOthersStay) {
  EXPECT_EQ(normalized("select 1 ; ; -- done\n"), "select 1");
  EXPECT_EQ(normalized("select 1;"), "select 1");
  EXPECT_EQ(normalized("select 1 ; select 2 ;"), "select 1;select 2");
  EXPECT_EQ(normalized("select ';'"), "select ';'");
}

TEST(NormalizeStatement, UnterminatedThingsAreSyntaxErrors) {
  EXPECT_EQ(refusal("select 'abc"), "42601: unterminated quoted string in statement");
  EXPECT_EQ(refusal("select 'abc''"), "42601: unterminated quoted string in statement");
  EXPECT_EQ(refusal("select E'abc\\'"), "42601: unterminated quoted string in statement");
  EXPECT_EQ(refusal("select E'abc\\"), "42601: unterminated quoted string in statement");
  EXPECT_EQ(refusal("select 'a'\n'b"), "42601: unterminated quoted string in statement");
  EXPECT_EQ(refusal("select \"abc"), "42601: unterminated quoted identifier in statement");
  EXPECT_EQ(refusal("select \"abc\"\""), "42601: unterminated quoted identifier in statement");
  EXPECT_EQ(refusal("select $$abc"), "42601: unterminated dollar-quoted string in statement");
  EXPECT_EQ(refusal("select $a$ abc $b$"), "42601: unterminated dollar-quoted string in statement");
  EXPECT_EQ(refusal("select $a$ abc $A$"), "42601: unterminated dollar-quoted string in statement");
  EXPECT_EQ(refusal("select 1 /*"), "42601: unterminated /* comment in statement");
}

TEST(NormalizeStatement, ErrorsSayWhereTheUnterminatedPartStarts) {
  try {
    normalize_statement("select 'abc");
    FAIL() << "accepted an unterminated string";
  } catch (const Error &error) {
    EXPECT_EQ(error.detail(), "It starts at byte 7 of the statement.");
  }
}

TEST(NormalizeStatement, EmptyStatementsAreRefused) {
  for (const char *sql : {"", "  ", "-- x", ";;", "/* */ ; \n ;"})
    EXPECT_EQ(refusal(sql), "22023: statement is empty (nothing but whitespace, comments and semicolons)") << sql;
}

// Statements glued together at random from fragments chosen to sit next to
// each other in awkward ways: whatever comes out must be a fixed point.
TEST(NormalizeStatement, IdempotentOnRandomFragmentSoup) {
  const std::vector<std::string> fragments = {
      " ",   "\n",   "\t", "-- c\n", "/* c */", "/*", "*/", "'",      "''",  "e'",   "E'\\'", "\\",  "\"",  "\"\"",
      "$",   "$$",   "$a$", "$A$",  "$1",     "1",  ".",  "..",     "5",   "e5",   "=",     "==",  "<",   ">",
      ":",   "::",   "~",  "-",     "+",      "*",  "/",  "(",      ")",   ",",    ";",     "a",   "B",   "u&",
      "U&'", "n'",   "x",  "_",     "\xC3",   "\xA9", "|", "[",     "]",   "0x1F", "1_0",   "\r\n", "'a'\n'b'"};
  std::mt19937 engine(3);
  int checked = 0;
  for (int trial = 0; trial < 50000; ++trial) {
    std::string sql;
    const int length = 1 + static_cast<int>(engine() % 12);
    for (int i = 0; i < length; ++i) sql += fragments[engine() % fragments.size()];
    std::string once;
    try {
      once = normalize_statement(sql);
    } catch (const Error &) {
      continue;
    }
    ++checked;
    ASSERT_EQ(normalize_statement(once), once) << "input: " << sql;
  }
  EXPECT_GT(checked, 10000);
}

// Ten megabytes each: any quadratic step would take minutes here.
TEST(NormalizeStatement, LinearOnLargeInput) {
  constexpr std::size_t kSize = 10 * 1024 * 1024;
  const std::string pieces = "Col_1 , 'Lit  X' , \"Q\" /* c */ $t$ b $t$ , E'\\'' , $1 . 5 = x -- c\n";
  std::string mixed = "SELECT ";
  while (mixed.size() < kSize) mixed += pieces;
  mixed += "1";
  EXPECT_LT(normalize_statement(mixed).size(), mixed.size());

  std::string dollar_body = "select $tag$";
  while (dollar_body.size() < kSize) dollar_body += "$ta$tagx";
  dollar_body += "$tag$";
  EXPECT_EQ(normalize_statement(dollar_body).size(), dollar_body.size());

  std::string long_tag = "select $" + std::string(kSize / 4, 't') + "$";
  const std::string near_miss = "$" + std::string(kSize / 4 - 1, 't') + "x";
  const std::string closed = long_tag + near_miss + near_miss + long_tag.substr(7);
  EXPECT_EQ(normalize_statement(closed), closed);

  std::string nested = "select ";
  for (std::size_t depth = 0; depth < kSize / 4; ++depth) nested += "/*";
  for (std::size_t depth = 0; depth < kSize / 4; ++depth) nested += "*/";
  EXPECT_EQ(normalize_statement(nested + " 1"), "select 1");

  std::string continued = "select 'a'";
  while (continued.size() < kSize) continued += "\n'b'";
  EXPECT_EQ(normalize_statement(continued), continued);

  std::string semicolons = "select 1" + std::string(kSize, ';');
  EXPECT_EQ(normalize_statement(semicolons), "select 1");

  std::string spaces = "select" + std::string(kSize, ' ') + "1" + std::string(kSize, ' ');
  EXPECT_EQ(normalize_statement(spaces), "select 1");
}

TEST(Fingerprint, IsLowerCaseHexSha256) {
  EXPECT_EQ(fingerprint("drop table accounts"), "b55dbb2cbe1043d27ee1c9929930a4cf025b09110dae2687b27ca15a0333f20d");
  EXPECT_EQ(fingerprint(normalize_statement("DROP TABLE Accounts;")), fingerprint("drop table accounts"));
  EXPECT_NE(fingerprint("drop table accounts"), fingerprint("drop table \"Accounts\""));
  EXPECT_EQ(fingerprint("x").size(), 64u);
}

}  // namespace
}  // namespace mpa::sql
