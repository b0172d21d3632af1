#!/usr/bin/env bash
# Memory of the control plane under the large-pages attack: 300 suspended
# receipts of ~1 MB, ten concurrent pending lists with different limits.
# Prints the serving process's peak and final resident memory.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p heso-control-plane --bin heso-control-plane --example large_pages
"$root/target/release/examples/large_pages"
