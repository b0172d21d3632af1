"""Writes the session-link vectors with the vendor package `heso==0.5.1`.

    .venv-heso/bin/python tests/oracle/lifecycle_vectors.py > crates/receipt/tests/vectors/lifecycle.json

Real session chains made by the package's suspend/resume layer in a
throwaway project (`@heso.gated` parks a payment, `append_decision` records
escalated / approved / denied / expired, the next call fires and writes
`completed`), then each real link re-signed here in every way that matters
(other domains, other roles, relabelled kinds, other trust levels, edits),
each with the package's verdict: kind, trust level, detail.
"""

import base64
import copy
import glob
import json
import os
import subprocess
import sys
import tempfile

os.environ["HESO_ALLOW_INSECURE_LOCAL_DECISION_KEY"] = "1"

import heso  # noqa: E402
import heso._core as core  # noqa: E402
from fixed_keys import canonical, pub, seal, sign  # noqa: E402

DOMAINS = {
    "action": b"heso-action/v1",
    "suspend": b"heso-action-suspend/v1",
    "decision": b"heso-action-decision/v1",
    "approval": b"heso-approval/v1",
}


def signature(i, domain, content, key_id, algorithm="Ed25519"):
    return {
        "algorithm": algorithm,
        "key_id": key_id,
        "public_key": pub(i),
        "signature": sign(i, DOMAINS[domain] + b"\x00" + canonical(content)),
    }


def verdict(receipt):
    answer = core.verify_action_receipt(json.dumps(receipt).encode())
    answer = json.loads(answer) if isinstance(answer, str) else answer
    answer.pop("time_status", None)
    return answer


def real_chains(root):
    """Three sessions written by the package itself."""
    subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "heso"), "init", root],
        check=True,
        capture_output=True,
    )
    heso.init(project_root=root)

    @heso.gated(sla="30m")
    def pay(amount, payee):
        return "paid"

    pay(amount=120, payee="Northwind", _heso_session="full")
    heso.append_decision("full", "escalated", reason="above my limit")
    heso.append_decision("full", "approved", reason="checked the invoice")
    assert pay(amount=120, payee="Northwind", _heso_session="full") == "paid"
    pay(amount=130, payee="Contoso", _heso_session="denied")
    heso.append_decision("denied", "denied", reason="unknown payee")
    pay(amount=140, payee="Fabrikam", _heso_session="expired")
    heso.append_decision("expired", "expired", reason="no answer in time")
    chains = {}
    for path in glob.glob(os.path.join(root, "heso-local-data", "chains", "*.jsonl")):
        links = [json.loads(line) for line in open(path, encoding="utf-8")]
        chains[links[0]["content"]["session_id"]] = links
    return chains


def variant(link, signatures, kind=None, trust_level=None, edit=None, alg=None):
    receipt = copy.deepcopy(link)
    content = receipt["content"]
    if kind:
        content["kind"] = kind
    if trust_level:
        content["trust_level"] = trust_level
    if edit:
        edit(content)
    seal(content)
    receipt["signatures"] = [signature(*s[:1], s[1], content, *s[2:]) for s in signatures]
    if alg:
        receipt["alg"] = alg
    return receipt


def main():
    with tempfile.TemporaryDirectory() as root:
        chains = real_chains(root)
    full = chains["full"]
    suspended, escalated, approved, completed = full
    cases = []

    def add(name, receipt):
        cases.append({"name": name, "receipt": receipt, "verdict": verdict(receipt)})

    for session, links in sorted(chains.items()):
        for link in links:
            add(f"real {session} chain: {link['content']['kind']} link", link)

    add("suspended, operator-signed in the suspend domain", variant(suspended, [(1, "suspend", "operator")]))
    add("suspended, signed in the action domain", variant(suspended, [(1, "action", "operator")]))
    add(
        "suspended, action domain plus an approver co-signature (the cloud L1 shape)",
        variant(suspended, [(1, "action", "operator"), (2, "approval", "approver")], trust_level="L1"),
    )
    add("suspended, embedded L1", variant(suspended, [(1, "suspend", "operator")], trust_level="L1"))
    add("suspended, role `approver`", variant(suspended, [(2, "suspend", "approver")]))
    add("suspended, unknown role", variant(suspended, [(2, "suspend", "witness")]))
    add("suspended, no signature", variant(suspended, []))
    add(
        "suspended, a wrong signature then a right one",
        variant(suspended, [(1, "action", "operator"), (2, "suspend", "operator")]),
    )
    add("suspended, decision domain", variant(suspended, [(1, "decision", "operator")]))
    add("suspended, foreign algorithm tag", variant(suspended, [(1, "suspend", "operator", "RSA")]))
    add("suspended, unknown receipt alg", variant(suspended, [(1, "suspend", "operator")], alg="x"))
    add(
        "suspended, unknown action version",
        variant(suspended, [(1, "suspend", "operator")], edit=lambda c: c.update(action_version="heso-action/9")),
    )
    add(
        "suspended, malformed redaction markers",
        variant(
            suspended,
            [(1, "suspend", "operator")],
            edit=lambda c: c.update(
                redaction={
                    "mode": "commit_and_reveal",
                    "markers": [{"field_path": "payee", "algorithm": "bad", "commitment": "zz"}],
                }
            ),
        ),
    )
    edited = copy.deepcopy(suspended)
    edited["content"]["action"]["fields"]["amount"] = 1
    add("suspended, amount edited after signing", edited)

    for kind in ["approved", "denied", "escalated", "expired"]:
        add(f"{kind}, decision domain, role approver", variant(approved, [(3, "decision", "approver")], kind=kind))
        add(f"{kind}, action domain, role operator", variant(approved, [(3, "action", "operator")], kind=kind))
        add(f"{kind}, approval domain", variant(approved, [(3, "approval", "approver")], kind=kind))
        add(f"{kind}, suspend domain", variant(approved, [(3, "suspend", "operator")], kind=kind))
        add(f"{kind}, embedded L0", variant(approved, [(3, "decision", "approver")], kind=kind, trust_level="L0"))
    add("approved, decision domain, role operator", variant(approved, [(3, "decision", "operator")]))
    add("approved, action domain, role approver", variant(approved, [(3, "action", "approver")]))
    add(
        "approved, operator then decision signature",
        variant(approved, [(1, "action", "operator"), (3, "decision", "approver")]),
    )
    add("approved, decision key also signed the action", variant(approved, [(3, "action", "operator"), (3, "decision", "approver")]))
    add(
        "approved, first decision signer also signed the action",
        variant(approved, [(2, "decision", "approver"), (3, "decision", "approver"), (2, "action", "operator")]),
    )
    add(
        "approved, a later decision signer also signed the action",
        variant(approved, [(3, "decision", "approver"), (2, "decision", "approver"), (2, "action", "operator")]),
    )
    add("approved, decision key with a suspend-domain signature", variant(approved, [(3, "decision", "approver"), (3, "suspend", "operator")]))
    add("approved, no approver_decision", variant(approved, [(3, "decision", "approver")], edit=lambda c: c.pop("approver_decision")))
    add(
        "approved, with a quorum block",
        variant(
            approved,
            [(3, "decision", "approver")],
            edit=lambda c: c.update(multi_approval={"threshold": 5, "roster": [pub(3)], "approvers": []}),
        ),
    )
    bad_sig = variant(approved, [(3, "action", "operator")])
    bad_sig["signatures"][0]["signature"] = base64.b64encode(b"\0" * 64).decode()
    add("approved, a garbage operator signature", bad_sig)
    bad_key = copy.deepcopy(approved)
    bad_key["signatures"][0]["public_key"] = "abc"
    add("approved, a public key that does not decode", bad_key)
    wrong_hash = copy.deepcopy(approved)
    wrong_hash["content"]["action_hash"] = "00" * 32
    add("approved, a wrong action_hash", wrong_hash)

    add("completed, action domain", variant(completed, [(1, "action", "operator")]))
    add("completed, decision domain", variant(completed, [(1, "decision", "approver")]))
    add("completed, suspend domain", variant(completed, [(1, "suspend", "operator")]))
    add("completed, role approver", variant(completed, [(1, "action", "approver")]))
    add("completed, embedded L1", variant(completed, [(1, "action", "operator")], trust_level="L1"))
    add("key_rotation, action domain", variant(completed, [(1, "action", "operator")], kind="key_rotation"))
    add("key_rotation, suspend domain", variant(completed, [(1, "suspend", "operator")], kind="key_rotation"))
    add("action kind, operator-signed", variant(completed, [(1, "action", "operator")], kind="action"))
    add("action kind, only role approver", variant(completed, [(1, "action", "approver")], kind="action"))

    json.dump({"produced_by": "heso==0.5.1 (heso._core), tests/oracle/lifecycle_vectors.py", "links": cases}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
