"""The vendor package `heso==0.5.1` as a test oracle.

Reads one JSON request per line on stdin and answers one JSON line on stdout.
Every answer is {"ok": true, ...} or {"ok": false, "error": "<type>: <message>"}.
Byte strings travel as standard base64.
"""

import base64
import json

import heso._core as core

from jsonlines import serve


def b64(data):
    return base64.b64encode(bytes(data)).decode()


def unb64(text):
    return base64.b64decode(text)


def key(seed_hex):
    return core.key_from_seed(bytes.fromhex(seed_hex))


def op_canon(req):
    content = req["content"].encode()
    return {
        "canonical_b64": b64(core.action_canonical_bytes(content)),
        "action_hash": core.action_content_hash(content),
    }


def op_verify(req):
    return {"verdict": core.verify_action_receipt(req["receipt"].encode())}


def op_sign(req):
    receipt = core.sign_action_content(key(req["seed_hex"]), req["content"].encode())
    return {"receipt": bytes(receipt).decode()}


def op_cosign_payload(req):
    payload = core.l1_cosign_payload(req["content"].encode(), req["record"].encode())
    return {"payload_b64": b64(payload)}


def op_assemble_l1(req):
    receipt = core.assemble_l1_from_parts(
        key(req["operator_seed_hex"]),
        req["content"].encode(),
        req["record"].encode(),
        req["approver_pubkey_b64"],
        req["co_sig_b64"],
    )
    return {"receipt": bytes(receipt).decode()}


def op_quorum_cosign_payload(req):
    payload = core.quorum_cosign_payload(
        req["content"].encode(), req["threshold"], json.dumps(req["roster"]).encode(), req["record"].encode()
    )
    return {"payload_b64": b64(payload)}


def op_assemble_quorum(req):
    receipt = core.assemble_quorum_from_parts(
        key(req["operator_seed_hex"]),
        req["content"].encode(),
        req["threshold"],
        json.dumps(req["roster"]).encode(),
        json.dumps(req["parts"]).encode(),
    )
    return {"receipt": bytes(receipt).decode()}


def op_policy_eval(req):
    """evaluate_policy_batch, with a refused policy as an answer, not an error."""
    try:
        results = core.evaluate_policy_batch(req["toml"], json.dumps(req["actions"]))
    except (core.HesoPolicyParseError, core.HesoPolicyFloorBypass) as e:
        return {"refused": type(e).__name__, "message": str(e)}
    return {"results": results}


def op_verify_token(req):
    result = core.verify_approval_token(
        unb64(req["token_b64"]),
        unb64(req["canonical_b64"]),
        req["now"],
        [unb64(n) for n in req["seen_nonces_b64"]],
        req["scope"],
        req["decision"],
        req["registered_keys_b64"],
    )
    return {"decision": result["decision"], "scope": result["scope"]}


def op_public_key(req):
    return {"public_key_b64": key(req["seed_hex"]).public_key_b64()}


OPS = {
    "canon": op_canon,
    "verify": op_verify,
    "sign": op_sign,
    "cosign_payload": op_cosign_payload,
    "assemble_l1": op_assemble_l1,
    "quorum_cosign_payload": op_quorum_cosign_payload,
    "assemble_quorum": op_assemble_quorum,
    "policy_eval": op_policy_eval,
    "verify_token": op_verify_token,
    "public_key": op_public_key,
}


if __name__ == "__main__":
    serve(OPS)
