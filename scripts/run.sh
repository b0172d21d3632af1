#!/usr/bin/env bash
# Sets up and launches HESO Approver with the local demo: installs the system
# packages the desktop app needs (Debian/Ubuntu), builds the window's UI and
# the app, then starts it. On a device not enrolled yet, the app starts the
# embedded demo control plane and enrols with it, so approvals arrive at once.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/install-deps.sh build

# Rebuild the window's UI only when its sources changed: a fresh ui/dist makes
# the app embed it again, which costs a release relink.
ui_stale() {
  [ ! -f ui/dist/index.html ] && return 0
  [ -n "$(find ui/src ui/public ui/index.html ui/package.json ui/package-lock.json ui/vite.config.* ui/tsconfig.json \
    -newer ui/dist/index.html 2>/dev/null | head -1)" ]
}
if ui_stale; then
  (cd ui && npm ci --no-audit --no-fund --silent && npm run build --silent)
fi
cargo build --release --quiet -p heso-approver-app --features custom-protocol
# The signer keeps the key out of your other programs' reach (with sudo).
scripts/install-signer.sh
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "No display: run this from a desktop session (or under xvfb-run)." >&2
  exit 69
fi
echo "Starting HESO Approver (local demo unless this device is already enrolled)."
exec target/release/heso-approver-app --demo "$@"
