//! `rampart doctor`: one line per check, so an admin sees at a glance what needs attention.

use std::fmt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use crate::config::Config;
use crate::control::{Client, Reply, Request};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Clone)]
pub struct Check {
    pub level: Level,
    pub name: &'static str,
    pub detail: String,
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = match self.level {
            Level::Ok => "ok  ",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
        };
        write!(f, "{tag} {}: {}", self.name, self.detail)
    }
}

fn check(level: Level, name: &'static str, detail: impl Into<String>) -> Check {
    Check {
        level,
        name,
        detail: detail.into(),
    }
}

const LOW_DISK_WARN: u64 = 1 << 30;
const LOW_DISK_FAIL: u64 = 100 << 20;

fn data_dir_permissions(dir: &Path) -> Check {
    const NAME: &str = "data dir permissions";
    match std::fs::metadata(dir) {
        Err(err) => check(Level::Fail, NAME, format!("{}: {err}", dir.display())),
        Ok(meta) => {
            let mode = meta.permissions().mode() & 0o777;
            let own_uid = rustix::process::getuid().as_raw();
            if meta.uid() != own_uid {
                check(
                    Level::Fail,
                    NAME,
                    format!(
                        "{} is owned by uid {}, not by this user (uid {own_uid})",
                        dir.display(),
                        meta.uid()
                    ),
                )
            } else if mode & 0o077 != 0 {
                check(
                    Level::Fail,
                    NAME,
                    format!(
                        "{} has mode {mode:04o}; run `chmod 700 {}`",
                        dir.display(),
                        dir.display()
                    ),
                )
            } else {
                check(
                    Level::Ok,
                    NAME,
                    format!("{} mode {mode:04o}", dir.display()),
                )
            }
        }
    }
}

fn master_key_location(config: &Config) -> Check {
    const NAME: &str = "master key";
    let key = config.master_key_path();
    let Ok(meta) = std::fs::metadata(&key) else {
        return check(Level::Fail, NAME, format!("{} is missing", key.display()));
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return check(
            Level::Fail,
            NAME,
            format!(
                "{} has mode {mode:04o}; run `chmod 600 {}`",
                key.display(),
                key.display()
            ),
        );
    }
    let inside = match (key.canonicalize(), config.data_dir.canonicalize()) {
        (Ok(key), Ok(dir)) => key.starts_with(dir),
        _ => false,
    };
    if inside {
        check(
            Level::Warn,
            NAME,
            format!(
                "{} is kept inside the data dir, so a copy of the data dir carries its key; keep it elsewhere (a systemd credential, ideally TPM-sealed)",
                key.display()
            ),
        )
    } else {
        check(
            Level::Ok,
            NAME,
            format!("{} mode {mode:04o}, outside the data dir", key.display()),
        )
    }
}

fn certificate_expiry(config: &Config, now: time::OffsetDateTime) -> Check {
    const NAME: &str = "certificate";
    let (cert, _, generated) = config.tls_paths();
    match crate::tls::not_after(&cert) {
        Err(err) => check(Level::Fail, NAME, err.to_string()),
        Ok(expiry) => {
            let days = (expiry - now).whole_days();
            let kind = if generated {
                "self-signed"
            } else {
                "configured"
            };
            if days < 0 {
                check(
                    Level::Fail,
                    NAME,
                    format!(
                        "{kind} certificate {} expired {} days ago",
                        cert.display(),
                        -days
                    ),
                )
            } else if days < 30 {
                check(
                    Level::Warn,
                    NAME,
                    format!(
                        "{kind} certificate {} expires in {days} days",
                        cert.display()
                    ),
                )
            } else {
                check(
                    Level::Ok,
                    NAME,
                    format!(
                        "{kind} certificate {} expires in {days} days",
                        cert.display()
                    ),
                )
            }
        }
    }
}

fn free_disk(dir: &Path) -> Check {
    const NAME: &str = "free disk";
    match rustix::fs::statvfs(dir) {
        Err(err) => check(Level::Fail, NAME, format!("{}: {err}", dir.display())),
        Ok(stat) => {
            let free = stat.f_bavail.saturating_mul(stat.f_frsize);
            let shown = format!("{} MiB free under {}", free >> 20, dir.display());
            let level = if free < LOW_DISK_FAIL {
                Level::Fail
            } else if free < LOW_DISK_WARN {
                Level::Warn
            } else {
                Level::Ok
            };
            check(level, NAME, shown)
        }
    }
}

/// The running daemon's status, when one answers on the control socket.
fn daemon_status(config: &Config) -> Option<Result<serde_json::Value, String>> {
    let mut client = Client::connect(&config.control_socket_path())
        .ok()
        .flatten()?;
    Some(match client.request(&Request::Status) {
        Ok(Reply::Ok(status)) => Ok(status),
        Ok(Reply::Error(failure)) => Err(failure.message),
        Err(err) => Err(err.to_string()),
    })
}

/// What the doctor learns from the store: through the running daemon, else by opening
/// the store itself (once: opening checks every record).
struct StoreFacts {
    schema_version: u64,
    last_good_backup: Option<i64>,
    /// `None` when the daemon answered.
    opened: Option<std::path::PathBuf>,
}

fn store_facts(
    config: &Config,
    daemon: Option<&Result<serde_json::Value, String>>,
) -> Result<StoreFacts, String> {
    if let Some(status) = daemon {
        let status = status.as_ref().map_err(Clone::clone)?;
        return Ok(StoreFacts {
            schema_version: status
                .get("schema_version")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0),
            last_good_backup: status
                .get("last_good_backup")
                .and_then(serde_json::Value::as_i64),
            opened: None,
        });
    }
    let (_lock, store) = crate::daemon::open_offline(config).map_err(|err| err.to_string())?;
    Ok(StoreFacts {
        schema_version: store.schema_version(),
        last_good_backup: crate::jobs::Jobs::last_good_backup(&store)
            .map_err(|err| err.to_string())?,
        opened: Some(store.path().to_owned()),
    })
}

fn schema_version(facts: &Result<StoreFacts, String>) -> Check {
    const NAME: &str = "schema version";
    let supported = crate::store::SCHEMA_VERSION;
    match facts {
        Ok(facts) => check(
            Level::Ok,
            NAME,
            match &facts.opened {
                None => format!(
                    "{} (this binary supports {supported}; daemon running)",
                    facts.schema_version
                ),
                Some(path) => format!(
                    "{} (this binary supports {supported}); {} opens and verifies",
                    facts.schema_version,
                    path.display()
                ),
            },
        ),
        Err(err) => check(Level::Fail, NAME, err.clone()),
    }
}

/// Backups configured, and the last good one no older than two days.
fn backups(config: &Config, facts: &Result<StoreFacts, String>, now: i64) -> Check {
    const NAME: &str = "backups";
    let settings = crate::backup::Settings::of(config);
    if !settings.configured() {
        return check(
            Level::Warn,
            NAME,
            "not configured: set backup_recipients (or backup_passphrase) so the daily backup can run",
        );
    }
    let Ok(facts) = facts else {
        return check(Level::Warn, NAME, "unknown: the store did not open");
    };
    match facts.last_good_backup {
        None => check(
            Level::Warn,
            NAME,
            "no backup has succeeded yet; `rampart backup create` makes one now",
        ),
        Some(at) if now - at > crate::backup::STALE_SECS => check(
            Level::Warn,
            NAME,
            format!(
                "the last good backup is {} days old ({}); `rampart jobs list` shows why later ones failed",
                (now - at) / 86_400,
                crate::dates::format_utc(at)
            ),
        ),
        Some(at) => check(
            Level::Ok,
            NAME,
            format!(
                "last good backup {}; scheduled ones go to {}",
                crate::dates::format_utc(at),
                settings.dir.display()
            ),
        ),
    }
}

/// Connects to the daemon's bound address when it runs, else checks the address can be bound.
fn listen_address(config: &Config, daemon: Option<&Result<serde_json::Value, String>>) -> Check {
    const NAME: &str = "listen address";
    let bound = daemon
        .and_then(|status| status.as_ref().ok())
        .and_then(|status| status.get("listen")?.as_str()?.parse().ok());
    let addr = bound.unwrap_or(config.listen);
    if daemon.is_some() {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(_) => check(Level::Ok, NAME, format!("{addr} accepts connections")),
            Err(err) => check(
                Level::Fail,
                NAME,
                format!("the daemon runs but {addr} does not answer: {err}"),
            ),
        }
    } else {
        match std::net::TcpListener::bind(addr) {
            Ok(_) => check(
                Level::Ok,
                NAME,
                format!("{addr} is free to bind (daemon not running)"),
            ),
            Err(err) => check(Level::Fail, NAME, format!("{addr} cannot be bound: {err}")),
        }
    }
}

pub fn run(config: &Config) -> Vec<Check> {
    let now = time::OffsetDateTime::now_utc();
    let daemon = daemon_status(config);
    let facts = store_facts(config, daemon.as_ref());
    vec![
        data_dir_permissions(&config.data_dir),
        master_key_location(config),
        certificate_expiry(config, now),
        free_disk(&config.data_dir),
        schema_version(&facts),
        backups(config, &facts, now.unix_timestamp()),
        listen_address(config, daemon.as_ref()),
        mail(config),
    ]
}

/// Mail settings that cannot work, or no mail at all: invitations, lockout notices and
/// address changes need it.
fn mail(config: &Config) -> Check {
    const NAME: &str = "mail";
    match crate::mail::Mailer::from_config(config) {
        Err(err) => check(Level::Fail, NAME, err.to_string()),
        Ok(mailer) if !mailer.enabled() => check(
            Level::Warn,
            NAME,
            "off (mail_transport = \"none\"): nobody is told of invitations, lockouts or deadlines, and addresses cannot be changed; `rampart mail test ADDRESS` checks a setup",
        ),
        Ok(_) => check(
            Level::Ok,
            NAME,
            "configured; `rampart mail test ADDRESS` sends a test message",
        ),
    }
}
