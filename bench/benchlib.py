"""Shared pieces of the benchmark drivers: statistics, the results file
bench/run prints as one table, side-by-side pgbench runs against the
clusters with and without pg_mpa, and a fast reader of the mail the local
SMTP server stores (for the one-time codes)."""

import email
import signal
import email.policy
import json
import os
import re
import statistics
import pwd
import random
import subprocess
import threading
import time


def median(values):
    return statistics.median(values)


def bootstrap_interval(values, statistic=statistics.median, resamples=4000):
    """The 95 % bootstrap interval of statistic(values): how far a figure
    measured from this few paired runs can be from the true one."""
    rng = random.Random(0)  # the same interval for the same values
    estimates = sorted(statistic(rng.choices(values, k=len(values))) for _ in range(resamples))
    return estimates[int(resamples * 0.025)], estimates[int(resamples * 0.975) - 1]


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil
    return ordered[int(rank) - 1]


def add_result(benchmark, with_value, without_value, ratio, target, result):
    """One row of the final table (bench/report.py prints them)."""
    path = os.environ["BENCH_RESULTS"]
    with open(path, "a", encoding="utf-8") as f:
        f.write("\t".join(str(v) for v in (benchmark, with_value, without_value, ratio, target, result)) + "\n")


def log(message):
    print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)


# --- pgbench, alternating between the two clusters ---------------------------

# With -C (a connection per transaction) pgbench counts the connections in.
TPS_RE = re.compile(r"^tps = ([0-9.]+) \((?:without initial connection time|including reconnection times)\)", re.M)


TXNS_RE = re.compile(r"^number of transactions actually processed: ([0-9]+)", re.M)


def children_cpu(data_dir):
    """CPU seconds of the postmaster's children that have exited (cutime +
    cstime): read before and after a pgbench run, the CPU its backends
    used, whatever else ran on the machine meanwhile."""
    with open(os.path.join(data_dir, "postmaster.pid")) as f:
        pid = f.readline().strip()
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


class WaitSampler:
    """Investigating (BENCH_WAIT_EVENTS=1): what pgbench's backends are
    doing, sampled from pg_stat_activity every 5 ms during a run."""

    def __init__(self, host, port, dbname):
        import psycopg2
        self.conn = psycopg2.connect(host=host, port=port, dbname=dbname, user="postgres")
        self.conn.autocommit = True
        self.counts = {}
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        with self.conn.cursor() as cur:
            while not self.stop_event.wait(0.005):
                cur.execute("SELECT state, coalesce(wait_event_type || ':' || wait_event, 'CPU') FROM pg_stat_activity"
                            " WHERE application_name = 'pgbench' AND backend_type = 'client backend'")
                for state, event in cur.fetchall():
                    key = event if state == "active" else f"({state}) {event}"
                    self.counts[key] = self.counts.get(key, 0) + 1

    def stop(self):
        self.stop_event.set()
        self.thread.join()
        self.conn.close()
        total = sum(self.counts.values()) or 1
        return ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in
                         sorted(self.counts.items(), key=lambda kv: -kv[1])[:6])


def live_children_cpu(data_dir):
    """{process title: CPU seconds} of the postmaster's running children."""
    with open(os.path.join(data_dir, "postmaster.pid")) as f:
        postmaster = f.readline().strip()
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if fields[1] != postmaster:
                continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                title = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        out[title] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def pgbench_tps(pgbench, host, port, dbname, args, data_dir=None):
    """(transactions per second, backend CPU milliseconds per transaction or None)."""
    sampler = WaitSampler(host, port, dbname) if os.environ.get("BENCH_WAIT_EVENTS") and data_dir else None
    others_before = live_children_cpu(data_dir) if sampler else None
    before = children_cpu(data_dir) if data_dir else None
    out = subprocess.run([pgbench, "-h", host, "-p", str(port), "-U", "postgres", *args, dbname],
                         capture_output=True, text=True)
    match = TPS_RE.search(out.stdout)
    if out.returncode != 0 or not match:
        raise SystemExit(f"pgbench failed on port {port}:\n{out.stdout}\n{out.stderr}")
    cpu_per_txn = None
    if data_dir:
        time.sleep(0.2)  # the backends' exit reaches the postmaster
        cpu_per_txn = (children_cpu(data_dir) - before) * 1000 / int(TXNS_RE.search(out.stdout).group(1))
    if sampler:
        others = live_children_cpu(data_dir)
        used = sorted(((t, c - others_before.get(t, 0.0)) for t, c in others.items()), key=lambda tc: -tc[1])
        log(f"    port {port}: {float(match.group(1)):,.0f} tps; backends: {sampler.stop()}; other processes: "
            + ", ".join(f"{t[:40]} {c:.2f}s" for t, c in used[:3] if c > 0))
    return float(match.group(1)), cpu_per_txn


def perf_attach(pids, out):
    """perf record (user space, call graphs) of these backends until
    perf_detach; for profiling a run (BENCH_PERF_DIR), never during a timed one."""
    return subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock:u", "--call-graph", "dwarf,16384",
                             "-F", os.environ.get("BENCH_PERF_FREQ", "499"), "-p", ",".join(str(p) for p in pids), "-o", out],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def perf_detach(proc):
    proc.send_signal(signal.SIGINT)
    proc.wait()


def profile_pgbench(pgbench, host, port, dbname, args, out, psql_bin):
    """One pgbench run (not timed) with its client backends under perf."""
    clients = int(args[args.index("-c") + 1]) if "-c" in args else 1
    run = subprocess.Popen([pgbench, "-h", host, "-p", str(port), "-U", "postgres", *args, dbname],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pids = []
    while run.poll() is None and len(pids) < clients:  # pgbench's own setup connection comes and goes first
        time.sleep(0.02)
        pids = subprocess.run([psql_bin, "-h", host, "-p", str(port), "-U", "postgres", "-X", "-tA", "-d", dbname,
                               "-c", "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench'"
                                     " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"],
                              capture_output=True, text=True).stdout.split()
    perf = perf_attach(pids, out) if pids else None
    run.wait()
    if perf:
        perf_detach(perf)
    log(f"  profile of {len(pids)} backends written to {out}")


def psql(host, port, dbname, sql, psql_bin):
    subprocess.run([psql_bin, "-h", host, "-p", str(port), "-U", "postgres", "-X", "-q",
                    "-v", "ON_ERROR_STOP=1", "-d", dbname, "-c", sql], check=True,
                   stdout=subprocess.DEVNULL)


class ExternalLoad:
    """CPU time used meanwhile by processes that are not the benchmark's:
    neither the postgres user's (clusters, pgbench, drivers, SMTP server) nor
    kernel threads. On a 2-core machine shared with other work (a compiler
    started by someone else), such load spoils a with/without pair."""

    INTERVAL = 0.5

    def __init__(self):
        self.own_uid = pwd.getpwnam("postgres").pw_uid
        self.tick = os.sysconf("SC_CLK_TCK")
        self.seen = {}
        self.used = 0.0
        self.names = {}
        self.stop_event = threading.Event()
        self.thread = None
        self.started = None

    def _scan(self, record):
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                if os.stat(f"/proc/{pid}").st_uid == self.own_uid:
                    continue
                with open(f"/proc/{pid}/stat") as f:
                    data = f.read()
            except OSError:
                continue
            comm = data[data.index("(") + 1:data.rindex(")")]
            fields = data[data.rindex(")") + 2:].split()
            if fields[1] in ("0", "2") or pid == "2":  # kernel threads
                continue
            cpu = (int(fields[11]) + int(fields[12])) / self.tick
            key = (pid, fields[19])  # pid and start time: a reused pid is another process
            if record:
                delta = cpu - self.seen.get(key, 0.0)
                if delta > 0:
                    self.used += delta
                    self.names[comm] = self.names.get(comm, 0.0) + delta
            self.seen[key] = cpu

    def _run(self):
        while not self.stop_event.wait(self.INTERVAL):
            self._scan(True)

    def start(self):
        self._scan(False)
        self.started = time.monotonic()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def stop(self):
        """(share of one core used by others, the main users by name)"""
        self.stop_event.set()
        self.thread.join()
        self._scan(True)
        elapsed = time.monotonic() - self.started
        top = sorted(self.names.items(), key=lambda kv: -kv[1])[:3]
        return self.used / elapsed, ", ".join(f"{n} {t:.1f}s" for n, t in top)


# A pair during which other processes used more than this share of one core
# is measured again (at most as many times as there are rounds in all).
EXTERNAL_LOAD_LIMIT = float(os.environ.get("BENCH_EXTERNAL_LOAD_LIMIT", "0.05"))


class BenchCluster:
    """The benchmark cluster (bench/lib.sh), restarted with or without pg_mpa
    in shared_preload_libraries: the same build and the same data on both
    sides. BENCH_CALIBRATE=1 makes the "with" side run without pg_mpa too
    (an A/A run: what the method reads when nothing differs)."""

    def __init__(self):
        self.data = os.environ["BENCH_WITH_DATA"]
        self.port = os.environ["BENCH_WITH_PORT"]
        self.pg_ctl = os.path.join(os.environ["MPA_PG_BIN"], "pg_ctl")
        self.calibrate = bool(os.environ.get("BENCH_CALIBRATE"))

    def configure(self, with_pg_mpa):
        """pg_mpa in shared_preload_libraries or not, from the next start."""
        preload = "pg_mpa" if with_pg_mpa and not self.calibrate else ""
        conf = os.path.join(self.data, "postgresql.conf")
        with open(conf) as f:
            lines = [l for l in f if not l.startswith("shared_preload_libraries")]
        lines.append(f"shared_preload_libraries = '{preload}'\n")
        with open(conf, "w") as f:
            f.writelines(lines)

    def use(self, with_pg_mpa):
        """Restarts the cluster with or without pg_mpa (always: every
        measurement starts from a freshly started server)."""
        self.configure(with_pg_mpa)
        self.pg_ctl_run("restart" if self.running() else "start")

    def running(self):
        return os.path.exists(os.path.join(self.data, "postmaster.pid"))

    def stop(self):
        if self.running():
            self.pg_ctl_run("stop")

    def pg_ctl_run(self, action):
        subprocess.run([self.pg_ctl, "-D", self.data, "-l", self.data + ".log", "-m", "fast", "-w", "-t", "120",
                        action], check=True, stdout=subprocess.DEVNULL)


def alternate(rounds, measure_with, measure_without):
    """Runs with/without alternately (ABBA: A B, B A, A B, ...) so that a slow
    drift of the machine falls on both sides; a pair disturbed by other
    processes' load is discarded and measured again. Returns both lists."""
    with_values, without_values = [], []
    retries = rounds
    r = 0
    while r < rounds:
        order = [("with", measure_with), ("without", measure_without)]
        if r % 2:
            order.reverse()
        load = ExternalLoad()
        load.start()
        pair = {side: measure() for side, measure in order}
        share, who = load.stop()
        if share > EXTERNAL_LOAD_LIMIT and retries > 0:
            retries -= 1
            log(f"    round {r + 1}: other processes used {100 * share:.0f}% of a core ({who}); measuring it again")
            continue
        if share > EXTERNAL_LOAD_LIMIT:
            log(f"    round {r + 1}: other processes used {100 * share:.0f}% of a core ({who}); kept (no retries left)")
        with_values.append(pair["with"])
        without_values.append(pair["without"])
        r += 1
    return with_values, without_values


def report_ratio(benchmark, unit, with_values, without_values, target, higher_is_better, fmt="{:,.0f}"):
    """Adds the row: the median of each side, and as the ratio the median of
    the rounds' with/without ratios (each round's pair ran back to back, so a
    burst of other load on the machine spoils one pair, not the figure)."""
    w, wo = median(with_values), median(without_values)
    paired = [a / b for a, b in zip(with_values, without_values)]
    ratio = median(paired)
    ok = ratio >= target if higher_is_better else ratio <= target
    log(f"  {benchmark}: with {[round(v, 2) for v in with_values]} without "
        f"{[round(v, 2) for v in without_values]} per-round ratios {[round(v, 3) for v in paired]}")
    add_result(benchmark, f"{fmt.format(w)} {unit}", f"{fmt.format(wo)} {unit}", f"{ratio:.3f}",
               f"{'>=' if higher_is_better else '<='} {target}", "pass" if ok else "FAIL")
    return ratio


# --- one-time codes from the SMTP server's maildir ----------------------------

CODE_RE = re.compile(r"one-time code: ([0-9]{6})\b")


class CodeReader:
    """Reads code mails as the SMTP server stores them and removes every file
    it has read, so that new/ stays short and polling stays cheap however
    much mail a run sends. Other benchmarks that need the files (mail)
    run when no reader is active."""

    def __init__(self, maildir):
        self.new = os.path.join(maildir, "new")
        self.codes = {}  # (recipient, request id) -> (code, server receive time)

    def _scan(self):
        try:
            names = [n for n in os.listdir(self.new) if n.endswith(".eml")]
        except FileNotFoundError:
            return
        for name in names:
            path = os.path.join(self.new, name)
            side = path[:-4] + ".json"
            try:
                with open(side, encoding="utf-8") as f:
                    meta = json.load(f)
                with open(path, "rb") as f:
                    msg = email.message_from_binary_file(f, policy=email.policy.default)
            except FileNotFoundError:
                continue
            subject = str(msg.get("Subject", ""))
            match = re.search(r"your code to \w+ request #([0-9]+)", subject)
            if match:
                body = msg.get_body(preferencelist=("plain",))
                code = CODE_RE.search(body.get_content() if body else "")
                if code:
                    for rcpt in meta.get("rcpt_tos") or []:
                        self.codes[(rcpt.lower(), int(match.group(1)))] = (code.group(1), meta["received_epoch"])
            os.unlink(path)
            os.unlink(side)

    def wait(self, recipient, request_id, timeout=30.0):
        """(code, receive time) of the code mail for this request."""
        key = (recipient.lower(), request_id)
        deadline = time.monotonic() + timeout
        while True:
            if key in self.codes:
                return self.codes.pop(key)
            self._scan()
            if key in self.codes:
                return self.codes.pop(key)
            if time.monotonic() > deadline:
                raise SystemExit(f"no code mail for {recipient} on request {request_id} within {timeout} s")
            time.sleep(0.0005)
