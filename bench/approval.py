"""Benchmark "approval" (issue 7, 4): the whole approval path as people use
it, repeated: dba requests DROP TABLE approval.t_N (protected), alice and
bob each vote and confirm with the code they read from the mail the local
SMTP server stored, and dba runs the approved statement with mpa_execute.

Why: this is pg_mpa's own work path (plpgsql functions, outbox, mail
worker, code derivation, tally); its latency is what an approver feels and
its rate bounds how many approvals a installation can handle. Each step is
timed as the client sees it; the code mail's delivery is the time from the
vote's COMMIT returning to the SMTP server storing the message (its own
timestamp, same clock). There is no "without pg_mpa" for this path.

  BENCH_APPROVAL_LOOPS (default 1000)
"""
import os
import time

import psycopg2

import benchlib

LOOPS = int(os.environ.get("BENCH_APPROVAL_LOOPS", "1000"))


def connect(user):
    conn = psycopg2.connect(host=os.environ["BENCH_HOST"], port=os.environ["BENCH_WITH_PORT"],
                            dbname=os.environ["BENCH_DB"], user=user)
    conn.autocommit = True
    return conn


def timed(conn, sql, args=()):
    start = time.perf_counter()
    with conn.cursor() as cur:
        cur.execute(sql, args)
        value = cur.fetchone()[0] if cur.description else None
    return value, (time.perf_counter() - start) * 1000


def main():
    dba, alice, bob = connect("dba"), connect("alice"), connect("bob")
    with dba.cursor() as cur:
        cur.execute(f"""DO $$ BEGIN FOR i IN 1..{LOOPS} LOOP
                          EXECUTE format('CREATE TABLE approval.t_%s (id int)', i); END LOOP; END $$""")
    reader = benchlib.CodeReader(os.environ["BENCH_MAILDIR"])
    steps = {k: [] for k in ("request", "vote", "code", "verify", "verify_final", "execute")}

    started = time.perf_counter()
    for i in range(1, LOOPS + 1):
        request, ms = timed(dba, "SELECT mpa_request(%s, %s)",
                            (f"DROP TABLE approval.t_{i}", f"approval benchmark, loop {i}"))
        steps["request"].append(ms)
        for who, conn, step in (("alice", alice, "verify"), ("bob", bob, "verify_final")):
            _, ms = timed(conn, "SELECT mpa_vote(%s, 'approve')", (request,))
            committed = time.time()
            steps["vote"].append(ms)
            code, received = reader.wait(f"{who}@example.com", request)
            steps["code"].append((received - committed) * 1000)
            outcome, ms = timed(conn, "SELECT mpa_verify(%s, %s)", (request, code))
            steps[step].append(ms)
        if not outcome.endswith("the request is approved"):
            raise SystemExit(f"request {request} not approved: {outcome}")
        _, ms = timed(dba, "SELECT mpa_execute(%s)", (request,))
        steps["execute"].append(ms)
    elapsed = time.perf_counter() - started

    with dba.cursor() as cur:
        cur.execute("SELECT count(*) FROM mpa.requests WHERE state = 'executed' AND statement LIKE 'DROP TABLE approval.%'")
        executed = cur.fetchone()[0]
    if executed != LOOPS:
        raise SystemExit(f"{executed} of {LOOPS} requests executed")

    names = {
        "request": "mpa_request",
        "vote": "mpa_vote (2 per loop)",
        "code": "code mail, vote commit -> SMTP stored",
        "verify": "mpa_verify, first vote",
        "verify_final": "mpa_verify, final vote (approves)",
        "execute": "mpa_execute (DROP TABLE)",
    }
    for key, label in names.items():
        values = steps[key]
        benchlib.add_result(f"approval: {label}",
                            f"p50 {benchlib.median(values):.1f} ms, p99 {benchlib.percentile(values, 99):.1f} ms",
                            "n/a", "n/a", "(none)", "info")
    benchlib.add_result(f"approval: whole loop, {LOOPS:,} loops", f"{LOOPS / elapsed:.1f} loops/s", "n/a", "n/a",
                        "(none)", "info")
    benchlib.log(f"  approval: {LOOPS} loops in {elapsed:.1f} s")


if __name__ == "__main__":
    main()
