//! The redb store: one file, every tenant record sealed under its organization's data key.
//!
//! Tenant tables are reachable only through [`TenantWrite`] and [`TenantRead`], which need an
//! [`access::Grant`](crate::access::Grant) naming one organization. Keys inside a tenant table
//! are prefixed with the organization id by this module, so a holder of one grant has no way to
//! name another organization's rows.

mod lock;
mod migrate;

use std::path::{Path, PathBuf};

use redb::{
    Database, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction,
};

use crate::access::Grant;
use crate::crypto::{CryptoError, MasterKey, SealingKey};

pub use lock::{DataDirLock, LockError};
pub use migrate::SCHEMA_VERSION;

/// Unencrypted bookkeeping: schema version, master key check. Holds no tenant data.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Organization id -> its data key, wrapped by the master key.
const ORG_KEYS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("org_keys");
const SCHEMA_KEY: &str = "schema_version";
const KEY_CHECK: &str = "master_key_check";
/// Prefix of every tenant table's redb name, so a scan can find them all.
const TENANT_PREFIX: &str = "t.";
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

/// A tenant table, declared by the module that owns it.
#[derive(Debug, Clone, Copy)]
pub struct TenantTable {
    name: &'static str,
}

impl TenantTable {
    /// `name` must start with `t.`, the mark of a tenant table.
    pub const fn new(name: &'static str) -> TenantTable {
        TenantTable { name }
    }
    fn definition(&self) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
        TableDefinition::new(self.name)
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
        if path.exists() {
            match redb::ReadOnlyDatabase::open(path) {
                Ok(db) => {
                    check_existing(&db, &master)?;
                    verify_records(&db, &master)?;
                    checked = true;
                }
                // Shut down uncleanly without quick-repair state: redb's own crash recovery
                // runs on the read-write open below, then the same checks.
                Err(redb::DatabaseError::RepairAborted) => {}
                Err(err) => return Err(open_err(err)),
            }
        }
        let db = Database::create(path).map_err(open_err)?;
        let from = check_existing(&db, &master)?;
        if !checked {
            verify_records(&db, &master)?;
        }
        let schema_version = migrate::run(&db, &master, from.unwrap_or(0))?;
        Ok(Store {
            db,
            master,
            path: path.to_owned(),
            schema_version,
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
            ids.push(OrgId(uuid::Uuid::from_bytes(bytes)));
        }
        Ok(ids)
    }

    fn data_key(
        &self,
        keys: &impl ReadableTable<&'static [u8], &'static [u8]>,
        org: OrgId,
    ) -> Result<SealingKey, StoreError> {
        let wrapped = keys
            .get(org.as_bytes().as_slice())?
            .ok_or(StoreError::UnknownOrganization(org))?;
        Ok(SealingKey::unwrap_with(
            self.master.sealing_key(),
            &org_key_aad(org.as_bytes()),
            wrapped.value(),
        )?)
    }

    fn begin_write(&self) -> Result<WriteTransaction, StoreError> {
        let mut txn = self.db.begin_write()?;
        // Saves allocator state with each commit, so after a crash the store opens (read-only
        // checks included) without a full repair scan.
        txn.set_quick_repair(true);
        Ok(txn)
    }

    /// A write transaction for the organization `grant` names.
    pub fn write(&self, grant: &Grant) -> Result<TenantWrite, StoreError> {
        let txn = self.begin_write()?;
        let key = {
            let keys = txn.open_table(ORG_KEYS)?;
            self.data_key(&keys, grant.org())?
        };
        Ok(TenantWrite {
            txn,
            org: grant.org(),
            key,
        })
    }

    /// A write transaction that first creates the organization `grant` names, with a fresh
    /// data key; nothing exists until it commits.
    pub fn write_new_organization(&self, grant: &Grant) -> Result<TenantWrite, StoreError> {
        let txn = self.begin_write()?;
        let key = SealingKey::generate()?;
        {
            let mut keys = txn.open_table(ORG_KEYS)?;
            let org = grant.org();
            if keys.get(org.as_bytes().as_slice())?.is_some() {
                return Err(StoreError::Redb(format!(
                    "organization {org} already exists"
                )));
            }
            let wrapped = key.wrap(self.master.sealing_key(), &org_key_aad(org.as_bytes()))?;
            keys.insert(org.as_bytes().as_slice(), wrapped.as_slice())?;
        }
        Ok(TenantWrite {
            txn,
            org: grant.org(),
            key,
        })
    }

    /// A consistent read snapshot of the organization `grant` names.
    pub fn read(&self, grant: &Grant) -> Result<TenantRead, StoreError> {
        let txn = self.db.begin_read()?;
        let key = {
            let keys = txn.open_table(ORG_KEYS)?;
            self.data_key(&keys, grant.org())?
        };
        Ok(TenantRead {
            txn,
            org: grant.org(),
            key,
        })
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
        if !name.starts_with(TENANT_PREFIX) {
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
        organizations: org_keys.len(),
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

/// Reads and writes one organization's records inside one redb write transaction.
pub struct TenantWrite {
    txn: WriteTransaction,
    org: OrgId,
    key: SealingKey,
}

impl TenantWrite {
    pub fn org(&self) -> OrgId {
        self.org
    }

    pub fn put(&mut self, table: TenantTable, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let row = row_key(self.org, key);
        let sealed = self.key.seal(&record_aad(table.name, &row), value)?;
        let mut t = self.txn.open_table(table.definition())?;
        t.insert(row.as_slice(), sealed.as_slice())?;
        Ok(())
    }

    pub fn get(&self, table: TenantTable, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let t = self.txn.open_table(table.definition())?;
        open_row(&t, table, self.org, &self.key, key)
    }

    pub fn delete(&mut self, table: TenantTable, key: &[u8]) -> Result<bool, StoreError> {
        let mut t = self.txn.open_table(table.definition())?;
        let removed = t.remove(row_key(self.org, key).as_slice())?.is_some();
        Ok(removed)
    }

    pub fn list(&self, table: TenantTable) -> Result<Rows, StoreError> {
        let t = self.txn.open_table(table.definition())?;
        list_rows(&t, table, self.org, &self.key)
    }

    /// Makes every change durable (fsync) before returning.
    pub fn commit(self) -> Result<(), StoreError> {
        self.txn.commit()?;
        Ok(())
    }
}

/// A read snapshot of one organization's records.
pub struct TenantRead {
    txn: ReadTransaction,
    org: OrgId,
    key: SealingKey,
}

impl TenantRead {
    pub fn get(&self, table: TenantTable, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.txn.open_table(table.definition()) {
            Ok(t) => open_row(&t, table, self.org, &self.key, key),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    pub fn list(&self, table: TenantTable) -> Result<Rows, StoreError> {
        match self.txn.open_table(table.definition()) {
            Ok(t) => list_rows(&t, table, self.org, &self.key),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(Vec::new()),
            Err(err) => Err(err.into()),
        }
    }
}

fn open_row(
    t: &impl ReadableTable<&'static [u8], &'static [u8]>,
    table: TenantTable,
    org: OrgId,
    key: &SealingKey,
    record_key: &[u8],
) -> Result<Option<Vec<u8>>, StoreError> {
    let row = row_key(org, record_key);
    let Some(sealed) = t.get(row.as_slice())? else {
        return Ok(None);
    };
    let plain = key
        .open(&record_aad(table.name, &row), sealed.value())
        .map_err(|_| {
            StoreError::Damaged(format!(
                "a record in table {} fails authentication",
                table.name
            ))
        })?;
    Ok(Some(plain))
}

fn list_rows(
    t: &impl ReadableTable<&'static [u8], &'static [u8]>,
    table: TenantTable,
    org: OrgId,
    key: &SealingKey,
) -> Result<Rows, StoreError> {
    let start = org.as_bytes().to_vec();
    let mut rows = Vec::new();
    for entry in t.range(start.as_slice()..)? {
        let (row, sealed) = entry?;
        let row = row.value();
        let Some(record_key) = row.strip_prefix(start.as_slice()) else {
            break;
        };
        let plain = key
            .open(&record_aad(table.name, row), sealed.value())
            .map_err(|_| {
                StoreError::Damaged(format!(
                    "a record in table {} fails authentication",
                    table.name
                ))
            })?;
        rows.push((record_key.to_vec(), plain));
    }
    Ok(rows)
}
