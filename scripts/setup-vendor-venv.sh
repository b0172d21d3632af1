#!/usr/bin/env bash
# Creates .venv-heso with the vendor package the tests use as operator and oracle.
# Idempotent: does nothing when the venv already has the pinned version.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv-heso"
want="0.5.1"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import heso, importlib.metadata as m; assert m.version('heso') == '$want'" 2>/dev/null; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "heso==$want" "cryptography>=42"
"$venv/bin/python" -c "import heso._core" >/dev/null
echo "vendor venv ready: $venv (heso==$want)"
