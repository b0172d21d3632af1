#!/usr/bin/env bash
# Verifies the same 10,000 L1 receipts with `heso-approver verify` and with a
# Python loop over the vendor verifier, both pinned to one core (and ours once
# more on all cores); prints the rates and ratios.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup-vendor-venv.sh"
cargo build --release --quiet -p heso-approver --manifest-path "$root/Cargo.toml"
exec "$root/.venv-heso/bin/python" "$root/tests/bench/verify_rate.py" \
  "$root/target/release/heso-approver" "${1:-10000}"
