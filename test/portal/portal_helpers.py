"""The approval portal as a process, for its browser test
(test/portal/browser_test.py) and its benchmark (bench/portal_latency.py):
portal/run with a configuration file and a self-signed certificate, and a
plain HTTPS client that signs in as a browser would (cookies, CSRF token)."""

import http.client
import os
import re
import socket
import ssl
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "test", "smtp"))
from mailbox import wait_for  # noqa: E402  (test/smtp/mailbox.py, not the stdlib's)
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Portal:
    """portal/run on a free loopback port, TLS with a self-signed certificate,
    its logs in workdir/portal.log (gunicorn's) and portal.log.stderr."""

    def __init__(self, workdir, pghost, pgport, database, **settings):
        self.dir = workdir
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.log = os.path.join(self.dir, "portal.log")
        cert, key = os.path.join(self.dir, "portal.crt"), os.path.join(self.dir, "portal.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        conf = {"listen": f"127.0.0.1:{self.port}", "host": pghost, "port": pgport, "database": database,
                "tls_certificate": cert, "tls_key": key, "access_log": self.log, "error_log": self.log}
        conf.update(settings)
        path = os.path.join(self.dir, "portal.conf")
        with open(path, "w") as f:
            f.write("[portal]\n" + "".join(f"{k} = {v}\n" for k, v in conf.items()))
        with open(self.log + ".stderr", "w") as stderr:
            self.process = subprocess.Popen([os.path.join(ROOT, "portal", "run"), "--config", path],
                                            stdout=subprocess.DEVNULL, stderr=stderr)
        if not wait_for(self._answers, 30) or self.process.poll() is not None:
            raise RuntimeError("the portal did not start: " + self.log_text())

    def _answers(self):
        try:
            Client(self).get("/signin")
            return True
        except OSError:
            return self.process.poll() is not None   # exited: stop waiting

    def log_text(self):
        text = ""
        for path in (self.log, self.log + ".stderr"):
            if os.path.exists(path):
                with open(path, encoding="utf-8", errors="replace") as f:
                    text += f.read()
        return text

    def stop(self):
        self.process.terminate()
        self.process.wait(20)


class Client:
    """One browser's worth of HTTPS: a kept-alive connection and its cookies."""

    def __init__(self, portal):
        self.conn = http.client.HTTPSConnection("127.0.0.1", portal.port, timeout=30,
                                                context=ssl._create_unverified_context())
        self.cookies = {}

    def request(self, method, path, form=None):
        """(status, headers, body text)."""
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        body = None
        if form is not None:
            from urllib.parse import urlencode
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # gunicorn closes a kept-alive connection idle for 2 s; the
            # request did not reach the portal then, and is sent again on a
            # new connection, as a browser does.
            self.conn.close()
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if value:
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        return response.status, response.headers, text

    def get(self, path):
        return self.request("GET", path)

    def csrf(self, page):
        found = CSRF_FIELD.search(page)
        return found.group(1) if found else None

    def sign_in(self, user, password):
        _, _, page = self.get("/signin")
        status, _, _ = self.request("POST", "/signin", {"csrf": self.csrf(page), "user": user, "password": password})
        return status == 303 and "__Host-mpa_session" in self.cookies
