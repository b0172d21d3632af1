#!/usr/bin/env bash
# Builds `heso-approver` and verifies the example receipts with it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --release --quiet -p heso-approver
echo "\$ heso-approver verify examples/l1-receipt.json"
target/release/heso-approver verify examples/l1-receipt.json
echo
echo "\$ heso-approver verify examples/receipts.jsonl"
target/release/heso-approver verify examples/receipts.jsonl || true
echo
echo "The binary is target/release/heso-approver; try --help."
