"""Verification rate: `heso-approver verify` against a Python loop over the
vendor's `heso._core.verify_action_receipt`, on the same .jsonl of L1 receipts.

Usage: verify_rate.py HESO_APPROVER_BINARY [COUNT] [--quorum]
Prints both rates and the ratio. The receipts are made by the vendor package:
single-approver L1s, or with --quorum 2-of-3 quorum L1s (three signatures each).
"""

import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version

import heso._core as core
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

OPERATOR_SEED = bytes(range(32))
APPROVER_SEED = bytes(range(32, 64))


def make_receipts(count, quorum=False):
    operator = core.key_from_seed(OPERATOR_SEED)
    approver = Ed25519PrivateKey.from_private_bytes(APPROVER_SEED)
    approver_b64 = base64.b64encode(approver.public_key().public_bytes_raw()).decode()
    colleagues = [Ed25519PrivateKey.from_private_bytes(bytes([i]) * 32) for i in (7, 9)]
    roster = sorted(base64.b64encode(k.public_key().public_bytes_raw()).decode() for k in [approver] + colleagues)
    lines = []
    for i in range(count):
        content = {
            "action_version": "heso-action/2.0",
            "captured_at": "2026-11-21T10:00:00Z",
            "agent_identity": operator.public_key_b64(),
            "action": {
                "verb": "payment",
                "tool_name": "stripe.transfers.create",
                "target_host": "api.stripe.com",
                "workflow": "vendor-payouts",
                "account": f"acct_{i % 97}",
                "fields": {"amount": 1000 + i, "currency": "USD", "payee": f"Vendor {i}",
                           "memo": "Invoice — net 30", "card": "[redacted]"},
            },
            "policy": {
                "rule_id": "payment.large.requires_approval",
                "rule_display": "Payments over $1,000 need approval within 30m.",
                "matched_conditions": [{"field": "amount", "op": "gt", "value": 1000}],
                "decision_path": "require_approval",
            },
            "trust_level": "L0",
            "action_hash": "",
        }
        content_json = json.dumps(content).encode()
        record = json.dumps({
            "decision": "approved", "approver_identity": approver_b64, "reason": "checked",
            "decided_at": "2026-11-21T10:05:00Z", "sla_minutes": 30,
        }, separators=(",", ":")).encode()
        if quorum:
            lines.append(quorum_receipt(operator, content_json, [approver, colleagues[0]], roster))
            continue
        payload = bytes(core.l1_cosign_payload(content_json, record))
        co_sig = base64.b64encode(approver.sign(payload)).decode()
        receipt = core.assemble_l1_from_parts(operator, content_json, record, approver_b64, co_sig)
        lines.append(bytes(receipt))
    return lines


def quorum_receipt(operator, content_json, signers, roster):
    """A 2-of-3 quorum L1 the vendor assembles from two approvers' legs."""
    suspended = bytes(core.sign_action_content(operator, content_json))
    suspended_content = json.dumps(json.loads(suspended)["content"]).encode()
    parts = []
    for key in signers:
        key_b64 = base64.b64encode(key.public_key().public_bytes_raw()).decode()
        record = json.dumps({"decision": "approved", "approver_identity": key_b64, "reason": "checked",
                             "decided_at": "2026-11-21T10:05:00Z"}, separators=(",", ":"))
        payload = bytes(core.quorum_cosign_payload(suspended_content, 2, json.dumps(roster).encode(), record.encode()))
        parts.append({"record": record, "approver_pubkey_b64": key_b64,
                      "co_sig_b64": base64.b64encode(key.sign(payload)).decode()})
    return bytes(core.assemble_quorum_from_parts(operator, suspended_content, 2, json.dumps(roster).encode(),
                                                 json.dumps(parts).encode()))


def main():
    args = [a for a in sys.argv[1:] if a != "--quorum"]
    quorum = "--quorum" in sys.argv
    binary = args[0]
    count = int(args[1]) if len(args) > 1 else 10_000
    lines = make_receipts(count, quorum)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "receipts.jsonl")
        with open(path, "wb") as f:
            f.write(b"\n".join(lines) + b"\n")

        os.sched_setaffinity(0, {0})  # the vendor loop and our one-core run share core 0
        start = time.perf_counter()
        for line in lines:
            verdict = core.verify_action_receipt(line)
            assert verdict["kind"] == "Valid" and verdict["trust_level"] == "L1", verdict
        vendor_secs = time.perf_counter() - start
        ours_secs = run_ours(binary, path, count)
        os.sched_setaffinity(0, range(os.cpu_count()))
        ours_all_secs = run_ours(binary, path, count)

    vendor_rate = count / vendor_secs
    ours_rate = count / ours_secs
    ours_all_rate = count / ours_all_secs
    kind = "2-of-3 quorum L1" if quorum else "L1"
    print(f"receipts: {count} {kind} in one .jsonl, made by heso=={version('heso')}")
    print(f"vendor loop over heso._core.verify_action_receipt, 1 core: {vendor_rate:8.0f} receipts/s ({vendor_secs:.3f} s)")
    print(f"heso-approver verify, whole process, 1 core:              {ours_rate:8.0f} receipts/s ({ours_secs:.3f} s)")
    print(f"heso-approver verify, whole process, {os.cpu_count()} cores:             {ours_all_rate:8.0f} receipts/s ({ours_all_secs:.3f} s)")
    print(f"ratio, 1 core: {ours_rate / vendor_rate:.2f}x   ratio, {os.cpu_count()} cores against the 1-core loop: {ours_all_rate / vendor_rate:.2f}x")


def run_ours(binary, path, count):
    """Seconds for one `heso-approver verify` run, checked for a clean summary."""
    start = time.perf_counter()
    done = subprocess.run([binary, "verify", path], stdout=subprocess.PIPE, check=False)
    secs = time.perf_counter() - start
    summary = done.stdout.decode().splitlines()[-1]
    assert done.returncode == 0 and summary == f"{count} valid, 0 invalid", summary
    return secs


if __name__ == "__main__":
    main()
