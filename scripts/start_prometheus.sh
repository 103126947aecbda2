#!/usr/bin/env bash
# A throwaway Prometheus server for the live-signal tests (`make test-prometheus`).
#
#   scripts/start_prometheus.sh [start]   start (or reuse) the server; prints its URL on stdout
#   scripts/start_prometheus.sh stop      stop it (by PID) and delete its directory
#   scripts/start_prometheus.sh status    exit 0 when it answers, and print the URL
#
# The server listens on 127.0.0.1:$JITPLAN_PROM_PORT (default 19090) only, keeps its TSDB and
# config in $JITPLAN_PROM_DIR (default /tmp/jitplan-prometheus-$PORT) and scrapes the
# comma-separated host:port list $JITPLAN_PROM_TARGETS every $JITPLAN_PROM_SCRAPE (default 1s).
# The binary is `prometheus` on PATH (or $PROMETHEUS_BIN); when there is none, the Debian package
# is installed with `apt-get install -y prometheus`. The package's own service is never used: this
# script starts its own process and records its PID in $DIR/prometheus.pid. Progress goes to
# stderr; stdout is only the URL, so `url=$(scripts/start_prometheus.sh)` works.
set -euo pipefail

PORT=${JITPLAN_PROM_PORT:-19090}
DIR=${JITPLAN_PROM_DIR:-/tmp/jitplan-prometheus-$PORT}
TARGETS=${JITPLAN_PROM_TARGETS:-}
SCRAPE=${JITPLAN_PROM_SCRAPE:-1s}
HOST=127.0.0.1
URL="http://$HOST:$PORT"
PIDFILE=$DIR/prometheus.pid
LOG=$DIR/server.log

say() { echo "start_prometheus: $*" >&2; }
die() { say "$*"; exit 1; }

find_bin() {
  if [ -n "${PROMETHEUS_BIN:-}" ] && [ -x "$PROMETHEUS_BIN" ]; then echo "$PROMETHEUS_BIN"; return 0; fi
  command -v prometheus 2>/dev/null || { [ -x /usr/bin/prometheus ] && echo /usr/bin/prometheus; }
}

install_server() {
  say "no prometheus binary found; installing the Debian package 'prometheus'"
  command -v apt-get >/dev/null 2>&1 || die "apt-get not available: install Prometheus and set PROMETHEUS_BIN"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to apt-get install prometheus"
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get install -y -q prometheus >&2 \
    || { "${sudo[@]}" apt-get update -q >&2 && "${sudo[@]}" apt-get install -y -q prometheus >&2; } \
    || die "apt-get install prometheus failed"
}

ready() {
  python3 - "$URL/-/ready" <<'PY' >/dev/null 2>&1
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
    sys.exit(0 if r.status == 200 else 1)
PY
}

ours_running() {
  [ -f "$PIDFILE" ] || return 1
  local pid state
  pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  if [ -r "/proc/$pid/stat" ]; then
    state=$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$pid/stat")
    [ "$state" != Z ] || return 1
  fi
  return 0
}

write_config() {
  local targets="" t
  IFS=',' read -r -a list <<<"$TARGETS"
  for t in "${list[@]}"; do
    [ -n "$t" ] && targets="$targets'$t', "
  done
  cat >"$DIR/prometheus.yml" <<YML
# scripts/start_prometheus.sh: a throwaway test server
global:
  scrape_interval: $SCRAPE
  evaluation_interval: $SCRAPE
scrape_configs:
  - job_name: jitplan-test
    scrape_interval: $SCRAPE
    scrape_timeout: $SCRAPE
    static_configs:
      - targets: [${targets%, }]
YML
}

start() {
  local bin
  bin=$(find_bin) || bin=""
  if [ -z "$bin" ]; then install_server; bin=$(find_bin) || die "prometheus installed but not found on PATH"; fi
  if ours_running && ready; then
    say "reusing the server in $DIR"
    echo "$URL"
    return 0
  fi
  if ready; then die "something else answers on $HOST:$PORT; set JITPLAN_PROM_PORT"; fi
  if [ -d "$DIR" ]; then
    if ours_running; then kill "$(cat "$PIDFILE")" 2>/dev/null || true; fi
    rm -rf "$DIR"
  fi
  mkdir -p "$DIR/data"
  write_config
  say "starting $bin on $HOST:$PORT (scraping ${TARGETS:-nothing} every $SCRAPE)"
  nohup "$bin" --config.file="$DIR/prometheus.yml" --storage.tsdb.path="$DIR/data" \
    --web.listen-address="$HOST:$PORT" --storage.tsdb.retention.time=1h \
    --web.enable-lifecycle >"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  local i
  for i in $(seq 1 120); do
    if ready; then say "ready on $HOST:$PORT (pid $(cat "$PIDFILE"), data in $DIR)"; echo "$URL"; return 0; fi
    ours_running || { tail -20 "$LOG" >&2 || true; die "prometheus exited during start-up"; }
    sleep 0.25
  done
  tail -20 "$LOG" >&2 || true
  kill "$(cat "$PIDFILE")" 2>/dev/null || true
  die "prometheus did not become ready on $HOST:$PORT within 30 s"
}

stop() {
  if ours_running; then
    local pid i
    pid=$(cat "$PIDFILE")
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    say "stopped the server (pid $pid)"
  else
    say "no server running from $DIR"
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
