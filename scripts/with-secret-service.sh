#!/usr/bin/env bash
# Runs a command with a real Secret Service: a private D-Bus session and an
# unlocked GNOME Keyring whose keyrings live in a throwaway directory, so the
# user's own keyring is never touched.
set -euo pipefail
if [ "${1:-}" != "--inside" ]; then
  exec dbus-run-session -- "$0" --inside "$@"
fi
shift
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -m 700 "$scratch/run"
export XDG_RUNTIME_DIR="$scratch/run" XDG_DATA_HOME="$scratch/data"
eval "$(printf 'test-only-password' | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL
# Tests that start their own desktop services (a notification daemon) only
# do so on a session marked as this throwaway one.
export HESO_TEST_PRIVATE_SESSION=1
"$@"
