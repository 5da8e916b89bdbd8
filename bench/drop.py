"""Benchmark "drop" (issue 7, 3): DROP SCHEMA ... CASCADE of an unprotected
schema holding 10,000 tables, timed on the benchmark cluster (1,000
policies, governed) restarted with and without pg_mpa, alternately.

Why: PostgreSQL calls pg_mpa's object access hook for every object such a
drop removes (each table, its row type and array type) so that a protected
object reached without being named is refused; that per-object check must
not make a mass drop noticeably slower. The schema is rebuilt before every
timed drop (not timed). Target: time with/without <= 1.10.
"""
import os
import time

import psycopg2

import benchlib

TABLES = int(os.environ.get("BENCH_DROP_TABLES", "10000"))
ROUNDS = int(os.environ.get("BENCH_DROP_ROUNDS", "2"))  # 3 before the instruction counts; its margin is wide

BUILD = f"""
DO $$
BEGIN
  CREATE SCHEMA bench_drop;
  FOR i IN 1..{TABLES} LOOP
    EXECUTE format('CREATE TABLE bench_drop.t_%s (id int, amount numeric)', i);
  END LOOP;
END $$;
"""


def connect(port):
    conn = psycopg2.connect(host=os.environ["BENCH_HOST"], port=port, dbname=os.environ["BENCH_DB"],
                            user="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SET client_min_messages = warning")
    return conn


CLUSTER = benchlib.BenchCluster()


def measure(with_pg_mpa, perf_out=None):
    def run():
        CLUSTER.use(with_pg_mpa)
        conn = connect(CLUSTER.port)
        with conn.cursor() as cur:
            cur.execute(BUILD)
            cur.execute("VACUUM pg_class, pg_type, pg_depend, pg_attribute")
            cur.execute("CHECKPOINT")
            cur.execute("SELECT pg_backend_pid()")
            perf = benchlib.perf_attach([cur.fetchone()[0]], perf_out) if perf_out else None
            start = time.perf_counter()
            cur.execute("DROP SCHEMA bench_drop CASCADE")
            elapsed = time.perf_counter() - start
            if perf:
                benchlib.perf_detach(perf)
        conn.close()
        return elapsed
    return run


def main():
    if os.environ.get("BENCH_PERF_DIR"):  # one extra, untimed drop under perf
        out = os.path.join(os.environ["BENCH_PERF_DIR"], "drop.perf.data")
        measure(True, out)()
        benchlib.log(f"  profile written to {out}")
    with_s, without_s = benchlib.alternate(ROUNDS, measure(True), measure(False))
    CLUSTER.use(True)  # the next benchmarks need pg_mpa
    benchlib.report_ratio(f"drop: DROP SCHEMA CASCADE, {TABLES:,} tables", "s", with_s, without_s, 1.10,
                          higher_is_better=False, fmt="{:.2f}")


if __name__ == "__main__":
    main()
