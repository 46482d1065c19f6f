#!/usr/bin/env bash
# A private PostgreSQL for tests and local clusters, from the distribution's binaries: a new
# cluster in DIR (initdb, trust authentication, loopback only, no fsync: its data is thrown
# away), on a free port.
#
#   scripts/postgres.sh start DIR    # prints the server's URL (postgres://portcullis@127.0.0.1:PORT)
#   scripts/postgres.sh restart DIR  # stops it (fast: connections are cut) and starts it again
#   scripts/postgres.sh stop DIR     # stops it and deletes its data (DIR is left for the caller)
#
# PostgreSQL refuses to run as root: as root, the server runs as the `postgres` user (created
# by Debian's package) and DIR is given to it. When initdb is missing and apt is there, the
# package is installed first.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|restart|stop DIR" >&2; exit 2; }

find_bin() {
  local name=$1
  if command -v "$name" >/dev/null; then command -v "$name"; return; fi
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin/"$name" 2>/dev/null | sort -V | tail -1 || true)
  [ -n "$found" ] && echo "$found"
}

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "$cmd" in
  start)
    if [ -z "$(find_bin initdb)" ]; then
      sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
      $sudo apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends postgresql >&2
    fi
    initdb=$(find_bin initdb)
    pg_ctl=$(find_bin pg_ctl)
    mkdir -p "$dir"
    # The cluster lives in a directory of its own that its owner can reach (DIR may sit under
    # a private temporary directory); DIR records where.
    data=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-pg.XXXXXX")
    [ "$(id -u)" -eq 0 ] && chown postgres: "$data"
    echo "$data" >"$dir/datadir"
    as_owner "$initdb" -D "$data/data" -U portcullis --auth=trust --no-sync -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    # A free port: bind port 0 and read what the kernel chose.
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_owner "$pg_ctl" -D "$data/data" -l "$data/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
      start >/dev/null || { cat "$data/server.log" >&2; exit 1; }
    echo "$port" >"$dir/port"
    echo "postgres://portcullis@127.0.0.1:$port"
    ;;
  restart)
    pg_ctl=$(find_bin pg_ctl)
    data=$(cat "$dir/datadir")
    as_owner "$pg_ctl" -D "$data/data" -m fast -w -t 60 restart >/dev/null \
      || { cat "$data/server.log" >&2; exit 1; }
    ;;
  stop)
    pg_ctl=$(find_bin pg_ctl)
    data=$(cat "$dir/datadir" 2>/dev/null || true)
    if [ -n "$data" ] && [ -d "$data/data" ]; then
      as_owner "$pg_ctl" -D "$data/data" -m fast -w stop >/dev/null 2>&1 || true
      rm -rf "$data"
    fi
    ;;
  *)
    echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
