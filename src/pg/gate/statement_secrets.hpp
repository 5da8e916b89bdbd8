// Secrets in statement text that pg_mpa knows the shape of: a role's
// password in clear text, a password among a user mapping's or a foreign
// server's options, a password in a subscription's connection string.
// mpa.requests and mpa.audit are readable by every role and requests are
// mailed to approvers: a request carrying one is refused (describe), and a
// refused statement is audited with each one masked
// (docs/decisions.md, "Secrets in statements"). Read from the parse tree.
// Only requests and refusals call these: no statement pays for them.
#pragma once

#include "pg/boundary/postgres.hpp"

extern "C" {
#include "nodes/nodes.h"
}

namespace mpa::pg {

struct StatementSecret {
  const char *what;  // "a role password in clear text", ...
  const char *hint;  // how to ask for the same thing without it
};

// The secret `statement` (a parse tree) carries, or nullptr. A role
// password that is a SCRAM-SHA-256 verifier is no clear text; an MD5 one
// counts as one (with md5 authentication it logs in as well as the
// password). PostgreSQL-style.
const StatementSecret *secret_in_statement(Node *statement);

// Refuses a request of `statement` if it carries a secret (MP007, nothing
// recorded). PostgreSQL-style.
void refuse_request_with_secret(Node *statement);

// `text` with the literal of every password the statements parsed from it
// give (role passwords, verifiers included; password options; connection
// strings with a password) replaced by '********'; `text` itself when it
// gives none; nullptr when it cannot be parsed (the caller then records no
// text). PostgreSQL-style; never raises for the text.
const char *text_without_secrets(const char *text);

}  // namespace mpa::pg
