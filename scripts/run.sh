#!/usr/bin/env bash
# Sets up and launches HESO Approver with the local demo: installs the system
# packages the desktop app needs (Debian/Ubuntu), builds the window's UI and
# the app, then starts it. On a device not enrolled yet, the app starts the
# embedded demo control plane and enrols with it, so approvals arrive at once.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

packages=(libwebkit2gtk-4.1-dev build-essential pkg-config libssl-dev libxdo-dev
  libayatana-appindicator3-dev librsvg2-dev)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing system packages: ${missing[*]}"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
command -v npm >/dev/null || { echo "HESO Approver needs Node.js 20+ and npm to build its window (apt install nodejs npm)." >&2; exit 69; }
command -v cargo >/dev/null || { echo "HESO Approver needs Rust (https://rustup.rs)." >&2; exit 69; }

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
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "No display: run this from a desktop session (or under xvfb-run)." >&2
  exit 69
fi
echo "Starting HESO Approver (local demo unless this device is already enrolled)."
exec target/release/heso-approver-app --demo "$@"
