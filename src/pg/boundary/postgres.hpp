// The one door through which PostgreSQL's C headers enter pg_mpa's C++.
// Every file in src/pg/ includes this instead of the server headers, so they
// are always seen inside extern "C" and in the right order.
#pragma once

extern "C" {
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/elog.h"
#include "utils/memutils.h"
}
