# Shell helpers of the benchmarks (source after test/lib/cluster.sh).
#
# The comparisons "with" and "without pg_mpa" run on one cluster, set up once
# with pg_mpa (extension, team, 1,000 policies, governed, pgbench tables)
# and restarted with and without pg_mpa in shared_preload_libraries before
# every measured run. (Two identical copies side by side, the first design,
# differed by up to 11% in A/A runs: see docs/benchmarks.md.)

BENCH_DB=mpa_bench
# A second database of the benchmark cluster, without pg_mpa's extension,
# with 1,000 policies of its own (bench/setup.sql) and pgbench's tables: the
# gate's cost outside mpa.database ("instructions", issue #19).
BENCH_OTHER_DB=mpa_bench_other
# The same for every cluster of the benchmarks. Autovacuum and checkpoints
# stay out of the timed runs (noise on 2 cores); 10,000 dropped tables need
# more lock slots than the default.
BENCH_CONF="log_min_messages = warning
shared_buffers = 256MB
max_locks_per_transaction = 1024
max_wal_size = 8GB
checkpoint_timeout = 1h
autovacuum = off
mpa.govern_from_first_policy = off
mpa.max_requests_per_hour = 0"
BENCH_PGBENCH_SCALE=${BENCH_PGBENCH_SCALE:-10}

# Results: one TSV line per figure (benchmark, with, without, ratio, target,
# result), printed as one table at the end by bench/report.py.
bench_results() { echo "$MPA_WORK/results.tsv"; }

bench_as_pg() { mpa_as_postgres "$@"; }

# bench_psql PORT [psql args...]
bench_psql() {
  local port=$1; shift
  mpa_as_postgres "$MPA_PG_BIN/psql" -h "$MPA_PGHOST" -p "$port" -U postgres -X -q -v ON_ERROR_STOP=1 "$@"
}

bench_pg_ctl() { mpa_as_postgres "$MPA_PG_BIN/pg_ctl" "$@"; }

# bench_start DATADIR / bench_stop DATADIR
bench_start() { bench_pg_ctl -D "$1" -l "$1.log" -w -t 120 start >/dev/null; }
bench_stop() {
  [ -f "$1/postmaster.pid" ] || return 0
  bench_pg_ctl -D "$1" -m fast -w -t 120 stop >/dev/null
}

# bench_preload DATADIR on|off: pg_mpa in shared_preload_libraries or not
# (the last setting in postgresql.conf wins); with $BENCH_EXTRA_PRELOAD too.
bench_preload() {
  local value
  [ "$2" = on ] && value=pg_mpa${BENCH_EXTRA_PRELOAD:+,$BENCH_EXTRA_PRELOAD} || value=
  mpa_as_postgres sed -i '/^shared_preload_libraries = /d' "$1/postgresql.conf"
  echo "shared_preload_libraries = '$value'" | mpa_as_postgres tee -a "$1/postgresql.conf" >/dev/null
}

# Copies the bench scripts and the mailbox reader where postgres can read them.
bench_copy_scripts() {
  mpa_as_postgres mkdir -p "$MPA_WORK/bench"
  mpa_as_root cp "$MPA_ROOT"/bench/*.py "$MPA_ROOT"/bench/*.sql "$MPA_ROOT"/bench/*.pgbench "$MPA_WORK/bench/"
  mpa_as_root chown -R postgres: "$MPA_WORK/bench"
}

# Runs a driver as postgres with the settings it reads from the environment.
bench_python() {
  local vars=(BENCH_RESULTS="$(bench_results)" BENCH_HOST="$MPA_PGHOST" BENCH_DB="$BENCH_DB" BENCH_OTHER_DB="$BENCH_OTHER_DB"
              BENCH_MAILDIR="$MPA_MAILDIR" MPA_PG_BIN="$MPA_PG_BIN" BENCH_PGBENCH_SCALE="$BENCH_PGBENCH_SCALE"
              BENCH_WITH_PORT="${BENCH_WITH_PORT:-}"
              BENCH_WITH_DATA="${BENCH_WITH_DATA:-}" BENCH_CALIBRATE="${BENCH_CALIBRATE:-}"
              BENCH_EMPTY_PORT="${BENCH_EMPTY_PORT:-}" BENCH_LOADED_PORT="${BENCH_LOADED_PORT:-}")
  local name
  for name in BENCH_ROUNDS BENCH_DDL_TRANSACTIONS BENCH_SELECT_SECONDS BENCH_SELECT_CLIENTS BENCH_DROP_TABLES BENCH_DROP_ROUNDS \
              BENCH_APPROVAL_LOOPS BENCH_SCALE_SAMPLES BENCH_SCALE_ROUNDS BENCH_PERF_DIR BENCH_PERF_FREQ BENCH_SCALE_VERBOSE BENCH_WAIT_EVENTS \
              BENCH_EXTERNAL_LOAD_LIMIT BENCH_INSTRUCTIONS_SCALE BENCH_CALLGRIND_OPTIONS BENCH_CACHE_SIM; do
    [ -n "${!name:-}" ] && vars+=("$name=${!name}")
  done
  mpa_as_postgres env "${vars[@]}" "$MPA_SYSTEM_PYTHON" "$@"
}

# bench_setup_installation PORT: the roles, the extension and what
# bench/setup.sql configures (1,000 policies, governed; 1,000 more for
# $BENCH_OTHER_DB), in $BENCH_DB.
bench_setup_installation() {
  local port=$1
  bench_psql "$port" -c "CREATE DATABASE $BENCH_DB" &&
    bench_psql "$port" -c "CREATE DATABASE $BENCH_OTHER_DB" &&
    bench_psql "$port" -d "$BENCH_DB" -v other_db="$BENCH_OTHER_DB" -f "$MPA_WORK/bench/setup.sql" >/dev/null
}

# The benchmark cluster: $BENCH_WITH_DATA / $BENCH_WITH_PORT, pg_mpa
# preloaded at rest; the comparisons restart it without pg_mpa and back
# (benchlib.BenchCluster), so both sides run the same build on the same data.
bench_start_pair() {
  [ -n "${BENCH_WITH_PORT:-}" ] && return 0
  echo "== setting up the benchmark cluster"
  mpa_start_cluster "$BENCH_DB" "$BENCH_CONF" || return 1
  BENCH_WITH_DATA=$MPA_PGDATA BENCH_WITH_PORT=$MPA_PGPORT
  bench_setup_installation "$BENCH_WITH_PORT" || return 1
  local db
  for db in "$BENCH_DB" "$BENCH_OTHER_DB"; do
    mpa_as_postgres "$MPA_PG_BIN/pgbench" -h "$MPA_PGHOST" -p "$BENCH_WITH_PORT" -U postgres -i -q \
      -s "$BENCH_PGBENCH_SCALE" "$db" >"$MPA_WORK/pgbench-init.log" 2>&1 || {
      cat "$MPA_WORK/pgbench-init.log"; return 1; }
    bench_psql "$BENCH_WITH_PORT" -d "$db" -c "VACUUM ANALYZE"
  done
  bench_settle "$BENCH_WITH_PORT"
}

# bench_settle [PORT]: writes what the set-up left dirty (a CHECKPOINT of
# the running cluster PORT, then the kernel's page cache) before anything is
# measured, so that this write-back does not fall into the first rounds.
bench_settle() {
  [ -z "${1:-}" ] || bench_psql "$1" -c "CHECKPOINT"
  sync
}

# The scale benchmark's pair: two clusters with pg_mpa, made like the pair
# above from one set-up data directory; the "loaded" one then receives the
# history (bench/scale.sh). $BENCH_EMPTY_DATA/_PORT, $BENCH_LOADED_DATA/_PORT.
bench_start_scale_pair() {
  BENCH_EMPTY_DATA=$MPA_WORK/data-scale-empty BENCH_EMPTY_PORT=$(mpa_free_port)
  mpa_init_cluster "$BENCH_EMPTY_DATA" "$BENCH_EMPTY_PORT" "$BENCH_DB" "$BENCH_CONF" || return 1
  bench_preload "$BENCH_EMPTY_DATA" on
  bench_start "$BENCH_EMPTY_DATA" && bench_setup_installation "$BENCH_EMPTY_PORT" || return 1
  bench_stop "$BENCH_EMPTY_DATA"
  BENCH_LOADED_DATA=$MPA_WORK/data-scale-loaded BENCH_LOADED_PORT=$(mpa_free_port)
  mpa_as_postgres cp -a "$BENCH_EMPTY_DATA" "$BENCH_LOADED_DATA"
  echo "port = $BENCH_LOADED_PORT" | mpa_as_postgres tee -a "$BENCH_LOADED_DATA/postgresql.conf" >/dev/null
}

# BENCH_HUGE_PAGES=N: reserves N huge pages in the kernel for this run
# (restored by bench_teardown). The clusters' default huge_pages = try then
# maps shared memory with them, as on a tuned server (docs/benchmarks.md,
# session 6). 300 are enough for the two scale clusters at once.
bench_reserve_huge_pages() {
  [ -n "${BENCH_HUGE_PAGES:-}" ] || return 0
  BENCH_HUGE_PAGES_BEFORE=$(cat /proc/sys/vm/nr_hugepages)
  echo "$BENCH_HUGE_PAGES" >/proc/sys/vm/nr_hugepages
  echo "== huge pages: $(awk '/^HugePages_Total/ {print $2}' /proc/meminfo) of 2 MB reserved"
}

# Stops every cluster of this run, then the SMTP server and the work dir.
bench_teardown() {
  local d
  for d in "$MPA_WORK"/data*; do
    [ -f "$d/postmaster.pid" ] && bench_pg_ctl -D "$d" -m immediate stop >/dev/null 2>&1
  done
  [ -n "${BENCH_HUGE_PAGES_BEFORE:-}" ] && echo "$BENCH_HUGE_PAGES_BEFORE" >/proc/sys/vm/nr_hugepages
  mpa_teardown
}
