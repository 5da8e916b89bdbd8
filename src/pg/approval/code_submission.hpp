// A submitted code is spent: a code that reached pg_mpa (mpa_verify,
// mpa_confirm_email) is dead unless its check ran, where it is either a
// wrong try (counted, never refunded) or accepted (spent at once). A call
// that ends before its check (cancelled while it waited on a lock, timed
// out, terminated, rolled back by an error) burns every code of that
// approver opened until then: the code was visible meanwhile (in
// pg_stat_activity, to whoever held the lock) and must not be usable later.
//
// The mark is taken before anything that can wait on a lock or a table, by
// the first statement of the public function; the burn is written by the
// transaction's (or savepoint's) abort, in shared memory, so nothing the
// caller does undoes it. The approver asks for a new code.
#pragma once

#include "pg/boundary/postgres.hpp"

namespace mpa::pg {

// The session role submitted a code in this (sub)transaction.
void note_code_submitted();

// The submitted code reached its check, or provably matched no open code
// (no such request, no code waiting): an abort need not burn anything.
void settle_code_submission();

// An error is being reported in a statement that enters a code (the log
// hook saw its text): unless its code reached its check, the approver's
// codes burn at the abort that follows. This covers a statement stopped
// before pg_mpa's own code ran (waiting on a catalog lock while its
// function was looked up, then cancelled).
void code_entry_failed();

// Whether a code was submitted in the current transaction: the log hook
// then blanks every six-digit run of every line until it ends, whatever
// logs it (auto_explain or pgaudit logging pg_mpa's nested statements with
// their parameters, under a top-level text that does not name the call).
bool code_entered_in_this_transaction();

// When the approver's codes were last burned (0 if never): a code opened
// at or before it is dead.
TimestampTz codes_burned_at(Oid approver);

}  // namespace mpa::pg
