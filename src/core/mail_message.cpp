#include "core/mail_message.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <string_view>

#include "core/error.hpp"
#include "core/mail_address.hpp"

namespace mpa::mail {
namespace {

constexpr std::string_view kCrlf = "\r\n";
constexpr std::size_t kPreferredLineLength = 78;     // RFC 5322 2.1.1, SHOULD
constexpr std::size_t kMaxLineLength = 998;          // RFC 5322 2.1.1, MUST
constexpr std::size_t kMaxEncodedWordLength = 75;    // RFC 2047 section 2
constexpr std::size_t kMaxQuotedPrintableLine = 76;  // RFC 2045 6.7 (5), soft-break "=" included
constexpr std::string_view kEncodedWordPrefix = "=?UTF-8?B?";
constexpr std::string_view kEncodedWordSuffix = "?=";

// The headers render() writes itself, in the order it writes them.
constexpr std::string_view kDate = "Date";
constexpr std::string_view kFrom = "From";
constexpr std::string_view kTo = "To";
constexpr std::string_view kSubject = "Subject";
constexpr std::string_view kMessageId = "Message-ID";
constexpr std::string_view kInReplyTo = "In-Reply-To";
constexpr std::string_view kReferences = "References";
constexpr std::array<std::pair<std::string_view, std::string_view>, 4> kFixedHeaders = {{
    {"MIME-Version", "1.0"},
    {"Content-Type", "text/plain; charset=UTF-8"},
    {"Content-Transfer-Encoding", "quoted-printable"},
    // RFC 3834: tells auto-responders not to answer.
    {"Auto-Submitted", "auto-generated"},
}};
// Extra headers may not name a recipient: the message goes to `to` only.
constexpr std::array<std::string_view, 2> kRecipientHeaders = {"Cc", "Bcc"};

[[noreturn]] void refuse(const std::string &message) { throw Error(sqlstate::kInvalidParameterValue, message); }

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }
bool is_ascii(unsigned char c) { return c < 0x80; }

bool equals_ignoring_ascii_case(std::string_view a, std::string_view b) {
  auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [&](char x, char y) { return lower(x) == lower(y); });
}

// ---------------------------------------------------------------------------
// Input checks

void check_address(std::string_view header, std::string_view address) {
  try {
    validate_address(address);
  } catch (const Error &error) {
    throw Error(error.sqlstate(), std::string(error.what()) + " (in the " + std::string(header) + " header)");
  }
}

void check_message_id(std::string_view id, std::string_view header = kMessageId) {
  const std::string prefix = "invalid " + std::string(header) + ": ";
  if (id.empty()) refuse(prefix + "must not be empty");
  for (unsigned char c : id) {
    if (is_control(c) || c == ' ' || !is_ascii(c))
      refuse(prefix + "must be printable ASCII without spaces, line breaks or NUL");
    if (c == '<' || c == '>') refuse(prefix + "must be given without angle brackets");
  }
  const std::size_t at = id.find('@');
  if (at == std::string_view::npos) refuse(prefix + "must have the form left@right");
  if (id.find('@', at + 1) != std::string_view::npos) refuse(prefix + "must contain exactly one \"@\"");
  if (at == 0 || at + 1 == id.size()) refuse(prefix + "must have text on both sides of the \"@\"");
  // " <" + id + ">" has to fit on one line: a message id cannot be folded.
  if (id.size() + 3 > kMaxLineLength) refuse(prefix + "is too long");
}

bool is_written_by_render(std::string_view name) {
  for (std::string_view own : {kDate, kFrom, kTo, kSubject, kMessageId, kInReplyTo, kReferences})
    if (equals_ignoring_ascii_case(name, own)) return true;
  return std::any_of(kFixedHeaders.begin(), kFixedHeaders.end(),
                     [&](const auto &fixed) { return equals_ignoring_ascii_case(name, fixed.first); });
}

void check_extra_header_names(const std::vector<std::pair<std::string, std::string>> &headers) {
  for (std::size_t i = 0; i < headers.size(); ++i) {
    const std::string &name = headers[i].first;
    const bool well_formed = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    });
    if (!well_formed) refuse("invalid mail header name: only letters, digits and hyphens are allowed");
    // "Name:" must leave room on a 78-character line.
    if (name.size() + 2 > kPreferredLineLength)
      refuse("invalid mail header name \"" + name + "\": longer than " + std::to_string(kPreferredLineLength - 2) +
             " characters");
    if (is_written_by_render(name))
      refuse("mail header \"" + name + "\" is written by pg_mpa itself and cannot be given as an extra header");
    if (std::any_of(kRecipientHeaders.begin(), kRecipientHeaders.end(),
                    [&](std::string_view recipient) { return equals_ignoring_ascii_case(name, recipient); }))
      refuse("mail header \"" + name + "\" would add recipients and cannot be given as an extra header");
    for (std::size_t j = 0; j < i; ++j)
      if (equals_ignoring_ascii_case(name, headers[j].first)) refuse("mail header \"" + name + "\" is given twice");
  }
}

// ---------------------------------------------------------------------------
// Date

constexpr std::int64_t kSecondsPerDay = 86400;
constexpr std::int64_t kLastSecondOf9999 = 253402300799;  // 9999-12-31 23:59:59 UTC

struct CivilDate {
  std::int64_t year;
  unsigned month;  // 1..12
  unsigned day;    // 1..31
};

// Days since 1970-01-01 (not negative) to a Gregorian date: Howard Hinnant's
// civil_from_days, which needs neither the C library's time zone state nor
// its range limits. Counts from 0000-03-01 in 400-year eras.
CivilDate civil_from_days(std::int64_t days) {
  days += 719468;
  const std::int64_t era = days / 146097;
  const auto day_of_era = static_cast<unsigned>(days - era * 146097);
  const unsigned year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const unsigned day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const unsigned shifted_month = (5 * day_of_year + 2) / 153;  // March = 0
  const unsigned day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
  const unsigned month = shifted_month < 10 ? shifted_month + 3 : shifted_month - 9;
  const std::int64_t year = static_cast<std::int64_t>(year_of_era) + era * 400 + (month <= 2 ? 1 : 0);
  return {year, month, day};
}

// "Mon, 30 Nov 2026 03:04:05 +0000" (RFC 5322 3.3).
std::string format_date(std::int64_t unix_seconds) {
  if (unix_seconds < 0 || unix_seconds > kLastSecondOf9999)
    refuse("mail date is out of range (years 1970 to 9999 only)");
  static constexpr const char *kWeekdays[] = {"Thu", "Fri", "Sat", "Sun",
                                              "Mon", "Tue", "Wed"};  // 1970-01-01 was a Thursday
  static constexpr const char *kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::int64_t days = unix_seconds / kSecondsPerDay;
  const std::int64_t second_of_day = unix_seconds % kSecondsPerDay;
  const CivilDate date = civil_from_days(days);
  char text[64];
  std::snprintf(text, sizeof text, "%s, %02u %s %04lld %02d:%02d:%02d +0000", kWeekdays[days % 7], date.day,
                kMonths[date.month - 1], static_cast<long long>(date.year), static_cast<int>(second_of_day / 3600),
                static_cast<int>(second_of_day / 60 % 60), static_cast<int>(second_of_day % 60));
  return text;
}

// ---------------------------------------------------------------------------
// Header fields

// One header field being laid out: folds (CRLF before white space) so that
// lines stay within 78 octets whenever the pieces allow it.
class HeaderField {
 public:
  explicit HeaderField(std::string_view name) : text_(name) { text_ += ':'; }

  std::size_t current_line_length() const { return text_.size() - line_start_; }

  // `piece` starts with the white space it may be folded at.
  void append(std::string_view piece) {
    if (current_line_length() > 0 && current_line_length() + piece.size() > kPreferredLineLength) fold();
    text_ += piece;
  }

  void fold() {
    text_ += kCrlf;
    line_start_ = text_.size();
  }

  std::string finish() && {
    text_ += kCrlf;
    return std::move(text_);
  }

 private:
  std::string text_;
  std::size_t line_start_ = 0;
};

// Every run of control characters (CR, LF, TAB, NUL, ...) becomes one space,
// so header text can never end its line and start a header of its own; then
// the spaces around the text go, as mail readers drop them anyway.
std::string flatten_header_text(std::string_view text) {
  std::string flat;
  bool in_control_run = false;
  for (unsigned char c : text) {
    if (is_control(c)) {
      if (!in_control_run) flat += ' ';
      in_control_run = true;
    } else {
      flat += static_cast<char>(c);
      in_control_run = false;
    }
  }
  const std::size_t first = flat.find_first_not_of(' ');
  if (first == std::string::npos) return {};
  return flat.substr(first, flat.find_last_not_of(' ') - first + 1);
}

// Cuts " " + text into the pieces a header may be folded between: each piece
// starts at the last space before a word, so a folded line never ends up
// holding only white space, and unfolding restores the text exactly.
std::vector<std::string_view> split_at_fold_points(std::string_view spaced_text) {
  std::vector<std::string_view> pieces;
  std::size_t start = 0;
  for (std::size_t i = 1; i < spaced_text.size(); ++i) {
    if (spaced_text[i] == ' ' && i + 1 < spaced_text.size() && spaced_text[i + 1] != ' ') {
      pieces.push_back(spaced_text.substr(start, i - start));
      start = i;
    }
  }
  pieces.push_back(spaced_text.substr(start));
  return pieces;
}

// Length of the UTF-8 character starting at text[pos]; 1 for a byte that
// does not start a well-formed sequence, which is then carried on its own.
// Only the sequence's shape matters here: its job is to keep encoded-word
// boundaries off the middle of a character.
std::size_t utf8_length_from_lead_byte(unsigned char lead) {
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 1;  // ASCII, a continuation byte, or a byte that never starts UTF-8
}

std::size_t utf8_character_length(std::string_view text, std::size_t pos) {
  const std::size_t length = utf8_length_from_lead_byte(static_cast<unsigned char>(text[pos]));
  if (length == 1 || pos + length > text.size()) return 1;
  for (std::size_t i = 1; i < length; ++i)
    if ((static_cast<unsigned char>(text[pos + i]) & 0xC0) != 0x80) return 1;
  return length;
}

std::size_t encoded_word_length(std::size_t byte_count) {
  return kEncodedWordPrefix.size() + 4 * ((byte_count + 2) / 3) + kEncodedWordSuffix.size();
}

std::string encoded_word(std::string_view bytes) {
  std::string base64(4 * ((bytes.size() + 2) / 3) + 1, '\0');  // EVP_EncodeBlock adds a NUL
  const int written =
      EVP_EncodeBlock(reinterpret_cast<unsigned char *>(base64.data()),
                      reinterpret_cast<const unsigned char *>(bytes.data()), static_cast<int>(bytes.size()));
  base64.resize(static_cast<std::size_t>(written));
  return std::string(kEncodedWordPrefix) + base64 + std::string(kEncodedWordSuffix);
}

// Longest run of whole characters from text[pos] whose encoded-word takes at
// most `room` octets; 0 when not even one character fits.
std::size_t bytes_fitting(std::string_view text, std::size_t pos, std::size_t room) {
  std::size_t taken = 0;
  while (pos + taken < text.size()) {
    const std::size_t next = utf8_character_length(text, pos + taken);
    if (encoded_word_length(taken + next) > room) break;
    taken += next;
  }
  return taken;
}

// Writes text as space-separated encoded-words; white space between
// encoded-words is dropped by decoders (RFC 2047 6.2), so the words can be
// cut anywhere between characters and folded freely.
void append_encoded_words(HeaderField &field, std::string_view text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t room_after_space =
        kPreferredLineLength - std::min(kPreferredLineLength, field.current_line_length() + 1);
    const std::size_t taken = bytes_fitting(text, pos, std::min(room_after_space, kMaxEncodedWordLength));
    if (taken == 0) {
      // A fresh line holds an encoded-word of any one character (20 octets).
      field.fold();
      continue;
    }
    field.append(" " + encoded_word(text.substr(pos, taken)));
    pos += taken;
  }
}

bool contains_encoded_word_marker(std::string_view text) { return text.find("=?") != std::string_view::npos; }

// Writes flattened header text as plain folded words when `is_plain_char`
// holds for every byte and no word is too long for a line, else as
// encoded-words. "=?" forces encoding so that plain text is never mistaken
// for an encoded-word by the reader.
template <typename IsPlainChar>
void append_header_text(HeaderField &field, std::string_view flat_text, IsPlainChar is_plain_char) {
  const std::string spaced = " " + std::string(flat_text);
  const std::vector<std::string_view> pieces = split_at_fold_points(spaced);
  const bool plain =
      std::all_of(flat_text.begin(), flat_text.end(), is_plain_char) && !contains_encoded_word_marker(flat_text) &&
      std::all_of(pieces.begin(), pieces.end(), [](std::string_view piece) { return piece.size() <= kMaxLineLength; });
  if (!plain) {
    append_encoded_words(field, flat_text);
    return;
  }
  for (std::string_view piece : pieces) field.append(piece);
}

bool is_printable_ascii(char c) { return c >= 0x20 && c < 0x7f; }

// A display name goes out as plain atoms only when that needs no quoting.
bool is_atom_char_or_space(char c) {
  constexpr std::string_view kAtextSymbols = "!#$%&'*+-/=?^_`{|}~";
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ' ' ||
         kAtextSymbols.find(c) != std::string_view::npos;
}

std::string unstructured_header(std::string_view name, std::string_view text) {
  HeaderField field(name);
  const std::string flat = flatten_header_text(text);
  if (!flat.empty()) append_header_text(field, flat, is_printable_ascii);
  return std::move(field).finish();
}

std::string single_value_header(std::string_view name, std::string_view value) {
  HeaderField field(name);
  field.append(" " + std::string(value));
  return std::move(field).finish();
}

std::string from_header(const Message &message) {
  HeaderField field(kFrom);
  const std::string display_name = flatten_header_text(message.from_name);
  if (display_name.empty()) {
    field.append(" " + message.from);
  } else {
    append_header_text(field, display_name, is_atom_char_or_space);
    field.append(" <" + message.from + ">");
  }
  return std::move(field).finish();
}

// ---------------------------------------------------------------------------
// Body

std::string hex_escape(unsigned char c) {
  constexpr char kHexDigits[] = "0123456789ABCDEF";
  return {'=', kHexDigits[c >> 4], kHexDigits[c & 0x0F]};
}

// The quoted-printable form of line[i]. A "." or "From " opening an output
// line is escaped so that no transport can take the line for the end of
// DATA or an mbox separator; white space is escaped at the end of a line,
// where transports may strip it.
std::string quoted_printable_token(std::string_view line, std::size_t i, bool starts_output_line) {
  const auto c = static_cast<unsigned char>(line[i]);
  const bool ends_line = i + 1 == line.size();
  if (c == ' ' || c == '\t') return ends_line ? hex_escape(c) : std::string(1, static_cast<char>(c));
  if (c == '=' || is_control(c) || !is_ascii(c)) return hex_escape(c);
  if (starts_output_line && (c == '.' || line.compare(i, 5, "From ") == 0)) return hex_escape(c);
  return std::string(1, static_cast<char>(c));
}

// Appends one line of the body (without its line break) in quoted-printable,
// with soft breaks keeping output lines within 76 octets. A last line
// without a line break of its own ends in a soft break, so the decoded body
// gets no line break that the input did not have.
void append_quoted_printable_line(std::string &out, std::string_view line, bool has_line_break) {
  std::size_t output_line_length = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const bool room_for_soft_break_needed = i + 1 < line.size() || !has_line_break;
    const std::size_t limit = kMaxQuotedPrintableLine - (room_for_soft_break_needed ? 1 : 0);
    std::string token = quoted_printable_token(line, i, output_line_length == 0);
    if (output_line_length + token.size() > limit) {
      out += "=";
      out += kCrlf;
      output_line_length = 0;
      token = quoted_printable_token(line, i, true);
    }
    out += token;
    output_line_length += token.size();
  }
  if (!has_line_break) out += "=";
  out += kCrlf;
}

// Line breaks in the input may be LF, CRLF or a lone CR; each becomes a hard
// (CRLF) line break of the encoded body.
std::string encode_body(std::string_view body) {
  std::string out;
  std::size_t pos = 0;
  while (pos < body.size()) {
    const std::size_t line_end = body.find_first_of("\r\n", pos);
    if (line_end == std::string_view::npos) {
      append_quoted_printable_line(out, body.substr(pos), false);
      break;
    }
    append_quoted_printable_line(out, body.substr(pos, line_end - pos), true);
    pos = line_end + (body.compare(line_end, 2, kCrlf) == 0 ? 2 : 1);
  }
  return out;
}

}  // namespace

std::string render(const Message &message) {
  check_address(kFrom, message.from);
  check_address(kTo, message.to);
  check_message_id(message.message_id);
  if (!message.in_reply_to.empty()) check_message_id(message.in_reply_to, kInReplyTo);
  check_extra_header_names(message.headers);

  std::string rendered = single_value_header(kDate, format_date(message.date));
  rendered += from_header(message);
  rendered += single_value_header(kTo, message.to);
  rendered += unstructured_header(kSubject, message.subject);
  rendered += single_value_header(kMessageId, "<" + message.message_id + ">");
  if (!message.in_reply_to.empty()) {
    rendered += single_value_header(kInReplyTo, "<" + message.in_reply_to + ">");
    rendered += single_value_header(kReferences, "<" + message.in_reply_to + ">");
  }
  for (const auto &[name, value] : kFixedHeaders) rendered += single_value_header(name, value);
  for (const auto &[name, value] : message.headers) rendered += unstructured_header(name, value);
  rendered += kCrlf;
  rendered += encode_body(message.body);
  return rendered;
}

}  // namespace mpa::mail
