"""Benchmark "scale" (issue 7, 5), the measuring half (bench/scale.sh sets up
the two installations): the latency of mpa_request, mpa_vote, mpa_verify
and of the gate's check of an unprotected and of a protected statement, on
an empty installation and on one holding a large history, side by side.

Why: pg_mpa's tables only grow (requests, votes, codes, mail, audit); every
path must stay an index lookup, never a scan of that history. That includes
the mail worker's: a vote is only usable once its code mail arrives, so the
time from the vote's commit to the SMTP server storing the code mail is
measured with the same target.

  scale.py rounds EMPTY.json   alternating rounds on both installations; adds the rows
  scale.py memory              memory of a backend's policy cache (10,000 policies, empty installation)
  scale.py gate10k EMPTY.json  the gate's latency with 10,000 policies (info)

Each round measures BENCH_SCALE_SAMPLES (50) calls of each kind per
installation, timed by the client; rounds alternate (ABBA) as in the
with/without pairs, and a pair of rounds disturbed by other processes is
measured again. Figures: medians over all samples of each installation;
ratio: the median of the rounds' loaded/empty ratios of medians.
Target: loaded within 1.2x of empty.
"""
import json
import os
import sys
import time

import psycopg2

import benchlib

# 50, not 20: the calls take about a millisecond on a 2-core machine where
# the worker, the SMTP server and the client run too, and with 20 the
# medians of one round moved by up to 40 % (mpa_vote's round ratios read
# 0.55-2.41 while the function's own time, from pg_stat_user_functions, was
# the same on both installations within 2 %).
SAMPLES = int(os.environ.get("BENCH_SCALE_SAMPLES", "50"))
ROUNDS = int(os.environ.get("BENCH_SCALE_ROUNDS", "5"))
KINDS = {
    "request": "mpa_request",
    "vote": "mpa_vote",
    "code_mail": "code mail, vote commit -> SMTP stored",
    "verify": "mpa_verify",
    "gate_unprotected": "gate, unprotected ALTER TABLE",
    "gate_protected": "gate, protected DROP TABLE (refused)",
}


# The same calls timed inside the server (track_functions = pl, set by
# bench/scale.sh): the functions' own work, without the client's and the
# scheduler's share, which on 2 cores is most of a millisecond call's spread.
# mpa_request is an SQL wrapper that the planner inlines: its PL/pgSQL body,
# mpa.create_request, is what is counted.
SERVER_KINDS = {"request": ("dba", "mpa", "create_request"), "vote": ("alice", "public", "mpa_vote"),
                "verify": ("alice", "public", "mpa_verify")}


def timed(conn, sql, args=(), expect_sqlstate=None):
    start = time.perf_counter()
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            value = cur.fetchone()[0] if cur.description else None
    except psycopg2.Error as error:
        if error.pgcode != expect_sqlstate:
            raise
        value = error.pgcode
    else:
        if expect_sqlstate:
            raise SystemExit(f"{sql!r} was expected to fail with {expect_sqlstate}")
    return value, (time.perf_counter() - start) * 1000


class Installation:
    """dba's and alice's sessions on one installation, kept across rounds."""

    def __init__(self, name, port, alice_address, reader):
        self.name, self.port, self.alice_address, self.reader = name, port, alice_address, reader
        self.dba, self.alice = self.connect("dba"), self.connect("alice")
        with self.dba.cursor() as cur:
            cur.execute("DO $$ BEGIN FOR i IN 1..10 LOOP"
                        " EXECUTE format('CREATE TABLE IF NOT EXISTS scale.t_%s (id int)', i); END LOOP; END $$")
            cur.execute("CREATE TABLE IF NOT EXISTS public.scale_free (id int, v int)")
        self.counter = 0

    def connect(self, user):
        conn = psycopg2.connect(host=os.environ["BENCH_HOST"], port=self.port, dbname=os.environ["BENCH_DB"],
                                user=user)
        conn.autocommit = True
        return conn

    def server_times(self):
        """{kind: (calls, total milliseconds)} from pg_stat_user_functions,
        after the calling sessions flushed their statistics."""
        out = {}
        for kind, (user, schema, function) in SERVER_KINDS.items():
            with getattr(self, user).cursor() as cur:
                cur.execute("SELECT pg_stat_force_next_flush()")  # flushed when this statement ends
                cur.execute("SELECT coalesce(sum(calls), 0)::float8, coalesce(sum(total_time), 0)::float8"
                            " FROM pg_stat_user_functions"
                            " WHERE schemaname = %s AND funcname = %s", (schema, function))
                out[kind] = cur.fetchone()
        return out

    def pids(self):
        out = []
        for conn in (self.dba, self.alice):
            with conn.cursor() as cur:
                cur.execute("SELECT pg_backend_pid()")
                out.append(cur.fetchone()[0])
        return out

    def quiet(self):
        """Waits until the mail worker has no mail left to send, so that every
        timed call runs on an otherwise idle server: on 2 cores the worker's
        and the SMTP server's work for the previous call (a request mails
        three approvers) would otherwise fall into the next call's time.
        Each status is read through its partial index."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with self.dba.cursor() as cur:
                cur.execute("SELECT NOT EXISTS (SELECT FROM mpa.outbox WHERE status = 'pending')"
                            " AND NOT EXISTS (SELECT FROM mpa.outbox WHERE status = 'sending')")
                if cur.fetchone()[0]:
                    return
            time.sleep(0.001)
        raise SystemExit(f"{self.name}: mail still queued after 60 s")

    def measure(self, n, perf_dir=None):
        """n calls of each kind: {kind: [milliseconds, ...]}. With perf_dir,
        each loop runs under perf (investigating; not for the figures)."""
        got = {kind: [] for kind in KINDS}
        spent = {}
        started = time.monotonic()
        server_before = self.server_times()
        # Autovacuum is off in the benchmark clusters (noise); its ANALYZE
        # is done here instead, untimed, so that plans follow the tables'
        # growth as they would in production.
        with self.dba.cursor() as cur:
            cur.execute("ANALYZE mpa.requests, mpa.challenges, mpa.votes, mpa.outbox")
        spent["analyze"] = time.monotonic() - started

        def loop(kind, body):
            begun = time.monotonic()
            self.quiet()
            perf = None
            if perf_dir:
                perf = benchlib.perf_attach(self.pids(), os.path.join(perf_dir, f"scale-{self.name}-{kind}.perf.data"))
                time.sleep(0.3)  # perf needs a moment to attach
            result = body()
            if perf:
                benchlib.perf_detach(perf)
            spent[kind] = time.monotonic() - begun
            return result

        def requests_loop():
            out = []
            for _ in range(n):
                self.counter += 1
                self.quiet()
                request, ms = timed(self.dba, "SELECT mpa_request(%s, 'scale benchmark')",
                                    (f"DROP TABLE scale.t_{self.counter % 10 + 1}",))
                out.append(request)
                got["request"].append(ms)
            return out

        def votes_loop():
            out = []
            for request in requests:
                self.quiet()
                _, ms = timed(self.alice, "SELECT mpa_vote(%s, 'approve')", (request,))
                committed = time.time()
                got["vote"].append(ms)
                code, received = self.reader.wait(self.alice_address, request, timeout=120)
                got["code_mail"].append((received - committed) * 1000)
                out.append(code)
            return out

        def verify_loop():
            for request, code in zip(requests, codes):
                self.quiet()
                got["verify"].append(timed(self.alice, "SELECT mpa_verify(%s, %s)", (request, code))[1])

        def gate_protected_loop():
            # Refused after the gate looked for an approval in mpa.requests.
            for _ in range(n):
                self.quiet()
                got["gate_protected"].append(timed(self.dba, "DROP TABLE scale.t_1", expect_sqlstate="MP001")[1])

        def gate_unprotected_loop():
            # Described and matched against every policy, then run.
            for _ in range(n):
                self.counter += 1
                self.quiet()
                got["gate_unprotected"].append(
                    timed(self.dba, f"ALTER TABLE public.scale_free ALTER COLUMN v SET DEFAULT {self.counter}")[1])

        requests = loop("request", requests_loop)
        codes = loop("vote", votes_loop)
        loop("verify", verify_loop)
        loop("gate_protected", gate_protected_loop)
        loop("gate_unprotected", gate_unprotected_loop)
        server_after = self.server_times()
        got["server"] = {}
        for kind in SERVER_KINDS:
            calls = server_after[kind][0] - server_before[kind][0]
            if calls != n:
                raise SystemExit(f"{self.name}: pg_stat_user_functions counted {calls:.0f} calls of "
                                 f"{SERVER_KINDS[kind][2]}, not {n} (is track_functions on?)")
            got["server"][kind] = (server_after[kind][1] - server_before[kind][1]) / calls
        begun = time.monotonic()
        for request in requests:  # leave no open request behind (not timed)
            timed(self.dba, "SELECT mpa_cancel(%s)", (request,))
        spent["cancel"] = time.monotonic() - begun
        if os.environ.get("BENCH_SCALE_VERBOSE"):
            benchlib.log(f"    {self.name}: {n} of each in {time.monotonic() - started:.1f} s ("
                         + ", ".join(f"{k} {v:.1f}" for k, v in spent.items()) + ")")
        return got

    def counts(self):
        with self.dba.cursor() as cur:
            cur.execute("SELECT (SELECT count(*) FROM mpa.requests), (SELECT count(*) FROM mpa.votes),"
                        " (SELECT count(*) FROM mpa.challenges), (SELECT count(*) FROM mpa.outbox),"
                        " (SELECT CASE WHEN to_regclass('mpa.audit') IS NOT NULL THEN"
                        "   (xpath('/row/c/text()', query_to_xml('SELECT count(*) AS c FROM mpa.audit', false, true, '')))[1]::text::bigint END)")
            rows = cur.fetchone()
        names = ("requests", "votes", "challenges", "outbox", "audit entries")
        return ", ".join(f"{v:,} {n}" for n, v in zip(names, rows) if v is not None)


def rounds(empty_path):
    reader = benchlib.CodeReader(os.environ["BENCH_MAILDIR"])
    empty = Installation("empty", os.environ["BENCH_EMPTY_PORT"], "alice@example.com", reader)
    loaded = Installation("loaded", os.environ["BENCH_LOADED_PORT"], "alice+loaded@example.com", reader)
    benchlib.log(f"  scale: empty holds {empty.counts()}; loaded holds {loaded.counts()}")
    for installation in (empty, loaded):  # warm-up: plans, caches, connections
        installation.measure(10)

    if os.environ.get("BENCH_PERF_DIR"):  # investigating: one extra, untimed round of each under perf
        for installation in (empty, loaded):
            installation.measure(SAMPLES * 5, perf_dir=os.environ["BENCH_PERF_DIR"])
            benchlib.log(f"  profiles of {installation.name} written to {os.environ['BENCH_PERF_DIR']}")

    empty_rounds, loaded_rounds = benchlib.alternate(ROUNDS, lambda: empty.measure(SAMPLES),
                                                     lambda: loaded.measure(SAMPLES))
    medians = {}
    for kind, label in KINDS.items():
        e_all = [v for r in empty_rounds for v in r[kind]]
        l_all = [v for r in loaded_rounds for v in r[kind]]
        e, l = benchlib.median(e_all), benchlib.median(l_all)
        medians[kind] = e
        per_round = [benchlib.median(lr[kind]) / benchlib.median(er[kind])
                     for er, lr in zip(empty_rounds, loaded_rounds)]
        ratio = benchlib.median(per_round)
        benchlib.log(f"  scale {kind}: empty p50 {e:.2f} p99 {benchlib.percentile(e_all, 99):.2f}; "
                     f"loaded p50 {l:.2f} p99 {benchlib.percentile(l_all, 99):.2f} ms; "
                     f"round ratios {[round(v, 2) for v in per_round]}")
        benchlib.add_result(f"scale: {label}", f"loaded {l:.2f} ms / empty {e:.2f} ms", "n/a", f"{ratio:.3f}",
                            "<= 1.2", "pass" if ratio <= 1.2 else "FAIL")
    for kind, (_, schema, function) in SERVER_KINDS.items():
        e_means = [r["server"][kind] for r in empty_rounds]
        l_means = [r["server"][kind] for r in loaded_rounds]
        ratio = benchlib.median([l / e for e, l in zip(e_means, l_means)])
        benchlib.log(f"  scale {schema}.{function} in the server: empty {[round(v, 3) for v in e_means]}; "
                     f"loaded {[round(v, 3) for v in l_means]} ms per call")
        benchlib.add_result(f"scale: {KINDS[kind]}, time in the server ({function}, mean)",
                            f"loaded {benchlib.median(l_means):.3f} ms / empty {benchlib.median(e_means):.3f} ms",
                            "n/a", f"{ratio:.3f}", "(none)", "info")
    with open(empty_path, "w") as f:
        json.dump(medians, f)


def memory():
    """A fresh backend's memory before and after its first utility statement
    loads the 10,000-policy cache."""
    conn = psycopg2.connect(host=os.environ["BENCH_HOST"], port=os.environ["BENCH_EMPTY_PORT"],
                            dbname=os.environ["BENCH_DB"], user="dba")
    conn.autocommit = True
    total_sql = "SELECT sum(total_bytes)::bigint FROM pg_backend_memory_contexts"
    cache_sql = "SELECT total_bytes FROM pg_backend_memory_contexts WHERE name = 'pg_mpa policies'"
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM mpa.policies")
        policies = cur.fetchone()[0]
        for _ in range(3):  # let the measuring query's own caches settle
            cur.execute(total_sql)
            before = cur.fetchone()[0]
        cur.execute(cache_sql)
        if cur.fetchone() is not None:
            raise SystemExit("the policy cache was loaded before the first utility statement")
        cur.execute("DROP TABLE IF EXISTS public.scale_absent")  # the gate loads the cache
        cur.execute(total_sql)
        after = cur.fetchone()[0]
        cur.execute(cache_sql)
        cache = cur.fetchone()[0]
    benchlib.log(f"  scale memory: {policies} policies; context 'pg_mpa policies' {cache} bytes; "
                 f"backend total {before} -> {after} bytes")
    benchlib.add_result(f"scale: memory per backend, {policies:,}-policy cache",
                        f"{cache / 1048576:.2f} MiB cache (+{(after - before) / 1048576:.2f} MiB backend)",
                        "n/a", "n/a", "(stated)", "info")


def gate10k(empty_path):
    """The gate with 10,000 policies, against the rounds' figures with 1,000."""
    with open(empty_path) as f:
        before = json.load(f)
    installation = Installation("empty", os.environ["BENCH_EMPTY_PORT"], "alice@example.com",
                                benchlib.CodeReader(os.environ["BENCH_MAILDIR"]))
    installation.measure(10)
    got = installation.measure(SAMPLES * 2)
    for kind in ("gate_unprotected", "gate_protected"):
        now = benchlib.median(got[kind])
        benchlib.add_result(f"scale: {KINDS[kind]}, 10,000 policies",
                            f"{now:.2f} ms (1,000 policies: {before[kind]:.2f} ms)", "n/a",
                            f"{now / before[kind]:.3f}", "(none)", "info")


def main():
    command = sys.argv[1]
    if command == "rounds":
        rounds(sys.argv[2])
    elif command == "memory":
        memory()
    elif command == "gate10k":
        gate10k(sys.argv[2])
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
