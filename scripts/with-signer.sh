#!/usr/bin/env bash
# Runs a command as a desktop user, with heso-approver-signer running as its
# own system user on a private system bus that has a real polkitd on it: the
# whole Linux signer set-up, with nothing of the machine's own buses touched.
# Run as root (Debian 12; ./scripts/install-deps.sh test installs what it needs).
#
#   scripts/with-signer.sh CMD [ARGS...]
#
# For the length of CMD:
#   - users: system user heso-signer (the signer's) and heso-person (the
#     person at the desk: a normal user whose password is set anew, at random,
#     for each run) are made when missing, and left in place;
#   - packaging/signer/org.heso.approver.policy is installed in
#     /usr/share/polkit-1/actions (polkitd reads no other directory), and
#     removed, or what was there put back, at exit;
#   - a private system bus: dbus-daemon with a system-type configuration
#     (polkit's own and packaging/signer/org.heso.Approver.Signer1.conf) on a
#     socket of its own under a temporary directory;
#   - polkitd on it (it drops to user polkitd itself); no logind, so every
#     subject counts as "any" (hence auth_self for all three defaults);
#   - the signer, as heso-signer: $HESO_SIGNER_BIN (default
#     ${CARGO_TARGET_DIR:-<repo>/target}/debug/heso-approver-signer) with
#     --state-dir <tmp>/signer-state (0700 heso-signer), stderr to a log the
#     harness shows when the start or CMD fails (or HESO_SIGNER_HARNESS_VERBOSE=1);
#     the harness waits up to HESO_SIGNER_TIMEOUT seconds (10) for the bus name
#     org.heso.Approver.Signer1 to be owned by that very process.
#     Only RUST_LOG and RUST_BACKTRACE reach the signer's environment, besides
#     DBUS_SYSTEM_BUS_ADDRESS and PATH=/usr/sbin:/usr/bin:/sbin:/bin; umask 077.
#     HESO_SIGNER_BIN=none starts no signer: for checking the harness itself.
#   - CMD runs as heso-person in a private D-Bus session with an unlocked
#     throwaway GNOME Keyring (signer-harness/person-session: what
#     scripts/with-secret-service.sh does), with HOME, TMPDIR,
#     XDG_RUNTIME_DIR and XDG_DATA_HOME private (0700, fresh each run), in a
#     mount namespace of its own (below). The rest of the environment is
#     passed through (PATH, CARGO_TARGET_DIR, HESO_*, RUST_LOG, DISPLAY, ...).
#
# CMD's environment:
#   DBUS_SYSTEM_BUS_ADDRESS  the private system bus (also bound over /run/dbus
#                            in CMD's mount namespace, so a program that ignores
#                            the variable reaches the same bus)
#   HESO_SIGNER_PID          the signer's pid (empty with HESO_SIGNER_BIN=none);
#                            the desktop user cannot signal it: use kill-signer
#   HESO_SIGNER_CTL          the harness's control socket (used by the commands below)
#   HESO_SIGNER_PERSON       the desktop user's name (heso-person)
#   HESO_TEST_PRIVATE_SESSION=1 (as with-secret-service.sh sets it)
#   PATH                     prefixed with a directory holding:
#     person [--wrong-password] [--after SECONDS] [--transcript FILE | --quiet] [--] CMD [ARGS...]
#         the person at the desk: registers a polkit text agent (pkttyagent,
#         run by the harness as root, in a PTY) for this very process, then
#         execs CMD, so CMD keeps the pid the agent is registered for. Every
#         prompt for CMD (any number of them) is answered, SECONDS after it
#         appears (default 0; e.g. to kill the signer while the person is
#         asked), with the desktop user's password (a wrong one with
#         --wrong-password); the agent ends when CMD exits; person exits with
#         CMD's status. What the agent shows (the message, "Authenticating
#         as", the outcome; never the password, which the agent does not echo)
#         goes to stderr, or is appended to FILE, or nowhere. A prompt is
#         answered only once its text is in FILE (or written to stderr), so
#         FILE holds the prompt when CMD has finished; the lines after the
#         answer (AUTHENTICATION COMPLETE/FAILED) may land a moment later.
#         Without person nobody answers: polkit says "not authorized" at once
#         (pkcheck exits 2 "no agent"; CheckAuthorization gives
#         is_authorized=false, is_challenge=true).
#         Only the process that exec's CMD counts: a child CMD starts has its
#         own pid, so prefix the very process that calls the signer
#         (e.g. Command::new("person").args([cli, "approve", ...])).
#     restart-signer            stops the signer if it runs, starts it again,
#                               waits for its name, prints its new pid
#     kill-signer [SIGNAL]      sends SIGNAL (default KILL) to the signer and
#                               waits for it to exit; prints how it ended
#     signer-ctl pid|start|stop|restart|kill [SIGNAL]|log
#                               the same, plus the signer's pid ("none" when it
#                               is not running) and its stderr so far (log)
#   These talk to a small root process of the harness over HESO_SIGNER_CTL
#   (a Unix socket only root and heso-person can reach; the server checks the
#   peer's uid, and registers an agent only for the very pid that asked).
#
# The password stays out of the desktop user's reach: it lives in a root-only
# file and only the root agent process types it into the agent's PTY. The
# agent is registered for the person's process by root (polkit lets uid 0
# register an agent for another user's process). It has to be root for a
# second reason: polkit-agent-helper-1, which checks the password and reports
# to polkitd, clears its environment and always connects to
# /run/dbus/system_bus_socket; so the agent runs in a mount namespace where
# the private bus's directory is bound over /run/dbus.
#
# What CMD can reach as heso-person: the workspace and target/ (world-readable;
# binaries world-executable) but nothing writable there (use TMPDIR);
# /usr/bin/python3; not root's cargo or rustup (/root is 0700), so CMD is a
# prebuilt binary, not `cargo`. CMD's mount namespace puts a tmpfs over /root
# holding read-only binds of HESO_SIGNER_HARNESS_ROOT_BINDS (space-separated,
# default /root/.pyenv: the vendor venv /work/main/.venv-heso runs
# /root/.pyenv's python; empty for none). The current directory must be
# readable by heso-person (e.g. the repo). Compile-time paths such as
# CARGO_TARGET_TMPDIR (target/tmp) are root's: not writable. So cargo builds
# as root and the test binary runs under the harness: either a test re-runs
# itself inside (`scripts/with-signer.sh <test exe> NAME --exact`, when
# HESO_SIGNER_CTL is unset), or cargo uses the harness as its runner, one
# harness per test binary (not tried here: cargo was not run):
#   CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER=$PWD/scripts/with-signer.sh \
#     cargo test -p heso-approver-signer --test NAME
#
# Findings on this machine (Debian 12, polkitd 122, dbus 1.14.10, no logind):
#   - polkit.message IS honoured from a mechanism that is not root but is the
#     action's org.freedesktop.policykit.owner. Run as heso-signer
#     (runuser -u heso-signer -- gdbus call --system --dest
#     org.freedesktop.PolicyKit1 --object-path /org/freedesktop/PolicyKit1/Authority
#     --method org.freedesktop.PolicyKit1.Authority.CheckAuthorization SUBJECT
#     org.heso.approver.sign "{'polkit.message': 'Approve payment of 4,200 USD
#     to Globex LLC?'}" 1 ''), with SUBJECT ('system-bus-name', {'name':
#     <':1.6'>}) of a process under `person`, or ('unix-process', {'pid':
#     <uint32 PID>, 'start-time': <uint64 T>}), pkttyagent printed
#         ==== AUTHENTICATING FOR org.heso.approver.sign ====
#         Approve payment of 4,200 USD to Globex LLC?
#         Authenticating as: HESO Approver test person (heso-person)
#         Password:
#         ==== AUTHENTICATION COMPLETE ====
#     (the action's own <message> replaced; a "\n" in the message gives two
#     lines) and the call returned ((true, false, {'polkit.message': ...}),).
#     Wrong password: (false, false, ...) after PAM's ~2 s delay; no agent:
#     (false, true, ...) at once (is_challenge: "would need authentication").
#     Other details are not shown by pkttyagent, but polkit expands $(KEY) in
#     the message from the details: 'Approve $(amount) to $(payee)?' with
#     details amount, payee showed "Approve 4,200 USD to Globex LLC?" (an
#     unknown KEY stays literal). So a signer that puts text it did not write
#     into polkit.message should pass no other details (or neutralise "$(").
#     The same call for an action without the owner annotation
#     (org.freedesktop.hostname1.set-hostname) fails: "Only trusted callers
#     (e.g. uid 0 or an action owner) can use CheckAuthorization() and pass
#     details". (polkit 122 source, polkitbackendinteractiveauthority.c: uid 0
#     or an owner "may check anything and pass any details".)
#   - pkcheck --process PID --allow-user-interaction: 0 right password, 1 wrong
#     password, 2 no agent; auth_self caches nothing between calls (five votes
#     by one process: five prompts).
#   - polkit-agent-helper-1 ignores DBUS_SYSTEM_BUS_ADDRESS (see above).
#
# The signer's own tests (crates/signer/tests/person_at_the_desk.rs) run
# themselves inside this harness.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
harness="$repo/scripts/signer-harness"
signer_user=heso-signer
person=heso-person
policy_name=org.heso.approver.policy
policy_src="$repo/packaging/signer/$policy_name"
policy_dst="/usr/share/polkit-1/actions/$policy_name"
bus_policy="$repo/packaging/signer/org.heso.Approver.Signer1.conf"
polkitd=/usr/lib/polkit-1/polkitd
timeout_s=${HESO_SIGNER_TIMEOUT:-10}

die() { echo "with-signer.sh: $*" >&2; exit 69; }
[ $# -gt 0 ] || { echo "usage: scripts/with-signer.sh CMD [ARGS...]" >&2; exit 64; }
[ "$(id -u)" -eq 0 ] || die "must run as root (it makes users, installs a polkit action, runs polkitd)"
for tool in dbus-daemon dbus-run-session dbus-send gnome-keyring-daemon pkttyagent pkcheck runuser unshare flock chpasswd useradd pkill; do
  command -v "$tool" >/dev/null || die "$tool is missing: ./scripts/install-deps.sh test"
done
[ -x /usr/bin/python3 ] || die "/usr/bin/python3 is missing (the harness's helpers run on it)"
[ -x "$polkitd" ] || die "$polkitd is missing: ./scripts/install-deps.sh test (package polkitd)"
[ -u /usr/lib/polkit-1/polkit-agent-helper-1 ] ||
  die "/usr/lib/polkit-1/polkit-agent-helper-1 is missing or not setuid root (package polkitd)"

# One run at a time: runs share the users, the person's password and the
# installed polkit action.
exec 9>/run/lock/heso-approver-signer-harness.lock
flock -w 600 9 || die "another with-signer.sh run holds /run/lock/heso-approver-signer-harness.lock"

signer_bin=${HESO_SIGNER_BIN:-${CARGO_TARGET_DIR:-$repo/target}/debug/heso-approver-signer}
if [ "$signer_bin" != none ]; then
  case "$signer_bin" in /*) ;; *) signer_bin="$PWD/$signer_bin" ;; esac
  [ -f "$signer_bin" ] && [ -x "$signer_bin" ] ||
    die "no signer at $signer_bin: build it first (cargo build -p heso-approver-signer), or set HESO_SIGNER_BIN"
fi

# --- Users ------------------------------------------------------------------
if ! getent passwd "$signer_user" >/dev/null; then
  useradd --system --user-group --home-dir /var/lib/heso-approver-signer --no-create-home \
    --shell /usr/sbin/nologin --comment "HESO Approver signer" "$signer_user"
fi
if ! getent passwd "$person" >/dev/null; then
  useradd --user-group --create-home --shell /bin/bash --comment "HESO Approver test person" "$person"
fi
person_uid=$(id -u "$person")
person_gid=$(id -g "$person")
# A build under a directory closed to others (a clone under /root, say): the
# signer runs from a copy in the harness's scratch directory instead.
signer_copy=false
if [ "$signer_bin" != none ] && ! runuser -u "$signer_user" -- test -x "$signer_bin"; then
  signer_copy=true
fi

# The repository and its build, when they live under /root: CMD's namespace
# shows them (read-only) like the other root binds.
repo_bind=""
for path in "$repo" "${CARGO_TARGET_DIR:-}"; do
  case "$path" in /root/?*) repo_bind="$repo_bind $path" ;; esac
done

# --- Scratch ------------------------------------------------------------------
# <tmp> 0755 root     bus/ (0755: bus.conf, system_bus_socket), bin/ (0755: person, ...)
#      root/ 0700 root  (password, logs)     ctl/ 0750 root:heso-person (ctl.sock)
#      signer-state/ 0700 heso-signer        person/ 0700 heso-person (home/, tmp/)
tmp=$(mktemp -d /tmp/heso-signer-harness.XXXXXX)
chmod 0755 "$tmp"
if $signer_copy; then
  install -D -m 0755 "$signer_bin" "$tmp/signer/heso-approver-signer"
  signer_bin="$tmp/signer/heso-approver-signer"
fi
dbus_pid="" polkitd_pid="" ctl_pid="" policy_backup="" policy_installed=false made_run_dbus=false status=0
show_logs() {
  local f
  for f in "$tmp"/root/*.log; do
    [ -s "$f" ] || continue
    echo "---- with-signer.sh: $(basename "$f") ----" >&2
    cat "$f" >&2
  done
}
cleanup() {
  set +e
  trap '' PIPE # a reader gone from stderr must not stop the cleanup
  if [ -n "$ctl_pid" ]; then
    kill -TERM "$ctl_pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$ctl_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$ctl_pid" 2>/dev/null
  fi
  # Whatever of the run is left (the keyring, a daemon CMD started): every
  # process of heso-person, a user that exists for these runs only (and runs
  # are one at a time, see the lock above).
  pkill -KILL -U "$person_uid" 2>/dev/null
  [ -n "$polkitd_pid" ] && kill -TERM "$polkitd_pid" 2>/dev/null
  [ -n "$dbus_pid" ] && kill -TERM "$dbus_pid" 2>/dev/null
  wait 2>/dev/null
  if [ "$status" -ne 0 ] || [ "${HESO_SIGNER_HARNESS_VERBOSE:-0}" = 1 ]; then show_logs; fi
  if $policy_installed; then
    if [ -n "$policy_backup" ]; then cp -p "$policy_backup" "$policy_dst"; else rm -f "$policy_dst"; fi
  fi
  $made_run_dbus && rmdir /run/dbus 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -m 0755 "$tmp/bus" "$tmp/bin"
mkdir -m 0700 "$tmp/root" "$tmp/signer-state" "$tmp/person" "$tmp/person/home" "$tmp/person/tmp"
mkdir -m 0750 "$tmp/ctl"
chown "$signer_user:" "$tmp/signer-state"
chown -R "$person_uid:$person_gid" "$tmp/person"
chown "root:$person_gid" "$tmp/ctl"
for cmd in person restart-signer kill-signer signer-ctl; do ln -s "$harness/signer-ctl" "$tmp/bin/$cmd"; done

# A fresh random password for the person; only root can read it.
(umask 077; head -c 18 /dev/urandom | base64 | tr -d '\n/+=' >"$tmp/root/password")
printf '%s:%s\n' "$person" "$(cat "$tmp/root/password")" | chpasswd

# --- polkit action ----------------------------------------------------------
if [ -e "$policy_dst" ] && ! cmp -s "$policy_src" "$policy_dst"; then
  policy_backup="$tmp/root/$policy_name.orig"
  cp -p "$policy_dst" "$policy_backup"
fi
if ! cmp -s "$policy_src" "$policy_dst" 2>/dev/null; then
  policy_installed=true
  install -m 0644 "$policy_src" "$policy_dst"
fi

# --- Private system bus -----------------------------------------------------
bus_socket="$tmp/bus/system_bus_socket"
bus_address="unix:path=$bus_socket"
{
  cat <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<!-- with-signer.sh: a private system bus (after /usr/share/dbus-1/system.conf,
     without activation, syslog or a pid file). -->
<busconfig>
  <type>system</type>
EOF
  getent passwd messagebus >/dev/null && echo "  <user>messagebus</user>"
  cat <<EOF
  <auth>EXTERNAL</auth>
  <listen>$bus_address</listen>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"
          send_member="UpdateActivationEnvironment"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Debug.Stats"/>
  </policy>
  <policy user="root">
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Monitoring"/>
  </policy>
  <include>/usr/share/dbus-1/system.d/org.freedesktop.PolicyKit1.conf</include>
  <include>$bus_policy</include>
</busconfig>
EOF
} >"$tmp/bus/bus.conf"
dbus-daemon --config-file="$tmp/bus/bus.conf" --nofork --nopidfile </dev/null >"$tmp/root/dbus.log" 2>&1 9>&- &
dbus_pid=$!
export DBUS_SYSTEM_BUS_ADDRESS="$bus_address"
bus_has() {
  dbus-send --bus="$bus_address" --print-reply=literal --dest=org.freedesktop.DBus \
    /org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner "string:$1" 2>/dev/null | grep -q true
}
wait_for() { # NAME PID WHAT
  local deadline=$((SECONDS + timeout_s))
  until bus_has "$1"; do
    kill -0 "$2" 2>/dev/null || { status=1; die "$3 exited before $1 appeared on the bus"; }
    [ $SECONDS -lt $deadline ] || { status=1; die "$1 did not appear on the bus within ${timeout_s}s"; }
    sleep 0.05
  done
}
wait_for org.freedesktop.DBus "$dbus_pid" dbus-daemon

# --- polkitd ----------------------------------------------------------------
"$polkitd" </dev/null >"$tmp/root/polkitd.log" 2>&1 9>&- &
polkitd_pid=$!
wait_for org.freedesktop.PolicyKit1 "$polkitd_pid" polkitd

# --- The control server: the signer and the agents ---------------------------
# In a mount namespace where the private bus is /run/dbus (for
# polkit-agent-helper-1, see above). It answers on ctl.sock and writes one line
# on its ready pipe: "ready PID", "ready none" or "error ...".
if [ ! -d /run/dbus ]; then mkdir -m 0755 /run/dbus; made_run_dbus=true; fi
mkfifo -m 0600 "$tmp/root/ready"
unshare --mount --propagation private -- sh -c 'mount --bind "$1" /run/dbus && shift && exec "$@"' sh \
  "$tmp/bus" "$harness/ctl-server.py" \
  --socket "$tmp/ctl/ctl.sock" --ready "$tmp/root/ready" \
  --person "$person" --password-file "$tmp/root/password" \
  --bus-address "$bus_address" --log-dir "$tmp/root" \
  --signer-bin "$signer_bin" --signer-user "$signer_user" --state-dir "$tmp/signer-state" \
  --timeout "$timeout_s" </dev/null 2>>"$tmp/root/ctl.log" 9>&- &
ctl_pid=$!
ready=""
exec 4<>"$tmp/root/ready" # read-write: opening does not wait for the server
deadline=$((SECONDS + ${timeout_s%.*} + 20))
until read -r -t 1 ready <&4; do
  kill -0 "$ctl_pid" 2>/dev/null && [ $SECONDS -lt $deadline ] || break
done
exec 4<&-
case "$ready" in
  "ready none") signer_pid="" ;;
  "ready "*) signer_pid=${ready#ready } ;;
  "error "*) status=1; die "${ready#error }" ;;
  *) status=1; die "the harness's control server did not start (see ctl.log)" ;;
esac

# --- CMD, as the person ------------------------------------------------------
export HESO_SIGNER_PID="$signer_pid" HESO_SIGNER_CTL="$tmp/ctl/ctl.sock" HESO_SIGNER_PERSON="$person"
export PATH="$tmp/bin:$PATH"
# In the background, so that a TERM or INT to the harness (timeout(1), CI)
# is handled at once: passed on to CMD, then everything is cleaned up. CMD
# keeps the harness's stdin (an asynchronous command would get /dev/null);
# enter-person restores default signal dispositions (an asynchronous command
# starts with INT and QUIT ignored).
exec 3<&0
unshare --mount --propagation private -- "$harness/enter-person" \
  "$tmp" "$person" "${HESO_SIGNER_HARNESS_ROOT_BINDS-/root/.pyenv}$repo_bind" \
  "$harness/person-session" "$tmp/person" "$@" <&3 3<&- 9>&- &
cmd_pid=$!
exec 3<&-
signalled=""
on_signal() { trap - INT TERM; signalled=$1; kill -TERM "$cmd_pid" 2>/dev/null || true; }
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
status=0
wait "$cmd_pid" || status=$?
if [ -n "$signalled" ]; then
  for _ in $(seq 50); do kill -0 "$cmd_pid" 2>/dev/null || break; sleep 0.1; done
  status=$signalled
fi
exit "$status"
