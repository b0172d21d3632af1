#!/usr/bin/env bash
# The signer's speed and size, inside scripts/with-signer.sh (run as root):
# request signatures and votes through polkit (the prompt answered at once),
# p50/p99, and the signer's memory idle.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p heso-approver-signer --bin heso-approver-signer --example bench
"$root/target/release/examples/bench"
