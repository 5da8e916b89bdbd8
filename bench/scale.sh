# Benchmark "scale" (issue 7, 5), sourced by bench/run: latencies of
# mpa_request, mpa_vote, mpa_verify and the gate on an empty installation,
# then on the same one holding a year of history (1,000,000 requests, their
# codes, votes and mail; and 10,000,000 audit entries once mpa.audit
# exists), loaded with pg_mpa unloaded; then the memory a backend's policy
# cache takes with 10,000 policies. Runs on a cluster of its own (the same
# setup.sql: 1,000 policies, governed), so the other benchmarks' requests do
# not count as history. Measuring: bench/scale.py. Loading: bench/scale_load.sql.
#   BENCH_SCALE_REQUESTS (1000000), BENCH_SCALE_OUTBOX (1000000),
#   BENCH_SCALE_AUDIT (10000000), BENCH_SCALE_SAMPLES (200)
set -e
bench_start_scale_cluster
export BENCH_SCALE_PORT
scale_psql() { bench_psql "$BENCH_SCALE_PORT" -d "$BENCH_DB" "$@"; }
# scale_restart on|off: restart the cluster with or without pg_mpa preloaded
scale_restart() {
  bench_stop "$BENCH_SCALE_DATA"
  bench_preload "$BENCH_SCALE_DATA" "$1"
  bench_start "$BENCH_SCALE_DATA"
}

if [ -n "${BENCH_SCALE_EXPLAIN:-}" ]; then
  # Investigating, not measuring: the plans of every statement slower than
  # BENCH_SCALE_EXPLAIN ms, pg_mpa's nested ones included, go to the
  # server log ($MPA_WORK/data-scale.log; keep it with MPA_KEEP_WORKDIR=1).
  echo "session_preload_libraries = 'auto_explain'
auto_explain.log_min_duration = '${BENCH_SCALE_EXPLAIN}ms'
auto_explain.log_nested_statements = on
auto_explain.log_analyze = on
auto_explain.log_buffers = on" | mpa_as_postgres tee -a "$BENCH_SCALE_DATA/postgresql.conf" >/dev/null
  scale_restart on
fi
scale_psql -c "VACUUM ANALYZE"
echo "  scale: empty installation"
bench_python "$MPA_WORK/bench/scale.py" measure "$MPA_WORK/scale-empty.json"

echo "  scale: loading the history (pg_mpa unloaded)"
scale_restart off
start=$(date +%s)
scale_psql -v requests="${BENCH_SCALE_REQUESTS:-1000000}" -v outbox="${BENCH_SCALE_OUTBOX:-1000000}" \
  -f "$MPA_WORK/bench/scale_load.sql"
if [ "$(scale_psql -tAc "SELECT to_regclass('mpa.audit') IS NOT NULL")" = t ]; then
  if [ -f "$MPA_WORK/bench/scale_audit.sql" ]; then
    scale_psql -v audit="${BENCH_SCALE_AUDIT:-10000000}" -f "$MPA_WORK/bench/scale_audit.sql"
  else
    echo "  scale: NOTE mpa.audit exists but bench/ has no loader for it yet (scale_audit.sql): not loaded"
  fi
else
  echo "  scale: NOTE mpa.audit does not exist in this build: no audit entries loaded"
fi
scale_psql -c "VACUUM ANALYZE"
echo "  scale: loaded in $(( $(date +%s) - start )) s"
scale_restart on
bench_python "$MPA_WORK/bench/scale.py" measure "$MPA_WORK/scale-loaded.json"
bench_python "$MPA_WORK/bench/scale.py" report "$MPA_WORK/scale-empty.json" "$MPA_WORK/scale-loaded.json"

echo "  scale: 10,000 policies"
scale_restart off
# (triggers off: pg_mpa's policy trigger is a function of the unloaded library)
scale_psql -c "SET session_replication_role = replica" -c "INSERT INTO mpa.policies (operation, object, team)
  SELECT 'DROP TABLE', format('memory_%s.t_%s', i / 100, i % 100), 'bench' FROM generate_series(1, 9000) i"
scale_restart on
bench_python "$MPA_WORK/bench/scale.py" memory
bench_python "$MPA_WORK/bench/scale.py" gate10k "$MPA_WORK/scale-empty.json"
bench_stop "$BENCH_SCALE_DATA"
