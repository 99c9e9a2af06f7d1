#!/usr/bin/env bash
# A local PostgreSQL for coe-bot's PostgreSQL tests and benchmarks, run from
# Debian's own server binaries (installed from Debian's packages if missing).
#
#   scripts/postgres.sh           create once, start (or reuse), print COE_TEST_POSTGRES_URL
#   scripts/postgres.sh --stop    stop it
#   scripts/postgres.sh --bindir  print the directory of the server's tools (pgbench, psql)
#
# The cluster lives in COE_PG_DIR (default ~/.cache/coe-bot/postgres; as root
# /var/lib/coe-bot/postgres, because root's home is private and the server
# must run as an unprivileged user: `postgres` from the package, else a
# system user `coe-pg`, or COE_PG_OS_USER). It listens only on 127.0.0.1, on
# COE_PG_PORT (default 54329), with no Unix socket; the role `coe` (password
# `coe`, CREATEDB) owns the database `coe`. Messages go to stderr; stdout is
# exactly one line, so
#   url_env="$(scripts/postgres.sh)"; export "$url_env"
# works.
set -euo pipefail

PORT="${COE_PG_PORT:-54329}"
if [[ $EUID -eq 0 ]]; then
  DIR="${COE_PG_DIR:-/var/lib/coe-bot/postgres}"
else
  DIR="${COE_PG_DIR:-$HOME/.cache/coe-bot/postgres}"
fi
DATA="$DIR/data"
LOG="$DIR/postgres.log"

say() { echo "postgres: $*" >&2; }
die() { say "$*"; exit 1; }

# --- The server binaries: on PATH, in Debian's versioned directory, or
#     installed from Debian's packages.
find_bindir() {
  local ctl
  if ctl="$(command -v pg_ctl 2>/dev/null)" && [[ -x "$(dirname "$(readlink -f "$ctl")")/initdb" ]]; then
    dirname "$(readlink -f "$ctl")"
    return 0
  fi
  # Debian keeps them out of PATH, one directory per major version; newest wins.
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)"
  [[ -n "$d" && -x "$d/initdb" && -x "$d/pg_ctl" ]] && echo "$d" && return 0
  return 1
}

if ! BIN="$(find_bindir)"; then
  # Nothing installed, so nothing runs: stopping needs no install.
  [[ "${1:-}" == "--stop" ]] && { say "not running"; exit 0; }
  if [[ $EUID -ne 0 ]]; then
    die "PostgreSQL is not installed; install it with: sudo apt-get install -y postgresql (or run this script as root)"
  fi
  command -v apt-get >/dev/null || die "PostgreSQL is not installed and there is no apt-get; install PostgreSQL 15 or newer and put pg_ctl on PATH"
  say "installing PostgreSQL from Debian's packages (once)"
  # Our cluster is our own: no Debian 'main' cluster (nothing would run it
  # here, and its service must not be relied on).
  mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/coe-bot.conf
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq postgresql; } >&2 ||
    die "apt-get install postgresql failed (see above); fix apt or install PostgreSQL yourself and run again"
  BIN="$(find_bindir)" || die "PostgreSQL was installed but initdb/pg_ctl were not found under /usr/lib/postgresql/*/bin"
fi

if [[ "${1:-}" == "--bindir" ]]; then
  echo "$BIN"
  exit 0
fi

# pgbench ships with the server (Debian: postgresql-15): put it on PATH too.
if ! command -v pgbench >/dev/null 2>&1 && [[ -x "$BIN/pgbench" && $EUID -eq 0 ]]; then
  ln -sf "$BIN/pgbench" /usr/local/bin/pgbench
fi

# --- Who runs the server: this user, or as root an unprivileged one
#     (PostgreSQL refuses to run as root).
as_owner() { "$@"; }
OWNER="$(id -un)"
if [[ $EUID -eq 0 ]]; then
  OWNER="${COE_PG_OS_USER:-}"
  if [[ -z "$OWNER" && -d "$DATA" ]]; then
    OWNER="$(stat -c %U "$DATA")"
    [[ "$OWNER" == root || "$OWNER" == UNKNOWN ]] && OWNER=""
  fi
  if [[ -z "$OWNER" ]]; then
    if id -u postgres >/dev/null 2>&1; then
      OWNER=postgres
    else
      OWNER=coe-pg
      id -u "$OWNER" >/dev/null 2>&1 ||
        useradd --system --home-dir "$DIR" --no-create-home --shell /usr/sbin/nologin "$OWNER" ||
        die "could not create the system user $OWNER; create an unprivileged user and set COE_PG_OS_USER to it"
    fi
  fi
  id -u "$OWNER" >/dev/null 2>&1 || die "COE_PG_OS_USER=$OWNER is not a user on this machine; create it or unset COE_PG_OS_USER"
  [[ "$(id -u "$OWNER")" -ne 0 ]] || die "the server cannot run as root; set COE_PG_OS_USER to an unprivileged user"
  # From /, so the server's tools never start in a directory they cannot read.
  as_owner() { (cd / && runuser -u "$OWNER" -- "$@"); }
fi

running() { [[ -f "$DATA/PG_VERSION" ]] && as_owner "$BIN/pg_ctl" status -D "$DATA" >/dev/null 2>&1; }

if [[ "${1:-}" == "--stop" ]]; then
  if running; then
    as_owner "$BIN/pg_ctl" stop -D "$DATA" -m fast -w >/dev/null 2>&1 || die "could not stop the server; see $LOG"
    say "stopped"
  else
    say "not running"
  fi
  exit 0
fi
[[ -z "${1:-}" ]] || die "unknown argument $1; use no argument, --stop or --bindir"

mkdir -p "$DIR"
if [[ $EUID -eq 0 ]]; then
  chown "$OWNER:" "$DIR"
  as_owner test -w "$DIR" ||
    die "user $OWNER cannot reach $DIR (a parent directory is private); set COE_PG_DIR to a directory under /var/lib or /srv"
fi

# One run at a time (two concurrent first runs would both initdb).
if command -v flock >/dev/null; then
  exec 9>"$DIR/.lock"
  flock 9
fi

# --- Create the cluster once: initdb into a temporary directory, create the
#     role and the database in single-user mode, then rename, so an
#     interrupted run never leaves a half-made cluster behind.
if [[ ! -f "$DATA/PG_VERSION" ]]; then
  say "creating the cluster in $DATA (once)"
  tmp="$DIR/data.new"
  rm -rf "$tmp"
  as_owner mkdir -m 700 "$tmp"
  as_owner "$BIN/initdb" -D "$tmp" --auth=trust --encoding=UTF8 --no-locale -U postgres >"$DIR/initdb.log" 2>&1 ||
    { tail -20 "$DIR/initdb.log" >&2; die "initdb failed (log: $DIR/initdb.log); delete $DIR and run again"; }
  # Password logins from loopback only, no Unix socket: nothing else can connect.
  as_owner tee "$tmp/pg_hba.conf" >/dev/null <<'EOF'
# TYPE  DATABASE  USER  ADDRESS       METHOD
host    all       all   127.0.0.1/32  scram-sha-256
EOF
  as_owner tee -a "$tmp/postgresql.conf" >/dev/null <<'EOF'

# coe-bot (scripts/postgres.sh); the port is passed at start (COE_PG_PORT).
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 200
EOF
  as_owner "$BIN/postgres" --single -D "$tmp" postgres >>"$DIR/initdb.log" 2>&1 <<'EOF' ||
CREATE ROLE coe LOGIN CREATEDB PASSWORD 'coe';
CREATE DATABASE coe OWNER coe;
EOF
    { tail -20 "$DIR/initdb.log" >&2; die "creating the role coe failed (log: $DIR/initdb.log); delete $DIR and run again"; }
  # Single-user mode reports SQL errors but still exits 0.
  grep -Eq '(^|[[:space:]])(ERROR|FATAL):' "$DIR/initdb.log" &&
    { grep -E '(^|[[:space:]])(ERROR|FATAL):' "$DIR/initdb.log" >&2; die "creating the role coe failed (log: $DIR/initdb.log); delete $DIR and run again"; }
  as_owner mv "$tmp" "$DATA"
fi

# --- Start it unless it runs already.
if running; then
  # It keeps the port it was started with.
  actual="$(sed -n 4p "$DATA/postmaster.pid" 2>/dev/null || true)"
  if [[ -n "$actual" && "$actual" != "$PORT" ]]; then
    say "already running on port $actual (not $PORT); run scripts/postgres.sh --stop first to change it"
    PORT="$actual"
  fi
else
  say "starting on 127.0.0.1:$PORT (log: $LOG)"
  as_owner touch "$LOG"
  from=$(($(stat -c %s "$LOG") + 1)) # judge this start by its own lines only
  # 9>&-: the server must not inherit the lock, or it would hold it forever.
  if ! as_owner "$BIN/pg_ctl" start -D "$DATA" -w -t 60 -l "$LOG" -o "-p $PORT" >/dev/null 2>&1 9>&-; then
    tail -c "+$from" "$LOG" | tail -5 >&2
    if tail -c "+$from" "$LOG" | grep -q 'could not bind\|Address already in use'; then
      die "port $PORT on 127.0.0.1 is in use; set COE_PG_PORT to a free port"
    fi
    die "the server did not start (log: $LOG)"
  fi
fi

URL="postgres://coe:coe@127.0.0.1:$PORT/coe"
# The URL itself must work, not only the server.
if [[ -x "$BIN/psql" ]]; then
  env -u PGHOST -u PGUSER -u PGDATABASE -u PGPASSWORD -u PGSERVICE \
    "$BIN/psql" "$URL" -Atqc 'select 1' >/dev/null 2>&1 ||
    die "the server runs but $URL does not connect (log: $LOG); stop it, delete $DIR and run again"
fi
echo "COE_TEST_POSTGRES_URL=$URL"
