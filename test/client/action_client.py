#!/usr/bin/python3
"""A small application of pg_mpa, over libpq (psycopg2): it asks approval
for an action, LISTENs on mpa_events until the approval arrives, then
claims the action: once in a transaction it rolls back (the action stays
unclaimed), once for real, and once more (which must fail).

Prints one line per step, for test/tap/017_application_actions.pl:
  requested <id>
  event <json payload>            (each notification about the request)
  early consume refused: <error>
  rolled back consume returned <payload>
  consumed <payload>
  second consume refused: <sqlstate> <error>
"""
import argparse
import json
import select
import sys

import psycopg2


def say(line):
    print(line, flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()

    listener = psycopg2.connect(args.dsn)
    listener.autocommit = True
    listener.cursor().execute("LISTEN mpa_events")

    app = psycopg2.connect(args.dsn)
    cur = app.cursor()
    cur.execute("SELECT mpa_request_action('finance', 'refund', %s::jsonb, 'customer 42 was charged twice')",
                (json.dumps({"order": 42, "amount_cents": 500000}),))
    request_id = cur.fetchone()[0]
    app.commit()
    say(f"requested {request_id}")

    try:
        cur.execute("SELECT mpa_consume(%s)", (request_id,))
        say("early consume returned " + json.dumps(cur.fetchone()[0]))
    except psycopg2.Error as error:
        say("early consume refused: " + error.pgerror.strip().splitlines()[0])
    app.rollback()

    approved = False
    while not approved:
        if select.select([listener], [], [], args.timeout) == ([], [], []):
            say("timed out waiting for the approval")
            return 1
        listener.poll()
        while listener.notifies:
            note = listener.notifies.pop(0)
            event = json.loads(note.payload)
            if event.get("request_id") != request_id:
                continue
            say("event " + json.dumps(event, sort_keys=True))
            approved = event.get("state") == "approved"

    cur.execute("SELECT mpa_consume(%s)", (request_id,))
    say("rolled back consume returned " + json.dumps(cur.fetchone()[0], sort_keys=True))
    app.rollback()

    cur.execute("SELECT mpa_consume(%s)", (request_id,))
    payload = cur.fetchone()[0]
    app.commit()
    say("consumed " + json.dumps(payload, sort_keys=True))

    try:
        cur.execute("SELECT mpa_consume(%s)", (request_id,))
        say("second consume returned " + json.dumps(cur.fetchone()[0]))
    except psycopg2.Error as error:
        say(f"second consume refused: {error.pgcode} " + error.pgerror.strip().splitlines()[0])
    app.rollback()

    # The consumption is announced too.
    if select.select([listener], [], [], args.timeout) != ([], [], []):
        listener.poll()
        for note in listener.notifies:
            say("event " + json.dumps(json.loads(note.payload), sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
