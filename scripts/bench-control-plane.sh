#!/usr/bin/env bash
# Control-plane load benchmark: pending-list latency with 10,000 pending
# approvals, and 1,000 concurrent long-polls released by one new approval.
# With --postgres: on a throwaway PostgreSQL server, behind two replicas.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ulimit -n 16384
run=(cargo run --release --quiet --manifest-path "$root/Cargo.toml" -p heso-control-plane --example load)
if [ "${1:-}" = "--postgres" ]; then
  "$root/scripts/with-postgres.sh" "${run[@]}"
else
  "${run[@]}"
fi
