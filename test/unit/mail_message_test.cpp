// Unit tests for mail rendering (core/mail_message): every test reads the
// rendered bytes back with the small, independent RFC 5322 / 2045 / 2047
// reader below, so that what is checked is what a mail client would see.
#include "core/mail_message.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace mpa::mail {
namespace {

using namespace std::string_literals;

// ---------------------------------------------------------------------------
// The reader

std::vector<std::string> split_crlf_lines(std::string_view text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find("\r\n", start);
    if (end == std::string_view::npos) {
      lines.emplace_back(text.substr(start));  // an unterminated last line; the shape check reports it
      break;
    }
    lines.emplace_back(text.substr(start, end - start));
    start = end + 2;
  }
  return lines;
}

// Every line ends with CRLF, CR and LF appear nowhere else, no line passes
// 998 octets and none is a lone "." (which would end SMTP DATA).
testing::AssertionResult has_safe_line_structure(std::string_view text) {
  if (text.size() < 2 || text.substr(text.size() - 2) != "\r\n")
    return testing::AssertionFailure() << "does not end with CRLF";
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && (i + 1 == text.size() || text[i + 1] != '\n'))
      return testing::AssertionFailure() << "bare CR at " << i;
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) return testing::AssertionFailure() << "bare LF at " << i;
  }
  for (const std::string &line : split_crlf_lines(text)) {
    if (line.size() > 998) return testing::AssertionFailure() << "line of " << line.size() << " octets";
    if (line == ".") return testing::AssertionFailure() << "a line that is only \".\"";
  }
  return testing::AssertionSuccess();
}

struct ParsedMessage {
  std::vector<std::string> header_lines;                    // as written, folded
  std::vector<std::pair<std::string, std::string>> fields;  // name, unfolded value without leading space
  std::string encoded_body;
};

ParsedMessage parse_message(const std::string &rendered) {
  ParsedMessage parsed;
  const std::size_t blank_line = rendered.find("\r\n\r\n");
  if (blank_line == std::string::npos) {
    ADD_FAILURE() << "no blank line after the headers";
    return parsed;
  }
  parsed.header_lines = split_crlf_lines(std::string_view(rendered).substr(0, blank_line + 2));
  parsed.encoded_body = rendered.substr(blank_line + 4);
  for (const std::string &line : parsed.header_lines) {
    if (line.front() == ' ' || line.front() == '\t') {
      // RFC 5322 2.2.3: unfolding removes the CRLF, nothing else.
      if (parsed.fields.empty())
        ADD_FAILURE() << "continuation line before any header";
      else
        parsed.fields.back().second += line;
      continue;
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) {
      ADD_FAILURE() << "header line without a colon: " << line;
      continue;
    }
    parsed.fields.emplace_back(line.substr(0, colon), line.substr(colon + 1));
  }
  for (auto &field : parsed.fields) field.second.erase(0, field.second.find_first_not_of(" \t"));
  return parsed;
}

std::vector<std::string> header_names(const ParsedMessage &parsed) {
  std::vector<std::string> names;
  for (const auto &field : parsed.fields) names.push_back(field.first);
  return names;
}

// The unfolded value of the one header called `name`.
std::string header_value(const ParsedMessage &parsed, std::string_view name) {
  std::string value;
  int found = 0;
  for (const auto &field : parsed.fields)
    if (field.first == name) {
      value = field.second;
      ++found;
    }
  EXPECT_EQ(found, 1) << "header " << name;
  return value;
}

int base64_digit(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

std::string decode_base64(std::string_view text) {
  EXPECT_EQ(text.size() % 4, 0u) << text;
  std::string bytes;
  unsigned bits = 0;
  int bit_count = 0;
  for (char c : text) {
    if (c == '=') break;
    const int digit = base64_digit(c);
    EXPECT_GE(digit, 0) << "not base64: " << text;
    bits = (bits << 6) | static_cast<unsigned>(digit & 0x3F);
    bit_count += 6;
    if (bit_count >= 8) {
      bit_count -= 8;
      bytes += static_cast<char>((bits >> bit_count) & 0xFF);
    }
  }
  return bytes;
}

constexpr std::string_view kWordPrefix = "=?UTF-8?B?";
constexpr std::string_view kWordSuffix = "?=";

bool is_encoded_word(std::string_view word) {
  return word.size() >= kWordPrefix.size() + kWordSuffix.size() && word.substr(0, kWordPrefix.size()) == kWordPrefix &&
         word.substr(word.size() - kWordSuffix.size()) == kWordSuffix;
}

std::string decode_encoded_word(std::string_view word) {
  return decode_base64(word.substr(kWordPrefix.size(), word.size() - kWordPrefix.size() - kWordSuffix.size()));
}

// RFC 2047 decoding of an unfolded header value: encoded-words are decoded
// and the white space between two adjacent ones is dropped (6.2).
std::string decode_header_text(std::string_view value) {
  std::string decoded;
  std::string pending_space;
  bool previous_was_encoded = false;
  std::size_t pos = 0;
  while (pos < value.size()) {
    if (value[pos] == ' ') {
      const std::size_t end = std::min(value.find_first_not_of(' ', pos), value.size());
      pending_space = std::string(value.substr(pos, end - pos));
      pos = end;
      continue;
    }
    const std::size_t end = std::min(value.find(' ', pos), value.size());
    const std::string_view word = value.substr(pos, end - pos);
    const bool encoded = is_encoded_word(word);
    if (!(encoded && previous_was_encoded)) decoded += pending_space;
    decoded += encoded ? decode_encoded_word(word) : std::string(word);
    pending_space.clear();
    previous_was_encoded = encoded;
    pos = end;
  }
  return decoded + pending_space;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // RFC 2045 requires upper case
}

// RFC 2045 6.7 decoding; also checks the encoded form's own rules.
std::string decode_quoted_printable(std::string_view encoded) {
  std::string decoded;
  for (const std::string &line : split_crlf_lines(encoded)) {
    EXPECT_LE(line.size(), 76u) << line;
    EXPECT_TRUE(line.empty() || (line.back() != ' ' && line.back() != '\t')) << "trailing white space: " << line;
    const bool soft_break = !line.empty() && line.back() == '=';
    const std::string_view content = std::string_view(line).substr(0, line.size() - (soft_break ? 1 : 0));
    for (std::size_t i = 0; i < content.size(); ++i) {
      const auto c = static_cast<unsigned char>(content[i]);
      EXPECT_TRUE((c >= 0x20 && c < 0x7F) || c == '\t') << "raw byte " << int{c} << " in: " << line;
      if (c != '=') {
        decoded += content[i];
        continue;
      }
      const bool complete = i + 2 < content.size();
      const int high = complete ? hex_digit(content[i + 1]) : -1;
      const int low = complete ? hex_digit(content[i + 2]) : -1;
      EXPECT_TRUE(high >= 0 && low >= 0) << "bad escape in: " << line;
      if (high < 0 || low < 0) break;
      decoded += static_cast<char>(high * 16 + low);
      i += 2;
    }
    if (!soft_break) decoded += "\r\n";
  }
  return decoded;
}

bool is_valid_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const std::size_t length = lead < 0x80           ? 1
                               : (lead >> 5) == 0x6  ? 2
                               : (lead >> 4) == 0xE  ? 3
                               : (lead >> 3) == 0x1E ? 4
                                                     : 0;
    if (length == 0 || i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k)
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return false;
    i += length;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Fixtures

const std::vector<std::string> kStandardHeaderNames = {
    // in the order render() writes them
    "Date",           "From",         "To",           "Subject",
    "Message-ID",     "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
    "Auto-Submitted",
};

Message sample_message() {
  Message message;
  message.from = "pg-mpa@db.example.com";
  message.to = "alice@example.com";
  message.subject = "Approval code";
  message.body = "Hello\n";
  message.message_id = "mpa.42.7f3a@db.example.com";
  message.date = 1796007845;  // 2026-11-30 03:04:05 UTC
  return message;
}

// Renders and checks what must hold for every message.
ParsedMessage render_and_parse(const Message &message) {
  const std::string rendered = render(message);
  EXPECT_TRUE(has_safe_line_structure(rendered));
  return parse_message(rendered);
}

std::string decoded_subject(const Message &message) {
  return decode_header_text(header_value(render_and_parse(message), "Subject"));
}

std::string decoded_body(const Message &message) {
  return decode_quoted_printable(render_and_parse(message).encoded_body);
}

void expect_header_lines_within(const ParsedMessage &parsed, std::size_t limit) {
  for (const std::string &line : parsed.header_lines) EXPECT_LE(line.size(), limit) << line;
}

std::string refusal(const Message &message) {
  try {
    render(message);
  } catch (const Error &error) {
    EXPECT_EQ(error.sqlstate(), "22023");
    return error.what();
  }
  return "";
}

// ---------------------------------------------------------------------------
// Whole message

TEST(Render, WritesTheExpectedMessage) {
  EXPECT_EQ(render(sample_message()),
            "Date: Mon, 30 Nov 2026 03:04:05 +0000\r\n"
            "From: pg-mpa@db.example.com\r\n"
            "To: alice@example.com\r\n"
            "Subject: Approval code\r\n"
            "Message-ID: <mpa.42.7f3a@db.example.com>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=UTF-8\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n"
            "Auto-Submitted: auto-generated\r\n"
            "\r\n"
            "Hello\r\n");
}

TEST(Render, ExtraHeadersComeAfterTheStandardOnes) {
  Message message = sample_message();
  message.headers = {{"X-MPA-Request", "42"}, {"X-MPA-Kind", "code"}};
  const ParsedMessage parsed = render_and_parse(message);
  std::vector<std::string> expected = kStandardHeaderNames;
  expected.insert(expected.end(), {"X-MPA-Request", "X-MPA-Kind"});
  EXPECT_EQ(header_names(parsed), expected);
  EXPECT_EQ(header_value(parsed, "X-MPA-Request"), "42");
}

TEST(Render, Dates) {
  auto date_header = [](std::int64_t date) {
    Message message = sample_message();
    message.date = date;
    return header_value(render_and_parse(message), "Date");
  };
  EXPECT_EQ(date_header(0), "Thu, 01 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(date_header(1709251199), "Thu, 29 Feb 2024 23:59:59 +0000");
  EXPECT_EQ(date_header(951868800), "Wed, 01 Mar 2000 00:00:00 +0000");
  EXPECT_EQ(date_header(253402300799), "Fri, 31 Dec 9999 23:59:59 +0000");

  // Against the C library's calendar, every 9973 days (a prime, so that all
  // weekdays, months and leap rules come round) at a varying time of day.
  for (std::int64_t date = 0; date <= 253402300799; date += 9973 * 86400 + 3599) {
    const std::time_t as_time_t = static_cast<std::time_t>(date);
    std::tm utc{};
    ASSERT_NE(gmtime_r(&as_time_t, &utc), nullptr);
    char expected[64];
    std::strftime(expected, sizeof expected, "%a, %d %b %Y %H:%M:%S +0000", &utc);
    EXPECT_EQ(date_header(date), expected) << date;
  }

  Message message = sample_message();
  for (std::int64_t out_of_range :
       {std::int64_t{-1}, std::int64_t{253402300800}, std::numeric_limits<std::int64_t>::min(),
        std::numeric_limits<std::int64_t>::max()}) {
    message.date = out_of_range;
    EXPECT_NE(refusal(message).find("date is out of range"), std::string::npos) << out_of_range;
  }
}

// ---------------------------------------------------------------------------
// Header text

TEST(RenderSubject, PlainAsciiStaysReadable) {
  Message message = sample_message();
  message.subject = "[pg_mpa] approve DROP TABLE public.accounts (request 42)";
  EXPECT_EQ(header_value(render_and_parse(message), "Subject"), message.subject);
}

TEST(RenderSubject, LongAsciiIsFoldedAtSpacesWithin78) {
  Message message = sample_message();
  for (int i = 0; i < 40; ++i) message.subject += "word" + std::to_string(i) + (i % 3 ? " " : "   ");
  message.subject += "end";
  const ParsedMessage parsed = render_and_parse(message);
  EXPECT_GT(parsed.header_lines.size(), kStandardHeaderNames.size() + 3) << "was not folded";
  expect_header_lines_within(parsed, 78);
  EXPECT_EQ(decode_header_text(header_value(parsed, "Subject")), message.subject);
  for (const std::string &line : parsed.header_lines) EXPECT_NE(line.find_first_not_of(' '), std::string::npos);
}

TEST(RenderSubject, LongWordMayPass78ButNot998) {
  Message message = sample_message();
  const std::string long_word(300, 'x');
  message.subject = "see " + long_word + " here";
  ParsedMessage parsed = render_and_parse(message);
  EXPECT_EQ(header_value(parsed, "Subject"), message.subject) << "a 300-octet word still fits a line";

  message.subject = "see " + std::string(5000, 'y') + " here";
  parsed = render_and_parse(message);
  expect_header_lines_within(parsed, 78);
  EXPECT_EQ(decode_header_text(header_value(parsed, "Subject")), message.subject);
}

TEST(RenderSubject, MultiByteTextBecomesEncodedWordsThatNeverSplitACharacter) {
  const std::string cjk = "\xE6\x89\xBF\xE8\xAA\x8D\xE4\xBE\x9D\xE9\xA0\xBC";  // 承認依頼
  const std::string emoji = "\xF0\x9F\x94\x90";                                // 🔐
  Message message = sample_message();
  for (int i = 0; i < 30; ++i) message.subject += cjk + " " + emoji + "x\xC3\xA9";
  const ParsedMessage parsed = render_and_parse(message);
  expect_header_lines_within(parsed, 78);
  const std::string raw = header_value(parsed, "Subject");
  EXPECT_EQ(decode_header_text(raw), message.subject);
  std::size_t word_count = 0;
  for (std::size_t start = 0; start < raw.size();) {
    const std::size_t end = std::min(raw.find(' ', start), raw.size());
    const std::string_view word = std::string_view(raw).substr(start, end - start);
    EXPECT_TRUE(is_encoded_word(word)) << word;
    EXPECT_LE(word.size(), 75u);
    EXPECT_TRUE(is_valid_utf8(decode_encoded_word(word))) << "a character was split: " << word;
    ++word_count;
    start = end + 1;
  }
  EXPECT_GT(word_count, 10u);
}

TEST(RenderSubject, TextThatLooksEncodedIsEncoded) {
  Message message = sample_message();
  message.subject = "=?UTF-8?B?ZXZpbA==?= not really";
  const std::string raw = header_value(render_and_parse(message), "Subject");
  EXPECT_EQ(raw.find("ZXZpbA"), std::string::npos);
  EXPECT_EQ(decode_header_text(raw), message.subject);
}

TEST(RenderSubject, InvalidUtf8IsCarriedAsIs) {
  Message message = sample_message();
  message.subject = "bad \xC3 then \xFF\xFE and cut \xE6\x89";
  EXPECT_EQ(decoded_subject(message), message.subject);
}

TEST(RenderSubject, ControlCharactersBecomeOneSpaceAndEndsAreTrimmed) {
  Message message = sample_message();
  message.subject =
      "  a\tb\r\n\r\nc\x01\x7F"
      "d  ";
  EXPECT_EQ(decoded_subject(message), "a b c d");
  message.subject = "\r\n";
  EXPECT_EQ(decoded_subject(message), "");
}

TEST(RenderSubject, InternalSpacesArePreserved) {
  Message message = sample_message();
  message.subject = "a  b   c";
  EXPECT_EQ(decoded_subject(message), "a  b   c");
}

// ---------------------------------------------------------------------------
// Header injection

const std::vector<std::string> kInjections = {
    "x\r\nBcc: evil@x",    "x\nBcc: evil@x",       "x\rBcc: evil@x",
    "x\r\n Bcc: evil@x",   "x\r\n\r\nforged body", "\xE6\x89\xBF\r\nBcc: evil@x",
    "x\0\r\nBcc: evil@x"s,
};

TEST(RenderInjection, SubjectCannotAddAHeader) {
  for (const std::string &attempt : kInjections) {
    Message message = sample_message();
    message.subject = attempt;
    const ParsedMessage parsed = render_and_parse(message);
    EXPECT_EQ(header_names(parsed), kStandardHeaderNames) << attempt;
    EXPECT_EQ(decode_quoted_printable(parsed.encoded_body), "Hello\r\n");
    EXPECT_EQ(decode_header_text(header_value(parsed, "Subject")).find('\n'), std::string::npos);
  }
  Message message = sample_message();
  message.subject = "x\r\nBcc: evil@x";
  EXPECT_EQ(decoded_subject(message), "x Bcc: evil@x");
}

TEST(RenderInjection, DisplayNameCannotAddAHeader) {
  for (const std::string &attempt : kInjections) {
    Message message = sample_message();
    message.from_name = attempt;
    const ParsedMessage parsed = render_and_parse(message);
    EXPECT_EQ(header_names(parsed), kStandardHeaderNames) << attempt;
    const std::string from = header_value(parsed, "From");
    const std::string address_part = " <pg-mpa@db.example.com>";
    ASSERT_GT(from.size(), address_part.size());
    EXPECT_EQ(from.substr(from.size() - address_part.size()), address_part) << from;
  }
}

TEST(RenderInjection, ExtraHeaderValueCannotAddAHeader) {
  for (const std::string &attempt : kInjections) {
    Message message = sample_message();
    message.headers = {{"X-MPA-Request", attempt}};
    const ParsedMessage parsed = render_and_parse(message);
    std::vector<std::string> expected = kStandardHeaderNames;
    expected.push_back("X-MPA-Request");
    EXPECT_EQ(header_names(parsed), expected) << attempt;
  }
}

// ---------------------------------------------------------------------------
// From display name

TEST(RenderFrom, DisplayNameOfAtomsIsPlain) {
  Message message = sample_message();
  message.from_name = "pg_mpa approvals";
  EXPECT_EQ(header_value(render_and_parse(message), "From"), "pg_mpa approvals <pg-mpa@db.example.com>");
}

TEST(RenderFrom, DisplayNameWithSpecialsOrNonAsciiIsEncoded) {
  for (const std::string name :
       {"Dr. Smith, DBA", "\"quoted\" <x@y.z>", "\xC3\x9Cnal \xF0\x9F\x94\x90 (security)", "=?UTF-8?B?eA==?="}) {
    Message message = sample_message();
    message.from_name = name;
    const std::string from = header_value(render_and_parse(message), "From");
    const std::size_t address_start = from.rfind(" <");
    ASSERT_NE(address_start, std::string::npos);
    EXPECT_EQ(from.substr(address_start), " <pg-mpa@db.example.com>");
    const std::string display = from.substr(0, address_start);
    EXPECT_TRUE(is_encoded_word(display.substr(0, display.find(' ')))) << display;
    EXPECT_EQ(decode_header_text(display), name);
  }
}

TEST(RenderFrom, LongDisplayNameIsFolded) {
  Message message = sample_message();
  for (int i = 0; i < 20; ++i) message.from_name += "Approver" + std::to_string(i) + " ";
  const ParsedMessage parsed = render_and_parse(message);
  expect_header_lines_within(parsed, 78);
  EXPECT_EQ(header_value(parsed, "From"),
            message.from_name.substr(0, message.from_name.size() - 1) + " <pg-mpa@db.example.com>");
}

TEST(RenderFrom, BlankDisplayNameMeansBareAddress) {
  Message message = sample_message();
  message.from_name = " \r\n ";
  EXPECT_EQ(header_value(render_and_parse(message), "From"), "pg-mpa@db.example.com");
}

// ---------------------------------------------------------------------------
// Body

TEST(RenderBody, AsciiRoundTrips) {
  Message message = sample_message();
  message.body = "Your code is 123456.\r\nIt expires at 12:00 UTC.\r\n";
  EXPECT_EQ(decoded_body(message), message.body);
  EXPECT_EQ(render_and_parse(message).encoded_body, "Your code is 123456.\r\nIt expires at 12:00 UTC.\r\n");
}

TEST(RenderBody, LineEndingsAreNormalisedToCrlf) {
  Message message = sample_message();
  message.body = "lf\ncrlf\r\ncr\rmixed\n\r\r\n\nend\n";
  // "\n\r" is two line breaks (LF, then a lone CR), not one.
  EXPECT_EQ(decoded_body(message), "lf\r\ncrlf\r\ncr\r\nmixed\r\n\r\n\r\n\r\nend\r\n");
}

TEST(RenderBody, NoLineBreakIsAddedAtTheEnd) {
  Message message = sample_message();
  message.body = "no final line break";
  EXPECT_EQ(decoded_body(message), message.body);
  message.body = "";
  EXPECT_EQ(render_and_parse(message).encoded_body, "");
}

TEST(RenderBody, MultiByteTextRoundTrips) {
  Message message = sample_message();
  message.body =
      "\xE6\x89\xBF\xE8\xAA\x8D\xE4\xBE\x9D\xE9\xA0\xBC \xF0\x9F\x94\x90\n"
      "caf\xC3\xA9 = 1\n";
  EXPECT_EQ(decoded_body(message),
            "\xE6\x89\xBF\xE8\xAA\x8D\xE4\xBE\x9D\xE9\xA0\xBC \xF0\x9F\x94\x90\r\n"
            "caf\xC3\xA9 = 1\r\n");
}

TEST(RenderBody, LongLinesGetSoftBreaks) {
  Message message = sample_message();
  std::string long_line;
  for (int i = 0; i < 500; ++i) long_line += static_cast<char>('a' + i % 26);
  std::string long_utf8;
  for (int i = 0; i < 100; ++i) long_utf8 += "\xE6\x89\xBF=";
  message.body = long_line + "\n" + long_utf8 + "\n" + std::string(76, 'z') + "\n" + std::string(77, 'z');
  const std::string expected =
      long_line + "\r\n" + long_utf8 + "\r\n" + std::string(76, 'z') + "\r\n" + std::string(77, 'z');
  EXPECT_EQ(decoded_body(message), expected);  // the reader checks lines are <= 76
  EXPECT_NE(render_and_parse(message).encoded_body.find(std::string(76, 'z') + "\r\n"), std::string::npos)
      << "a line of exactly 76 octets needs no soft break";
}

TEST(RenderBody, DotsAtLineStartsAreEncoded) {
  Message message = sample_message();
  message.body = "before\r\n.\r\nafter\n.\n..two\n.";
  const ParsedMessage parsed = render_and_parse(message);
  for (const std::string &line : split_crlf_lines(parsed.encoded_body)) EXPECT_NE(line.front(), '.') << line;
  EXPECT_EQ(decode_quoted_printable(parsed.encoded_body), "before\r\n.\r\nafter\r\n.\r\n..two\r\n.");
}

TEST(RenderBody, DotAfterASoftBreakIsEncoded) {
  Message message = sample_message();
  message.body = std::string(75, 'a') + "." + std::string(74, 'b') + ".";
  const ParsedMessage parsed = render_and_parse(message);
  for (const std::string &line : split_crlf_lines(parsed.encoded_body)) EXPECT_NE(line.front(), '.') << line;
  EXPECT_EQ(decode_quoted_printable(parsed.encoded_body), message.body);
}

TEST(RenderBody, FromAtLineStartIsEncoded) {
  Message message = sample_message();
  message.body = "From here\nFrom\nnot From start\n";
  const std::string encoded = render_and_parse(message).encoded_body;
  EXPECT_EQ(encoded, "=46rom here\r\nFrom\r\nnot From start\r\n");
  EXPECT_EQ(decode_quoted_printable(encoded), "From here\r\nFrom\r\nnot From start\r\n");
}

TEST(RenderBody, TrailingWhiteSpaceAndControlsAreEncoded) {
  Message message = sample_message();
  message.body = "trailing space \ntrailing tab\t\nin\tside\x01\x7F\x00 end "s;
  EXPECT_EQ(decoded_body(message), "trailing space \r\ntrailing tab\t\r\nin\tside\x01\x7F\x00 end "s);
}

TEST(RenderBody, InvalidUtf8IsCarriedAsIs) {
  Message message = sample_message();
  message.body = "bad \xC3 and \xFF\xFE\n";
  EXPECT_EQ(decoded_body(message), "bad \xC3 and \xFF\xFE\r\n");
}

// ---------------------------------------------------------------------------
// Refusals

TEST(RenderRefuses, InvalidAddressesNamingTheHeader) {
  Message message = sample_message();
  message.from = "Mallory <m@example.com>";
  EXPECT_NE(refusal(message).find("(in the From header)"), std::string::npos);
  message = sample_message();
  message.to = "alice@example.com\r\nBcc: evil@example.com";
  const std::string to_refusal = refusal(message);
  EXPECT_NE(to_refusal.find("line breaks"), std::string::npos);
  EXPECT_NE(to_refusal.find("(in the To header)"), std::string::npos);
}

TEST(RenderRefuses, BadMessageIds) {
  const std::pair<std::string, std::string> cases[] = {
      {"", "must not be empty"},
      {"a@b\r\nBcc: x@y", "without spaces, line breaks or NUL"},
      {"a@b\n", "without spaces, line breaks or NUL"},
      {"a@b\0"s, "without spaces, line breaks or NUL"},
      {"a b@c", "without spaces, line breaks or NUL"},
      {"<a@b>", "without angle brackets"},
      {"a@b>", "without angle brackets"},
      {"ab", "left@right"},
      {"a@b@c", "exactly one"},
      {"@b", "both sides"},
      {"a@", "both sides"},
      {"a@" + std::string(995, 'b'), "too long"},
  };
  for (const auto &[id, reason] : cases) {
    Message message = sample_message();
    message.message_id = id;
    EXPECT_NE(refusal(message).find(reason), std::string::npos) << id;
  }
}

// Threading: a reply names its thread's first message in In-Reply-To and
// References, written right after Message-ID, validated like it.
TEST(RenderThread, InReplyToAndReferencesNameTheFirstMessage) {
  Message message = sample_message();
  message.in_reply_to = "request-7.6543210@db.example.com";
  const ParsedMessage parsed = render_and_parse(message);
  std::vector<std::string> expected = kStandardHeaderNames;
  expected.insert(expected.begin() + 5, {"In-Reply-To", "References"});
  EXPECT_EQ(header_names(parsed), expected);
  EXPECT_EQ(header_value(parsed, "In-Reply-To"), "<request-7.6543210@db.example.com>");
  EXPECT_EQ(header_value(parsed, "References"), "<request-7.6543210@db.example.com>");
}

TEST(RenderThread, NoThreadNoHeaders) {
  const ParsedMessage parsed = render_and_parse(sample_message());
  EXPECT_EQ(header_names(parsed), kStandardHeaderNames);
}

TEST(RenderThread, BadInReplyToIsRefusedNamingTheHeader) {
  for (const std::string id : {"a@b\r\nBcc: x@y", "<a@b>", "ab", "a b@c"}) {
    Message message = sample_message();
    message.in_reply_to = id;
    EXPECT_NE(refusal(message).find("invalid In-Reply-To"), std::string::npos) << id;
  }
  for (const std::string name : {"In-Reply-To", "references"}) {
    Message message = sample_message();
    message.headers = {{name, "<x@y>"}};
    EXPECT_NE(refusal(message).find("written by pg_mpa itself"), std::string::npos) << name;
  }
}

TEST(RenderRefuses, BadExtraHeaderNames) {
  const std::pair<std::string, std::string> cases[] = {
      {"", "only letters, digits and hyphens"},
      {"X MPA", "only letters, digits and hyphens"},
      {"X-MPA:", "only letters, digits and hyphens"},
      {"X-MPA\r\nBcc", "only letters, digits and hyphens"},
      {"X_MPA", "only letters, digits and hyphens"},
      {std::string(77, 'X'), "longer than 76"},
      {"Subject", "written by pg_mpa itself"},
      {"subject", "written by pg_mpa itself"},
      {"CONTENT-TYPE", "written by pg_mpa itself"},
      {"Message-Id", "written by pg_mpa itself"},
      {"Auto-Submitted", "written by pg_mpa itself"},
      {"Bcc", "would add recipients"},
      {"cc", "would add recipients"},
  };
  for (const auto &[name, reason] : cases) {
    Message message = sample_message();
    message.headers = {{name, "v"}};
    EXPECT_NE(refusal(message).find(reason), std::string::npos) << name;
  }
  Message message = sample_message();
  message.headers = {{"X-MPA-Request", "1"}, {"x-mpa-request", "2"}};
  EXPECT_NE(refusal(message).find("is given twice"), std::string::npos);
  message.headers = {{std::string(76, 'X'), "fits"}};
  EXPECT_EQ(refusal(message), "");
}

}  // namespace
}  // namespace mpa::mail
