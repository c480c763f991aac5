//! Transactions and the scopes inside them.
//!
//! A [`WriteTxn`] is one redb write transaction. Records are reached through a scope: a
//! [`Tenant`] for one organization (needs an [`access::Grant`](crate::access::Grant)) or the
//! [`System`] scope for appliance-wide records such as accounts and the audit log (needs an
//! [`access::SystemGrant`](crate::access::SystemGrant)). A scope prefixes every row key with
//! its id and seals every value under its own data key, binding table and row as associated
//! data, so no scope can name or read another's rows.

use redb::{ReadTransaction, ReadableTable, TableDefinition, WriteTransaction};

use super::{ORG_KEYS, OrgId, Rows, Store, StoreError, org_key_aad, record_aad, row_key};
use crate::access::{Grant, SystemGrant};
use crate::crypto::SealingKey;

/// A table of organization records, declared by the module that owns it.
#[derive(Debug, Clone, Copy)]
pub struct TenantTable(&'static str);

impl TenantTable {
    /// `name` must start with `t.`, the mark of a tenant table.
    pub const fn new(name: &'static str) -> TenantTable {
        TenantTable(name)
    }
}

/// A table of appliance-wide records, declared by the module that owns it.
#[derive(Debug, Clone, Copy)]
pub struct SystemTable(&'static str);

impl SystemTable {
    /// `name` must start with `s.`, the mark of an appliance table.
    pub const fn new(name: &'static str) -> SystemTable {
        SystemTable(name)
    }
}

fn definition(name: &str) -> TableDefinition<'_, &'static [u8], &'static [u8]> {
    TableDefinition::new(name)
}

fn unwrap_key(
    store: &Store,
    keys: &impl ReadableTable<&'static [u8], &'static [u8]>,
    scope: OrgId,
) -> Result<SealingKey, StoreError> {
    let wrapped = keys
        .get(scope.as_bytes().as_slice())?
        .ok_or(StoreError::UnknownOrganization(scope))?;
    Ok(SealingKey::unwrap_with(
        store.master.sealing_key(),
        &org_key_aad(scope.as_bytes()),
        wrapped.value(),
    )?)
}

fn open_sealed(
    key: &SealingKey,
    table: &str,
    row: &[u8],
    sealed: &[u8],
) -> Result<Vec<u8>, StoreError> {
    key.open(&record_aad(table, row), sealed)
        .map_err(|_| StoreError::Damaged(format!("a record in table {table} fails authentication")))
}

fn get_row(
    t: &impl ReadableTable<&'static [u8], &'static [u8]>,
    table: &str,
    scope: OrgId,
    key: &SealingKey,
    record_key: &[u8],
) -> Result<Option<Vec<u8>>, StoreError> {
    let row = row_key(scope, record_key);
    match t.get(row.as_slice())? {
        Some(sealed) => open_sealed(key, table, &row, sealed.value()).map(Some),
        None => Ok(None),
    }
}

fn list_rows(
    t: &impl ReadableTable<&'static [u8], &'static [u8]>,
    table: &str,
    scope: OrgId,
    key: &SealingKey,
    from: &[u8],
) -> Result<Rows, StoreError> {
    scan_rows(t, table, scope, key, from, &[])
}

/// Rows of `scope` from `from` on whose record key starts with `prefix`, in key order.
fn scan_rows(
    t: &impl ReadableTable<&'static [u8], &'static [u8]>,
    table: &str,
    scope: OrgId,
    key: &SealingKey,
    from: &[u8],
    prefix: &[u8],
) -> Result<Rows, StoreError> {
    let mut rows = Vec::new();
    visit_rows(t, table, scope, key, from, prefix, |row, value| {
        rows.push((row.to_vec(), value));
        Ok::<(), StoreError>(())
    })?;
    Ok(rows)
}

/// Hands each row [`scan_rows`] would return to `visit` as it is decrypted, so a scan that
/// keeps little of what it reads holds one row at a time.
fn visit_rows<E: From<StoreError>>(
    t: &impl ReadableTable<&'static [u8], &'static [u8]>,
    table: &str,
    scope: OrgId,
    key: &SealingKey,
    from: &[u8],
    prefix: &[u8],
    mut visit: impl FnMut(&[u8], Vec<u8>) -> Result<(), E>,
) -> Result<(), E> {
    let scope_len = scope.as_bytes().len();
    let prefix = row_key(scope, prefix);
    let start = row_key(scope, from).max(prefix.clone());
    for entry in t.range(start.as_slice()..).map_err(StoreError::from)? {
        let (row, sealed) = entry.map_err(StoreError::from)?;
        let row = row.value();
        if !row.starts_with(&prefix) {
            break;
        }
        let value = open_sealed(key, table, row, sealed.value())?;
        visit(row.get(scope_len..).unwrap_or_default(), value)?;
    }
    Ok(())
}

/// One scope's view of a write transaction.
struct WriteScope<'t> {
    txn: &'t WriteTransaction,
    scope: OrgId,
    key: SealingKey,
}

impl WriteScope<'_> {
    fn put(&self, table: &str, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let row = row_key(self.scope, key);
        let sealed = self.key.seal(&record_aad(table, &row), value)?;
        self.txn
            .open_table(definition(table))?
            .insert(row.as_slice(), sealed.as_slice())?;
        Ok(())
    }

    fn get(&self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let t = self.txn.open_table(definition(table))?;
        get_row(&t, table, self.scope, &self.key, key)
    }

    fn delete(&self, table: &str, key: &[u8]) -> Result<bool, StoreError> {
        let mut t = self.txn.open_table(definition(table))?;
        let removed = t.remove(row_key(self.scope, key).as_slice())?.is_some();
        Ok(removed)
    }

    fn list_from(&self, table: &str, from: &[u8]) -> Result<Rows, StoreError> {
        let t = self.txn.open_table(definition(table))?;
        list_rows(&t, table, self.scope, &self.key, from)
    }

    fn list_prefix(&self, table: &str, prefix: &[u8]) -> Result<Rows, StoreError> {
        let t = self.txn.open_table(definition(table))?;
        scan_rows(&t, table, self.scope, &self.key, prefix, prefix)
    }
}

/// One scope's view of a read snapshot.
struct ReadScope<'t> {
    txn: &'t ReadTransaction,
    scope: OrgId,
    key: SealingKey,
}

impl ReadScope<'_> {
    fn get(&self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.txn.open_table(definition(table)) {
            Ok(t) => get_row(&t, table, self.scope, &self.key, key),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    fn list_from(&self, table: &str, from: &[u8]) -> Result<Rows, StoreError> {
        self.list_prefix_from(table, from, &[])
    }

    fn list_prefix_from(
        &self,
        table: &str,
        from: &[u8],
        prefix: &[u8],
    ) -> Result<Rows, StoreError> {
        match self.txn.open_table(definition(table)) {
            Ok(t) => scan_rows(&t, table, self.scope, &self.key, from, prefix),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(Vec::new()),
            Err(err) => Err(err.into()),
        }
    }

    fn list_prefix(&self, table: &str, prefix: &[u8]) -> Result<Rows, StoreError> {
        self.list_prefix_from(table, prefix, prefix)
    }

    fn for_each<E: From<StoreError>>(
        &self,
        table: &str,
        visit: impl FnMut(&[u8], Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        match self.txn.open_table(definition(table)) {
            Ok(t) => visit_rows(&t, table, self.scope, &self.key, &[], &[], visit),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(()),
            Err(err) => Err(StoreError::from(err).into()),
        }
    }
}

/// Generates the typed scope wrappers, so a tenant scope only takes tenant tables and the
/// system scope only system tables.
macro_rules! scope_views {
    ($write:ident, $read:ident, $table:ty) => {
        /// Writes within one scope of a [`WriteTxn`].
        pub struct $write<'t>(WriteScope<'t>);

        impl $write<'_> {
            pub fn put(&self, table: $table, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
                self.0.put(table.0, key, value)
            }
            pub fn get(&self, table: $table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
                self.0.get(table.0, key)
            }
            pub fn delete(&self, table: $table, key: &[u8]) -> Result<bool, StoreError> {
                self.0.delete(table.0, key)
            }
            /// Every row of this scope in `table`, in key order.
            pub fn list(&self, table: $table) -> Result<Rows, StoreError> {
                self.0.list_from(table.0, &[])
            }
            /// Rows whose key is at or after `from`, in key order.
            pub fn list_from(&self, table: $table, from: &[u8]) -> Result<Rows, StoreError> {
                self.0.list_from(table.0, from)
            }
            /// Rows whose key starts with `prefix`, in key order.
            pub fn list_prefix(&self, table: $table, prefix: &[u8]) -> Result<Rows, StoreError> {
                self.0.list_prefix(table.0, prefix)
            }
        }

        /// Reads within one scope of a [`ReadTxn`].
        pub struct $read<'t>(ReadScope<'t>);

        impl $read<'_> {
            pub fn get(&self, table: $table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
                self.0.get(table.0, key)
            }
            pub fn list(&self, table: $table) -> Result<Rows, StoreError> {
                self.0.list_from(table.0, &[])
            }
            pub fn list_from(&self, table: $table, from: &[u8]) -> Result<Rows, StoreError> {
                self.0.list_from(table.0, from)
            }
            /// Rows whose key starts with `prefix`, in key order.
            pub fn list_prefix(&self, table: $table, prefix: &[u8]) -> Result<Rows, StoreError> {
                self.0.list_prefix(table.0, prefix)
            }
            /// Every row in `table`, in key order, handed to `visit` one at a time as it
            /// is decrypted: for scans that keep little of what they read.
            pub fn for_each<E: From<StoreError>>(
                &self,
                table: $table,
                visit: impl FnMut(&[u8], Vec<u8>) -> Result<(), E>,
            ) -> Result<(), E> {
                self.0.for_each(table.0, visit)
            }
        }
    };
}

scope_views!(Tenant, TenantRead, TenantTable);
scope_views!(System, SystemRead, SystemTable);

impl TenantRead<'_> {
    /// Every tenant table with this organization's rows in it, by table name: everything
    /// the organization holds, for its export.
    pub fn everything(&self) -> Result<Vec<(String, Rows)>, StoreError> {
        let names: Vec<String> = self
            .0
            .txn
            .list_tables()?
            .map(|handle| redb::TableHandle::name(&handle).to_owned())
            .filter(|name| name.starts_with("t."))
            .collect();
        let mut out = Vec::new();
        for name in names {
            let rows = self.0.list_from(&name, &[])?;
            if !rows.is_empty() {
                out.push((name, rows));
            }
        }
        Ok(out)
    }
}

/// One redb write transaction; changes land together at [`WriteTxn::commit`].
pub struct WriteTxn<'s> {
    store: &'s Store,
    txn: WriteTransaction,
}

impl<'s> WriteTxn<'s> {
    pub(super) fn new(store: &'s Store, txn: WriteTransaction) -> Self {
        WriteTxn { store, txn }
    }

    fn scope(&self, scope: OrgId) -> Result<WriteScope<'_>, StoreError> {
        let key = unwrap_key(self.store, &self.txn.open_table(ORG_KEYS)?, scope)?;
        Ok(WriteScope {
            txn: &self.txn,
            scope,
            key,
        })
    }

    /// The records of the organization `grant` names.
    pub fn tenant(&self, grant: &Grant) -> Result<Tenant<'_>, StoreError> {
        self.scope(grant.org()).map(Tenant)
    }

    /// Appliance-wide records.
    pub fn system(&self, _grant: &SystemGrant) -> Result<System<'_>, StoreError> {
        self.scope(OrgId::APPLIANCE).map(System)
    }

    /// Creates the organization `grant` names with a fresh data key.
    pub fn create_organization(&self, grant: &Grant) -> Result<Tenant<'_>, StoreError> {
        let org = grant.org();
        let key = SealingKey::generate()?;
        {
            let mut keys = self.txn.open_table(ORG_KEYS)?;
            if keys.get(org.as_bytes().as_slice())?.is_some() {
                return Err(StoreError::Redb(format!(
                    "organization {org} already exists"
                )));
            }
            let wrapped = key.wrap(
                self.store.master.sealing_key(),
                &org_key_aad(org.as_bytes()),
            )?;
            keys.insert(org.as_bytes().as_slice(), wrapped.as_slice())?;
        }
        Ok(Tenant(WriteScope {
            txn: &self.txn,
            scope: org,
            key,
        }))
    }

    /// Makes every change durable (fsync) before returning.
    /// Destroys the data key of the organization `grant` names and removes every one of its
    /// rows, in this transaction: once it commits, nothing of the organization can be read,
    /// and if it does not, nothing changed. Returns how many rows went.
    pub fn erase_organization(&self, grant: &Grant) -> Result<u64, StoreError> {
        let org = grant.org();
        if org == OrgId::APPLIANCE {
            return Err(StoreError::UnknownOrganization(org));
        }
        let removed_key = self
            .txn
            .open_table(ORG_KEYS)?
            .remove(org.as_bytes().as_slice())?
            .is_some();
        if !removed_key {
            return Err(StoreError::UnknownOrganization(org));
        }
        let tenant_tables: Vec<String> = self
            .txn
            .list_tables()?
            .map(|handle| redb::TableHandle::name(&handle).to_owned())
            .filter(|name| name.starts_with("t."))
            .collect();
        let prefix = org.as_bytes().as_slice();
        let mut removed = 0;
        for name in tenant_tables {
            let mut table = self.txn.open_table(definition(&name))?;
            let mut rows: Vec<Vec<u8>> = Vec::new();
            for entry in table.range(prefix..)? {
                let (row, _) = entry?;
                if !row.value().starts_with(prefix) {
                    break;
                }
                rows.push(row.value().to_vec());
            }
            for row in rows {
                table.remove(row.as_slice())?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    pub fn commit(self) -> Result<(), StoreError> {
        self.txn.commit()?;
        self.store.bump_generation();
        Ok(())
    }
}

/// A consistent read snapshot.
pub struct ReadTxn<'s> {
    store: &'s Store,
    txn: ReadTransaction,
}

impl<'s> ReadTxn<'s> {
    pub(super) fn new(store: &'s Store, txn: ReadTransaction) -> Self {
        ReadTxn { store, txn }
    }

    fn scope(&self, scope: OrgId) -> Result<ReadScope<'_>, StoreError> {
        let key = unwrap_key(self.store, &self.txn.open_table(ORG_KEYS)?, scope)?;
        Ok(ReadScope {
            txn: &self.txn,
            scope,
            key,
        })
    }

    pub fn tenant(&self, grant: &Grant) -> Result<TenantRead<'_>, StoreError> {
        self.scope(grant.org()).map(TenantRead)
    }

    pub fn system(&self, _grant: &SystemGrant) -> Result<SystemRead<'_>, StoreError> {
        self.scope(OrgId::APPLIANCE).map(SystemRead)
    }
}

/// Reading appliance records from either a write transaction or a read snapshot, so lookups
/// are written once.
pub trait SystemGet {
    fn get(&self, table: SystemTable, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    fn list_from(&self, table: SystemTable, from: &[u8]) -> Result<Rows, StoreError>;
    fn list_prefix(&self, table: SystemTable, prefix: &[u8]) -> Result<Rows, StoreError>;
}

impl SystemGet for System<'_> {
    fn get(&self, table: SystemTable, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        System::get(self, table, key)
    }
    fn list_from(&self, table: SystemTable, from: &[u8]) -> Result<Rows, StoreError> {
        System::list_from(self, table, from)
    }
    fn list_prefix(&self, table: SystemTable, prefix: &[u8]) -> Result<Rows, StoreError> {
        System::list_prefix(self, table, prefix)
    }
}

impl SystemGet for SystemRead<'_> {
    fn get(&self, table: SystemTable, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        SystemRead::get(self, table, key)
    }
    fn list_from(&self, table: SystemTable, from: &[u8]) -> Result<Rows, StoreError> {
        SystemRead::list_from(self, table, from)
    }
    fn list_prefix(&self, table: SystemTable, prefix: &[u8]) -> Result<Rows, StoreError> {
        SystemRead::list_prefix(self, table, prefix)
    }
}

/// Reading organization records from either a write transaction or a read snapshot, so
/// domain lookups are written once.
pub trait TenantGet {
    fn get(&self, table: TenantTable, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    fn list_prefix(&self, table: TenantTable, prefix: &[u8]) -> Result<Rows, StoreError>;
}

impl TenantGet for Tenant<'_> {
    fn get(&self, table: TenantTable, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Tenant::get(self, table, key)
    }
    fn list_prefix(&self, table: TenantTable, prefix: &[u8]) -> Result<Rows, StoreError> {
        Tenant::list_prefix(self, table, prefix)
    }
}

impl TenantGet for TenantRead<'_> {
    fn get(&self, table: TenantTable, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        TenantRead::get(self, table, key)
    }
    fn list_prefix(&self, table: TenantTable, prefix: &[u8]) -> Result<Rows, StoreError> {
        TenantRead::list_prefix(self, table, prefix)
    }
}
