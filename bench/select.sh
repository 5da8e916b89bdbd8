#!/usr/bin/env bash
# Benchmark "select" (issue 7, 2): what pg_mpa costs ordinary queries, with
# the same 1,000-policy governed installation as "ddl". Three pgbench
# workloads, 2 clients, each alternately against the cluster with pg_mpa and
# its copy without:
#   - pgbench -S (select-only): ExecutorCheckPerms hook per query, object
#     access hook (function execute) per operator;
#   - the default TPC-B-like script: the permission hook also examines the
#     written relations (UPDATE, INSERT);
#   - bench/function.pgbench: a user-defined PL/pgSQL function per
#     transaction, for the needs_fmgr_hook path.
# Target: throughput with/without >= 0.99 for each. Called by bench/run.
set -e
seconds=${BENCH_SELECT_SECONDS:-4}
rounds=${BENCH_ROUNDS:-6}
ab() { bench_python "$MPA_WORK/bench/pgbench_ab.py" --target 0.99 --rounds "$rounds" "$@"; }
ab --name "select: pgbench -S, 2 clients" -- -c 2 -j 2 -T "$seconds" -S
ab --name "select: pgbench TPC-B, 2 clients" -- -c 2 -j 2 -T "$seconds"
ab --name "select: user function per txn, 2 clients" -- -n -c 2 -j 2 -T "$seconds" -D scale="$BENCH_PGBENCH_SCALE" -f "$MPA_WORK/bench/function.pgbench"
