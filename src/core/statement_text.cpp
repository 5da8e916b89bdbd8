#include "core/statement_text.hpp"


#include <optional>

#include "core/error.hpp"
#include "core/sha256.hpp"

namespace mpa::sql {
namespace {

constexpr const char *kSyntaxError = "42601";

// What the spacing rules need to know about a token.
enum class TokenKind {
  Word,              // identifier or keyword, unquoted
  QuotedIdentifier,  // "..." or U&"..."
  Literal,           // any quoted or dollar-quoted string, with its prefix
  Number,
  Parameter,  // $1
  Operator,
  Punctuation,  // ( ) , ; . and a lone =
  Other,        // any other single byte, and ".."
};

struct Token {
  TokenKind kind;
  char first;  // first and last byte of the token as written
  char last;
  bool single_byte;

  bool is_punctuation(char c) const { return kind == TokenKind::Punctuation && first == c; }
};

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_newline(char c) { return c == '\n' || c == '\r'; }
bool is_horizontal_space(char c) { return c == ' ' || c == '\t' || c == '\f' || c == '\v'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_high_bit(char c) { return static_cast<unsigned char>(c) >= 0x80; }
// scan.l: ident_start / dolq_start, ident_cont, dolq_cont.
bool is_identifier_start(char c) { return is_ascii_letter(c) || c == '_' || is_high_bit(c); }
bool is_identifier_char(char c) { return is_identifier_start(c) || is_digit(c) || c == '$'; }
bool is_dollar_tag_char(char c) { return is_identifier_start(c) || is_digit(c); }
bool is_operator_char(char c) {
  constexpr std::string_view kOperatorChars = "~!@#^&|`?+-*/%<>=";
  return kOperatorChars.find(c) != std::string_view::npos;
}
char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Whether the space between two tokens can go without changing how the text
// lexes. Only next to ( ) , ; . = and only when the two cannot merge: "="
// joins neighbouring operator characters ("=~", "<=") and ":" (":="); "."
// joins digits ("1.", ".5"), another dot (".."), and is kept apart from
// everything but names, other punctuation and "*" ("t.*").
bool can_touch(const Token &left, const Token &right) {
  if (left.kind != TokenKind::Punctuation && right.kind != TokenKind::Punctuation) return false;
  auto extends_equals = [](char c) { return is_operator_char(c) || c == ':'; };
  if (left.is_punctuation('=') && extends_equals(right.first)) return false;
  if (right.is_punctuation('=') && extends_equals(left.last)) return false;
  auto may_touch_dot = [](const Token &other) {
    return other.kind == TokenKind::Word || other.kind == TokenKind::QuotedIdentifier ||
           (other.kind == TokenKind::Punctuation && other.first != '.') ||
           (other.kind == TokenKind::Operator && other.single_byte && other.first == '*');
  };
  if (left.is_punctuation('.') && !may_touch_dot(right)) return false;
  if (right.is_punctuation('.') && !may_touch_dot(left)) return false;
  return true;
}

class Normalizer {
 public:
  explicit Normalizer(std::string_view sql) : sql_(sql) { out_.reserve(sql.size()); }

  std::string run() {
    std::optional<Token> previous;
    std::string text;
    while (true) {
      const bool spaced = skip_space_and_comments();
      if (at_end()) break;
      text.clear();
      const Token token = scan_token(text);
      if (previous && spaced && !can_touch(*previous, token)) out_ += ' ';
      out_ += text;
      previous = token;
    }
    // Only a ";" token ends in ';' and only a separator is a ' ', so this
    // drops exactly the trailing semicolons and the spaces between them.
    while (!out_.empty() && (out_.back() == ';' || out_.back() == ' ')) out_.pop_back();
    if (out_.empty())
      throw Error(sqlstate::kInvalidParameterValue,
                  "statement is empty (nothing but whitespace, comments and semicolons)");
    return std::move(out_);
  }

 private:
  bool at_end() const { return pos_ >= sql_.size(); }
  char peek(std::size_t ahead = 0) const { return pos_ + ahead < sql_.size() ? sql_[pos_ + ahead] : '\0'; }
  bool looking_at(std::string_view text) const { return sql_.substr(pos_, text.size()) == text; }

  [[noreturn]] void unterminated(const char *what, std::size_t start) const {
    throw Error(kSyntaxError, std::string("unterminated ") + what + " in statement",
                "It starts at byte " + std::to_string(start) + " of the statement.");
  }

  // Returns whether anything was skipped.
  bool skip_space_and_comments() {
    const std::size_t start = pos_;
    while (!at_end()) {
      if (is_space(peek())) {
        ++pos_;
      } else if (looking_at("--")) {
        skip_line_comment();
      } else if (looking_at("/*")) {
        skip_block_comment();
      } else {
        break;
      }
    }
    return pos_ != start;
  }

  void skip_line_comment() {
    while (!at_end() && !is_newline(peek())) ++pos_;
  }

  // Block comments nest; "/*" and "*/" are recognised left to right, as
  // scan.l does ("/*/" opens, "**/" closes).
  void skip_block_comment() {
    const std::size_t start = pos_;
    std::size_t depth = 0;
    while (!at_end()) {
      if (looking_at("/*")) {
        ++depth;
        pos_ += 2;
      } else if (looking_at("*/")) {
        pos_ += 2;
        if (--depth == 0) return;
      } else {
        ++pos_;
      }
    }
    unterminated("/* comment", start);
  }

  // Appends the token at pos_ (never whitespace or a comment) to `text`.
  Token scan_token(std::string &text) {
    const char c = peek();
    const char next = peek(1);
    if (c == '\'') return scan_string("", false, text);
    if ((c == 'e' || c == 'E') && next == '\'') return scan_string("e", true, text);
    if ((c == 'n' || c == 'N' || c == 'b' || c == 'B' || c == 'x' || c == 'X') && next == '\'')
      return scan_string(std::string(1, ascii_lower(c)), false, text);
    if ((c == 'u' || c == 'U') && next == '&' && peek(2) == '\'') return scan_string("u&", false, text);
    if ((c == 'u' || c == 'U') && next == '&' && peek(2) == '"') return scan_quoted_identifier("u&", text);
    if (c == '"') return scan_quoted_identifier("", text);
    if (c == '$') return scan_dollar(text);
    if (is_digit(c) || (c == '.' && is_digit(next))) return scan_number(text);
    if (c == '.' && next == '.') return copy_lowered(2, TokenKind::Other, text);
    if (is_identifier_start(c)) return scan_word(text);
    if (c == '(' || c == ')' || c == ',' || c == ';' || c == '.')
      return copy_lowered(1, TokenKind::Punctuation, text);
    if (is_operator_char(c)) return scan_operator(text);
    return copy_lowered(1, TokenKind::Other, text);
  }

  Token copy_lowered(std::size_t length, TokenKind kind, std::string &text) {
    for (std::size_t i = 0; i < length; ++i) text += ascii_lower(sql_[pos_ + i]);
    pos_ += length;
    return finish(kind, text);
  }

  static Token finish(TokenKind kind, const std::string &text) {
    return {kind, text.front(), text.back(), text.size() == 1};
  }

  Token scan_word(std::string &text) {
    std::size_t end = pos_;
    while (end < sql_.size() && is_identifier_char(sql_[end])) ++end;
    return copy_lowered(end - pos_, TokenKind::Word, text);
  }

  // Digits, letters and underscores (exponents, 0x..., 1_000, and the
  // trailing junk PostgreSQL rejects), with at most one '.' that does not
  // start "..". Taking too much into a number is harmless: the spacing rules
  // never look inside a token.
  Token scan_number(std::string &text) {
    std::size_t end = pos_;
    bool seen_dot = false;
    while (end < sql_.size()) {
      const char c = sql_[end];
      if (c == '.') {
        if (seen_dot || (end + 1 < sql_.size() && sql_[end + 1] == '.')) break;
        seen_dot = true;
      } else if (!is_digit(c) && !is_ascii_letter(c) && c != '_') {
        break;
      }
      ++end;
    }
    return copy_lowered(end - pos_, TokenKind::Number, text);
  }

  // Operator characters, up to (not including) a "--" or "/*", which start a
  // comment even inside an operator. A lone "=" is punctuation.
  Token scan_operator(std::string &text) {
    std::size_t end = pos_ + 1;
    while (end < sql_.size() && is_operator_char(sql_[end])) {
      const std::string_view pair = sql_.substr(end, 2);
      if (pair == "--" || pair == "/*") break;
      ++end;
    }
    const bool lone_equals = end == pos_ + 1 && peek() == '=';
    return copy_lowered(end - pos_, lone_equals ? TokenKind::Punctuation : TokenKind::Operator, text);
  }

  // At a '$': a parameter ($1), a dollar-quoted string, or a lone '$'.
  Token scan_dollar(std::string &text) {
    if (is_digit(peek(1))) {
      std::size_t end = pos_ + 1;
      while (end < sql_.size() && (is_dollar_tag_char(sql_[end]))) ++end;
      return copy_lowered(end - pos_, TokenKind::Parameter, text);
    }
    std::size_t tag_end = pos_ + 1;
    if (tag_end < sql_.size() && is_identifier_start(sql_[tag_end]))
      while (tag_end < sql_.size() && is_dollar_tag_char(sql_[tag_end])) ++tag_end;
    if (tag_end >= sql_.size() || sql_[tag_end] != '$') return copy_lowered(1, TokenKind::Other, text);

    const std::string_view delimiter = sql_.substr(pos_, tag_end + 1 - pos_);
    const std::size_t body = tag_end + 1;
    const std::size_t close = find_dollar_delimiter(delimiter, body);
    if (close == std::string_view::npos) unterminated("dollar-quoted string", pos_);
    const std::size_t end = close + delimiter.size();
    text.append(sql_.substr(pos_, end - pos_));
    pos_ = end;
    return finish(TokenKind::Literal, text);
  }

  // The first "$tag$" at or after `from`. Linear: the tag holds no '$', so a
  // comparison that starts at one '$' fails by the next one at the latest.
  std::size_t find_dollar_delimiter(std::string_view delimiter, std::size_t from) const {
    for (std::size_t at = sql_.find('$', from); at != std::string_view::npos; at = sql_.find('$', at + 1)) {
      std::size_t matched = 1;
      while (matched < delimiter.size() && at + matched < sql_.size() && sql_[at + matched] == delimiter[matched])
        ++matched;
      if (matched == delimiter.size()) return at;
    }
    return std::string_view::npos;
  }

  // A quoted string after its prefix: '' stands for a quote, and with
  // backslash escapes (E'...') a backslash takes the next byte whatever it
  // is. Segments continued on another line ('ab'<newline>'cd', scan.l's
  // quotecontinue) belong to the same string and are joined by "\n".
  Token scan_string(const std::string &prefix, bool backslash_escapes, std::string &text) {
    const std::size_t start = pos_;
    text += prefix;
    pos_ += prefix.size();  // "e", "n", "b", "x" or "u&": as long as the spelling in the input
    while (true) {
      std::size_t at = pos_ + 1;
      while (true) {
        if (at >= sql_.size()) unterminated("quoted string", start);
        const char c = sql_[at];
        if (backslash_escapes && c == '\\') {
          at += 2;
        } else if (c == '\'') {
          if (at + 1 < sql_.size() && sql_[at + 1] == '\'') {
            at += 2;
          } else {
            break;
          }
        } else {
          ++at;
        }
      }
      text.append(sql_.substr(pos_, at + 1 - pos_));
      pos_ = at + 1;
      const std::size_t continued = continuation_quote();
      if (continued == std::string_view::npos) break;
      text += '\n';
      pos_ = continued;
    }
    return finish(TokenKind::Literal, text);
  }

  // After a closing quote: the position of the quote that continues the
  // string, or npos. scan.l: horizontal space and -- comments, a line break,
  // then any spaces or -- comments each ended by a line break, then a quote.
  std::size_t continuation_quote() const {
    std::size_t at = pos_;
    auto skip_line_comment_at = [&] {
      while (at < sql_.size() && !is_newline(sql_[at])) ++at;
    };
    auto comment_at = [&] { return sql_.substr(at, 2) == "--"; };
    while (at < sql_.size() && (is_horizontal_space(sql_[at]) || comment_at())) {
      if (comment_at()) {
        skip_line_comment_at();
      } else {
        ++at;
      }
    }
    if (at >= sql_.size() || !is_newline(sql_[at])) return std::string_view::npos;
    while (at < sql_.size() && (is_space(sql_[at]) || comment_at())) {
      if (comment_at()) {
        skip_line_comment_at();
        if (at >= sql_.size()) return std::string_view::npos;
      }
      ++at;
    }
    return at < sql_.size() && sql_[at] == '\'' ? at : std::string_view::npos;
  }

  Token scan_quoted_identifier(const std::string &prefix, std::string &text) {
    const std::size_t start = pos_;
    text += prefix;
    pos_ += prefix.size();
    std::size_t at = pos_ + 1;
    while (true) {
      at = sql_.find('"', at);
      if (at == std::string_view::npos) unterminated("quoted identifier", start);
      if (at + 1 < sql_.size() && sql_[at + 1] == '"') {
        at += 2;
      } else {
        break;
      }
    }
    text.append(sql_.substr(pos_, at + 1 - pos_));
    pos_ = at + 1;
    return finish(TokenKind::QuotedIdentifier, text);
  }

  std::string_view sql_;
  std::size_t pos_ = 0;
  std::string out_;
};

}  // namespace

std::string normalize_statement(std::string_view sql) { return Normalizer(sql).run(); }

std::string fingerprint(std::string_view normalized) {
  return sha256_hex(normalized, "the statement fingerprint");
}

}  // namespace mpa::sql
