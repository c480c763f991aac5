//! The local control channel: CLI verbs that need the live store reach the running daemon
//! over a Unix socket (mode 0600, peer uid checked); with no daemon running they open the
//! store file directly. Either way the same [`handle`] runs the operation.
//!
//! Protocol: one JSON [`Request`] per line, answered by one JSON [`Reply`] per line.

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
    Error(String),
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
    let operator = ApplianceOperator::local();
    let result = match request {
        Request::Status => Ok(serde_json::json!({
            "version": env!("CARGO_PKG_VERSION"),
            "schema_version": store.schema_version(),
            "pid": std::process::id(),
            "listen": context.listen.map(|addr| addr.to_string()),
            "last_good_backup": crate::jobs::Jobs::last_good_backup(store).ok().flatten(),
        })),
        Request::OrgCreate { name } => {
            crate::org::create(store, &operator, &name, crate::dates::now())
                .map_err(|err| err.to_string())
                .and_then(|org| serde_json::to_value(org).map_err(|err| err.to_string()))
        }
        Request::OrgErase { id, confirm } => crate::erasure::erase_organization(
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
        )
        .map_err(|err| err.to_string())
        .and_then(|receipt| serde_json::to_value(receipt).map_err(|err| err.to_string())),
        Request::OrgList => crate::org::list(store, &operator)
            .map_err(|err| err.to_string())
            .and_then(|orgs| serde_json::to_value(orgs).map_err(|err| err.to_string())),
        Request::AuditVerify => crate::audit::verify(store)
            .map_err(|err| err.to_string())
            .and_then(|report| serde_json::to_value(report).map_err(|err| err.to_string())),
        Request::EvidenceVerify => crate::evidence::verify_all(store, &context.vault, &operator)
            .map_err(|err| err.to_string())
            .and_then(|report| serde_json::to_value(report).map_err(|err| err.to_string())),
        Request::SetupLink => match crate::auth::issue_setup_link(store, crate::dates::now()) {
            Ok(Some(token)) => {
                Ok(serde_json::json!({ "url": format!("{}/setup/{token}", context.base_url) }))
            }
            Ok(None) => Err(
                "Rampart already has an administrator; setup links are only for the first one"
                    .to_owned(),
            ),
            Err(err) => Err(err.to_string()),
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
            .map_err(|err| err.to_string())
        }
        Request::UserAction { email, action } => {
            use crate::auth::OperatorAction;
            let action = match action.as_str() {
                "unlock" => Ok(OperatorAction::Unlock),
                "disable" => Ok(OperatorAction::Disable),
                "enable" => Ok(OperatorAction::Enable),
                "reset_mfa" => Ok(OperatorAction::ResetMfa),
                other => Err(format!("unknown account action {other}")),
            };
            action.and_then(|action| {
                crate::auth::operator_action(store, &email, action, crate::dates::now())
                    .map_err(|err| err.to_string())
                    .map(|account| serde_json::json!({ "id": account.id, "email": account.email }))
            })
        }
        Request::UserPasswordLink { email } => crate::auth::operator_password_link(
            store,
            &email,
            crate::dates::now(),
        )
        .map_err(|err| err.to_string())
        .map(|token| serde_json::json!({ "url": format!("{}/reset/{token}", context.base_url) })),
        Request::UserErase { email } => crate::auth::account_id_by_email(store, &email)
            .map_err(|err| err.to_string())
            .and_then(|id| id.ok_or_else(|| format!("no account has the address {email}")))
            .and_then(|id| {
                crate::erasure::erase_person(
                    store,
                    crate::erasure::Eraser::Operator(&operator),
                    id,
                    &email,
                    context.jobs.backup_settings().keep_days,
                    &crate::auth::Client::default(),
                    crate::dates::now(),
                )
                .map_err(|err| err.to_string())
            })
            .and_then(|receipt| serde_json::to_value(receipt).map_err(|err| err.to_string())),
        Request::UserList => crate::auth::list_accounts(store)
            .map_err(|err| err.to_string())
            .and_then(|accounts| serde_json::to_value(accounts).map_err(|err| err.to_string())),
        Request::JobsList => context
            .jobs
            .list(store)
            .map_err(|err| err.to_string())
            .and_then(|list| serde_json::to_value(list).map_err(|err| err.to_string())),
        Request::ProofpackKey => crate::docs::proofpack::public_key(store)
            .map(|key| serde_json::json!({ "key": key }))
            .map_err(|err| err.to_string()),
        Request::BackupCreate { to } => {
            let to = to.unwrap_or_else(|| context.jobs.backup_settings().dir.clone());
            context
                .jobs
                .backup_to(store, &to, crate::audit::Actor::Operator)
                .map_err(|err| err.to_string())
                .and_then(|report| serde_json::to_value(report).map_err(|err| err.to_string()))
        }
        Request::JobsRun { name } => crate::jobs::Job::parse(&name)
            .and_then(|job| {
                context
                    .jobs
                    .run_blocking(store, &context.vault, job, crate::audit::Actor::Operator)
            })
            .map_err(|err| err.to_string())
            .and_then(|run| serde_json::to_value(run).map_err(|err| err.to_string())),
        Request::MailOutbox => crate::mail::outbox::list(store)
            .map_err(|err| err.to_string())
            .and_then(|list| serde_json::to_value(list).map_err(|err| err.to_string())),
        Request::MailRetry { id } => {
            match crate::mail::outbox::retry(
                store,
                id,
                crate::audit::Actor::Operator,
                &crate::auth::Client::default(),
                crate::dates::now(),
            ) {
                Ok(true) => Ok(serde_json::json!({ "id": id, "state": "pending" })),
                Ok(false) => Err(format!("no failed message has id {id}")),
                Err(err) => Err(err.to_string()),
            }
        }
        Request::AuditSeal => crate::audit::seal::seal_now(store, crate::dates::now())
            .map_err(|err| err.to_string())
            .and_then(|seal| serde_json::to_value(seal).map_err(|err| err.to_string())),
        Request::AuditArchive { dir } => crate::audit::seal::archive(store, &dir)
            .map_err(|err| err.to_string())
            .map(|files| serde_json::json!({ "files": files })),
        Request::AuditVerifyArchive { file } => crate::audit::seal::verify_archive(store, &file)
            .map_err(|err| err.to_string())
            .and_then(|report| serde_json::to_value(report).map_err(|err| err.to_string())),
        Request::AuditExport => crate::audit::entries(store)
            .map_err(|err| err.to_string())
            .and_then(|entries| serde_json::to_value(entries).map_err(|err| err.to_string())),
    };
    match result {
        Ok(value) => Reply::Ok(value),
        Err(message) => Reply::Error(message),
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
            Reply::Error("request too long".into())
        } else {
            match serde_json::from_str::<Request>(&line) {
                Ok(request) => {
                    let store = store.clone();
                    let context = context.clone();
                    tokio::task::spawn_blocking(move || handle(&store, &context, request))
                        .await
                        .unwrap_or_else(|_| Reply::Error("operation failed".into()))
                }
                Err(err) => Reply::Error(format!("malformed request: {err}")),
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
