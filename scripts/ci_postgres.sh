#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the distributed-study tests and export its URL.
#
#   eval "$(bash scripts/ci_postgres.sh)"     # or: source scripts/ci_postgres.sh
#   pytest tests/test_distributed.py          # reads RECFRAME_TEST_POSTGRES_URL
#   bash scripts/ci_postgres.sh stop          # stops the server and removes its data folder
#
# Installs PostgreSQL from Debian's packages if it is missing (apt-get, as root), then runs a server
# as the `postgres` user on 127.0.0.1 at a free port with its data under /tmp (PGDATA_DIR to change),
# creates the database `recframe` and prints `export RECFRAME_TEST_POSTGRES_URL=...` on stdout
# (everything else goes to stderr). The URL uses psycopg 3: pip install 'recframe[postgres]'.
if [ "${BASH_SOURCE[0]}" != "$0" ]; then  # sourced: run as a child (no set -e here) and export the URL
  eval "$(bash "${BASH_SOURCE[0]}" "$@")"
  return
fi
set -euo pipefail

PGDATA_DIR="${PGDATA_DIR:-/tmp/recframe-ci-postgres}"
STATE="$PGDATA_DIR.env"
log() { echo "ci_postgres: $*" >&2; }

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$dir" ] && echo "$dir"
}

stop() {
  local bin; bin=$(pg_bin || true)
  if [ -n "$bin" ] && [ -f "$PGDATA_DIR/postmaster.pid" ]; then
    as_postgres "$bin/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >&2 || true
  fi
  rm -rf "$PGDATA_DIR" "$STATE"
  log "stopped"
}

start() {
  if [ -f "$STATE" ] && [ -f "$PGDATA_DIR/postmaster.pid" ]; then
    log "already running"; cat "$STATE"; return 0
  fi
  if [ -z "$(pg_bin || true)" ]; then
    log "installing PostgreSQL from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
  fi
  local bin port
  bin=$(pg_bin)
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  rm -rf "$PGDATA_DIR"
  mkdir -p "$PGDATA_DIR"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$PGDATA_DIR"
  as_postgres "$bin/initdb" -D "$PGDATA_DIR" -U postgres --auth=trust -E UTF8 >/dev/null
  as_postgres "$bin/pg_ctl" -D "$PGDATA_DIR" -l "$PGDATA_DIR/server.log" -w \
    -o "-h 127.0.0.1 -p $port -k $PGDATA_DIR -c max_connections=200" start >&2
  as_postgres "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres recframe
  echo "export RECFRAME_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:$port/recframe" > "$STATE"
  log "$("$bin/postgres" --version) on 127.0.0.1:$port, data in $PGDATA_DIR"
  cat "$STATE"
}

case "${1:-start}" in
  start) out=$(start) ;;
  stop) stop; out="" ;;
  *) log "usage: $0 [start|stop]"; exit 2 ;;
esac
if [ -n "$out" ]; then echo "$out"; fi
