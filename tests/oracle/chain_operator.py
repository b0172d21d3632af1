"""The vendor package `heso==0.5.1` as the writer and judge of session chains.

Reads one JSON request per line on stdin, answers one JSON line on stdout:
{"ok": true, ...} or {"ok": false, "error": "<type>: <message>"}.

Ops:
  init {dir}                 heso init DIR, in a throwaway project
  session {session_id, amount, payee, on_timeout, steps}
                             `@heso.gated` parks a payment, then each step in order:
                             a decision kind (`append_decision`), `sweep` (`process_sweep`
                             long after the deadline) or `fire` (the call again); answers
                             the session's chain file, one receipt per link
  verify_chain {chain}       heso._core.verify_session_chain (the chain as JSON text)
  link_hash {content}        heso._core.link_hash (content JSON text)
"""

import glob
import json
import os
import subprocess
import sys

os.environ["HESO_ALLOW_INSECURE_LOCAL_DECISION_KEY"] = "1"

import heso  # noqa: E402
import heso._core as core  # noqa: E402

from jsonlines import serve  # noqa: E402

STATE = {}
LONG_AFTER = "2099-01-01T00:00:00Z"


def op_init(req):
    root = req["dir"]
    heso_cli = os.path.join(os.path.dirname(sys.executable), "heso")
    subprocess.run([heso_cli, "init", root], check=True, capture_output=True)
    heso.init(project_root=root)
    STATE["root"] = root
    return {}


def gated(on_timeout):
    """A gated payment tool; one per timeout rule, made once."""
    tools = STATE.setdefault("tools", {})
    if on_timeout not in tools:

        @heso.gated(sla="30m", on_timeout=on_timeout)
        def pay(amount, payee):
            return "paid"

        tools[on_timeout] = pay
    return tools[on_timeout]


def chain_of(session_id):
    for path in glob.glob(os.path.join(STATE["root"], "heso-local-data", "chains", "*.jsonl")):
        links = [json.loads(line) for line in open(path, encoding="utf-8")]
        if links and links[0]["content"].get("session_id") == session_id:
            return links
    raise KeyError(f"no chain for session {session_id!r}")


def op_session(req):
    session, root = req["session_id"], STATE["root"]
    pay = gated(req["on_timeout"])
    call = {"amount": req["amount"], "payee": req["payee"], "_heso_session": session}
    pay(**call)
    for step in req["steps"]:
        if step == "sweep":
            core.process_sweep(root, session, LONG_AFTER)
        elif step == "fire":
            pay(**call)
        else:
            heso.append_decision(session, step, reason=f"{step} by the test")
    return {"chain": chain_of(session)}


def op_verify_chain(req):
    return {"verdict": core.verify_session_chain(req["chain"].encode())}


def op_link_hash(req):
    return {"link_hash": core.link_hash(req["content"].encode())}


OPS = {
    "init": op_init,
    "session": op_session,
    "verify_chain": op_verify_chain,
    "link_hash": op_link_hash,
}


if __name__ == "__main__":
    serve(OPS)
