# RPM %postun for rampart ($1: 0 = erase, 1 = upgrade); as
# %systemd_postun_with_restart. Erasing keeps /etc/rampart (master key
# included) and /var/lib/rampart; remove them by hand if wanted.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    if [ "$1" -ge 1 ]; then
        systemctl try-restart rampart.service >/dev/null 2>&1 || :
    fi
fi
exit 0
