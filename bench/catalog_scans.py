"""Benchmark "catalog" (optional: bench/run catalog): counts, not times. The
catalog index scans the ddl workload (bench/ddl.pgbench) makes per
transaction, with and without pg_mpa, from pg_stat_sys_indexes after 1,000
transactions of one client on the freshly restarted benchmark cluster.
Deterministic where the timings are noisy: it shows whether pg_mpa adds
catalog lookups to ordinary DDL (issue 7 asks for none on the hot path of
an unprotected statement). Shared catalogs are left out (their counters
are not reset per database)."""
import os
import subprocess

import benchlib

TRANSACTIONS = 1000
COUNT_SQL = ("SELECT coalesce(sum(s.idx_scan), 0) FROM pg_stat_sys_indexes s"
             " JOIN pg_class c ON c.oid = s.relid WHERE NOT c.relisshared")


def main():
    host, db, pg_bin = os.environ["BENCH_HOST"], os.environ["BENCH_DB"], os.environ["MPA_PG_BIN"]
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ddl.pgbench")
    cluster = benchlib.BenchCluster()

    def query(sql):
        return subprocess.run([os.path.join(pg_bin, "psql"), "-h", host, "-p", cluster.port, "-U", "postgres", "-X",
                               "-tA", "-d", db, "-c", sql], capture_output=True, text=True, check=True).stdout.strip()

    def pgbench(transactions):
        subprocess.run([os.path.join(pg_bin, "pgbench"), "-h", host, "-p", cluster.port, "-U", "postgres", "-n",
                        "-c", "1", "-t", str(transactions), "-f", script, db], capture_output=True, check=True)

    def scans_per_transaction(with_pg_mpa):
        cluster.use(with_pg_mpa)
        query("VACUUM")
        pgbench(50)  # the session's first statements fill its caches
        query("SELECT pg_stat_reset()")
        before = int(query(COUNT_SQL))
        pgbench(TRANSACTIONS)
        query("SELECT pg_stat_force_next_flush()")
        # The backend's counters reach the statistics when it exits.
        for _ in range(50):
            after = int(query(COUNT_SQL))
            if after > before:
                break
            subprocess.run(["sleep", "0.1"])
        return (after - before) / TRANSACTIONS

    with_scans = scans_per_transaction(True)
    without_scans = scans_per_transaction(False)
    cluster.use(True)
    benchlib.log(f"  catalog index scans per ddl transaction: with {with_scans:.2f}, without {without_scans:.2f}")
    benchlib.add_result("catalog: catalog index scans per ddl transaction", f"{with_scans:.2f}", f"{without_scans:.2f}",
                        f"{with_scans / without_scans:.3f}", "(none)", "info")


if __name__ == "__main__":
    main()
