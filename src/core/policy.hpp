// Which policy governs a statement: protected operations (PostgreSQL command
// tags such as "DROP TABLE") on object patterns ("*", "schema.*",
// "schema.name", or a bare "name" for objects outside schemas), and the
// choice of the most specific one when several apply.
//
// Patterns are compared by identifier value, not by spelling: "Public"."T"
// style quoting, PostgreSQL's folding of unquoted names, and the way
// quote_identifier prints a name (it also quotes keywords, and everything
// under quote_all_identifiers) cannot make a protected object slip past its
// policy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mpa::policy {

// The longest identifier PostgreSQL keeps (NAMEDATALEN - 1), in bytes.
inline constexpr std::size_t kMaxIdentifierBytes = 63;
inline constexpr std::size_t kMaxOperationWords = 5;

// An object a statement touches, each part as PostgreSQL's quote_identifier
// prints it; schema empty for objects outside schemas (roles, databases,
// tablespaces, settings).
struct ObjectName {
  std::string schema;
  std::string name;
};

// A row of mpa.policies: operation and object as normalize_operation and
// normalize_pattern return them.
struct Policy {
  std::int64_t id;
  std::string operation;
  std::string object;
  std::string team;
};

// "drop  table" -> "DROP TABLE": trims, collapses runs of spaces and tabs to
// one space, upper-cases ASCII letters; the result must be 1 to 5 words of
// letters A-Z. Spellings PostgreSQL tags differently become the tag:
// TRUNCATE -> TRUNCATE TABLE, ALTER/DROP/CREATE USER or GROUP -> … ROLE.
// Throws mpa::Error (22023) naming the problem otherwise.
std::string normalize_operation(std::string_view text);

// A policy (on any operation) that renaming or moving `object` would escape,
// since policies name objects: one naming it exactly; when it leaves its
// schema (SET SCHEMA), also one on its whole schema; when it is a schema
// (object.schema empty, object.name the schema), any policy inside it.
// '*' patterns are never escaped. nullptr if none; the smallest id wins.
const Policy *escaped_by_renaming(const std::vector<Policy> &policies, const ObjectName &object,
                                  bool object_is_schema, bool leaves_schema);

// A stored pattern parsed once, so that many objects can be matched against
// many policies without parsing again (the policy cache parses every policy
// when it loads). schema and name are identifier values (unquoted,
// unescaped): schema is empty for "*" and bare names, name for "*" and
// "schema.*".
enum class Scope { Everything, WholeSchema, Exact };
struct ParsedPattern {
  Scope scope;
  std::string schema;
  std::string name;
};
// Throws mpa::Error (XX000) when the stored pattern is invalid.
ParsedPattern parse_stored_pattern(const Policy &policy);

// A parsed pattern whose strings live elsewhere (in the cache's memory).
struct PatternView {
  std::int64_t id;
  Scope scope;
  std::string_view schema;
  std::string_view name;
};

// An object's parts as identifier values, for matching.
struct ObjectValues {
  bool in_schema;
  std::string schema;
  std::string name;
};
ObjectValues object_values(const ObjectName &object);

// The index in `patterns` (all of one operation) of the pattern that governs
// `object`, by the rules of match() below, or -1.
int best_match(const PatternView *patterns, std::size_t count, const ObjectValues &object);

// The index in `patterns` of the pattern renaming or moving `object` would
// escape, by the rules of escaped_by_renaming(), or -1.
int first_escaped(const PatternView *patterns, std::size_t count, const ObjectValues &object, bool object_is_schema,
                  bool leaves_schema);

// Whether a (normalised) operation acts on objects shared by the whole
// cluster (roles, databases, tablespaces, server settings), so that it can
// be run from any database and must be gated in every one.
bool is_cluster_wide_operation(std::string_view operation);

// Validates an object pattern and returns its canonical form.
// Accepted: "*", "schema.*", "schema.name", and a bare "name" (which only
// ever matches objects outside schemas). Each identifier is either unquoted,
// [A-Za-z_][A-Za-z0-9_$]*, which is lower-cased as PostgreSQL folds it, or
// double-quoted with "" standing for a quote, which is kept as written
// (non-ASCII names must be quoted). Spaces and tabs around identifiers and
// the dot are ignored; line breaks and NUL are refused anywhere. Identifiers
// are 1 to 63 bytes.
// The canonical form prints an identifier bare when it is [a-z_][a-z0-9_]*
// (quote_identifier's rule) and double-quoted otherwise; unlike
// quote_identifier it does not quote keywords ("select.*"), which is
// harmless since matching compares values, not spellings.
// Throws mpa::Error (22023) naming the problem otherwise.
std::string normalize_pattern(std::string_view text);

// The policy for `operation` on `object`, or nullptr if none applies.
// Only policies whose operation equals `operation` (both normalised) count.
// An exact "schema.name" (or, for objects outside schemas, an exact bare
// "name") beats "schema.*", which beats "*"; among equally specific ones the
// smallest id wins. "schema.*" and "schema.name" never match objects outside
// schemas, and a bare "name" never matches an object inside one.
// Throws mpa::Error (22023) for an invalid `operation`, and XX000 when a
// stored policy's operation or object is invalid: failing closed rather
// than letting a corrupt row unprotect anything.
const Policy *match(const std::vector<Policy> &policies, std::string_view operation, const ObjectName &object);

}  // namespace mpa::policy
