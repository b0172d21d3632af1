#!/usr/bin/env bash
# Desktop app figures for docs/bench.md: release binary size, cold start,
# idle memory with 100 pending, queue render with 10,000 pending. Builds the
# release binaries, then measures under Xvfb with a throwaway Secret Service.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
(cd ui && npm ci --no-audit --no-fund --silent && npm run build --silent)
cargo build --release --quiet -p heso-approver -p heso-control-plane
cargo build --release --quiet -p heso-approver-app --features custom-protocol
xvfb-run -a -s "-screen 0 1280x800x24" scripts/with-secret-service.sh python3 scripts/bench_app.py
