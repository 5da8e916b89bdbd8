#!/usr/bin/env bash
# Benchmark "select" (issue 7, 2): what pg_mpa costs ordinary queries, with
# the same 1,000-policy governed installation as "ddl". Three pgbench
# workloads, 2 clients, each on the benchmark cluster restarted with and
# without pg_mpa, alternately:
#   - pgbench -S (select-only): ExecutorCheckPerms hook per query, object
#     access hook (function execute) per operator;
#   - the default TPC-B-like script: the permission hook also examines the
#     written relations (UPDATE, INSERT);
#   - bench/function.pgbench: a user-defined PL/pgSQL function per
#     transaction, for the needs_fmgr_hook path.
# The database is vacuumed before each run: TPC-B leaves dead rows behind,
# and whichever side ran first after it paid for pruning them (the first
# round of the function workload read 0.83).
# Target: throughput with/without >= 0.99 for each. Called by bench/run.
set -e
seconds=${BENCH_SELECT_SECONDS:-4}
clients=${BENCH_SELECT_CLIENTS:-2}  # 1 client is no quieter here: every round trip then waits for an idle vCPU to wake
rounds=${BENCH_ROUNDS:-7}  # to fit bench/run in 15 minutes; settling a 1 % target takes 30-40 (docs/benchmarks.md)
ab() { bench_python "$MPA_WORK/bench/pgbench_ab.py" --target 0.99 --rounds "$rounds" --vacuum "$@"; }
ab --name "select: pgbench -S, $clients clients" -- -c "$clients" -j "$clients" -T "$seconds" -S
ab --name "select: pgbench TPC-B, $clients clients" -- -c "$clients" -j "$clients" -T "$seconds"
ab --name "select: user function per txn, $clients clients" -- -n -c "$clients" -j "$clients" -T "$seconds" -D scale="$BENCH_PGBENCH_SCALE" -f "$MPA_WORK/bench/function.pgbench"
