// Keeps one-time codes out of the server log (core/code_redaction.hpp).
#pragma once

namespace mpa::pg {

// Chains pg_mpa into emit_log_hook (from _PG_init).
void install_log_redaction();

}  // namespace mpa::pg
