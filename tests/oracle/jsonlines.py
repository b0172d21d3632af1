"""The JSON-lines loop the test helpers share: one request per line on stdin,
one answer per line on stdout, {"ok": true, ...} or {"ok": false, "error": ...}."""

import json
import sys


def serve(ops):
    for line in sys.stdin:
        req = json.loads(line)
        try:
            answer = {"ok": True, **ops[req["op"]](req)}
        except Exception as exc:  # the vendor's refusal is the answer
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
