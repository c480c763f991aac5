//! Mail through the organization's own server: SMTP (STARTTLS, implicit TLS, or plain to a
//! relay only when explicitly allowed; optional authentication and a custom CA) or a local
//! `sendmail`. Messages are never sent from a request: they are written to the durable
//! [`outbox`] in the transaction of the event that causes them, and a worker delivers them.

pub mod address;
pub mod messages;
pub mod outbox;

pub use address::{EmailAddress, InvalidAddress};

use std::sync::OnceLock;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSendmailTransport, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::{Deserialize, Serialize};

use crate::config::{Config, MailTransport, SmtpSecurity};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MailError {
    /// The configuration cannot work; says which setting and why.
    #[error("mail is misconfigured: {0}")]
    Config(String),
    #[error("mail is not set up on this appliance (mail_transport = \"none\")")]
    Disabled,
    /// The message cannot be built for the transport (an address it refuses): no attempt
    /// can ever send it.
    #[error("{0}")]
    Address(String),
    /// Delivery failed; the text names the stage (DNS, connection, TLS, authentication,
    /// rejection) and the server's answer when there was one.
    #[error("{0}")]
    Delivery(String),
    /// The server refused the message for good (a 5xx answer about the recipient or the
    /// message): retrying cannot help, so it fails at once.
    #[error("{0}")]
    Rejected(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    #[error("outbox record is unreadable: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("mail template: {0}")]
    Template(String),
    #[error(transparent)]
    Access(#[from] crate::access::AccessError),
    #[error("no failed message has id {0}")]
    NotFailed(uuid::Uuid),
}

impl MailError {
    /// Whether trying again can never help: the server refused the message for good, or it
    /// cannot even be built. Such a message fails at once instead of being retried.
    pub fn is_permanent(&self) -> bool {
        matches!(self, MailError::Rejected(_) | MailError::Address(_))
    }
}

/// One message ready to send: plain text and HTML alternatives of the same content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outgoing {
    /// Stable across retries, so a message delivered twice is one message to the reader.
    pub id: uuid::Uuid,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Which typed message this is, for the outbox listing (`invitation`, …).
    pub kind: String,
}

/// What messages need to know about the running appliance: where links point. Set once by
/// the daemon when mail is on; without it (mail off, or a CLI verb run without the daemon)
/// nothing is queued, so messages never pile up for a server that does not exist.
#[derive(Debug, Clone)]
pub struct MailContext {
    pub base_url: String,
}

static CONTEXT: OnceLock<MailContext> = OnceLock::new();

/// Turns queueing on for this process; called once by the daemon.
pub fn configure(context: MailContext) {
    let _ = CONTEXT.set(context);
}

/// Whether messages are queued (and so delivered) in this process.
pub fn enabled() -> bool {
    CONTEXT.get().is_some()
}

/// Queues the message `build` makes from the base URL, inside `txn`, when mail is on.
/// Returns whether it was queued.
pub fn queue(
    txn: &crate::store::WriteTxn<'_>,
    now: i64,
    build: impl FnOnce(&str) -> Result<Outgoing, MailError>,
) -> Result<bool, MailError> {
    let Some(context) = CONTEXT.get() else {
        return Ok(false);
    };
    outbox::enqueue(txn, build(&context.base_url)?, now)?;
    Ok(true)
}

enum Transport {
    Disabled,
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Sendmail(AsyncSendmailTransport<Tokio1Executor>),
}

/// Sends mail as configured.
pub struct Mailer {
    transport: Transport,
    from: Option<Mailbox>,
    /// The host part of Message-IDs.
    domain: String,
    /// The longest one SMTP exchange may take. lettre bounds only the TCP connect with its
    /// own timeout: a server that accepts and then stalls would hold the sender forever.
    timeout: Duration,
}

impl Mailer {
    pub fn from_config(config: &Config) -> Result<Mailer, MailError> {
        let from = match (&config.mail_from, config.mail_transport) {
            (_, MailTransport::None) => None,
            (Some(from), _) => Some(from.0.parse::<Mailbox>().map_err(|err| {
                MailError::Config(format!("mail_from {:?} is not an address: {err}", from.0))
            })?),
            (None, _) => {
                return Err(MailError::Config(
                    "set mail_from, the sender address of Rampart's mail".into(),
                ));
            }
        };
        let domain = from.as_ref().map_or_else(
            || "rampart.invalid".to_owned(),
            |m| m.email.domain().to_owned(),
        );
        let transport = match config.mail_transport {
            MailTransport::None => Transport::Disabled,
            MailTransport::Sendmail => {
                Transport::Sendmail(AsyncSendmailTransport::<Tokio1Executor>::new_with_command(
                    config.sendmail_path.as_os_str(),
                ))
            }
            MailTransport::Smtp => Transport::Smtp(smtp(config)?),
        };
        Ok(Mailer {
            transport,
            from,
            domain,
            timeout: Duration::from_secs(config.smtp_timeout_secs.get()),
        })
    }

    pub fn enabled(&self) -> bool {
        !matches!(self.transport, Transport::Disabled)
    }

    fn build(&self, message: &Outgoing) -> Result<lettre::Message, MailError> {
        let from = self.from.clone().ok_or(MailError::Disabled)?;
        // The error leaves the recipient out: it is logged, and addresses are not.
        let to: Mailbox = message.to.parse().map_err(|err| {
            MailError::Address(format!("the recipient's address cannot be used: {err}"))
        })?;
        lettre::Message::builder()
            .from(from)
            .to(to)
            .subject(&message.subject)
            .message_id(Some(format!("<{}@{}>", message.id, self.domain)))
            .multipart(MultiPart::alternative_plain_html(
                message.text.clone(),
                message.html.clone(),
            ))
            .map_err(|err| MailError::Address(format!("the message cannot be built: {err}")))
    }

    /// Sends one message now; returns the server's answer.
    pub async fn send(&self, message: &Outgoing) -> Result<String, MailError> {
        let email = self.build(message)?;
        match &self.transport {
            Transport::Disabled => Err(MailError::Disabled),
            Transport::Smtp(smtp) => {
                match tokio::time::timeout(self.timeout, smtp.send(email)).await {
                    Err(_) => Err(MailError::Delivery(format!(
                        "timeout: the mail server did not finish within {} s (smtp_timeout_secs)",
                        self.timeout.as_secs()
                    ))),
                    Ok(sent) => sent
                        .map(|response| {
                            format!(
                                "{} {}",
                                response.code(),
                                response.message().collect::<Vec<_>>().join(" ")
                            )
                        })
                        .map_err(|err| {
                            let (stage, text) = describe(&err);
                            if err.is_permanent() && stage == REJECTED {
                                MailError::Rejected(text)
                            } else {
                                MailError::Delivery(text)
                            }
                        }),
                }
            }
            Transport::Sendmail(sendmail) => sendmail
                .send(email)
                .await
                .map(|()| "accepted by sendmail".to_owned())
                .map_err(|err| MailError::Delivery(format!("sendmail: {err}"))),
        }
    }
}

/// Names the stage an SMTP failure happened at, then lettre's own account of it.
const REJECTED: &str = "rejected by the server";

fn describe(err: &lettre::transport::smtp::Error) -> (&'static str, String) {
    let text = err.to_string();
    let stage = if err.is_tls() || tls_failure(err) || text.contains("STARTTLS") {
        // lettre reports a failed handshake (an untrusted certificate, a server that does not
        // speak TLS) as a connection error: the rustls error underneath says what it is.
        "TLS"
    } else if err.is_timeout() {
        "timeout"
    } else if let Some(code) = err.status() {
        // 530, 534, 535, 538: RFC 4954's answers about authentication.
        if code.to_string().starts_with("53") {
            "authentication"
        } else {
            REJECTED
        }
    } else if text.contains("authentication mechanism") {
        "authentication"
    } else if text.contains("failed to lookup") || text.contains("resolve") {
        "DNS"
    } else {
        "connection"
    };
    (stage, format!("{stage}: {text}"))
}

/// Whether a rustls error is among the causes of `err`.
fn tls_failure(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(err) = cause {
        if err.is::<rustls::Error>() {
            return true;
        }
        // An io::Error shows its inner error only through `get_ref`, not as a source.
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io
                .get_ref()
                .is_some_and(|inner| inner.is::<rustls::Error>())
        {
            return true;
        }
        cause = err.source();
    }
    false
}

fn smtp(config: &Config) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
    let host = config
        .smtp_host
        .as_ref()
        .ok_or_else(|| MailError::Config("set smtp_host, the mail server's name".into()))?
        .0
        .clone();
    let tls = || -> Result<TlsParameters, MailError> {
        let mut params = TlsParameters::builder(host.clone());
        if let Some(path) = &config.smtp_ca_file {
            let pem = std::fs::read(path).map_err(|err| {
                MailError::Config(format!("smtp_ca_file {}: {err}", path.display()))
            })?;
            let ca = Certificate::from_pem(&pem).map_err(|err| {
                MailError::Config(format!("smtp_ca_file {}: {err}", path.display()))
            })?;
            params = params.add_root_certificate(ca);
        }
        params
            .build_rustls()
            .map_err(|err| MailError::Config(format!("TLS for {host}: {err}")))
    };
    let security = match config.smtp_security {
        SmtpSecurity::StartTls => Tls::Required(tls()?),
        SmtpSecurity::Tls => Tls::Wrapper(tls()?),
        SmtpSecurity::None if config.smtp_allow_plain => Tls::None,
        SmtpSecurity::None => {
            return Err(MailError::Config(
                "smtp_security = \"none\" sends mail unencrypted: set smtp_allow_plain = true to allow it for a relay on a trusted network".into(),
            ));
        }
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
        .port(u16::try_from(config.smtp_port.get()).unwrap_or(587))
        .tls(security)
        .timeout(Some(Duration::from_secs(config.smtp_timeout_secs.get())));
    match (&config.smtp_username, &config.smtp_password) {
        (Some(user), Some(password)) => {
            builder = builder.credentials(Credentials::new(
                user.0.clone(),
                password.expose().to_owned(),
            ));
        }
        (None, None) => {}
        _ => {
            return Err(MailError::Config(
                "set both smtp_username and smtp_password, or neither".into(),
            ));
        }
    }
    Ok(builder.build())
}

/// A test message for `rampart mail test`.
pub fn test_message(to: &str) -> Outgoing {
    Outgoing {
        id: uuid::Uuid::new_v4(),
        to: to.to_owned(),
        subject: "Rampart test message".into(),
        text: "This is a test message from Rampart. Mail from this appliance reaches you.\n".into(),
        html: "<p>This is a test message from Rampart. Mail from this appliance reaches you.</p>"
            .into(),
        kind: "test".into(),
    }
}
