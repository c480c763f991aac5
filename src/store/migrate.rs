//! Schema versions and migrations: one migration per write transaction, applied in order at
//! start; a store written by a newer Rampart is refused rather than guessed at.

use redb::{ReadableDatabase, WriteTransaction};

use super::{KEY_CHECK, META, ORG_KEYS, OrgId, SCHEMA_KEY, StoreError, org_key_aad};
use crate::crypto::{MasterKey, SealingKey};

/// The schema this binary writes.
pub const SCHEMA_VERSION: u64 = 2;

/// The text sealed under the master key so a wrong key is told apart from damage.
pub(super) const KEY_CHECK_PLAINTEXT: &[u8] = b"rampart master key check";
pub(super) const KEY_CHECK_AAD: &[u8] = b"rampart/meta/master_key_check";

struct Migration {
    to: u64,
    apply: fn(&WriteTransaction, &MasterKey) -> Result<(), StoreError>,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        to: 1,
        apply: create_base_tables,
    },
    Migration {
        to: 2,
        apply: create_appliance_key,
    },
];

fn create_base_tables(txn: &WriteTransaction, master: &MasterKey) -> Result<(), StoreError> {
    txn.open_table(ORG_KEYS)?;
    let mut meta = txn.open_table(META)?;
    let check = master
        .sealing_key()
        .seal(KEY_CHECK_AAD, KEY_CHECK_PLAINTEXT)?;
    meta.insert(KEY_CHECK, check.as_slice())?;
    Ok(())
}

/// The data key of the appliance scope (accounts, sessions, audit log), kept beside the
/// organizations' keys under the nil id.
fn create_appliance_key(txn: &WriteTransaction, master: &MasterKey) -> Result<(), StoreError> {
    let id = OrgId::APPLIANCE;
    let wrapped =
        SealingKey::generate()?.wrap(master.sealing_key(), &org_key_aad(id.as_bytes()))?;
    txn.open_table(ORG_KEYS)?
        .insert(id.as_bytes().as_slice(), wrapped.as_slice())?;
    Ok(())
}

/// Reads the stored schema version; `None` for a store that has never been initialised.
pub(super) fn stored_version(db: &impl ReadableDatabase) -> Result<Option<u64>, StoreError> {
    let txn = db.begin_read()?;
    let meta = match txn.open_table(META) {
        Ok(meta) => meta,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(err) => return Err(err.into()),
    };
    let Some(value) = meta.get(SCHEMA_KEY)? else {
        return Ok(None);
    };
    let bytes: [u8; 8] = value
        .value()
        .try_into()
        .map_err(|_| StoreError::Damaged("schema version record has the wrong length".into()))?;
    Ok(Some(u64::from_be_bytes(bytes)))
}

/// Brings the store from `from` to [`SCHEMA_VERSION`], one committed step at a time.
pub(super) fn run(db: &redb::Database, master: &MasterKey, from: u64) -> Result<u64, StoreError> {
    let mut version = from;
    for migration in MIGRATIONS.iter().filter(|m| m.to > from) {
        let mut txn = db.begin_write()?;
        txn.set_quick_repair(true);
        (migration.apply)(&txn, master)?;
        {
            let mut meta = txn.open_table(META)?;
            meta.insert(SCHEMA_KEY, migration.to.to_be_bytes().as_slice())?;
        }
        txn.commit()?;
        tracing::info!(from = version, to = migration.to, "store migrated");
        version = migration.to;
    }
    Ok(version)
}
