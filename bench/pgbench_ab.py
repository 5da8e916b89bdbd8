"""Runs one pgbench workload on the benchmark cluster restarted with and
without pg_mpa, alternately (ABBA order; each run after a restart and an
untimed warm-up run), and adds the row with the medians of the
transactions per second and their ratio to the results; and, as an info row,
the same runs' backend CPU time per transaction (without/with, so that it
reads like the throughput ratio).

  pgbench_ab.py --name NAME --target 0.99 --rounds 5 [--vacuum] -- PGBENCH-ARGS...

Connection settings come from the environment bench/run exports
(BENCH_HOST, BENCH_WITH_PORT, BENCH_WITH_DATA, BENCH_DB, MPA_PG_BIN)."""
import argparse
import os

import benchlib


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True)
    parser.add_argument("--target", type=float, required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--vacuum", action="store_true",
                        help="VACUUM the database (catalogs too) of both clusters before each run")
    parser.add_argument("pgbench_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    pgbench_args = [a for a in args.pgbench_args if a != "--"]

    host, db = os.environ["BENCH_HOST"], os.environ["BENCH_DB"]
    pg_bin = os.environ["MPA_PG_BIN"]
    cluster = benchlib.BenchCluster()
    pgbench = os.path.join(pg_bin, "pgbench")

    # The untimed run after each restart: the first run on a freshly
    # started server (empty caches) is an outlier.
    warm_up_args = list(pgbench_args)
    for option, value in (("-T", "1"), ("-t", None)):
        if option in warm_up_args:
            i = warm_up_args.index(option) + 1
            warm_up_args[i] = value or str(max(1, int(warm_up_args[i]) // 5))

    def measure(with_pg_mpa):
        def run():
            cluster.use(with_pg_mpa)
            if args.vacuum:
                benchlib.psql(host, cluster.port, db, "VACUUM", os.path.join(pg_bin, "psql"))
            benchlib.pgbench_tps(pgbench, host, cluster.port, db, warm_up_args)
            return benchlib.pgbench_tps(pgbench, host, cluster.port, db, pgbench_args, cluster.data)
        return run

    if os.environ.get("BENCH_PERF_DIR"):  # one extra, untimed run under perf
        out = os.path.join(os.environ["BENCH_PERF_DIR"],
                           "".join(c if c.isalnum() else "_" for c in args.name) + ".perf.data")
        cluster.use(True)
        benchlib.pgbench_tps(pgbench, host, cluster.port, db, warm_up_args)
        benchlib.profile_pgbench(pgbench, host, cluster.port, db, pgbench_args, out, os.path.join(pg_bin, "psql"))

    with_runs, without_runs = benchlib.alternate(args.rounds, measure(True), measure(False))
    cluster.use(True)  # the next benchmarks need pg_mpa
    benchlib.report_ratio(args.name, "tps", [r[0] for r in with_runs], [r[0] for r in without_runs], args.target,
                          higher_is_better=True)
    # The same runs seen as cost: the backends' CPU time per transaction,
    # which the scheduler's share of the noise does not touch. It still
    # moves by about 5 % from one run to the next on this machine (162
    # paired -S runs, docs/benchmarks.md), so the row carries its 95 %
    # interval: with 7 rounds it is several per cent wide.
    with_cpu, without_cpu = [r[1] for r in with_runs], [r[1] for r in without_runs]
    paired = [b / a for a, b in zip(with_cpu, without_cpu)]
    low, high = benchlib.bootstrap_interval(paired)
    benchlib.log(f"  {args.name}: backend CPU ms/txn with {[round(v, 4) for v in with_cpu]} without "
                 f"{[round(v, 4) for v in without_cpu]}")
    benchlib.add_result(f"{args.name}: backend CPU per txn (without/with)",
                        f"{benchlib.median(with_cpu) * 1000:.1f} us", f"{benchlib.median(without_cpu) * 1000:.1f} us",
                        f"{benchlib.median(paired):.3f} ({low:.3f}-{high:.3f})", "(none)", "info")


if __name__ == "__main__":
    main()
