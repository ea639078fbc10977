#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and benchmarks: data, log and Unix socket all live in
# one directory, the server listens on 127.0.0.1 only, and authentication is `trust`.
#
#   scripts/pg-cluster.sh start DIR [PORT]   initdb on first use, start, print the DSN (stdout)
#   scripts/pg-cluster.sh stop DIR           fast shutdown (no-op when not running)
#   scripts/pg-cluster.sh dsn DIR [socket]   print the TCP DSN (or the Unix-socket DSN)
#   scripts/pg-cluster.sh psql DIR [ARGS...] run psql against the cluster's `fasten` database
#
# DSN: postgres://fasten@127.0.0.1:PORT/fasten (superuser `fasten`, database `fasten`, created with
# an ICU en-US collation when the server supports ICU, so text order is not byte order, as on most
# production servers). Without PORT a free loopback port is picked; it is kept in DIR/port, so a
# restart (`start DIR` again) comes back on the same port.
#
# initdb refuses to run as root: as root, the server runs as the `postgres` user and DIR is handed
# to it (DIR and its parents must be traversable by that user; a fresh `mktemp -d` under /tmp is).
# Env: PG_BINDIR overrides the server binaries (default: newest /usr/lib/postgresql/*/bin).
set -euo pipefail

die() { echo "pg-cluster: $*" >&2; exit 2; }

bindir() {
  if [[ -n "${PG_BINDIR:-}" ]]; then echo "$PG_BINDIR"; return; fi
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
  [[ -n "$d" ]] || die "no PostgreSQL server found under /usr/lib/postgresql (apt-get install postgresql)"
  echo "$d"
}

# Runs a command as the cluster owner (postgres when we are root).
as_owner() {
  if [[ "$(id -u)" == 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

dsn() {
  local dir="$1" mode="${2:-tcp}" port
  port="$(cat "$dir/port")"
  if [[ "$mode" == socket ]]; then
    echo "postgres://fasten@/fasten?host=$dir&port=$port"
  else
    echo "postgres://fasten@127.0.0.1:$port/fasten"
  fi
}

start() {
  local dir="$1" port="${2:-}" bin
  bin="$(bindir)"
  [[ -d "$dir" ]] || die "directory $dir does not exist"
  dir="$(cd "$dir" && pwd)"
  if [[ "$(id -u)" == 0 ]]; then
    chown postgres "$dir"
    chmod 700 "$dir"
    runuser -u postgres -- test -w "$dir" ||
      die "user postgres cannot write $dir (are its parent directories traversable?)"
  fi
  if [[ ! -f "$dir/data/PG_VERSION" ]]; then
    as_owner "$bin/initdb" -D "$dir/data" -U fasten --auth=trust --encoding=UTF8 --locale=C \
      --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  fi
  if [[ -f "$dir/data/postmaster.pid" ]] && as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    dsn "$dir"
    return
  fi
  local fixed=1
  if [[ -z "$port" && -f "$dir/port" ]]; then port="$(cat "$dir/port")"; fi
  if [[ -z "$port" ]]; then fixed=0; fi
  local attempt
  for attempt in 1 2 3 4 5; do
    [[ -n "$port" ]] || port="$(free_port)"
    echo "$port" >"$dir/port"
    if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c port=$port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >/dev/null; then
      break
    fi
    if [[ "$fixed" == 1 || "$attempt" == 5 ]]; then
      tail -n 20 "$dir/server.log" >&2 || true
      die "postgres did not start on port $port"
    fi
    port=""
  done
  if [[ ! -f "$dir/created" ]]; then
    local psql="$bin/psql -X -q -v ON_ERROR_STOP=1 -h $dir -p $port -U fasten -d postgres"
    if ! $psql -c "CREATE DATABASE fasten TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'" >/dev/null 2>&1; then
      $psql -c "CREATE DATABASE fasten" >/dev/null
    fi
    touch "$dir/created"
  fi
  dsn "$dir"
}

stop() {
  local dir="$1" bin
  bin="$(bindir)"
  [[ -f "$dir/data/postmaster.pid" ]] || return 0
  as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
}

cmd="${1:-}"
[[ $# -ge 2 ]] || die "usage: pg-cluster.sh start DIR [PORT] | stop DIR | dsn DIR [socket] | psql DIR [ARGS...]"
dir="$2"
case "$cmd" in
  start) start "$dir" "${3:-}" ;;
  stop) stop "$dir" ;;
  dsn) dsn "$dir" "${3:-tcp}" ;;
  psql)
    shift 2
    exec "$(bindir)/psql" -X -v ON_ERROR_STOP=1 -h "$dir" -p "$(cat "$dir/port")" -U fasten -d fasten "$@"
    ;;
  *) die "unknown command '$cmd'" ;;
esac
