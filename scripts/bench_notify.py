"""Latency from the vendor SDK's `open_approval` returning to the app's
`Notify` call on the session bus (as dbus-monitor timestamps it), one
approval at a time, each notification dismissed before the next so every
approval gets its own. Prints n, p50, p99 and the worst.

Run through scripts/bench-notify.sh (it builds, and provides Xvfb, the
Secret Service and the venv with the vendor package)."""

import json
import os
import re
import statistics
import subprocess
import sys
import socket
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "oracle"))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import sdk_operator as sdk  # noqa: E402
from bench_app import AGENT, CLI, PLANE, free_port, stop  # noqa: E402


def name_has_owner(name):
    out = subprocess.run(["dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus",
                          "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner", f"string:{name}"],
                         capture_output=True, text=True).stdout
    return "boolean true" in out


def wait(what, done, timeout=30):
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.01)


def notify_times(log_path):
    """(wall time, summary) of each Notify call in dbus-monitor's log."""
    with open(log_path) as f:
        lines = f.read().split("\n")
    found = []
    for i, line in enumerate(lines):
        if line.startswith("method call") and "member=Notify" in line:
            at = float(re.search(r"time=([0-9.]+)", line).group(1))
            strings = [l for l in lines[i + 1:i + 6] if l.startswith('   string "')]
            summary = strings[2][len('   string "'):-1] if len(strings) > 2 else ""
            found.append((at, summary))
    return found


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    scratch = tempfile.mkdtemp(prefix="heso-bench-notify-")
    with open(os.path.join(scratch, "dunstrc"), "w") as f:
        f.write("[global]\n")
    dunst = subprocess.Popen(["dunst", "-config", os.path.join(scratch, "dunstrc")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait("dunst", lambda: name_has_owner("org.freedesktop.Notifications"))
    log_path = os.path.join(scratch, "bus.log")
    monitor = subprocess.Popen(["dbus-monitor", "--session", "interface='org.freedesktop.Notifications'"],
                               stdout=open(log_path, "w"), stderr=subprocess.DEVNULL)
    wait("dbus-monitor", lambda: os.path.getsize(log_path) > 0)

    # The vendor SDK as operator; its org on a control plane; this device enrolled.
    project = os.path.join(scratch, "project")
    operator_key = sdk.op_init({"dir": project})["operator_public_key"]
    db = os.path.join(scratch, "plane.db")
    org = json.loads(subprocess.run([PLANE, "org", "create", "--db", db, "--name", "bench",
                                     "--operator-key", operator_key, "--json"],
                                    check=True, capture_output=True, text=True).stdout)
    code = json.loads(subprocess.run([PLANE, "enroll", "--db", db, "--org", "bench", "--label", "bench", "--json"],
                                     check=True, capture_output=True, text=True).stdout)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    plane = subprocess.Popen([PLANE, "serve", "--db", db, "--listen", f"127.0.0.1:{port}"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    def listening():
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0
    wait("the control plane", listening)
    sdk.op_configure({"endpoint": url, "api_key": org["api_key"]})
    home = os.path.join(scratch, "approver")
    env = {**os.environ, "HESO_APPROVER_HOME": home}
    subprocess.run([CLI, "enroll", "--url", url, "--code", code["code"]], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    # The background agent alone: the window closed, as most of the day.
    app = subprocess.Popen([AGENT], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    # Keep reading what it says, so it never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in app.stderr], daemon=True).start()
    wait("the agent", lambda: os.path.exists(os.path.join(home, "agent.sock")))
    time.sleep(2)

    latencies = []
    try:
        for i in range(count):
            payee = f"Bench Payee {i:03}"
            # A workflow each: the per-workflow notification budget (flood
            # protection) is not what this measures.
            sdk.op_suspend({"verb": "payment", "tool_name": "stripe.transfers.create",
                            "target_host": "api.stripe.com", "workflow": f"bench-{i}",
                            "fields": {"amount": 2000 + i, "currency": "USD", "payee": payee}})
            opened = time.time()
            shown = []
            wait(f"the notification for {payee}",
                 lambda: shown.extend(t for t, s in notify_times(log_path) if payee in s) or shown)
            latencies.append((shown[0] - opened) * 1000)
            subprocess.run(["dunstctl", "close-all"], check=True)
            time.sleep(0.2)
    finally:
        stop(app)
        plane.terminate()
        monitor.terminate()
        dunst.terminate()

    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    print(f"approvals                                     {len(latencies)}")
    print(f"open_approval returned -> Notify, p50         {statistics.median(latencies):.0f} ms")
    print(f"open_approval returned -> Notify, p99         {p99:.0f} ms")
    print(f"open_approval returned -> Notify, worst       {latencies[-1]:.0f} ms")
    # Negative would mean the Notify came before open_approval returned.
    print(f"open_approval returned -> Notify, best        {latencies[0]:.0f} ms")


if __name__ == "__main__":
    sys.exit(main())
