#!/usr/bin/env bash
# Installs the packages ./scripts/package.sh built, as a person would (apt),
# and checks them installed: the files, the validators, the man pages and
# completions, the control plane's unit and settings file, the heso:// link
# handler (xdg-mime), the installed app started under Xvfb opening an item
# through `xdg-open heso://approval/<hash>`; then removes both packages and
# checks that nothing but user data is left. The RPMs: rpmlint, the same files
# as the Debian packages, installed into a private RPM root and verified
# against their digests, then erased. Changes the system: CI runs it
# (.ci/run); run it yourself only on a machine you can spare.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
fail() { echo "test-package: FAILED: $*" >&2; exit 1; }
step() { echo "test-package: $*"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

if [ "${1:-}" = "--desktop" ]; then
  # Inside Xvfb and a private Secret Service: the installed programs only.
  shift
  scratch=$1
  port=$(free_port)
  /usr/bin/heso-control-plane serve --demo --print-secrets --demo-initial 3 --demo-interval 86400 \
    --listen "127.0.0.1:$port" >"$scratch/plane.log" 2>&1 &
  plane=$!
  trap 'kill $plane 2>/dev/null || true' EXIT
  for _ in $(seq 100); do grep -q "enrolment code:" "$scratch/plane.log" && break; sleep 0.1; done
  code=$(sed -n 's/.*enrolment code: *//p' "$scratch/plane.log" | head -1)
  [ -n "$code" ] || fail "the installed control plane printed no enrolment code: $(cat "$scratch/plane.log")"
  export HESO_APPROVER_HOME="$scratch/home"
  /usr/bin/heso-approver enroll --url "http://127.0.0.1:$port" --code "$code" --label "package test" >/dev/null
  hash=$(/usr/bin/heso-approver queue --json --wait 10 |
    python3 -c 'import json,sys; q=json.load(sys.stdin); print(q[0]["action_hash"] if q else "")')
  [ -n "$hash" ] || fail "no pending approval to open"

  step "starting the installed app"
  /usr/bin/heso-approver-app >"$scratch/app.log" 2>&1 &
  for _ in $(seq 300); do grep -q "first paint" "$scratch/app.log" && break; sleep 0.1; done
  grep -q "first paint" "$scratch/app.log" || fail "the installed app's window did not paint: $(cat "$scratch/app.log")"

  step "xdg-open heso://approval/$hash"
  xdg-open "heso://approval/$hash" >"$scratch/xdg-open.log" 2>&1 || fail "xdg-open: $(cat "$scratch/xdg-open.log")"
  for _ in $(seq 300); do grep -q "item $hash painted" "$scratch/app.log" && break; sleep 0.1; done
  grep -q "item $hash painted" "$scratch/app.log" ||
    fail "the link did not open the item: app log: $(cat "$scratch/app.log"); xdg-open: $(cat "$scratch/xdg-open.log")"

  # Everything started for this home goes (found by environment, not name).
  for environ in /proc/[0-9]*/environ; do
    if grep -qsz "^HESO_APPROVER_HOME=$HESO_APPROVER_HOME$" "$environ"; then
      pid=${environ#/proc/}; pid=${pid%/environ}
      [ "$pid" != $$ ] && kill "$pid" 2>/dev/null || true
    fi
  done
  exit 0
fi

shopt -s nullglob
app_deb=(target/packages/heso-approver_*.deb)
plane_deb=(target/packages/heso-control-plane_*.deb)
[ ${#app_deb[@]} -eq 1 ] && [ ${#plane_deb[@]} -eq 1 ] || fail "build the packages first (./scripts/package.sh)"
# Runtime libraries only: a package must not pull in -dev packages.
for deb in "${app_deb[0]}" "${plane_deb[0]}"; do
  ! dpkg-deb -f "$deb" Depends | grep -q -- '-dev' || fail "$deb depends on a -dev package"
done
for name in heso-approver heso-control-plane; do
  ! dpkg -s "$name" >/dev/null 2>&1 || fail "$name is already installed here; remove it first"
done

step "installing ${app_deb[0]} and ${plane_deb[0]} with apt"
sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  "./${app_deb[0]}" "./${plane_deb[0]}" >/dev/null
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
dpkg -L heso-approver heso-control-plane | sort -u >"$scratch/installed"
while read -r path; do if [ -f "$path" ]; then echo "$path"; fi; done <"$scratch/installed" >"$scratch/installed-files"

step "checking the installed files"
for f in /usr/bin/heso-approver-app /usr/bin/heso-approver-agent /usr/bin/heso-approver /usr/bin/heso-control-plane; do
  [ -x "$f" ] || fail "$f is not installed"
done
desktop-file-validate /usr/share/applications/io.heso.approver.desktop
appstreamcli validate --no-net /usr/share/metainfo/io.heso.approver.metainfo.xml >/dev/null
for size in 16 24 32 48 64 128 256 512; do
  [ -f "/usr/share/icons/hicolor/${size}x${size}/apps/io.heso.approver.png" ] || fail "no ${size}px icon"
done
for page in heso-approver heso-approver-verify heso-control-plane heso-control-plane-serve; do
  zcat "/usr/share/man/man1/$page.1.gz" | grep -q '^\.TH' || fail "man page $page(1) missing or empty"
done
for program in heso-approver heso-control-plane; do
  bash -c "source /usr/share/bash-completion/completions/$program && complete -p $program" >/dev/null ||
    fail "bash completion for $program does not load"
  [ -s "/usr/share/zsh/vendor-completions/_$program" ] || fail "no zsh completion for $program"
  [ -s "/usr/share/fish/vendor_completions.d/$program.fish" ] || fail "no fish completion for $program"
done
/usr/bin/heso-approver --version | grep -q '^heso-approver ' || fail "heso-approver --version"

step "checking the signer"
signer=/usr/libexec/heso-approver/heso-approver-signer
[ -x "$signer" ] || fail "$signer is not installed"
"$signer" --version | grep -q '^heso-approver-signer ' || fail "$signer --version"
getent passwd heso-signer >/dev/null || fail "the signer's user heso-signer was not made"
[ "$(stat -c '%a %U' /var/lib/heso-approver-signer)" = "700 heso-signer" ] ||
  fail "/var/lib/heso-approver-signer is not 0700 heso-signer"
signer_unit=/usr/lib/systemd/system/heso-approver-signer.service
complaints=$(systemd-analyze verify "$signer_unit" 2>&1 || true)
[ -z "$complaints" ] || fail "systemd-analyze verify $signer_unit: $complaints"
systemd-analyze security --offline=true --threshold=10 "$signer_unit" >/dev/null || fail "signer unit exposure above 1.0"
for f in /usr/share/dbus-1/system-services/org.heso.Approver.Signer1.service \
  /usr/share/dbus-1/system.d/org.heso.Approver.Signer1.conf \
  /usr/share/polkit-1/actions/org.heso.approver.policy; do
  [ -f "$f" ] || fail "$f is not installed"
done
grep -q 'unix-user:heso-signer' /usr/share/polkit-1/actions/org.heso.approver.policy ||
  fail "the polkit actions do not name the signer as their owner"
! grep -Eq '<allow_(any|inactive|active)>[^<]*_keep' /usr/share/polkit-1/actions/org.heso.approver.policy ||
  fail "a polkit action keeps an authorization"

step "checking the control plane's unit and settings"
unit=/usr/lib/systemd/system/heso-control-plane.service
# (Its Documentation= man page check needs man-db, which a server may lack.)
complaints=$(systemd-analyze verify "$unit" 2>&1 | grep -v "man heso-control-plane(1)" || true)
[ -z "$complaints" ] || fail "systemd-analyze verify $unit: $complaints"
systemd-analyze security --offline=true --threshold=20 "$unit" >/dev/null || fail "unit exposure above 2.0"
for directive in DynamicUser=yes StateDirectory=heso-control-plane ProtectSystem=strict NoNewPrivileges=yes; do
  grep -qx "$directive" "$unit" || fail "$unit lacks $directive"
done
grep -q heso-control-plane.env /var/lib/dpkg/info/heso-control-plane.conffiles || fail "settings file is not a conffile"
# The shipped settings, as the unit reads them, with the database moved to scratch.
port=$(free_port)
(
  set -a
  . /etc/heso-control-plane/heso-control-plane.env
  set +a
  HESO_CONTROL_PLANE_DB="$scratch/plane.db" HESO_CONTROL_PLANE_LISTEN="127.0.0.1:$port" \
    exec /usr/bin/heso-control-plane serve
) >"$scratch/serve.log" 2>&1 &
serve=$!
healthy() { python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/healthz', timeout=2)" 2>/dev/null; }
for _ in $(seq 100); do healthy && break; sleep 0.1; done
healthy || fail "serve with the shipped settings: $(cat "$scratch/serve.log")"
kill $serve
[ -f "$scratch/plane.db" ] || fail "serve did not use HESO_CONTROL_PLANE_DB"

step "checking the heso:// link handler"
handler=$(xdg-mime query default x-scheme-handler/heso)
[ "$handler" = io.heso.approver.desktop ] || fail "x-scheme-handler/heso opens '$handler', not io.heso.approver.desktop"
xvfb-run -a -s "-screen 0 1280x800x24" scripts/with-secret-service.sh "$0" --desktop "$scratch"
[ -d "$scratch/home" ] || fail "no user data was written"

step "removing both packages"
sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq heso-approver heso-control-plane >/dev/null
left=()
while read -r path; do
  # Directories the packages share with the system (/usr/share, …) stay.
  [ -e "$path" ] && [ ! -d "$path" ] && left+=("$path")
done <"$scratch/installed"
[ -e /etc/heso-control-plane ] && left+=(/etc/heso-control-plane)
[ -e /var/lib/heso-approver-signer ] && left+=(/var/lib/heso-approver-signer)
[ ${#left[@]} -eq 0 ] || fail "left after purge: ${left[*]}"
[ "$(xdg-mime query default x-scheme-handler/heso)" = "" ] || fail "heso:// still has a handler after purge"
[ -d "$scratch/home" ] || fail "user data was removed"
step "checking the RPMs"
app_rpm=(target/packages/heso-approver-*.rpm)
plane_rpm=(target/packages/heso-control-plane-*.rpm)
[ ${#app_rpm[@]} -eq 1 ] && [ ${#plane_rpm[@]} -eq 1 ] || fail "no RPMs in target/packages (./scripts/package.sh)"
lint=$(rpmlint -c packaging/rpmlint.toml "${app_rpm[0]}" "${plane_rpm[0]}" 2>&1) || fail "rpmlint: $lint"
grep -q " 0 errors, 0 warnings" <<<"$lint" || fail "rpmlint: $lint"
! rpm -qp --requires "${app_rpm[0]}" | grep -q -- '-devel' || fail "the app's RPM requires a -devel package"
rpm -qp --requires "${app_rpm[0]}" | grep -qx 'libwebkit2gtk-4.1.so.0()(64bit)' || fail "the app's RPM does not require WebKitGTK 4.1"
rpm -qp --configfiles "${plane_rpm[0]}" | grep -qx /etc/heso-control-plane/heso-control-plane.env ||
  fail "the control plane's settings are not a config file in its RPM"
# The same contents as the Debian packages, where each distribution puts them
# (zsh's directory; Debian's copyright file has no RPM counterpart).
rpm -qlp "${app_rpm[0]}" "${plane_rpm[0]}" | sort >"$scratch/rpm-files"
dpkg_files=$(grep -v '/copyright$' "$scratch/installed-files" |
  sed 's|/usr/share/zsh/vendor-completions/|/usr/share/zsh/site-functions/|' | sort)
missing=$(comm -23 <(echo "$dpkg_files") "$scratch/rpm-files")
extra=$(comm -13 <(echo "$dpkg_files") "$scratch/rpm-files")
[ -z "$missing$extra" ] || fail "the RPMs differ from the Debian packages: missing [$missing] extra [$extra]"
for script in packaging/control-plane/rpm/*.sh; do sh -n "$script" || fail "$script"; done
# Installed by rpm into a private root (its scriptlets need systemd, which a
# private root has not), verified against the packages' digests, erased.
rpmroot="$scratch/rpm-root"
# (Debian's rpm keeps its database in the home and warns that it is not the
# system's package manager: a private database, and that warning dropped.)
in_rpm_root() { rpm --root "$rpmroot" --dbpath /var/lib/rpm "$@" 2> >(grep -v 'use Alien\|what you are doing' >&2); }
in_rpm_root --initdb
in_rpm_root --install --nodeps --noscripts "${app_rpm[0]}" "${plane_rpm[0]}"
in_rpm_root --verify --nodeps --noscripts heso-approver heso-control-plane ||
  fail "installed RPM files do not match their digests"
"$rpmroot/usr/bin/heso-approver" --version | grep -q '^heso-approver ' || fail "heso-approver from the RPM"
in_rpm_root --erase --nodeps --noscripts heso-approver heso-control-plane
left=$(find "$rpmroot" -type f ! -path "$rpmroot/var/lib/rpm/*")
[ -z "$left" ] || fail "left after rpm --erase: $left"
step "passed"
