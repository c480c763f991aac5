//! A logical copy of the store for backups: every table's rows, as stored (sealed records
//! stay sealed), read from one read transaction and so consistent while the daemon writes.
//!
//! Format: the magic line, then per table a header (kind, name) and its rows, each length
//! prefixed, then an end mark with the row count. Tables come in redb's name order, so the
//! bookkeeping (`meta`, `org_keys`) precedes every sealed table and a reader can check each
//! record as it streams past. Copying redb's file instead would need the writer stopped:
//! a commit rewrites the header while the copy runs.

use std::io::{Read, Write};
use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableHandle};

use super::{
    KEY_CHECK, META, ORG_ID_LEN, ORG_KEYS, SEALED_PREFIXES, Store, StoreError, org_key_aad,
    record_aad,
};
use crate::crypto::{MasterKey, SealingKey};

const MAGIC: &[u8] = b"rampart-store-dump-v1\n";
const TABLE: u8 = 1;
const ROW: u8 = 2;
const END: u8 = 3;
/// `meta` is the one table keyed by text.
const KIND_TEXT: u8 = 0;
const KIND_BYTES: u8 = 1;
/// Bounds on what a reader accepts, so a damaged dump cannot make it allocate wildly.
const MAX_NAME: usize = 1024;
const MAX_KEY: usize = 64 * 1024;
const MAX_VALUE: usize = 256 * 1024 * 1024;

fn bytes_table(name: &str) -> TableDefinition<'_, &'static [u8], &'static [u8]> {
    TableDefinition::new(name)
}

/// What a dump holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DumpCounts {
    pub tables: u64,
    pub rows: u64,
    /// Organizations with a data key (the appliance scope not counted).
    pub organizations: u64,
}

/// One consistent read of the whole store, to be written as a dump.
pub struct Dump {
    txn: redb::ReadTransaction,
    tables: Vec<(String, u8)>,
}

impl Store {
    /// Starts a dump: the snapshot is taken now, whatever commits later.
    pub fn dump(&self) -> Result<Dump, StoreError> {
        let txn = self.db.begin_read()?;
        let mut tables = Vec::new();
        for handle in txn.list_tables()? {
            let name = handle.name().to_owned();
            let kind = if name == META.name() {
                KIND_TEXT
            } else {
                KIND_BYTES
            };
            tables.push((name, kind));
        }
        tables.sort();
        Ok(Dump { txn, tables })
    }
}

fn put_len(out: &mut impl Write, len: usize) -> std::io::Result<()> {
    let len = u32::try_from(len)
        .map_err(|_| std::io::Error::other("a store row is larger than a dump can hold"))?;
    out.write_all(&len.to_be_bytes())
}

impl Dump {
    /// The exact number of bytes [`Dump::write`] will write (an archive header needs it
    /// first).
    pub fn size(&self) -> Result<u64, StoreError> {
        let mut counter = Counter(0);
        self.write(&mut counter).map_err(|err| match err {
            DumpError::Store(err) => err,
            other => StoreError::Redb(other.to_string()),
        })?;
        Ok(counter.0)
    }

    pub fn write(&self, out: &mut impl Write) -> Result<DumpCounts, DumpError> {
        out.write_all(MAGIC)?;
        let mut counts = DumpCounts::default();
        for (name, kind) in &self.tables {
            out.write_all(&[TABLE, *kind])?;
            put_len(out, name.len())?;
            out.write_all(name.as_bytes())?;
            counts.tables += 1;
            let mut row = |key: &[u8], value: &[u8]| -> std::io::Result<()> {
                out.write_all(&[ROW])?;
                put_len(out, key.len())?;
                out.write_all(key)?;
                put_len(out, value.len())?;
                out.write_all(value)?;
                counts.rows += 1;
                Ok(())
            };
            if *kind == KIND_TEXT {
                let table = self.txn.open_table(META)?;
                for entry in table.iter()? {
                    let (key, value) = entry?;
                    row(key.value().as_bytes(), value.value())?;
                }
            } else {
                let table = self.txn.open_table(bytes_table(name))?;
                for entry in table.iter()? {
                    let (key, value) = entry?;
                    if name == ORG_KEYS.name()
                        && key.value().len() == ORG_ID_LEN
                        && key.value() != super::OrgId::APPLIANCE.as_bytes()
                    {
                        counts.organizations += 1;
                    }
                    row(key.value(), value.value())?;
                }
            }
        }
        out.write_all(&[END])?;
        out.write_all(&counts.rows.to_be_bytes())?;
        Ok(counts)
    }
}

struct Counter(u64);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DumpError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the store copy is damaged: {0}")]
    Malformed(String),
    #[error("the store copy does not match its master key: {0}")]
    Key(String),
}

macro_rules! dump_redb_errors {
    ($($ty:ty),*) => {$(
        impl From<$ty> for DumpError {
            fn from(err: $ty) -> Self {
                DumpError::Store(err.into())
            }
        }
    )*};
}
dump_redb_errors!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// One item read back from a dump.
enum Item {
    Table { name: String, kind: u8 },
    Row { key: Vec<u8>, value: Vec<u8> },
    End { rows: u64 },
}

struct Reader<R> {
    input: R,
}

impl<R: Read> Reader<R> {
    fn new(mut input: R) -> Result<Self, DumpError> {
        let mut magic = [0u8; MAGIC.len()];
        input
            .read_exact(&mut magic)
            .map_err(|_| DumpError::Malformed("it is not a Rampart store copy".into()))?;
        if magic != MAGIC {
            return Err(DumpError::Malformed(
                "it is not a Rampart store copy (or one of a newer format)".into(),
            ));
        }
        Ok(Reader { input })
    }

    fn byte(&mut self) -> Result<u8, DumpError> {
        let mut b = [0u8; 1];
        self.input.read_exact(&mut b).map_err(truncated)?;
        Ok(b[0])
    }

    fn chunk(&mut self, max: usize, what: &str) -> Result<Vec<u8>, DumpError> {
        let mut len = [0u8; 4];
        self.input.read_exact(&mut len).map_err(truncated)?;
        let len = u32::from_be_bytes(len) as usize;
        if len > max {
            return Err(DumpError::Malformed(format!(
                "a {what} of {len} bytes is larger than any the store writes"
            )));
        }
        let mut bytes = vec![0u8; len];
        self.input.read_exact(&mut bytes).map_err(truncated)?;
        Ok(bytes)
    }

    fn next(&mut self) -> Result<Item, DumpError> {
        match self.byte()? {
            TABLE => {
                let kind = self.byte()?;
                if kind != KIND_TEXT && kind != KIND_BYTES {
                    return Err(DumpError::Malformed(format!("unknown table kind {kind}")));
                }
                let name = String::from_utf8(self.chunk(MAX_NAME, "table name")?)
                    .map_err(|_| DumpError::Malformed("a table name is not text".into()))?;
                Ok(Item::Table { name, kind })
            }
            ROW => Ok(Item::Row {
                key: self.chunk(MAX_KEY, "key")?,
                value: self.chunk(MAX_VALUE, "record")?,
            }),
            END => {
                let mut rows = [0u8; 8];
                self.input.read_exact(&mut rows).map_err(truncated)?;
                Ok(Item::End {
                    rows: u64::from_be_bytes(rows),
                })
            }
            other => Err(DumpError::Malformed(format!("unknown item tag {other}"))),
        }
    }
}

fn truncated(_: std::io::Error) -> DumpError {
    DumpError::Malformed("it ends early (truncated)".into())
}

/// Checks every record of a dump as it streams: the master key check, each organization's
/// wrapped key, and each sealed record under its organization's key, bound to its table and
/// row as when it was written.
struct Checker<'a> {
    master: &'a MasterKey,
    org_keys: std::collections::HashMap<Vec<u8>, SealingKey>,
    key_checked: bool,
    counts: DumpCounts,
}

impl Checker<'_> {
    fn row(&mut self, table: &str, key: &[u8], value: &[u8]) -> Result<(), DumpError> {
        self.counts.rows += 1;
        if table == META.name() {
            if key == KEY_CHECK.as_bytes() {
                let plain = self
                    .master
                    .sealing_key()
                    .open(super::migrate::KEY_CHECK_AAD, value)
                    .map_err(|_| {
                        DumpError::Key(
                            "the master key in the backup does not open its store".into(),
                        )
                    })?;
                if plain != super::migrate::KEY_CHECK_PLAINTEXT {
                    return Err(DumpError::Key("the master key check does not match".into()));
                }
                self.key_checked = true;
            }
            return Ok(());
        }
        if table == ORG_KEYS.name() {
            let unwrapped =
                SealingKey::unwrap_with(self.master.sealing_key(), &org_key_aad(key), value)
                    .map_err(|_| {
                        DumpError::Key("an organization key fails authentication".into())
                    })?;
            if key != super::OrgId::APPLIANCE.as_bytes() {
                self.counts.organizations += 1;
            }
            self.org_keys.insert(key.to_vec(), unwrapped);
            return Ok(());
        }
        if SEALED_PREFIXES.iter().any(|p| table.starts_with(p)) {
            let org_key = key
                .get(..ORG_ID_LEN)
                .and_then(|org| self.org_keys.get(org))
                .ok_or_else(|| {
                    DumpError::Malformed(format!(
                        "a row in table {table} belongs to no organization"
                    ))
                })?;
            org_key.open(&record_aad(table, key), value).map_err(|_| {
                DumpError::Malformed(format!(
                    "a record in table {table} fails authentication (altered)"
                ))
            })?;
        }
        Ok(())
    }
}

/// Reads a whole dump, checking every record against `master` ([`Checker`]), and passes
/// each table and row to `sink`.
fn read_checked(
    input: impl Read,
    master: &MasterKey,
    mut sink: impl FnMut(&str, u8, Option<(&[u8], &[u8])>) -> Result<(), DumpError>,
) -> Result<DumpCounts, DumpError> {
    let mut reader = Reader::new(input)?;
    let mut checker = Checker {
        master,
        org_keys: std::collections::HashMap::new(),
        key_checked: false,
        counts: DumpCounts::default(),
    };
    let mut current: Option<(String, u8)> = None;
    loop {
        match reader.next()? {
            Item::Table { name, kind } => {
                if current
                    .as_ref()
                    .is_some_and(|(previous, _)| *previous >= name)
                {
                    return Err(DumpError::Malformed("tables out of order".into()));
                }
                sink(&name, kind, None)?;
                checker.counts.tables += 1;
                current = Some((name, kind));
            }
            Item::Row { key, value } => {
                let Some((table, kind)) = &current else {
                    return Err(DumpError::Malformed("a row before any table".into()));
                };
                checker.row(table, &key, &value)?;
                sink(table, *kind, Some((&key, &value)))?;
            }
            Item::End { rows } => {
                if rows != checker.counts.rows {
                    return Err(DumpError::Malformed(format!(
                        "it says {rows} rows but holds {}",
                        checker.counts.rows
                    )));
                }
                let mut rest = [0u8; 1];
                if reader.input.read(&mut rest)? != 0 {
                    return Err(DumpError::Malformed("bytes after its end".into()));
                }
                break;
            }
        }
    }
    if !checker.key_checked {
        return Err(DumpError::Malformed("it has no master key check".into()));
    }
    Ok(checker.counts)
}

/// Checks a dump without writing anything.
pub fn check(input: impl Read, master: &MasterKey) -> Result<DumpCounts, DumpError> {
    read_checked(input, master, |_, _, _| Ok(()))
}

/// Writes a dump into a new store file at `path` (which must not exist), in one
/// transaction, checking every record on the way. The caller opens it with [`Store::open`]
/// afterwards, which checks it again as any store.
pub fn restore(input: impl Read, master: &MasterKey, path: &Path) -> Result<DumpCounts, DumpError> {
    if path.exists() {
        return Err(DumpError::Malformed(format!(
            "{} exists already; a restore writes only a new store",
            path.display()
        )));
    }
    let db = Database::create(path).map_err(|err| StoreError::Open {
        path: path.to_owned(),
        detail: err.to_string(),
    })?;
    let txn = db.begin_write()?;
    let counts = read_checked(input, master, |table, kind, row| {
        match (kind, row) {
            (KIND_TEXT, None) => {
                txn.open_table(META)?;
            }
            (KIND_TEXT, Some((key, value))) => {
                if table != META.name() {
                    return Err(DumpError::Malformed(format!(
                        "table {table} cannot be keyed by text"
                    )));
                }
                let key = std::str::from_utf8(key)
                    .map_err(|_| DumpError::Malformed("a meta key is not text".into()))?;
                txn.open_table(META)?.insert(key, value)?;
            }
            (_, None) => {
                txn.open_table(bytes_table(table))?;
            }
            (_, Some((key, value))) => {
                txn.open_table(bytes_table(table))?.insert(key, value)?;
            }
        }
        Ok(())
    })?;
    txn.commit()?;
    drop(db);
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn populated() -> (tempfile::TempDir, Store) {
        let (dir, store) = crate::audit::tests::store();
        crate::org::create(
            &store,
            &crate::access::ApplianceOperator::local(),
            "Acme",
            1_800_000_000,
        )
        .unwrap();
        (dir, store)
    }

    #[test]
    fn a_dump_restores_to_an_identical_store() {
        let (dir, store) = populated();
        let dump = store.dump().unwrap();
        let mut bytes = Vec::new();
        let counts = dump.write(&mut bytes).unwrap();
        assert_eq!(dump.size().unwrap(), bytes.len() as u64);
        assert_eq!(counts.organizations, 1);
        let master = crate::crypto::MasterKey::load(&dir.path().join("master.key")).unwrap();
        assert_eq!(check(bytes.as_slice(), &master).unwrap(), counts);

        let copy = dir.path().join("copy.redb");
        restore(bytes.as_slice(), &master, &copy).unwrap();
        let restored = Store::open(&copy, master).unwrap();
        let mut again = Vec::new();
        restored.dump().unwrap().write(&mut again).unwrap();
        assert_eq!(again, bytes);
    }

    #[test]
    fn a_damaged_dump_is_refused_with_its_problem() {
        let (dir, store) = populated();
        let mut bytes = Vec::new();
        store.dump().unwrap().write(&mut bytes).unwrap();
        let master = || crate::crypto::MasterKey::load(&dir.path().join("master.key")).unwrap();

        let cut = &bytes[..bytes.len() - 20];
        let err = check(cut, &master()).unwrap_err().to_string();
        assert!(err.contains("truncated"), "{err}");

        let mut flipped = bytes.clone();
        let at = flipped.len() - 40;
        flipped[at] ^= 1;
        let err = check(flipped.as_slice(), &master())
            .unwrap_err()
            .to_string();
        assert!(err.contains("fails authentication"), "{err}");

        let other = tempfile::tempdir().unwrap();
        let wrong = crate::crypto::MasterKey::create(&other.path().join("k")).unwrap();
        let err = check(bytes.as_slice(), &wrong).unwrap_err().to_string();
        assert!(err.contains("master key"), "{err}");
        let path = other.path().join("never.redb");
        assert!(restore(bytes.as_slice(), &wrong, &path).is_err());
    }
}
