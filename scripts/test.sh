#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit, property, vector, differential
# and end-to-end tests. The vendor package `heso==0.5.1` is the oracle and the
# operator; the approver's key goes to a real Secret Service (a throwaway
# GNOME Keyring on a private D-Bus session).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup-vendor-venv.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
scripts/with-secret-service.sh cargo test --workspace
