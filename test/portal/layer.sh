#!/usr/bin/env bash
# The portal's unit tests (test/portal/unit_test.py) and its browser test
# (test/portal/browser_test.py), the latter on a cluster of
# its own, beside test/run's SMTP server: every role but postgres signs in
# with its password (scram-sha-256), as an approver does at the portal.
# test/run runs it as the layer "portal"; alone (a developer), it makes
# its own work directory and SMTP server:
#   MPA_PG_BIN=... test/portal/layer.sh
# The screenshot of the request page is left in build/portal.png (the
# README's docs/portal.png is a copy of one).
set -uo pipefail
source "$(dirname "$0")/../lib/cluster.sh"

if [ -z "${MPA_WORK:-}" ]; then
  trap mpa_teardown EXIT
  mpa_make_workdir
  mpa_as_postgres mkdir -p "$MPA_WORK/tests"
  tar -C "$MPA_ROOT" -cf - portal test | mpa_as_postgres tar -C "$MPA_WORK/tests" -xf -
  mpa_start_smtp "$(mpa_free_port)" || exit 1
fi

data=$MPA_WORK/portal_data
out=$MPA_WORK/portal
port=$(mpa_free_port)
# (The test's set-up makes two policies: the first must not make its team govern the second.)
mpa_start_password_cluster "$data" "$port" portal "mpa.resend_cooldown = 0
mpa.govern_from_first_policy = off" || exit 1
mpa_as_postgres mkdir -p "$out"
# The pieces first (configuration, limits, expiry, CSRF and headers), then the browser.
mpa_as_postgres "$MPA_SYSTEM_PYTHON" "$MPA_WORK/tests/test/portal/unit_test.py" 2>&1 | tail -n 40
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "the portal's unit tests failed"; exit 1; }
mpa_as_postgres env HOME="$out" "$MPA_SYSTEM_PYTHON" "$MPA_WORK/tests/test/portal/browser_test.py" \
  --pghost "$MPA_WORK" --pgport "$port" --database portal --maildir "$MPA_MAILDIR" \
  --workdir "$out" --screenshot "$out/portal.png"
status=$?
mkdir -p "$MPA_ROOT/build" && cp "$out/portal.png" "$MPA_ROOT/build/portal.png" 2>/dev/null
[ $status -eq 0 ] || { echo "the portal's log:"; mpa_as_postgres tail -n 30 "$out/portal.log" "$out/portal.log.stderr"; }
exit $status
