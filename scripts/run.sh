#!/usr/bin/env bash
# Builds the tools, verifies the example receipts, then runs the demo control
# plane in the foreground (Ctrl-C stops it). Enrol the command line with it
# from another terminal, using the code it prints.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --release --quiet -p heso-approver -p heso-control-plane
bin=target/release
echo "\$ heso-approver verify examples/receipts.jsonl"
"$bin/heso-approver" verify examples/receipts.jsonl || true
echo
echo "Starting the demo control plane. In another terminal:"
echo "  $bin/heso-approver enroll --url http://127.0.0.1:8787 --code <the code below>"
echo "  $bin/heso-approver queue"
echo
exec "$bin/heso-control-plane" serve --demo --listen 127.0.0.1:8787
