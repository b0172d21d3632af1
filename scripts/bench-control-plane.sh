#!/usr/bin/env bash
# Control-plane load benchmark: pending-list latency with 10,000 pending
# approvals, and 1,000 concurrent long-polls released by one new approval.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ulimit -n 16384
cargo run --release --quiet --manifest-path "$root/Cargo.toml" -p heso-control-plane --example load
