// pg_mpa protects its own tables: nothing but pg_mpa writes them. A direct
// INSERT, UPDATE, DELETE, COPY FROM or TRUNCATE on a table in schema mpa is
// refused, also for superusers; pg_mpa's own functions, its internal SQL and
// its worker are trusted. (First part of the self-protection issue: DDL on
// pg_mpa's objects, settings and the other routes are not closed yet.)
#pragma once

namespace mpa::pg {

// Chains the executor permission, function manager and object access hooks
// (from _PG_init).
void install_self_protection();

// Marks the running code as pg_mpa's own for a while (balanced calls).
void enter_trusted_code();
void leave_trusted_code();

// The mail worker is pg_mpa's own for its whole life.
void trust_this_process();

}  // namespace mpa::pg
