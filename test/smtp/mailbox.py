#!/usr/bin/python3
"""Read what mpa_smtp_server.py stored: library and command-line tool.

  mailbox.py --maildir DIR count
  mailbox.py --maildir DIR list
  mailbox.py --maildir DIR show FILE|--last [--to ADDR]
  mailbox.py --maildir DIR wait --count N [--timeout S]
  mailbox.py --maildir DIR code --to ADDR [--timeout S] [--subject-contains T] [--after FILE]
  mailbox.py --maildir DIR clear

As a library (note: the name shadows the stdlib "mailbox" module, so load
it by path, e.g. sys.path.insert(0, "test/smtp"); import mailbox as mb):
  mb.messages(dir), mb.newest(dir, to=..), mb.body_text(msg), mb.find_code(text)
"""

import argparse
import email
import email.policy
import email.utils
import json
import os
import re
import sys
import time

CODE_RE = re.compile(r"\b[0-9]{6}\b")  # six digits, not part of a longer word/number
POLL = 0.05


class Message:
    """One stored message: .file (name), .path, .meta (sidecar), .msg (parsed)."""

    def __init__(self, path):
        self.path = path
        self.file = os.path.basename(path)
        self.counter = int(self.file.split("-", 1)[0])
        with open(path[:-4] + ".json", encoding="utf-8") as f:
            self.meta = json.load(f)
        self._msg = None

    @property
    def msg(self):
        if self._msg is None:
            with open(self.path, "rb") as f:
                self._msg = email.message_from_binary_file(f, policy=email.policy.default)
        return self._msg

    @property
    def raw(self):
        with open(self.path, "rb") as f:
            return f.read()

    def recipients(self):
        """Envelope recipients plus To/Cc header addresses, lower-cased."""
        addrs = set(a.lower() for a in self.meta.get("rcpt_tos") or [])
        heads = [str(h) for k in ("To", "Cc") for h in self.msg.get_all(k) or []]
        addrs.update(a.lower() for _, a in email.utils.getaddresses(heads) if a)
        return addrs

    def subject(self):
        return str(self.msg.get("Subject", ""))


def _newdir(maildir):
    return os.path.join(maildir, "new")


def messages(maildir):
    """All stored messages, oldest first. A .eml is renamed into new/ only
    after its .json, so every listed message has its sidecar."""
    try:
        names = os.listdir(_newdir(maildir))
    except FileNotFoundError:
        return []
    names = sorted(n for n in names if n.endswith(".eml"))
    out = []
    for n in names:
        try:
            out.append(Message(os.path.join(_newdir(maildir), n)))
        except FileNotFoundError:  # removed by a concurrent clear
            pass
    out.sort(key=lambda m: m.counter)
    return out


def count(maildir):
    try:
        return sum(1 for n in os.listdir(_newdir(maildir)) if n.endswith(".eml"))
    except FileNotFoundError:
        return 0


def newest(maildir, to=None, subject_contains=None, after=None):
    """The most recent message matching the filters, or None.
    after: a file name; only messages stored later than it count."""
    after_n = int(os.path.basename(after).split("-", 1)[0]) if after else 0
    for m in reversed(messages(maildir)):
        if m.counter <= after_n:
            break
        if to and to.lower() not in m.recipients():
            continue
        if subject_contains and subject_contains not in m.subject():
            continue
        return m
    return None


def wait_for(predicate, timeout):
    """Poll predicate() until it returns something truthy or timeout passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(POLL)


def text_parts(msg):
    """(content-type, decoded text) for every text part, in order.
    get_content() undoes quoted-printable/base64 and the charset."""
    for part in msg.walk():
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        if part.get_content_disposition() == "attachment":
            continue
        try:
            yield part.get_content_type(), part.get_content()
        except (LookupError, ValueError):  # unknown charset: keep going
            yield part.get_content_type(), part.get_payload(decode=True).decode("utf-8", "replace")


def body_text(msg):
    """The plain-text body (text/plain parts), else the other text parts."""
    parts = list(text_parts(msg))
    plain = [t for ct, t in parts if ct == "text/plain"]
    return "\n".join(plain or [t for _, t in parts])


def find_code(text):
    m = CODE_RE.search(text)
    return m.group(0) if m else None


def render(m):
    """Headers decoded (RFC 2047) and every part decoded, as text."""
    out = ["%s: %s" % (k, v) for k, v in m.msg.items()]  # policy.default decodes
    out.append("")
    if not m.msg.is_multipart():
        out.extend(t for _, t in text_parts(m.msg))
    else:
        for part in m.msg.walk():
            if part.is_multipart():
                continue
            ct = part.get_content_type()
            if part.get_content_maintype() == "text" and part.get_content_disposition() != "attachment":
                out.append("--- part %s ---" % ct)
                out.append(part.get_content())
            else:
                payload = part.get_payload(decode=True) or b""
                out.append("--- part %s [%s, %d bytes] ---" % (ct, part.get_filename(), len(payload)))
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description="read mpa_smtp_server.py's maildir")
    p.add_argument("--maildir", required=True)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("count", help="number of stored messages")
    sub.add_parser("list", help="one JSON object per message")
    s = sub.add_parser("show", help="one message, decoded")
    s.add_argument("file", nargs="?")
    s.add_argument("--last", action="store_true")
    s.add_argument("--to")
    s = sub.add_parser("wait", help="exit 0 once >= N messages, 1 on timeout")
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--timeout", type=float, default=30)
    s = sub.add_parser("code", help="print the 6-digit code of the newest message to ADDR")
    s.add_argument("--to", required=True)
    s.add_argument("--timeout", type=float, default=30)
    s.add_argument("--subject-contains")
    s.add_argument("--after", help="ignore this file and anything older")
    sub.add_parser("clear", help="delete every stored message")
    a = p.parse_args(argv)
    d = a.maildir

    if a.cmd == "count":
        print(count(d))
    elif a.cmd == "list":
        for m in messages(d):
            print(json.dumps({
                "file": m.file,
                "from": m.meta.get("mail_from"),
                "to": m.meta.get("rcpt_tos"),
                "subject": m.subject(),
                "message_id": str(m.msg["Message-ID"]) if m.msg["Message-ID"] else None,
                "tls": m.meta.get("tls"),
                "auth": m.meta.get("auth"),
            }, ensure_ascii=False))
    elif a.cmd == "show":
        if a.file:
            path = a.file if os.sep in a.file else os.path.join(_newdir(d), a.file)
            m = Message(path) if os.path.exists(path) else None
        elif a.last:
            m = newest(d, to=a.to)
        else:
            p.error("show needs FILE or --last")
        if m is None:
            print("no message%s" % (" to " + a.to if a.to else ""), file=sys.stderr)
            return 1
        print(render(m))
    elif a.cmd == "wait":
        n = wait_for(lambda: count(d) >= a.count, a.timeout)
        if not n:
            print("timeout: %d of %d messages" % (count(d), a.count), file=sys.stderr)
            return 1
    elif a.cmd == "code":
        def probe():
            m = newest(d, to=a.to, subject_contains=a.subject_contains, after=a.after)
            return m and find_code(body_text(m.msg))
        code = wait_for(probe, a.timeout)
        if not code:
            print("no code for %s within %gs" % (a.to, a.timeout), file=sys.stderr)
            return 1
        print(code)
    elif a.cmd == "clear":
        for n in os.listdir(_newdir(d)) if os.path.isdir(_newdir(d)) else []:
            os.unlink(os.path.join(_newdir(d), n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
