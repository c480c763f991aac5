//! The redb store: one file, every tenant record sealed under its organization's data key.
//!
//! Tenant tables are reachable only through [`TenantWrite`] and [`TenantRead`], which need an
//! [`access::Grant`](crate::access::Grant) naming one organization. Keys inside a tenant table
//! are prefixed with the organization id by this module, so a holder of one grant has no way to
//! name another organization's rows.

mod cache;
pub mod dump;
mod lock;
mod migrate;
mod txn;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};

use crate::crypto::{CryptoError, MasterKey, SealingKey};

pub use cache::GenerationCache;
pub use dump::{Dump, DumpCounts, DumpError};
pub use lock::{DataDirLock, LockError};
pub use migrate::SCHEMA_VERSION;
pub use txn::{
    ReadTxn, System, SystemGet, SystemRead, SystemTable, Tenant, TenantGet, TenantRead,
    TenantTable, WriteTxn,
};

/// Unencrypted bookkeeping: schema version, master key check. Holds no tenant data.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Organization id -> its data key, wrapped by the master key.
const ORG_KEYS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("org_keys");
const SCHEMA_KEY: &str = "schema_version";
const KEY_CHECK: &str = "master_key_check";
/// Prefixes of sealed tables' redb names (tenant, appliance), so a scan can find them all.
const SEALED_PREFIXES: [&str; 2] = ["t.", "s."];
const ORG_ID_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error(transparent)]
    Locked(#[from] LockError),
    #[error(
        "cannot open store file {path}: {detail}. If the file is damaged, restore it from a backup; Rampart does not repair it in place"
    )]
    Open { path: PathBuf, detail: String },
    #[error(
        "the master key does not open this store: the key check failed. Point master_key_file at the key this store was created with"
    )]
    WrongMasterKey,
    #[error(
        "the store was written by a newer Rampart (schema {found}; this binary supports up to {supported}); install that version or newer"
    )]
    TooNew { found: u64, supported: u64 },
    #[error("the store is damaged: {0}. Restore it from a backup; nothing was changed")]
    Damaged(String),
    #[error("organization {0} does not exist")]
    UnknownOrganization(OrgId),
    #[error("store error: {0}")]
    Redb(String),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

macro_rules! redb_errors {
    ($($ty:ty),*) => {$(
        impl From<$ty> for StoreError {
            fn from(err: $ty) -> Self {
                StoreError::Redb(err.to_string())
            }
        }
    )*};
}
redb_errors!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// An organization's id: 16 random bytes, shown as a UUID.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct OrgId(pub uuid::Uuid);

impl OrgId {
    /// The scope of appliance-wide records (accounts, sessions, audit log): never an
    /// organization, since random ids are version-4 UUIDs and this is the nil UUID.
    pub(crate) const APPLIANCE: OrgId = OrgId(uuid::Uuid::nil());

    pub fn random() -> OrgId {
        OrgId(uuid::Uuid::new_v4())
    }
    fn as_bytes(&self) -> &[u8; ORG_ID_LEN] {
        self.0.as_bytes()
    }
}

impl std::fmt::Display for OrgId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Associated data for a tenant record: its table and full row key.
fn record_aad(table: &str, row_key: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(16 + table.len() + row_key.len());
    aad.extend_from_slice(b"rampart/record/");
    aad.extend_from_slice(table.as_bytes());
    aad.push(0);
    aad.extend_from_slice(row_key);
    aad
}

fn org_key_aad(org: &[u8]) -> Vec<u8> {
    let mut aad = b"rampart/org_key/".to_vec();
    aad.extend_from_slice(org);
    aad
}

fn row_key(org: OrgId, key: &[u8]) -> Vec<u8> {
    let mut row = Vec::with_capacity(ORG_ID_LEN + key.len());
    row.extend_from_slice(org.as_bytes());
    row.extend_from_slice(key);
    row
}

/// `(record key, plaintext)` pairs of one organization's rows in a table, in key order.
pub type Rows = Vec<(Vec<u8>, Vec<u8>)>;

/// What start-up verification found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyReport {
    pub organizations: usize,
    pub records: usize,
}

#[derive(Debug)]
pub struct Store {
    db: Database,
    master: MasterKey,
    path: PathBuf,
    schema_version: u64,
    /// Bumped after every committed write, so caches of store contents can tell they are
    /// stale without reading the store.
    generation: std::sync::atomic::AtomicU64,
    /// Held shared while a backup copies the files the store refers to (evidence blobs,
    /// documents), exclusively by whoever removes such files, so a backup never holds a
    /// record whose file it missed.
    files: std::sync::RwLock<()>,
}

impl Store {
    /// Opens (or creates) the store at `path`, checks the master key, authenticates every
    /// record, then runs migrations. Fails without changing anything if any check fails.
    pub fn open(path: &Path, master: MasterKey) -> Result<Store, StoreError> {
        let open_err = |err: redb::DatabaseError| StoreError::Open {
            path: path.to_owned(),
            detail: err.to_string(),
        };
        // Checks run on a read-only handle first: opening read-write rewrites the header,
        // and a store that fails a check must be left byte-for-byte as it was.
        let mut checked = false;
        let mut copied = false;
        if path.exists() {
            match redb::ReadOnlyDatabase::open(path) {
                Ok(db) => {
                    let version = check_existing(&db, &master)?;
                    verify_records(&db, &master)?;
                    checked = true;
                    // Copied before the read-write open below rewrites the header, so the
                    // copy is the file exactly as the earlier release left it.
                    if let Some(version) = version.filter(|v| *v < SCHEMA_VERSION) {
                        keep_copy_before_migration(path, version)?;
                        copied = true;
                    }
                }
                // Shut down uncleanly without quick-repair state: redb's own crash recovery
                // runs on the read-write open below, then the same checks.
                Err(redb::DatabaseError::RepairAborted) => {}
                Err(err) => return Err(open_err(err)),
            }
        }
        let db = Database::create(path).map_err(open_err)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|err| {
            StoreError::Open {
                path: path.to_owned(),
                detail: format!("cannot restrict its permissions: {err}"),
            }
        })?;
        let from = check_existing(&db, &master)?;
        if !checked {
            verify_records(&db, &master)?;
        }
        if let Some(version) = from.filter(|v| *v < SCHEMA_VERSION && !copied) {
            keep_copy_before_migration(path, version)?;
        }
        let schema_version = migrate::run(&db, &master, from.unwrap_or(0))?;
        Ok(Store {
            db,
            master,
            path: path.to_owned(),
            schema_version,
            generation: std::sync::atomic::AtomicU64::new(first_generation()),
            files: std::sync::RwLock::new(()),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn schema_version(&self) -> u64 {
        self.schema_version
    }

    /// Decrypts every tenant record under its organization's key.
    pub fn verify(&self) -> Result<VerifyReport, StoreError> {
        verify_records(&self.db, &self.master)
    }

    /// Ids of every organization with a data key.
    pub fn organizations(&self) -> Result<Vec<OrgId>, StoreError> {
        let txn = self.db.begin_read()?;
        let keys = txn.open_table(ORG_KEYS)?;
        let mut ids = Vec::new();
        for entry in keys.iter()? {
            let (org, _) = entry?;
            let bytes: [u8; ORG_ID_LEN] = org.value().try_into().map_err(|_| {
                StoreError::Damaged("an organization id has the wrong length".into())
            })?;
            let id = OrgId(uuid::Uuid::from_bytes(bytes));
            if id != OrgId::APPLIANCE {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    fn begin_write(&self) -> Result<WriteTransaction, StoreError> {
        let mut txn = self.db.begin_write()?;
        // Saves allocator state with each commit, so after a crash the store opens (read-only
        // checks included) without a full repair scan.
        txn.set_quick_repair(true);
        Ok(txn)
    }

    /// A write transaction: every change in it commits together, durably, or not at all.
    pub fn write(&self) -> Result<WriteTxn<'_>, StoreError> {
        Ok(WriteTxn::new(self, self.begin_write()?))
    }

    /// Changes whenever a write transaction commits. Read it before reading what it guards:
    /// an entry cached under a generation is current while the generation is unchanged.
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    pub(crate) fn bump_generation(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// Keeps files the store refers to from being removed while the guard lives.
    pub fn pin_files(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        self.files
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Leave to remove files the store referred to; waits for running backups.
    pub fn removing_files(&self) -> std::sync::RwLockWriteGuard<'_, ()> {
        self.files
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// [`Store::removing_files`] without waiting: `None` while a backup runs.
    pub fn try_removing_files(&self) -> Option<std::sync::RwLockWriteGuard<'_, ()>> {
        match self.files.try_write() {
            Ok(guard) => Some(guard),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// A consistent read snapshot.
    pub fn read(&self) -> Result<ReadTxn<'_>, StoreError> {
        Ok(ReadTxn::new(self, self.db.begin_read()?))
    }
}

/// Where a newly opened store's generations start: each store opened in this process gets
/// its own range of 2^40, so a cache entry read from one store (or from an earlier opening
/// of the same file) never matches another's generation.
fn first_generation() -> u64 {
    static OPENED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    OPENED.fetch_add(1, std::sync::atomic::Ordering::Relaxed) << 40
}

/// Copies the store file aside before a migration changes it, so an upgrade that goes wrong
/// is undone by putting the copy back (with the binary that wrote it). Nothing writes while
/// this runs: no transaction has begun. Records stay sealed in the copy, under the same
/// master key.
fn keep_copy_before_migration(path: &Path, version: u64) -> Result<(), StoreError> {
    let copy = path.with_extension(format!("schema-{version}.{}.bak", crate::dates::now()));
    let fail = |err: std::io::Error| StoreError::Open {
        path: copy.clone(),
        detail: format!("cannot keep a copy before migrating: {err}"),
    };
    std::fs::copy(path, &copy).map_err(fail)?;
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o600)).map_err(fail)?;
    std::fs::File::open(&copy)
        .and_then(|file| file.sync_all())
        .map_err(fail)?;
    tracing::info!(copy = %copy.display(), from = version, to = SCHEMA_VERSION, "store copied before migrating");
    Ok(())
}

impl Store {
    /// Removes the copies of the store kept before migrations (see
    /// [`keep_copy_before_migration`]); returns how many went. An erasure calls this: a copy
    /// still holds what was erased, and one put back would bring it back.
    pub fn remove_copies_before_migration(&self) -> usize {
        let (Some(dir), Some(stem)) = (self.path.parent(), self.path.file_stem()) else {
            return 0;
        };
        let prefix = format!("{}.schema-", stem.to_string_lossy());
        let Ok(entries) = std::fs::read_dir(dir) else {
            return 0;
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if !(name.starts_with(&prefix) && name.ends_with(".bak")) {
                continue;
            }
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(err) => {
                    tracing::warn!(copy = %name, error = %err, "could not remove a copy of the store kept before a migration")
                }
            }
        }
        removed
    }
}

/// Schema version (refusing newer ones) and master key check of an existing store; `None`
/// for a store never initialised.
fn check_existing(
    db: &impl ReadableDatabase,
    master: &MasterKey,
) -> Result<Option<u64>, StoreError> {
    let version = migrate::stored_version(db)?;
    match version {
        Some(found) if found > SCHEMA_VERSION => {
            return Err(StoreError::TooNew {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        Some(_) => check_master_key(db, master)?,
        None if has_any_table(db)? => {
            return Err(StoreError::Damaged(
                "tables exist but the schema version record is missing".into(),
            ));
        }
        None => {}
    }
    Ok(version)
}

/// Decrypts every tenant record under its organization's key. A truncated, altered or moved
/// ciphertext makes this fail, naming the table.
fn verify_records(
    db: &impl ReadableDatabase,
    master: &MasterKey,
) -> Result<VerifyReport, StoreError> {
    let txn = db.begin_read()?;
    let keys = match txn.open_table(ORG_KEYS) {
        Ok(keys) => keys,
        Err(redb::TableError::TableDoesNotExist(_)) => {
            return Ok(VerifyReport {
                organizations: 0,
                records: 0,
            });
        }
        Err(err) => return Err(err.into()),
    };
    let mut org_keys = std::collections::HashMap::new();
    for entry in keys.iter()? {
        let (org, wrapped) = entry?;
        let key = SealingKey::unwrap_with(
            master.sealing_key(),
            &org_key_aad(org.value()),
            wrapped.value(),
        )
        .map_err(|_| StoreError::Damaged("an organization key fails authentication".into()))?;
        org_keys.insert(org.value().to_vec(), key);
    }
    let mut records = 0;
    for handle in txn.list_tables()? {
        let name = redb::TableHandle::name(&handle).to_owned();
        if !SEALED_PREFIXES
            .iter()
            .any(|prefix| name.starts_with(prefix))
        {
            continue;
        }
        let table = txn.open_table(TableDefinition::<&[u8], &[u8]>::new(&name))?;
        for entry in table.iter()? {
            let (row, sealed) = entry?;
            let row = row.value();
            let key = row
                .get(..ORG_ID_LEN)
                .and_then(|org| org_keys.get(org))
                .ok_or_else(|| {
                    StoreError::Damaged(format!("a row in table {name} belongs to no organization"))
                })?;
            key.open(&record_aad(&name, row), sealed.value()).map_err(|_| {
                StoreError::Damaged(format!(
                    "a record in table {name} fails authentication (truncated, altered or moved)"
                ))
            })?;
            records += 1;
        }
    }
    Ok(VerifyReport {
        organizations: org_keys
            .keys()
            .filter(|id| id.as_slice() != OrgId::APPLIANCE.as_bytes())
            .count(),
        records,
    })
}

fn check_master_key(db: &impl ReadableDatabase, master: &MasterKey) -> Result<(), StoreError> {
    let txn = db.begin_read()?;
    let meta = txn.open_table(META)?;
    let check = meta
        .get(KEY_CHECK)?
        .ok_or_else(|| StoreError::Damaged("the master key check record is missing".into()))?;
    let plain = master
        .sealing_key()
        .open(migrate::KEY_CHECK_AAD, check.value())
        .map_err(|_| StoreError::WrongMasterKey)?;
    if plain != migrate::KEY_CHECK_PLAINTEXT {
        return Err(StoreError::WrongMasterKey);
    }
    Ok(())
}

fn has_any_table(db: &impl ReadableDatabase) -> Result<bool, StoreError> {
    let txn = db.begin_read()?;
    Ok(txn.list_tables()?.next().is_some())
}
