// libFuzzer target for mail rendering (core/mail_message): whatever the
// subject, display name, extra header values and body hold, the rendered
// message must keep the guarantees mail_message.hpp promises. Addresses,
// message id and header names are valid most of the time, so that the fuzzer
// spends its effort on the free text, and fuzzed otherwise, to exercise the
// refusals.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/mail_message.hpp"

namespace {

using mpa::mail::Message;

void require(bool holds, const char *invariant) {
  if (holds) return;
  std::fprintf(stderr, "mail_message_fuzz: invariant broken: %s\n", invariant);
  std::abort();
}

Message message_from(FuzzedDataProvider &input) {
  Message message;
  const bool fuzz_identifiers = input.ConsumeProbability<double>() < 0.1;
  auto identifier = [&](const char *valid) {
    return fuzz_identifiers ? input.ConsumeRandomLengthString(300) : std::string(valid);
  };
  message.from = identifier("pg-mpa@db.example.com");
  message.to = identifier("alice@example.com");
  message.message_id = identifier("mpa.1.abc@db.example.com");
  message.date = input.ConsumeIntegralInRange<std::int64_t>(-1, 253402300800);
  const int extra_header_count = input.ConsumeIntegralInRange(0, 3);
  for (int i = 0; i < extra_header_count; ++i) {
    std::string name = fuzz_identifiers ? input.ConsumeRandomLengthString(80) : "X-Fuzz-" + std::to_string(i);
    message.headers.emplace_back(std::move(name), input.ConsumeRandomLengthString(2000));
  }
  message.from_name = input.ConsumeRandomLengthString(500);
  message.subject = input.ConsumeRandomLengthString(3000);
  message.body = input.ConsumeRemainingBytesAsString();
  return message;
}

std::vector<std::string_view> crlf_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find("\r\n", start);
    require(end != std::string_view::npos, "every line ends with CRLF");
    lines.push_back(text.substr(start, end - start));
    start = end + 2;
  }
  return lines;
}

void check_line_structure(std::string_view rendered) {
  for (std::size_t i = 0; i < rendered.size(); ++i) {
    if (rendered[i] == '\r') require(i + 1 < rendered.size() && rendered[i + 1] == '\n', "no bare CR");
    if (rendered[i] == '\n') require(i > 0 && rendered[i - 1] == '\r', "no bare LF");
  }
  for (std::string_view line : crlf_lines(rendered)) {
    require(line != ".", "no line is a lone \".\"");
    require(line.size() <= 998, "no line is longer than 998 octets");
  }
}

void check_header_names(std::string_view header_section, const Message &message) {
  std::vector<std::string> expected = {
      // in the order render() writes them
      "Date",           "From",         "To",           "Subject",
      "Message-ID",     "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
      "Auto-Submitted",
  };
  for (const auto &header : message.headers) expected.push_back(header.first);

  std::vector<std::string> found;
  for (std::string_view line : crlf_lines(header_section)) {
    require(!line.empty(), "no empty line inside the header section");
    if (line.front() == ' ' || line.front() == '\t') continue;  // folded continuation
    const std::size_t colon = line.find(':');
    require(colon != std::string_view::npos, "every header line has a colon");
    found.emplace_back(line.substr(0, colon));
  }
  require(found == expected, "the header section holds exactly the expected headers, once each");
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string decode_quoted_printable(std::string_view encoded) {
  std::string decoded;
  for (std::string_view line : crlf_lines(encoded)) {
    require(line.size() <= 76, "quoted-printable lines are at most 76 octets");
    require(line.empty() || line.front() != '.', "no body line starts with a dot");
    const bool soft_break = !line.empty() && line.back() == '=';
    if (soft_break) line.remove_suffix(1);
    for (std::size_t i = 0; i < line.size(); ++i) {
      const auto c = static_cast<unsigned char>(line[i]);
      require((c >= 0x20 && c < 0x7F) || c == '\t', "quoted-printable output is printable ASCII");
      if (c != '=') {
        decoded += line[i];
        continue;
      }
      require(i + 2 < line.size(), "an escape has two hex digits");
      const int high = hex_value(line[i + 1]);
      const int low = hex_value(line[i + 2]);
      require(high >= 0 && low >= 0, "an escape has two upper-case hex digits");
      decoded += static_cast<char>(high * 16 + low);
      i += 2;
    }
    if (!soft_break) decoded += "\r\n";
  }
  return decoded;
}

// What the body should decode to: every LF, CRLF or lone CR becomes CRLF.
// Done in two passes, unlike render(), so that the two cannot share a bug.
std::string with_crlf_line_endings(std::string_view body) {
  std::string lf_only;
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\r' && i + 1 < body.size() && body[i + 1] == '\n') continue;
    lf_only += body[i] == '\r' ? '\n' : body[i];
  }
  std::string crlf;
  for (char c : lf_only) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  return crlf;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  FuzzedDataProvider input(data, size);
  const Message message = message_from(input);
  std::string rendered;
  try {
    rendered = mpa::mail::render(message);
  } catch (const mpa::Error &) {
    return 0;  // an invalid address, message id, date or header name: refused, as it should be
  }
  check_line_structure(rendered);
  const std::size_t blank_line = rendered.find("\r\n\r\n");
  require(blank_line != std::string::npos, "a blank line ends the headers");
  check_header_names(std::string_view(rendered).substr(0, blank_line + 2), message);
  require(decode_quoted_printable(std::string_view(rendered).substr(blank_line + 4)) ==
              with_crlf_line_endings(message.body),
          "the body decodes back to the input with CRLF line endings");
  return 0;
}
