// The gate behind the gate: a protected object dropped or truncated by a
// statement that does not name it (DROP SCHEMA … CASCADE, DROP OWNED,
// DROP EXTENSION of an owning extension, TRUNCATE of a partitioned or
// inherited parent) is caught where PostgreSQL drops or truncates it, through
// the object access hook, and refused like the statement naming it would be.
#pragma once

#include "pg/boundary/postgres.hpp"

extern "C" {
#include "catalog/objectaccess.h"
}

namespace mpa::pg {

// For OAT_DROP and OAT_TRUNCATE events, outside pg_mpa's own code and outside
// a statement the gate let through as approved. PostgreSQL-style.
void gate_indirect_change(ObjectAccessType access, Oid class_id, Oid object_id, int sub_id, void *arg);

}  // namespace mpa::pg
