#include "core/policy.hpp"

#include <utility>

#include "core/character_names.hpp"
#include "core/error.hpp"

namespace mpa::policy {
namespace {

[[noreturn]] void refuse_operation(const std::string &reason) {
  throw Error(sqlstate::kInvalidParameterValue, "invalid operation: " + reason, "",
              "Use a command tag such as \"DROP TABLE\" or \"ALTER SYSTEM\".");
}

[[noreturn]] void refuse_pattern(const std::string &reason) {
  throw Error(sqlstate::kInvalidParameterValue, "invalid object pattern: " + reason, "",
              "Write \"*\", \"schema.*\", \"schema.name\", or a bare \"name\" for objects outside schemas; "
              "double-quote names that need it.");
}

bool is_blank(char c) { return c == ' ' || c == '\t'; }
bool is_ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
char ascii_upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

using Pattern = ParsedPattern;

// One part of a pattern: "*" or an identifier's value.
struct Part {
  bool wildcard;
  std::string value;
};

class PatternParser {
 public:
  explicit PatternParser(std::string_view text) : text_(text) {}

  Pattern parse() {
    if (text_.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos)
      refuse_pattern("must not contain line breaks or NUL");
    skip_blanks();
    if (at_end()) refuse_pattern("must not be empty");
    const Part first = part("the schema before the dot is missing");
    skip_blanks();
    if (at_end()) return first.wildcard ? Pattern{Scope::Everything, "", ""} : Pattern{Scope::Exact, "", first.value};
    expect_dot();
    if (first.wildcard)
      refuse_pattern("\"*\" may only be the whole pattern or the name after the schema, as in \"schema.*\"");
    skip_blanks();
    const Part second = part("the name after the dot is missing");
    skip_blanks();
    if (!at_end()) {
      if (text_[pos_] == '.') refuse_pattern("has more than two dot-separated parts");
      refuse_unexpected();
    }
    if (second.wildcard) return {Scope::WholeSchema, first.value, ""};
    return {Scope::Exact, first.value, second.value};
  }

 private:
  bool at_end() const { return pos_ >= text_.size(); }

  void skip_blanks() {
    const std::size_t start = pos_;
    while (!at_end() && is_blank(text_[pos_])) ++pos_;
    blanks_skipped_ = pos_ != start;
  }

  void expect_dot() {
    if (text_[pos_] != '.') refuse_unexpected();
    ++pos_;
  }

  [[noreturn]] void refuse_unexpected() const {
    if (blanks_skipped_)
      refuse_pattern("a space separates two names; write schema.name, or double-quote a name that contains spaces");
    refuse_character();
  }

  [[noreturn]] void refuse_character() const {
    refuse_pattern(describe_character(text_[pos_]) + " is not allowed outside double quotes");
  }

  Part part(const char *missing) {
    if (at_end() || text_[pos_] == '.') refuse_pattern(missing);
    const char c = text_[pos_];
    if (c == '*') {
      ++pos_;
      return {true, ""};
    }
    std::string value = c == '"' ? quoted_identifier() : unquoted_identifier();
    if (value.size() > kMaxIdentifierBytes)
      refuse_pattern("name is too long (" + std::to_string(value.size()) + " bytes, at most " +
                     std::to_string(kMaxIdentifierBytes) + ")");
    return {false, std::move(value)};
  }

  std::string unquoted_identifier() {
    if (!is_ascii_letter(text_[pos_]) && text_[pos_] != '_') refuse_character();
    std::string value;
    while (!at_end() && (is_ascii_letter(text_[pos_]) || is_digit(text_[pos_]) || text_[pos_] == '_' ||
                         text_[pos_] == '$'))
      value += ascii_lower(text_[pos_++]);
    return value;
  }

  std::string quoted_identifier() {
    std::string value;
    ++pos_;
    while (true) {
      if (at_end()) refuse_pattern("has an unterminated double-quoted name");
      const char c = text_[pos_++];
      if (c == '"') {
        if (at_end() || text_[pos_] != '"') break;
        ++pos_;
      }
      value += c;
    }
    if (value.empty()) refuse_pattern("has an empty double-quoted name (\"\")");
    return value;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  bool blanks_skipped_ = false;
};

// Bare when quote_identifier would leave it bare (keywords aside).
std::string print_identifier(const std::string &value) {
  bool bare = !value.empty() && ((value[0] >= 'a' && value[0] <= 'z') || value[0] == '_');
  for (char c : value) bare = bare && ((c >= 'a' && c <= 'z') || is_digit(c) || c == '_');
  if (bare) return value;
  std::string quoted = "\"";
  for (char c : value) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::string print_pattern(const Pattern &pattern) {
  switch (pattern.scope) {
    case Scope::Everything:
      return "*";
    case Scope::WholeSchema:
      return print_identifier(pattern.schema) + ".*";
    case Scope::Exact:
      break;
  }
  if (pattern.schema.empty()) return print_identifier(pattern.name);
  return print_identifier(pattern.schema) + "." + print_identifier(pattern.name);
}

// The value of an identifier as quote_identifier printed it.
std::string identifier_value(std::string_view printed) {
  if (printed.size() < 2 || printed.front() != '"' || printed.back() != '"') return std::string(printed);
  std::string value;
  for (std::size_t i = 1; i + 1 < printed.size(); ++i) {
    value += printed[i];
    if (printed[i] == '"' && printed[i + 1] == '"') ++i;
  }
  return value;
}

[[noreturn]] void corrupt_policy(const Policy &policy, const char *what, const Error &error) {
  throw Error(sqlstate::kInternalError, "policy " + std::to_string(policy.id) + " has an invalid " + what,
              error.what());
}

std::string stored_operation(const Policy &policy) {
  try {
    return normalize_operation(policy.operation);
  } catch (const Error &error) {
    corrupt_policy(policy, "operation", error);
  }
}

// 0 when `pattern` does not match, else higher for more specific patterns.
int specificity(const PatternView &pattern, const ObjectValues &object) {
  switch (pattern.scope) {
    case Scope::Everything:
      return 1;
    case Scope::WholeSchema:
      return object.in_schema && pattern.schema == object.schema ? 2 : 0;
    case Scope::Exact:
      break;
  }
  const bool pattern_in_schema = !pattern.schema.empty();
  return pattern_in_schema == object.in_schema && pattern.schema == object.schema && pattern.name == object.name
             ? 3
             : 0;
}

// Views of patterns parsed into `storage` (which must outlive them).
std::vector<PatternView> views_of(const std::vector<Policy> &policies, std::vector<ParsedPattern> &storage) {
  storage.clear();
  storage.reserve(policies.size());
  for (const Policy &policy : policies) storage.push_back(parse_stored_pattern(policy));
  std::vector<PatternView> views;
  views.reserve(policies.size());
  for (std::size_t i = 0; i < policies.size(); ++i)
    views.push_back({policies[i].id, storage[i].scope, storage[i].schema, storage[i].name});
  return views;
}

// The spelling PostgreSQL's command tags use for commands people also write
// otherwise: TRUNCATE's tag is TRUNCATE TABLE, and USER and GROUP are
// other words for ROLE.
std::string command_tag_spelling(const std::string &operation) {
  static const std::pair<const char *, const char *> kAliases[] = {
      {"TRUNCATE", "TRUNCATE TABLE"}, {"ALTER USER", "ALTER ROLE"},  {"DROP USER", "DROP ROLE"},
      {"CREATE USER", "CREATE ROLE"}, {"ALTER GROUP", "ALTER ROLE"}, {"DROP GROUP", "DROP ROLE"},
      {"CREATE GROUP", "CREATE ROLE"},
  };
  for (const auto &[alias, tag] : kAliases)
    if (operation == alias) return tag;
  return operation;
}

}  // namespace

std::string normalize_operation(std::string_view text) {
  std::string operation;
  std::size_t words = 0;
  bool in_word = false;
  for (char c : text) {
    if (is_blank(c)) {
      in_word = false;
      continue;
    }
    if (!is_ascii_letter(c))
      refuse_operation(describe_character(c) + " is not allowed (only letters A-Z and spaces are)");
    if (!in_word) {
      if (words > 0) operation += ' ';
      ++words;
      in_word = true;
    }
    operation += ascii_upper(c);
  }
  if (words == 0) refuse_operation("must not be empty");
  if (words > kMaxOperationWords)
    refuse_operation("has " + std::to_string(words) + " words (at most " + std::to_string(kMaxOperationWords) + ")");
  return command_tag_spelling(operation);
}

ParsedPattern parse_stored_pattern(const Policy &policy) {
  try {
    return PatternParser(policy.object).parse();
  } catch (const Error &error) {
    corrupt_policy(policy, "object pattern", error);
  }
}

ObjectValues object_values(const ObjectName &object) {
  return {!object.schema.empty(), identifier_value(object.schema), identifier_value(object.name)};
}

int first_escaped(const PatternView *patterns, std::size_t count, const ObjectValues &object, bool object_is_schema,
                  bool leaves_schema) {
  int found = -1;
  for (std::size_t i = 0; i < count; ++i) {
    const PatternView &pattern = patterns[i];
    bool escaped = false;
    if (object_is_schema) {
      escaped = pattern.scope != Scope::Everything && pattern.schema == object.name;
    } else if (pattern.scope == Scope::Exact) {
      escaped = specificity(pattern, object) == 3;
    } else if (pattern.scope == Scope::WholeSchema) {
      escaped = leaves_schema && object.in_schema && pattern.schema == object.schema;
    }
    if (escaped && (found < 0 || pattern.id < patterns[found].id)) found = static_cast<int>(i);
  }
  return found;
}

int best_match(const PatternView *patterns, std::size_t count, const ObjectValues &object) {
  int best = -1;
  int best_specificity = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const int rank = specificity(patterns[i], object);
    if (rank > best_specificity || (rank != 0 && rank == best_specificity && patterns[i].id < patterns[best].id)) {
      best = static_cast<int>(i);
      best_specificity = rank;
    }
  }
  return best;
}

const Policy *escaped_by_renaming(const std::vector<Policy> &policies, const ObjectName &object,
                                  bool object_is_schema, bool leaves_schema) {
  std::vector<ParsedPattern> storage;
  std::vector<PatternView> views = views_of(policies, storage);
  int found = first_escaped(views.data(), views.size(), object_values(object), object_is_schema, leaves_schema);
  return found < 0 ? nullptr : &policies[found];
}

bool is_cluster_wide_operation(std::string_view operation) {
  static constexpr std::string_view kClusterWide[] = {
      "CREATE ROLE",     "ALTER ROLE",     "DROP ROLE",     "GRANT ROLE",       "REVOKE ROLE",
      "CREATE DATABASE", "ALTER DATABASE", "DROP DATABASE", "CREATE TABLESPACE", "ALTER TABLESPACE",
      "DROP TABLESPACE", "ALTER SYSTEM",
  };
  for (std::string_view cluster_wide : kClusterWide)
    if (operation == cluster_wide) return true;
  return false;
}

std::string normalize_pattern(std::string_view text) { return print_pattern(PatternParser(text).parse()); }

const Policy *match(const std::vector<Policy> &policies, std::string_view operation, const ObjectName &object) {
  const std::string wanted = normalize_operation(operation);
  std::vector<Policy> candidates;
  for (const Policy &policy : policies)
    if (stored_operation(policy) == wanted) candidates.push_back(policy);
  std::vector<ParsedPattern> storage;
  std::vector<PatternView> views = views_of(candidates, storage);
  int best = best_match(views.data(), views.size(), object_values(object));
  if (best < 0) return nullptr;
  for (const Policy &policy : policies)
    if (policy.id == candidates[best].id) return &policy;
  return nullptr;
}

}  // namespace mpa::policy
