"""The portal's pages (Flask). Every read and every action is pg_mpa's
public SQL run on the signed-in approver's own connection."""

import logging
import re
import secrets
from datetime import timezone

import psycopg
from flask import Flask, abort, g, redirect, render_template, request
from werkzeug.middleware.proxy_fix import ProxyFix

from .sessions import Sessions, SignInLimits, SignInRefused

SESSION_COOKIE = "__Host-mpa_session"   # __Host-: Secure, Path=/, no Domain, enforced by the browser
SIGNIN_COOKIE = "__Host-mpa_signin"     # the sign-in form's CSRF token, before there is a session
MAX_CODE_LENGTH = 32                    # codes are six digits; anything longer is not sent to the server

log = logging.getLogger("mpa_portal")

# No script at all, not even our own: nothing on these pages needs one.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; "
                               "form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

PENDING_SQL = """
SELECT p.id, p.operation, p.object, p.requester::text AS requester, p.team, p.threshold, p.approvals,
       p.created_at, p.expires_at, r.kind, to_jsonb(r)->>'database' AS database, count(*) OVER () AS waiting
  FROM mpa.pending p JOIN mpa.requests r USING (id)
 ORDER BY p.expires_at, p.id LIMIT %s"""

# What this installation's schema has: 0.2's several teams and break-glass,
# or 0.1's objects (the server runs with them after a package upgrade until
# ALTER EXTENSION pg_mpa UPDATE, and approvers still vote here then). A query
# naming a missing object fails when parsed, so the queries that name them
# run only where this finds them.
SCHEMA_SQL = """
SELECT to_regprocedure('mpa_request_tally(bigint)') IS NOT NULL AS has_tally,
       to_regclass('mpa.break_glass_uses') IS NOT NULL AS has_break_glass"""

# Of the requests listed (waiting for me, and my own), those of several
# teams with their tally, and of the waiting ones those with break-glass
# open: asked for the rows shown only (a tally of every pending request
# would cost the home page a function call per request).
LISTED_TALLIES_SQL = """
SELECT t.request_id AS id, mpa_request_tally(t.request_id) AS tally
  FROM (SELECT DISTINCT rt.request_id FROM mpa.request_teams rt WHERE rt.request_id = ANY (%s::bigint[])) t"""
LISTED_BREAK_GLASS_SQL = "SELECT u.request_id AS id FROM mpa.break_glass_uses u WHERE u.request_id = ANY (%s::bigint[])"

# The waiting list shows the requests that expire first, and says how many
# there are in all when that is more (a page of thousands of rows would be
# slow to make and to read).
WAITING_LIST_LIMIT = 500

MINE_SQL = """
SELECT id, kind, operation, object, team, state, created_at, expires_at, to_jsonb(r)->>'database' AS database
  FROM mpa.requests r WHERE requester = session_user::regrole ORDER BY id DESC LIMIT %s"""

# Another database's OIDs mean nothing here: its requests carry their
# descriptions (cascade_descriptions), and their targets are shown by name.
REQUEST_SQL = """
SELECT r.id, r.kind, r.statement, r.justification, r.operation, r.object, r.team, r.threshold,
       r.requester::text AS requester, r.requester = session_user::regrole AS mine, r.state,
       r.created_at, r.expires_at, r.decided_at, r.executed_at, r.valid_for::text AS valid_for,
       r.revoke_statement, jsonb_pretty(r.payload) AS payload, to_jsonb(r)->>'database' AS database,
       r.expires_at <= statement_timestamp() AS past_expiry,
       coalesce((to_jsonb(r)->>'break_glass')::boolean, false) AS break_glass,
       CASE WHEN to_jsonb(r)->>'database' IS NULL THEN
         ARRAY(SELECT coalesce(pg_describe_object(c, o, 0), format('object %%s (gone)', o))
                 FROM unnest(r.target_classes, r.target_oids) AS t(c, o))
       END AS targets,
       CASE WHEN to_jsonb(r)->>'database' IS NULL THEN
         ARRAY(SELECT coalesce(pg_describe_object(c, o, 0), format('object %%s (gone)', o))
                 FROM unnest(r.cascade_classes, r.cascade_oids) AS t(c, o))
       ELSE ARRAY(SELECT jsonb_array_elements_text(coalesce(to_jsonb(r)->'cascade_descriptions', '[]')))
       END AS also_removes,
       EXISTS (SELECT FROM mpa.pending p WHERE p.id = r.id) AS i_may_vote,
       current_setting('mpa.otp_max_attempts')::int AS max_attempts,
       coalesce((to_jsonb(r)->>'shared_votes')::boolean, false) AS shared_votes
  FROM mpa.requests r WHERE r.id = %s"""

VOTES_SQL = "SELECT approver::text AS approver, decision, voted_at FROM mpa.votes WHERE request_id = %s ORDER BY voted_at"

# The request's teams with their tally, first team first: [{"team", "votes", "threshold"}].
TALLY_SQL = "SELECT mpa_request_tally(%s) AS tally"

# Break-glass on the request: who opened it, why, its team and quorum, and
# the review (once approved by it). team_declared: the team is still the
# break-glass team (dropping it stops the open use: mpa.break_glass_address).
# may_review: whether to offer the caller the review form, by mpa_review's
# rules (sql/install/19_break_glass.sql): approved by break-glass, not yet
# reviewed, by an approver of one of the request's teams who neither
# requested it, opened the break-glass, nor voted on it. Only the form
# depends on it: mpa_review checks again, and its refusal is what is shown.
BREAK_GLASS_SQL = """
SELECT u.team, u.quorum, u.reason, u.opened_by::text AS opened_by, u.opened_at, u.review_due_at,
       EXISTS (SELECT FROM mpa.break_glass b WHERE b.team = u.team) AS team_declared,
       v.verdict, v.note, v.reviewer::text AS reviewer, v.reviewed_at,
       r.break_glass AND v.request_id IS NULL AND session_user::regrole NOT IN (r.requester, u.opened_by)
         AND EXISTS (SELECT FROM mpa.approvers a
                      WHERE a.approver = session_user::regrole
                        AND (a.team = r.team OR a.team IN (SELECT rt.team FROM mpa.request_teams rt
                                                            WHERE rt.request_id = r.id)))
         AND NOT EXISTS (SELECT FROM mpa.votes vo WHERE vo.request_id = r.id AND vo.approver = session_user::regrole)
         AS may_review
  FROM mpa.break_glass_uses u JOIN mpa.requests r ON r.id = u.request_id
       LEFT JOIN mpa.reviews v ON v.request_id = u.request_id
 WHERE u.request_id = %s"""

# Who may still vote: the approvers of every team of the request (and of
# the break-glass team while its use is open), but the requester and those
# who voted. by_break_glass: in none of the request's own teams.
STILL_CAN_VOTE_SQL = """
SELECT a.approver::text AS approver, NOT bool_or(a.team = ANY (%(teams)s::text[])) AS by_break_glass
  FROM mpa.approvers a JOIN pg_roles ro ON ro.oid = a.approver
 WHERE a.team = ANY (%(teams)s::text[] || %(break_glass_team)s::text) AND a.approver::text <> %(requester)s
   AND NOT EXISTS (SELECT FROM mpa.votes v WHERE v.request_id = %(id)s AND v.approver = a.approver)
 GROUP BY a.approver ORDER BY 1"""

# The caller's open code for the request, and where it went (masked, as the
# audit recorded it when the code was sent).
MY_CODE_SQL = """
SELECT c.id, c.decision, c.created_at, c.expires_at,
       (SELECT a.detail->>'to' FROM mpa.audit a
         WHERE a.request_id = c.request_id AND a.kind = 'challenge opened'
           AND a.detail->>'challenge' = c.id::text ORDER BY a.id DESC LIMIT 1) AS sent_to
  FROM mpa.challenges c
 WHERE c.request_id = %s AND c.approver = session_user::regrole AND c.state = 'open'
   AND c.expires_at > statement_timestamp()
 ORDER BY c.id DESC LIMIT 1"""

ASKED_BEFORE_SQL = "SELECT EXISTS (SELECT FROM mpa.challenges WHERE request_id = %s AND approver = session_user::regrole)"

AUDIT_SQL = "SELECT recorded_at, kind, actor, detail::text AS detail FROM mpa.audit WHERE request_id = %s ORDER BY id"

TRIES_LEFT = re.compile(r"(\d+) tr(?:y|ies) left")
# Where sign-in may lead back to: a request's page (the mails link there),
# nothing else (no redirect to another site, whatever the query says).
RETURN_TO = re.compile(r"/requests/[0-9]{1,19}")


def refusal_text(error):
    """What pg_mpa said, as the approver would read it in psql (never the code: pg_mpa's messages do not carry it)."""
    diag = error.diag
    text = diag.message_primary or "the server refused"
    if diag.sqlstate:
        text = f"{text} ({diag.sqlstate})"
    if diag.message_hint:
        text = f"{text}. {diag.message_hint}"
    return text


def create_app(config):
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=64 * 1024)
    app.jinja_env.autoescape = True      # everything a request holds is hostile text
    app.jinja_env.globals["home_database"] = config.database   # requests without a database are its own
    if config.behind_proxy:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)
    sessions = Sessions(config)
    limits = SignInLimits(config)

    def set_cookie(response, name, value, max_age=None):
        response.set_cookie(name, value, max_age=max_age, path="/", secure=True, httponly=True, samesite="Strict")

    def query(sql, params=(), one=False):
        with g.session.lock:
            cur = g.session.conn.cursor(row_factory=psycopg.rows.dict_row)
            cur.execute(sql, params)
            return cur.fetchone() if one else cur.fetchall()

    def call(sql, params):
        """Runs one of pg_mpa's functions; returns (result, None) or (None, refusal)."""
        try:
            with g.session.lock:
                row = g.session.conn.execute(sql, params).fetchone()
            return (row[0] if row else None), None
        except psycopg.errors.DatabaseError as error:
            if g.session.conn.closed:   # broken ones too
                raise psycopg.OperationalError("connection lost") from None
            return None, error

    @app.before_request
    def load_session():
        g.session = sessions.get(request.cookies.get(SESSION_COOKIE))
        if request.method == "POST":
            # Every form carries a token: the session's, or the sign-in form's own.
            token = request.form.get("csrf")
            expected = (g.session.csrf if g.session else None) if request.endpoint != "signin" \
                else request.cookies.get(SIGNIN_COOKIE)
            if not expected or not isinstance(token, str) or \
                    not secrets.compare_digest(token.encode(), expected.encode()):
                abort(403, "This form was not sent from the portal's own page (missing or wrong CSRF token).")
        if g.session is None and request.endpoint not in ("signin", "signin_form", "static", "favicon"):
            back = f"?next={request.path}" if request.method == "GET" and RETURN_TO.fullmatch(request.path) else ""
            return redirect("/signin" + back, 303)

    @app.after_request
    def security_headers(response):
        response.headers.update(SECURITY_HEADERS)
        if config.tls or config.behind_proxy:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response

    @app.errorhandler(psycopg.OperationalError)
    def connection_lost(error):
        # The server went away or ended the session: sign out.
        log.warning("a session's connection failed (%s); signed out", type(error).__name__)
        if g.get("session"):
            sessions.close(g.session)
        response = app.make_response((render_template("error.html", title="Signed out",
            message="The connection to the database ended. Sign in again."), 503))
        set_cookie(response, SESSION_COOKIE, "", max_age=0)
        return response

    @app.errorhandler(403)
    @app.errorhandler(404)
    @app.errorhandler(413)
    @app.errorhandler(429)
    def http_error(error):
        return render_template("error.html", title=error.name, message=error.description), error.code

    def take_notice():
        notice, g.session.notice = g.session.notice, None
        return notice

    @app.get("/favicon.ico")
    def favicon():
        return "", 404

    @app.get("/signin")
    def signin_form(message=None, status=200):
        # One token per browser until it signs in: a second sign-in page
        # (another tab) must not invalidate the first one's form.
        token = request.cookies.get(SIGNIN_COOKIE)
        if not token or len(token) != 43:
            token = secrets.token_urlsafe(32)
        back = request.values.get("next", "")
        response = app.make_response((render_template("signin.html", csrf=token, message=message,
                                                      database=config.database,
                                                      next=back if RETURN_TO.fullmatch(back) else ""), status))
        set_cookie(response, SIGNIN_COOKIE, token)
        return response

    @app.post("/signin")
    def signin():
        user = request.form.get("user", "")[:63]
        password = request.form.get("password", "")
        address = request.remote_addr or "?"
        if not user or not password:
            return signin_form("Give your database user name and password.", 400)
        if not limits.allowed(address, user):
            log.warning("sign-in refused by the rate limit (address %s)", address)
            return signin_form("Too many failed sign-ins: wait a few minutes and try again.", 429)
        try:
            session = sessions.open(user, password)
        except SignInRefused as refused:
            limits.failed(address, user)
            return signin_form(str(refused), 401)
        log.info("%s signed in from %s", session.role, address)
        back = request.form.get("next", "")
        response = redirect(back if RETURN_TO.fullmatch(back) else "/", 303)
        set_cookie(response, SESSION_COOKIE, session.id)
        set_cookie(response, SIGNIN_COOKIE, "", max_age=0)
        return response

    @app.post("/signout")
    def signout():
        sessions.close(g.session)
        response = redirect("/signin", 303)
        set_cookie(response, SESSION_COOKIE, "", max_age=0)
        return response

    @app.get("/")
    def home():
        pending = query(PENDING_SQL, (WAITING_LIST_LIMIT,))
        mine = query(MINE_SQL, (100,))
        listed = [p["id"] for p in pending]
        shown = listed + [r["id"] for r in mine]
        schema = query(SCHEMA_SQL, one=True)
        # One query for both lists' tallies (mpa.pending never lists my own).
        tallies = {t["id"]: t["tally"] for t in query(LISTED_TALLIES_SQL, (shown,))} \
            if shown and schema["has_tally"] else {}
        glass = {u["id"] for u in query(LISTED_BREAK_GLASS_SQL, (listed,))} \
            if listed and schema["has_break_glass"] else set()
        for p in pending:
            p["tally"], p["break_glass_open"] = tallies.get(p["id"]), p["id"] in glass
        for r in mine:
            r["tally"] = tallies.get(r["id"])
        return render_template("home.html", pending=pending, mine=mine, notice=take_notice())

    def load_request(request_id):
        # (An id past bigint's range is sent as numeric and finds no row.)
        r = query(REQUEST_SQL, (request_id,), one=True)
        if r is None:
            abort(404, f"There is no request {request_id}.")
        return r

    @app.get("/requests/<int:request_id>")
    def show_request(request_id):
        r = load_request(request_id)
        code = query(MY_CODE_SQL, (request_id,), one=True) if r["i_may_vote"] else None
        schema = query(SCHEMA_SQL, one=True)
        # 0.1 has neither: one team, as requests.team says, and no break-glass.
        tally = query(TALLY_SQL, (request_id,), one=True)["tally"] if schema["has_tally"] else None
        tally = tally or [{"team": r["team"], "votes": None, "threshold": r["threshold"]}]
        glass = query(BREAK_GLASS_SQL, (request_id,), one=True) if schema["has_break_glass"] else None
        voting_glass = glass["team"] if glass and glass["team_declared"] else None
        return render_template(
            "request.html", r=r, votes=query(VOTES_SQL, (request_id,)), tally=tally, glass=glass,
            still_can_vote=query(STILL_CAN_VOTE_SQL, {"teams": [t["team"] for t in tally], "break_glass_team": voting_glass,
                                                      "requester": r["requester"], "id": r["id"]}),
            code=code, tries_left=g.session.tries_left.get(code["id"]) if code else None,
            asked_before=r["i_may_vote"] and query(ASKED_BEFORE_SQL, (request_id,), one=True)["exists"],
            audit=query(AUDIT_SQL, (request_id,)), notice=take_notice())

    def back_to(request_id, notice):
        g.session.notice = notice
        return redirect(f"/requests/{request_id}", 303)

    def told(request_id, said, refused):
        """Back to the request, saying what pg_mpa's function said, or its refusal (with its SQLSTATE)."""
        return back_to(request_id, {"ok": refused is None, "text": said or refusal_text(refused)})

    @app.post("/requests/<int:request_id>/vote")
    def vote(request_id):
        decision = request.form.get("decision")
        if decision not in ("approve", "reject"):
            abort(400, "The decision is approve or reject.")
        return told(request_id, *call("SELECT mpa_vote(%s, %s)", (request_id, decision)))

    @app.post("/requests/<int:request_id>/resend")
    def resend(request_id):
        return told(request_id, *call("SELECT mpa_resend(%s)", (request_id,)))

    @app.post("/requests/<int:request_id>/verify")
    def verify(request_id):
        code = request.form.get("code", "").strip()
        challenge = request.form.get("challenge", "")
        if not code or len(code) > MAX_CODE_LENGTH:
            return back_to(request_id, {"ok": False, "text": "Enter the six-digit code from the mail."})
        said, refused = call("SELECT mpa_verify(%s, %s)", (request_id, code))
        del code   # not kept, not logged, not shown again
        if refused is None:
            return back_to(request_id, {"ok": True, "text": said})
        text = refusal_text(refused)
        tries = TRIES_LEFT.search(refused.diag.message_primary or "")
        if tries and challenge.isdigit():
            g.session.tries_left[int(challenge)] = int(tries.group(1))
        if tries and int(tries.group(1)) == 0:
            text += (" This code is dead: it was entered wrongly as often as a code allows, and no further "
                     "try of it can succeed. Ask for a new code (Resend) to vote.")
        elif "can no longer vote" in text:
            text += " You are locked out of this request: too many wrong codes were entered in your name."
        return back_to(request_id, {"ok": False, "text": text})

    @app.post("/requests/<int:request_id>/cancel")
    def cancel(request_id):
        _, refused = call("SELECT mpa_cancel(%s)", (request_id,))
        return back_to(request_id, {"ok": refused is None,
                                    "text": "You cancelled this request." if refused is None else refusal_text(refused)})

    @app.post("/requests/<int:request_id>/review")
    def review(request_id):
        # The verdict and the note go to mpa_review as posted: it refuses a
        # missing, unknown or blank one, or a note too long, with its
        # SQLSTATE, and changes nothing then. No code: a review is no vote.
        return told(request_id, *call("SELECT mpa_review(%s, %s, %s)",
                                      (request_id, request.form.get("verdict"), request.form.get("note"))))

    @app.template_filter("per_team")
    def per_team(tally):
        """A tally of several teams, one line per team, first team first, as pg_mpa's mails say it."""
        return [f"{t['votes']} of {t['threshold']} from {t['team']}" for t in tally or []]

    @app.template_filter("utc")
    def utc(value):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if value is not None else ""

    return app
