# RPM %post for rampart ($1: 1 = install, 2 = upgrade).
# Same steps as the Debian postinst: directories from tmpfiles.d, config
# readable by the rampart group, and on first install (no master key yet)
# `rampart init` as root, with the key at /etc/rampart/master.key
# (root:root 0600, read by systemd's LoadCredential=), sealed with
# systemd-creds where that works; then, on first install, the unit is enabled
# and started (as the .deb).
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

if [ -e /etc/rampart/master.key.cred ]; then
    chown root:root /etc/rampart/master.key.cred
    chmod 0600 /etc/rampart/master.key.cred
elif [ -e /etc/rampart/master.key ]; then
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

# Seal the key with systemd-creds where it works (see the Debian postinst).
if command -v systemd-creds >/dev/null 2>&1 && [ -e /etc/rampart/master.key ] \
    && [ ! -e /etc/rampart/master.key.cred ] \
    && systemd-creds encrypt --name=master.key /etc/rampart/master.key \
        /etc/rampart/master.key.cred.new >/dev/null 2>&1; then
    chown root:root /etc/rampart/master.key.cred.new
    chmod 0600 /etc/rampart/master.key.cred.new
    mv /etc/rampart/master.key.cred.new /etc/rampart/master.key.cred
    mkdir -p /etc/systemd/system/rampart.service.d
    printf '%s\n' '# Written by the rampart package: the master key is sealed with systemd-creds.' \
        '[Service]' 'LoadCredential=' \
        'LoadCredentialEncrypted=master.key:/etc/rampart/master.key.cred' \
        >/etc/systemd/system/rampart.service.d/10-sealed-master-key.conf
    rm -f /etc/rampart/master.key
else
    rm -f /etc/rampart/master.key.cred.new
fi

if [ "$1" = 1 ]; then
    systemctl enable rampart.service >/dev/null 2>&1 || :
fi
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    if [ "$1" = 1 ]; then
        systemctl start rampart.service >/dev/null 2>&1 || :
    fi
fi
exit 0
