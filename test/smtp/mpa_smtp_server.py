#!/usr/bin/python3
"""pg_mpa test SMTP server (aiosmtpd 1.4.x, stdlib otherwise).

Stores every accepted message as DIR/new/<counter>-<uuid>.eml (raw DATA,
CRLF kept) plus a <counter>-<uuid>.json sidecar, and can inject failures
read from a JSON control file. See README.md in this directory.

Run with Debian's interpreter: /usr/bin/python3 (it has python3-aiosmtpd).
"""

import argparse
import asyncio
import datetime
import json
import logging
import os
import re
import signal
import ssl
import sys
import time
import uuid
import warnings

# This directory holds a module named "mailbox" that shadows the stdlib one
# (aiosmtpd.handlers imports stdlib mailbox); keep it off the import path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402

TEMP_FAIL = "451 4.3.0 Temporary failure (injected)"
REJECT_RCPT = "550 5.1.1 Mailbox unavailable (injected)"
REJECT_DATA = "554 5.6.0 Message rejected (injected)"

log = logging.getLogger("mpa_smtp_server")


class Control:
    """The failure-injection file, re-read on every command so a test can
    change it while the server runs. Absent/empty/unparsable = {}."""

    def __init__(self, path):
        self.path = path

    def read(self):
        if not self.path:
            return {}
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return {}
        try:
            value = json.loads(data) if data.strip() else {}
        except ValueError:
            # A test writing the file in place may be caught half-way.
            log.warning("control file %s is not valid JSON; ignored", self.path)
            return {}
        return value if isinstance(value, dict) else {}

    def take(self, key):
        """If control[key] > 0, decrement it in the file and return True."""
        ctl = self.read()
        n = int(ctl.get(key) or 0)
        if n <= 0:
            return False
        ctl[key] = n - 1
        self._write(ctl)
        return True

    def _write(self, ctl):
        data = (json.dumps(ctl, sort_keys=True) + "\n").encode()
        tmp = "%s.tmp.%d" % (self.path, os.getpid())
        try:
            # Atomic: a reader never sees a half-written file.
            with open(tmp, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.path)
        except OSError:
            # Directory not writable by us (e.g. server runs as postgres in a
            # root-owned dir): fall back to rewriting the file in place.
            with open(self.path, "r+b") as f:
                f.write(data)
                f.truncate()


class Maildir:
    """DIR/tmp + DIR/new, one .eml + one .json per message."""

    NAME_RE = re.compile(r"^(\d+)-")

    def __init__(self, root):
        self.tmp = os.path.join(root, "tmp")
        self.new = os.path.join(root, "new")
        for d in (root, self.tmp, self.new):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
        # Continue the counter across restarts on the same maildir, so that
        # name order stays arrival order.
        self.counter = max(
            [int(m.group(1)) for m in map(self.NAME_RE.match, os.listdir(self.new)) if m],
            default=0,
        )

    def _put(self, name, data):
        tmp = os.path.join(self.tmp, name)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, os.path.join(self.new, name))

    def store(self, raw, meta):
        self.counter += 1
        base = "%010d-%s" % (self.counter, uuid.uuid4().hex)
        meta = dict(meta, file=base + ".eml")
        # Sidecar first: whoever sees the .eml can rely on its .json.
        self._put(base + ".json", (json.dumps(meta, indent=1) + "\n").encode())
        self._put(base + ".eml", raw)
        return base


class Handler:
    """aiosmtpd hooks. A hook that exists replaces aiosmtpd's default
    action, so handle_MAIL/handle_RCPT must fill in the envelope themselves."""

    def __init__(self, maildir, control, hide_auth):
        self.maildir = maildir
        self.control = control
        self.hide_auth = hide_auth

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        # With the 5-argument hook aiosmtpd does not record the EHLO name
        # itself; without it MAIL would answer "503 send HELO first".
        session.host_name = hostname
        if self.hide_auth:
            # aiosmtpd offers AUTH after STARTTLS even with no credentials
            # configured; a server without --auth-user offers no AUTH at all.
            responses = [r for r in responses if not r[4:].upper().startswith("AUTH")]
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.control.take("temp_fail_next"):
            return TEMP_FAIL
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        rejected = {a.lower() for a in self.control.read().get("reject_rcpt") or []}
        if address.lower() in rejected:
            return REJECT_RCPT
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        ctl = self.control.read()
        if ctl.get("delay_ms"):
            await asyncio.sleep(float(ctl["delay_ms"]) / 1000.0)
        if ctl.get("reject_data"):
            return REJECT_DATA
        # session.ssl is only set after STARTTLS; the transport knows about
        # implicit TLS as well.
        sslobj = server.transport.get_extra_info("ssl_object")
        peer = session.peer
        now = time.time()
        base = self.maildir.store(
            envelope.original_content,
            {
                "mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "tls": sslobj is not None,
                "tls_version": sslobj.version() if sslobj else None,
                "auth": session.auth_data if session.authenticated else None,
                "peer": "%s:%s" % (peer[0], peer[1]) if peer else None,
                "helo": session.host_name,
                "received_at": datetime.datetime.fromtimestamp(
                    now, datetime.timezone.utc).isoformat(timespec="milliseconds"),
                "received_epoch": now,
                "size": len(envelope.original_content),
            },
        )
        if self.control.take("drop_after_data"):
            # Stored, but the client never hears back (connection lost after
            # the final dot). Same pattern as aiosmtpd's own smtp_QUIT: close
            # the transport and cancel the session task, so the "250" that
            # aiosmtpd would push after we return is never sent.
            server.transport.close()
            server._handler_coroutine.cancel()
            return "250 OK"
        return "250 2.0.0 OK queued as " + base

    async def handle_exception(self, error):
        # One line instead of aiosmtpd's traceback (e.g. a client that
        # rejects our certificate during STARTTLS).
        log.warning("session error: %s: %s", type(error).__name__, error)
        return "500 Error: (%s) %s" % (type(error).__name__, error)


class _Controller(Controller):
    def _trigger_server(self):
        # Controller.start() connects once to itself; with --port 0 it must
        # connect to the port the kernel actually chose.
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True, help="0 = any free port (printed)")
    p.add_argument("--maildir", required=True)
    p.add_argument("--pidfile")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--require-starttls", action="store_true")
    p.add_argument("--implicit-tls", action="store_true")
    p.add_argument("--auth-user")
    p.add_argument("--auth-password")
    p.add_argument("--control-file")
    p.add_argument("--idle-timeout", type=float, default=300,
                   help="close a connection idle this long (seconds)")
    p.add_argument("--verbose", action="store_true", help="aiosmtpd protocol log on stderr")
    a = p.parse_args()

    if bool(a.tls_cert) != bool(a.tls_key):
        p.error("--tls-cert and --tls-key go together")
    if (a.require_starttls or a.implicit_tls) and not a.tls_cert:
        p.error("--require-starttls/--implicit-tls need --tls-cert/--tls-key")
    if a.require_starttls and a.implicit_tls:
        p.error("--require-starttls and --implicit-tls exclude each other")
    if bool(a.auth_user) != (a.auth_password is not None):
        p.error("--auth-user and --auth-password go together")

    os.umask(0o022)  # files readable by root and postgres alike
    logging.basicConfig(stream=sys.stderr, format="mpa_smtp_server: %(message)s",
                        level=logging.DEBUG if a.verbose else logging.WARNING)
    if not a.verbose:
        # aiosmtpd logs a warning for every connection when AUTH is allowed
        # in clear text (our no-cert AUTH mode); that mode is deliberate.
        logging.getLogger("mail.log").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")

    ctx = None
    if a.tls_cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)  # no client certs
        ctx.load_cert_chain(a.tls_cert, a.tls_key)

    kwargs = dict(
        server_hostname="mpa-test-smtp",  # avoids a getfqdn() DNS lookup per connection
        ident="pg_mpa test SMTP",
        timeout=a.idle_timeout,
    )
    if a.implicit_tls:
        # TLS from the first byte. STARTTLS must not be offered then, and
        # aiosmtpd's auth_require_tls only knows about STARTTLS, so it must be
        # off (the connection is encrypted anyway).
        kwargs.update(ssl_context=ctx, auth_require_tls=False)
    elif ctx:
        kwargs.update(tls_context=ctx, require_starttls=a.require_starttls,
                      auth_require_tls=True)
    else:
        kwargs.update(auth_require_tls=False)
    if a.auth_user:
        user, password = a.auth_user.encode(), a.auth_password.encode()

        def authenticator(server, session, envelope, mechanism, data):
            ok = (isinstance(data, LoginPassword)
                  and data.login == user and data.password == password)
            return AuthResult(success=ok, handled=False,
                              auth_data=a.auth_user if ok else None)

        kwargs.update(auth_required=True, authenticator=authenticator)

    # Block the signals before the server thread starts (it inherits the
    # mask), then wait for them synchronously in the main thread.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    handler = Handler(Maildir(a.maildir), Control(a.control_file),
                      hide_auth=not a.auth_user)
    controller = _Controller(handler, hostname=a.host, port=a.port, **kwargs)
    controller.start()
    print("listening on %s:%d" % (a.host, controller.port), flush=True)
    if a.pidfile:
        tmp = a.pidfile + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % os.getpid())
        os.replace(tmp, a.pidfile)  # appears complete, once listening

    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    controller.stop()
    if a.pidfile:
        try:
            os.unlink(a.pidfile)
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
