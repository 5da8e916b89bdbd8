#include "core/audit_export.hpp"

#include <cstdio>
#include <limits>
#include <map>
#include <utility>

#include "core/error.hpp"
#include "core/json_string.hpp"

namespace mpa::audit {
namespace {

constexpr std::int64_t kMicrosPerDay = 86400LL * 1000000;
constexpr std::int64_t kDaysFrom1970To2000 = 10957;

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
// days_from_civil), and back.
std::int64_t days_from_civil(std::int64_t y, int m, int d) {
  y -= m <= 2;
  std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  std::int64_t yoe = y - era * 400;
  std::int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t *y, int *m, int *d) {
  z += 719468;
  std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  std::int64_t doe = z - era * 146097;
  std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  std::int64_t mp = (5 * doy + 2) / 153;
  *d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

[[noreturn]] void bad_line(const std::string &why) { throw Error(sqlstate::kInvalidParameterValue, why); }

// JSON strings are written by core/json_string.hpp.
void append_json_string(std::string &out, std::string_view text) { json::append_string(out, text); }

void append_field(std::string &out, const char *name) {
  if (out.size() > 1) out += ", ";
  append_json_string(out, name);
  out += ": ";
}

// A JSON value of the flat objects export_line writes: a string, an
// integer or null.
struct Value {
  enum class Kind { String, Integer, Null } kind;
  std::string text;
  std::int64_t number = 0;
};

// Reads one flat JSON object of strings, integers and nulls.
class LineReader {
 public:
  explicit LineReader(std::string_view line) : line_(line) {}

  std::map<std::string, Value> object() {
    std::map<std::string, Value> fields;
    expect('{');
    skip_space();
    if (peek() == '}') {
      pos_++;
    } else {
      for (;;) {
        std::string name = string();
        expect(':');
        Value value = this->value();
        if (!fields.emplace(name, std::move(value)).second) bad_line("field \"" + name + "\" appears twice");
        skip_space();
        if (peek() == ',') {
          pos_++;
          continue;
        }
        expect('}');
        break;
      }
    }
    skip_space();
    if (pos_ != line_.size()) bad_line("text after the object");
    return fields;
  }

 private:
  char peek() const { return pos_ < line_.size() ? line_[pos_] : '\0'; }

  void skip_space() {
    while (pos_ < line_.size() && (line_[pos_] == ' ' || line_[pos_] == '\t')) pos_++;
  }

  void expect(char c) {
    skip_space();
    if (peek() != c || pos_ >= line_.size()) bad_line(std::string("expected '") + c + "' at column " + column());
    pos_++;
  }

  std::string column() const { return std::to_string(pos_ + 1); }

  Value value() {
    skip_space();
    char c = peek();
    if (c == '"') return Value{Value::Kind::String, string()};
    if (c == '-' || (c >= '0' && c <= '9')) return Value{Value::Kind::Integer, {}, integer()};
    if (line_.substr(pos_, 4) == "null") {
      pos_ += 4;
      return Value{Value::Kind::Null, {}};
    }
    bad_line("expected a string, an integer or null at column " + column());
  }

  std::int64_t integer() {
    bool negative = peek() == '-';
    if (negative) pos_++;
    std::size_t start = pos_;
    std::uint64_t magnitude = 0;
    while (pos_ < line_.size() && line_[pos_] >= '0' && line_[pos_] <= '9') {
      if (magnitude > (std::numeric_limits<std::uint64_t>::max() - 9) / 10) bad_line("integer out of range");
      magnitude = magnitude * 10 + static_cast<std::uint64_t>(line_[pos_] - '0');
      pos_++;
    }
    if (pos_ == start || (pos_ - start > 1 && line_[start] == '0')) bad_line("malformed integer at column " + column());
    std::uint64_t limit = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + (negative ? 1 : 0);
    if (magnitude > limit) bad_line("integer out of range");
    return negative ? static_cast<std::int64_t>(0 - magnitude) : static_cast<std::int64_t>(magnitude);
  }

  unsigned hex4() {
    if (pos_ + 4 > line_.size()) bad_line("truncated \\u escape");
    unsigned code = 0;
    for (int i = 0; i < 4; i++) {
      char h = line_[pos_++];
      code <<= 4;
      if (h >= '0' && h <= '9') code |= static_cast<unsigned>(h - '0');
      else if (h >= 'a' && h <= 'f') code |= static_cast<unsigned>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') code |= static_cast<unsigned>(h - 'A' + 10);
      else bad_line("malformed \\u escape");
    }
    return code;
  }

  static void append_utf8(std::string &out, unsigned code) {
    if (code < 0x80) {
      out.push_back(static_cast<char>(code));
    } else if (code < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (code >> 6)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else if (code < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (code >> 12)));
      out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (code >> 18)));
      out.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    }
  }

  std::string string() {
    expect('"');
    std::string out;
    for (;;) {
      if (pos_ >= line_.size()) bad_line("unterminated string");
      unsigned char c = static_cast<unsigned char>(line_[pos_++]);
      if (c == '"') return out;
      if (c < 0x20) bad_line("control character in a string at column " + column());
      if (c != '\\') {
        out.push_back(static_cast<char>(c));
        continue;
      }
      char e = peek();
      pos_++;
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          unsigned code = hex4();
          if (code >= 0xD800 && code <= 0xDBFF) {
            if (line_.substr(pos_, 2) != "\\u") bad_line("unpaired surrogate in a \\u escape");
            pos_ += 2;
            unsigned low = hex4();
            if (low < 0xDC00 || low > 0xDFFF) bad_line("unpaired surrogate in a \\u escape");
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          } else if (code >= 0xDC00 && code <= 0xDFFF) {
            bad_line("unpaired surrogate in a \\u escape");
          }
          append_utf8(out, code);
          break;
        }
        default: bad_line("unknown escape in a string at column " + column());
      }
    }
  }

  std::string_view line_;
  std::size_t pos_ = 0;
};

const Value &take(std::map<std::string, Value> &fields, const char *name) {
  auto found = fields.find(name);
  if (found == fields.end()) bad_line(std::string("field \"") + name + "\" is missing");
  return found->second;
}

std::string take_string(std::map<std::string, Value> &fields, const char *name) {
  const Value &value = take(fields, name);
  if (value.kind != Value::Kind::String) bad_line(std::string("field \"") + name + "\" must be a string");
  return value.text;
}

std::int64_t take_integer(std::map<std::string, Value> &fields, const char *name, bool null_is_zero = false) {
  const Value &value = take(fields, name);
  if (null_is_zero && value.kind == Value::Kind::Null) return 0;
  if (value.kind != Value::Kind::Integer) bad_line(std::string("field \"") + name + "\" must be an integer");
  return value.number;
}

bool is_hex_hash(std::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string point_text(std::int64_t seq, const std::string &hash) {
  return "entry " + std::to_string(seq) + ", SHA-256 " + hash;
}

}  // namespace

std::optional<std::string> format_utc(std::int64_t microseconds) {
  std::int64_t days = floor_div(microseconds, kMicrosPerDay);
  std::int64_t in_day = microseconds - days * kMicrosPerDay;
  std::int64_t year;
  int month, day;
  civil_from_days(days + kDaysFrom1970To2000, &year, &month, &day);
  if (year < 1 || year > 9999) return std::nullopt;
  std::int64_t seconds = in_day / 1000000;
  char text[40];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", static_cast<int>(year), month, day,
                static_cast<int>(seconds / 3600), static_cast<int>(seconds / 60 % 60), static_cast<int>(seconds % 60),
                static_cast<int>(in_day % 1000000));
  return std::string(text);
}

std::optional<std::int64_t> parse_utc(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS.ffffffZ, every digit where the pattern has one.
  constexpr std::string_view kPattern = "0000-00-00T00:00:00.000000Z";
  if (text.size() != kPattern.size()) return std::nullopt;
  for (std::size_t i = 0; i < text.size(); i++) {
    bool digit = text[i] >= '0' && text[i] <= '9';
    if (kPattern[i] == '0' ? !digit : text[i] != kPattern[i]) return std::nullopt;
  }
  auto number = [text](std::size_t at, std::size_t length) {
    std::int64_t value = 0;
    for (std::size_t i = at; i < at + length; i++) value = value * 10 + (text[i] - '0');
    return value;
  };
  std::int64_t year = number(0, 4), month = number(5, 2), day = number(8, 2);
  std::int64_t hour = number(11, 2), minute = number(14, 2), second = number(17, 2);
  if (year < 1 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return std::nullopt;
  std::int64_t days = days_from_civil(year, static_cast<int>(month), static_cast<int>(day));
  std::int64_t y;
  int m, d;
  civil_from_days(days, &y, &m, &d);
  if (m != month || d != day) return std::nullopt;  // 31 April, 29 February of a common year
  return (days - kDaysFrom1970To2000) * kMicrosPerDay + ((hour * 60 + minute) * 60 + second) * 1000000 +
         number(20, 6);
}

std::string export_line(const Entry &entry, std::string_view hash) {
  std::string out = "{";
  append_field(out, "seq");
  out += std::to_string(entry.seq);
  append_field(out, "id");
  out += std::to_string(entry.id);
  append_field(out, "recorded_at");
  if (auto utc = format_utc(entry.recorded_at)) append_json_string(out, *utc);
  else out += std::to_string(entry.recorded_at);
  append_field(out, "kind");
  append_json_string(out, entry.kind);
  append_field(out, "request_id");
  out += entry.request_id == 0 ? "null" : std::to_string(entry.request_id);
  append_field(out, "actor");
  append_json_string(out, entry.actor);
  append_field(out, "database");
  append_json_string(out, entry.database);
  append_field(out, "detail");
  append_json_string(out, entry.detail);
  append_field(out, "previous_hash");
  append_json_string(out, entry.previous_hash);
  append_field(out, "hash");
  append_json_string(out, hash);
  out += "}";
  return out;
}

ExportedEntry parse_export_line(std::string_view line) {
  std::map<std::string, Value> fields = LineReader(line).object();
  ExportedEntry exported;
  Entry &entry = exported.entry;
  entry.seq = take_integer(fields, "seq");
  entry.id = take_integer(fields, "id");
  const Value &recorded_at = take(fields, "recorded_at");
  if (recorded_at.kind == Value::Kind::Integer) {
    entry.recorded_at = recorded_at.number;
  } else if (auto parsed = recorded_at.kind == Value::Kind::String ? parse_utc(recorded_at.text) : std::nullopt) {
    entry.recorded_at = *parsed;
  } else {
    bad_line("field \"recorded_at\" must be a UTC time as YYYY-MM-DDTHH:MM:SS.ffffffZ");
  }
  entry.kind = take_string(fields, "kind");
  entry.request_id = take_integer(fields, "request_id", true);
  entry.actor = take_string(fields, "actor");
  entry.database = take_string(fields, "database");
  entry.detail = take_string(fields, "detail");
  entry.previous_hash = take_string(fields, "previous_hash");
  exported.hash = take_string(fields, "hash");
  // Fields the hash does not cover would be unverified text in a verified
  // file: there are none.
  constexpr const char *kKnown[] = {"seq", "id", "recorded_at", "kind", "request_id", "actor",
                                    "database", "detail", "previous_hash", "hash"};
  for (const auto &[name, value] : fields) {
    bool known = false;
    for (const char *k : kKnown) known = known || name == k;
    if (!known) bad_line("unknown field \"" + name + "\"");
  }
  return exported;
}

std::optional<ChainPoint> parse_chain_point(std::string_view text) {
  std::string_view seq_text, hash;
  constexpr std::string_view kEntry = "entry ", kSha = ", SHA-256 ";
  if (text.substr(0, kEntry.size()) == kEntry) {
    std::size_t comma = text.find(kSha);
    if (comma == std::string_view::npos) return std::nullopt;
    seq_text = text.substr(kEntry.size(), comma - kEntry.size());
    hash = text.substr(comma + kSha.size());
  } else {
    std::size_t colon = text.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    seq_text = text.substr(0, colon);
    hash = text.substr(colon + 1);
  }
  if (seq_text.empty() || seq_text.size() > 18 || !is_hex_hash(hash)) return std::nullopt;
  std::int64_t seq = 0;
  for (char c : seq_text) {
    if (c < '0' || c > '9') return std::nullopt;
    seq = seq * 10 + (c - '0');
  }
  if (seq < 1) return std::nullopt;
  return ChainPoint{seq, std::string(hash)};
}

ExportChecker::ExportChecker(std::optional<ChainPoint> after, std::optional<ChainPoint> head)
    : after_(std::move(after)), head_(std::move(head)) {
  if (after_) chain_.emplace(after_->seq, after_->hash);
}

bool ExportChecker::add_line(std::string_view line) {
  if (broken_) return false;
  line_++;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty()) return true;
  ExportedEntry exported;
  try {
    exported = parse_export_line(line);
  } catch (const Error &e) {
    broken_ = "broken at line " + std::to_string(line_) + ": not an entry of an audit export (" + e.what() + ")";
    return false;
  }
  const Entry &entry = exported.entry;
  if (!chain_) {
    // No earlier export given: a chain from its start, or the rest of one
    // from where this export begins (its first link taken as written).
    if (entry.seq > 1) chain_.emplace(entry.seq - 1, entry.previous_hash);
    else chain_.emplace();
  }
  if (first_seq_ == 0) {
    first_seq_ = entry.seq;
    continued_hash_ = entry.previous_hash;
  }
  if (auto why = chain_->check(entry, exported.hash)) {
    broken_ = "broken at line " + std::to_string(line_) + " (entry " + std::to_string(entry.seq) + ", id " +
              std::to_string(entry.id) + "): " + *why;
    return false;
  }
  if (head_ && entry.seq == head_->seq) hash_at_head_ = exported.hash;
  return true;
}

ExportVerdict ExportChecker::verdict() const {
  if (broken_) return {false, *broken_};
  std::int64_t entries = chain_ ? chain_->checked() : 0;
  std::string summary = "intact, " + std::to_string(entries) + (entries == 1 ? " entry" : " entries");
  if (entries > 0) {
    summary += " (" + std::to_string(first_seq_) + " to " + std::to_string(chain_->head_seq()) + "), head " +
               point_text(chain_->head_seq(), chain_->head_hash());
    if (first_seq_ > 1 && after_)
      summary += "; continues " + point_text(after_->seq, after_->hash) + " as given";
    else if (first_seq_ > 1)
      summary += "; continues " + point_text(first_seq_ - 1, continued_hash_) +
                 ", not checked here (give the earlier export's head with --after)";
  }
  if (head_) {
    if (!hash_at_head_) {
      std::int64_t last = entries > 0 ? chain_->head_seq() : 0;
      return {false, summary + "; but entry " + std::to_string(head_->seq) + " (the head given) is not in it" +
                         (head_->seq > last ? ": entries were cut off the end, or the export is older than the head"
                                            : "")};
    }
    if (*hash_at_head_ != head_->hash)
      return {false, summary + "; but entry " + std::to_string(head_->seq) + " has SHA-256 " + *hash_at_head_ +
                         ", not the head given (" + head_->hash + "): the history was rewritten"};
    summary += "; entry " + std::to_string(head_->seq) + " matches the head given";
  }
  return {true, summary};
}

}  // namespace mpa::audit
