// Every hook pg_mpa installs, in one place: install_hooks() registers them
// all, and each hook function here chains the hook installed before
// pg_mpa's and names the rules it applies (docs/architecture.md, "Hooks and
// what each refuses"). The rules live with their parts: the gate
// (src/pg/gate/), self-protection (src/pg/protection/), the log redaction
// (src/pg/approval/), shared memory (src/pg/shared/).
#pragma once

namespace mpa::pg {

// From _PG_init, while shared_preload_libraries are processed.
void install_hooks();

}  // namespace mpa::pg
