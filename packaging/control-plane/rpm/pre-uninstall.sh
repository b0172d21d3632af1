# $1 is 0 when the package is being removed (not upgraded).
if [ "$1" -eq 0 ] && [ -d /run/systemd/system ]; then
  systemctl disable --now heso-control-plane.service >/dev/null 2>&1 || :
fi
