# $1 is 1 on a first install, 2 on an upgrade (RPM scriptlet convention).
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || :
  if [ "$1" -eq 1 ]; then
    systemctl enable --now heso-control-plane.service >/dev/null 2>&1 || :
  else
    systemctl try-restart heso-control-plane.service >/dev/null 2>&1 || :
  fi
fi
