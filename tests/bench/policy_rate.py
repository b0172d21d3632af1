"""Policy evaluation rate: `heso-control-plane policy eval` (the whole
process) against the vendor's `heso._core.evaluate_policy_batch` (one call on
the whole batch), on the same policy and actions; the decisions must match.

Usage: policy_rate.py HESO_CONTROL_PLANE_BINARY [COUNT]
Prints both rates and the ratio.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version

import heso._core as core

VERBS = ["llm_call", "tool_call", "http_request", "payment", "data_export", "account_change", "delete"]


def policy(rules):
    """The vendor's starter rules, then `rules` more with conditions of every kind."""
    out = []
    ops = [("gt", "1000"), ("lte", '"$500"'), ("eq", '"Globex LLC"'), ("in", '["EUR", "USD"]'),
           ("matches", '"invoice"'), ("exists", "true"), ("neq", '"acme"'), ("not_in", '["x"]')]
    for i in range(rules):
        verb = VERBS[i % len(VERBS)]
        op, value = ops[i % len(ops)]
        field = ["amount", "amount", "payee", "currency", "memo", "payee", "account_ref", "currency"][i % len(ops)]
        decision = "require_approval" if verb in ("payment", "delete", "data_export", "account_change") else "allow"
        out.append(f"""[[rule]]
id = "r{i}"
order = {i}
enabled = true
subject = {{ kind = "workflow", value = "wf{i % 5}" }}
verb = "{verb}"
scope = "{['*', 'stripe.com', '*.example.com'][i % 3]}"
decision = "{decision}"
approvers = ["Treasury"]
conditions = [{{ field = "{field}", op = "{op}", value = {value} }}]
""")
    return "\n".join(out)


def actions(count):
    out = []
    for i in range(count):
        out.append({
            "verb": VERBS[i % len(VERBS)],
            "tool_name": "stripe.transfers.create",
            "target_host": ["api.stripe.com", "x.example.com", "other.net"][i % 3],
            "workflow": f"wf{i % 5}",
            "account": "acct_1",
            "fields": {"amount": 100 + (i * 37) % 5000, "currency": ["USD", "EUR", "GBP"][i % 3],
                       "payee": ["Globex LLC", "Initech"][i % 2], "memo": f"invoice {i}"},
        })
    return out


def main():
    binary = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    toml = policy(40)
    batch = actions(count)
    os.sched_setaffinity(0, {0})
    with tempfile.TemporaryDirectory() as tmp:
        policy_path = os.path.join(tmp, "policy.toml")
        actions_path = os.path.join(tmp, "actions.jsonl")
        with open(policy_path, "w") as f:
            f.write(toml)
        with open(actions_path, "w") as f:
            f.write("\n".join(json.dumps(a) for a in batch) + "\n")
        batch_json = json.dumps(batch)
        start = time.perf_counter()
        theirs = core.evaluate_policy_batch(toml, batch_json)
        vendor_secs = time.perf_counter() - start
        start = time.perf_counter()
        done = subprocess.run([binary, "policy", "eval", "--file", policy_path, actions_path],
                              stdout=subprocess.PIPE, check=True)
        ours_secs = time.perf_counter() - start
    ours = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert ours == theirs, "the decisions differ"
    by_rule = sum(1 for d in ours if d["rule_id"].startswith("r"))
    print(f"actions: {count} ({by_rule} decided by one of 40 rules), policy by heso=={version('heso')}'s language")
    print(f"vendor evaluate_policy_batch, one call, 1 core:        {count / vendor_secs:10.0f} actions/s ({vendor_secs:.3f} s)")
    print(f"heso-control-plane policy eval, whole process, 1 core: {count / ours_secs:10.0f} actions/s ({ours_secs:.3f} s)")
    print(f"ratio: {vendor_secs / ours_secs:.2f}x")


if __name__ == "__main__":
    main()
