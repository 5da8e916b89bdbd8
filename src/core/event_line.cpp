#include "core/event_line.hpp"

#include "core/json_string.hpp"

namespace mpa::events {
namespace {

// Detail keys whose values are text a person wrote (see the header).
constexpr std::string_view kKeptOut[] = {"statement", "justification", "call"};

bool bare(unsigned char c) noexcept { return c > ' ' && c < 0x7f && c != '"' && c != '\\' && c != '='; }

// The longest prefix of `value` of at most kMaxValueBytes that ends on a
// character boundary (a UTF-8 continuation byte is 10xxxxxx).
std::string_view clipped(std::string_view value, bool *was_clipped) {
  *was_clipped = value.size() > kMaxValueBytes;
  if (!*was_clipped) return value;
  std::size_t end = kMaxValueBytes;
  while (end > 0 && (static_cast<unsigned char>(value[end]) & 0xC0) == 0x80) --end;
  return value.substr(0, end);
}

std::string field_name(std::string_view name) {
  std::string out(name);
  for (char &c : out) {
    unsigned char u = static_cast<unsigned char>(c);
    bool word = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '_';
    if (!word) c = '_';
  }
  return out.empty() ? "_" : out;
}

void append_field(std::string &line, std::string_view name, std::string_view value) {
  line += ' ';
  line += field_name(name);
  line += '=';
  line += quote_value(value);
}

}  // namespace

bool kept_out_of_log(std::string_view name) noexcept {
  for (std::string_view kept : kKeptOut)
    if (name == kept) return true;
  return false;
}

std::string quote_value(std::string_view value) {
  bool was_clipped = false;
  std::string_view text = clipped(value, &was_clipped);
  bool plain = !text.empty() && !was_clipped;
  for (unsigned char c : text) plain = plain && bare(c);
  if (plain) return std::string(text);
  std::string out;
  json::append_string(out, was_clipped ? std::string(text) + "..." : std::string(text));
  return out;
}

std::string event_line(std::string_view kind, long long request_id, std::string_view role,
                       std::string_view database, const std::vector<Field> &detail) {
  std::string line = kLinePrefix;
  line += "event=";
  line += quote_value(kind);
  if (request_id != 0) append_field(line, "request", std::to_string(request_id));
  append_field(line, "role", role);
  append_field(line, "database", database);
  for (const Field &field : detail)
    if (!kept_out_of_log(field.name)) append_field(line, field.name, field.value);
  return line;
}

}  // namespace mpa::events
