# RPM %preun for rampart ($1: 0 = erase, 1 = upgrade); as %systemd_preun.
if [ "$1" -eq 0 ] && [ -d /run/systemd/system ]; then
    systemctl --no-reload disable --now rampart.service >/dev/null 2>&1 || :
fi
exit 0
