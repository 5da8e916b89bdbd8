#!/usr/bin/env bash
# Benchmark "connect": what pg_mpa costs a connection per request. pgbench
# -C opens a new connection for every transaction; bench/connect.pgbench
# sends one SET in it, so each new session's first utility statement finds
# pg_mpa's policy cache empty (the 1,000-policy governed installation of the
# other benchmarks). The issue sets no target for it; we hold it to the
# ordinary-DDL target: throughput with/without >= 0.97 (docs/decisions.md).
# Called by bench/run.
set -e
bench_python "$MPA_WORK/bench/pgbench_ab.py" --name "connect: new connection + SET, 2 clients" \
  --target 0.97 --rounds "${BENCH_ROUNDS:-7}" -- \
  -n -C -c 2 -j 2 -T "${BENCH_CONNECT_SECONDS:-3}" -f "$MPA_WORK/bench/connect.pgbench"
