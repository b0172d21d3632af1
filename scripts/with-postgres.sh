#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL server: a new cluster in a
# temporary directory (initdb, trust authentication on loopback only), on a
# free port, stopped and deleted when the command ends. No system service.
# The command finds the server in HESO_TEST_POSTGRES
# (postgres://heso@127.0.0.1:PORT; each test creates its own database).
#   scripts/with-postgres.sh cargo test -p heso-control-plane
set -euo pipefail
bin=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[ -x "$bin/initdb" ] || { echo "with-postgres: no PostgreSQL server found (apt install postgresql)" >&2; exit 69; }
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# PostgreSQL refuses to run as root: then it runs as its own system user.
as_server() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" -ne 0 ] || chown postgres "$dir"
stop() {
  as_server "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
as_server "$bin/initdb" -D "$dir/data" -A trust -U heso --no-sync >/dev/null
as_server "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=off" start >/dev/null
export HESO_TEST_POSTGRES="postgres://heso@127.0.0.1:$port"
export PATH="$bin:$PATH"
"$@"
