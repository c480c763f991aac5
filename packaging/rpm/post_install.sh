# RPM %post for rampart ($1: 1 = install, 2 = upgrade).
# Same steps as the Debian postinst: directories from tmpfiles.d, config
# readable by the rampart group, and on first install (no master key yet)
# `rampart init` as root, with the key at /etc/rampart/master.key
# (root:root 0600, read by systemd's LoadCredential=). The unit is not
# enabled or started (as the .deb); the admin runs
#     systemctl enable --now rampart
set -e

if command -v systemd-tmpfiles >/dev/null 2>&1; then
    systemd-tmpfiles --create rampart.conf
else
    install -d -m 0700 -o rampart -g rampart /var/lib/rampart
    install -d -m 0750 -o root -g rampart /etc/rampart
fi

if [ -f /etc/rampart/rampart.toml ]; then
    chown root:rampart /etc/rampart/rampart.toml
    chmod 0640 /etc/rampart/rampart.toml
fi

if [ -e /etc/rampart/master.key ]; then
    chown root:root /etc/rampart/master.key
    chmod 0600 /etc/rampart/master.key
elif [ -d /var/lib/rampart ] && [ -n "$(ls -A /var/lib/rampart 2>/dev/null)" ]; then
    echo "rampart: /etc/rampart/master.key is missing but /var/lib/rampart holds data;" >&2
    echo "rampart: not creating a new master key. Restore the key from backup." >&2
else
    (
        umask 077
        RAMPART_MASTER_KEY_FILE=/etc/rampart/master.key \
            /usr/bin/rampart init --config /etc/rampart/rampart.toml
    )
    chown root:root /etc/rampart/master.key
    chmod 0600 /etc/rampart/master.key
    chown -R rampart:rampart /var/lib/rampart
    chmod 0700 /var/lib/rampart
fi

if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
exit 0
