#include "pg/gate/statement_secrets.hpp"

#include <cstring>

#include "core/conninfo.hpp"
#include "pg/boundary/guard.hpp"
#include "pg/boundary/sqlstates.hpp"

extern "C" {
#include "common/keywords.h"
#include "lib/stringinfo.h"
#include "libpq/crypt.h"
#include "nodes/parsenodes.h"
#include "nodes/value.h"
#include "parser/parser.h"
#include "parser/scanner.h"
#include "parser/gram.h"  // after scanner.h, which it needs
#include "parser/scansup.h"
#include "utils/formatting.h"
}

namespace mpa::pg {
namespace {

// The hints say what works instead; docs/decisions.md, "Secrets in
// statements", has the recipes.
const StatementSecret kRolePassword{
    "a role password in clear text",
    "Request it with the password's SCRAM-SHA-256 verifier in its place: PASSWORD "
    "'SCRAM-SHA-256$4096:...'. Compute the verifier on the client with libpq's PQencryptPasswordConn "
    "(psycopg: conn.pgconn.encrypt_password(b'password', b'role', b'scram-sha-256')); the README "
    "(\"Passwords in requests\") shows other ways."};
const StatementSecret kOptionPassword{
    "a password among its options",
    "Request it without the password option; the connection can take the password from the server's "
    "password file (~/.pgpass of the server's operating system user), or use certificate authentication."};
const StatementSecret kConnectionPassword{
    "a password in its connection string",
    "Request it with a connection string without the password; the subscriber's server reads it from its "
    "password file (~/.pgpass of the server's operating system user), or use certificate authentication."};

// A role's PASSWORD option with a value (PASSWORD NULL has none).
bool is_role_password(const DefElem *option) {
  return strcmp(option->defname, "password") == 0 && option->arg != nullptr && IsA(option->arg, String);
}

// An FDW option named like a password ("password", "sslpassword", any
// case), with a value; password_required is a switch, not a secret.
bool is_password_option(const DefElem *option) {
  if (option->arg == nullptr || pg_strcasecmp(option->defname, "password_required") == 0) return false;
  char *lower = asc_tolower(option->defname, strlen(option->defname));
  return strstr(lower, "password") != nullptr;
}

List *role_options(Node *statement) {
  if (IsA(statement, CreateRoleStmt)) return castNode(CreateRoleStmt, statement)->options;
  if (IsA(statement, AlterRoleStmt)) return castNode(AlterRoleStmt, statement)->options;
  return NIL;
}

List *fdw_options(Node *statement) {
  switch (nodeTag(statement)) {
    case T_CreateUserMappingStmt: return castNode(CreateUserMappingStmt, statement)->options;
    case T_AlterUserMappingStmt: return castNode(AlterUserMappingStmt, statement)->options;
    case T_CreateForeignServerStmt: return castNode(CreateForeignServerStmt, statement)->options;
    case T_AlterForeignServerStmt: return castNode(AlterForeignServerStmt, statement)->options;
    default: return NIL;
  }
}

// A subscription's connection string, or nullptr.
const char *subscription_conninfo(Node *statement) {
  if (IsA(statement, CreateSubscriptionStmt)) return castNode(CreateSubscriptionStmt, statement)->conninfo;
  if (IsA(statement, AlterSubscriptionStmt) &&
      castNode(AlterSubscriptionStmt, statement)->kind == ALTER_SUBSCRIPTION_CONNECTION)
    return castNode(AlterSubscriptionStmt, statement)->conninfo;
  return nullptr;
}

bool conninfo_has_password(const char *conninfo) {
  return run_cpp([conninfo] { return mpa::conninfo::has_password(conninfo); });
}

// A span of the text to mask: [from, to).
struct Span {
  int from;
  int to;
};

// The first string constant of `text` at or after byte `offset` (after the
// keyword `keyword` when given), found with PostgreSQL's own scanner (so
// E'', $$ and U&'' strings, comments and continuations are read as the
// parser read them). false when there is none.
bool literal_at(const char *text, int offset, const char *keyword, Span *span) {
  core_yy_extra_type extra;
  core_YYSTYPE value;
  YYLTYPE location;
  core_yyscan_t scanner = scanner_init(text + offset, &extra, &ScanKeywords, ScanKeywordTokens);
  int keyword_token = keyword != nullptr ? ScanKeywordTokens[ScanKeywordLookup(keyword, &ScanKeywords)] : 0;
  bool found = false;
  bool after_keyword = keyword == nullptr;
  for (int token; (token = core_yylex(&value, &location, scanner)) != 0;) {
    if (found) {
      span->to = offset + location;  // the next token's start
      break;
    }
    if (!after_keyword) {
      after_keyword = token == keyword_token;
      continue;
    }
    if (token == SCONST || token == USCONST) {
      found = true;
      span->from = offset + location;
      span->to = static_cast<int>(strlen(text));
    }
  }
  scanner_finish(scanner);
  if (!found) return false;
  while (span->to > span->from && scanner_isspace(text[span->to - 1])) span->to--;
  return true;
}

// The spans of `statement` (parsed from `text`, starting at `start`) to mask.
void secret_spans(Node *statement, const char *text, int start, List **spans) {
  auto add = [spans](const Span &span) {
    Span *copy = static_cast<Span *>(palloc(sizeof(Span)));
    *copy = span;
    *spans = lappend(*spans, copy);
  };
  Span span;
  ListCell *cell;
  foreach (cell, role_options(statement)) {
    auto *option = lfirst_node(DefElem, cell);
    if (is_role_password(option) && literal_at(text, option->location, nullptr, &span)) add(span);
  }
  foreach (cell, fdw_options(statement)) {
    auto *option = lfirst_node(DefElem, cell);
    if (is_password_option(option) && literal_at(text, option->location, nullptr, &span)) add(span);
  }
  const char *conninfo = subscription_conninfo(statement);
  if (conninfo != nullptr && conninfo_has_password(conninfo) && literal_at(text, start, "connection", &span))
    add(span);
}

int by_start(const ListCell *a, const ListCell *b) {
  return static_cast<const Span *>(lfirst(a))->from - static_cast<const Span *>(lfirst(b))->from;
}

}  // namespace

const StatementSecret *secret_in_statement(Node *statement) {
  ListCell *cell;
  foreach (cell, role_options(statement)) {
    auto *option = lfirst_node(DefElem, cell);
    if (is_role_password(option) && get_password_type(strVal(option->arg)) != PASSWORD_TYPE_SCRAM_SHA_256)
      return &kRolePassword;
  }
  foreach (cell, fdw_options(statement)) {
    if (is_password_option(lfirst_node(DefElem, cell))) return &kOptionPassword;
  }
  const char *conninfo = subscription_conninfo(statement);
  if (conninfo != nullptr && conninfo_has_password(conninfo)) return &kConnectionPassword;
  return nullptr;
}

void refuse_request_with_secret(Node *statement) {
  const StatementSecret *secret = secret_in_statement(statement);
  if (secret == nullptr) return;
  // Nothing is recorded yet: the error leaves no request, audit entry or mail.
  ereport(ERROR, (errcode(sqlstates::kNotAsWritten), errmsg("a request cannot carry %s", secret->what),
                  errdetail("Requests are readable by every role and mailed to the approvers."),
                  errhint("%s", secret->hint)));
}

const char *text_without_secrets(const char *text) {
  if (text == nullptr) return nullptr;
  MemoryContext caller = CurrentMemoryContext;
  List *volatile spans = NIL;
  volatile bool parsed = true;
  PG_TRY();
  {
    List *statements = raw_parser(text, RAW_PARSE_DEFAULT);
    List *found = NIL;
    ListCell *cell;
    foreach (cell, statements) {
      auto *raw = lfirst_node(RawStmt, cell);
      secret_spans(raw->stmt, text, raw->stmt_location, &found);
    }
    spans = found;
  }
  PG_CATCH();
  {
    // The text was parsed before it was refused; if it no longer parses
    // (another parser's text), nothing of it is recorded.
    MemoryContextSwitchTo(caller);
    FlushErrorState();
    parsed = false;
  }
  PG_END_TRY();
  if (!parsed) return nullptr;
  if (spans == NIL) return text;
  List *sorted = spans;
  list_sort(sorted, by_start);
  StringInfoData out;
  initStringInfo(&out);
  int at = 0;
  ListCell *cell;
  foreach (cell, sorted) {
    const Span *span = static_cast<const Span *>(lfirst(cell));
    if (span->from < at) continue;  // overlapping: already masked
    appendBinaryStringInfo(&out, text + at, span->from - at);
    appendStringInfoString(&out, "'********'");
    at = span->to;
  }
  appendStringInfoString(&out, text + at);
  return out.data;
}

}  // namespace mpa::pg
