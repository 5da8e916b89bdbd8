# Shell helpers shared by test/run and the demo: install what pg_mpa needs on
# Debian 12, build and install it, and run a throw-away cluster with a local
# SMTP server. Source it; every function is prefixed mpa_.

MPA_ROOT=${MPA_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
MPA_PG_BIN=${MPA_PG_BIN:-/usr/lib/postgresql/15/bin}
MPA_SYSTEM_PYTHON=/usr/bin/python3   # Debian's: it has aiosmtpd

# One pg_mpa installation serves the whole machine, so scripts that install
# it and run clusters (tests, demo, benchmarks) take turns: none installs
# another build under a running one's clusters, and benchmarks run alone.
# Call first thing as: mpa_run_exclusively "$0" "$@"
mpa_run_exclusively() {
  [ -n "${MPA_EXCLUSIVE:-}" ] && return 0
  export MPA_EXCLUSIVE=1
  exec flock -o /tmp/pg_mpa.machine.lock bash "$@"
}

# Runs a command as root: directly when we are root, else through sudo.
mpa_as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Runs a command as the postgres OS user (PostgreSQL refuses to run as root).
mpa_as_postgres() {
  if [ "$(id -un)" = postgres ]; then "$@"; else mpa_as_root runuser -u postgres -- "$@"; fi
}

MPA_PACKAGES=(
  build-essential cmake clang libclang-rt-14-dev
  postgresql-15 postgresql-server-dev-15 postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl
  libcurl4-openssl-dev libssl-dev libgtest-dev libipc-run-perl
  python3-aiosmtpd python3-psycopg2 python3-psycopg openssl curl postgresql-15-pgaudit
  postgresql-15-cron postgresql-15-set-user sqlsmith
  debhelper postgresql-server-dev-all dpkg-dev fakeroot
  python3-flask gunicorn python3-selenium chromium chromium-driver
)

mpa_install_packages() {
  local missing=()
  for p in "${MPA_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "== installing: ${missing[*]}"
  mpa_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  mpa_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

mpa_build_and_install() {
  echo "== building and installing pg_mpa"
  make -C "$MPA_ROOT" -s -j"$(nproc)" PG_CONFIG="$MPA_PG_BIN/pg_config"
  mpa_as_root make -C "$MPA_ROOT" -s install PG_CONFIG="$MPA_PG_BIN/pg_config"
}

mpa_free_port() {
  "$MPA_SYSTEM_PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# A scratch directory owned by postgres, removed by mpa_teardown.
mpa_make_workdir() {
  MPA_WORK=$(mktemp -d /tmp/pg_mpa.XXXXXX)
  chmod 755 "$MPA_WORK"
  mpa_as_root chown postgres: "$MPA_WORK"
}

# mpa_start_smtp PORT [server options...]: the test SMTP server, as postgres,
# storing what it receives in $MPA_WORK/mail.
mpa_start_smtp() {
  local port=$1; shift
  MPA_SMTP_PORT=$port
  MPA_MAILDIR=$MPA_WORK/mail
  mpa_as_postgres mkdir -p "$MPA_MAILDIR"
  mpa_as_postgres cp "$MPA_ROOT/test/smtp/mpa_smtp_server.py" "$MPA_ROOT/test/smtp/mailbox.py" "$MPA_WORK/"
  mpa_as_postgres bash -c "nohup $MPA_SYSTEM_PYTHON '$MPA_WORK/mpa_smtp_server.py' --host 127.0.0.1 \
      --port $port --maildir '$MPA_MAILDIR' --pidfile '$MPA_WORK/smtp.pid' $* \
      >'$MPA_WORK/smtp.log' 2>&1 &"
  for _ in $(seq 100); do [ -s "$MPA_WORK/smtp.pid" ] && return 0; sleep 0.1; done
  echo "SMTP server did not start:"; cat "$MPA_WORK/smtp.log"; return 1
}

mpa_mailbox() {
  mpa_as_postgres "$MPA_SYSTEM_PYTHON" "$MPA_WORK/mailbox.py" --maildir "$MPA_MAILDIR" "$@"
}

# mpa_start_cluster DBNAME [extra postgresql.conf lines]: initdb + start on a
# free port, pg_mpa preloaded with mpa.database = DBNAME, mail to our SMTP.
mpa_start_cluster() {
  local dbname=$1 extra=${2:-}
  MPA_PGPORT=$(mpa_free_port)
  MPA_PGDATA=$MPA_WORK/data
  MPA_PGHOST=$MPA_WORK
  mpa_init_cluster "$MPA_PGDATA" "$MPA_PGPORT" "$dbname" "$extra" || return 1
  export PGHOST=$MPA_PGHOST PGPORT=$MPA_PGPORT PGUSER=postgres
  # pg_ctl's status is the function's: a server that did not start stops
  # the caller here, with the end of its log.
  mpa_as_postgres "$MPA_PG_BIN/pg_ctl" -D "$MPA_PGDATA" -l "$MPA_WORK/postgres.log" -w start >/dev/null ||
    { echo "PostgreSQL did not start:"; mpa_as_postgres tail -20 "$MPA_WORK/postgres.log"; return 1; }
}

# mpa_init_cluster DATADIR PORT DBNAME [extra postgresql.conf lines]: initdb
# with pg_mpa preloaded, mpa.database = DBNAME, mail to our SMTP server.
mpa_init_cluster() {
  local data=$1 port=$2 dbname=$3 extra=${4:-}
  mpa_initdb "$data" "$port" || return 1
  mpa_as_postgres tee -a "$data/postgresql.conf" >/dev/null <<CONF
shared_preload_libraries = 'pg_mpa'
mpa.database = '$dbname'
mpa.smtp_url = 'smtp://127.0.0.1:${MPA_SMTP_PORT:-25}'
mpa.smtp_starttls = off
mpa.mail_from = 'pg-mpa@db.example.test'
$extra
CONF
}

# mpa_initdb DATADIR PORT: a cluster of nothing but PostgreSQL's defaults,
# reached only on its socket in $MPA_WORK, as postgres without a password.
mpa_initdb() {
  local data=$1 port=$2
  mpa_as_postgres "$MPA_PG_BIN/initdb" -D "$data" -A trust -U postgres -E UTF8 \
    --locale=C.UTF-8 >"$data.initdb.log" || { cat "$data.initdb.log"; return 1; }
  mpa_as_postgres tee -a "$data/postgresql.conf" >/dev/null <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '$MPA_WORK'
fsync = off
CONF
}

mpa_psql() {
  mpa_as_postgres "$MPA_PG_BIN/psql" -h "$MPA_PGHOST" -p "$MPA_PGPORT" -U postgres -X -v ON_ERROR_STOP=1 "$@"
}

mpa_teardown() {
  [ -n "${MPA_WORK:-}" ] && [ -d "$MPA_WORK" ] || return 0
  # Every cluster of the work directory ($MPA_PGDATA and those a test
  # layer made beside it) that still runs.
  local pidfile
  for pidfile in "$MPA_WORK"/*/postmaster.pid; do
    [ -f "$pidfile" ] || continue
    mpa_as_postgres "$MPA_PG_BIN/pg_ctl" -D "$(dirname "$pidfile")" -m immediate stop >/dev/null 2>&1 || true
  done
  if [ -s "$MPA_WORK/smtp.pid" ]; then
    mpa_as_root kill "$(cat "$MPA_WORK/smtp.pid")" 2>/dev/null || true
  fi
  if [ -n "${MPA_KEEP_WORKDIR:-}" ]; then echo "kept $MPA_WORK"; else mpa_as_root rm -rf "$MPA_WORK"; fi
}

# mpa_start_password_cluster DATADIR PORT DBNAME [extra postgresql.conf lines]:
# a cluster like mpa_start_cluster's beside it (same SMTP server), where
# every role but postgres signs in with its password (scram-sha-256), as
# approvers do at the portal (test/portal, bench/portal_latency, demo).
mpa_start_password_cluster() {
  local data=$1 port=$2 dbname=$3 extra=${4:-}
  mpa_init_cluster "$data" "$port" "$dbname" "$extra" || return 1
  printf 'local all postgres trust\nlocal all all scram-sha-256\n' | mpa_as_postgres tee "$data/pg_hba.conf" >/dev/null
  mpa_as_postgres "$MPA_PG_BIN/pg_ctl" -D "$data" -l "$data.log" -w start >/dev/null ||
    { echo "PostgreSQL did not start:"; mpa_as_postgres tail -20 "$data.log"; return 1; }
}
