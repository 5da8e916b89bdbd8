#!/usr/bin/python3
"""The portal's pieces without a browser or a server: its configuration's
refusals, the sign-in limits, session expiry, and the CSRF and header rules
of every response (Flask's test client). Run by test/portal/layer.sh before
the browser test; alone: python3 test/portal/unit_test.py"""

import os
import re
import sys
import tempfile
import unittest
from unittest import mock

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "portal"))
from mpa_portal import config as portal_config  # noqa: E402
from mpa_portal import sessions as portal_sessions  # noqa: E402
from flask import render_template  # noqa: E402
from mpa_portal.app import SESSION_COOKIE, create_app  # noqa: E402


def load(text):
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
        f.write(text)
    try:
        return portal_config.load(f.name)
    finally:
        os.unlink(f.name)


# A portal behind a proxy, pointing at a socket directory with no server.
BEHIND_PROXY = "[portal]\ntls = off\nbehind_proxy = yes\nhost = /nonexistent\nsignin_failures_per_address = 3\n"


class Configuration(unittest.TestCase):
    # TLS is the default: without a certificate the portal does not start.
    def test_tls_needs_a_certificate(self):
        with self.assertRaisesRegex(portal_config.ConfigError, "tls_certificate"):
            load("[portal]\n")

    # Plain HTTP only behind a proxy that speaks HTTPS to the browser.
    def test_plain_http_only_behind_a_proxy(self):
        with self.assertRaisesRegex(portal_config.ConfigError, "behind_proxy"):
            load("[portal]\ntls = off\n")
        self.assertFalse(load(BEHIND_PROXY).tls)

    # A misspelt setting is an error, not a default silently kept.
    def test_unknown_setting(self):
        with self.assertRaisesRegex(portal_config.ConfigError, "unknown setting"):
            load(BEHIND_PROXY + "tsl = on\n")

    def test_bad_number(self):
        with self.assertRaisesRegex(portal_config.ConfigError, "whole number"):
            load(BEHIND_PROXY + "port = many\n")


class Limits(unittest.TestCase):
    def setUp(self):
        self.limits = portal_sessions.SignInLimits(load(BEHIND_PROXY + "signin_failures_per_user = 2\n"))

    # One address trying many user names is stopped (3 in this configuration).
    def test_per_address(self):
        for user in ("a", "b", "c"):
            self.assertTrue(self.limits.allowed("10.0.0.1", user))
            self.limits.failed("10.0.0.1", user)
        self.assertFalse(self.limits.allowed("10.0.0.1", "d"))
        self.assertTrue(self.limits.allowed("10.0.0.2", "d"))

    # Many addresses trying one user name are stopped (2 here).
    def test_per_user(self):
        self.limits.failed("10.0.0.1", "bob")
        self.limits.failed("10.0.0.2", "bob")
        self.assertFalse(self.limits.allowed("10.0.0.3", "bob"))
        self.assertTrue(self.limits.allowed("10.0.0.3", "carol"))

    # Failures older than the window no longer count.
    def test_window(self):
        with mock.patch("time.monotonic", return_value=1000.0):
            self.limits.failed("10.0.0.1", "bob")
            self.limits.failed("10.0.0.1", "bob")
            self.assertFalse(self.limits.allowed("10.0.0.1", "bob"))
        with mock.patch("time.monotonic", return_value=1000.0 + 15 * 60 + 1):
            self.assertTrue(self.limits.allowed("10.0.0.1", "bob"))


class Expiry(unittest.TestCase):
    # An idle session is gone and its connection closed.
    def test_idle_session_closed(self):
        store = portal_sessions.Sessions(load(BEHIND_PROXY))
        conn = mock.Mock()
        with mock.patch("time.monotonic", return_value=1000.0):
            session = portal_sessions.Session("bob", conn)
            store._sessions[session.id] = session
            self.assertIs(store.get(session.id), session)
        with mock.patch("time.monotonic", return_value=1000.0 + 15 * 60 + 1):
            self.assertIsNone(store.get(session.id))
        conn.close.assert_called_once()


class WaitingList(unittest.TestCase):
    # A list cut at its limit says how many wait in all; a whole one says nothing more.
    def test_says_how_many_when_cut(self):
        app = create_app(load(BEHIND_PROXY))
        row = {"id": 7, "kind": "statement", "operation": "DROP TABLE", "object": "public.t", "database": None,
               "requester": "alice", "team": "dba", "approvals": 0, "threshold": 2, "expires_at": None}
        with app.test_request_context():
            cut = render_template("home.html", pending=[dict(row, waiting=1200)], mine=[], notice=None)
            whole = render_template("home.html", pending=[dict(row, waiting=1)], mine=[], notice=None)
        self.assertIn("the 1 that expire first, of 1200 waiting", cut)
        self.assertNotIn("more-pending", whole)


class Requests(unittest.TestCase):
    # Over https, as the browser sees it behind the proxy: Secure cookies are sent back.
    def setUp(self):
        client = create_app(load(BEHIND_PROXY)).test_client()
        self.get = lambda path: client.get(path, base_url="https://localhost")
        self.post = lambda path, data: client.post(path, data=data, base_url="https://localhost")
        self.set_cookie = lambda name, value: client.set_cookie("localhost", name, value)

    def signin_token(self):
        page = self.get("/signin").get_data(as_text=True)
        return re.search(r'name="csrf" value="([^"]+)"', page).group(1)

    # Every response forbids scripts, framing and caching.
    def test_headers(self):
        response = self.get("/signin")
        self.assertIn("script-src 'none'", response.headers["Content-Security-Policy"])
        self.assertEqual(response.headers["X-Frame-Options"], "DENY")
        self.assertEqual(response.headers["Cache-Control"], "no-store")

    # The sign-in form without its token, or with another's, is refused
    # before any connection is tried.
    def test_signin_csrf(self):
        token = self.signin_token()
        self.assertEqual(self.post("/signin", {"user": "bob", "password": "x"}).status_code, 403)
        self.assertEqual(self.post("/signin", {"user": "bob", "password": "x",
                                                           "csrf": "x" * len(token)}).status_code, 403)

    # A POST without a session is refused, not redirected to a sign-in that would then act.
    def test_post_without_session(self):
        self.assertEqual(self.post("/requests/1/vote", {"decision": "approve"}).status_code, 403)

    # Pages need a session; a request's page is where sign-in leads back to
    # (the mails link there), and nothing else.
    def test_pages_need_a_session(self):
        response = self.get("/requests/1")
        self.assertEqual((response.status_code, response.headers["Location"]), (303, "/signin?next=/requests/1"))
        self.assertEqual(self.get("/").headers["Location"], "/signin")
        self.assertIn('name="next" value="/requests/1"', self.get("/signin?next=/requests/1").get_data(as_text=True))
        self.assertNotIn('name="next"', self.get("/signin?next=//attacker.example/requests/1").get_data(as_text=True))
        self.set_cookie(SESSION_COOKIE, "made-up")
        self.assertEqual(self.get("/").status_code, 303)

    # Failed sign-ins from one address are limited: past the limit the
    # answer is 429 whatever the user name.
    def test_signin_rate_limited(self):
        token = self.signin_token()
        statuses = [self.post("/signin", {"user": f"user{i}", "password": "x", "csrf": token}).status_code
                    for i in range(4)]
        self.assertEqual(statuses, [401, 401, 401, 429])


if __name__ == "__main__":
    unittest.main(verbosity=2)
