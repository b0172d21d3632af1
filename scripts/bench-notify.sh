#!/usr/bin/env bash
# Notification latency for docs/bench.md: from the vendor SDK's open_approval
# returning to the app's D-Bus Notify call, over 60 approvals. Builds the
# release binaries, then measures under Xvfb with a throwaway Secret Service
# and a real notification daemon (dunst) on that private session.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup-vendor-venv.sh
(cd ui && npm ci --no-audit --no-fund --silent && npm run build --silent)
cargo build --release --quiet -p heso-approver -p heso-control-plane
cargo build --release --quiet -p heso-approver-app --features custom-protocol
xvfb-run -a -s "-screen 0 1280x800x24" scripts/with-secret-service.sh \
  .venv-heso/bin/python scripts/bench_notify.py "${1:-60}"
