// Builds the exact bytes of a notification or code mail (RFC 5322 message,
// one text/plain UTF-8 part in quoted-printable) from plain values.
//
// The text that goes into a mail comes partly from people (a justification,
// a statement, a display name), so the rendering guarantees hold for any
// input, including CR/LF meant to start a header and bytes that are not
// UTF-8:
//   - every line ends with CRLF, no CR or LF appears anywhere else, and no
//     line is longer than 998 octets (header lines stay within 78 unless a
//     single word is longer);
//   - the header section holds exactly the headers written by render(), each
//     once, plus the extra headers asked for: header text cannot add one;
//   - no line of the message is a lone ".", and no body line starts with "."
//     or "From ", so a transport that forgets dot-stuffing or mbox quoting
//     can neither end the message early nor alter it.
// Invalid UTF-8 is carried through unchanged (inside base64 encoded-words in
// headers, as =XX in the body); it is never split further than byte by byte,
// and a valid multi-byte character is never split at all.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace mpa::mail {

struct Message {
  std::string from;        // bare address, validated by render()
  std::string from_name;   // optional display name, any UTF-8
  std::string to;          // bare address, validated by render()
  std::string subject;     // any UTF-8; line breaks in it never start a header
  std::string body;        // UTF-8 text with any line endings (LF, CRLF, lone CR)
  std::string message_id;  // "left@right", without angle brackets
  // Optional: the message this one follows in its thread ("left@right",
  // without angle brackets), written as In-Reply-To and References so that
  // mail readers show one thread (RFC 5322 3.6.4).
  std::string in_reply_to;
  std::int64_t date = 0;   // unix seconds, written in UTC; years 1970 to 9999
  // Extra headers such as "X-MPA-Request". Names are letters, digits and
  // hyphens, given at most once, and none of those render() writes itself
  // (nor Cc or Bcc: a message goes to exactly one mailbox). Values are
  // unstructured text, treated like the subject.
  std::vector<std::pair<std::string, std::string>> headers;
};

// Returns the complete message, headers and body, ready for SMTP DATA (the
// transport still does its own dot-stuffing; none is needed, see above).
// Header text (subject, display name, extra header values) has every run of
// control characters (CR, LF, TAB, ...) replaced by one space and is trimmed
// of surrounding spaces; it is then written as plain folded text when it is
// printable ASCII (for the display name: atoms and spaces), and otherwise, or
// when it contains "=?", as RFC 2047 base64 encoded-words.
// Throws mpa::Error (22023) for an invalid address, message id, date or
// extra header name.
std::string render(const Message &message);

}  // namespace mpa::mail
