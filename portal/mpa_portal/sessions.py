"""Signed-in sessions and the sign-in rate limits.

A session is a random id (the cookie) naming, in this process only, a
psycopg connection opened as the approver with the password they typed.
The password is used for that one connect and is not kept; nothing about a
session is written anywhere, so a restart signs everyone out.
"""

import collections
import hmac
import logging
import secrets
import threading
import time

import psycopg


log = logging.getLogger("mpa_portal")


SEARCH_PATH_SQL = """
SELECT pg_catalog.set_config('search_path', pg_catalog.format('pg_catalog, %I, pg_temp',
         coalesce((SELECT n.nspname FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n
                     ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
                    WHERE e.extname OPERATOR(pg_catalog.=) 'pg_mpa'), 'pg_catalog')), false)"""


class SignInRefused(Exception):
    """Wrong credentials, or a role pg_mpa's portal cannot serve: one message for all."""


class Session:
    def __init__(self, role, conn):
        self.id = secrets.token_urlsafe(32)
        self.csrf = secrets.token_urlsafe(32)
        self.role = role
        self.conn = conn
        self.lock = threading.Lock()        # one statement at a time on the connection
        self.created = self.used = time.monotonic()
        self.notice = None                  # one message for the next page (never a code)
        self.tries_left = {}                # challenge id -> tries left, as last told here

    def csrf_matches(self, token):
        return isinstance(token, str) and hmac.compare_digest(token.encode(), self.csrf.encode())


class Sessions:
    def __init__(self, config):
        self._config = config
        self._sessions = {}
        self._lock = threading.Lock()
        self._swept = time.monotonic()

    def open(self, user, password):
        """Connects as `user`; returns the new session or raises SignInRefused."""
        self.expire()
        with self._lock:
            if len(self._sessions) >= self._config.max_sessions:
                raise SignInRefused("the portal has as many sessions as it may hold; try again later")
        try:
            conn = psycopg.connect(**self._config.conninfo(), user=user, password=password, autocommit=True)
        except psycopg.Error:
            raise SignInRefused("sign-in failed: wrong user name or password, or the server refused") from None
        if not conn.pgconn.used_password:
            # The server let the role in without checking the password
            # (trust, peer, ident for the portal's own OS user): anybody
            # could sign in as anybody. Only a checked password is identity.
            conn.close()
            log.warning("sign-in as %s refused: the server did not check a password "
                        "(pg_hba.conf must ask the portal's connections for one)", user)
            raise SignInRefused("sign-in failed: wrong user name or password, or the server refused")
        try:
            # The portal's queries name pg_catalog's functions and operators,
            # and pg_mpa's public functions, unqualified: resolved there only
            # (pg_catalog first, then pg_mpa's schema), whatever search_path
            # the role was given (a schema of look-alikes set for it would
            # otherwise decide what the approver is shown).
            conn.execute(SEARCH_PATH_SQL)
            role, installed = conn.execute(
                "SELECT session_user::text, to_regclass('mpa.pending') IS NOT NULL").fetchone()
        except psycopg.Error:
            conn.close()
            raise SignInRefused("sign-in failed: the server refused") from None
        if not installed:
            conn.close()
            raise SignInRefused("pg_mpa is not installed in this database")
        session = Session(role, conn)
        with self._lock:
            self._sessions[session.id] = session
        return session

    def get(self, session_id):
        now = time.monotonic()
        # Abandoned sessions (never signed out) give their connections back
        # within a minute of their limits, whoever comes next.
        if now - self._swept > 60:
            self._swept = now
            self.expire()
        if not session_id:
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if now - session.used > self._config.session_idle or now - session.created > self._config.session_max:
                del self._sessions[session_id]
                session.conn.close()
                return None
            session.used = now
            return session

    def close(self, session):
        with self._lock:
            self._sessions.pop(session.id, None)
        with session.lock:
            session.conn.close()

    def expire(self):
        """Closes the connections of sessions idle or old past their limits."""
        now = time.monotonic()
        with self._lock:
            dead = [s for s in self._sessions.values()
                    if now - s.used > self._config.session_idle or now - s.created > self._config.session_max]
            for s in dead:
                del self._sessions[s.id]
        for s in dead:
            s.conn.close()


class SignInLimits:
    """Failed sign-ins counted per client address and per user name over a window."""

    def __init__(self, config):
        self._config = config
        self._failures = collections.defaultdict(collections.deque)
        self._lock = threading.Lock()

    def _recent(self, key, now):
        q = self._failures[key]
        while q and now - q[0] > self._config.signin_window:
            q.popleft()
        if not q:
            del self._failures[key]
        return len(q)

    def allowed(self, address, user):
        now = time.monotonic()
        with self._lock:
            return (self._recent(("address", address), now) < self._config.failures_per_address
                    and self._recent(("user", user), now) < self._config.failures_per_user)

    def failed(self, address, user):
        now = time.monotonic()
        with self._lock:
            self._failures[("address", address)].append(now)
            self._failures[("user", user)].append(now)
