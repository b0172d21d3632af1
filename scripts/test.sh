#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit, property, vector, differential
# and end-to-end tests, including the desktop app's window driven over
# WebDriver, and a short run of each fuzz target. The vendor package `heso==0.5.1` is the oracle and the operator;
# the approver's key goes to a real Secret Service (a throwaway GNOME Keyring
# on a private D-Bus session); the window runs on a private X display (Xvfb).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# What the tests need (Xvfb, a Secret Service, WebKitWebDriver, tauri-driver,
# …): installed when missing, with sudo when not root.
scripts/install-deps.sh test
scripts/setup-vendor-venv.sh
scripts/setup-schemathesis-venv.sh
(cd ui && npm ci --no-audit --no-fund --silent && npm run build --silent)
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
(cd fuzz && cargo fmt --check)
xvfb-run -a -s "-screen 0 1280x800x24" scripts/with-secret-service.sh cargo test --workspace
# The control plane's tests and the vendor SDK's against it again, on
# PostgreSQL (a throwaway cluster): every one runs against both backends, and
# the replica tests need it.
scripts/with-postgres.sh cargo test -p heso-control-plane
scripts/with-postgres.sh cargo test -p heso-interop-tests --test sdk_interop
# A 30-second coverage-guided smoke of each fuzz target (AFL++): any crash,
# panic or hang fails the run.
scripts/fuzz.sh 30
