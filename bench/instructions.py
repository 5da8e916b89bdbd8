"""Benchmark "instructions": what pg_mpa costs ordinary work in CPU
instructions, counted by valgrind (callgrind), not timed. The same workloads
as "ddl" and "select" (2 pgbench clients on the benchmark cluster: 1,000
policies, governed), with the cluster's postmaster run under callgrind with
and without pg_mpa in shared_preload_libraries.

Why: on a shared 2-core machine the timed ratios of one run spread by a few
per cent (docs/benchmarks.md), more than the 1-3 % the targets allow, so a
timed miss cannot tell pg_mpa's cost from the machine's noise. An
instruction count hardly moves between runs, so this row says what pg_mpa
adds to each transaction's work. It is not throughput: cache misses and
scheduling are not counted.

What is counted (callgrind's --toggle-collect): in the client backends,
everything from PostgresMain on; in the mail worker (it exists only with
pg_mpa), everything while it waits for work (sleep_until_work: the
wake-ups and catch-up signals other sessions' DDL sends it). A delivery
round runs only for queued mail or when its timer (at most 60 s) runs out,
and these workloads queue none (test/tap/002 checks that busy DDL causes
no round). Each side starts the cluster under callgrind once, from the
same copy of the data, and runs every workload twice, a warm-up and a
measured run, each with new backends; the warm-up's count is subtracted
from the measured run's, so what the connection and a session's first
statements cost (pg_mpa's policy cache load, PostgreSQL's catalog caches)
drops out. The mail worker is restarted before and after each workload's
runs (it writes its count when it exits; its exit is left out); its count
is divided by both runs' transactions. The ratios of an A/A run
(BENCH_CALIBRATE=1) were within 0.1 % of 1.

The ratio is without/with, so that it reads like the throughput ratio; the
targets printed are the timed benchmarks' own. A pass says pg_mpa's
instructions fit the target, not its CPU time, which grows more: code that
runs once per query misses the caches. BENCH_CACHE_SIM=1 counts those
misses too (docs/benchmarks.md, "-S and the caches")."""
import glob
import os
import re
import subprocess
import time

import benchlib

SCALE = os.environ.get("BENCH_PGBENCH_SCALE", "10")
CLIENTS = 2
# Where counting starts: a backend's main loop (it never returns), the mail
# worker's wait for work. Neither runs inside the other.
COUNTED = ["PostgresMain", "*sleep_until_work*"]
# BENCH_CACHE_SIM=1: callgrind also simulates the caches and the branch
# predictor, and the table gets rows for the misses and mispredictions per
# transaction (about twice as slow). Instructions are not time: a hook's
# few instructions can cost more in misses than in execution.
CACHE_SIM = os.environ.get("BENCH_CACHE_SIM") == "1"
# Investigating: more of callgrind's options (the files are kept with MPA_KEEP_WORKDIR=1).
EXTRA_OPTIONS = os.environ.get("BENCH_CALLGRIND_OPTIONS", "").split() + (
    ["--cache-sim=yes", "--branch-sim=yes"] if CACHE_SIM else [])
# The simulated events shown, as callgrind names them: first-level
# instruction and data misses, last-level misses, mispredicted branches.
SIMULATED = [
    ("first-level instruction-cache misses", ["I1mr"]),
    ("first-level data-cache misses", ["D1mr", "D1mw"]),
    ("last-level cache misses", ["ILmr", "DLmr", "DLmw"]),
    ("mispredicted branches", ["Bcm", "Bim"]),
]
SCALE_FACTOR = float(os.environ.get("BENCH_INSTRUCTIONS_SCALE", "1"))  # < 1 for a quick look


# The database of the "other database" workloads (bench/lib.sh): pg_mpa is
# not installed there; bench/setup.sql gives it 1,000 policies of its own
# (mpa_protect(..., database => ...)), which reach its gate through shared
# memory (docs/decisions.md, "Every database").
OTHER_DB = os.environ.get("BENCH_OTHER_DB", "mpa_bench_other")


def workloads(bench_dir):
    """(name, pgbench arguments, warm-up and measured transactions per client, target, database or None
    for the benchmark's own, mpa.database)"""
    chosen = [
        ("ddl: temp table + index DDL", ["-n", "-f", os.path.join(bench_dir, "ddl.pgbench")], 15, 90, 0.97, None),
        ("select: pgbench -S", ["-S"], 80, 500, 0.99, None),
        ("select: pgbench TPC-B", [], 40, 250, 0.99, None),
        ("select: user function per txn", ["-n", "-D", f"scale={SCALE}", "-f", os.path.join(bench_dir, "function.pgbench")],
         80, 500, 0.99, None),
        # Every transaction a new backend: the warm-up's subtraction leaves
        # what one connection and its first SET cost.
        ("connect: new connection + SET", ["-n", "-C", "-f", os.path.join(bench_dir, "connect.pgbench")], 5, 25, 0.97, None),
        # Issue #19: the gate's cost in a database other than mpa.database,
        # whose policies come from shared memory, is held to 0.99 for both.
        ("other database: temp table + index DDL", ["-n", "-f", os.path.join(bench_dir, "ddl.pgbench")], 15, 90,
         0.99, OTHER_DB),
        ("other database: pgbench -S", ["-S"], 80, 500, 0.99, OTHER_DB),
    ]
    return chosen


class CallgrindCluster:
    """The benchmark cluster's postmaster started under callgrind; each
    process it forks writes its counts to its own file when it exits."""

    def __init__(self, cluster, out_base):
        self.cluster = cluster
        self.out_base = out_base  # one directory per side, kept with MPA_KEEP_WORKDIR=1
        self.out_dir = None
        self.postgres = os.path.join(os.environ["MPA_PG_BIN"], "postgres")
        self.psql = os.path.join(os.environ["MPA_PG_BIN"], "psql")
        self.host, self.db = os.environ["BENCH_HOST"], os.environ["BENCH_DB"]
        self.seen = set()

    def restore_data(self):
        """Both sides start from the same data: a copy of the data directory
        taken before the first side ran (the workloads change tables and
        catalogs, and what the without side's -S ran on after the with
        side's TPC-B differed by 1 % in instructions)."""
        saved = self.cluster.data + ".before-instructions"
        if not os.path.exists(saved):
            subprocess.run(["cp", "-a", self.cluster.data, saved], check=True)
            return
        conf = os.path.join(self.cluster.data, "postgresql.conf")
        with open(conf) as f:
            settings = f.read()  # keeps shared_preload_libraries as configured
        subprocess.run(["rm", "-rf", self.cluster.data], check=True)
        subprocess.run(["cp", "-a", saved, self.cluster.data], check=True)
        with open(conf, "w") as f:
            f.write(settings)

    def start(self, side):
        self.out_dir = f"{self.out_base}-{side}"
        os.makedirs(self.out_dir, exist_ok=True)
        self.seen = set(glob.glob(os.path.join(self.out_dir, "callgrind.*")))
        with open(self.cluster.data + ".valgrind.log", "w") as log:
            subprocess.Popen(["valgrind", "--tool=callgrind", "--collect-atstart=no", *EXTRA_OPTIONS,
                              *[f"--toggle-collect={f}" for f in COUNTED], f"--callgrind-out-file={self.out_dir}/callgrind.%p",
                              self.postgres, "-D", self.cluster.data],
                             stdout=log, stderr=log, start_new_session=True)
        for _ in range(600):
            ready = subprocess.run([self.psql, "-h", self.host, "-p", self.cluster.port, "-U", "postgres", "-X",
                                    "-tA", "-d", self.db, "-c", "SELECT 1"], capture_output=True, text=True)
            if ready.stdout.strip() == "1":
                break
            time.sleep(0.5)
        else:
            raise SystemExit(f"the cluster did not start under valgrind: see {self.cluster.data}.valgrind.log")
        self.new_counts()  # the readiness probes' backends

    def new_counts(self, expected=0, settle=1.0):
        """Instructions counted by the processes that exited since the last
        call: {pid: count}. Waits for at least `expected` new files, then
        until none has come for `settle` seconds."""
        deadline = time.monotonic() + 120
        last_change, known = time.monotonic(), set(self.seen)
        while True:
            files = set(glob.glob(os.path.join(self.out_dir, "callgrind.*")))
            if files != known:
                known, last_change = files, time.monotonic()
            if len(known - self.seen) >= expected and time.monotonic() - last_change >= settle:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"callgrind files did not appear in {self.out_dir}")
            time.sleep(0.2)
        counts = {path: summary(path) for path in known - self.seen}
        self.seen = known
        return counts

    def query(self, sql, db=None):
        return subprocess.run([self.psql, "-h", self.host, "-p", self.cluster.port, "-U", "postgres", "-X", "-tA",
                               "-d", db or self.db, "-c", sql], capture_output=True, text=True, check=True).stdout.strip()

    def vacuum(self, db=None):
        self.query("VACUUM", db)
        # The first connection after a VACUUM rebuilds the relation cache's
        # init file. A throw-away one does, not the warm-up's pgbench
        # connection: that would make the warm-up dearer than the measured
        # run on one side only (the with side's worker queries come first).
        self.query("SELECT 1", db)
        self.new_counts(expected=2)

    def mail_worker_pid(self, other_than=None):
        """The mail worker's pid (a new one if other_than is given), or None
        (without pg_mpa)."""
        for _ in range(100):
            pid = self.query("SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_mpa mail worker'")
            self.new_counts(expected=1)  # this query's backend
            if pid != other_than:
                return pid or None
            time.sleep(0.2)
        raise SystemExit("the mail worker did not restart")

    def restart_mail_worker(self, pid):
        """Stops the mail worker (it starts again a second later); returns
        its count and the new worker's pid."""
        self.query(f"SELECT pg_terminate_backend({pid})")
        count = summary(self.wait_for(f"callgrind.{pid}"), leaving_out="proc_exit")
        self.new_counts(expected=1)
        new_pid = self.mail_worker_pid(other_than=pid)
        self.wait_until_idle(new_pid)
        return count, new_pid

    def wait_until_idle(self, pid):
        """Until the mail worker has finished its round and sleeps."""
        for _ in range(600):
            idle = self.query(f"SELECT state = 'idle' AND wait_event = 'Extension' FROM pg_stat_activity"
                              f" WHERE pid = {pid}")
            self.new_counts(expected=1)
            if idle == "t":
                return
            time.sleep(0.2)
        raise SystemExit(f"the mail worker {pid} did not become idle")

    def wait_for(self, name):
        path = os.path.join(self.out_dir, name)
        for _ in range(300):
            if os.path.exists(path):
                time.sleep(0.5)  # written completely
                self.seen.add(path)
                return path
            time.sleep(0.1)
        raise SystemExit(f"{path} did not appear")

    def pgbench(self, args, transactions, db=None):
        """Runs pgbench (in db, else the benchmark's database); returns the instructions its backends ran."""
        out = subprocess.run([os.path.join(os.environ["MPA_PG_BIN"], "pgbench"), "-h", self.host, "-p",
                              self.cluster.port, "-U", "postgres", "-c", str(CLIENTS), "-j", str(CLIENTS),
                              "-t", str(transactions), *args, db or self.db], capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"pgbench failed:\n{out.stdout}\n{out.stderr}")
        return added(*self.new_counts(expected=CLIENTS).values())


def added(*counts, scale=1.0):
    """The sum of event counts ({"Ir": n, ...}), times scale."""
    events = set().union(*counts)
    return {e: scale * sum(c.get(e, 0) for c in counts) for e in events}


def file_counts(path):
    """What one callgrind file counted: {event: total} ({"Ir": 0} if nothing)."""
    for _ in range(50):
        events = None
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("events:"):
                    events = line.split()[1:]
                elif line.startswith(("summary:", "totals:")) and events:
                    return dict(zip(events, map(int, line.split()[1:])))
        time.sleep(0.1)  # still being written
    return {"Ir": 0}


def summary(path, leaving_out=None):
    """What one callgrind file counted, less what ran inside the function
    `leaving_out` (the mail worker's exit when it is stopped)."""
    counts = file_counts(path)
    if not counts.get("Ir") or not leaving_out:
        return counts
    events = list(counts)
    inclusive = subprocess.run(["callgrind_annotate", "--inclusive=yes", f"--show={','.join(events)}",
                                "--threshold=100", path], capture_output=True, text=True, check=True).stdout
    match = re.search(r"^(.*?)\S*:%s \[" % re.escape(leaving_out), inclusive, re.M)
    if not match:
        return counts
    # One column per event: "1,234 ( 0.01%)", or "." for none.
    columns = re.sub(r"\([^)]*\)", " ", match.group(1)).split()
    inside = [0 if value == "." else int(value.replace(",", "")) for value in columns]
    return {e: counts[e] - n for e, n in zip(events, inside)}


def measure_side(valgrind, with_pg_mpa, runs):
    """{workload name: (events per transaction, of which the mail
    worker's)}: every workload on the cluster started once under callgrind."""
    valgrind.cluster.configure(with_pg_mpa)
    valgrind.cluster.stop()
    valgrind.restore_data()
    valgrind.start("with" if with_pg_mpa else "without")
    results = {}
    try:
        worker = valgrind.mail_worker_pid()
        for name, args, warm_up, measured, db in runs:
            valgrind.vacuum(db)
            if worker:  # a new one, for this workload's count (not the VACUUM's)
                _, worker = valgrind.restart_mail_worker(worker)
            warm = valgrind.pgbench(args, warm_up, db)
            full = valgrind.pgbench(args, measured, db)
            worker_count = {}
            if worker:
                worker_count, worker = valgrind.restart_mail_worker(worker)
            worker_per_txn = added(worker_count, scale=1 / (CLIENTS * (warm_up + measured)))
            backends_per_txn = added(full, added(warm, scale=-1), scale=1 / (CLIENTS * (measured - warm_up)))
            results[name] = (added(backends_per_txn, worker_per_txn), worker_per_txn)
    finally:
        valgrind.cluster.stop()
    return results


def main():
    cluster = benchlib.BenchCluster()
    valgrind = CallgrindCluster(cluster, os.path.join(os.path.dirname(cluster.data), "callgrind"))
    chosen = workloads(os.path.dirname(os.path.abspath(__file__)))
    runs = [(name, args, max(5, int(warm_up * SCALE_FACTOR)), max(10, int(measured * SCALE_FACTOR)), db)
            for name, args, warm_up, measured, _, db in chosen]
    try:
        with_pg_mpa = measure_side(valgrind, True, runs)
        without_pg_mpa = measure_side(valgrind, False, runs)
    finally:
        subprocess.run(["rm", "-rf", cluster.data + ".before-instructions"], check=False)
        cluster.use(True)  # the next benchmarks need pg_mpa, started normally
    for name, _, _, _, target, _ in chosen:
        (with_counts, worker_counts), (without_counts, _) = with_pg_mpa[name], without_pg_mpa[name]
        with_count, worker, without_count = with_counts["Ir"], worker_counts.get("Ir", 0), without_counts["Ir"]
        ratio = without_count / with_count
        benchlib.log(f"  {name}: {with_count:,.0f} instructions per txn with pg_mpa ({worker:,.0f} of them in"
                     f" the mail worker), {without_count:,.0f} without: {ratio:.4f}")
        benchlib.add_result(f"instructions: {name}, per txn (without/with)", f"{with_count / 1000:,.1f} k",
                            f"{without_count / 1000:,.1f} k", f"{ratio:.3f}", f">= {target}",
                            "pass" if ratio >= target else "FAIL")
        if CACHE_SIM:
            add_simulated_rows(name, with_counts, without_counts)


def add_simulated_rows(name, with_counts, without_counts):
    """What pg_mpa adds per transaction in simulated misses (info rows)."""
    for label, events in SIMULATED:
        with_sum, without_sum = (sum(counts.get(e, 0) for e in events) for counts in (with_counts, without_counts))
        ratio = f"{without_sum / with_sum:.3f}" if with_sum else "n/a"
        benchlib.add_result(f"cache sim: {name}: {label} per txn (without/with)", f"{with_sum:,.1f}",
                            f"{without_sum:,.1f}", ratio, "(none)", "info")


if __name__ == "__main__":
    main()
