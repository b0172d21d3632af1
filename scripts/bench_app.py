"""Measures the desktop app: release binary sizes, cold start to first paint,
memory with 100 pending approvals with the window open and closed (PSS summed
over every process running with this approver's home in its environment: the
agent, the window and WebKit's processes), idle CPU with the window closed,
from "open this item" (what the tray and a notification's Open send the
agent) to the item painted in a fresh window, and the queue render with
10,000 pending approvals.

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
AGENT = os.path.join(ROOT, "target/release/heso-approver-agent")
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


def memory_kb(pid, field):
    try:
        with open(f"/proc/{pid}/{'status' if field == 'VmRSS' else 'smaps_rollup'}") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def processes_of(home):
    """Every process whose environment names this approver home: found by
    environment, not by name or parentage (the agent outlives the window)."""
    marker = f"HESO_APPROVER_HOME={home}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if marker in f.read().split(b"\0"):
                        found.append(int(entry))
            except OSError:
                pass
    return found


def program(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return os.path.basename(f.read().split(b"\0")[0].decode())
    except OSError:
        return "?"


def memory_of(home):
    """(PSS MB summed, RSS MB summed, "program PSS" parts) over the home's processes."""
    pids = processes_of(home)
    pss = {p: memory_kb(p, "Pss") for p in pids}
    rss = {p: memory_kb(p, "VmRSS") for p in pids}
    parts = ", ".join(f"{program(p)} {pss[p] / 1024:.1f}" for p in pids if pss[p])
    return sum(pss.values()) / 1024, sum(rss.values()) / 1024, parts


def cpu_ticks(home):
    total = 0
    for pid in processes_of(home):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total


def ask_agent(home, request):
    import socket
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(os.path.join(home, "agent.sock"))
        s.sendall(json.dumps(request).encode() + b"\n")
        return json.loads(s.makefile().readline())


def start_agent(home):
    """The background agent alone, its output (and that of the windows it
    starts) readable line by line from a queue."""
    import queue
    import threading
    proc = subprocess.Popen([AGENT], env={**os.environ, "HESO_APPROVER_HOME": home},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stderr], daemon=True).start()
    for _ in range(200):
        if os.path.exists(os.path.join(home, "agent.sock")):
            break
        time.sleep(0.05)
    return proc, lines


def windows_of(home):
    return [p for p in processes_of(home) if program(p) == "heso-approver-app"]


def open_to_painted(home, lines, hash_, runs=20):
    """From "open this item" sent to the agent to the item painted in the
    window it starts (cold each time: the window is closed in between)."""
    import queue
    times = []
    for _ in range(runs):
        while not lines.empty():
            lines.get_nowait()
        start = time.monotonic()
        ask_agent(home, {"request": "open", "item": hash_})
        deadline = start + 30
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=deadline - time.monotonic())
            except queue.Empty:
                break
            if f"item {hash_} painted" in line:
                times.append((time.monotonic() - start) * 1000)
                break
        for pid in windows_of(home):
            os.kill(pid, 15)
        time.sleep(1.5)
    times.sort()
    return times


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
    for name, path in [("window", APP), ("agent", AGENT)]:
        size = os.path.getsize(path)
        results[f"release binary, {name}"] = f"{size / 1e6:.1f} MB ({size} bytes)"

    # The agent runs before each window starts, as after login: a window
    # started cold finds it running.
    empty = tempfile.mkdtemp(prefix="heso-bench-")
    empty_agent, _ = start_agent(empty)
    median, own, worst = cold_starts(empty)
    ask_agent(empty, {"request": "quit"})
    empty_agent.wait(10)
    results["cold start to first paint, first-run screen (median of 5)"] = f"{median:.0f} ms (app's own clock {own} ms, worst {worst:.0f} ms)"

    plane, url, code = control_plane(100)
    home = enrolled_home(url, code)
    agent, lines = start_agent(home)
    median, own, worst = cold_starts(home)
    results["cold start to first paint, enrolled, 100 pending (median of 5)"] = f"{median:.0f} ms (app's own clock {own} ms, worst {worst:.0f} ms)"

    proc, _, _ = launch(home)
    time.sleep(20)
    pss, rss, parts = memory_of(home)
    results["window open, idle, 100 pending: PSS / RSS (sum)"] = f"{pss:.0f} MB / {rss:.0f} MB ({parts})"
    stop(proc)
    time.sleep(10)
    pss, rss, parts = memory_of(home)
    results["window closed, agent only, notifications live: PSS / RSS (sum)"] = f"{pss:.1f} MB / {rss:.1f} MB ({parts})"
    ticks, t0 = cpu_ticks(home), time.monotonic()
    time.sleep(60)
    used = (cpu_ticks(home) - ticks) / os.sysconf("SC_CLK_TCK")
    results["idle CPU, window closed, over 60 s"] = f"{100 * used / (time.monotonic() - t0):.2f} % of one core"
    pending = json.loads(subprocess.run([CLI, "queue", "--json"], env={**os.environ, "HESO_APPROVER_HOME": home},
                                        capture_output=True, text=True, check=True).stdout)
    times = open_to_painted(home, lines, pending[0]["action_hash"])
    if times:
        p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
        results[f"open item (tray / notification Open) -> item painted, {len(times)} cold windows"] = (
            f"p50 {statistics.median(times):.0f} ms, p99 {p99:.0f} ms")
    else:
        results["open item -> item painted"] = "never painted"
    ask_agent(home, {"request": "quit"})
    agent.wait(10)
    plane.terminate()

    plane, url, code = control_plane(10_000)
    home = enrolled_home(url, code)
    agent, _ = start_agent(home)
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
        ask_agent(home, {"request": "quit"})
        agent.wait(10)
        plane.terminate()

    width = max(map(len, results))
    for name, value in results.items():
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    sys.exit(main())
