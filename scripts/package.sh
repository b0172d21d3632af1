#!/usr/bin/env bash
# Builds the release packages into target/packages/: heso-approver (the
# desktop app: window and background agent, the heso-approver command line,
# the signer as a D-Bus activated system service with its polkit actions,
# desktop entry, icons, AppStream metainfo, man pages, completions) and
# heso-control-plane (the server with its hardened systemd unit and settings
# file). Debian packages through cargo-deb, RPMs with the same contents
# through cargo-generate-rpm; the man pages and completions come
# from each program's own clap definition (`generate`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/install-deps.sh package
(cd ui && npm ci --no-audit --no-fund --silent && npm run build --silent)
cargo build --release --quiet -p heso-approver -p heso-control-plane -p heso-approver-signer
cargo build --release --quiet -p heso-approver-app --features custom-protocol

generated=target/release/generated
rm -rf "$generated"
for artifact in man bash zsh fish; do
  target/release/heso-approver generate "$artifact" "$generated/$artifact"
  target/release/heso-control-plane generate "$artifact" "$generated/$artifact"
done
gzip -9n "$generated"/man/*.1

out=target/packages
rm -rf "$out"
mkdir -p "$out"
cargo deb --quiet --no-build -p heso-approver-app --output "$out/"
cargo deb --quiet --no-build -p heso-control-plane --output "$out/"
# RPM sources are relative to the workspace root (this directory).
cargo generate-rpm -p src-tauri --output "$out/"
cargo generate-rpm -p crates/control-plane --output "$out/"
ls -l "$out"
