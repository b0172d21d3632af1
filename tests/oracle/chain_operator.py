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
  append {session_id, link}  appends a decision link made elsewhere (the approver's
                             device) to the session's chain file, as the operator
                             does with one relayed to it
  fire {session_id, on_timeout}
                             the gated call again: {"result": "paid"} when it fires, the
                             package's answer otherwise ("heso.SUSPENDED", "heso.DENIED"),
                             or {"refused": "<type>: <message>"} when it raises
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


def chain_file(session_id):
    for path in glob.glob(os.path.join(STATE["root"], "heso-local-data", "chains", "*.jsonl")):
        with open(path, encoding="utf-8") as f:
            first = f.readline()
        if first and json.loads(first)["content"].get("session_id") == session_id:
            return path
    raise KeyError(f"no chain for session {session_id!r}")


def chain_of(session_id):
    with open(chain_file(session_id), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def op_session(req):
    session, root = req["session_id"], STATE["root"]
    pay = gated(req["on_timeout"])
    call = {"amount": req["amount"], "payee": req["payee"], "_heso_session": session}
    STATE.setdefault("calls", {})[session] = call
    pay(**call)
    for step in req["steps"]:
        if step == "sweep":
            core.process_sweep(root, session, LONG_AFTER)
        elif step == "fire":
            pay(**call)
        else:
            heso.append_decision(session, step, reason=f"{step} by the test")
    return {"chain": chain_of(session)}


def op_append(req):
    with open(chain_file(req["session_id"]), "a", encoding="utf-8") as f:
        f.write(json.dumps(req["link"], separators=(",", ":")) + "\n")
    return {"chain": chain_of(req["session_id"])}


def op_fire(req):
    pay = gated(req.get("on_timeout", "deny"))
    STATE.setdefault("calls", {})
    call = STATE["calls"].get(req["session_id"])
    try:
        result = pay(**call)
    except Exception as e:  # the package's refusal, in its words
        return {"refused": f"{type(e).__name__}: {e}", "chain": chain_of(req["session_id"])}
    # The package answers a call it does not run with a sentinel.
    shown = result if isinstance(result, str) else repr(result)
    return {"result": shown, "chain": chain_of(req["session_id"])}


def op_verify_chain(req):
    return {"verdict": core.verify_session_chain(req["chain"].encode())}


def op_link_hash(req):
    return {"link_hash": core.link_hash(req["content"].encode())}


OPS = {
    "init": op_init,
    "session": op_session,
    "append": op_append,
    "fire": op_fire,
    "verify_chain": op_verify_chain,
    "link_hash": op_link_hash,
}


if __name__ == "__main__":
    serve(OPS)
