#include "core/code_redaction.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

std::string redacted(std::string text) {
  mpa::otp::redact_codes_in_place(text.data());
  return text;
}

TEST(CodeRedaction, BlanksSixDigitRunsInVerifyCalls) {
  EXPECT_EQ(redacted("statement: SELECT mpa_verify(42, '123456');"),
            "statement: SELECT mpa_verify(42, '******');");
  EXPECT_EQ(redacted("SELECT MPA_VERIFY(7, 654321)"), "SELECT MPA_VERIFY(7, ******)");
  EXPECT_EQ(redacted("parameters: $1 = '1', $2 = '000001' for mpa_verify"),
            "parameters: $1 = '1', $2 = '******' for mpa_verify");
}

TEST(CodeRedaction, LeavesOtherNumbersAlone) {
  EXPECT_EQ(redacted("SELECT mpa_verify(1234567, '12345')"), "SELECT mpa_verify(1234567, '12345')");
  EXPECT_EQ(redacted("duration: 0.123 ms statement: SELECT mpa_verify(99, 'abcdef')"),
            "duration: 0.123 ms statement: SELECT mpa_verify(99, 'abcdef')");
}

TEST(CodeRedaction, LeavesTextWithoutVerifyAlone) {
  EXPECT_EQ(redacted("SELECT 123456"), "SELECT 123456");
  EXPECT_FALSE(mpa::otp::mentions_code_entry("SELECT mpa_vote(1, 'approve')"));
  EXPECT_FALSE(mpa::otp::mentions_code_entry(nullptr));
  EXPECT_FALSE(mpa::otp::redact_codes_in_place(nullptr));
}

TEST(CodeRedaction, BlanksTheCodeOfAnAddressConfirmation) {
  EXPECT_EQ(redacted("statement: SELECT MPA_CONFIRM_EMAIL('ops', '654321');"),
            "statement: SELECT MPA_CONFIRM_EMAIL('ops', '******');");
}

TEST(CodeRedaction, NamesTheStatementAnExecuteRuns) {
  char name[16];
  EXPECT_TRUE(mpa::otp::executed_statement_name("  EXECUTE Verify_It(7, '123456')", name, sizeof name));
  EXPECT_STREQ(name, "verify_it");
  EXPECT_TRUE(mpa::otp::executed_statement_name("execute \"Mixed Case\"(1)", name, sizeof name));
  EXPECT_STREQ(name, "Mixed Case");
  EXPECT_FALSE(mpa::otp::executed_statement_name("EXECUTEv(1)", name, sizeof name));
  EXPECT_FALSE(mpa::otp::executed_statement_name("SELECT mpa_verify(1, '123456')", name, sizeof name));
  EXPECT_FALSE(mpa::otp::executed_statement_name("EXECUTE a_name_far_too_long_for_the_buffer", name, sizeof name));
  EXPECT_FALSE(mpa::otp::executed_statement_name(nullptr, name, sizeof name));
}

TEST(CodeRedaction, BlanksEveryCodeInTheText) {
  EXPECT_EQ(redacted("mpa_verify(1,'111111'); mpa_verify(2,'222222')"),
            "mpa_verify(1,'******'); mpa_verify(2,'******')");
}

}  // namespace

namespace {

TEST(CodeRedaction, BlankSixDigitRunsIgnoresContext) {
  std::string text = "parameters: $1 = '42', $2 = '987654'";
  EXPECT_TRUE(mpa::otp::blank_six_digit_runs(text.data()));
  EXPECT_EQ(text, "parameters: $1 = '42', $2 = '******'");
  EXPECT_FALSE(mpa::otp::blank_six_digit_runs(nullptr));
}

}  // namespace
