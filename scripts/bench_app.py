"""Measures the desktop app: release binary size, cold start to first paint,
idle memory with 100 pending approvals (summed over the app and its WebKit
processes), and the queue render with 10,000 pending approvals.

Run through scripts/bench-app.sh (it builds, and provides Xvfb and a Secret
Service). Every figure comes from this run."""

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP = os.path.join(ROOT, "target/release/heso-approver-app")
CLI = os.path.join(ROOT, "target/release/heso-approver")
PLANE = os.path.join(ROOT, "target/release/heso-control-plane")
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def control_plane(initial):
    """A demo control plane with `initial` pending approvals; returns (process, url, code)."""
    port = free_port()
    proc = subprocess.Popen(
        [PLANE, "serve", "--demo", "--print-secrets", "--demo-initial", str(initial), "--demo-interval", "86400",
         "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    url = code = None
    for line in proc.stdout:
        if "control plane at" in line:
            url = line.split(" at ")[1].strip()
        if "enrolment code:" in line:
            code = line.split(":", 1)[1].strip()
            break
    return proc, url, code


def enrolled_home(url, code):
    home = tempfile.mkdtemp(prefix="heso-bench-")
    subprocess.run([CLI, "enroll", "--url", url, "--code", code], env={**os.environ, "HESO_APPROVER_HOME": home},
                   check=True, stdout=subprocess.DEVNULL)
    return home


def descendants(pid):
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    children = {}
    for line in out.split("\n"):
        if line.strip():
            p, pp = map(int, line.split())
            children.setdefault(pp, []).append(p)
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def memory_kb(pid, field):
    try:
        with open(f"/proc/{pid}/{'status' if field == 'VmRSS' else 'smaps_rollup'}") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def process_name(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def launch(home):
    """Starts the app; returns (process, wall ms to first paint, the app's own figure)."""
    start = time.monotonic()
    proc = subprocess.Popen([APP], env={**os.environ, "HESO_APPROVER_HOME": home},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        m = re.search(r"first paint (\d+) ms", line)
        if m:
            return proc, (time.monotonic() - start) * 1000, int(m.group(1))
    raise RuntimeError("the app exited before its first paint")


def stop(proc):
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()


def cold_starts(home, runs=5):
    walls, owns = [], []
    for _ in range(runs):
        proc, wall, own = launch(home)
        walls.append(wall)
        owns.append(own)
        stop(proc)
        time.sleep(1)
    return statistics.median(walls), statistics.median(owns), max(walls)


class WebDriver:
    def __init__(self, app, env):
        self.port = free_port()
        driver = os.environ.get("TAURI_DRIVER", os.path.expanduser("~/.cargo/bin/tauri-driver"))
        self.proc = subprocess.Popen([driver, "--port", str(self.port), "--native-port", str(free_port())],
                                     env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        caps = {"capabilities": {"alwaysMatch": {"tauri:options": {"application": app}}}}
        for _ in range(100):
            try:
                self.session = self.call("POST", "/session", caps, session=False)["sessionId"]
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("tauri-driver did not start")

    def call(self, method, path, body=None, session=True):
        url = self.base + (f"/session/{self.session}" if session else "") + path
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as r:
            return json.loads(r.read())["value"]

    def script(self, js):
        return self.call("POST", "/execute/sync", {"script": js, "args": []})

    def close(self):
        try:
            self.call("DELETE", "")
        finally:
            self.proc.terminate()


def main():
    results = {}
    size = os.path.getsize(APP)
    results["release binary"] = f"{size / 1e6:.1f} MB ({size} bytes)"

    empty = tempfile.mkdtemp(prefix="heso-bench-")
    median, own, worst = cold_starts(empty)
    results["cold start to first paint, first-run screen (median of 5)"] = f"{median:.0f} ms (app's own clock {own} ms, worst {worst:.0f} ms)"

    plane, url, code = control_plane(100)
    home = enrolled_home(url, code)
    median, own, worst = cold_starts(home)
    results["cold start to first paint, enrolled, 100 pending (median of 5)"] = f"{median:.0f} ms (app's own clock {own} ms, worst {worst:.0f} ms)"

    proc, _, _ = launch(home)
    time.sleep(20)
    pids = descendants(proc.pid)
    rss = {p: memory_kb(p, "VmRSS") for p in pids}
    pss = {p: memory_kb(p, "Pss") for p in pids}
    parts = ", ".join(f"{process_name(p)} {rss[p] / 1024:.0f}" for p in pids if rss[p])
    results["idle RSS, 100 pending, after 20 s (sum)"] = f"{sum(rss.values()) / 1024:.0f} MB ({parts})"
    results["idle PSS, same processes (sum)"] = f"{sum(pss.values()) / 1024:.0f} MB"
    stop(proc)
    plane.terminate()

    plane, url, code = control_plane(10_000)
    home = enrolled_home(url, code)
    ui = WebDriver(APP, {"HESO_APPROVER_HOME": home})
    try:
        deadline = time.monotonic() + 180
        data = {}
        while time.monotonic() < deadline:
            data = ui.script("const l = document.querySelector('[data-testid=queue-list]');"
                             "return l ? Object.assign({}, l.dataset) : {};")
            if data.get("rows") == "10000" and data.get("updateMs"):
                break
            time.sleep(0.5)
        results["queue with 10,000 pending: take in + draw (update)"] = f"{data.get('updateMs')} ms"
        results["queue with 10,000 pending: app send -> window handler (IPC)"] = f"{data.get('deliveryMs')} ms"
        timing = ui.script(
            "const l = document.querySelector('[data-testid=queue-list]');"
            "const f = document.querySelector('[data-testid=filter-text]');"
            "const t = [];"
            "for (const q of ['globex', '', 'acct_103', '']) {"
            "  const t0 = performance.now(); f.value = q; f.dispatchEvent(new Event('input'));"
            "  t.push(performance.now() - t0); }"
            "const s0 = performance.now(); l.scrollTop = 400000; l.dispatchEvent(new Event('scroll'));"
            "t.push(performance.now() - s0); return t;")
        results["queue with 10,000 pending: filter / clear / filter / clear / scroll"] = " / ".join(f"{x:.1f}" for x in timing) + " ms"
    finally:
        ui.close()
        plane.terminate()

    width = max(map(len, results))
    for name, value in results.items():
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    sys.exit(main())
