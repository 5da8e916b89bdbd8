"""Runs one pgbench workload against the cluster with pg_mpa and its copy
without, alternately (ABBA order), and adds the row with the medians of the
transactions per second and their ratio to the results; and, as an info row,
the same runs' backend CPU time per transaction (without/with, so that it
reads like the throughput ratio).

  pgbench_ab.py --name NAME --target 0.99 --rounds 5 [--vacuum] -- PGBENCH-ARGS...

Connection settings come from the environment bench/run exports
(BENCH_HOST, BENCH_WITH_PORT, BENCH_WITHOUT_PORT, BENCH_DB, MPA_PG_BIN)."""
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

    def measure(port, data_dir):
        def run():
            if args.vacuum:
                benchlib.psql(host, port, db, "VACUUM", os.path.join(pg_bin, "psql"))
            return benchlib.pgbench_tps(os.path.join(pg_bin, "pgbench"), host, port, db, pgbench_args, data_dir)
        return run

    if os.environ.get("BENCH_PERF_DIR"):  # one extra, untimed run under perf
        out = os.path.join(os.environ["BENCH_PERF_DIR"],
                           "".join(c if c.isalnum() else "_" for c in args.name) + ".perf.data")
        benchlib.profile_pgbench(os.path.join(pg_bin, "pgbench"), host, os.environ["BENCH_WITH_PORT"], db,
                                 pgbench_args, out, os.path.join(pg_bin, "psql"))

    # One untimed run on each side first: the first run after the clusters
    # were set up (catalog caches, hint bits, free space) is an outlier.
    measure(os.environ["BENCH_WITH_PORT"], None)()
    measure(os.environ["BENCH_WITHOUT_PORT"], None)()

    with_runs, without_runs = benchlib.alternate(
        args.rounds, measure(os.environ["BENCH_WITH_PORT"], os.environ["BENCH_WITH_DATA"]),
        measure(os.environ["BENCH_WITHOUT_PORT"], os.environ["BENCH_WITHOUT_DATA"]))
    benchlib.report_ratio(args.name, "tps", [r[0] for r in with_runs], [r[0] for r in without_runs], args.target,
                          higher_is_better=True)
    # The same runs seen as cost: the backends' CPU time per transaction,
    # which the scheduling noise of a shared 2-core machine hardly touches.
    with_cpu, without_cpu = [r[1] for r in with_runs], [r[1] for r in without_runs]
    paired = [b / a for a, b in zip(with_cpu, without_cpu)]
    benchlib.log(f"  {args.name}: backend CPU ms/txn with {[round(v, 4) for v in with_cpu]} without "
                 f"{[round(v, 4) for v in without_cpu]}")
    benchlib.add_result(f"{args.name}: backend CPU per txn (without/with)",
                        f"{benchlib.median(with_cpu) * 1000:.1f} us", f"{benchlib.median(without_cpu) * 1000:.1f} us",
                        f"{benchlib.median(paired):.3f}", "(none)", "info")


if __name__ == "__main__":
    main()
