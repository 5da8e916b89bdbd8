// Unit tests for approvers' address validation and masking (core/mail_address).
#include "core/mail_address.hpp"

#include <gtest/gtest.h>

#include <string>

#include "core/error.hpp"

namespace mpa::mail {
namespace {

// The message of the error validate_address throws, or "" if it accepts.
std::string refusal(std::string_view address) {
  try {
    validate_address(address);
  } catch (const Error &error) {
    EXPECT_EQ(error.sqlstate(), "22023");
    return error.what();
  }
  return "";
}

void expect_refused_because(std::string_view address, const std::string &reason) {
  const std::string message = refusal(address);
  EXPECT_NE(message.find(reason), std::string::npos)
      << "address \"" << address << "\": expected a refusal mentioning \"" << reason << "\", got \"" << message << "\"";
}

TEST(ValidateAddress, AcceptsAddressesAsPeopleRegisterThem) {
  for (const char *address :
       {"alice@example.com", "a@b.co", "Bob.Smith@Mail.Example.ORG", "first.last+tag@sub-domain.example.io",
        "o'brien@example.ie", "x_y-z@e.xample.com", "!#$%&'*+-/=?^_`{|}~@example.com", "user@123.example.com",
        "user@xn--bcher-kva.example"}) {
    EXPECT_EQ(refusal(address), "") << address;
  }
}

TEST(ValidateAddress, RefusesEmpty) { expect_refused_because("", "must not be empty"); }

TEST(ValidateAddress, RefusesLineBreaksAndNul) {
  using namespace std::string_literals;
  for (const std::string &address : {"alice@example.com\r\nBcc: evil@x.com"s, "alice@exa\nmple.com"s,
                                     "alice\r@example.com"s, "alice@example.com\0x"s}) {
    expect_refused_because(address, "must not contain line breaks or NUL");
  }
}

TEST(ValidateAddress, RefusesNonAscii) {
  expect_refused_because("jos\xC3\xA9@example.com", "internationalised addresses");
  expect_refused_because("user@bücher.example", "internationalised addresses");
}

TEST(ValidateAddress, RefusesDisplayNamesAndAngleBrackets) {
  for (const char *address : {"Alice <alice@example.com>", "<alice@example.com>", "alice @example.com",
                              "alice@example.com ", "alice\t@example.com"}) {
    expect_refused_because(address, "without a display name, angle brackets or spaces");
  }
}

TEST(ValidateAddress, RefusesLists) {
  expect_refused_because("alice@example.com,bob@example.com", "not a list");
  expect_refused_because("alice@example.com;bob@example.com", "not a list");
}

TEST(ValidateAddress, RefusesMissingOrRepeatedAt) {
  expect_refused_because("alice.example.com", "must contain an \"@\"");
  expect_refused_because("alice@evil@example.com", "exactly one \"@\"");
  expect_refused_because("\"a@b\"@example.com", "exactly one \"@\"");
}

TEST(ValidateAddress, LengthLimits) {
  const std::string local64(64, 'l');
  const std::string label63(63, 'd');
  EXPECT_EQ(refusal(local64 + "@example.com"), "");
  expect_refused_because(local64 + "l@example.com", "local part (before the \"@\") is too long");

  // 64 + 1 + 63*2 + 2 + 61 = 254 octets exactly.
  const std::string longest = local64 + "@" + label63 + "." + label63 + "." + std::string(61, 'c');
  ASSERT_EQ(longest.size(), kMaxAddressLength);
  EXPECT_EQ(refusal(longest), "");
  expect_refused_because(longest + "c", "is too long (255 bytes, at most 254)");

  EXPECT_EQ(refusal("a@" + label63 + ".com"), "");
  expect_refused_because("a@" + label63 + "d.com", "label longer than 63");
}

TEST(ValidateAddress, RefusesBadLocalParts) {
  expect_refused_because("@example.com", "local part (before the \"@\") is empty");
  expect_refused_because(".alice@example.com", "must not start or end with a dot");
  expect_refused_because("alice.@example.com", "must not start or end with a dot");
  expect_refused_because("al..ice@example.com", "two dots in a row");
  expect_refused_because("al(ice)@example.com", "local part (before the \"@\") contains \"(\"");
  expect_refused_because("al\"ice@example.com", "local part (before the \"@\") contains");
  expect_refused_because("al\x01ice@example.com", "contains byte 0x01");
}

TEST(ValidateAddress, RefusesBadDomains) {
  expect_refused_because("alice@", "domain (after the \"@\") is empty");
  expect_refused_because("alice@localhost", "must contain a dot");
  expect_refused_because("alice@.example.com", "must not start or end with a dot");
  expect_refused_because("alice@example.com.", "must not start or end with a dot");
  expect_refused_because("alice@example..com", "two dots in a row");
  expect_refused_because("alice@-example.com", "starts or ends with a hyphen");
  expect_refused_because("alice@example-.com", "starts or ends with a hyphen");
  expect_refused_because("alice@exa_mple.com", "contains \"_\"");
  expect_refused_because("alice@[192.0.2.1]", "contains \"[\"");
  expect_refused_because("alice@192.0.2.1", "not a number");
}

TEST(ValidateAddress, EachKindOfMistakeHasItsOwnMessage) {
  const std::string messages[] = {
      refusal(""),
      refusal("a\n@example.com"),
      refusal("\xC3\xA9@example.com"),
      refusal("A <a@example.com>"),
      refusal("a@example.com,b@example.com"),
      refusal("a.example.com"),
      refusal("a@b@example.com"),
      refusal(std::string(300, 'a') + "@example.com"),
      refusal("a..b@example.com"),
      refusal("a@example"),
  };
  for (std::size_t i = 0; i < std::size(messages); ++i)
    for (std::size_t j = i + 1; j < std::size(messages); ++j) EXPECT_NE(messages[i], messages[j]) << i << " vs " << j;
}

TEST(MaskAddress, KeepsFirstCharactersAndTopLevelDomain) {
  EXPECT_EQ(mask_address("alice@example.com"), "a***@e***.com");
  EXPECT_EQ(mask_address("b@x.org"), "b***@x***.org");
  EXPECT_EQ(mask_address("first.last+tag@mail.example.co.uk"), "f***@m***.uk");
}

TEST(MaskAddress, RevealsNothingMoreForMalformedInput) {
  EXPECT_EQ(mask_address(""), "***");
  EXPECT_EQ(mask_address("no-at-sign"), "***");
  EXPECT_EQ(mask_address("@example.com"), "***");
  EXPECT_EQ(mask_address("alice@"), "***");
  EXPECT_EQ(mask_address("alice@localhost"), "a***@l***");
}

}  // namespace
}  // namespace mpa::mail
