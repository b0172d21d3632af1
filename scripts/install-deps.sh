#!/usr/bin/env bash
# Installs what building, testing or packaging needs on Debian/Ubuntu, and
# nothing already there (quick when all is present). `sudo` when not root.
#   install-deps.sh build     the app's build dependencies (./scripts/run.sh)
#   install-deps.sh test      + Xvfb, a Secret Service, a notification daemon,
#                             WebKitWebDriver, tauri-driver, cargo-afl (./scripts/test.sh)
#   install-deps.sh package   + cargo-deb, cargo-generate-rpm and the checkers
#                             the package test runs
# Several modes may be given at once.
set -euo pipefail
sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

build=(libwebkit2gtk-4.1-dev build-essential pkg-config libssl-dev libxdo-dev
  libayatana-appindicator3-dev librsvg2-dev)
# Python venv support (the vendor package, schemathesis); D-Bus and GNOME
# Keyring (a real Secret Service); Xvfb and WebKitWebDriver to drive the real
# window; dunst (a real notification daemon) and dbus-bin (dbus-monitor,
# dbus-send).
# PostgreSQL's server and client for the control plane's tests on it
# (scripts/with-postgres.sh starts a throwaway cluster; no system service).
# The signer's harness (scripts/with-signer.sh): polkitd (polkitd, pkttyagent,
# pkcheck, polkit-agent-helper-1), the system python its helpers run on,
# procps (pkill); secret-tool, to look for keys in the Secret Service.
test=(python3-venv dbus dbus-bin gnome-keyring xvfb xauth webkit2gtk-driver dunst
  postgresql postgresql-client
  polkitd python3 procps libsecret-tools)
# dpkg-dev: dpkg-shlibdeps for the packages' Depends; the validators of the
# desktop entry and the AppStream metainfo; xdg-utils for the install test;
# rpm and rpmlint to check the RPMs.
package=(dpkg-dev desktop-file-utils appstream xdg-utils rpm rpmlint)

packages=("${build[@]}")
want_test=false want_package=false
for mode in "$@"; do
  case "$mode" in
    build) ;;
    test) want_test=true; packages+=("${test[@]}") ;;
    package) want_package=true; packages+=("${package[@]}") ;;
    *) echo "install-deps.sh: unknown mode '$mode' (build, test, package)" >&2; exit 64 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing system packages: ${missing[*]}"
  if [[ " ${missing[*]} " == *" postgresql "* ]]; then
    # Only the programs: no system cluster (the tests start their own).
    sudo_if_needed mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" |
      sudo_if_needed tee /etc/postgresql-common/createcluster.d/heso-no-main-cluster.conf >/dev/null
  fi
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
command -v npm >/dev/null || { echo "Building the window needs Node.js 20+ and npm (apt install nodejs npm)." >&2; exit 69; }
command -v cargo >/dev/null || { echo "Building needs Rust (https://rustup.rs)." >&2; exit 69; }

have_cargo_tool() { command -v "$1" >/dev/null || [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/$1" ]; }
if $want_test; then
  # tauri-driver bridges WebDriver to the app's WebKitWebDriver.
  have_cargo_tool tauri-driver || cargo install tauri-driver --locked --quiet
  # cargo-afl (AFL++) for the fuzz smoke; scripts/fuzz.sh builds AFL++ itself.
  if ! cargo afl --version 2>/dev/null | grep -q '^cargo-afl 0.18.2 '; then
    cargo install cargo-afl --version 0.18.2 --locked --quiet
  fi
fi
if $want_package; then
  if ! cargo deb --version 2>/dev/null | grep -q '3.6.2'; then
    cargo install cargo-deb --version 3.6.2 --locked --quiet
  fi
  if ! cargo generate-rpm --version 2>/dev/null | grep -q '0.21.1'; then
    cargo install cargo-generate-rpm --version 0.21.1 --locked --quiet
  fi
fi
