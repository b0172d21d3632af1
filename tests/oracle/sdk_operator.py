"""The vendor SDK (`heso==0.5.1`) as a real operator against a control plane.

Reads one JSON request per line on stdin, answers one JSON line on stdout:
{"ok": true, ...} or {"ok": false, "error": "<type>: <message>"}.

Ops:
  init {dir}                         heso init DIR; answers the operator public key
  configure {endpoint, api_key}      heso.cloud.configure
  suspend {verb, tool_name, fields, target_host?, workflow?, redact_fields?, redact_strategy?, threshold?}
                                     engine suspends the action; push_receipt + open_approval
  poll {action_hash}                 heso.cloud.poll_approval
  finalize {action_hash}             get_l1_parts + heso.finalize_l1
  finalize_quorum {action_hash}      get_quorum_parts + heso.finalize_quorum
  submit_token {action_hash, token_b64, content, scope, decision}
  register_approver {key_id, public_key, label?}
                                     heso.cloud.register_approver_pubkey (what an agent holding the API key can call)
  verify {receipt}                   heso._core.verify_action_receipt
"""

import json
import os
import subprocess
import sys

import heso
import heso._core as core
import heso.cloud as cloud
from heso._bridge import Action, Verb

from jsonlines import serve

STATE = {}


def op_init(req):
    root = req["dir"]
    heso_cli = os.path.join(os.path.dirname(sys.executable), "heso")
    subprocess.run([heso_cli, "init", root], check=True, capture_output=True)
    os.chdir(root)
    heso.init(project_root=root)
    key = core.load_key(os.path.join(root, "heso-local-data", "identity.key"))
    STATE["root"] = root
    return {"operator_public_key": key.public_key_b64()}


def op_configure(req):
    cloud.configure(api_key=req["api_key"], endpoint=req["endpoint"])
    return {}


def op_suspend(req):
    action = Action(
        verb=Verb(req["verb"]),
        tool_name=req["tool_name"],
        workflow=req.get("workflow", "vendor-payouts"),
        account=req.get("account", "acct_42"),
        fields=req["fields"],
        target_host=req.get("target_host"),
    )
    request = action.to_process_input()
    # The engine redacts these fields before signing (commit_and_reveal or destructive).
    for key in ("redact_fields", "redact_strategy"):
        if key in req:
            request[key] = req[key]
    out = json.loads(bytes(core.process(json.dumps(request).encode(), STATE["root"])))
    if out["status"] != "suspended":
        raise RuntimeError(f"the engine did not suspend: {out['status']}")
    receipt = out["receipt"]
    content = receipt["content"]
    pushed = cloud.push_receipt(receipt)
    view = cloud.open_approval(
        content["action_hash"],
        workflow=content["action"]["workflow"],
        account=content["action"]["account"],
        rule_id=content["policy"]["rule_id"],
        threshold=req.get("threshold", 1),
        matched_conditions=content["policy"]["matched_conditions"],
        scope=content["policy"]["rule_id"],
    )
    return {"receipt": receipt, "seq": pushed.seq, "approval_id": view.approval_id, "status": view.status}


def op_poll(req):
    result = cloud.poll_approval(req["action_hash"])
    return {"status": result.status, "approved_count": result.approved_count, "resolved_at": result.resolved_at}


def op_finalize(req):
    parts = cloud.get_l1_parts(req["action_hash"])
    pushed = heso.finalize_l1(req["action_hash"], parts.suspended_content, parts)
    return {"seq": pushed.seq, "duplicate": pushed.duplicate}


def op_finalize_quorum(req):
    parts = cloud.get_quorum_parts(req["action_hash"])
    pushed = heso.finalize_quorum(req["action_hash"], parts.suspended_content, parts)
    return {"seq": pushed.seq, "duplicate": pushed.duplicate, "legs": len(parts.legs), "roster": parts.roster}


def op_submit_token(req):
    view = cloud.submit_token(
        req["action_hash"],
        req["token_b64"],
        req["content"],
        required_scope=req["scope"],
        decision=req["decision"],
        reason=req.get("reason", ""),
    )
    return {"status": view.status, "approved_count": view.approved_count}


def op_register_approver(req):
    cloud.register_approver_pubkey(req["key_id"], req["public_key"], label=req.get("label", ""))
    return {}


def op_verify(req):
    return {"verdict": core.verify_action_receipt(json.dumps(req["receipt"]).encode())}


OPS = {
    "init": op_init,
    "configure": op_configure,
    "suspend": op_suspend,
    "poll": op_poll,
    "finalize": op_finalize,
    "finalize_quorum": op_finalize_quorum,
    "submit_token": op_submit_token,
    "register_approver": op_register_approver,
    "verify": op_verify,
}


if __name__ == "__main__":
    serve(OPS)
