# PGXS build of pg_mpa. `make`, `make install`, `make installcheck`;
# PG_CONFIG may be overridden (make PG_CONFIG=/path/to/pg_config).
# The full test suite (unit, regress, pgTAP, isolation, TAP) is test/run.

EXTENSION = pg_mpa
MODULE_big = pg_mpa

# The install script of the current version (pg_mpa.control's
# default_version) is made from the files of sql/install/, one per concept,
# in their order. The upgrade script to it from the version before is made
# too: the hand-written steps of sql/upgrade/PREVIOUS--CURRENT/ (table
# changes, drops), then every file of sql/install/ again, each statement of
# which can run again on objects that exist (CREATE OR REPLACE, IF NOT
# EXISTS; sql/upgrade/rerunnable.sh checks): the functions, views, triggers
# and privileges after an upgrade are those of a fresh install
# (sql/upgrade/README.md, test/tap/033_upgrade.pl). The scripts of released
# versions are kept as written: sql/pg_mpa--0.1.sql.
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" pg_mpa.control)
PREVIOUS_VERSION = 0.1
INSTALL_PARTS = $(sort $(wildcard sql/install/*.sql))
CURRENT_SCRIPT = sql/pg_mpa--$(EXTVERSION).sql
UPGRADE_STEPS = $(sort $(wildcard sql/upgrade/$(PREVIOUS_VERSION)--$(EXTVERSION)/*.sql))
UPGRADE_SCRIPT = sql/pg_mpa--$(PREVIOUS_VERSION)--$(EXTVERSION).sql
DATA = $(filter-out $(CURRENT_SCRIPT) $(UPGRADE_SCRIPT),$(wildcard sql/pg_mpa--*.sql))
DATA_built = $(CURRENT_SCRIPT) $(UPGRADE_SCRIPT)

# The SMTP transport (libcurl) is a library of its own, pg_mpa_smtp.so,
# which only the mail worker loads: every backend maps what the preloaded
# pg_mpa.so links, and libcurl's dependencies cost each new connection
# about 100 us of CPU time (docs/benchmarks.md).
# It is self-contained (-z defs): the retry rules it uses are linked into
# both libraries.
SMTP_ONLY_SOURCES = src/core/smtp_transport.cpp src/smtp_module/module.cpp
SMTP_OBJS = $(SMTP_ONLY_SOURCES:.cpp=.o) src/core/retry_policy.o
SMTP_MODULE = pg_mpa_smtp

CORE_SOURCES = $(filter-out $(SMTP_ONLY_SOURCES),$(wildcard src/core/*.cpp))
PG_SOURCES = $(wildcard src/pg/*/*.cpp)
OBJS = $(CORE_SOURCES:.cpp=.o) $(PG_SOURCES:.cpp=.o)

# `make installcheck` runs test/regress against a server that has the
# settings of test/regress/server.conf (README, "Tests against your
# server"); `make installcheck-temp` starts a temporary instance with them.
# Both test the installed pg_mpa (`make install` first) and need nothing
# else: the regression tests that need test/run's tools (the test probe
# extension, the SMTP test server's mailbox) are in test/regress_harness,
# which only test/run runs.
REGRESS = $(patsubst test/regress/sql/%.sql,%,$(wildcard test/regress/sql/*.sql))
REGRESS_OPTS = --inputdir=test/regress --load-extension=pg_mpa
REGRESS_SERVER_CONF = test/regress/server.conf
REGRESS_PREP = installcheck-server-check

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)

# The server is built with LLVM JIT support; our C++ needs no bitcode, and
# the clang that would produce it is not a build dependency.
override with_llvm := no

# Server headers as system headers: their warnings are not ours, and
# -Werror applies to our code only (GCC ignores -I for a dir also given as
# -isystem).
PG_CPPFLAGS = -Isrc -isystem $(shell $(PG_CONFIG) --includedir-server) -isystem $(shell $(PG_CONFIG) --includedir)/internal
# The version of the SQL objects this library is built with (the worker
# compares it with the installed extension's: docs/decisions.md, "Upgrades").
PG_CPPFLAGS += -DMPA_LIBRARY_VERSION='"$(EXTVERSION)"'
PG_CXXFLAGS = -std=c++17 -Wall -Wextra -Werror -Wno-missing-field-initializers
SHLIB_LINK = -lstdc++ -lcrypto

# The offline audit checker (tools/mpa_audit_check.cpp; README, "Retention
# and audit export"): the core's audit chain and nothing else, so the hashes
# an auditor recomputes are computed by the very code that chains them.
# Installed beside PostgreSQL's programs (pg_config --bindir).
AUDIT_CHECK = tools/mpa_audit_check
AUDIT_CHECK_OBJS = tools/mpa_audit_check.o src/core/audit_export.o src/core/json_string.o src/core/audit_chain.o src/core/sha256.o

EXTRA_CLEAN = $(OBJS) $(SMTP_OBJS) $(SMTP_MODULE)$(DLSUFFIX) $(AUDIT_CHECK) tools/mpa_audit_check.o

include $(PGXS)

# PGXS tracks no header dependencies here: rebuild everything when any header
# changes (a struct shared between files must never disagree).
$(OBJS) $(SMTP_OBJS) tools/mpa_audit_check.o: $(wildcard src/*/*.hpp src/*/*/*.hpp)

# The directories are prerequisites too: a file removed from one changes it.
$(CURRENT_SCRIPT): $(INSTALL_PARTS) sql/install pg_mpa.control sql/upgrade/rerunnable.sh
	sql/upgrade/rerunnable.sh $(INSTALL_PARTS)
	{ echo '-- pg_mpa $(EXTVERSION): multi-party approval of protected statements.'; \
	  echo '-- Made by make from sql/install/*.sql: edit those, not this file.'; \
	  printf '%s\n' '\echo Use "CREATE EXTENSION pg_mpa" to load this file. \quit'; \
	  for part in $(INSTALL_PARTS); do echo; echo "-- $$part"; cat $$part; done; } > $@

$(UPGRADE_SCRIPT): $(UPGRADE_STEPS) $(INSTALL_PARTS) sql/install sql/upgrade \
  $(wildcard sql/upgrade/$(PREVIOUS_VERSION)--$(EXTVERSION)) pg_mpa.control sql/upgrade/rerunnable.sh
	sql/upgrade/rerunnable.sh $(INSTALL_PARTS)
	{ echo '-- pg_mpa $(PREVIOUS_VERSION) to $(EXTVERSION) (ALTER EXTENSION pg_mpa UPDATE; docs/operations.md).'; \
	  echo '-- Made by make from sql/upgrade/$(PREVIOUS_VERSION)--$(EXTVERSION)/*.sql, then sql/install/*.sql again:'; \
	  echo '-- edit those, not this file (sql/upgrade/README.md).'; \
	  printf '%s\n' '\echo Use "ALTER EXTENSION pg_mpa UPDATE" to load this file. \quit'; \
	  for part in $(UPGRADE_STEPS) $(INSTALL_PARTS); do echo; echo "-- $$part"; cat $$part; done; } > $@

# pg_mpa_smtp.so, built and installed with pg_mpa.so (after the include, so
# that PGXS's targets stay the default).
all: $(SMTP_MODULE)$(DLSUFFIX)

$(SMTP_MODULE)$(DLSUFFIX): $(SMTP_OBJS)
	$(CXX) $(CXXFLAGS) $(LDFLAGS) $(LDFLAGS_SL) -shared -Wl,-z,defs -o $@ $(SMTP_OBJS) -lstdc++ -lcurl

install: install-smtp-module
install-smtp-module: $(SMTP_MODULE)$(DLSUFFIX) installdirs
	$(INSTALL_SHLIB) $(SMTP_MODULE)$(DLSUFFIX) '$(DESTDIR)$(pkglibdir)/'

uninstall: uninstall-smtp-module
uninstall-smtp-module:
	rm -f '$(DESTDIR)$(pkglibdir)/$(SMTP_MODULE)$(DLSUFFIX)'

all: $(AUDIT_CHECK)

$(AUDIT_CHECK): $(AUDIT_CHECK_OBJS)
	$(CXX) $(CXXFLAGS) $(LDFLAGS) -o $@ $(AUDIT_CHECK_OBJS) -lstdc++ -lcrypto

install: install-audit-check
install-audit-check: $(AUDIT_CHECK)
	$(MKDIR_P) '$(DESTDIR)$(bindir)'
	$(INSTALL_PROGRAM) $(AUDIT_CHECK) '$(DESTDIR)$(bindir)/'

uninstall: uninstall-audit-check
uninstall-audit-check:
	rm -f '$(DESTDIR)$(bindir)/mpa_audit_check'


# PGXS has no `make check` for extensions: this is its equivalent, on the
# installed pg_mpa (pg_regress runs initdb and the server as the user who
# runs make, so not as root).
installcheck-temp: submake
	$(pg_regress_installcheck) --temp-instance=./tmp_check --temp-config=$(REGRESS_SERVER_CONF) \
	  $(REGRESS_OPTS) $(REGRESS)

# Before `make installcheck`: the server must not make the tests' team
# govern pg_mpa, and the last run's database goes (test/regress/server_check.sql).
installcheck-server-check:
	'$(bindir)/psql' -X -q -d postgres -v dbname=$(CONTRIB_TESTDB) -f test/regress/server_check.sql

.PHONY: install-smtp-module uninstall-smtp-module install-audit-check uninstall-audit-check \
  installcheck-temp installcheck-server-check
