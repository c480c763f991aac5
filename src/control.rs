//! The local control channel: CLI verbs that need the live store reach the running daemon
//! over a Unix socket (mode 0600, peer uid checked); with no daemon running they open the
//! store file directly. Either way the same [`handle`] runs the operation.
//!
//! Protocol: one JSON [`Request`] per line, answered by one JSON [`Reply`] per line:
//! `{"ok": …}`, or `{"error": {"kind": …, "message": …}}` where the [`FailureKind`] decides
//! the verb's exit status.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader as AsyncBufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::access::ApplianceOperator;
use crate::store::Store;

/// Longest request line accepted, so a confused peer cannot make the daemon buffer forever.
const MAX_LINE: usize = 64 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    Status,
    OrgCreate {
        name: String,
    },
    OrgList,
    /// Erase an organization (crypto-shredding); `confirm` is its exact name.
    OrgErase {
        id: uuid::Uuid,
        confirm: String,
    },
    AuditVerify,
    AuditExport,
    /// Seal the open audit segment now.
    AuditSeal,
    /// Every message in the mail outbox (never its content).
    MailOutbox,
    /// Queue a message that finally failed again.
    MailRetry {
        id: uuid::Uuid,
    },
    /// Write sealed segments to files in `dir`, then drop them from the store.
    AuditArchive {
        dir: std::path::PathBuf,
    },
    /// Check an archived segment file against the store's seal.
    AuditVerifyArchive {
        file: std::path::PathBuf,
    },
    SetupLink,
    /// Decrypt and re-hash every evidence blob.
    EvidenceVerify,
    /// Each scheduled job with its last run and next slot.
    JobsList,
    /// The proofpack signing key (made on first use).
    ProofpackKey,
    /// Write a backup now into `to` (a directory or a new file; default the backup
    /// directory).
    BackupCreate {
        to: Option<PathBuf>,
    },
    /// Run one job now.
    JobsRun {
        name: String,
    },
    UserCreate {
        email: String,
        display_name: String,
        /// None: the account starts without a password and the answer carries a link to
        /// set one.
        #[serde(default)]
        password: Option<String>,
        org: Option<uuid::Uuid>,
        role: Option<crate::access::Role>,
    },
    UserList,
    /// Erase the account with this address.
    UserErase {
        email: String,
    },
    /// Unlock, disable, enable or reset-mfa the account with this address.
    UserAction {
        email: String,
        action: String,
    },
    UserPasswordLink {
        email: String,
    },
}

/// What the operation may need to know about the process answering it.
#[derive(Debug, Clone)]
pub struct Context {
    /// The daemon's bound address, when a daemon is answering.
    pub listen: Option<SocketAddr>,
    /// Where users reach Rampart, for links: `public_url`, else `https://<listen>`.
    pub base_url: String,
    pub vault: Arc<crate::evidence::Vault>,
    pub jobs: Arc<crate::jobs::Jobs>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    Ok(serde_json::Value),
    Error(Failure),
}

/// Why an operation failed: its kind decides the exit status of the verb that asked.
/// On the wire: `{"error": {"kind": "not_found", "message": "…"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(from = "FailureOnWire")]
#[error("{message}")]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The request is malformed, or a value in it is not accepted.
    Input,
    /// It names something (an organization, an account, a message) that does not exist.
    NotFound,
    /// It is well formed, but the appliance's present state or settings do not allow it.
    Refused,
    /// It could not be carried out: a store, disk or integrity failure. Also what a kind
    /// this client does not know yet is taken for.
    #[serde(other)]
    Runtime,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum FailureOnWire {
    Kinded {
        kind: FailureKind,
        message: String,
    },
    /// A daemon from before failure kinds sends the message alone; its verbs exited as for
    /// bad input, and still do.
    MessageOnly(String),
}

impl From<FailureOnWire> for Failure {
    fn from(wire: FailureOnWire) -> Self {
        match wire {
            FailureOnWire::Kinded { kind, message } => Failure { kind, message },
            FailureOnWire::MessageOnly(message) => Failure::new(FailureKind::Input, message),
        }
    }
}

impl Failure {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            message: message.into(),
        }
    }
}

/// What kind of failure an error of a domain module is: here what an HTTP status is at the
/// web edge.
trait Classify: std::fmt::Display {
    fn kind(&self) -> FailureKind;
}

fn failed<E: Classify>(err: E) -> Failure {
    Failure::new(err.kind(), err.to_string())
}

/// The answer as JSON, or the domain's error classified.
fn answer<T: Serialize, E: Classify>(result: Result<T, E>) -> Result<serde_json::Value, Failure> {
    result
        .map_err(failed)
        .and_then(|value| serde_json::to_value(value).map_err(failed))
}

impl Classify for serde_json::Error {
    fn kind(&self) -> FailureKind {
        FailureKind::Runtime
    }
}

impl Classify for crate::store::StoreError {
    fn kind(&self) -> FailureKind {
        match self {
            crate::store::StoreError::UnknownOrganization(_) => FailureKind::NotFound,
            _ => FailureKind::Runtime,
        }
    }
}

impl Classify for crate::access::AccessError {
    fn kind(&self) -> FailureKind {
        use crate::access::AccessError;
        match self {
            AccessError::NotFound => FailureKind::NotFound,
            AccessError::Forbidden | AccessError::NotApplianceAdmin => FailureKind::Refused,
            AccessError::Store(err) => err.kind(),
            _ => FailureKind::Runtime,
        }
    }
}

impl Classify for crate::audit::AuditError {
    fn kind(&self) -> FailureKind {
        use crate::audit::AuditError;
        match self {
            AuditError::Store(err) => err.kind(),
            AuditError::Access(err) => err.kind(),
            // Includes an archive refused because the chain fails its check: a damaged
            // log, as `audit verify` reports it.
            _ => FailureKind::Runtime,
        }
    }
}

impl Classify for crate::org::OrgError {
    fn kind(&self) -> FailureKind {
        use crate::org::OrgError;
        match self {
            OrgError::InvalidName | OrgError::InvalidField { .. } => FailureKind::Input,
            OrgError::Store(err) => err.kind(),
            OrgError::Audit(err) => err.kind(),
            OrgError::Access(err) => err.kind(),
            _ => FailureKind::Runtime,
        }
    }
}

impl Classify for crate::mail::MailError {
    fn kind(&self) -> FailureKind {
        use crate::mail::MailError;
        match self {
            MailError::Address(_) => FailureKind::Input,
            MailError::NotFailed(_) => FailureKind::NotFound,
            MailError::Disabled | MailError::Config(_) => FailureKind::Refused,
            MailError::Store(err) => err.kind(),
            MailError::Audit(err) => err.kind(),
            MailError::Access(err) => err.kind(),
            _ => FailureKind::Runtime,
        }
    }
}

impl Classify for crate::auth::AuthError {
    fn kind(&self) -> FailureKind {
        use crate::auth::AuthError;
        match self {
            AuthError::InvalidCredentials
            | AuthError::InvalidInput { .. }
            | AuthError::WeakPassword(_)
            | AuthError::InvalidSecondFactor
            | AuthError::SetupLinkInvalid
            | AuthError::LinkInvalid => FailureKind::Input,
            AuthError::NoSuchAccount => FailureKind::NotFound,
            AuthError::EmailTaken
            | AuthError::AlreadySetUp
            | AuthError::MailUnavailable
            | AuthError::ResetMailUnavailable
            | AuthError::StepUpRequired
            | AuthError::MfaEnrolmentRequired => FailureKind::Refused,
            AuthError::Store(err) => err.kind(),
            AuthError::Audit(err) => err.kind(),
            AuthError::Access(err) => err.kind(),
            AuthError::Mail(err) => err.kind(),
            _ => FailureKind::Runtime,
        }
    }
}

impl Classify for crate::erasure::ErasureError {
    fn kind(&self) -> FailureKind {
        use crate::erasure::ErasureError;
        match self {
            ErasureError::NotConfirmed(_) => FailureKind::Input,
            ErasureError::Refused(_) => FailureKind::Refused,
            ErasureError::Access(err) => err.kind(),
            ErasureError::Store(err) => err.kind(),
            ErasureError::Audit(err) => err.kind(),
            ErasureError::Org(err) => err.kind(),
            ErasureError::Auth(err) => err.kind(),
            ErasureError::Mail(err) => err.kind(),
            _ => FailureKind::Runtime,
        }
    }
}

impl Classify for crate::evidence::EvidenceError {
    fn kind(&self) -> FailureKind {
        use crate::evidence::EvidenceError;
        match self {
            EvidenceError::NotFound | EvidenceError::Gone(_) => FailureKind::NotFound,
            EvidenceError::Invalid { .. }
            | EvidenceError::TooLarge { .. }
            | EvidenceError::UnsupportedType(_)
            | EvidenceError::Incomplete => FailureKind::Input,
            EvidenceError::QuotaExceeded { .. } => FailureKind::Refused,
            EvidenceError::Access(err) => err.kind(),
            EvidenceError::Audit(err) => err.kind(),
            EvidenceError::Store(err) => err.kind(),
            _ => FailureKind::Runtime,
        }
    }
}

impl Classify for crate::backup::BackupError {
    fn kind(&self) -> FailureKind {
        use crate::backup::BackupError;
        match self {
            BackupError::Exists(_) => FailureKind::Input,
            BackupError::NotConfigured | BackupError::TooNew { .. } => FailureKind::Refused,
            BackupError::Store(err) => err.kind(),
            // A target that cannot be written, a key file that cannot be read, a damaged
            // backup.
            _ => FailureKind::Runtime,
        }
    }
}

impl Classify for crate::jobs::JobError {
    fn kind(&self) -> FailureKind {
        use crate::jobs::JobError;
        match self {
            JobError::Unknown(_) => FailureKind::Input,
            JobError::Store(err) => err.kind(),
            JobError::Audit(err) => err.kind(),
            JobError::Mail(err) => err.kind(),
            JobError::Evidence(err) => err.kind(),
            JobError::Auth(err) => err.kind(),
            JobError::Access(err) => err.kind(),
            JobError::Org(err) => err.kind(),
            JobError::Backup(err) => err.kind(),
            _ => FailureKind::Runtime,
        }
    }
}

impl Classify for crate::docs::DocsError {
    fn kind(&self) -> FailureKind {
        use crate::docs::DocsError;
        match self {
            DocsError::Invalid { .. } | DocsError::Document(_) => FailureKind::Input,
            DocsError::NotFound => FailureKind::NotFound,
            DocsError::Access(err) => err.kind(),
            DocsError::Store(err) => err.kind(),
            DocsError::Audit(err) => err.kind(),
            DocsError::Org(err) => err.kind(),
            DocsError::Auth(err) => err.kind(),
            DocsError::Evidence(err) => err.kind(),
            _ => FailureKind::Runtime,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    #[error("cannot create control socket {path}: {source}")]
    Bind {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("control socket {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the daemon sent an unreadable reply: {0}")]
    Protocol(String),
}

/// Runs one operation against an open store. Blocking: call it off the async executor.
pub fn handle(store: &Store, context: &Context, request: Request) -> Reply {
    match operate(store, context, request) {
        Ok(value) => Reply::Ok(value),
        Err(failure) => Reply::Error(failure),
    }
}

fn operate(
    store: &Store,
    context: &Context,
    request: Request,
) -> Result<serde_json::Value, Failure> {
    let operator = ApplianceOperator::local();
    match request {
        Request::Status => Ok(serde_json::json!({
            "version": env!("CARGO_PKG_VERSION"),
            "schema_version": store.schema_version(),
            "pid": std::process::id(),
            "listen": context.listen.map(|addr| addr.to_string()),
            "last_good_backup": crate::jobs::Jobs::last_good_backup(store).ok().flatten(),
        })),
        Request::OrgCreate { name } => answer(crate::org::create(
            store,
            &operator,
            &name,
            crate::dates::now(),
        )),
        Request::OrgErase { id, confirm } => answer(crate::erasure::erase_organization(
            store,
            crate::erasure::Eraser::Operator(&operator),
            crate::store::OrgId(id),
            &confirm,
            crate::erasure::Appliance {
                data_dir: context.vault.data_dir(),
                backup_keep_days: context.jobs.backup_settings().keep_days,
            },
            &crate::auth::Client::default(),
            crate::dates::now(),
        )),
        Request::OrgList => answer(crate::org::list(store, &operator)),
        Request::AuditVerify => answer(crate::audit::verify(store)),
        Request::EvidenceVerify => answer(crate::evidence::verify_all(
            store,
            &context.vault,
            &operator,
        )),
        Request::SetupLink => match crate::auth::issue_setup_link(store, crate::dates::now()) {
            Ok(Some(token)) => {
                Ok(serde_json::json!({ "url": format!("{}/setup/{token}", context.base_url) }))
            }
            Ok(None) => Err(Failure::new(
                FailureKind::Refused,
                "Rampart already has an administrator; setup links are only for the first one",
            )),
            Err(err) => Err(failed(err)),
        },
        Request::UserCreate {
            email,
            display_name,
            password,
            org,
            role,
        } => {
            let membership = org.map(|org| {
                (
                    crate::store::OrgId(org),
                    role.unwrap_or(crate::access::Role::Member),
                )
            });
            let password = password.map(crate::auth::Password::new);
            crate::auth::create_account_as_operator(
                store,
                &email,
                &display_name,
                password.as_ref(),
                membership,
                crate::dates::now(),
            )
            .and_then(|account| {
                let link = match password {
                    Some(_) => None,
                    None => Some(format!(
                        "{}/reset/{}",
                        context.base_url,
                        crate::auth::reset::issue(store, account.id, crate::dates::now())?
                    )),
                };
                Ok(match link {
                    Some(link) => serde_json::json!({
                        "id": account.id, "email": account.email, "password_link": link
                    }),
                    None => serde_json::json!({ "id": account.id, "email": account.email }),
                })
            })
            .map_err(failed)
        }
        Request::UserAction { email, action } => {
            use crate::auth::OperatorAction;
            let action = match action.as_str() {
                "unlock" => OperatorAction::Unlock,
                "disable" => OperatorAction::Disable,
                "enable" => OperatorAction::Enable,
                "reset_mfa" => OperatorAction::ResetMfa,
                other => {
                    return Err(Failure::new(
                        FailureKind::Input,
                        format!("unknown account action {other}"),
                    ));
                }
            };
            crate::auth::operator_action(store, &email, action, crate::dates::now())
                .map_err(failed)
                .map(|account| serde_json::json!({ "id": account.id, "email": account.email }))
        }
        Request::UserPasswordLink { email } => crate::auth::operator_password_link(
            store,
            &email,
            crate::dates::now(),
        )
        .map_err(failed)
        .map(|token| serde_json::json!({ "url": format!("{}/reset/{token}", context.base_url) })),
        Request::UserErase { email } => {
            let id = crate::auth::account_id_by_email(store, &email)
                .map_err(failed)?
                .ok_or_else(|| {
                    Failure::new(
                        FailureKind::NotFound,
                        format!("no account has the address {email}"),
                    )
                })?;
            answer(crate::erasure::erase_person(
                store,
                crate::erasure::Eraser::Operator(&operator),
                id,
                &email,
                context.jobs.backup_settings().keep_days,
                &crate::auth::Client::default(),
                crate::dates::now(),
            ))
        }
        Request::UserList => answer(crate::auth::list_accounts(store)),
        Request::JobsList => answer(context.jobs.list(store)),
        Request::ProofpackKey => crate::docs::proofpack::public_key(store)
            .map(|key| serde_json::json!({ "key": key }))
            .map_err(failed),
        Request::BackupCreate { to } => {
            let to = to.unwrap_or_else(|| context.jobs.backup_settings().dir.clone());
            answer(
                context
                    .jobs
                    .backup_to(store, &to, crate::audit::Actor::Operator),
            )
        }
        Request::JobsRun { name } => answer(crate::jobs::Job::parse(&name).and_then(|job| {
            context
                .jobs
                .run_blocking(store, &context.vault, job, crate::audit::Actor::Operator)
        })),
        Request::MailOutbox => answer(crate::mail::outbox::list(store)),
        Request::MailRetry { id } => {
            match crate::mail::outbox::retry(
                store,
                id,
                crate::audit::Actor::Operator,
                &crate::auth::Client::default(),
                crate::dates::now(),
            ) {
                Ok(true) => Ok(serde_json::json!({ "id": id, "state": "pending" })),
                Ok(false) => Err(failed(crate::mail::MailError::NotFailed(id))),
                Err(err) => Err(failed(err)),
            }
        }
        Request::AuditSeal => answer(crate::audit::seal::seal_now(store, crate::dates::now())),
        Request::AuditArchive { dir } => crate::audit::seal::archive(store, &dir)
            .map_err(failed)
            .map(|files| serde_json::json!({ "files": files })),
        Request::AuditVerifyArchive { file } => {
            answer(crate::audit::seal::verify_archive(store, &file))
        }
        Request::AuditExport => answer(crate::audit::entries(store)),
    }
}

/// Binds the control socket, replacing a stale one left by a killed daemon (the data dir lock
/// guarantees no live daemon owns it).
pub fn bind(path: &Path) -> Result<UnixListener, ControlError> {
    let err = |source| ControlError::Bind {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(err)?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    let listener = UnixListener::bind(path).map_err(err)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    Ok(listener)
}

/// Serves control connections until the listener is dropped.
pub async fn serve(listener: UnixListener, store: Arc<Store>, context: Context) {
    let own_uid = rustix::process::getuid().as_raw();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let peer_ok = stream.peer_cred().is_ok_and(|cred| cred.uid() == own_uid);
        if !peer_ok {
            tracing::warn!("control connection refused: peer is not the daemon's user");
            continue;
        }
        let store = store.clone();
        let context = context.clone();
        tokio::spawn(async move {
            if let Err(err) = serve_connection(stream, store, context).await {
                tracing::debug!(error = %err, "control connection ended");
            }
        });
    }
}

async fn serve_connection(
    stream: UnixStream,
    store: Arc<Store>,
    context: Context,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = AsyncBufReader::new(read.take(MAX_LINE as u64 * 64)).lines();
    while let Some(line) = lines.next_line().await? {
        let reply = if line.len() > MAX_LINE {
            Reply::Error(Failure::new(FailureKind::Input, "request too long"))
        } else {
            match serde_json::from_str::<Request>(&line) {
                Ok(request) => {
                    let store = store.clone();
                    let context = context.clone();
                    tokio::task::spawn_blocking(move || handle(&store, &context, request))
                        .await
                        .unwrap_or_else(|_| {
                            Reply::Error(Failure::new(FailureKind::Runtime, "operation failed"))
                        })
                }
                Err(err) => Reply::Error(Failure::new(
                    FailureKind::Input,
                    format!("malformed request: {err}"),
                )),
            }
        };
        let mut out = serde_json::to_vec(&reply).map_err(std::io::Error::other)?;
        out.push(b'\n');
        write.write_all(&out).await?;
    }
    Ok(())
}

use tokio::io::AsyncReadExt as _;

/// A client connection to the running daemon.
pub struct Client {
    path: PathBuf,
    reader: BufReader<StdUnixStream>,
    writer: StdUnixStream,
}

impl Client {
    /// Connects when a daemon is listening; `Ok(None)` when none is.
    pub fn connect(path: &Path) -> Result<Option<Client>, ControlError> {
        let io = |source| ControlError::Io {
            path: path.to_owned(),
            source,
        };
        let stream = match StdUnixStream::connect(path) {
            Ok(stream) => stream,
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                return Ok(None);
            }
            Err(err) => return Err(io(err)),
        };
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(io)?;
        let writer = stream.try_clone().map_err(io)?;
        Ok(Some(Client {
            path: path.to_owned(),
            reader: BufReader::new(stream),
            writer,
        }))
    }

    pub fn request(&mut self, request: &Request) -> Result<Reply, ControlError> {
        let io = |source| ControlError::Io {
            path: self.path.clone(),
            source,
        };
        let mut line =
            serde_json::to_vec(request).map_err(|e| ControlError::Protocol(e.to_string()))?;
        line.push(b'\n');
        self.writer.write_all(&line).map_err(io)?;
        let mut answer = String::new();
        self.reader.read_line(&mut answer).map_err(io)?;
        serde_json::from_str(&answer).map_err(|e| ControlError::Protocol(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_carries_its_kind_and_older_or_newer_daemons_are_understood() {
        let failure = Failure::new(FailureKind::NotFound, "no account has that e-mail address");
        let line = serde_json::to_string(&Reply::Error(failure.clone())).unwrap();
        assert_eq!(
            line,
            r#"{"error":{"kind":"not_found","message":"no account has that e-mail address"}}"#
        );
        let Reply::Error(read) = serde_json::from_str(&line).unwrap() else {
            panic!("{line}");
        };
        assert_eq!(read, failure);
        // A daemon from before kinds: its verbs exited as for bad input.
        let Reply::Error(old) = serde_json::from_str(r#"{"error":"organization name …"}"#).unwrap()
        else {
            panic!("old reply");
        };
        assert_eq!(old.kind, FailureKind::Input);
        // A kind added later is taken for a runtime failure.
        let Reply::Error(new) =
            serde_json::from_str(r#"{"error":{"kind":"busy","message":"later"}}"#).unwrap()
        else {
            panic!("new reply");
        };
        assert_eq!(new.kind, FailureKind::Runtime);
    }
}
