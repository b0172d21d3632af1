#!/usr/bin/env bash
# Installs the signer from this build (as the package does): the binary in
# /usr/libexec/heso-approver, its D-Bus activation and bus policy, its polkit
# actions, its systemd unit, its system user and state directory; then asks
# the system bus to read its policy again. `sudo` when not root. Where no
# system bus runs (a container), installs nothing and says so: the app then
# keeps its key in the keychain, unprotected from your other programs, and
# says so too.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
if [ ! -S /run/dbus/system_bus_socket ]; then
  echo "No system bus here: the signer is not installed, and the app keeps its key in the keychain (not protected from your other programs)." >&2
  exit 0
fi
cargo build --release --quiet -p heso-approver-signer
s=packaging/signer
sudo_if_needed install -D -m 755 target/release/heso-approver-signer /usr/libexec/heso-approver/heso-approver-signer
sudo_if_needed install -D -m 644 $s/org.heso.Approver.Signer1.service /usr/share/dbus-1/system-services/org.heso.Approver.Signer1.service
sudo_if_needed install -D -m 644 $s/org.heso.Approver.Signer1.conf /usr/share/dbus-1/system.d/org.heso.Approver.Signer1.conf
sudo_if_needed install -D -m 644 $s/org.heso.approver.policy /usr/share/polkit-1/actions/org.heso.approver.policy
sudo_if_needed install -D -m 644 $s/heso-approver-signer.service /usr/lib/systemd/system/heso-approver-signer.service
sudo_if_needed install -D -m 644 $s/heso-approver-signer.sysusers /usr/lib/sysusers.d/heso-approver-signer.conf
sudo_if_needed install -D -m 644 $s/heso-approver-signer.tmpfiles /usr/lib/tmpfiles.d/heso-approver-signer.conf
sudo_if_needed sh $s/debian/postinst configure
echo "Installed the signer (heso-approver-signer): votes are signed outside your account, after the system asks you."
