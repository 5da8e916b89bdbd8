# Benchmark "scale" (issue 7, 5), sourced by bench/run: latencies of
# mpa_request, mpa_vote, mpa_verify and the gate on an empty installation
# and on one holding a year of history (1,000,000 requests with their codes,
# votes and mail, and 10,000,000 audit entries), and how long a vote's code
# mail takes to reach the SMTP server on each; then the memory a backend's
# policy cache takes with 10,000 policies.
# Both installations run side by side, made from one set-up data directory
# (setup.sql: 1,000 policies, governed) and copied; the copy receives the
# history while pg_mpa is not loaded (it refuses direct writes to its
# tables), then both are measured in alternating rounds (bench/scale.py),
# like the with/without pairs. Loading: bench/scale_load.sql, scale_audit.sql.
#   BENCH_SCALE_REQUESTS (1000000; with 2 codes, their mails and ~2 votes each),
#   BENCH_SCALE_OUTBOX (other mail, 0), BENCH_SCALE_AUDIT (10000000),
#   BENCH_SCALE_ROUNDS (5), BENCH_SCALE_SAMPLES (50 per round)
#   BENCH_SCALE_EXPLAIN=MS (investigating: auto_explain of pg_mpa's statements,
#   the mail worker's included, slower than MS into the server logs
#   $MPA_WORK/data-scale-*.log; keep them with MPA_KEEP_WORKDIR=1)
#   BENCH_SCALE_VERBOSE=1 (how long each part of each round took)
set -e
bench_start_scale_pair
export BENCH_EMPTY_PORT BENCH_LOADED_PORT
loaded_psql() { bench_psql "$BENCH_LOADED_PORT" -d "$BENCH_DB" "$@"; }
empty_psql() { bench_psql "$BENCH_EMPTY_PORT" -d "$BENCH_DB" "$@"; }

echo "  $(date +%T) scale: loading the history into the copy (pg_mpa unloaded)"
start=$(date +%s)
bench_preload "$BENCH_LOADED_DATA" off
bench_start "$BENCH_LOADED_DATA"
loaded_psql -v requests="${BENCH_SCALE_REQUESTS:-1000000}" -v outbox="${BENCH_SCALE_OUTBOX:-0}" \
  -f "$MPA_WORK/bench/scale_load.sql"
if [ "$(loaded_psql -tAc "SELECT to_regclass('mpa.audit') IS NOT NULL")" = t ]; then
  loaded_psql -v audit="${BENCH_SCALE_AUDIT:-10000000}" -f "$MPA_WORK/bench/scale_audit.sql"
else
  echo "  scale: NOTE mpa.audit does not exist in this build: no audit entries loaded"
fi
# Codes of the two installations go to different addresses (the SMTP server is shared).
loaded_psql -c "SET session_replication_role = replica" \
  -c "UPDATE mpa.approvers SET email = replace(email, '@', '+loaded@')" -c "VACUUM ANALYZE"
bench_stop "$BENCH_LOADED_DATA"
echo "  $(date +%T) scale: loaded in $(( $(date +%s) - start )) s"

if [ -n "${BENCH_SCALE_EXPLAIN:-}" ]; then
  # preloaded, so that the mail worker's statements are explained too
  BENCH_EXTRA_PRELOAD=auto_explain
  for data in "$BENCH_EMPTY_DATA" "$BENCH_LOADED_DATA"; do
    echo "auto_explain.log_min_duration = '${BENCH_SCALE_EXPLAIN}ms'
auto_explain.log_nested_statements = on
auto_explain.log_analyze = on
auto_explain.log_buffers = on" | mpa_as_postgres tee -a "$data/postgresql.conf" >/dev/null
  done
fi
# The SQL functions' own time, for scale.py's "time in the server" rows.
for data in "$BENCH_EMPTY_DATA" "$BENCH_LOADED_DATA"; do
  echo "track_functions = pl" | mpa_as_postgres tee -a "$data/postgresql.conf" >/dev/null
done
# The empty one is vacuumed the same way (pg_mpa unloaded, nothing else running).
bench_preload "$BENCH_EMPTY_DATA" off
bench_start "$BENCH_EMPTY_DATA"
empty_psql -c "VACUUM ANALYZE"
bench_stop "$BENCH_EMPTY_DATA"
bench_preload "$BENCH_EMPTY_DATA" on
bench_preload "$BENCH_LOADED_DATA" on
bench_settle  # both stopped: their shutdown checkpoints wrote the history
bench_start "$BENCH_EMPTY_DATA" && bench_start "$BENCH_LOADED_DATA"
bench_python "$MPA_WORK/bench/scale.py" rounds "$MPA_WORK/scale-empty.json"

echo "  $(date +%T) scale: 10,000 policies (in the empty installation)"
bench_stop "$BENCH_LOADED_DATA"
bench_stop "$BENCH_EMPTY_DATA"
bench_preload "$BENCH_EMPTY_DATA" off
bench_start "$BENCH_EMPTY_DATA"
# (triggers off: pg_mpa's policy trigger is a function of the unloaded library)
empty_psql -c "SET session_replication_role = replica" -c "INSERT INTO mpa.policies (operation, object, team)
  SELECT 'DROP TABLE', format('memory_%s.t_%s', i / 100, i % 100), 'bench' FROM generate_series(1, 9000) i"
bench_stop "$BENCH_EMPTY_DATA"
bench_preload "$BENCH_EMPTY_DATA" on
bench_start "$BENCH_EMPTY_DATA"
bench_python "$MPA_WORK/bench/scale.py" memory
bench_python "$MPA_WORK/bench/scale.py" gate10k "$MPA_WORK/scale-empty.json"
bench_stop "$BENCH_EMPTY_DATA"
