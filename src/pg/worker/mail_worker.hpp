// The mail worker: one background worker per cluster, in mpa.database, that
// delivers mpa.outbox after commit (docs/decisions.md, "Mail").
#pragma once

namespace mpa::pg {

// Registers the worker with the postmaster (from _PG_init).
void register_mail_worker();

}  // namespace mpa::pg
