//! Backups: one age file holding a consistent copy of the store, the master key and every
//! evidence and document file, made while the daemon serves; checked and restored
//! anywhere.
//!
//! Inside the age encryption is a tar stream, in this order: `backup.json` (what made it),
//! `master.key`, `store.dump` (every table as stored, from one read transaction:
//! [`crate::store::dump`]), the files under `evidence/` and `documents/`, and last
//! `manifest.json` with each entry's size and SHA-256. Order matters: a reader has the key
//! before the records and so checks each record as it streams past, and the manifest can
//! be written only when everything before it is.
//!
//! The file holds the master key, so whoever opens it reads everything: it is exactly as
//! secret as the age identity or passphrase it is encrypted to, which is why both are kept
//! off the appliance. age authenticates every 64 KiB chunk and marks the last, so an
//! altered or cut file fails to decrypt; the manifest adds a check on what was read from
//! disk.

use std::io::{BufRead, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::crypto::{HashingReader, HashingWriter, MasterKey};
use crate::store::{DumpCounts, DumpError, Store, StoreError};

const FORMAT: u32 = 1;
const INFO: &str = "backup.json";
const KEY: &str = "master.key";
const STORE: &str = "store.dump";
const MANIFEST: &str = "manifest.json";
/// Directories of files the store refers to, copied as they are (they are encrypted).
const FILE_DIRS: [&str; 2] = ["evidence", "documents"];
const FILE_PREFIX: &str = "rampart-backup-";
const FILE_SUFFIX: &str = ".age";
/// Largest `backup.json`, `master.key` or `manifest.json` a reader accepts.
const MAX_SMALL: u64 = 64 * 1024 * 1024;
const DAY: i64 = 86_400;
/// A last good backup older than this is a warning (doctor, home page).
pub const STALE_SECS: i64 = 2 * DAY;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    #[error(
        "backups are not configured: set backup_recipients (age1… recipients) or backup_passphrase"
    )]
    NotConfigured,
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} exists already; choose a new file or a directory")]
    Exists(PathBuf),
    #[error("cannot encrypt the backup: {0}")]
    Encrypt(String),
    #[error("cannot open the backup: {0}")]
    Decrypt(String),
    #[error("the backup is damaged or truncated: {0}")]
    Damaged(String),
    #[error("the backup does not match its manifest: {0}")]
    Mismatch(String),
    #[error(
        "the backup was made by a newer Rampart (store schema {found}; this one supports up to {supported}); restore it with that version or newer"
    )]
    TooNew { found: u64, supported: u64 },
    #[error("{0}")]
    Target(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Dump(#[from] DumpError),
    #[error(transparent)]
    Lock(#[from] crate::store::LockError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_owned(),
        source,
    }
}

/// How backups are made and kept, from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    recipients: Vec<age::x25519::Recipient>,
    passphrase: Option<String>,
    pub dir: PathBuf,
    pub keep_count: u64,
    pub keep_days: u64,
    data_dir: PathBuf,
    master_key_path: PathBuf,
}

impl Settings {
    pub fn of(config: &Config) -> Settings {
        Settings {
            recipients: config.backup_recipients.0.clone(),
            passphrase: config
                .backup_passphrase
                .as_ref()
                .map(|p| p.expose().to_owned()),
            dir: config.backup_dir(),
            keep_count: config.backup_keep_count.get(),
            keep_days: config.backup_keep_days.get(),
            data_dir: config.data_dir.clone(),
            master_key_path: config.master_key_path(),
        }
    }

    pub fn configured(&self) -> bool {
        !self.recipients.is_empty() || self.passphrase.is_some()
    }

    fn encryptor(&self) -> Result<age::Encryptor, BackupError> {
        if !self.recipients.is_empty() {
            return age::Encryptor::with_recipients(
                self.recipients.iter().map(|r| r as &dyn age::Recipient),
            )
            .map_err(|err| BackupError::Encrypt(err.to_string()));
        }
        match &self.passphrase {
            Some(passphrase) => Ok(age::Encryptor::with_user_passphrase(
                age::secrecy::SecretString::from(passphrase.clone()),
            )),
            None => Err(BackupError::NotConfigured),
        }
    }
}

/// `backup.json`: what made the backup.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Info {
    format: u32,
    created_at: i64,
    rampart_version: String,
    schema_version: u64,
}

/// One file of a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    path: String,
    size: u64,
    sha256: String,
}

/// `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Manifest {
    format: u32,
    created_at: i64,
    schema_version: u64,
    store: DumpCounts,
    entries: Vec<Entry>,
}

/// What a backup run made.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub path: PathBuf,
    /// Size of the age file.
    pub bytes: u64,
    pub created_at: i64,
    pub organizations: u64,
    pub records: u64,
    /// Evidence and document files copied.
    pub files: u64,
    /// Bytes of those files.
    pub file_bytes: u64,
}

/// What `backup verify` and `restore` found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Checked {
    pub created_at: i64,
    pub rampart_version: String,
    pub schema_version: u64,
    pub organizations: u64,
    pub records: u64,
    pub files: u64,
    pub file_bytes: u64,
}

/// The file name of a backup made at `now`: sorting the names sorts by time.
fn file_name(now: i64) -> String {
    let stamp = time::OffsetDateTime::from_unix_timestamp(now)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year][month][day]T[hour][minute][second]Z"
            ))
            .ok()
        })
        .unwrap_or_else(|| now.to_string());
    format!("{FILE_PREFIX}{stamp}{FILE_SUFFIX}")
}

/// Where a backup goes: a new file, or a new file named by time in a directory.
fn destination(to: &Path, now: i64) -> Result<PathBuf, BackupError> {
    let path = if to.is_dir() {
        to.join(file_name(now))
    } else {
        to.to_owned()
    };
    if path.exists() {
        return Err(BackupError::Exists(path));
    }
    Ok(path)
}

/// The partial file of a backup under way; removed unless the backup completes, so a full
/// disk or a failure leaves nothing behind.
struct Partial {
    path: PathBuf,
    done: bool,
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A regular file's header (owner-only mode), as backups and exports write them.
pub(crate) fn tar_header(size: u64, mtime: i64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o600);
    header.set_mtime(u64::try_from(mtime).unwrap_or(0));
    header.set_entry_type(tar::EntryType::Regular);
    header
}

/// A tar being written with a manifest entry (path, size, SHA-256) for each file, as
/// backups and organization exports are.
pub(crate) struct ManifestTar<W: Write> {
    tar: tar::Builder<W>,
    entries: Vec<Entry>,
    mtime: i64,
}

impl<W: Write> ManifestTar<W> {
    pub(crate) fn new(sink: W, mtime: i64) -> Self {
        ManifestTar {
            tar: tar::Builder::new(sink),
            entries: Vec::new(),
            mtime,
        }
    }

    /// Appends `size` bytes read from `data` as `path`, hashing them on the way.
    pub(crate) fn add(
        &mut self,
        path: &str,
        size: u64,
        data: &mut dyn Read,
    ) -> std::io::Result<()> {
        let mut source = HashingReader::new(data);
        self.tar
            .append_data(&mut tar_header(size, self.mtime), path, &mut source)?;
        let (size, sha256) = source.finish();
        self.entries.push(Entry {
            path: path.to_owned(),
            size,
            sha256,
        });
        Ok(())
    }

    /// Appends `size` bytes that `write` produces as `path`: for content made while it is
    /// archived, whose size is known first (a tar header precedes its data).
    pub(crate) fn add_written<T, E: From<std::io::Error>>(
        &mut self,
        path: &str,
        size: u64,
        write: impl FnOnce(&mut dyn Write) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut header = tar_header(size, self.mtime);
        header.set_path(path)?;
        header.set_cksum();
        let out = self.tar.get_mut();
        out.write_all(header.as_bytes())?;
        let mut hashing = HashingWriter::new(&mut *out);
        let made = write(&mut hashing)?;
        let (written, sha256) = hashing.finish();
        if written != size {
            return Err(
                std::io::Error::other(format!("{path} changed size while it was written")).into(),
            );
        }
        let padding = usize::try_from((512 - written % 512) % 512).unwrap_or(0);
        out.write_all([0u8; 512].get(..padding).unwrap_or_default())?;
        self.entries.push(Entry {
            path: path.to_owned(),
            size,
            sha256,
        });
        Ok(made)
    }

    pub(crate) fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Appends `bytes` as `path` (the manifest, last and itself unlisted) and hands the
    /// sink back.
    pub(crate) fn finish(mut self, path: &str, bytes: &[u8]) -> std::io::Result<W> {
        self.tar
            .append_data(&mut tar_header(bytes.len() as u64, self.mtime), path, bytes)?;
        self.tar.into_inner()
    }
}

/// Makes a backup of `store` and the files beside it into `to` (a directory, or a file that
/// does not exist yet).
pub fn create(
    store: &Store,
    settings: &Settings,
    to: &Path,
    now: i64,
) -> Result<Report, BackupError> {
    let encryptor = settings.encryptor()?;
    // `dir/` names a directory, made when missing; any other new path names the file.
    let into_dir = to.is_dir() || to.as_os_str().as_encoded_bytes().ends_with(b"/");
    let dir = if into_dir { Some(to) } else { to.parent() };
    if let Some(dir) = dir.filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io(dir))?;
    }
    let path = destination(to, now)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut partial = Partial {
        path: path.with_file_name(format!(".{name}.partial")),
        done: false,
    };
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial.path)
        .map_err(io(&partial.path))?;
    let sink = std::io::BufWriter::with_capacity(1 << 20, file);
    let stream = encryptor.wrap_output(sink).map_err(io(&partial.path))?;
    let (stream, report) =
        write_contents(store, settings, stream, now).map_err(|err| match err {
            BackupError::Io { source, .. } => BackupError::Io {
                path: partial.path.clone(),
                source,
            },
            other => other,
        })?;
    let sink = stream.finish().map_err(io(&partial.path))?;
    let file = sink
        .into_inner()
        .map_err(|err| io(&partial.path)(err.into_error()))?;
    file.sync_all().map_err(io(&partial.path))?;
    let bytes = file.metadata().map_err(io(&partial.path))?.len();
    drop(file);
    std::fs::rename(&partial.path, &path).map_err(io(&path))?;
    partial.done = true;
    if let Some(dir) = path.parent() {
        // The rename is durable only once the directory is.
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(Report {
        path,
        bytes,
        ..report
    })
}

fn write_contents<W: Write>(
    store: &Store,
    settings: &Settings,
    sink: W,
    now: i64,
) -> Result<(W, Report), BackupError> {
    let mut tar = ManifestTar::new(sink, now);
    let info = serde_json::to_vec_pretty(&Info {
        format: FORMAT,
        created_at: now,
        rampart_version: env!("CARGO_PKG_VERSION").to_owned(),
        schema_version: store.schema_version(),
    })
    .map_err(|err| BackupError::Encrypt(err.to_string()))?;
    tar.add(INFO, info.len() as u64, &mut info.as_slice())
        .map_err(io(Path::new(INFO)))?;
    let key = MasterKey::file_text(&settings.master_key_path)
        .map_err(|err| BackupError::Target(err.to_string()))?
        .into_bytes();
    tar.add(KEY, key.len() as u64, &mut key.as_slice())
        .map_err(io(Path::new(KEY)))?;

    // Files are pinned before the snapshot: each file a snapshot record names was written
    // before that record committed, and none can be removed until the copy is done.
    let _pinned = store.pin_files();
    let dump = store.dump()?;
    // Streamed straight into the archive: the size is known, so the header goes first.
    let counts = tar
        .add_written(STORE, dump.size()?, |out| dump.write(&mut &mut *out))
        .map_err(|err| match err {
            DumpError::Io(source) => BackupError::Io {
                path: PathBuf::from(STORE),
                source,
            },
            other => other.into(),
        })?;
    drop(dump);

    let (mut files, mut file_bytes) = (0u64, 0u64);
    for (relative, full) in stored_files(&settings.data_dir)? {
        let mut file = match std::fs::File::open(&full) {
            Ok(file) => file,
            // Only files nothing refers to go while pinned: a failed upload's leftovers.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => return Err(io(&full)(err)),
        };
        let size = file.metadata().map_err(io(&full))?.len();
        tar.add(&relative, size, &mut file).map_err(io(&full))?;
        files += 1;
        file_bytes += size;
    }

    let manifest = serde_json::to_vec_pretty(&Manifest {
        format: FORMAT,
        created_at: now,
        schema_version: store.schema_version(),
        store: counts,
        entries: tar.entries().to_vec(),
    })
    .map_err(|err| BackupError::Encrypt(err.to_string()))?;
    let sink = tar
        .finish(MANIFEST, &manifest)
        .map_err(io(Path::new(MANIFEST)))?;
    Ok((
        sink,
        Report {
            path: PathBuf::new(),
            bytes: 0,
            created_at: now,
            organizations: counts.organizations,
            records: counts.rows,
            files,
            file_bytes,
        },
    ))
}

/// Every file under the data directory's evidence and document folders, as
/// `(path in the backup, path on disk)`, temp folders left out, in name order.
fn stored_files(data_dir: &Path) -> Result<Vec<(String, PathBuf)>, BackupError> {
    let mut out = Vec::new();
    for top in FILE_DIRS {
        let root = data_dir.join(top);
        let Ok(orgs) = std::fs::read_dir(&root) else {
            continue;
        };
        for org in orgs {
            let org = org.map_err(io(&root))?;
            let org_name = org.file_name().to_string_lossy().into_owned();
            if uuid::Uuid::parse_str(&org_name).is_err() || !org.path().is_dir() {
                continue;
            }
            for file in std::fs::read_dir(org.path()).map_err(io(&org.path()))? {
                let file = file.map_err(io(&org.path()))?;
                let name = file.file_name().to_string_lossy().into_owned();
                if file.file_type().map_err(io(&file.path()))?.is_file() && safe_name(&name) {
                    out.push((format!("{top}/{org_name}/{name}"), file.path()));
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

fn safe_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
}

/// A file path inside a backup that may be written under a data directory: `evidence/` or
/// `documents/`, an organization id, a plain file name. Anything else (`..`, absolute
/// paths, other folders) is refused.
fn restorable(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    matches!(parts.as_slice(), [top, org, name]
        if FILE_DIRS.contains(top) && uuid::Uuid::parse_str(org).is_ok() && safe_name(name))
}

/// What opens a backup: age identities, or the passphrase it was made with.
pub enum Unlock {
    Identities(Vec<Box<dyn age::Identity + Send + Sync>>),
    Passphrase(String),
}

fn decrypt<'a>(
    input: impl BufRead + 'a,
    unlock: &Unlock,
) -> Result<Box<dyn Read + 'a>, BackupError> {
    let decryptor = age::Decryptor::new_buffered(input).map_err(|err| {
        BackupError::Decrypt(format!(
            "it is not an age file, or its header is damaged: {err}"
        ))
    })?;
    let scrypt;
    let identities: Vec<&dyn age::Identity> = match unlock {
        Unlock::Identities(list) => list
            .iter()
            .map(|i| i.as_ref() as &dyn age::Identity)
            .collect(),
        Unlock::Passphrase(passphrase) => {
            scrypt =
                age::scrypt::Identity::new(age::secrecy::SecretString::from(passphrase.clone()));
            vec![&scrypt as &dyn age::Identity]
        }
    };
    let reader = decryptor
        .decrypt(identities.into_iter())
        .map_err(|err| match err {
            age::DecryptError::NoMatchingKeys => BackupError::Decrypt(
                "wrong key: it was not encrypted to the given identity (or passphrase)".into(),
            ),
            age::DecryptError::DecryptionFailed | age::DecryptError::KeyDecryptionFailed => {
                BackupError::Decrypt(
                    "wrong key: the passphrase or identity does not open it".into(),
                )
            }
            other => BackupError::Decrypt(other.to_string()),
        })?;
    Ok(Box::new(reader))
}

fn damaged(err: std::io::Error) -> BackupError {
    BackupError::Damaged(err.to_string())
}

/// Reads a backup through, checking every entry against the manifest and every store
/// record against the master key; with `target`, writes what it reads there.
fn read_backup(
    input: impl BufRead,
    unlock: &Unlock,
    target: Option<&Path>,
) -> Result<Checked, BackupError> {
    let reader = decrypt(input, unlock)?;
    let mut tar = tar::Archive::new(reader);
    let mut info: Option<Info> = None;
    let mut master: Option<MasterKey> = None;
    let mut store: Option<DumpCounts> = None;
    let mut manifest: Option<Manifest> = None;
    let mut found: Vec<Entry> = Vec::new();
    let (mut files, mut file_bytes) = (0u64, 0u64);
    for entry in tar.entries().map_err(damaged)? {
        let mut entry = entry.map_err(damaged)?;
        let path = entry
            .path()
            .map_err(damaged)?
            .to_string_lossy()
            .into_owned();
        if manifest.is_some() {
            return Err(BackupError::Mismatch(format!(
                "{path} follows the manifest"
            )));
        }
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(BackupError::Mismatch(format!(
                "{path} is not a regular file"
            )));
        }
        let size = entry.size();
        if path == MANIFEST {
            manifest = Some(read_json(&mut entry, &path)?);
            continue;
        }
        let mut source = HashingReader::new(&mut entry);
        match path.as_str() {
            INFO => {
                let read: Info = read_json(&mut source, &path)?;
                if read.format > FORMAT {
                    return Err(BackupError::Damaged(format!(
                        "format {} is newer than this Rampart reads ({FORMAT})",
                        read.format
                    )));
                }
                if read.schema_version > crate::store::SCHEMA_VERSION {
                    return Err(BackupError::TooNew {
                        found: read.schema_version,
                        supported: crate::store::SCHEMA_VERSION,
                    });
                }
                info = Some(read);
            }
            KEY => {
                let text = read_small(&mut source, &path)?;
                let key = MasterKey::from_text(&String::from_utf8_lossy(&text))
                    .ok()
                    .flatten()
                    .ok_or_else(|| BackupError::Damaged("master.key is not a master key".into()))?;
                if let Some(dir) = target {
                    write_new(&dir.join(KEY), &mut text.as_slice())?;
                }
                master = Some(key);
            }
            STORE => {
                let key = master.as_ref().ok_or_else(|| {
                    BackupError::Damaged("the store comes before the master key".into())
                })?;
                store = Some(match target {
                    Some(dir) => crate::store::dump::restore(
                        &mut source,
                        key,
                        &dir.join(crate::config::STORE_FILE),
                    )?,
                    None => crate::store::dump::check(&mut source, key)?,
                });
                // A dump ends with its own end mark; anything after it is not a dump.
                std::io::copy(&mut source, &mut std::io::sink()).map_err(damaged)?;
            }
            other if restorable(other) => {
                match target {
                    Some(dir) => write_new(&dir.join(other), &mut source)?,
                    None => {
                        std::io::copy(&mut source, &mut std::io::sink()).map_err(damaged)?;
                    }
                }
                files += 1;
                file_bytes += size;
            }
            other => {
                return Err(BackupError::Mismatch(format!(
                    "unexpected entry {other:?}: a backup holds only Rampart's files"
                )));
            }
        }
        let (size, sha256) = source.finish();
        found.push(Entry { path, size, sha256 });
    }
    let manifest = manifest.ok_or_else(|| {
        BackupError::Damaged("it has no manifest.json (cut off before its end)".into())
    })?;
    let info = info.ok_or_else(|| BackupError::Damaged("it has no backup.json".into()))?;
    let store = store.ok_or_else(|| BackupError::Damaged("it has no store.dump".into()))?;
    for (listed, read) in manifest.entries.iter().zip(found.iter()) {
        if listed != read {
            return Err(BackupError::Mismatch(format!(
                "{} differs from what the manifest lists",
                read.path
            )));
        }
    }
    if manifest.entries.len() != found.len() {
        return Err(BackupError::Mismatch(format!(
            "the manifest lists {} entries and the backup holds {}",
            manifest.entries.len(),
            found.len()
        )));
    }
    if manifest.store != store {
        return Err(BackupError::Mismatch(
            "the store copy holds other records than the manifest counts".into(),
        ));
    }
    Ok(Checked {
        created_at: info.created_at,
        rampart_version: info.rampart_version,
        schema_version: info.schema_version,
        organizations: store.organizations,
        records: store.rows,
        files,
        file_bytes,
    })
}

fn read_small(input: &mut impl Read, path: &str) -> Result<Vec<u8>, BackupError> {
    let mut bytes = Vec::new();
    input
        .take(MAX_SMALL + 1)
        .read_to_end(&mut bytes)
        .map_err(damaged)?;
    if bytes.len() as u64 > MAX_SMALL {
        return Err(BackupError::Damaged(format!("{path} is too large")));
    }
    Ok(bytes)
}

fn read_json<T: serde::de::DeserializeOwned>(
    input: &mut impl Read,
    path: &str,
) -> Result<T, BackupError> {
    let bytes = read_small(input, path)?;
    serde_json::from_slice(&bytes)
        .map_err(|err| BackupError::Damaged(format!("{path} is unreadable: {err}")))
}

fn write_new(path: &Path, data: &mut impl Read) -> Result<(), BackupError> {
    if let Some(parent) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(io(parent))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))?;
    std::io::copy(data, &mut file).map_err(|err| {
        if err.kind() == std::io::ErrorKind::InvalidData
            || err.kind() == std::io::ErrorKind::UnexpectedEof
        {
            damaged(err)
        } else {
            io(path)(err)
        }
    })?;
    file.sync_all().map_err(io(path))
}

/// Decrypts and checks a backup without writing anything.
pub fn verify(input: impl BufRead, unlock: &Unlock) -> Result<Checked, BackupError> {
    read_backup(input, unlock, None)
}

/// Restores a backup into `data_dir`, which must be empty or absent and used by no
/// process. On any failure, everything written is removed again.
pub fn restore(
    input: impl BufRead,
    unlock: &Unlock,
    data_dir: &Path,
) -> Result<Checked, BackupError> {
    let created = !data_dir.exists();
    if data_dir.exists() && !data_dir.is_dir() {
        return Err(BackupError::Target(format!(
            "{} is not a directory",
            data_dir.display()
        )));
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(data_dir)
        .map_err(io(data_dir))?;
    // Taken before looking inside: a running daemon holds it, and holding it keeps one from
    // starting on the directory while the restore writes.
    let lock = crate::store::DataDirLock::acquire(data_dir).map_err(|err| match err {
        crate::store::LockError::Held { .. } => BackupError::Target(format!(
            "{err}. A restore never writes over a live appliance: restore into an empty directory"
        )),
        other => other.into(),
    })?;
    let lock_file = data_dir.join("rampart.lock");
    let occupied = std::fs::read_dir(data_dir)
        .map_err(io(data_dir))?
        .filter_map(Result::ok)
        .any(|entry| entry.path() != lock_file);
    if occupied {
        return Err(BackupError::Target(format!(
            "{} is not empty; a restore writes only into an empty or new directory",
            data_dir.display()
        )));
    }
    let result = read_backup(input, unlock, Some(data_dir)).and_then(|checked| {
        // Opened as the daemon would: key check, every record authenticated.
        let master = MasterKey::load(&data_dir.join(KEY))
            .map_err(|err| BackupError::Damaged(err.to_string()))?;
        Store::open(&data_dir.join(crate::config::STORE_FILE), master)?;
        Ok(checked)
    });
    if result.is_err() {
        clear(data_dir, &lock_file);
        drop(lock);
        if created {
            let _ = std::fs::remove_dir_all(data_dir);
        } else {
            let _ = std::fs::remove_file(&lock_file);
        }
    }
    result
}

/// Removes everything in `dir` but `keep`.
fn clear(dir: &Path, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path == keep {
            continue;
        }
        let _ = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
    }
}

/// A scheduled run: a backup into the backup directory, then retention there.
pub fn scheduled(store: &Store, settings: &Settings, now: i64) -> Result<String, BackupError> {
    let mut dir = settings.dir.clone().into_os_string();
    dir.push("/");
    // Backups past their age go first, whatever becomes of this run: an erasure receipt
    // promises the day the last copy made before it is gone, and a run that keeps failing
    // (a full disk) must not keep them beyond it.
    let expired = prune(settings, None, now)?;
    let report = create(store, settings, Path::new(&dir), now)?;
    let removed = expired + prune(settings, Some(&report.path), now)?;
    Ok(format!(
        "wrote {} ({} bytes: {} organization(s), {} record(s), {} file(s)); removed {removed} old backup(s)",
        report
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        report.bytes,
        report.organizations,
        report.records,
        report.files
    ))
}

/// Removes backups in the backup directory beyond the count or age kept. With `keep` (the
/// backup just written, which always stays) the count applies too; without, only the age.
fn prune(settings: &Settings, keep: Option<&Path>, now: i64) -> Result<usize, BackupError> {
    let mut backups = list(&settings.dir)?;
    // Newest first.
    backups.sort_by(|a, b| b.0.cmp(&a.0));
    let oldest = now - i64::try_from(settings.keep_days).unwrap_or(i64::MAX / DAY) * DAY;
    let mut removed = 0;
    for (index, (name, modified)) in backups.iter().enumerate() {
        let path = settings.dir.join(name);
        if keep == Some(path.as_path()) {
            continue;
        }
        let over_count = keep.is_some() && index as u64 >= settings.keep_count;
        if over_count || *modified < oldest {
            std::fs::remove_file(&path).map_err(io(&path))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Backup files in `dir`: name and modification time.
fn list(dir: &Path) -> Result<Vec<(String, i64)>, BackupError> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(err) => return Err(io(dir)(err)),
    };
    for entry in entries {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.starts_with(FILE_PREFIX) && name.ends_with(FILE_SUFFIX)) {
            continue;
        }
        let modified = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        out.push((name, modified));
    }
    Ok(out)
}

/// The time by which every backup made up to `now` is gone under a retention of
/// `keep_days` (and a day for the job to run): what an erasure receipt promises.
pub fn last_copy_gone_by(keep_days: u64, now: i64) -> i64 {
    now + i64::try_from(keep_days).unwrap_or(3650) * DAY + DAY
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn before_a_run_only_backups_past_their_age_go_whatever_their_count() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings {
            recipients: Vec::new(),
            passphrase: None,
            dir: dir.path().to_owned(),
            keep_count: 1,
            keep_days: 10,
            data_dir: dir.path().to_owned(),
            master_key_path: dir.path().join("master.key"),
        };
        let now = crate::dates::now();
        let made = |name: &str, days_ago: i64| {
            let path = dir.path().join(name);
            std::fs::write(&path, b"earlier").unwrap();
            let at = std::time::UNIX_EPOCH
                + std::time::Duration::from_secs(u64::try_from(now - days_ago * DAY).unwrap());
            std::fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(at)
                .unwrap();
        };
        made("rampart-backup-20260101T024500Z.age", 40);
        made("rampart-backup-20260201T024500Z.age", 3);
        made("rampart-backup-20260202T024500Z.age", 2);

        // Before the run: the one past 10 days goes; the count (1) waits for a new backup.
        assert_eq!(prune(&settings, None, now).unwrap(), 1);
        let mut left: Vec<_> = list(dir.path())
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "rampart-backup-20260201T024500Z.age",
                "rampart-backup-20260202T024500Z.age"
            ]
        );
        // After a backup: the count applies, and the one just written stays.
        let newest = dir.path().join("rampart-backup-20260202T024500Z.age");
        assert_eq!(prune(&settings, Some(&newest), now).unwrap(), 1);
        assert_eq!(list(dir.path()).unwrap().len(), 1);
        assert!(newest.exists());
    }

    #[test]
    fn only_plain_files_of_the_known_folders_are_restored() {
        let org = uuid::Uuid::new_v4();
        assert!(restorable(&format!("evidence/{org}/abc.blob")));
        assert!(restorable(&format!("documents/{org}/abc.blob")));
        for bad in [
            format!("evidence/{org}/../../etc/passwd"),
            format!("/evidence/{org}/a.blob"),
            format!("tls/{org}/key.pem"),
            "evidence/not-an-id/a.blob".to_owned(),
            format!("evidence/{org}/.hidden"),
            format!("evidence/{org}/sub/a.blob"),
            format!("evidence/{org}/.."),
        ] {
            assert!(!restorable(&bad), "{bad}");
        }
    }

    #[test]
    fn names_sort_by_time() {
        assert_eq!(
            file_name(1_795_000_000),
            "rampart-backup-20261118T110640Z.age"
        );
        assert!(file_name(1_795_000_000) < file_name(1_795_000_001));
    }
}
