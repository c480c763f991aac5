# RPM %pre for rampart ($1: 1 = install, 2 = upgrade).
# Create the system user/group before the files are laid down, so that
# /etc/rampart/rampart.toml can be shipped group-owned by rampart. The sysusers.d
# file is not installed yet at this point, so its line is fed on stdin
# (--replace names the file it stands for, as Fedora's %sysusers_create_compat
# does). Keep the line identical to systemd/rampart.sysusers.
if ! getent passwd rampart >/dev/null 2>&1; then
    if command -v systemd-sysusers >/dev/null 2>&1; then
        systemd-sysusers --replace=/usr/lib/sysusers.d/rampart.conf - <<'SYSUSERS'
u rampart - "Rampart compliance appliance" /var/lib/rampart
SYSUSERS
    else
        useradd --system --user-group \
            --home-dir /var/lib/rampart --no-create-home \
            --shell /sbin/nologin \
            --comment "Rampart compliance appliance" \
            rampart
    fi
fi
exit 0
