"""Mail delivery benchmark (issue "Mail delivery").

1. Throughput: 10,000 messages queued in one transaction; time from COMMIT
   until the SMTP server has stored them all.
2. Latency: 200 single-message transactions, one after another; for each,
   the time from COMMIT returning to the server storing the message (the
   server's sidecar receive time; same machine, same clock).

Prints one row per figure with its target, and adds them to the table
bench/run prints (there is no "without pg_mpa" for pg_mpa's own mail).
Targets: >= 500 msg/s; p99 < 250 ms. Run through bench/run.
"""
import argparse
import glob
import json
import os
import statistics
import time

import psycopg2

import benchlib

THROUGHPUT_MESSAGES = 10_000
LATENCY_SAMPLES = 200


def receive_times_by_recipient(maildir):
    """When the SMTP server stored each message (its sidecar), by recipient."""
    times = {}
    for path in glob.glob(os.path.join(maildir, "new", "*.json")):
        with open(path) as f:
            sidecar = json.load(f)
        for rcpt in sidecar["rcpt_tos"]:
            times[rcpt] = sidecar["received_epoch"]
    return times


def wait_until_sent(conn, ids, timeout):
    """Waits, cheaply and in the database, until the worker recorded every id
    as sent (which it does right after the server accepted them)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM mpa.outbox WHERE id = ANY(%s) AND status = 'sent'",
                        (ids,))
            done = cur.fetchone()[0] == len(ids)
        conn.commit()
        if done:
            return
        time.sleep(0.002)
    raise SystemExit(f"not all of {len(ids)} messages were sent within {timeout} s")


def throughput(conn, maildir):
    with conn.cursor() as cur:
        cur.execute(
            "SELECT mpa_mail_test('bulk-' || i || '@example.com') FROM generate_series(1, %s) i",
            (THROUGHPUT_MESSAGES,))
        ids = [row[0] for row in cur.fetchall()]
    conn.commit()
    committed = time.time()
    wait_until_sent(conn, ids, 600)
    received = receive_times_by_recipient(maildir)
    last = max(received[f"bulk-{i}@example.com"] for i in range(1, THROUGHPUT_MESSAGES + 1))
    return THROUGHPUT_MESSAGES / (last - committed)


def latency(conn, maildir):
    committed = {}
    for i in range(LATENCY_SAMPLES):
        address = f"latency-{i}@example.com"
        with conn.cursor() as cur:
            cur.execute("SELECT mpa_mail_test(%s)", (address,))
            mail_id = cur.fetchone()[0]
        conn.commit()
        committed[address] = time.time()
        wait_until_sent(conn, [mail_id], 30)
    received = receive_times_by_recipient(maildir)
    samples = sorted((received[a] - t) * 1000 for a, t in committed.items())
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host")
    parser.add_argument("--port")
    parser.add_argument("--dbname")
    parser.add_argument("--maildir")
    args = parser.parse_args()
    conn = psycopg2.connect(host=args.host, port=args.port, dbname=args.dbname, user="postgres")

    rate = throughput(conn, args.maildir)
    p50, p99 = latency(conn, args.maildir)
    rows = [
        ("mail throughput (10,000 in one commit)", f"{rate:,.0f} msg/s", ">= 500 msg/s", rate >= 500),
        ("commit-to-SMTP latency p50 (200 commits)", f"{p50:.1f} ms", "", True),
        ("commit-to-SMTP latency p99 (200 commits)", f"{p99:.1f} ms", "< 250 ms", p99 < 250),
    ]
    print(f"{'benchmark':<44} {'measured':>14} {'target':>14}  result")
    for name, value, target, ok in rows:
        print(f"{name:<44} {value:>14} {target:>14}  {'pass' if ok else 'MISS'}")
        if "BENCH_RESULTS" in os.environ:
            benchlib.add_result(f"mail: {name}", value, "n/a", "n/a", target or "(none)",
                                ("pass" if ok else "FAIL") if target else "info")


if __name__ == "__main__":
    main()
