//! Configuration: one TOML file, overridden by `RAMPART_*` environment variables.
//!
//! Every setting is declared once in the `settings!` block below, with its type, default and
//! doc. The same declaration drives parsing, validation, `config check` output and the list of
//! known keys used to warn about typos.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use ipnet::IpNet;

/// Where `serve` and the other verbs look for a config file when `--config` is not given.
pub const INSTALLED_CONFIG_PATH: &str = "/etc/rampart/rampart.toml";
const ENV_PREFIX: &str = "RAMPART_";
/// Environment variables that are not settings but are still ours.
const NON_SETTING_ENV: &[&str] = &["RAMPART_CONFIG"];

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: malformed TOML: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{origin}: invalid value {found} for `{key}`: expected {allowed}")]
    Invalid {
        key: &'static str,
        origin: Origin,
        found: String,
        allowed: String,
    },
    #[error("both {var} and {var}_FILE are set; set only one of them")]
    BothSecretSources { var: String },
    #[error("cannot read {var} file {path}: {source}")]
    SecretFile {
        var: String,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Where a setting's effective value came from; printed by `config check` and in errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Default,
    File { path: PathBuf, line: usize },
    Env { var: String },
    EnvFile { var: String },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => write!(f, "default"),
            Origin::File { path, line } => write!(f, "{}:{line}", path.display()),
            Origin::Env { var } => write!(f, "environment variable {var}"),
            Origin::EnvFile { var } => write!(f, "file named by {var}"),
        }
    }
}

/// A non-fatal finding while loading, such as an unknown key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning(pub String);

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A value that can be a setting: parsed from TOML or from an environment string.
pub trait SettingType: Sized {
    /// Human description of the accepted values, used in error messages.
    const ALLOWED: &'static str;
    /// Secrets are redacted in output and may also be read from `RAMPART_<NAME>_FILE`.
    const SECRET: bool = false;
    /// [`Self::ALLOWED`], made precise where the type knows more (such as a range).
    fn allowed() -> String {
        Self::ALLOWED.to_owned()
    }
    fn from_text(text: &str) -> Option<Self>;
    fn from_toml(value: &toml::Value) -> Option<Self> {
        value.as_str().and_then(Self::from_text)
    }
    fn show(&self) -> String;
}

impl SettingType for SocketAddr {
    const ALLOWED: &'static str = "an IP address and port, such as \"127.0.0.1:8443\"";
    fn from_text(text: &str) -> Option<Self> {
        text.trim().parse().ok()
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

impl SettingType for PathBuf {
    const ALLOWED: &'static str = "a non-empty file system path";
    fn from_text(text: &str) -> Option<Self> {
        (!text.trim().is_empty()).then(|| PathBuf::from(text.trim()))
    }
    fn show(&self) -> String {
        self.display().to_string()
    }
}

impl<T: SettingType> SettingType for Option<T> {
    const ALLOWED: &'static str = T::ALLOWED;
    const SECRET: bool = T::SECRET;
    fn from_text(text: &str) -> Option<Self> {
        T::from_text(text).map(Some)
    }
    fn from_toml(value: &toml::Value) -> Option<Self> {
        T::from_toml(value).map(Some)
    }
    fn show(&self) -> String {
        self.as_ref().map_or_else(|| "(unset)".to_owned(), T::show)
    }
}

/// A URL of the form `https://host[:port][/path]`, as users reach Rampart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl(String);

impl PublicUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `https://host[:port]`, as browsers name it in an `Origin` header.
    pub fn origin(&self) -> &str {
        let authority_end = self
            .0
            .get("https://".len()..)
            .and_then(|rest| rest.find('/'))
            .map_or(self.0.len(), |end| end + "https://".len());
        self.0.get(..authority_end).unwrap_or(&self.0)
    }
}

impl SettingType for PublicUrl {
    const ALLOWED: &'static str =
        "an https:// URL without query or fragment, such as \"https://rampart.example.com\"";
    fn from_text(text: &str) -> Option<Self> {
        let text = text.trim().trim_end_matches('/');
        let rest = text.strip_prefix("https://")?;
        let host_ok = rest
            .split('/')
            .next()
            .is_some_and(|host| !host.is_empty() && !host.contains('@'));
        let clean = !text.contains(['?', '#', ' ']);
        (host_ok && clean).then(|| PublicUrl(text.to_owned()))
    }
    fn show(&self) -> String {
        self.0.clone()
    }
}

/// Proxy addresses whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(pub Vec<IpNet>);

impl TrustedProxies {
    pub fn contains(&self, addr: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&addr))
    }
}

fn parse_net(text: &str) -> Option<IpNet> {
    let text = text.trim();
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

impl SettingType for TrustedProxies {
    const ALLOWED: &'static str =
        "a list of IP addresses or CIDR ranges (comma-separated in the environment)";
    fn from_text(text: &str) -> Option<Self> {
        text.split(',')
            .filter(|part| !part.trim().is_empty())
            .map(parse_net)
            .collect::<Option<Vec<_>>>()
            .map(TrustedProxies)
    }
    fn from_toml(value: &toml::Value) -> Option<Self> {
        value
            .as_array()?
            .iter()
            .map(|item| item.as_str().and_then(parse_net))
            .collect::<Option<Vec<_>>>()
            .map(TrustedProxies)
    }
    fn show(&self) -> String {
        let items: Vec<String> = self.0.iter().map(|net| format!("\"{net}\"")).collect();
        format!("[{}]", items.join(", "))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl SettingType for LogFormat {
    const ALLOWED: &'static str = "\"text\" or \"json\"";
    fn from_text(text: &str) -> Option<Self> {
        match text.trim() {
            "text" => Some(LogFormat::Text),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }
    fn show(&self) -> String {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
        .to_owned()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLevel(pub tracing::Level);

impl SettingType for LogLevel {
    const ALLOWED: &'static str = "one of \"error\", \"warn\", \"info\", \"debug\", \"trace\"";
    fn from_text(text: &str) -> Option<Self> {
        match text.trim() {
            "error" => Some(LogLevel(tracing::Level::ERROR)),
            "warn" => Some(LogLevel(tracing::Level::WARN)),
            "info" => Some(LogLevel(tracing::Level::INFO)),
            "debug" => Some(LogLevel(tracing::Level::DEBUG)),
            "trace" => Some(LogLevel(tracing::Level::TRACE)),
            _ => None,
        }
    }
    fn show(&self) -> String {
        self.0.as_str().to_ascii_lowercase()
    }
}

/// An integer setting bounded to `MIN..=MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounded<const MIN: u64, const MAX: u64>(pub u64);

impl<const MIN: u64, const MAX: u64> Bounded<MIN, MAX> {
    pub fn get(self) -> u64 {
        self.0
    }
    fn checked(n: u64) -> Option<Self> {
        (MIN..=MAX).contains(&n).then_some(Bounded(n))
    }
}

impl<const MIN: u64, const MAX: u64> SettingType for Bounded<MIN, MAX> {
    const ALLOWED: &'static str = "a whole number";
    fn allowed() -> String {
        format!("a whole number from {MIN} to {MAX}")
    }
    fn from_text(text: &str) -> Option<Self> {
        text.trim().parse().ok().and_then(Self::checked)
    }
    fn from_toml(value: &toml::Value) -> Option<Self> {
        match value {
            toml::Value::Integer(n) => u64::try_from(*n).ok().and_then(Self::checked),
            toml::Value::String(s) => Self::from_text(s),
            _ => None,
        }
    }
    fn show(&self) -> String {
        self.0.to_string()
    }
}

/// A secret string: never printed, also readable from `RAMPART_<NAME>_FILE`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl SettingType for Secret {
    const ALLOWED: &'static str = "a non-empty string";
    const SECRET: bool = true;
    fn from_text(text: &str) -> Option<Self> {
        let text = text.trim_end_matches(['\n', '\r']);
        (!text.is_empty()).then(|| Secret(text.to_owned()))
    }
    fn show(&self) -> String {
        "<redacted>".to_owned()
    }
}

fn default_workers() -> Bounded<1, 256> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Bounded(u64::try_from(cores).unwrap_or(1).clamp(1, 256))
}

/// Documentation of one setting, generated from the declaration.
#[derive(Debug, Clone, Copy)]
pub struct SettingDoc {
    pub key: &'static str,
    pub doc: &'static str,
    pub allowed: &'static str,
    pub secret: bool,
}

macro_rules! settings {
    ( $( $(#[doc = $doc:literal])+ $name:ident : $ty:ty = $default:expr ; )* ) => {
        /// The effective configuration.
        #[derive(Debug, Clone)]
        pub struct Config {
            $( $(#[doc = $doc])+ pub $name: $ty, )*
            origins: BTreeMap<&'static str, Origin>,
        }

        /// Every setting Rampart knows, in declaration order.
        pub const SETTINGS: &[SettingDoc] = &[
            $( SettingDoc {
                key: stringify!($name),
                doc: concat!($($doc),+),
                allowed: <$ty as SettingType>::ALLOWED,
                secret: <$ty as SettingType>::SECRET,
            }, )*
        ];

        impl Config {
            fn assemble(sources: &mut Sources) -> Result<Config, ConfigError> {
                Ok(Config {
                    $( $name: sources.take(stringify!($name), || $default)?, )*
                    origins: std::mem::take(&mut sources.origins),
                })
            }

            /// `(key, shown value)` pairs, secrets redacted.
            pub fn effective(&self) -> Vec<(&'static str, String)> {
                vec![ $( (stringify!($name), SettingType::show(&self.$name)), )* ]
            }
        }
    };
}

settings! {
    /// Address and port the HTTPS listener binds.
    listen: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 8443));
    /// Directory holding the store, evidence and (by default) keys and certificate.
    data_dir: PathBuf = PathBuf::from("./data");
    /// Directory for the control socket; defaults to the data directory.
    runtime_dir: Option<PathBuf> = None;
    /// PEM certificate chain; defaults to a self-signed certificate made on first start.
    tls_cert: Option<PathBuf> = None;
    /// PEM private key for `tls_cert`.
    tls_key: Option<PathBuf> = None;
    /// File holding the master key; defaults to `<data_dir>/master.key`.
    master_key_file: Option<PathBuf> = None;
    /// URL users reach Rampart at, used in links; defaults to `https://<listen>`.
    public_url: Option<PublicUrl> = None;
    /// Proxies whose X-Forwarded-For header is trusted.
    trusted_proxies: TrustedProxies = TrustedProxies::default();
    /// Log format: text for people, json for log collectors.
    log_format: LogFormat = LogFormat::Text;
    /// Least severe log level written.
    log_level: LogLevel = LogLevel(tracing::Level::INFO);
    /// HTTP worker threads (1 to 256); defaults to the number of CPUs.
    workers: Bounded<1, 256> = default_workers();
    /// Largest accepted form or JSON body in bytes (1 KiB to 64 MiB).
    body_limit_bytes: Bounded<1024, 67_108_864> = Bounded(1_048_576);
    /// Seconds a client has to send its request headers (1 to 300).
    request_timeout_secs: Bounded<1, 300> = Bounded(5);
    /// Seconds a sign-in counts as recent for changes that ask for the password again
    /// (1 to 3600).
    reauthentication_secs: Bounded<1, 3600> = Bounded(300);
    /// Seconds an evidence upload may go without sending a byte before it is abandoned
    /// (1 to 3600).
    upload_idle_timeout_secs: Bounded<1, 3600> = Bounded(60);
    /// Sign-in, setup and other credential requests per client address per minute.
    rate_limit_auth_per_minute: Bounded<1, 100_000> = Bounded(10);
    /// API requests per client address per minute.
    rate_limit_api_per_minute: Bounded<1, 100_000> = Bounded(60);
    /// Appliance administration requests per client address per minute.
    rate_limit_admin_per_minute: Bounded<1, 100_000> = Bounded(5);
    /// How Rampart sends mail: "none" (no mail), "smtp" or "sendmail".
    mail_transport: MailTransport = MailTransport::None;
    /// Sender address of every message, such as "Rampart <rampart@example.com>".
    mail_from: Option<Text> = None;
    /// The organization's mail server.
    smtp_host: Option<Text> = None;
    /// Its port: 587 for STARTTLS, 465 for implicit TLS, 25 for a plain relay.
    smtp_port: Bounded<1, 65_535> = Bounded(587);
    /// "starttls", "tls" (implicit, port 465) or "none" (only with smtp_allow_plain).
    smtp_security: SmtpSecurity = SmtpSecurity::StartTls;
    /// Allow plain SMTP without TLS, for a relay on a trusted network only.
    smtp_allow_plain: bool = false;
    /// User name for SMTP authentication, when the server needs it.
    smtp_username: Option<Text> = None;
    /// Password for SMTP authentication (or RAMPART_SMTP_PASSWORD_FILE).
    smtp_password: Option<Secret> = None;
    /// PEM file of the CA that signed an internal mail server's certificate.
    smtp_ca_file: Option<PathBuf> = None;
    /// Seconds one message may take with the mail server, connecting included (1 to 300).
    smtp_timeout_secs: Bounded<1, 300> = Bounded(30);
    /// The local sendmail binary, for mail_transport = "sendmail".
    sendmail_path: PathBuf = PathBuf::from("/usr/sbin/sendmail");
    /// Largest evidence file accepted, in bytes (default 2 GiB).
    evidence_max_file_bytes: Bounded<1024, 1_099_511_627_776> = Bounded(2_147_483_648);
    /// Evidence storage per organization, all versions and the bin included (default 10 GiB).
    evidence_quota_bytes: Bounded<1024, 1_125_899_906_842_624> = Bounded(10_737_418_240);
    /// Imported OSCAL catalogs per organization: the documents' sizes as uploaded, all
    /// together, in bytes (default 20 MiB; one document may have 10 MiB).
    catalog_quota_bytes: Bounded<1024, 1_073_741_824> =
        Bounded(crate::catalog::Quota::DEFAULT.bytes);
    /// Imported OSCAL catalogs per organization: their controls, all together (default
    /// 20000).
    catalog_quota_controls: Bounded<1, 10_000_000> =
        Bounded(crate::catalog::Quota::DEFAULT.controls);
    /// Time zone the job schedules are read in (an IANA name such as "America/New_York").
    jobs_time_zone: TimeZone = TimeZone(crate::zone::Zone::utc());
    /// When deadline reminders (30, 7 and 1 days ahead) are sent.
    jobs_reminders_schedule: Schedule = Schedule::fixed("0 7 * * *");
    /// When the drift check runs and mails new drift.
    jobs_drift_schedule: Schedule = Schedule::fixed("30 6 * * *");
    /// When the weekly digest is sent.
    jobs_digest_schedule: Schedule = Schedule::fixed("0 8 * * Mon");
    /// When retention runs: purges the evidence bin and expired sessions and links, seals
    /// the audit log.
    jobs_retention_schedule: Schedule = Schedule::fixed("15 3 * * *");
    /// Where to report a security problem in Rampart, for /.well-known/security.txt
    /// (RFC 9116): a "mailto:" or "https:" URI. Unset, the file is not served.
    security_contact: Option<ContactUri> = None;
    /// Days ahead the security.txt Expires field lies (1 to 365; RFC 9116 advises under
    /// a year).
    security_txt_valid_days: Bounded<1, 365> = Bounded(180);
    /// Address of the Prometheus metrics listener (plain HTTP, `GET /metrics`), kept off
    /// the public port; "off" for none. Bind it to loopback or a management network only.
    metrics_listen: MetricsListen = MetricsListen(Some(SocketAddr::from(([127, 0, 0, 1], 9464))));
    /// Directory scheduled backups are written to, such as a mounted NAS; defaults to
    /// `<data_dir>/backups` (the same disk: set another).
    backup_dir: Option<PathBuf> = None;
    /// age recipients ("age1…") backups are encrypted to; whoever holds a matching identity
    /// opens them, with Rampart or the standard age tool.
    backup_recipients: AgeRecipients = AgeRecipients::default();
    /// Passphrase backups are encrypted with instead of recipients (or
    /// RAMPART_BACKUP_PASSPHRASE_FILE).
    backup_passphrase: Option<Secret> = None;
    /// Scheduled backups kept in backup_dir, newest first (1 to 10000).
    backup_keep_count: Bounded<1, 10_000> = Bounded(14);
    /// Days a scheduled backup is kept (1 to 3650); the newest good one is always kept.
    backup_keep_days: Bounded<1, 3650> = Bounded(30);
    /// When the scheduled backup runs.
    jobs_backup_schedule: Schedule = Schedule::fixed("45 2 * * *");
}

/// Where the metrics listener binds, or nowhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsListen(pub Option<SocketAddr>);

impl SettingType for MetricsListen {
    const ALLOWED: &'static str = "an IP address and port such as \"127.0.0.1:9464\", or \"off\"";
    fn from_text(text: &str) -> Option<Self> {
        match text.trim() {
            "off" => Some(MetricsListen(None)),
            other => other.parse().ok().map(|addr| MetricsListen(Some(addr))),
        }
    }
    fn show(&self) -> String {
        self.0
            .map_or_else(|| "off".to_owned(), |addr| addr.to_string())
    }
}

/// age X25519 recipients.
#[derive(Debug, Clone, Default)]
pub struct AgeRecipients(pub Vec<age::x25519::Recipient>);

impl SettingType for AgeRecipients {
    const ALLOWED: &'static str =
        "a list of age recipients such as \"age1…\" (comma-separated in the environment)";
    fn from_text(text: &str) -> Option<Self> {
        text.split(',')
            .filter(|part| !part.trim().is_empty())
            .map(|part| part.trim().parse().ok())
            .collect::<Option<Vec<_>>>()
            .map(AgeRecipients)
    }
    fn from_toml(value: &toml::Value) -> Option<Self> {
        value
            .as_array()?
            .iter()
            .map(|item| item.as_str().and_then(|text| text.trim().parse().ok()))
            .collect::<Option<Vec<_>>>()
            .map(AgeRecipients)
    }
    fn show(&self) -> String {
        let items: Vec<String> = self.0.iter().map(|r| format!("\"{r}\"")).collect();
        format!("[{}]", items.join(", "))
    }
}

/// The store's file name in the data directory.
pub const STORE_FILE: &str = "rampart.redb";

/// An IANA time zone from the system's zone database.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeZone(pub crate::zone::Zone);

impl SettingType for TimeZone {
    const ALLOWED: &'static str = "an IANA time zone name in the system's zone database (/usr/share/zoneinfo, the tzdata package), such as \"UTC\" or \"America/New_York\"";
    fn from_text(text: &str) -> Option<Self> {
        crate::zone::Zone::named(text.trim()).map(TimeZone)
    }
    fn show(&self) -> String {
        self.0.name().to_owned()
    }
}

/// A cron expression: minute, hour, day of month, month, day of week, with an optional
/// leading seconds field.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    text: String,
    cron: croner::Cron,
}

impl Schedule {
    /// One of the defaults above, which are known to parse.
    fn fixed(text: &str) -> Schedule {
        #[allow(clippy::expect_used)]
        Schedule::from_text(text).expect("a default schedule parses")
    }

    pub fn cron(&self) -> &croner::Cron {
        &self.cron
    }
}

impl SettingType for Schedule {
    const ALLOWED: &'static str = "a cron expression (minute hour day-of-month month day-of-week, \
        optionally preceded by seconds), such as \"0 7 * * *\"";
    fn from_text(text: &str) -> Option<Self> {
        let text = text.trim();
        let cron = croner::parser::CronParser::new().parse(text).ok()?;
        Some(Schedule {
            text: text.to_owned(),
            cron,
        })
    }
    fn show(&self) -> String {
        self.text.clone()
    }
}

/// How mail leaves the appliance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailTransport {
    None,
    Smtp,
    Sendmail,
}

impl SettingType for MailTransport {
    const ALLOWED: &'static str = "\"none\", \"smtp\" or \"sendmail\"";
    fn from_text(text: &str) -> Option<Self> {
        match text.trim() {
            "none" => Some(MailTransport::None),
            "smtp" => Some(MailTransport::Smtp),
            "sendmail" => Some(MailTransport::Sendmail),
            _ => None,
        }
    }
    fn show(&self) -> String {
        match self {
            MailTransport::None => "none",
            MailTransport::Smtp => "smtp",
            MailTransport::Sendmail => "sendmail",
        }
        .to_owned()
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    StartTls,
    Tls,
    None,
}

impl SettingType for SmtpSecurity {
    const ALLOWED: &'static str = "\"starttls\", \"tls\" or \"none\"";
    fn from_text(text: &str) -> Option<Self> {
        match text.trim() {
            "starttls" => Some(SmtpSecurity::StartTls),
            "tls" => Some(SmtpSecurity::Tls),
            "none" => Some(SmtpSecurity::None),
            _ => None,
        }
    }
    fn show(&self) -> String {
        match self {
            SmtpSecurity::StartTls => "starttls",
            SmtpSecurity::Tls => "tls",
            SmtpSecurity::None => "none",
        }
        .to_owned()
    }
}

/// A non-empty line of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text(pub String);

impl SettingType for Text {
    const ALLOWED: &'static str = "a non-empty string on one line";
    fn from_text(text: &str) -> Option<Self> {
        let text = text.trim();
        (!text.is_empty() && !text.contains(['\n', '\r'])).then(|| Text(text.to_owned()))
    }
    fn show(&self) -> String {
        self.0.clone()
    }
}

/// Where to report a security problem: a `mailto:` or `https:` URI (RFC 9116 Contact).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactUri(pub String);

impl SettingType for ContactUri {
    const ALLOWED: &'static str = "a mailto: or https: URI on one line";
    fn from_text(text: &str) -> Option<Self> {
        let text = text.trim();
        let scheme_ok = text
            .strip_prefix("mailto:")
            .is_some_and(|a| a.contains('@'))
            || text.strip_prefix("https://").is_some_and(|h| !h.is_empty());
        (scheme_ok && !text.contains(char::is_whitespace)).then(|| ContactUri(text.to_owned()))
    }
    fn show(&self) -> String {
        self.0.clone()
    }
}

impl SettingType for bool {
    const ALLOWED: &'static str = "true or false";
    fn from_text(text: &str) -> Option<Self> {
        match text.trim() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }
    fn from_toml(value: &toml::Value) -> Option<Self> {
        value.as_bool()
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

/// The raw inputs: TOML keys with their lines, and `RAMPART_*` variables.
struct Sources {
    file: Option<PathBuf>,
    toml: BTreeMap<String, (toml::Value, usize)>,
    env: BTreeMap<String, String>,
    origins: BTreeMap<&'static str, Origin>,
}

impl Sources {
    fn take<T: SettingType>(
        &mut self,
        key: &'static str,
        default: impl FnOnce() -> T,
    ) -> Result<T, ConfigError> {
        let var = env_name(key);
        let file_var = format!("{var}_FILE");
        let invalid = |origin: Origin, found: String| ConfigError::Invalid {
            key,
            origin,
            found,
            allowed: T::allowed(),
        };

        if T::SECRET && self.env.contains_key(&file_var) {
            if self.env.contains_key(&var) {
                return Err(ConfigError::BothSecretSources { var });
            }
            let path = PathBuf::from(self.env.get(&file_var).cloned().unwrap_or_default());
            let text =
                std::fs::read_to_string(&path).map_err(|source| ConfigError::SecretFile {
                    var: file_var.clone(),
                    path: path.clone(),
                    source,
                })?;
            let origin = Origin::EnvFile { var: file_var };
            let value =
                T::from_text(&text).ok_or_else(|| invalid(origin.clone(), "(redacted)".into()))?;
            self.origins.insert(key, origin);
            return Ok(value);
        }
        if let Some(text) = self.env.get(&var) {
            let origin = Origin::Env { var: var.clone() };
            let shown = if T::SECRET {
                "(redacted)".to_owned()
            } else {
                format!("{text:?}")
            };
            let value = T::from_text(text).ok_or_else(|| invalid(origin.clone(), shown))?;
            self.origins.insert(key, origin);
            return Ok(value);
        }
        if let Some((value, line)) = self.toml.get(key) {
            let origin = Origin::File {
                path: self.file.clone().unwrap_or_default(),
                line: *line,
            };
            let shown = if T::SECRET {
                "(redacted)".to_owned()
            } else {
                value.to_string()
            };
            let parsed = T::from_toml(value).ok_or_else(|| invalid(origin.clone(), shown))?;
            self.origins.insert(key, origin);
            return Ok(parsed);
        }
        self.origins.insert(key, Origin::Default);
        Ok(default())
    }
}

fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.to_ascii_uppercase())
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(1, |before| before.matches('\n').count() + 1)
}

impl Config {
    /// Loads the configuration from `path` (or built-in defaults when `None`) and the given
    /// environment. Returns the config and warnings about unknown names.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Config, Vec<ConfigWarning>), ConfigError> {
        let mut warnings = Vec::new();
        let mut toml_values = BTreeMap::new();
        if let Some(path) = path {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            let table: BTreeMap<String, toml::Spanned<toml::Value>> = toml::from_str(&text)
                .map_err(|err| ConfigError::Syntax {
                    path: path.to_owned(),
                    line: err.span().map_or(1, |span| line_of(&text, span.start)),
                    message: err.message().to_owned(),
                })?;
            for (key, spanned) in table {
                let line = line_of(&text, spanned.span().start);
                if !SETTINGS.iter().any(|s| s.key == key) {
                    warnings.push(ConfigWarning(format!(
                        "{}:{line}: unknown setting `{key}` ignored",
                        path.display()
                    )));
                    continue;
                }
                toml_values.insert(key, (spanned.into_inner(), line));
            }
        }

        let env: BTreeMap<String, String> = env
            .into_iter()
            .filter(|(name, _)| name.starts_with(ENV_PREFIX))
            .collect();
        for name in env.keys() {
            let known = NON_SETTING_ENV.contains(&name.as_str())
                || SETTINGS.iter().any(|s| {
                    let var = env_name(s.key);
                    *name == var || (s.secret && *name == format!("{var}_FILE"))
                });
            if !known {
                warnings.push(ConfigWarning(format!(
                    "unknown environment variable {name} ignored"
                )));
            }
        }

        let mut sources = Sources {
            file: path.map(Path::to_owned),
            toml: toml_values,
            env,
            origins: BTreeMap::new(),
        };
        let config = Config::assemble(&mut sources)?;
        Ok((config, warnings))
    }

    /// The config file to use: the explicit one, else the installed default when present.
    pub fn locate(explicit: Option<&Path>) -> Option<PathBuf> {
        match explicit {
            Some(path) => Some(path.to_owned()),
            None => {
                let installed = Path::new(INSTALLED_CONFIG_PATH);
                installed.exists().then(|| installed.to_owned())
            }
        }
    }

    pub fn origin(&self, key: &str) -> Origin {
        self.origins.get(key).cloned().unwrap_or(Origin::Default)
    }

    pub fn runtime_dir(&self) -> PathBuf {
        self.runtime_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.clone())
    }

    pub fn store_path(&self) -> PathBuf {
        self.data_dir.join(STORE_FILE)
    }

    pub fn backup_dir(&self) -> PathBuf {
        self.backup_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("backups"))
    }

    pub fn master_key_path(&self) -> PathBuf {
        self.master_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("master.key"))
    }

    /// Certificate and key paths, and whether they are the generated default.
    pub fn tls_paths(&self) -> (PathBuf, PathBuf, bool) {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => (cert.clone(), key.clone(), false),
            _ => {
                let dir = self.data_dir.join("tls");
                (dir.join("cert.pem"), dir.join("key.pem"), true)
            }
        }
    }

    pub fn control_socket_path(&self) -> PathBuf {
        self.runtime_dir().join("rampart.sock")
    }

    /// Checks relations between settings that single values cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            let (key, present) = if self.tls_cert.is_some() {
                ("tls_key", "tls_cert")
            } else {
                ("tls_cert", "tls_key")
            };
            return Err(ConfigError::Invalid {
                key,
                origin: self.origin(present),
                found: "(unset)".to_owned(),
                allowed: "a path; tls_cert and tls_key must be set together".to_owned(),
            });
        }
        if !self.backup_recipients.0.is_empty() && self.backup_passphrase.is_some() {
            return Err(ConfigError::Invalid {
                key: "backup_passphrase",
                origin: self.origin("backup_passphrase"),
                found: "<redacted>".to_owned(),
                allowed: "unset while backup_recipients is set: age encrypts a file to \
                          recipients or to one passphrase, not both"
                    .to_owned(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(
        text: &str,
        env: &[(&str, &str)],
    ) -> Result<(Config, Vec<ConfigWarning>), ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rampart.toml");
        std::fs::write(&path, text).unwrap();
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Config::load(Some(&path), env)
    }

    #[test]
    fn defaults_apply_without_file() {
        let (config, warnings) = Config::load(None, Vec::new()).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8443");
        assert_eq!(config.data_dir, PathBuf::from("./data"));
        assert_eq!(config.body_limit_bytes.get(), 1_048_576);
        assert!(warnings.is_empty());
    }

    #[test]
    fn env_overrides_file() {
        let (config, _) = load_str(
            "listen = \"127.0.0.1:9000\"\n",
            &[("RAMPART_LISTEN", "127.0.0.1:9001")],
        )
        .unwrap();
        assert_eq!(config.listen.port(), 9001);
        assert_eq!(
            config.origin("listen"),
            Origin::Env {
                var: "RAMPART_LISTEN".into()
            }
        );
    }

    #[test]
    fn wrong_type_names_key_and_line() {
        let err =
            load_str("# comment\nlog_level = \"info\"\nworkers = \"many\"\n", &[]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("rampart.toml:3"), "{text}");
        assert!(text.contains("`workers`"), "{text}");
        assert!(text.contains("a whole number from 1 to 256"), "{text}");
    }

    #[test]
    fn out_of_range_is_refused() {
        let err = load_str("workers = 0\n", &[]).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { key: "workers", .. }));
    }

    #[test]
    fn unknown_names_warn() {
        let (_, warnings) = load_str("lisen = \"x\"\n", &[("RAMPART_LISTN", "x")]).unwrap();
        let all: Vec<String> = warnings.iter().map(ToString::to_string).collect();
        assert!(
            all.iter()
                .any(|w| w.contains("`lisen`") && w.contains(":1")),
            "{all:?}"
        );
        assert!(all.iter().any(|w| w.contains("RAMPART_LISTN")), "{all:?}");
    }

    #[test]
    fn malformed_toml_reports_line() {
        let err = load_str("listen = \"127.0.0.1:1\"\nworkers = = 3\n", &[]).unwrap_err();
        assert!(matches!(err, ConfigError::Syntax { line: 2, .. }), "{err}");
    }

    #[test]
    fn secret_from_env_or_file_but_not_both() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s");
        std::fs::write(&file, "hunter2-but-longer\n").unwrap();
        let mut sources = Sources {
            file: None,
            toml: BTreeMap::new(),
            env: BTreeMap::from([(
                "RAMPART_TEST_SECRET_FILE".to_owned(),
                file.display().to_string(),
            )]),
            origins: BTreeMap::new(),
        };
        let secret: Secret = sources
            .take("test_secret", || Secret(String::new()))
            .unwrap();
        assert_eq!(secret.expose(), "hunter2-but-longer");
        assert_eq!(secret.show(), "<redacted>");
        assert!(!format!("{secret:?}").contains("hunter2"));

        sources
            .env
            .insert("RAMPART_TEST_SECRET".to_owned(), "inline".to_owned());
        let err = sources
            .take::<Secret>("test_secret", || Secret(String::new()))
            .unwrap_err();
        assert!(matches!(err, ConfigError::BothSecretSources { .. }));
    }

    #[test]
    fn trusted_proxies_parse_ips_and_ranges() {
        let (config, _) =
            load_str("trusted_proxies = [\"10.0.0.0/8\", \"192.168.1.5\"]\n", &[]).unwrap();
        assert!(config.trusted_proxies.contains("10.1.2.3".parse().unwrap()));
        assert!(
            config
                .trusted_proxies
                .contains("192.168.1.5".parse().unwrap())
        );
        assert!(
            !config
                .trusted_proxies
                .contains("192.168.1.6".parse().unwrap())
        );
        assert!(load_str("trusted_proxies = [\"nope\"]\n", &[]).is_err());
    }

    #[test]
    fn tls_cert_requires_key() {
        let (config, _) = load_str("tls_cert = \"/x/cert.pem\"\n", &[]).unwrap();
        let err = config.validate().unwrap_err();
        assert!(err.to_string().contains("tls_key"), "{err}");
    }
}
