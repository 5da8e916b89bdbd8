# PGXS build of pg_mpa. `make`, `make install`, `make installcheck`;
# PG_CONFIG may be overridden (make PG_CONFIG=/path/to/pg_config).
# The full test suite (unit, regress, pgTAP, isolation, TAP) is test/run.

EXTENSION = pg_mpa
MODULE_big = pg_mpa
DATA = $(wildcard sql/pg_mpa--*.sql)

CORE_SOURCES = $(wildcard src/core/*.cpp)
PG_SOURCES = $(wildcard src/pg/*.cpp)
OBJS = $(CORE_SOURCES:.cpp=.o) $(PG_SOURCES:.cpp=.o)

REGRESS = $(patsubst sql/%.sql,%,$(filter-out sql/pg_mpa--%.sql,$(wildcard sql/*.sql)))
REGRESS_OPTS = --inputdir=. --load-extension=pg_mpa

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)

# The server is built with LLVM JIT support; our C++ needs no bitcode, and
# the clang that would produce it is not a build dependency.
override with_llvm := no

# Server headers as system headers: their warnings are not ours, and
# -Werror applies to our code only (GCC ignores -I for a dir also given as
# -isystem).
PG_CPPFLAGS = -Isrc -isystem $(shell $(PG_CONFIG) --includedir-server) -isystem $(shell $(PG_CONFIG) --includedir)/internal
PG_CXXFLAGS = -std=c++17 -Wall -Wextra -Werror -Wno-missing-field-initializers
SHLIB_LINK = -lstdc++ -lcurl -lcrypto

EXTRA_CLEAN = $(OBJS)

include $(PGXS)

# PGXS tracks no header dependencies here: rebuild everything when any header
# changes (a struct shared between files must never disagree).
$(OBJS): $(wildcard src/*/*.hpp)
