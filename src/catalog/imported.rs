//! Catalogs an organization imports (OSCAL 1.1.3 JSON), kept as its own tenant records so
//! its assessments can run against them.

use std::ops::Deref;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Catalog, CatalogError, builtin, builtins, parse_oscal, scored};
use crate::access::{self, AccessError, Permission, Requester, SystemGrant};
use crate::audit::{self, Actor, AuditError, Event, Outcome};
use crate::auth::Client;
use crate::store::{OrgId, Store, StoreError, TenantGet, TenantTable};

/// Catalog id -> [`Stored`].
const IMPORTED: TenantTable = TenantTable::new("t.catalogs");
/// Ids of imported catalogs start so, and never collide with a built-in.
const PREFIX: &str = "imported-";
/// An organization keeps at most this many imported catalogs.
const MAX_IMPORTED: usize = 50;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("{0}")]
    Conflict(String),
    #[error("no such catalog")]
    NotFound,
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error("catalog record is unreadable: {0}")]
    Decode(#[from] serde_json::Error),
}

#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    catalog: Catalog,
    imported_at: i64,
    imported_by: String,
}

/// A catalog as lists show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CatalogSummary {
    pub id: String,
    pub title: String,
    pub version: String,
    /// Whether the SPRS score and CMMC status apply.
    pub scored: bool,
    pub imported: bool,
    pub families: usize,
    pub requirements: usize,
    pub withdrawn: usize,
    pub objectives: usize,
}

impl CatalogSummary {
    pub fn of(catalog: &Catalog, imported: bool) -> CatalogSummary {
        let counts = catalog.counts();
        CatalogSummary {
            id: catalog.id.clone(),
            title: catalog.title.clone(),
            version: catalog.version.clone(),
            scored: !imported && scored(&catalog.id),
            imported,
            families: counts.families,
            requirements: counts.requirements,
            withdrawn: counts.withdrawn,
            objectives: counts.objectives,
        }
    }
}

/// A built-in catalog or one the organization imported.
#[derive(Debug, Clone)]
pub enum CatalogRef {
    Builtin(&'static Catalog),
    Imported(Arc<Catalog>),
}

impl Deref for CatalogRef {
    type Target = Catalog;
    fn deref(&self) -> &Catalog {
        match self {
            CatalogRef::Builtin(catalog) => catalog,
            CatalogRef::Imported(catalog) => catalog,
        }
    }
}

/// The framework `id` as the organization `tenant` belongs to sees it.
pub fn resolve(tenant: &impl TenantGet, id: &str) -> Result<Option<CatalogRef>, ImportError> {
    if let Some(catalog) = builtin(id) {
        return Ok(Some(CatalogRef::Builtin(catalog)));
    }
    if !id.starts_with(PREFIX) {
        return Ok(None);
    }
    Ok(match tenant.get(IMPORTED, id.as_bytes())? {
        Some(bytes) => Some(CatalogRef::Imported(Arc::new(
            serde_json::from_slice::<Stored>(&bytes)?.catalog,
        ))),
        None => None,
    })
}

/// Validates `bytes` as an OSCAL 1.1.3 catalog and keeps it for the organization (members
/// and up); audited as `catalog.import`. A bad file is refused with each problem's JSON path.
pub fn import(
    store: &Store,
    requester: Requester,
    org: OrgId,
    bytes: &[u8],
    client: &Client,
    now: i64,
) -> Result<CatalogSummary, ImportError> {
    // Check the caller before reading a byte of what they sent.
    let known = store.organizations()?;
    {
        let read = store.read()?;
        let system = read.system(&SystemGrant::internal())?;
        access::authorize(&system, &known, requester, org, Permission::Write)?;
    }
    let mut catalog = parse_oscal(bytes)?;
    catalog.id = format!("{PREFIX}{}", catalog.id);
    let txn = store.write()?;
    let grant = {
        let system = txn.system(&SystemGrant::internal())?;
        access::authorize(&system, &known, requester, org, Permission::Write)?.0
    };
    let tenant = txn.tenant(&grant)?;
    if tenant.get(IMPORTED, catalog.id.as_bytes())?.is_some() {
        return Err(ImportError::Conflict(format!(
            "a catalog with uuid {} is already imported; change the document's uuid to import a new version",
            catalog.id.trim_start_matches(PREFIX)
        )));
    }
    if tenant.list(IMPORTED)?.len() >= MAX_IMPORTED {
        return Err(ImportError::Conflict(format!(
            "an organization keeps at most {MAX_IMPORTED} imported catalogs"
        )));
    }
    let summary = CatalogSummary::of(&catalog, true);
    let stored = Stored {
        catalog,
        imported_at: now,
        imported_by: requester.account.to_string(),
    };
    tenant.put(
        IMPORTED,
        summary.id.as_bytes(),
        &serde_json::to_vec(&stored)?,
    )?;
    drop(tenant);
    let event = client.stamp(
        Event::new(
            Actor::Account(requester.account.to_string()),
            "catalog.import",
            Outcome::Success,
        )
        .org(org)
        .target(&summary.id),
    );
    audit::append(&txn, event, now)?;
    txn.commit()?;
    Ok(summary)
}

/// The built-in catalogs and the organization's imported ones.
pub fn list(
    store: &Store,
    requester: Requester,
    org: OrgId,
    client: &Client,
    now: i64,
) -> Result<Vec<CatalogSummary>, ImportError> {
    let grant = audit::read_grant(store, requester, org, client, now)?;
    let read = store.read()?;
    let mut out: Vec<CatalogSummary> = builtins().map(|c| CatalogSummary::of(c, false)).collect();
    for (_, bytes) in read.tenant(&grant)?.list(IMPORTED)? {
        let stored: Stored = serde_json::from_slice(&bytes)?;
        out.push(CatalogSummary::of(&stored.catalog, true));
    }
    Ok(out)
}

/// One catalog, whole: families, requirements, objectives, parameters.
pub fn get(
    store: &Store,
    requester: Requester,
    org: OrgId,
    id: &str,
    client: &Client,
    now: i64,
) -> Result<CatalogRef, ImportError> {
    let grant = audit::read_grant(store, requester, org, client, now)?;
    let read = store.read()?;
    resolve(&read.tenant(&grant)?, id)?.ok_or(ImportError::NotFound)
}
