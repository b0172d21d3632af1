#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit, property, vector and
# differential tests (the vendor package `heso==0.5.1` as the oracle).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup-vendor-venv.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace
