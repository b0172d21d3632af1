"""Writes the session-chain vectors with the vendor package `heso==0.5.1`.

    .venv-heso/bin/python tests/oracle/chain_vectors.py > crates/receipt/tests/vectors/chains.json

Real chains written by the package's suspend/resume layer in a throwaway
project (`@heso.gated` parks a payment; `append_decision` records escalated /
approved / denied / expired; `process_sweep` times sessions out under their
`on_timeout`; the next call fires and writes `completed`), then those chains
broken every way that matters (links dropped, duplicated, reordered, spliced
in from another session, edited, re-hashed and re-signed by a foreign key,
relabelled), every lifecycle step from every stage, and link hashes of real
and edge-case contents. Each with the package's verdict, as it answers.
"""

import base64
import copy
import glob
import json
import os
import random
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
# The domain each kind is signed under, and the fixed keys that sign here:
# 1 for the operator's links, 3 for decisions.
KIND_DOMAIN = {"suspended": "suspend", "completed": "action", "key_rotation": "action", "action": "action"}
OPERATOR, DECIDER, FOREIGN = 1, 3, 7


def signature(i, domain, content, key_id):
    return {
        "algorithm": "Ed25519",
        "key_id": key_id,
        "public_key": pub(i),
        "signature": sign(i, DOMAINS[domain] + b"\x00" + canonical(content)),
    }


def resign(link, signatures=None, operator=OPERATOR, decider=DECIDER):
    """Re-seals the link and signs it the usual way for its kind, or with
    `signatures` as (key, domain, key_id) triples."""
    content = seal(link["content"])
    if signatures is None:
        domain = KIND_DOMAIN.get(content.get("kind") or "action", "decision")
        key, role = (decider, "approver") if domain == "decision" else (operator, "operator")
        signatures = [(key, domain, role)]
    link["signatures"] = [signature(i, domain, content, role) for i, domain, role in signatures]
    return link


def link_hash(link):
    return core.link_hash(json.dumps(link["content"]).encode())


def relink(links, signed=None, **keys):
    """The links as one chain again: numbered 0, 1, …, each linked to the one
    before and re-signed. `signed` maps a position to its signatures."""
    out = []
    # One copy per link: a link listed twice becomes two links.
    for n, link in enumerate([copy.deepcopy(link) for link in links]):
        content = link["content"]
        content["seq"] = n
        if out:
            content["prev_receipt_hash"] = link_hash(out[-1])
        else:
            content.pop("prev_receipt_hash", None)
        out.append(resign(link, (signed or {}).get(n), **keys))
    return out


def relabel(link, kind):
    link = copy.deepcopy(link)
    if kind is None:
        link["content"].pop("kind", None)
    else:
        link["content"]["kind"] = kind
    return link


def edit(link, change):
    link = copy.deepcopy(link)
    change(link["content"])
    return link


def verdict(chain):
    return core.verify_session_chain(json.dumps(chain).encode())


def real_chains(root):
    """Sessions written by the package itself, by name."""
    subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "heso"), "init", root],
        check=True,
        capture_output=True,
    )
    heso.init(project_root=root)

    @heso.gated(sla="30m")
    def pay(amount, payee):
        return "paid"

    @heso.gated(sla="30m", on_timeout="escalate")
    def pay_or_escalate(amount, payee):
        return "paid"

    later = "2099-01-01T00:00:00Z"
    pay(amount=120, payee="Northwind", _heso_session="full")
    heso.append_decision("full", "escalated", reason="above my limit")
    heso.append_decision("full", "approved", reason="checked the invoice")
    assert pay(amount=120, payee="Northwind", _heso_session="full") == "paid"
    pay(amount=130, payee="Contoso", _heso_session="denied")
    heso.append_decision("denied", "denied", reason="unknown payee")
    pay(amount=140, payee="Fabrikam", _heso_session="expired")
    heso.append_decision("expired", "expired", reason="no answer in time")
    pay(amount=150, payee="Tailspin", _heso_session="timed out, deny")
    assert core.process_sweep(root, "timed out, deny", later)["outcome"] == "appended"
    pay_or_escalate(amount=160, payee="Litware", _heso_session="timed out, escalate")
    assert core.process_sweep(root, "timed out, escalate", later)["outcome"] == "appended"
    pay_or_escalate(amount=170, payee="Adatum", _heso_session="escalated, then timed out")
    heso.append_decision("escalated, then timed out", "escalated", reason="ask finance")
    assert core.process_sweep(root, "escalated, then timed out", later)["outcome"] == "appended"
    pay(amount=180, payee="Proseware", _heso_session="pending")
    assert core.process_sweep(root, "pending", "2000-01-01T00:00:00Z")["outcome"] == "not_yet_due"
    chains = {}
    for path in glob.glob(os.path.join(root, "heso-local-data", "chains", "*.jsonl")):
        links = [json.loads(line) for line in open(path, encoding="utf-8")]
        chains[links[0]["content"]["session_id"]] = links
    return chains


def plain_receipt(content):
    """An action receipt outside any session, signed by the package."""
    content = copy.deepcopy(content)
    for field in ["session_id", "seq", "kind", "prev_receipt_hash", "suspension", "approver_decision"]:
        content.pop(field, None)
    content["trust_level"] = "L0"
    key = core.key_from_seed(bytes([OPERATOR]) * 32)
    return json.loads(bytes(core.sign_action_content(key, json.dumps(content).encode())))


def broken_real_chains(chains, add):
    """The package's own chains, broken without re-signing anything."""
    full, other = chains["full"], chains["denied"]
    s, e, a, c = full
    add("full: the first link dropped", full[1:])
    add("full: a middle link dropped", [s, a, c])
    add("full: the last link dropped", full[:3])
    add("full: the first link duplicated", [s] + full)
    add("full: the last link duplicated", full + [c])
    add("full: two links swapped", [s, a, e, c])
    add("full: reversed", full[::-1])
    add("full: another session's decision spliced in", [s, other[1], a, c])
    add("full: another session's link appended", full + [other[1]])
    add("full: another session's genesis inserted first", [other[0]] + full)
    add("full: prev_receipt_hash edited", [s, e, edit(a, lambda x: x.update(prev_receipt_hash="00" * 32)), c])
    add("full: a kind relabelled", [s, relabel(e, "denied"), a, c])
    add("full: the amount edited", [s, e, edit(a, lambda x: x["action"]["fields"].update(amount=1)), c])
    swapped = copy.deepcopy(a)
    swapped["signatures"] = e["signatures"]
    add("full: a decision carrying another link's signature", [s, e, swapped, c])
    forged_genesis = copy.deepcopy(s)
    forged_genesis["signatures"] = c["signatures"]
    add("full: the genesis carrying another link's signature", [forged_genesis, e, a, c])
    add("full: a wrong action_hash", [s, edit(e, lambda x: x.update(action_hash="00" * 32)), a, c])
    plain = plain_receipt(s["content"])
    add("a receipt outside any session alone", [plain])
    add("full: a receipt outside any session appended", full + [plain])
    add("full: a receipt outside any session first", [plain] + full)


ACTION_SPEC = {
    "verb": "tool_call",
    "domain": "other",
    "action": "refund_payment",
    "tool_name": "pay_twice",
    "target_host": "pay.example",
    "workflow": "other",
    "account": "other",
    "fields": {"amount": 1, "currency": "other", "payee": "Northwind"},
}
NOT_ACTION_SPEC = {
    "ert": lambda x: x["action"].pop("ert"),
    "result_hash": lambda x: x["action"].update(result_hash="00" * 32),
    "error": lambda x: x["action"].update(error="timeout"),
    "policy": lambda x: x["policy"].update(rule_id="other", decision_path="allow"),
    "captured_at and agent_identity": lambda x: x.update(captured_at="", agent_identity=""),
    "trust level and no decision record": lambda x: (x.update(trust_level="L0"), x.pop("approver_decision")),
}


def forged_chains(chains, add):
    """Chains edited, re-hashed and re-signed by keys the package never saw."""
    s, e, a, c = chains["full"]
    denied = relabel(a, "denied")
    expired = relabel(a, "expired")
    action = relabel(c, "action")
    add("foreign keys: the whole chain re-linked", relink([s, e, a, c], operator=FOREIGN, decider=FOREIGN + 1))
    forged = copy.deepcopy(chains["full"])
    forged[2]["content"]["prev_receipt_hash"] = "00" * 32
    resign(forged[2], decider=FOREIGN)
    add("foreign key: prev_receipt_hash edited, re-hashed, re-signed", forged)
    forged = copy.deepcopy(chains["full"])
    forged[1]["content"]["approver_decision"]["reason"] = "fine by me"
    resign(forged[1], decider=FOREIGN)
    add("foreign key: a decision edited, re-hashed, re-signed, not re-linked", forged)
    add("re-linked: the escalation dropped", relink([s, a, c]))
    add("re-linked: the approval dropped", relink([s, e, c]))
    add("re-linked: completed before the decision", relink([s, c, e, a]))
    add("re-linked: escalated relabelled denied", relink([s, relabel(e, "denied"), a, c]))
    add("re-linked: escalated relabelled approved", relink([s, relabel(e, "approved"), a, c]))
    add("re-linked: approved relabelled completed", relink([s, e, relabel(a, "completed"), c]))
    add("re-linked: escalated relabelled suspended", relink([s, relabel(e, "suspended"), a, c]))
    add("re-linked: suspended relabelled approved", relink([relabel(s, "approved"), e, a, c]))
    add("re-linked: completed relabelled action", relink([s, e, a, action]))
    add("re-linked: completed without a kind", relink([s, e, a, relabel(c, None)]))
    add("re-linked: a second terminal", relink([s, denied, expired]))
    add("re-linked: completed twice", relink([s, a, c, c]))
    add("re-linked: the decision under the operator's domain", relink([s, e, a, c], {2: [(DECIDER, "action", "operator")]}))
    add(
        "re-linked: the decision key also signed as the operator",
        relink([s, e, a, c], {1: [(DECIDER, "action", "operator"), (DECIDER, "decision", "approver")]}),
    )
    add("re-linked: a decision under the suspend domain", relink([s, e, a, c], {1: [(DECIDER, "suspend", "approver")]}))
    add("re-linked: a decision with no signature", relink([s, e, a, c], {2: []}))
    add("re-linked: completed under the suspend domain", relink([s, a, c], {2: [(OPERATOR, "suspend", "operator")]}))
    add("re-linked: the decision signed by the operator's key", relink([s, e, a, c], decider=OPERATOR))
    add("re-linked: completed signed by another operator key", relink([s, a, c], {2: [(FOREIGN, "action", "operator")]}))
    add("re-linked: a suspended link with role approver", relink([s, a, c], {0: [(OPERATOR, "suspend", "approver")]}))
    # What makes a decision about another action, and what does not.
    for field, value in ACTION_SPEC.items():
        other_action = edit(a, lambda x: x["action"].update({field: value}))
        add(f"re-linked: a decision with another action.{field}", relink([s, other_action, c]))
    for name, change in NOT_ACTION_SPEC.items():
        add(f"re-linked: a decision with another {name} (the same action)", relink([s, edit(a, change), c]))
    add("re-linked: key rotations between the links", relink([s, relabel(c, "key_rotation"), a, relabel(c, "key_rotation"), c]))
    other = {"amount": 7, "currency": "other", "payee": "Woodgrove"}

    def about_other(link):
        return edit(link, lambda x: x["action"].update(fields=dict(other)))

    add("re-linked: two actions interleaved", relink([s, about_other(s), a, about_other(a), c, about_other(c)]))
    add("re-linked: two actions, the second completed unapproved", relink([s, about_other(s), a, about_other(c)]))
    add("re-linked: two actions, a terminal twice on the first", relink([s, about_other(s), denied, about_other(a), denied]))
    add("re-linked: a fast action and its completed", relink([action, c]))
    add("re-linked: a fast action completed twice", relink([action, c, c]))


def chain_block_cases(chains, add):
    """Links missing or misplacing their chain fields (re-signed, so only the
    linkage is wrong)."""
    s, e, a, c = chains["full"]
    good = relink([s, e, a, c])

    def at(n, change, resealed=True):
        chain = copy.deepcopy(good)
        change(chain[n]["content"])
        if resealed:
            resign(chain[n])
        return chain

    add("genesis without session_id", at(0, lambda x: x.pop("session_id")))
    add("genesis without seq", at(0, lambda x: x.pop("seq")))
    add("genesis with an empty session_id", at(0, lambda x: x.update(session_id="")))
    add("genesis at seq 2", at(0, lambda x: x.update(seq=2)))
    add("genesis with a prev_receipt_hash", at(0, lambda x: x.update(prev_receipt_hash="00" * 32)))
    add("genesis at seq 2 with a prev_receipt_hash", at(0, lambda x: x.update(seq=2, prev_receipt_hash="00" * 32)))
    add("genesis with prev_receipt_hash null", at(0, lambda x: x.update(prev_receipt_hash=None)))
    add("link 1 without session_id", at(1, lambda x: x.pop("session_id")))
    add("link 2 without seq", at(2, lambda x: x.pop("seq")))
    add("link 2 at seq 9 without session_id", at(2, lambda x: (x.pop("session_id"), x.update(seq=9))))
    add("link 1 without prev_receipt_hash", at(1, lambda x: x.pop("prev_receipt_hash")))
    add("link 1 without prev_receipt_hash at seq 7", at(1, lambda x: (x.pop("prev_receipt_hash"), x.update(seq=7))))
    add("link 1 in another session at seq 5", at(1, lambda x: x.update(seq=5, session_id="other")))
    add("link 1 in another session, prev edited", at(1, lambda x: x.update(session_id="other", prev_receipt_hash="00" * 32)))
    add("link 1 at seq 5, prev edited", at(1, lambda x: x.update(seq=5, prev_receipt_hash="00" * 32)))
    add("link 1 at seq 5, not re-sealed", at(1, lambda x: x.update(seq=5), resealed=False))
    add("link 1 with prev_receipt_hash in upper case", at(1, lambda x: x.update(prev_receipt_hash=x["prev_receipt_hash"].upper())))
    add("link 1 with an empty prev_receipt_hash", at(1, lambda x: x.update(prev_receipt_hash="")))
    unsigned = at(2, lambda x: x.pop("seq"))
    unsigned[2]["signatures"] = []
    add("link 2 without seq and without signatures", unsigned)


def pass_order_cases(chains, add):
    """Which failure wins when a chain has several."""
    s, e, a, c = chains["full"]
    denied = relabel(a, "denied")

    def bad_hash(link):
        return edit(link, lambda x: x["action"]["fields"].update(amount=999))

    chain = relink([s, denied, a, c])
    add("an illegal step at 2, a tampered link at 3", chain[:3] + [bad_hash(chain[3])])
    chain = relink([s, e, a, c])
    chain[1]["content"]["seq"] = 5
    resign(chain[1])
    add("a seq out of order at 1, a tampered link at 3", chain[:3] + [bad_hash(chain[3])])
    chain = relink([s, e, a, c], {1: [(DECIDER, "action", "operator")]})
    add("a role violation at 1, a tampered link at 3", chain[:3] + [bad_hash(chain[3])])
    chain = relink([s, denied, a, c])
    chain[3]["content"]["prev_receipt_hash"] = "00" * 32
    resign(chain[3])
    add("an illegal step at 2, a broken link at 3", chain)
    chain = relink([s, denied, denied, c])
    chain[3]["content"]["prev_receipt_hash"] = "00" * 32
    resign(chain[3])
    add("a second terminal at 2, a broken link at 3", chain)


def action_link_cases(chains, add):
    """Plain `action` links, verified by role: each failure as the chain quotes it."""
    action = relabel(chains["full"][3], "action")

    def one(name, change=None, signatures=None, after=None):
        link = copy.deepcopy(action)
        if change:
            change(link["content"])
        chain = relink([link], {0: signatures} if signatures is not None else None)
        if after:
            after(chain[0])
        add(f"an action link: {name}", chain)

    one("valid")
    one("a foreign receipt alg", after=lambda link: link.update(alg="x"))
    one("an unknown action_version", lambda x: x.update(action_version="heso-action/9"))
    one("signed under the suspend domain", signatures=[(OPERATOR, "suspend", "operator")])
    one("an unknown role", signatures=[(OPERATOR, "action", "witness")])
    one("no operator entry", signatures=[(OPERATOR, "action", "approver")])
    one("two operator entries", signatures=[(OPERATOR, "action", "operator")] * 2)
    one("embedded L1 with no co-signature", lambda x: x.update(trust_level="L1"))
    one(
        "the operator co-signs its own action",
        lambda x: x.update(trust_level="L1"),
        [(OPERATOR, "action", "operator"), (OPERATOR, "approval", "approver")],
    )
    one(
        "a valid L1",
        lambda x: x.update(trust_level="L1"),
        [(OPERATOR, "action", "operator"), (DECIDER, "approval", "approver")],
    )
    one(
        "malformed redaction markers",
        lambda x: x.update(
            redaction={
                "mode": "commit_and_reveal",
                "markers": [{"field_path": "payee", "algorithm": "bad", "commitment": "zz"}],
            }
        ),
    )
    one(
        "a quorum short of its threshold",
        lambda x: x.update(trust_level="L1", multi_approval={"threshold": 2, "roster": [pub(2)], "approvers": []}),
    )
    one("a signature algorithm tag RSA", after=lambda link: link["signatures"][0].update(algorithm="RSA"))
    one("a public key that is not base64", after=lambda link: link["signatures"][0].update(public_key="abc!"))
    short = base64.b64encode(b"x" * 10).decode()
    one("a public key of the wrong length", after=lambda link: link["signatures"][0].update(public_key=short))
    one("a signature of the wrong length", after=lambda link: link["signatures"][0].update(signature=short))
    one("a signature that is not base64", after=lambda link: link["signatures"][0].update(signature="!!"))


STAGES = {
    "first": [],
    "suspended": ["suspended"],
    "escalated": ["suspended", "escalated"],
    "approved": ["suspended", "approved"],
    "fast action": ["action"],
    "denied": ["suspended", "denied"],
    "expired": ["suspended", "expired"],
    "completed": ["suspended", "approved", "completed"],
    "fast action completed": ["action", "completed"],
    "lone completed": ["completed"],
}
KINDS = ["action", "suspended", "approved", "denied", "escalated", "expired", "completed", "key_rotation"]


def transition_cases(chains, add):
    """Every kind after every stage of one action's lifecycle."""
    # The completed link: L0 and no decision record, so also a valid `action`;
    # its classification (`ert`) left out to keep the vectors short.
    template = edit(chains["full"][3], lambda x: x["action"].pop("ert"))
    for stage, prefix in STAGES.items():
        for kind in KINDS:
            links = [relabel(template, k) for k in prefix + [kind]]
            add(f"step: {kind} after {stage}", relink(links))


def link_hash_cases(chains):
    """link_hash of real contents and of edge cases: absent session or seq,
    long and non-ASCII session ids, large seqs."""
    rng = random.Random(2026)
    base = chains["full"][0]["content"]
    contents = [link["content"] for links in chains.values() for link in links]
    alphabet = "abcXYZ019 -_/é漢🦀\u0000\"\\"
    for n in range(40):
        content = copy.deepcopy(base)
        content["session_id"] = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 81)))
        content["seq"] = rng.choice([0, 1, 255, 256, 2**32, 2**53, 2**63 - 1, rng.randrange(2**63)])
        if n % 7 == 0:
            content.pop("session_id")
        if n % 11 == 0:
            content.pop("seq")
        contents.append(seal(content))
    return [{"content": c, "link_hash": core.link_hash(json.dumps(c).encode())} for c in contents]


def unparsed_cases(chains):
    """Inputs the package refuses to read at all, with its message."""
    s = chains["full"][0]
    inputs = ["", "{}", "null", "[1]", "[{}]", json.dumps([s, {"x": 1}]), json.dumps([edit(s, lambda x: x.update(seq=-1))])]
    out = []
    for text in inputs:
        try:
            core.verify_session_chain(text.encode())
        except core.HesoVerifyError as e:
            out.append({"input": text, "error": str(e)})
        else:
            raise AssertionError(f"the package read {text!r}")
    return out


def main():
    with tempfile.TemporaryDirectory() as root:
        chains = real_chains(root)
    cases = []

    def add(name, chain):
        cases.append({"name": name, "chain": chain, "verdict": verdict(chain)})

    for session, links in sorted(chains.items()):
        add(f"real: {session}", links)
    add("empty", [])
    broken_real_chains(chains, add)
    forged_chains(chains, add)
    chain_block_cases(chains, add)
    pass_order_cases(chains, add)
    action_link_cases(chains, add)
    transition_cases(chains, add)
    out = {
        "produced_by": "heso==0.5.1 (heso._core), tests/oracle/chain_vectors.py",
        "chains": cases,
        "link_hashes": link_hash_cases(chains),
        "unparsed": unparsed_cases(chains),
    }
    write(out)


def write(vectors):
    """One entry of each list per line, so a change shows as the cases it touches."""

    def dumps(value):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    parts = []
    for key, value in vectors.items():
        if isinstance(value, list):
            body = ",\n".join(dumps(item) for item in value)
            parts.append(f"{dumps(key)}:[\n{body}\n]")
        else:
            parts.append(f"{dumps(key)}:{dumps(value)}")
    sys.stdout.write("{" + ",\n".join(parts) + "}\n")


if __name__ == "__main__":
    main()
