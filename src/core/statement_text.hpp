// The canonical text of a statement, and its fingerprint.
//
// An approval is for one statement, identified by the fingerprint of its
// normalised text: the requester may re-run "the identical statement" and the
// gate recognises it, while anything that means something else must not pass
// for it. So normalisation folds only differences PostgreSQL's lexer itself
// ignores (case of unquoted words, whitespace, comments), keeps every literal
// and quoted identifier byte for byte, and where in doubt keeps a difference
// (two spellings then simply need two approvals).
//
// Lexing follows PostgreSQL's scanner (scan.l) with
// standard_conforming_strings = on, the default since 9.1: in a plain '...'
// string a backslash is an ordinary character. With the setting off, '\''
// would be a different token sequence, so the caller must not fingerprint
// statements from a session that turned it off.
#pragma once

#include <string>
#include <string_view>

namespace mpa::sql {

// The canonical text of one SQL statement:
//   - -- and (nested) /* */ comments are removed and count as whitespace;
//   - runs of whitespace between tokens become one space, or nothing next to
//     ( ) , ; . = when the two tokens cannot merge (so "a = b" and "a=b" are
//     alike, but "a = ~b" keeps its space, since "=~" is another operator);
//   - ASCII letters of unquoted words, numbers and keywords are lower-cased;
//     bytes >= 0x80 (identifier characters to PostgreSQL) are kept as they are;
//   - '...', E'...', N'...', B'...', X'...', U&'...' strings, "..." and
//     U&"..." identifiers and $tag$...$tag$ strings are kept byte for byte;
//     only the letters of a string prefix (E, N, B, X, U&) are lower-cased,
//     and the line break that continues a string ('ab'<newline>'cd') is
//     written as a single "\n";
//   - leading whitespace and trailing semicolons and whitespace are dropped.
// Idempotent: normalize_statement(normalize_statement(s)) == normalize_statement(s).
// Linear in the length of `sql`.
// Throws mpa::Error 42601 for an unterminated string, quoted identifier or
// comment, and 22023 when nothing but whitespace, comments and semicolons
// remains.
std::string normalize_statement(std::string_view sql);

// Lower-case hex SHA-256 of `normalized` (the output of normalize_statement).
std::string fingerprint(std::string_view normalized);

}  // namespace mpa::sql
