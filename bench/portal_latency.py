"""Benchmark "portal": the approval portal's pages with 1,000 pending
requests (issue #20, "Latency": p99 < 100 ms on this machine). Printed,
not asserted: a figure to read, not a test.

bob, an approver of the team every request names, signs in over HTTPS
(TLS, gunicorn, as deployed) and reads pages one after another as a
browser would, on one kept-alive connection: his waiting list (the 1,000
requests), request pages of random requests, and the vote that mails a
code. Each response is timed from the request sent to its last byte.

  python3 bench/portal_latency.py --pghost DIR --pgport N --database DB --workdir DIR
  BENCH_PORTAL_REQUESTS (1000), BENCH_PORTAL_SAMPLES (300 per page)
"""

import argparse
import os
import random
import sys
import time

import psycopg

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(__file__))), "test", "portal"))
from portal_helpers import Client, Portal, wait_for  # noqa: E402

REQUESTS = int(os.environ.get("BENCH_PORTAL_REQUESTS", "1000"))
SAMPLES = int(os.environ.get("BENCH_PORTAL_SAMPLES", "300"))
PASSWORD = "bench-password"


def percentile(values, p):
    ordered = sorted(values)
    return ordered[max(0, -(-len(ordered) * p // 100) - 1)]


def set_up(args):
    with psycopg.connect(host=args.pghost, port=args.pgport, dbname="postgres", user="postgres",
                         autocommit=True) as home:
        home.execute(f"CREATE DATABASE {args.database}")
    db = psycopg.connect(host=args.pghost, port=args.pgport, dbname=args.database, user="postgres", autocommit=True)
    db.execute("CREATE EXTENSION pg_mpa")
    for role, extra in (("dba", "SUPERUSER"), ("bob", ""), ("carol", "")):
        db.execute(f"CREATE ROLE {role} LOGIN {extra} PASSWORD '{PASSWORD}'")
    db.execute("SELECT mpa_team_create('ops', 2)")
    db.execute("SELECT mpa_approver_add('ops', 'bob', 'bob@example.com')")
    db.execute("SELECT mpa_approver_add('ops', 'carol', 'carol@example.com')")
    db.execute("SELECT mpa_protect('DROP TABLE', 'public.*', 'ops')")
    db.execute(f"DO $$ BEGIN FOR i IN 1..{REQUESTS} LOOP EXECUTE format('CREATE TABLE public.t_%s (id int)', i); "
               "END LOOP; END $$")
    with psycopg.connect(host=args.pghost, port=args.pgport, dbname=args.database, user="dba",
                         password=PASSWORD, autocommit=True) as dba:
        ids = [dba.execute("SELECT mpa_request(%s, %s)", (f"DROP TABLE public.t_{i}", f"cleanup #{i}")).fetchone()[0]
               for i in range(1, REQUESTS + 1)]
    # The team's notices are mailed first: the pages are timed without the
    # worker sending 2,000 mails beside them.
    wait_for(lambda: db.execute("SELECT count(*) = 0 FROM mpa.outbox WHERE status IN ('pending', 'sending')")
             .fetchone()[0], 600)
    return db, ids


def timed(client, method, path, form=None, expect=200):
    start = time.perf_counter()
    status, _, _ = client.request(method, path, form)
    elapsed = (time.perf_counter() - start) * 1000
    if status != expect:
        raise RuntimeError(f"{method} {path}: {status}, not {expect}")
    return elapsed


def main():
    parser = argparse.ArgumentParser()
    for option in ("--pghost", "--pgport", "--database", "--workdir"):
        parser.add_argument(option, required=True)
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    db, ids = set_up(args)
    pending = db.execute("SELECT count(*) FROM mpa.requests WHERE state = 'pending'").fetchone()[0]
    portal = Portal(args.workdir, args.pghost, args.pgport, args.database, access_log="/dev/null")
    try:
        client = Client(portal)
        if not client.sign_in("bob", PASSWORD):
            raise RuntimeError("bob could not sign in")
        rng = random.Random(1)
        times = {"GET / (waiting list)": [], "GET /requests/<id>": [], "POST vote (mails a code)": [],
                 "GET /signin": []}
        for _ in range(3):   # warm-up, not counted
            timed(client, "GET", "/")
        for i in range(SAMPLES):
            times["GET / (waiting list)"].append(timed(client, "GET", "/"))
            times["GET /requests/<id>"].append(timed(client, "GET", f"/requests/{rng.choice(ids)}"))
            times["GET /signin"].append(timed(Client(portal), "GET", "/signin"))
        _, _, page = client.get("/")
        token = client.csrf(page)
        for request_id in rng.sample(ids, min(SAMPLES, len(ids))):
            times["POST vote (mails a code)"].append(
                timed(client, "POST", f"/requests/{request_id}/vote", {"csrf": token, "decision": "approve"}, 303))
    finally:
        portal.stop()
    every = [t for page_times in times.values() for t in page_times]
    print(f"portal latency with {pending} pending requests ({os.cpu_count()} cores), milliseconds:")
    print(f"  {'page':<28} {'n':>5} {'p50':>8} {'p99':>8} {'max':>8}")
    for name, values in list(times.items()) + [("all pages", every)]:
        print(f"  {name:<28} {len(values):>5} {percentile(values, 50):>8.1f} {percentile(values, 99):>8.1f} "
              f"{max(values):>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
