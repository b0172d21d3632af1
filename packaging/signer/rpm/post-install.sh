# heso-approver: the signer's user, state directory and bus policy.
if command -v systemd-sysusers >/dev/null 2>&1; then
  systemd-sysusers heso-approver-signer.conf >/dev/null 2>&1 || :
fi
if ! getent passwd heso-signer >/dev/null 2>&1; then
  useradd --system --user-group --home-dir /var/lib/heso-approver-signer \
    --no-create-home --shell /sbin/nologin --comment "HESO Approver signer" heso-signer || :
fi
mkdir -p /var/lib/heso-approver-signer
chown heso-signer:heso-signer /var/lib/heso-approver-signer
chmod 0700 /var/lib/heso-approver-signer
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || :
fi
if [ -S /run/dbus/system_bus_socket ]; then
  dbus-send --system --type=method_call --dest=org.freedesktop.DBus / \
    org.freedesktop.DBus.ReloadConfig >/dev/null 2>&1 || :
fi
