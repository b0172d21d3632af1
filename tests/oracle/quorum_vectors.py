"""Writes the quorum (k-of-n) vectors with the vendor package `heso==0.5.1`.

    .venv-heso/bin/python tests/oracle/quorum_vectors.py > crates/receipt/tests/vectors/quorum.json

`cosign` cases: a suspended L0 receipt signed by the package, the gate's
threshold and roster, each approver's record text, the exact bytes the package
says that approver signs, the co-signature, and the receipt the package
assembles from those legs.

`verify` cases: quorum receipts, valid and broken one way (or two, to pin the
order of the checks), with the package's verdict: kind, detail, trust level.
The broken ones cannot come from the package's own assembly (it refuses them),
so they are signed here with the same keys over the same bytes.

`order` cases: receipts the package assembled, with their records and their
approver signature entries put in other orders, the hash kept or redone by
the package, with the package's verdict.
"""

import base64
import copy
import itertools
import json

import heso._core as core
from fixed_keys import canonical, pub, seal, seed, sign

OPERATOR = 1


def record(i, decision="approved", reason="ok", identity=None, **extra):
    return dict(
        {
            "decision": decision,
            "approver_identity": identity or pub(i),
            "reason": reason,
            "decided_at": "2026-11-27T10:00:00Z",
        },
        **extra,
    )


def suspended_content(fields=None, redaction=None):
    content = {
        "action_version": "heso-action/2.0",
        "captured_at": "2026-11-27T09:59:00Z",
        "agent_identity": pub(OPERATOR),
        "action": {
            "verb": "payment",
            "tool_name": "payments.send",
            "workflow": "vendor-payouts",
            "account": "acme-prod",
            "fields": fields or {"amount": 8800, "currency": "USD", "payee": "Northwind"},
        },
        "policy": {
            "rule_id": "payments-over-5k",
            "rule_display": "Payments over 5,000 need two approvers",
            "matched_conditions": [{"field": "amount", "op": "gt", "value": 5000}],
            "decision_path": "require_approval",
        },
        "trust_level": "L0",
        "action_hash": "",
    }
    if redaction:
        content["redaction"] = redaction
    return seal(content)


def signed_l0(content):
    return json.loads(bytes(core.sign_action_content(core.key_from_seed(seed(OPERATOR)), json.dumps(content).encode())))


def cosign_case(name, threshold, roster, signers, content=None, reasons=None):
    l0 = signed_l0(content or suspended_content())
    suspended = l0["content"]
    legs = []
    for n, i in enumerate(signers):
        text = json.dumps(record(i, reason=(reasons or {}).get(i, "ok"), sla_minutes=30), separators=(",", ":"))
        payload = bytes(
            core.quorum_cosign_payload(
                json.dumps(suspended).encode(), threshold, json.dumps([pub(k) for k in roster]).encode(), text.encode()
            )
        )
        legs.append(
            {
                "approver_seed_hex": seed(i).hex(),
                "record_text": text,
                "payload_b64": base64.b64encode(payload).decode(),
                "co_sig_b64": sign(i, payload),
            }
        )
    parts = [
        {"record": leg["record_text"], "approver_pubkey_b64": pub(i), "co_sig_b64": leg["co_sig_b64"]}
        for leg, i in zip(legs, signers)
    ]
    assembled = bytes(
        core.assemble_quorum_from_parts(
            core.key_from_seed(seed(OPERATOR)),
            json.dumps(suspended).encode(),
            threshold,
            json.dumps([pub(k) for k in roster]).encode(),
            json.dumps(parts).encode(),
        )
    ).decode()
    return {
        "name": name,
        "operator_seed_hex": seed(OPERATOR).hex(),
        "suspended_receipt": l0,
        "threshold": threshold,
        "roster": [pub(k) for k in roster],
        "legs": legs,
        "quorum_receipt_text": assembled,
        "verdict": core.verify_action_receipt(assembled.encode()),
    }


def quorum_receipt(
    threshold=2,
    roster=(2, 3, 4),
    roster_keys=None,
    records=None,
    signers=None,
    trust="L1",
    mutate=None,
    post=None,
    sort_records=True,
):
    """A quorum receipt signed the way the package signs one, with whatever
    defect the arguments ask for. `records` and `signers` are (key, record)
    pairs; by default the signers are the records' keys."""
    records = records if records is not None else [(2, record(2)), (3, record(3))]
    content = suspended_content()
    records_list = [r for _, r in records]
    if sort_records:
        records_list.sort(key=lambda r: r["approver_identity"])
    content["multi_approval"] = {
        "threshold": threshold,
        "roster": roster_keys if roster_keys is not None else sorted(pub(i) for i in roster),
        "approvers": records_list,
    }
    content["trust_level"] = trust
    if mutate:
        mutate(content)
    seal(content)
    base = copy.deepcopy(content)
    base["multi_approval"]["approvers"] = []
    signatures = [
        {
            "algorithm": "Ed25519",
            "key_id": "operator",
            "public_key": pub(OPERATOR),
            "signature": sign(OPERATOR, b"heso-action/v1\x00" + canonical(base)),
        }
    ]
    for i, r in signers if signers is not None else records:
        own = copy.deepcopy(content)
        own["multi_approval"]["approvers"] = [r]
        signatures.append(
            {
                "algorithm": "Ed25519",
                "key_id": "approver",
                "public_key": pub(i),
                "signature": sign(i, b"heso-approval/v1\x00" + canonical(own)),
            }
        )
    receipt = {"alg": "heso-action/v2+ed25519", "content": content, "signatures": signatures}
    if post:
        post(receipt)
    return receipt


def flip_signature(index):
    def edit(receipt):
        entry = receipt["signatures"][index]
        raw = bytearray(base64.b64decode(entry["signature"]))
        raw[0] ^= 1
        entry["signature"] = base64.b64encode(bytes(raw)).decode()

    return edit


def flip_hash(receipt):
    h = receipt["content"]["action_hash"]
    receipt["content"]["action_hash"] = ("1" if h[0] != "1" else "2") + h[1:]


def set_in(path, value):
    def edit(content):
        target = content
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


def chain(*edits):
    def edit(receipt):
        for e in edits:
            e(receipt)

    return edit


def with_role(index, role):
    def edit(receipt):
        receipt["signatures"][index]["key_id"] = role

    return edit


def duplicate_operator(receipt):
    receipt["signatures"].append(dict(receipt["signatures"][0]))


def drop_operator(receipt):
    receipt["signatures"].pop(0)


R = record
ALL4 = sorted(pub(i) for i in (1, 2, 3, 4))
REJECTS = {
    "valid 2 of 3": {},
    "valid 3 of 3": dict(threshold=3, records=[(2, R(2)), (3, R(3)), (4, R(4))]),
    "valid 1 of 3 with two approvals": dict(threshold=1),
    "valid with records out of order": dict(records=[(3, R(3)), (2, R(2))], sort_records=False),
    "valid with an unsorted roster": dict(roster_keys=[pub(4), pub(3), pub(2)]),
    "valid with a duplicate roster key": dict(roster_keys=sorted([pub(2), pub(2), pub(3)])),
    "valid with extra fields in a record": dict(records=[(2, R(2, extra=1)), (3, R(3))]),
    "valid with an extra field in the quorum": dict(mutate=set_in(["multi_approval", "extra"], 1)),
    "threshold 0": dict(threshold=0),
    "empty roster": dict(roster_keys=[]),
    "both approver_decision and multi_approval": dict(mutate=set_in(["approver_decision"], R(2))),
    "duplicate approver record": dict(records=[(2, R(2)), (2, R(2)), (3, R(3))]),
    "duplicate approver signature": dict(signers=[(2, R(2)), (2, R(2))]),
    "approver not on the roster": dict(records=[(2, R(2)), (3, R(3)), (5, R(5))]),
    "record rejected": dict(records=[(2, R(2)), (3, R(3, "rejected"))]),
    "record escalated": dict(records=[(2, R(2)), (3, R(3)), (4, R(4, "escalated"))]),
    "threshold not met": dict(records=[(2, R(2))]),
    "threshold above the roster": dict(threshold=4, records=[(2, R(2)), (3, R(3)), (4, R(4))]),
    "more signatures than records": dict(signers=[(2, R(2)), (3, R(3)), (4, R(4))]),
    "fewer signatures than records": dict(signers=[(2, R(2))]),
    "no approver signatures": dict(signers=[]),
    "signature with no record": dict(signers=[(2, R(2)), (4, R(4))]),
    "record names another key than its signer": dict(
        records=[(2, R(2, identity=pub(4))), (3, R(3))], signers=[(2, R(2, identity=pub(4))), (3, R(3))]
    ),
    "operator approves": dict(roster_keys=ALL4, records=[(1, R(1)), (3, R(3))]),
    "operator approves, off the roster": dict(records=[(2, R(2)), (1, R(1))]),
    "operator approves with a rejection": dict(roster_keys=ALL4, records=[(2, R(2)), (3, R(3)), (1, R(1, "rejected"))]),
    "approver signature flipped": dict(post=flip_signature(1)),
    "operator signature flipped": dict(post=flip_signature(0)),
    "embedded L0": dict(trust="L0"),
    "embedded L0 with no approvers": dict(trust="L0", records=[], signers=[]),
    "bad redaction": dict(
        mutate=set_in(
            ["redaction"], {"mode": "commit_and_reveal", "markers": [{"field_path": "payee", "algorithm": "x", "commitment": "00"}]}
        )
    ),
    "unknown role": dict(post=with_role(1, "witness")),
    "two operator entries": dict(post=duplicate_operator),
    "no operator entry": dict(post=drop_operator),
    "unsupported algorithm on a leg": dict(post=lambda r: r["signatures"][1].__setitem__("algorithm", "Ed448")),
    # Two defects: which check comes first.
    "order: hash before the quorum's shape": dict(threshold=0, post=flip_hash),
    "order: unknown role before the quorum's shape": dict(threshold=0, post=with_role(1, "witness")),
    "order: quorum's shape before the operator entry": dict(threshold=0, post=duplicate_operator),
    "order: both blocks before threshold 0": dict(threshold=0, mutate=set_in(["approver_decision"], R(2))),
    "order: threshold 0 before an empty roster": dict(threshold=0, roster_keys=[]),
    "order: quorum's shape before the operator signature": dict(threshold=0, post=flip_signature(0)),
    "order: operator signature before the record count": dict(signers=[(2, R(2))], post=flip_signature(0)),
    "order: record count before a leg's checks": dict(
        records=[(2, R(2)), (2, R(2)), (3, R(3))], signers=[(2, R(2)), (3, R(3))]
    ),
    "order: legs in signature order (roster first)": dict(
        records=[(2, R(2)), (3, R(3)), (5, R(5))], signers=[(5, R(5)), (2, R(2)), (3, R(3))], post=flip_signature(3)
    ),
    "order: legs in signature order (signature first)": dict(
        records=[(2, R(2)), (3, R(3)), (5, R(5))], signers=[(2, R(2)), (3, R(3)), (5, R(5))], post=flip_signature(1)
    ),
    "order: record before the operator check": dict(roster_keys=ALL4, signers=[(1, R(1)), (3, R(3))]),
    "order: operator check before the roster": dict(records=[(2, R(2)), (1, R(1))], signers=[(1, R(1)), (2, R(2))]),
    "order: roster before the decision": dict(records=[(2, R(2)), (5, R(5, "rejected"))], signers=[(5, R(5, "rejected")), (2, R(2))]),
    "order: decision before the signature": dict(
        records=[(4, R(4, "rejected")), (2, R(2))], signers=[(4, R(4, "rejected")), (2, R(2))], post=flip_signature(1)
    ),
    "order: duplicate before the signature": dict(signers=[(2, R(2)), (2, R(2))], post=flip_signature(2)),
    "order: threshold before redaction": dict(
        records=[(2, R(2))],
        mutate=set_in(
            ["redaction"], {"mode": "commit_and_reveal", "markers": [{"field_path": "payee", "algorithm": "x", "commitment": "00"}]}
        ),
    ),
    "order: threshold before the trust level": dict(records=[(2, R(2))], trust="L0"),
    "order: redaction before the trust level": dict(
        trust="L0",
        mutate=set_in(
            ["redaction"], {"mode": "commit_and_reveal", "markers": [{"field_path": "payee", "algorithm": "x", "commitment": "00"}]}
        ),
    ),
}


BAD_REDACTION = {"mode": "commit_and_reveal", "markers": [{"field_path": "payee", "algorithm": "x", "commitment": "00"}]}


def single_approver_receipt(trust):
    """An L1 with one approver and a bad redaction marker, embedding `trust`:
    pins that the trust level is checked before the markers outside a quorum too."""
    content = suspended_content()
    content["approver_decision"] = record(2)
    content["redaction"] = BAD_REDACTION
    content["trust_level"] = trust
    seal(content)
    signed = canonical(content)
    return {
        "alg": "heso-action/v2+ed25519",
        "content": content,
        "signatures": [
            {"algorithm": "Ed25519", "key_id": "operator", "public_key": pub(OPERATOR),
             "signature": sign(OPERATOR, b"heso-action/v1\x00" + signed)},
            {"algorithm": "Ed25519", "key_id": "approver", "public_key": pub(2),
             "signature": sign(2, b"heso-approval/v1\x00" + signed)},
        ],
    }


def verify_cases():
    cases = []
    specs = [(name, lambda spec=spec: quorum_receipt(**spec)) for name, spec in REJECTS.items()]
    specs.append(("order (one approver): trust level before redaction", lambda: single_approver_receipt("L0")))
    specs.append(("one approver, bad redaction", lambda: single_approver_receipt("L1")))
    for name, build in specs:
        receipt = build()
        text = json.dumps(receipt, separators=(",", ":"))
        verdict = core.verify_action_receipt(text.encode())
        cases.append(
            {
                "name": name,
                "receipt_text": text,
                "expected_kind": verdict["kind"],
                "expected_detail": verdict.get("detail"),
                "expected_trust_level": verdict.get("trust_level"),
            }
        )
    return cases


def key_index(key):
    return next(i for i in range(1, 10) if pub(i) == key)


def order_cases(name, assembled_text):
    """Every order of the records, with the approver entries as assembled
    and reversed, the hash kept and redone: the package hashes the records
    as written and does not read the order of the entries."""
    assembled = json.loads(assembled_text)
    records = assembled["content"]["multi_approval"]["approvers"]
    operator, *legs = assembled["signatures"]
    cases = []
    for order in itertools.permutations(records):
        for entries in (legs, legs[::-1]):
            for rehash in (False, True):
                receipt = copy.deepcopy(assembled)
                receipt["content"]["multi_approval"]["approvers"] = list(order)
                receipt["signatures"] = [operator, *entries]
                if rehash:
                    seal(receipt["content"])
                text = json.dumps(receipt, separators=(",", ":"))
                verdict = core.verify_action_receipt(text.encode())
                cases.append(
                    {
                        "name": "%s: records %s, entries %s, hash %s"
                        % (
                            name,
                            [key_index(r["approver_identity"]) for r in order],
                            [key_index(e["public_key"]) for e in entries],
                            "redone" if rehash else "kept",
                        ),
                        "receipt_text": text,
                        "expected_kind": verdict["kind"],
                        "expected_detail": verdict.get("detail"),
                        "expected_trust_level": verdict.get("trust_level"),
                    }
                )
    return cases


def main():
    redacted = suspended_content(
        fields={"amount": 120, "currency": "EUR", "payee": "Contoso", "iban": "[redacted]"},
        redaction={"mode": "destructive", "markers": [{"field_path": "iban", "algorithm": "destructive", "commitment": ""}]},
    )
    cosign = [
        cosign_case("2 of 3", 2, [4, 3, 2], [2, 3]),
        cosign_case("3 of 3, legs in reverse key order", 3, [2, 3, 4], [4, 3, 2], reasons={3: "checked the invoice"}),
        cosign_case("1 of 1", 1, [2], [2]),
        cosign_case("2 of 4 over a redacted action", 2, [2, 3, 4, 5], [5, 2], content=redacted),
    ]
    doc = {
        "produced_by": "heso==0.5.1 (heso._core), tests/oracle/quorum_vectors.py",
        "cosign": cosign,
        "verify": verify_cases(),
        "order": [case for c in cosign[:2] for case in order_cases(c["name"], c["quorum_receipt_text"])],
    }
    print(json.dumps(doc, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
