"""Benchmark "scale" (issue 7, 5), the measuring half (bench/scale.sh loads
the rows between the phases): the latency of mpa_request, mpa_vote,
mpa_verify and of the gate's check of an unprotected and of a protected
statement, on an empty installation and on one holding a large history.

Why: pg_mpa's tables only grow (requests, votes, codes, mail); every path
must stay an index lookup, never a scan of that history.

  scale.py measure FILE      latencies of this phase, as JSON, to FILE
  scale.py report EMPTY LOADED
  scale.py memory            memory of a backend's policy cache (10,000 policies loaded by scale.sh)
  scale.py gate10k EMPTY     the gate's latency with 10,000 policies (info)

Each figure is the median over BENCH_SCALE_SAMPLES calls (default 200),
timed by the client (same connection, same statement text in both phases).
Target: loaded within 1.2x of empty (medians).
"""
import json
import os
import sys
import time

import psycopg2

import benchlib

SAMPLES = int(os.environ.get("BENCH_SCALE_SAMPLES", "200"))
PORT = os.environ["BENCH_SCALE_PORT"]


def connect(user):
    conn = psycopg2.connect(host=os.environ["BENCH_HOST"], port=PORT, dbname=os.environ["BENCH_DB"], user=user)
    conn.autocommit = True
    return conn


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


def gate_samples(dba):
    """The gate alone: a protected DROP TABLE (refused, MP001, after looking
    for an approval in mpa.requests) and an unprotected ALTER TABLE (which
    the gate describes and matches against every policy before letting it
    run), SAMPLES each after a warm-up."""
    out = {"gate_protected": [], "gate_unprotected": []}
    for i in range(SAMPLES + 10):
        _, protected_ms = timed(dba, "DROP TABLE scale.t_1", expect_sqlstate="MP001")
        _, unprotected_ms = timed(dba, f"ALTER TABLE public.scale_free ALTER COLUMN v SET DEFAULT {i}")
        if i >= 10:
            out["gate_protected"].append(protected_ms)
            out["gate_unprotected"].append(unprotected_ms)
    return out


def measure(path):
    dba, alice = connect("dba"), connect("alice")
    with dba.cursor() as cur:
        cur.execute("DO $$ BEGIN FOR i IN 1..10 LOOP"
                    " EXECUTE format('CREATE TABLE IF NOT EXISTS scale.t_%s (id int)', i); END LOOP; END $$")
        cur.execute("CREATE TABLE IF NOT EXISTS public.scale_free (id int, v int)")
    reader = benchlib.CodeReader(os.environ["BENCH_MAILDIR"])
    samples = {"request": [], "vote": [], "verify": []}
    requests = []
    for i in range(SAMPLES + 10):  # the first 10 warm the connections up
        request, ms = timed(dba, "SELECT mpa_request(%s, 'scale benchmark')", (f"DROP TABLE scale.t_{i % 10 + 1}",))
        requests.append(request)
        if i >= 10:
            samples["request"].append(ms)
    codes = []
    for i, request in enumerate(requests):
        _, ms = timed(alice, "SELECT mpa_vote(%s, 'approve')", (request,))
        codes.append(reader.wait("alice@example.com", request)[0])
        if i >= 10:
            samples["vote"].append(ms)
    perf = None
    if os.environ.get("BENCH_PERF_DIR"):  # investigating: profile the verify and gate loops of this phase
        pids = []
        for conn in (dba, alice):
            with conn.cursor() as cur:
                cur.execute("SELECT pg_backend_pid()")
                pids.append(cur.fetchone()[0])
        phase = os.path.basename(path).replace(".json", "")
        perf = benchlib.perf_attach(pids, os.path.join(os.environ["BENCH_PERF_DIR"], f"{phase}.perf.data"))
    for i, (request, code) in enumerate(zip(requests, codes)):
        _, ms = timed(alice, "SELECT mpa_verify(%s, %s)", (request, code))
        if i >= 10:
            samples["verify"].append(ms)
    samples.update(gate_samples(dba))
    if perf:
        benchlib.perf_detach(perf)
    for request in requests:  # leave no open request behind
        timed(dba, "SELECT mpa_cancel(%s)", (request,))
    with dba.cursor() as cur:
        cur.execute("SELECT (SELECT count(*) FROM mpa.requests), (SELECT count(*) FROM mpa.votes),"
                    " (SELECT count(*) FROM mpa.challenges), (SELECT count(*) FROM mpa.outbox),"
                    " to_regclass('mpa.audit') IS NOT NULL")
        rows = cur.fetchone()
        counts = {"requests": rows[0], "votes": rows[1], "challenges": rows[2], "outbox": rows[3]}
        if rows[4]:
            cur.execute("SELECT count(*) FROM mpa.audit")
            counts["audit"] = cur.fetchone()[0]
    benchlib.log(f"  scale: rows after measuring: {counts}")
    with open(path, "w") as f:
        json.dump({"samples": samples, "counts": counts}, f)


LABELS = {
    "request": "mpa_request",
    "vote": "mpa_vote",
    "verify": "mpa_verify",
    "gate_unprotected": "gate, unprotected ALTER TABLE",
    "gate_protected": "gate, protected DROP TABLE (refused)",
}


def report(empty_path, loaded_path):
    with open(empty_path) as f:
        empty = json.load(f)
    with open(loaded_path) as f:
        loaded = json.load(f)
    history = ", ".join(f"{v:,} {k}" for k, v in loaded["counts"].items())
    benchlib.log(f"  scale: loaded phase holds {history}")
    for key, label in LABELS.items():
        e, l = benchlib.median(empty["samples"][key]), benchlib.median(loaded["samples"][key])
        ratio = l / e
        benchlib.log(f"  scale {key}: empty p50 {e:.2f} p99 {benchlib.percentile(empty['samples'][key], 99):.2f}; "
                     f"loaded p50 {l:.2f} p99 {benchlib.percentile(loaded['samples'][key], 99):.2f} ms")
        benchlib.add_result(f"scale: {label}", f"loaded {l:.2f} ms / empty {e:.2f} ms", "n/a", f"{ratio:.3f}",
                            "<= 1.2", "pass" if ratio <= 1.2 else "FAIL")


def memory():
    """A fresh backend's memory before and after its first utility statement
    loads the 10,000-policy cache."""
    conn = connect("dba")
    total_sql = "SELECT sum(total_bytes)::bigint FROM pg_backend_memory_contexts"
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM mpa.policies")
        policies = cur.fetchone()[0]
        for _ in range(3):  # let the measuring query's own caches settle
            cur.execute(total_sql)
            before = cur.fetchone()[0]
        cur.execute("SELECT total_bytes FROM pg_backend_memory_contexts WHERE name = 'pg_mpa policies'")
        if cur.fetchone() is not None:
            raise SystemExit("the policy cache was loaded before the first utility statement")
        cur.execute("DROP TABLE IF EXISTS public.scale_absent")  # the gate loads the cache
        cur.execute(total_sql)
        after = cur.fetchone()[0]
        cur.execute("SELECT total_bytes FROM pg_backend_memory_contexts WHERE name = 'pg_mpa policies'")
        cache = cur.fetchone()[0]
    benchlib.log(f"  scale memory: {policies} policies; context 'pg_mpa policies' {cache} bytes; "
                 f"backend total {before} -> {after} bytes")
    benchlib.add_result(f"scale: memory per backend, {policies:,}-policy cache",
                        f"{cache / 1048576:.2f} MiB cache (+{(after - before) / 1048576:.2f} MiB backend)",
                        "n/a", "n/a", "(stated)", "info")


def gate10k(empty_path):
    """The gate with 10,000 policies, against the empty phase (1,000)."""
    with open(empty_path) as f:
        empty = json.load(f)
    samples = gate_samples(connect("dba"))
    for key in ("gate_unprotected", "gate_protected"):
        e, l = benchlib.median(empty["samples"][key]), benchlib.median(samples[key])
        benchlib.add_result(f"scale: {LABELS[key]}, 10,000 policies",
                            f"{l:.2f} ms (1,000 policies: {e:.2f} ms)", "n/a", f"{l / e:.3f}", "(none)", "info")


def main():
    command = sys.argv[1]
    if command == "measure":
        measure(sys.argv[2])
    elif command == "report":
        report(sys.argv[2], sys.argv[3])
    elif command == "memory":
        memory()
    elif command == "gate10k":
        gate10k(sys.argv[2])
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
