#!/usr/bin/env bash
# Creates .venv-heso with the vendor package the tests use as operator and oracle.
# Idempotent: does nothing when the venv already has the pinned version.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv-heso"
want="0.5.1"
# Debian's Python where there is one: the signer's tests run the vendor SDK
# as a desktop user of their own, who cannot reach a Python under /root.
base=python3
[ -x /usr/bin/python3 ] && base=/usr/bin/python3
base_home=$(dirname "$(command -v "$base")")
if [ -x "$venv/bin/python" ] && grep -qx "home = $base_home" "$venv/pyvenv.cfg" 2>/dev/null &&
  "$venv/bin/python" -c "import heso, importlib.metadata as m; assert m.version('heso') == '$want'" 2>/dev/null; then
  exit 0
fi
rm -rf "$venv"
"$base" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "heso==$want" "cryptography>=42"
"$venv/bin/python" -c "import heso._core" >/dev/null
echo "vendor venv ready: $venv (heso==$want)"
