#!/usr/bin/python3 -I
"""Part of scripts/with-signer.sh: the harness's root process.

It starts the signer (as its system user) and answers, on a Unix socket that
only root and the desktop user can reach, one request per connection (a line):

  agent right|wrong SECONDS stream|quiet
                      register a polkit text agent (pkttyagent in a PTY) for
                      the very process that connected (SO_PEERCRED), answer
                      each of its password prompts, SECONDS after it appears,
                      with the desktop user's password (or a wrong one),
                      stream what the agent shows back on the connection
                      (framed, acknowledged by the client), and end the agent
                      when that process exits. Only the desktop user's
                      processes get one.
  pid                 "ok PID" or "ok none"
  start | restart     start the signer (restart: stop it first), wait until it
                      owns its bus name: "ok PID"
  stop                "ok" once it is gone (TERM, then KILL after 5 s)
  kill [SIGNAL]       send SIGNAL (default KILL), wait up to 5 s: "ok <how it ended>"
  log                 "ok", then the signer's stderr so far

Errors are "error MESSAGE". It runs in a mount namespace where the private
bus's directory is bound over /run/dbus, because polkit-agent-helper-1 (which
pkttyagent runs to check the password) clears its environment and connects to
/run/dbus/system_bus_socket whatever DBUS_SYSTEM_BUS_ADDRESS says.
The password is read from a root-only file and only ever written into the
agent's PTY (the agent turns echo off first, and we wait for that).
"""
import argparse
import os
import pty
import pwd
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import time

SIGNER_NAME = "org.heso.Approver.Signer1"
ANSI = re.compile(rb"\x1b\[[0-9;]*[A-Za-z]")
PROMPT = re.compile(rb"Password:\s*$")
WRONG_PASSWORD = b"not-the-password"
stopping = threading.Event()


def note(message):
    print(f"ctl-server: {message}", file=sys.stderr, flush=True)


def describe(returncode):
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with status {returncode}"


def start_time_of(pid):
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return int(fields[19])  # field 22 of stat(5); fields here start at field 3


def bus_call(address, method, *args):
    result = subprocess.run(
        ["dbus-send", f"--bus={address}", "--print-reply=literal", "--dest=org.freedesktop.DBus",
         "/org/freedesktop/DBus", f"org.freedesktop.DBus.{method}", *args],
        capture_output=True, text=True, timeout=10)
    return result.stdout if result.returncode == 0 else None


class Signer:
    def __init__(self, args):
        self.bin = args.signer_bin
        self.user = pwd.getpwnam(args.signer_user)
        self.state_dir = args.state_dir
        self.bus = args.bus_address
        self.timeout = args.timeout
        self.log_path = os.path.join(args.log_dir, "signer.log")
        self.proc = None
        self.starts = 0
        self.lock = threading.Lock()

    def pid(self):
        if self.proc is not None and self.proc.poll() is None:
            return self.proc.pid
        return None

    def _owner_pid(self):
        out = bus_call(self.bus, "GetConnectionUnixProcessID", f"string:{SIGNER_NAME}")
        match = re.search(r"uint32 (\d+)", out or "")
        return int(match.group(1)) if match else None

    def start(self):
        """(True, pid) once the signer owns its name, or (False, why)."""
        if self.bin == "none":
            return False, "no signer in this run (HESO_SIGNER_BIN=none)"
        if self.pid() is not None:
            return True, str(self.pid())
        self.starts += 1
        env = {"DBUS_SYSTEM_BUS_ADDRESS": self.bus, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        for key in ("RUST_LOG", "RUST_BACKTRACE"):
            if key in os.environ:
                env[key] = os.environ[key]
        with open(self.log_path, "ab") as log:
            log.write(f"==== with-signer.sh: signer start #{self.starts} ====\n".encode())
            log.flush()
            offset = log.tell()
            self.proc = subprocess.Popen(
                [self.bin, "--state-dir", self.state_dir], env=env, cwd="/",
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                user=self.user.pw_uid, group=self.user.pw_gid, extra_groups=[],
                umask=0o077, process_group=0)
        deadline = time.monotonic() + self.timeout
        while True:
            if self.proc.poll() is not None:
                return False, (f"the signer {describe(self.proc.returncode)} before owning "
                               f"{SIGNER_NAME}; its stderr:\n{self._log_from(offset)}")
            if self._owner_pid() == self.proc.pid:
                return True, str(self.proc.pid)
            if time.monotonic() > deadline:
                self._stop()
                return False, (f"the signer did not own {SIGNER_NAME} within {self.timeout}s; "
                               f"its stderr:\n{self._log_from(offset)}")
            time.sleep(0.05)

    def _log_from(self, offset):
        with open(self.log_path, "rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def _stop(self):
        if self.pid() is None:
            return "not running"
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return describe(self.proc.returncode)

    def kill(self, signum):
        pid = self.pid()
        if pid is None:
            return False, "the signer is not running"
        os.kill(pid, signum)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            return True, "still running 5 s after the signal"
        return True, describe(self.proc.returncode)

    def log(self):
        try:
            with open(self.log_path, "rb") as log:
                return log.read()
        except FileNotFoundError:
            return b""

    def request(self, words):
        with self.lock:
            if words[0] == "pid":
                return True, str(self.pid() or "none")
            if words[0] == "start":
                return self.start()
            if words[0] == "restart":
                if self.bin == "none":
                    return self.start()
                self._stop()
                return self.start()
            if words[0] == "stop":
                return True, self._stop()
            if words[0] == "kill":
                name = (words[1] if len(words) > 1 else "KILL").upper()
                try:
                    signum = int(name) if name.isdigit() else signal.Signals[
                        name if name.startswith("SIG") else "SIG" + name]
                except (KeyError, ValueError):
                    return False, f"unknown signal {name}"
                return self.kill(signum)
        return False, f"unknown request {' '.join(words)}"


class Agents:
    def __init__(self, args):
        self.bus = args.bus_address
        self.log_dir = args.log_dir
        with open(args.password_file, "rb") as f:
            self.password = f.read().strip()
        self.children = set()
        self.lock = threading.Lock()

    def serve(self, conn, pid, wrong, delay, stream):
        """Register an agent for pid, answer its prompts until pid exits."""
        try:
            pidfd = os.pidfd_open(pid)
            start_time = start_time_of(pid)
        except OSError as e:
            send(conn, f"error process {pid} is gone: {e}")
            return
        notify_r, notify_w = os.pipe()
        child, master = pty.fork()
        if child == 0:
            try:
                os.close(notify_r)
                os.set_inheritable(notify_w, True)
                env = {"DBUS_SYSTEM_BUS_ADDRESS": self.bus, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                       "LANG": "C.UTF-8", "TERM": "dumb"}
                os.execve("/usr/bin/pkttyagent",
                          ["pkttyagent", "--process", f"{pid},{start_time}",
                           "--notify-fd", str(notify_w)], env)
            finally:
                os._exit(127)
        os.close(notify_w)
        with self.lock:
            self.children.add(child)
        log_path = os.path.join(self.log_dir, f"agent-{pid}.log")
        transcript = open(log_path, "ab")
        transcript.write(f"==== agent for pid {pid} ({'wrong' if wrong else 'right'} password"
                         f"{f', after {delay:g} s' if delay else ''}) ====\n".encode())
        # What the agent shows goes to the person's copier in frames (4-byte
        # length, data); the copier acknowledges each frame once written, and
        # a prompt is answered only once its text is acknowledged, so a
        # transcript file holds the prompt by the time CMD can have finished.
        conn_ok = stream
        frames_sent = frames_acked = 0

        def show(data):
            nonlocal conn_ok, frames_sent
            data = ANSI.sub(b"", data).replace(b"\r\n", b"\n")
            if not data:
                return
            transcript.write(data)
            transcript.flush()
            if conn_ok:
                try:
                    conn.sendall(struct.pack(">I", len(data)) + data)
                    frames_sent += 1
                except OSError:
                    conn_ok = False

        def read_acks(timeout):
            nonlocal conn_ok, frames_acked
            ready, _, _ = select.select([conn], [], [], max(timeout, 0))
            if ready:
                try:
                    got = conn.recv(4096)
                except OSError:
                    got = b""
                if not got:
                    conn_ok = False
                frames_acked += len(got)

        def wait_for_acks():
            deadline = time.monotonic() + 2
            while conn_ok and frames_acked < frames_sent and time.monotonic() < deadline:
                read_acks(deadline - time.monotonic())

        def read_master():
            try:
                return os.read(master, 4096)
            except OSError:
                return b""

        try:
            # Registered once pkttyagent closes the notify fd (or it exited).
            early = b""
            deadline = time.monotonic() + 10
            while True:
                ready, _, _ = select.select([notify_r, master], [], [], 0.5)
                if master in ready:
                    early += read_master()
                if notify_r in ready and os.read(notify_r, 1) == b"":
                    break
                if time.monotonic() > deadline:
                    send(conn, "error pkttyagent did not register within 10 s: "
                         + ANSI.sub(b"", early).decode(errors="replace").strip())
                    return
            for _ in range(6):
                if os.waitpid(child, os.WNOHANG) != (0, 0):
                    with self.lock:
                        self.children.discard(child)
                    child_gone = True
                    break
                time.sleep(0.05)
            else:
                child_gone = False
            if child_gone:
                while True:
                    ready, _, _ = select.select([master], [], [], 0.1)
                    data = read_master() if ready else b""
                    if not data:
                        break
                    early += data
                send(conn, "error pkttyagent did not register: "
                     + ANSI.sub(b"", early).decode(errors="replace").strip())
                return
            if not send(conn, "ok"):
                return
            if early:
                show(early)
            tail = b""
            prompts = 0
            answer_at = None
            while not stopping.is_set():
                timeout = 0.5 if answer_at is None else min(0.5, max(0, answer_at - time.monotonic()))
                watch = [master, pidfd] + ([conn] if conn_ok else [])
                ready, _, _ = select.select(watch, [], [], timeout)
                if conn in ready:
                    read_acks(0)
                if master in ready:
                    data = read_master()
                    if not data:
                        break  # the agent is gone
                    show(data)
                    tail = (tail + ANSI.sub(b"", data))[-200:]
                    if PROMPT.search(tail):
                        tail = b""
                        answer_at = time.monotonic() + delay
                if answer_at is not None and time.monotonic() >= answer_at:
                    answer_at = None
                    wait_for_acks()
                    self._answer(master, WRONG_PASSWORD if wrong else self.password)
                    prompts += 1
                if pidfd in ready:
                    # The process is gone: show what is left, then end the agent.
                    while True:
                        more, _, _ = select.select([master], [], [], 0.1)
                        data = read_master() if more else b""
                        if not data:
                            break
                        show(data)
                    break
            transcript.write(f"==== agent for pid {pid}: {prompts} prompt(s) answered ====\n".encode())
        finally:
            self._end(child)
            os.close(master)
            os.close(notify_r)
            os.close(pidfd)
            transcript.close()

    @staticmethod
    def _answer(master, secret):
        # The agent turns echo off after printing the prompt, flushing input
        # (TCSAFLUSH): write only once echo is off.
        deadline = time.monotonic() + 5
        while termios.tcgetattr(master)[3] & termios.ECHO and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.02)
        os.write(master, secret + b"\n")

    def _end(self, child):
        with self.lock:
            if child not in self.children:
                return
            self.children.discard(child)
        try:
            os.kill(child, signal.SIGTERM)
        except ProcessLookupError:
            pass
        for _ in range(40):
            if os.waitpid(child, os.WNOHANG) != (0, 0):
                return
            time.sleep(0.05)
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)

    def end_all(self):
        for child in list(self.children):
            self._end(child)


def valid_delay(text):
    try:
        return 0 <= float(text) <= 3600
    except ValueError:
        return False


def send(conn, line):
    try:
        conn.sendall(line.encode() + b"\n")
        return True
    except OSError:
        return False


def read_line(conn):
    conn.settimeout(10)
    data = b""
    while not data.endswith(b"\n") and len(data) < 512:
        chunk = conn.recv(512)
        if not chunk:
            break
        data += chunk
    conn.settimeout(None)
    return data.decode(errors="replace").strip()


def handle(conn, args, signer, agents, person_uid):
    try:
        pid, uid, _gid = struct.unpack("3i", conn.getsockopt(
            socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
        if uid not in (0, person_uid):
            send(conn, "error not for you")
            return
        words = read_line(conn).split()
        if not words:
            send(conn, "error empty request")
        elif words[0] == "agent":
            if uid != person_uid:
                send(conn, "error only the desktop user's processes get an agent")
            elif (len(words) != 4 or words[1] not in ("right", "wrong")
                  or words[3] not in ("stream", "quiet") or not valid_delay(words[2])):
                send(conn, "error usage: agent right|wrong SECONDS stream|quiet")
            else:
                agents.serve(conn, pid, words[1] == "wrong", float(words[2]), words[3] == "stream")
        elif words[0] == "log":
            if send(conn, "ok"):
                conn.sendall(signer.log())
        else:
            ok, message = signer.request(words)
            send(conn, ("ok " if ok else "error ") + message)
    except Exception as e:  # one bad connection must not end the harness
        note(f"request failed: {e!r}")
        send(conn, f"error {e}")
    finally:
        conn.close()


def main():
    parser = argparse.ArgumentParser()
    for option in ("socket", "ready", "person", "password-file", "bus-address", "log-dir",
                   "signer-bin", "signer-user", "state-dir"):
        parser.add_argument("--" + option, required=True)
    parser.add_argument("--timeout", type=float, default=10)
    args = parser.parse_args()
    person = pwd.getpwnam(args.person)
    signer = Signer(args)
    agents = Agents(args)

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(args.socket)
    os.chown(args.socket, 0, person.pw_gid)
    os.chmod(args.socket, 0o660)
    listener.listen(16)

    def on_signal(_signum, _frame):
        stopping.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    if args.signer_bin == "none":
        ready = "ready none"
    else:
        ok, message = signer.start()
        if ok:
            ready = f"ready {message}"
        else:
            note(message)
            ready = "error " + message.splitlines()[0]
    with open(args.ready, "w") as f:
        f.write(ready + "\n")
    if not ready.startswith("ready"):
        return 1

    listener.settimeout(0.5)
    while not stopping.is_set():
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            continue
        except InterruptedError:
            continue
        conn.settimeout(None)
        threading.Thread(target=handle, args=(conn, args, signer, agents, person.pw_uid),
                         daemon=True).start()
    listener.close()
    agents.end_all()
    with signer.lock:
        signer._stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
