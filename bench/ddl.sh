#!/usr/bin/env bash
# Benchmark "ddl" (issue 7, 1): what pg_mpa costs ordinary DDL. pgbench runs
# bench/ddl.pgbench (create, alter and drop a temporary table and an index,
# in one transaction) with 2 clients on the benchmark cluster — 1,000
# policies on other objects, a team governing pg_mpa, so every hook is
# active — restarted with and without pg_mpa, alternately. A fixed number of
# transactions per run gives both sides the same catalog churn; the
# database is vacuumed (catalogs included) before each run.
# Target: throughput with/without >= 0.97. Called by bench/run.
set -e
bench_python "$MPA_WORK/bench/pgbench_ab.py" --name "ddl: temp table + index DDL, 2 clients" \
  --target 0.97 --rounds "${BENCH_ROUNDS:-8}" --vacuum -- \
  -n -c 2 -j 2 -t "${BENCH_DDL_TRANSACTIONS:-3000}" -f "$MPA_WORK/bench/ddl.pgbench"
