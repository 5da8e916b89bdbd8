#!/bin/bash
# Self-test of the pg_mpa test SMTP server (mpa_smtp_server.py) and of
# mailbox.py, driven by stdlib smtplib and by the curl CLI (libcurl, the
# library the extension uses).  Works as root and as postgres:
#   bash test/smtp/selftest.sh
#   runuser -u postgres -- bash test/smtp/selftest.sh
# Prints "N passed, M failed"; exits non-zero on any failure.
set -u
umask 022

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3                 # Debian's python: it has aiosmtpd
SERVER="$HERE/mpa_smtp_server.py"
export PYTHONDONTWRITEBYTECODE=1    # never write __pycache__ into the repo

T=$(mktemp -d "${TMPDIR:-/tmp}/mpa_smtp_selftest.XXXXXX")
SERVER_PID= PORT= MD= PASS=0 FAIL=0 NMD=0

cleanup() {
    if [ -n "$SERVER_PID" ]; then kill -TERM "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; fi
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- reporting
ok()     { PASS=$((PASS + 1)); echo "ok $((PASS + FAIL)) - $1"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok $((PASS + FAIL)) - $1"; [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/#   /'; }
# check DESC CMD...          : CMD exits 0
check() { local d=$1 out; shift; if out=$("$@" 2>&1); then ok "$d"; else not_ok "$d" "$out"; fi; }
# check_fails DESC CMD...    : CMD exits non-zero
check_fails() { local d=$1 out; shift; if out=$("$@" 2>&1); then not_ok "$d" "unexpected success: $out"; else ok "$d"; fi; }
# is DESC EXPECTED ACTUAL
is() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "expected: $2"$'\n'"got:      $3"; fi; }
# like DESC REGEX ACTUAL
like() { if grep -Eq -- "$2" <<<"$3"; then ok "$1"; else not_ok "$1" "no match for /$2/ in:"$'\n'"$3"; fi; }

# ---------------------------------------------------------------- server
# start_server [server options...]: fresh maildir unless KEEP_MD=1
start_server() {
    [ "${KEEP_MD:-0}" = 1 ] || { NMD=$((NMD + 1)); MD="$T/maildir$NMD"; }
    rm -f "$T/pid"
    "$PY" "$SERVER" --host 127.0.0.1 --port 0 --maildir "$MD" --pidfile "$T/pid" \
        --control-file "$T/control.json" "$@" >"$T/server.out" 2>>"$T/server.err" &
    SERVER_PID=$!
    local i
    for i in $(seq 100); do
        [ -s "$T/pid" ] && break
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if [ ! -s "$T/pid" ]; then
        not_ok "server starts with: $*" "$(cat "$T/server.err")"
        SERVER_PID=; return 1
    fi
    PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$T/server.out")
}
stop_server() {
    kill -TERM "$SERVER_PID"; wait "$SERVER_PID"; local rc=$?
    SERVER_PID=
    return $rc
}

mb()    { "$PY" "$HERE/mailbox.py" --maildir "$MD" "$@"; }
count() { mb count; }
# last_meta KEY: JSON value of KEY in the newest message's sidecar
last_meta() {
    "$PY" - "$HERE" "$MD" "$1" <<'EOF'
import json, sys
sys.path.insert(0, sys.argv[1])
import mailbox as mb           # ours, not the stdlib module
m = mb.newest(sys.argv[2])
print(json.dumps(m.meta[sys.argv[3]]) if m else "NO MESSAGE")
EOF
}
control() { printf '%s\n' "$1" >"$T/control.json.new" && mv "$T/control.json.new" "$T/control.json"; }
control_get() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2]))' "$T/control.json" "$1"; }

# curl_rc [curl args...]: prints curl's exit code (mail from a@b.c, file curl.eml)
curl_rc() {
    curl -sS --max-time 10 --mail-from a@b.c -T "$T/curl.eml" "$@" >>"$T/curl.log" 2>&1
    echo $?
}

# smtplib client: send.py PORT [options]; prints "ok [refused=addr:code...]"
# or the exception name and SMTP code.  --save FILE keeps the exact bytes sent.
cat >"$T/send.py" <<'EOF'
import argparse, smtplib, ssl, sys, time
from email.message import EmailMessage
p = argparse.ArgumentParser()
p.add_argument("port", type=int)
p.add_argument("--to", action="append", default=[])
p.add_argument("--subject", default="test")
p.add_argument("--body", default="hello\n")
p.add_argument("--cte", default=None)
p.add_argument("--count", type=int, default=1)
p.add_argument("--starttls", metavar="CAFILE")
p.add_argument("--implicit", metavar="CAFILE")
p.add_argument("--login", nargs=2)
p.add_argument("--mech", default=None)
p.add_argument("--save")
p.add_argument("--ehlo", action="store_true", help="print EHLO keywords and stop")
a = p.parse_args()
to = a.to or ["d@e.f"]
m = EmailMessage()
m["From"] = "MPA <a@b.c>"
m["To"] = ", ".join(to)
m["Subject"] = a.subject
m["Message-ID"] = "<selftest-%f@test>" % time.time()
m.set_content(a.body, cte=a.cte)
data = m.as_bytes(policy=m.policy.clone(linesep="\r\n"))
if a.save:
    open(a.save, "wb").write(data)
try:
    if a.implicit:
        s = smtplib.SMTP_SSL("127.0.0.1", a.port, timeout=10,
                             context=ssl.create_default_context(cafile=a.implicit))
    else:
        s = smtplib.SMTP("127.0.0.1", a.port, timeout=10)
    with s:
        s.ehlo()
        if a.starttls:
            s.starttls(context=ssl.create_default_context(cafile=a.starttls))
            s.ehlo()
        if a.ehlo:
            print(" ".join(sorted(s.esmtp_features)))
            sys.exit(0)
        if a.login:
            if a.mech:
                s.user, s.password = a.login
                s.auth(a.mech, getattr(s, "auth_" + a.mech.lower().replace("-", "_")))
            else:
                s.login(*a.login)
        refused = {}
        for i in range(a.count):
            if i:
                s.rset()
            refused.update(s.sendmail("a@b.c", to, data))
    print("ok" + "".join(" refused=%s:%d" % (k, v[0]) for k, v in sorted(refused.items())))
except smtplib.SMTPRecipientsRefused as e:
    print("SMTPRecipientsRefused " + " ".join("%s:%d" % (k, v[0]) for k, v in sorted(e.recipients.items())))
except smtplib.SMTPResponseException as e:
    print("%s %d" % (type(e).__name__, e.smtp_code))
except (smtplib.SMTPException, OSError) as e:
    print(type(e).__name__)
EOF
send() { "$PY" "$T/send.py" "$@" 2>&1; }

printf 'From: a@b.c\r\nTo: d@e.f\r\nSubject: curl test\r\nMessage-ID: <curl-1@test>\r\n\r\nYour code is 246810.\r\n' >"$T/curl.eml"

echo "# running as $(id -un), temp dir $T"

# ================================================================ plain
echo "# plain SMTP, no TLS offered"
start_server || exit 1
is "pidfile holds the server pid" "$SERVER_PID" "$(tr -d '\n' <"$T/pid")"
like "prints 'listening on HOST:PORT'" '^[0-9]+$' "$PORT"
is "empty maildir counts 0" 0 "$(count)"

SUBJ='Vérification du vote — code ✓ 日本'
is "smtplib: message with non-ASCII subject accepted" ok \
   "$(send "$PORT" --to 'd@e.f' --subject "$SUBJ" --body $'Bonjour,\nvotre code : 123456 (valable 10 min) — merci.\n' --cte quoted-printable --save "$T/sent1.eml")"
is "count is 1" 1 "$(count)"
EML=$(ls "$MD"/new/*.eml | head -1)
check "stored .eml is byte-identical to DATA (CRLF kept)" cmp "$T/sent1.eml" "$EML"
check "stored .eml uses CRLF line ends only" "$PY" -c \
    'import sys; d = open(sys.argv[1], "rb").read(); sys.exit(d.count(b"\n") != d.count(b"\r\n"))' "$EML"
like "file name is <counter>-<uuid>.eml" '/0*1-[0-9a-f]{32}\.eml$' "$EML"
check "sidecar .json exists next to it" test -s "${EML%.eml}.json"
check "files are world-readable (0644)" test "$(stat -c %a "$EML")" = 644
is "sidecar mail_from" '"a@b.c"' "$(last_meta mail_from)"
is "sidecar rcpt_tos" '["d@e.f"]' "$(last_meta rcpt_tos)"
is "sidecar tls=false" false "$(last_meta tls)"
is "sidecar auth=null" null "$(last_meta auth)"
like "sidecar peer" '^"127\.0\.0\.1:[0-9]+"$' "$(last_meta peer)"
like "sidecar received_at" '^"20[0-9]{2}-[0-9]{2}-[0-9]{2}T' "$(last_meta received_at)"
SHOW=$(mb show --last)
like "show --last decodes the RFC 2047 subject" "^Subject: $SUBJ\$" "$SHOW"
like "show --last decodes the quoted-printable body" 'votre code : 123456 \(valable 10 min\) — merci\.' "$SHOW"
is "show FILE = show --last" "$SHOW" "$(mb show "$(basename "$EML")")"
like "list: decoded subject, JSON per line" "\"subject\": \"$SUBJ\"" "$(mb list)"
like "list: message_id, tls, auth" '"message_id": "<selftest-[0-9.]+@test>", "tls": false, "auth": null' "$(mb list)"
is "code --to d@e.f" 123456 "$(mb code --to d@e.f --timeout 5)"
is "code --to is case-insensitive" 123456 "$(mb code --to D@E.F --timeout 5)"

is "smtplib: base64 body to another recipient" ok \
   "$(send "$PORT" --to other@x.y --subject 'Votre code' --body $'Code: 654321\nrequest 12345678\n' --cte base64)"
is "code decodes base64 bodies" 654321 "$(mb code --to other@x.y --timeout 5 --subject-contains 'Votre')"
is "code picks the newest message to ADDR only" 123456 "$(mb code --to d@e.f --timeout 5)"
check_fails "code --subject-contains filters" mb code --to other@x.y --timeout 0.3 --subject-contains nope
check_fails "code exits 1 when no mail to ADDR in time" mb code --to nobody@x.y --timeout 0.3
check_fails "code --after ignores older messages" mb code --to other@x.y --timeout 0.3 --after "$(ls "$MD/new" | grep 'eml$' | tail -1)"
like "show --last --to picks that recipient's newest" 'Subject: Vérification' "$(mb show --last --to d@e.f)"
check "wait --count 2" mb wait --count 2 --timeout 5
check_fails "wait --count 99 times out with exit 1" mb wait --count 99 --timeout 0.3

# No certificate: STARTTLS must not be offered, and a client that insists
# on TLS (curl --ssl-reqd = CURLUSESSL_ALL) must give up without sending.
is "no cert: STARTTLS (and AUTH) not in EHLO" "8bitmime help size smtputf8" "$(send "$PORT" --ehlo)"
is "no cert: curl --ssl-reqd fails with 64 (CURLE_USE_SSL_FAILED)" 64 \
   "$(curl_rc --ssl-reqd "smtp://127.0.0.1:$PORT" --mail-rcpt d@e.f)"
is "no cert: nothing stored by that attempt" 2 "$(count)"
is "curl without --ssl-reqd delivers in plain text" 0 "$(curl_rc "smtp://127.0.0.1:$PORT" --mail-rcpt d@e.f)"
is "code from the curl message" 246810 "$(mb code --to d@e.f --timeout 5)"

# Many messages on one connection (MAIL/RCPT/DATA/RSET loop).
START=$(date +%s%N)
is "smtplib: 500 messages on one connection" ok "$(send "$PORT" --to bulk@x.y --count 500)"
check "all 503 stored" mb wait --count 503 --timeout 30
RATE=$(( 500 * 1000000000 / ($(date +%s%N) - START) ))
echo "# ~${RATE:-?} messages/s"
check "at least 100 messages/s" test "${RATE:-0}" -ge 100

# ---------------------------------------------------------------- failure injection
echo "# failure injection (control file)"
control '{"temp_fail_next": 1}'
is "temp_fail_next: smtplib gets 451 on MAIL" "SMTPSenderRefused 451" "$(send "$PORT")"
is "temp_fail_next is decremented in the file" 0 "$(control_get temp_fail_next)"
control '{"temp_fail_next": 2}'
N=$(count)
is "temp_fail_next=2: curl try 1 fails with 55 (CURLE_SEND_ERROR)" 55 "$(curl_rc "smtp://127.0.0.1:$PORT" --mail-rcpt d@e.f)"
is "temp_fail_next=2: curl try 2 fails with 55" 55 "$(curl_rc "smtp://127.0.0.1:$PORT" --mail-rcpt d@e.f)"
is "temp_fail_next=2: curl try 3 delivers" 0 "$(curl_rc "smtp://127.0.0.1:$PORT" --mail-rcpt d@e.f)"
is "temp_fail_next: only the successful try stored" $((N + 1)) "$(count)"

control '{"reject_rcpt": ["bad@x.y", "Worse@X.Y"]}'
N=$(count)
is "reject_rcpt: smtplib gets 550 for the bad one, delivers to the good one" \
   "ok refused=bad@x.y:550" "$(send "$PORT" --to good@x.y --to bad@x.y)"
is "reject_rcpt: stored envelope has only the good recipient" '["good@x.y"]' "$(last_meta rcpt_tos)"
is "reject_rcpt: all recipients refused -> SMTPRecipientsRefused" \
   "SMTPRecipientsRefused worse@x.y:550" "$(send "$PORT" --to worse@x.y)"
is "reject_rcpt: curl fails with 55" 55 "$(curl_rc "smtp://127.0.0.1:$PORT" --mail-rcpt bad@x.y)"
is "reject_rcpt: only one message stored" $((N + 1)) "$(count)"

control '{"reject_data": true}'
N=$(count)
is "reject_data: smtplib gets 554 after DATA" "SMTPDataError 554" "$(send "$PORT")"
is "reject_data: curl fails with 8 (CURLE_WEIRD_SERVER_REPLY)" 8 "$(curl_rc "smtp://127.0.0.1:$PORT" --mail-rcpt d@e.f)"
is "reject_data: nothing stored" "$N" "$(count)"

control '{"drop_after_data": 2}'
N=$(count)
is "drop_after_data: smtplib loses the connection after the dot" SMTPServerDisconnected "$(send "$PORT")"
is "drop_after_data: ... but the message was stored" $((N + 1)) "$(count)"
RC=$(curl_rc "smtp://127.0.0.1:$PORT" --mail-rcpt d@e.f)
is "drop_after_data: curl fails with 56 (CURLE_RECV_ERROR)" 56 "$RC"
is "drop_after_data: curl's message stored too" $((N + 2)) "$(count)"
is "drop_after_data decremented to 0" 0 "$(control_get drop_after_data)"
is "drop_after_data: next message answered normally" ok "$(send "$PORT")"

control '{"delay_ms": 600}'
S=$(date +%s%N)
is "delay_ms: message accepted" ok "$(send "$PORT")"
E=$(( ($(date +%s%N) - S) / 1000000 ))
check "delay_ms: DATA answer took >= 600 ms (took $E ms)" test "$E" -ge 600

control '{"temp_fail_next": 1, "reject_rcpt": ["bad@x.y"]}'
is "combined keys: temp fail first" "SMTPSenderRefused 451" "$(send "$PORT" --to bad@x.y)"
is "combined keys: then the rcpt rejection" "SMTPRecipientsRefused bad@x.y:550" "$(send "$PORT" --to bad@x.y)"

printf '{"temp_fail' >"$T/control.json"
is "half-written control file = normal operation" ok "$(send "$PORT")"
rm -f "$T/control.json"
is "no control file = normal operation" ok "$(send "$PORT")"

check_fails "show of a missing file exits 1" mb show 0000000000-nope.eml
check_fails "--require-starttls without a certificate is refused" \
    "$PY" "$SERVER" --port 0 --maildir "$T/x" --require-starttls
LASTN=$(ls "$MD/new" | grep -c 'eml$')
stop_server; is "SIGTERM: server exits 0" 0 $?
check_fails "SIGTERM: pidfile removed" test -e "$T/pid"
KEEP_MD=1 start_server
is "restart on the same maildir: counter continues" ok "$(send "$PORT")"
like "restart: new file numbered after the old ones" "^0*$((LASTN + 1))-" "$(ls "$MD/new" | grep 'eml$' | tail -1)"
check "clear" mb clear
is "count is 0 after clear" 0 "$(count)"
stop_server

# ================================================================ certificates
echo "# TLS"
(
    cd "$T" || exit 1
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
        -subj "/CN=pg_mpa selftest CA" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost"
    printf '%s\n' 'basicConstraints=CA:FALSE' 'keyUsage=critical,digitalSignature,keyEncipherment' \
        'extendedKeyUsage=serverAuth' 'subjectAltName=IP:127.0.0.1,DNS:localhost' >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial 0x$(openssl rand -hex 8) \
        -days 2 -out server.pem -extfile server.ext
) >"$T/openssl.log" 2>&1
check "openssl: CA and server certificate made" openssl verify -CAfile "$T/ca.pem" "$T/server.pem"
TLS=(--tls-cert "$T/server.pem" --tls-key "$T/server.key")

start_server "${TLS[@]}" --require-starttls || exit 1
like "STARTTLS offered" 'starttls' "$(send "$PORT" --ehlo)"
is "--require-starttls: MAIL before STARTTLS refused with 530" "SMTPSenderRefused 530" "$(send "$PORT")"
is "curl --ssl-reqd --cacert delivers" 0 "$(curl_rc --ssl-reqd --cacert "$T/ca.pem" "smtp://127.0.0.1:$PORT" --mail-rcpt d@e.f)"
is "... with tls=true in the sidecar" true "$(last_meta tls)"
like "... and the TLS version recorded" '"TLSv1\.[23]"' "$(last_meta tls_version)"
is "curl to smtp://localhost (DNS SAN) delivers" 0 "$(curl_rc --ssl-reqd --cacert "$T/ca.pem" "smtp://localhost:$PORT" --mail-rcpt d@e.f)"
is "curl without our CA fails with 60 (peer verification)" 60 "$(curl_rc --ssl-reqd --capath /nonexistent --cacert /etc/ssl/certs/ca-certificates.crt "smtp://127.0.0.1:$PORT" --mail-rcpt d@e.f)"
is "smtplib starttls (verifying) delivers" ok "$(send "$PORT" --starttls "$T/ca.pem")"
is "only the 3 TLS messages stored" 3 "$(count)"
control '{"drop_after_data": 1}'
is "drop_after_data over STARTTLS: curl fails with 56" 56 "$(curl_rc --ssl-reqd --cacert "$T/ca.pem" "smtp://127.0.0.1:$PORT" --mail-rcpt d@e.f)"
is "... message stored" 4 "$(count)"
rm -f "$T/control.json"
is "no AUTH offered after STARTTLS when no --auth-user" "8bitmime help size smtputf8" "$(send "$PORT" --starttls "$T/ca.pem" --ehlo)"
stop_server

echo "# implicit TLS (smtps)"
start_server "${TLS[@]}" --implicit-tls || exit 1
is "curl smtps:// --cacert delivers" 0 "$(curl_rc --cacert "$T/ca.pem" "smtps://127.0.0.1:$PORT" --mail-rcpt d@e.f)"
is "... with tls=true in the sidecar" true "$(last_meta tls)"
is "smtplib SMTP_SSL delivers" ok "$(send "$PORT" --implicit "$T/ca.pem")"
is "no STARTTLS offered inside implicit TLS" "8bitmime help size smtputf8" "$(send "$PORT" --implicit "$T/ca.pem" --ehlo)"
RC=$(curl_rc --max-time 2 "smtp://127.0.0.1:$PORT" --mail-rcpt d@e.f)
check "plain smtp:// to the smtps port fails (curl rc $RC)" test "$RC" -ne 0
is "only the 2 TLS messages stored" 2 "$(count)"
stop_server

# ================================================================ AUTH
echo "# AUTH without TLS (no certificate)"
AUTH=(--auth-user mpa --auth-password 's3cret pw')
start_server "${AUTH[@]}" || exit 1
like "AUTH LOGIN PLAIN offered in clear text" 'auth' "$(send "$PORT" --ehlo)"
is "curl --user good delivers" 0 "$(curl_rc --user 'mpa:s3cret pw' "smtp://127.0.0.1:$PORT" --mail-rcpt d@e.f)"
is "... sidecar auth=\"mpa\"" '"mpa"' "$(last_meta auth)"
is "curl wrong password fails with 67 (CURLE_LOGIN_DENIED)" 67 "$(curl_rc --user 'mpa:wrong' "smtp://127.0.0.1:$PORT" --mail-rcpt d@e.f)"
is "curl without --user fails with 55 (MAIL refused 530)" 55 "$(curl_rc "smtp://127.0.0.1:$PORT" --mail-rcpt d@e.f)"
is "smtplib without login: 530" "SMTPSenderRefused 530" "$(send "$PORT")"
is "smtplib AUTH PLAIN" ok "$(send "$PORT" --login mpa 's3cret pw' --mech PLAIN)"
is "smtplib AUTH LOGIN" ok "$(send "$PORT" --login mpa 's3cret pw' --mech LOGIN)"
is "smtplib bad password: 535" "SMTPAuthenticationError 535" "$(send "$PORT" --login mpa nope)"
is "only the 3 authenticated messages stored" 3 "$(count)"
stop_server

echo "# AUTH with STARTTLS"
start_server "${TLS[@]}" --require-starttls "${AUTH[@]}" || exit 1
is "AUTH not offered before STARTTLS" "8bitmime help size smtputf8 starttls" "$(send "$PORT" --ehlo)"
like "AUTH offered after STARTTLS" '(^| )auth( |$)' "$(send "$PORT" --starttls "$T/ca.pem" --ehlo)"
is "curl --ssl-reqd --user delivers" 0 "$(curl_rc --ssl-reqd --cacert "$T/ca.pem" --user 'mpa:s3cret pw' "smtp://127.0.0.1:$PORT" --mail-rcpt d@e.f)"
is "... tls=true" true "$(last_meta tls)"
is "... auth=\"mpa\"" '"mpa"' "$(last_meta auth)"
is "curl --ssl-reqd without --user fails with 55" 55 "$(curl_rc --ssl-reqd --cacert "$T/ca.pem" "smtp://127.0.0.1:$PORT" --mail-rcpt d@e.f)"
stop_server

echo "# AUTH with implicit TLS"
start_server "${TLS[@]}" --implicit-tls "${AUTH[@]}" || exit 1
is "curl smtps:// --user delivers" 0 "$(curl_rc --cacert "$T/ca.pem" --user 'mpa:s3cret pw' "smtps://127.0.0.1:$PORT" --mail-rcpt d@e.f)"
is "... tls=true" true "$(last_meta tls)"
is "... auth=\"mpa\"" '"mpa"' "$(last_meta auth)"
stop_server

if [ -s "$T/server.err" ]; then
    echo "# server stderr (expected: 'not valid JSON' from the half-written control file test,"
    echo "# one TLS session error from the client that rejected our certificate):"; sed 's/^/#   /' "$T/server.err"
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
