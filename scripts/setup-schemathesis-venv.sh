#!/usr/bin/env bash
# Creates tests/.venv-schemathesis for the control plane's API-schema test
# (crates/control-plane/tests/api_schema.rs): schemathesis, which tests the
# server against its /openapi.json, and what its hook needs to sign approver
# requests with a device key (cryptography for Ed25519, blake3).
# Idempotent: does nothing when the venv already has the pinned versions.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/tests/.venv-schemathesis"
pins=("schemathesis==4.32.5" "cryptography==50.0.2" "blake3==1.0.11")
have_pins() {
  "$venv/bin/python" - "${pins[@]}" <<'PY' 2>/dev/null
import importlib.metadata as m, sys
for pin in sys.argv[1:]:
    name, version = pin.split("==")
    assert m.version(name) == version, pin
PY
}
if [ -x "$venv/bin/schemathesis" ] && have_pins; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "${pins[@]}"
have_pins
echo "schemathesis venv ready: $venv (${pins[*]})"
