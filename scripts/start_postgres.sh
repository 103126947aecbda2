#!/usr/bin/env bash
# A throwaway PostgreSQL server for the Postgres tests (`make test-postgres`).
#
#   scripts/start_postgres.sh [start]   start (or reuse) the server; prints its URL on stdout
#   scripts/start_postgres.sh stop      stop it and delete its cluster
#   scripts/start_postgres.sh status    exit 0 when it answers, and print the URL
#
# The cluster lives in $JITPLAN_PG_DIR (default /tmp/jitplan-postgres-$PORT): initdb -A trust,
# listening on 127.0.0.1:$JITPLAN_PG_PORT (default 54329) only, its unix socket in that
# directory, database `jitplan_test`. Starting is idempotent: a server already running from this
# directory is reused; a stale directory (server dead) is wiped and re-created; a previous run's
# server still holding the port (its directory gone) is reused when it accepts the trust login.
# Server binaries come from /usr/lib/postgresql/*/bin (or $PG_BIN); when there are none, the
# Debian package is installed with `apt-get install -y postgresql`. Postgres refuses to run as
# root, so as root the server runs as the `postgres` OS user (runuser). Progress goes to stderr;
# stdout is only the URL, so `url=$(scripts/start_postgres.sh)` works.
set -euo pipefail

PORT=${JITPLAN_PG_PORT:-54329}
DIR=${JITPLAN_PG_DIR:-/tmp/jitplan-postgres-$PORT}
DB=jitplan_test
HOST=127.0.0.1
URL="postgresql://postgres@$HOST:$PORT/$DB"
DATA=$DIR/data
LOG=$DIR/server.log

say() { echo "start_postgres: $*" >&2; }
die() { say "$*"; exit 1; }

find_bin() {
  if [ -n "${PG_BIN:-}" ] && [ -x "$PG_BIN/initdb" ]; then echo "$PG_BIN"; return 0; fi
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then echo "$d"; return 0; fi
  done
  if command -v pg_config >/dev/null 2>&1; then
    d=$(pg_config --bindir)
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  fi
  return 1
}

install_server() {
  say "no PostgreSQL server binaries found; installing the Debian package 'postgresql'"
  command -v apt-get >/dev/null 2>&1 || die "apt-get not available: install PostgreSQL and set PG_BIN"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to apt-get install postgresql"
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get install -y -q postgresql >&2 \
    || { "${sudo[@]}" apt-get update -q >&2 && "${sudo[@]}" apt-get install -y -q postgresql >&2; } \
    || die "apt-get install postgresql failed"
}

BIN=$(find_bin) || BIN=""
ensure_bin() {
  [ -n "$BIN" ] && return 0
  install_server
  BIN=$(find_bin) || die "PostgreSQL installed but initdb not found"
}

# Postgres refuses to run as root: run the server-side commands as the postgres OS user.
if [ "$(id -u)" -eq 0 ]; then
  AS_PG=(runuser -u postgres --)
else
  AS_PG=()
fi

pg_ctl_() { "${AS_PG[@]}" "$BIN/pg_ctl" -D "$DATA" "$@"; }
ready() {
  local isready="$BIN/pg_isready"
  [ -n "$BIN" ] || isready=$(command -v pg_isready) || return 1
  "$isready" -q -h "$HOST" -p "$PORT" -t 2 >/dev/null 2>&1
}
psql_() { "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$HOST" -p "$PORT" -U postgres "$@"; }
# Our postmaster is alive: its pid file names a live process (a killed postmaster that nobody
# reaped is a zombie, which `kill -0` and `pg_ctl status` would still report as running).
ours_running() {
  [ -f "$DATA/postmaster.pid" ] || return 1
  local pid state
  pid=$(head -1 "$DATA/postmaster.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  if [ -r "/proc/$pid/stat" ]; then
    state=$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$pid/stat")
    [ "$state" != Z ] || return 1
  fi
  return 0
}

wait_ready() {
  local i
  for i in $(seq 1 60); do
    ready && return 0
    sleep 0.5
  done
  return 1
}

ensure_db() {
  psql_ -d postgres -tAc "SELECT 1" >/dev/null 2>&1 \
    || die "a server answers on $HOST:$PORT but will not let 'postgres' in without a password; set JITPLAN_PG_PORT"
  if [ "$(psql_ -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != "1" ]; then
    psql_ -d postgres -c "CREATE DATABASE $DB" >&2
  fi
}

start() {
  ensure_bin
  if [ "${#AS_PG[@]}" -gt 0 ] && ! id postgres >/dev/null 2>&1; then
    die "running as root but there is no 'postgres' OS user to run the server as"
  fi
  if ours_running; then
    wait_ready || die "server in $DATA is running but not ready; see $LOG"
    say "reusing the server in $DATA"
    ensure_db
    echo "$URL"
    return 0
  fi
  if ready; then
    # The port answers but not from our directory: a previous run whose directory is gone.
    say "a server already answers on $HOST:$PORT; reusing it"
    ensure_db
    echo "$URL"
    return 0
  fi
  # Nothing usable: (re)create the cluster from scratch (stale directories are throwaway).
  if [ -d "$DIR" ]; then
    say "removing stale cluster directory $DIR"
    rm -rf "$DIR"
  fi
  mkdir -p "$DIR"
  if [ "${#AS_PG[@]}" -gt 0 ]; then chown postgres: "$DIR"; fi
  chmod 700 "$DIR"
  say "initdb in $DATA ($BIN)"
  "${AS_PG[@]}" "$BIN/initdb" -D "$DATA" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 \
    || { cat "$DIR/initdb.log" >&2; die "initdb failed"; }
  cat >>"$DATA/postgresql.conf" <<EOF

# scripts/start_postgres.sh: a throwaway test cluster
port = $PORT
listen_addresses = '$HOST'
unix_socket_directories = '$DIR'
max_connections = 100
EOF
  if ! pg_ctl_ start -w -t 60 -l "$LOG" >&2; then
    tail -30 "$LOG" >&2 || true
    die "server did not start (is $HOST:$PORT taken by something else? set JITPLAN_PG_PORT)"
  fi
  wait_ready || { tail -30 "$LOG" >&2 || true; die "server started but pg_isready never answered"; }
  ensure_db
  say "started on $HOST:$PORT (data in $DATA)"
  echo "$URL"
}

stop() {
  if ours_running; then
    pg_ctl_ stop -m fast -w -t 60 >&2
    say "stopped the server in $DATA"
  else
    say "no server running from $DATA"
  fi
  rm -rf "$DIR"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status)
    if ready; then echo "$URL"; else say "no server answers on $HOST:$PORT"; exit 1; fi ;;
  *) die "usage: $0 [start|stop|status]" ;;
esac
