"""Mail delivery benchmark (issue "Mail delivery").

1. Throughput: 10,000 messages queued in one transaction; time from COMMIT
   until the SMTP server has stored them all.
2. Latency: 200 single-message transactions, one after another; for each,
   the time from COMMIT returning to the server storing the message (the
   server's sidecar receive time; same machine, same clock).

Prints one row per figure with its target. Run through bench/run.
"""
import argparse
import glob
import json
import os
import statistics
import time

import psycopg2

THROUGHPUT_MESSAGES = 10_000
LATENCY_SAMPLES = 200


def stored_messages(maildir):
    return glob.glob(os.path.join(maildir, "new", "*.json"))


def wait_for_count(maildir, wanted, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if len(stored_messages(maildir)) >= wanted:
            return True
        time.sleep(0.01)
    return False


def receive_times_by_recipient(maildir):
    times = {}
    for path in stored_messages(maildir):
        with open(path) as f:
            sidecar = json.load(f)
        for rcpt in sidecar["rcpt_tos"]:
            times[rcpt] = sidecar["received_epoch"]
    return times


def throughput(conn, maildir):
    before = len(stored_messages(maildir))
    with conn.cursor() as cur:
        cur.execute(
            "SELECT mpa_mail_test('bulk-' || i || '@example.com') FROM generate_series(1, %s) i",
            (THROUGHPUT_MESSAGES,))
    conn.commit()
    start = time.time()
    if not wait_for_count(maildir, before + THROUGHPUT_MESSAGES, 600):
        raise SystemExit("throughput: not all messages arrived within 10 minutes")
    return THROUGHPUT_MESSAGES / (time.time() - start)


def latency(conn, maildir):
    committed = {}
    for i in range(LATENCY_SAMPLES):
        address = f"latency-{i}@example.com"
        with conn.cursor() as cur:
            cur.execute("SELECT mpa_mail_test(%s)", (address,))
        conn.commit()
        committed[address] = time.time()
        before = len(stored_messages(maildir))
        wait_for_count(maildir, before + 1, 30)
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


if __name__ == "__main__":
    main()
