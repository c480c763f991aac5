//! Start-up and the life of `rampart serve`: prepare the data dir, keys and certificate, open
//! the store, bind, serve until SIGTERM/SIGINT, drain, close.

use std::net::TcpListener;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::config::Config;
use crate::control;
use crate::crypto::{MasterKey, MasterKeyError};
use crate::notify::notify;
use crate::store::{DataDirLock, Store, StoreError};
use crate::tls::{self, TlsError};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonError {
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the store {store} exists but the master key file {key} does not; point master_key_file at the key this store was created with (a new key could not read it)"
    )]
    KeyMissingForStore { store: PathBuf, key: PathBuf },
    #[error(transparent)]
    MasterKey(#[from] MasterKeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Control(#[from] control::ControlError),
    #[error("the server stopped with an error: {0}")]
    Server(std::io::Error),
}

/// What `prepare` made or found, reported by `init`.
#[derive(Debug, Default)]
pub struct Prepared {
    pub created_data_dir: bool,
    pub created_master_key: bool,
    pub created_certificate: bool,
}

fn ensure_data_dir(dir: &Path) -> Result<bool, DaemonError> {
    if dir.is_dir() {
        return Ok(false);
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .and_then(|()| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)))
        .map_err(|source| DaemonError::DataDir {
            path: dir.to_owned(),
            source,
        })?;
    Ok(true)
}

/// Locks the data dir and makes whatever is missing: data dir, master key, certificate.
/// A master key is only ever made for a store that does not exist yet.
pub fn prepare(config: &Config) -> Result<(DataDirLock, MasterKey, Prepared), DaemonError> {
    let mut prepared = Prepared {
        created_data_dir: ensure_data_dir(&config.data_dir)?,
        ..Prepared::default()
    };
    let lock = DataDirLock::acquire(&config.data_dir).map_err(StoreError::from)?;
    let key_path = config.master_key_path();
    let store_path = config.store_path();
    let master = if MasterKey::present(&key_path) {
        MasterKey::load(&key_path)?
    } else if store_path.exists() {
        return Err(DaemonError::KeyMissingForStore {
            store: store_path,
            key: key_path,
        });
    } else {
        prepared.created_master_key = true;
        MasterKey::create(&key_path)?
    };
    let (cert, key, generated) = config.tls_paths();
    if generated {
        prepared.created_certificate =
            tls::ensure_generated(&cert, &key, time::OffsetDateTime::now_utc())?;
    }
    Ok((lock, master, prepared))
}

/// Opens the store for a CLI verb when no daemon is running.
pub fn open_offline(config: &Config) -> Result<(DataDirLock, Store), DaemonError> {
    if !config.store_path().exists() {
        return Err(DaemonError::Store(StoreError::Open {
            path: config.store_path(),
            detail: "no store here yet; run `rampart init` or `rampart serve` first".into(),
        }));
    }
    let lock = DataDirLock::acquire(&config.data_dir).map_err(StoreError::from)?;
    let master = MasterKey::load(&config.master_key_path())?;
    let store = Store::open(&config.store_path(), master)?;
    Ok((lock, store))
}

/// `rampart init`: everything `serve` makes on first start, without serving.
pub fn init(config: &Config) -> Result<(Prepared, u64), DaemonError> {
    let (_lock, master, prepared) = prepare(config)?;
    let store = Store::open(&config.store_path(), master)?;
    Ok((prepared, store.schema_version()))
}

/// `rampart serve`. Returns when the server has stopped cleanly.
/// Runs the daemon; `mailer` is built (and so checked) by the caller before anything is
/// created on disk.
pub fn serve(config: Config, mailer: crate::mail::Mailer) -> Result<(), DaemonError> {
    let started = std::time::Instant::now();
    crate::auth::set_step_up_window(
        i64::try_from(config.reauthentication_secs.get()).unwrap_or(crate::auth::STEP_UP_SECS),
    );
    let (lock, master, prepared) = prepare(&config)?;
    if prepared.created_master_key {
        tracing::info!(path = %config.master_key_path().display(), "created master key");
    }
    if prepared.created_certificate {
        tracing::info!(path = %config.tls_paths().0.display(), "created self-signed certificate");
    }
    let (cert, key, _) = config.tls_paths();
    let tls = tls::server_config(&cert, &key)?;
    // The first draw seeds the CSPRNG (tens of ms of jitter sampling); pay it before "ready"
    // rather than on the first client's handshake.
    crate::crypto::random_bytes::<32>().map_err(MasterKeyError::from)?;
    let store = Arc::new(Store::open(&config.store_path(), master)?);
    // Uploaded catalogs are read by a child process, whose memory goes back at its exit.
    match std::env::current_exe() {
        Ok(binary) => crate::catalog::reader::read_in_child_processes(binary),
        Err(err) => tracing::warn!(error = %err, "catalogs will be read in the daemon"),
    }
    // Before serving, so no list or assessment meets a catalog kept the earlier way.
    match crate::catalog::imported::convert_earlier(&store) {
        Ok(0) => {}
        Ok(converted) => tracing::info!(converted, "imported catalogs moved to compact storage"),
        Err(err) => {
            tracing::error!(error = %err, "could not move imported catalogs to compact storage");
        }
    }
    let listener = TcpListener::bind(config.listen).map_err(|source| DaemonError::Listen {
        addr: config.listen,
        source,
    })?;
    let addr = listener
        .local_addr()
        .map_err(|source| DaemonError::Listen {
            addr: config.listen,
            source,
        })?;

    let system = actix_web::rt::System::new();
    let result = system.block_on(run(
        config,
        mailer,
        listener,
        tls,
        store.clone(),
        addr,
        started,
    ));
    // The runtime still holds tasks that were told to stop (jobs, control, outbox) and
    // blocking threads, each with a clone of the store; dropping it ends them. Then the
    // store is let go last, before the lock, so redb closes the file cleanly and the next
    // start (or a backup tool reading the file) finds it consistent without a repair.
    drop(system);
    close_store(store);
    drop(lock);
    result
}

/// Drops the last handle on the store, waiting a little for threads (the HTTP workers)
/// still letting go of theirs.
fn close_store(mut store: Arc<Store>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match Arc::try_unwrap(store) {
            Ok(last) => {
                drop(last);
                return;
            }
            Err(shared) if std::time::Instant::now() < deadline => {
                store = shared;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(_) => {
                tracing::warn!(
                    "the store was still in use at shutdown; the next start checks and repairs it"
                );
                return;
            }
        }
    }
}

async fn run(
    config: Config,
    mailer: crate::mail::Mailer,
    listener: TcpListener,
    tls: rustls::ServerConfig,
    store: Arc<Store>,
    addr: std::net::SocketAddr,
    started: std::time::Instant,
) -> Result<(), DaemonError> {
    let url = config
        .public_url
        .as_ref()
        .map_or_else(|| format!("https://{addr}"), |url| url.as_str().to_owned());
    let setup_link = crate::auth::issue_setup_link(&store, crate::dates::now())
        .map_err(|err| DaemonError::Server(std::io::Error::other(err.to_string())))?;
    if mailer.enabled() {
        crate::mail::configure(crate::mail::MailContext {
            base_url: url.clone(),
        });
        tokio::spawn(crate::mail::outbox::run(store.clone(), mailer));
    }
    let socket_path = config.control_socket_path();
    let control_listener = control::bind(&socket_path)?;
    let vault = Arc::new(crate::evidence::Vault::of(&config));
    vault.prepare().map_err(DaemonError::Server)?;
    let unfinished = crate::docs::archive::prepare(&store, vault.data_dir())
        .map_err(|err| DaemonError::Server(std::io::Error::other(err.to_string())))?;
    let swept = crate::erasure::sweep(&store, vault.data_dir())
        .map_err(|err| DaemonError::Server(std::io::Error::other(err.to_string())))?;
    if swept > 0 {
        tracing::info!(
            folders = swept,
            "removed the files of organizations erased before the last stop"
        );
    }
    if unfinished > 0 {
        tracing::warn!(
            count = unfinished,
            "proofpacks under way when the appliance stopped are marked failed"
        );
    }
    let jobs = Arc::new(crate::jobs::Jobs::new(&config));
    let context = control::Context {
        listen: Some(addr),
        base_url: url.clone(),
        vault: vault.clone(),
        jobs: jobs.clone(),
    };
    let control_task = tokio::spawn(control::serve(control_listener, store.clone(), context));

    let ready = Arc::new(AtomicBool::new(true));
    let server = crate::web::build_server(
        &config,
        listener,
        tls,
        store.clone(),
        vault.clone(),
        jobs.clone(),
        ready.clone(),
    )
    .map_err(DaemonError::Server)?;
    let handle = server.handle();
    let server_task = tokio::spawn(server);
    let metrics = match config.metrics_listen.0 {
        Some(wanted) => {
            let listener = TcpListener::bind(wanted).map_err(|source| DaemonError::Listen {
                addr: wanted,
                source,
            })?;
            let bound = listener.local_addr().map_err(DaemonError::Server)?;
            let server = crate::metrics::server(listener, store.clone(), config.data_dir.clone())
                .map_err(DaemonError::Server)?;
            let metrics_handle = server.handle();
            tokio::spawn(server);
            println!("Metrics on http://{bound}/metrics");
            Some(metrics_handle)
        }
        None => None,
    };
    let jobs_task = tokio::spawn(jobs.serve(store.clone(), vault.clone()));

    if let Some(token) = setup_link {
        // Printed for the person starting Rampart, never logged; single use, one hour.
        println!("Create the first administrator (link valid for 1 hour): {url}/setup/{token}");
    }
    if config.public_url.is_some() {
        println!("Public address: {url}");
    }
    // Last: scripts and the test harness take this line as "ready".
    println!(
        "Rampart {} listening on https://{addr}",
        env!("CARGO_PKG_VERSION")
    );
    tracing::info!(%addr, millis = started.elapsed().as_millis() as u64, "ready");
    notify("READY=1");

    let outcome = tokio::select! {
        signal = shutdown_signal() => {
            tracing::info!(signal, "shutting down; draining requests");
            ready.store(false, Ordering::Release);
            notify("STOPPING=1");
            handle.stop(true).await;
            Ok(())
        }
        result = server_task => match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(DaemonError::Server(err)),
            Err(err) => Err(DaemonError::Server(std::io::Error::other(err))),
        },
    };
    if let Some(metrics) = metrics {
        metrics.stop(false).await;
    }
    control_task.abort();
    jobs_task.abort();
    let _ = std::fs::remove_file(&socket_path);
    tracing::info!("stopped");
    outcome
}

async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers the process still dies on SIGTERM by default.
        std::future::pending::<()>().await;
        return "none";
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}
