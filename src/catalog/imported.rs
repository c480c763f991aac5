//! Catalogs an organization imports (OSCAL 1.1.3 JSON), kept as its own tenant records so
//! its assessments can run against them.
//!
//! A catalog is kept as two kinds of rows: a small summary, which lists read and the quota
//! counts, and its body: the catalog as Rampart reads it, JSON deflated and cut into chunks
//! of a few redb pages. Only an assessment (or a request for the whole catalog) reads a
//! body. Kept as one row of plain JSON, a catalog of many small controls took five times
//! its upload (every id is repeated as label, OSCAL id and objective), and redb, which
//! gives a value of tens of MB a power-of-two block and cannot reuse the block it replaces
//! at once, tripled that again.
//!
//! An organization's imports share a [`Quota`]: the documents' sizes as uploaded and their
//! controls, all catalogs together.

use std::collections::BTreeMap;
use std::io::Write;
use std::ops::Deref;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Catalog, CatalogError, builtin, builtins, scored};
use crate::access::{self, AccessError, ApplianceOperator, Permission, Requester, SystemGrant};
use crate::audit::{self, Actor, AuditError, Event, Outcome};
use crate::auth::Client;
use crate::store::{OrgId, Store, StoreError, Tenant, TenantGet, TenantTable};

/// Catalog id -> [`Summary`].
const SUMMARIES: TenantTable = TenantTable::new("t.catalog_summaries");
/// Catalog id || 0 || chunk number (u32, big-endian) -> a piece of the deflated body.
const BODIES: TenantTable = TenantTable::new("t.catalog_bodies");
/// Catalog id -> the whole catalog as JSON with who imported it and when: how earlier
/// releases kept imports. [`convert_earlier`] moves them to the tables above at start.
const EARLIER: TenantTable = TenantTable::new("t.catalogs");
/// Ids of imported catalogs start so, and never collide with a built-in.
const PREFIX: &str = "imported-";
/// An organization keeps at most this many imported catalogs.
const MAX_IMPORTED: usize = 50;
/// Bytes of deflated body per row: with the row's seal and key, a value of 15 redb pages,
/// within the 16-page block redb allocates for it.
const CHUNK_BYTES: usize = 60 * 1024;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    QuotaExceeded(String),
    #[error("no such catalog")]
    NotFound,
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// Reading which assessments use a catalog failed.
    #[error(transparent)]
    Assess(#[from] Box<crate::assess::AssessError>),
    #[error("catalog record is unreadable: {0}")]
    Decode(#[from] serde_json::Error),
}

/// How much one organization's imported catalogs may hold, all together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Sum of the documents' sizes as uploaded.
    pub bytes: u64,
    /// Sum of their controls (requirements, withdrawn ones included).
    pub controls: u64,
}

impl Quota {
    pub const DEFAULT: Quota = Quota {
        bytes: 20 * 1024 * 1024,
        controls: 20_000,
    };
}

/// What an organization's imported catalogs hold now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub catalogs: usize,
    pub bytes: u64,
    pub controls: u64,
}

/// An imported catalog's row in [`SUMMARIES`].
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Summary {
    title: String,
    version: String,
    families: usize,
    requirements: usize,
    withdrawn: usize,
    objectives: usize,
    /// The document's size as uploaded: what the quota counts.
    bytes: u64,
    /// How many rows of [`BODIES`] hold the body, so a missing one is noticed.
    chunks: u32,
    imported_at: i64,
    /// Account id.
    imported_by: String,
}

impl Summary {
    fn controls(&self) -> u64 {
        u64::try_from(self.requirements + self.withdrawn).unwrap_or(u64::MAX)
    }
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
    /// Imported catalogs: the document's size as uploaded, in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// Imported catalogs: when (Unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imported_at: Option<i64>,
    /// Imported catalogs: who (account id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imported_by: Option<String>,
}

impl CatalogSummary {
    /// A built-in catalog's summary.
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
            bytes: None,
            imported_at: None,
            imported_by: None,
        }
    }

    fn imported(id: String, summary: Summary) -> CatalogSummary {
        CatalogSummary {
            id,
            title: summary.title,
            version: summary.version,
            scored: false,
            imported: true,
            families: summary.families,
            requirements: summary.requirements,
            withdrawn: summary.withdrawn,
            objectives: summary.objectives,
            bytes: Some(summary.bytes),
            imported_at: Some(summary.imported_at),
            imported_by: Some(summary.imported_by),
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

fn body_prefix(id: &str) -> Vec<u8> {
    let mut key = id.as_bytes().to_vec();
    key.push(0);
    key
}

fn body_key(id: &str, chunk: u32) -> Vec<u8> {
    let mut key = body_prefix(id);
    key.extend_from_slice(&chunk.to_be_bytes());
    key
}

fn summary_of(tenant: &impl TenantGet, id: &str) -> Result<Option<Summary>, ImportError> {
    Ok(match tenant.get(SUMMARIES, id.as_bytes())? {
        Some(bytes) => Some(serde_json::from_slice(&bytes)?),
        None => None,
    })
}

/// Every imported catalog's summary, by id.
fn summaries(tenant: &impl TenantGet) -> Result<Vec<(String, Summary)>, ImportError> {
    tenant
        .list_prefix(SUMMARIES, &[])?
        .into_iter()
        .map(|(id, bytes)| {
            Ok((
                String::from_utf8_lossy(&id).into_owned(),
                serde_json::from_slice(&bytes)?,
            ))
        })
        .collect()
}

fn usage_of(summaries: &[(String, Summary)]) -> Usage {
    summaries.iter().fold(
        Usage {
            catalogs: summaries.len(),
            ..Usage::default()
        },
        |usage, (_, s)| Usage {
            bytes: usage.bytes.saturating_add(s.bytes),
            controls: usage.controls.saturating_add(s.controls()),
            ..usage
        },
    )
}

/// The body of the imported catalog `id`, which `summary` describes.
fn read_body(tenant: &impl TenantGet, id: &str, summary: &Summary) -> Result<Catalog, ImportError> {
    let rows = tenant.list_prefix(BODIES, &body_prefix(id))?;
    if u32::try_from(rows.len()).ok() != Some(summary.chunks) {
        return Err(StoreError::Damaged(format!(
            "the imported catalog {id} has {} of its {} pieces",
            rows.len(),
            summary.chunks
        ))
        .into());
    }
    let deflated: Vec<u8> = rows.into_iter().flat_map(|(_, chunk)| chunk).collect();
    let json = flate2::read::DeflateDecoder::new(deflated.as_slice());
    Ok(serde_json::from_reader(std::io::BufReader::new(json))?)
}

/// `catalog` as deflated JSON.
fn deflate(catalog: &Catalog) -> Result<Vec<u8>, ImportError> {
    // Serialized straight into the compressor: the JSON itself is never held whole.
    let mut deflater =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    let compress_failed =
        |err: std::io::Error| StoreError::Redb(format!("cannot compress a catalog: {err}"));
    {
        // serde_json writes a few bytes at a time; the compressor wants them in batches.
        let mut batched = std::io::BufWriter::new(&mut deflater);
        serde_json::to_writer(&mut batched, catalog)?;
        batched.flush().map_err(compress_failed)?;
    }
    Ok(deflater.finish().map_err(compress_failed)?)
}

/// Reads an upload where this process stands: the catalog checked, then summarized and
/// compressed on the one thread that reads catalogs. What a `read-catalog` child runs.
pub fn read_upload(bytes: Vec<u8>) -> Result<super::reader::Prepared, CatalogError> {
    super::import::parse_upload(bytes, |catalog| {
        deflate(&catalog)
            .map(|deflated| super::reader::Prepared::of(&catalog, deflated))
            .map_err(|err| CatalogError::Reader(err.to_string()))
    })?
}

/// Writes the body of catalog `id`, `deflated`, in chunks; returns how many.
fn put_body(tenant: &Tenant<'_>, id: &str, deflated: &[u8]) -> Result<u32, ImportError> {
    let mut chunks = 0u32;
    for chunk in deflated.chunks(CHUNK_BYTES) {
        tenant.put(BODIES, &body_key(id, chunks), chunk)?;
        chunks = chunks.saturating_add(1);
    }
    Ok(chunks)
}

/// Removes every row of the imported catalog `id`.
fn remove(tenant: &Tenant<'_>, id: &str) -> Result<(), ImportError> {
    tenant.delete(SUMMARIES, id.as_bytes())?;
    for (key, _) in tenant.list_prefix(BODIES, &body_prefix(id))? {
        tenant.delete(BODIES, &key)?;
    }
    Ok(())
}

/// The framework `id` as the organization `tenant` belongs to sees it.
pub fn resolve(tenant: &impl TenantGet, id: &str) -> Result<Option<CatalogRef>, ImportError> {
    if let Some(catalog) = builtin(id) {
        return Ok(Some(CatalogRef::Builtin(catalog)));
    }
    if !id.starts_with(PREFIX) {
        return Ok(None);
    }
    Ok(match summary_of(tenant, id)? {
        Some(summary) => Some(CatalogRef::Imported(Arc::new(read_body(
            tenant, id, &summary,
        )?))),
        None => None,
    })
}

fn quota_refusal(
    used: Usage,
    quota: Quota,
    bytes: Option<u64>,
    controls: Option<u64>,
) -> ImportError {
    let adds = match (bytes, controls) {
        (Some(bytes), Some(controls)) => {
            format!(
                " ({} and {controls} controls)",
                crate::sizes::in_words(bytes)
            )
        }
        (Some(bytes), None) => format!(" ({})", crate::sizes::in_words(bytes)),
        // An upload of unknown length, refused by a full quota.
        (None, _) => String::new(),
    };
    ImportError::QuotaExceeded(format!(
        "this catalog{adds} does not fit the organization's quota for imported catalogs: \
         {} of {} and {} of {} controls are used; delete an imported catalog no assessment \
         uses, or ask the appliance administrator to raise the quota",
        crate::sizes::in_words(used.bytes),
        crate::sizes::in_words(quota.bytes),
        used.controls,
        quota.controls,
    ))
}

/// Write access for catalogs in `txn`'s snapshot.
fn manage_grant(
    store: &Store,
    txn: &crate::store::WriteTxn<'_>,
    requester: Requester,
    org: OrgId,
) -> Result<access::Grant, ImportError> {
    let known = store.organizations()?;
    let system = txn.system(&SystemGrant::internal())?;
    Ok(access::authorize(&system, &known, requester, org, Permission::ManageCatalogs)?.0)
}

/// Whether `requester` may import a document of `declared` bytes into `org` now: asked
/// before the upload is read, so a refusal costs neither the transfer nor the parse.
pub fn admit(
    store: &Store,
    requester: Requester,
    org: OrgId,
    declared: Option<u64>,
    quota: Quota,
) -> Result<(), ImportError> {
    let known = store.organizations()?;
    let read = store.read()?;
    let grant = {
        let system = read.system(&SystemGrant::internal())?;
        access::authorize(&system, &known, requester, org, Permission::ManageCatalogs)?.0
    };
    let used = usage_of(&summaries(&read.tenant(&grant)?)?);
    // An upload of unknown length (chunked) is refused up front only by a full quota.
    let over = match declared {
        Some(bytes) => used.bytes.saturating_add(bytes) > quota.bytes,
        None => used.bytes >= quota.bytes,
    };
    if over || used.controls >= quota.controls {
        return Err(quota_refusal(used, quota, declared, None));
    }
    Ok(())
}

/// Validates `bytes` as an OSCAL 1.1.3 catalog and keeps it for the organization (admins
/// and owners), within its [`Quota`]; audited as `catalog.import`. A bad file is refused
/// with each problem's JSON path; a refused file leaves nothing behind.
pub fn import(
    store: &Store,
    requester: Requester,
    org: OrgId,
    bytes: Vec<u8>,
    quota: Quota,
    client: &Client,
    now: i64,
) -> Result<CatalogSummary, ImportError> {
    let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    // Checks the caller, and that the file could fit, before parsing a byte of it.
    admit(store, requester, org, Some(size), quota)?;
    // Read (in a child process once the daemon runs), summarized and compressed before the
    // write transaction, which holds up every other change: only the summary and the
    // compressed body come back.
    let prepared = super::reader::read(bytes, read_upload)?;
    let id = format!("{PREFIX}{}", prepared.id);
    let summary = Summary {
        title: prepared.title,
        version: prepared.version,
        families: prepared.families,
        requirements: prepared.requirements,
        withdrawn: prepared.withdrawn,
        objectives: prepared.objectives,
        bytes: size,
        chunks: 0,
        imported_at: now,
        imported_by: requester.account.to_string(),
    };
    let deflated = prepared.deflated;
    let txn = store.write()?;
    let grant = manage_grant(store, &txn, requester, org)?;
    let tenant = txn.tenant(&grant)?;
    if summary_of(&tenant, &id)?.is_some() {
        return Err(ImportError::Conflict(format!(
            "a catalog with uuid {} is already imported; change the document's uuid to import a new version",
            id.trim_start_matches(PREFIX)
        )));
    }
    let existing = summaries(&tenant)?;
    if existing.len() >= MAX_IMPORTED {
        return Err(ImportError::Conflict(format!(
            "an organization keeps at most {MAX_IMPORTED} imported catalogs"
        )));
    }
    // Counted again in the transaction that writes: another import may have landed since.
    let used = usage_of(&existing);
    if used.bytes.saturating_add(size) > quota.bytes
        || used.controls.saturating_add(summary.controls()) > quota.controls
    {
        return Err(quota_refusal(
            used,
            quota,
            Some(size),
            Some(summary.controls()),
        ));
    }
    let summary = Summary {
        chunks: put_body(&tenant, &id, &deflated)?,
        ..summary
    };
    tenant.put(SUMMARIES, id.as_bytes(), &serde_json::to_vec(&summary)?)?;
    drop(tenant);
    record(&txn, requester, client, "catalog.import", org, &id, now)?;
    txn.commit()?;
    Ok(CatalogSummary::imported(id, summary))
}

/// Deletes the imported catalog `id` (admins and owners) with the organization's values of
/// its parameters, unless an assessment uses it; audited as `catalog.delete`. A built-in's
/// id, or one the organization never imported, is [`ImportError::NotFound`].
pub fn delete(
    store: &Store,
    requester: Requester,
    org: OrgId,
    id: &str,
    client: &Client,
    now: i64,
) -> Result<(), ImportError> {
    let txn = store.write()?;
    let grant = manage_grant(store, &txn, requester, org)?;
    let tenant = txn.tenant(&grant)?;
    if !id.starts_with(PREFIX) || summary_of(&tenant, id)?.is_none() {
        return Err(ImportError::NotFound);
    }
    let users = crate::assess::using_framework(&tenant, id).map_err(Box::new)?;
    if users > 0 {
        return Err(ImportError::Conflict(format!(
            "{users} assessment{} use{} this catalog; it can be deleted once none does",
            if users == 1 { "" } else { "s" },
            if users == 1 { "s" } else { "" },
        )));
    }
    remove(&tenant, id)?;
    crate::assess::parameters::forget(&tenant, id).map_err(Box::new)?;
    drop(tenant);
    record(&txn, requester, client, "catalog.delete", org, id, now)?;
    txn.commit()?;
    Ok(())
}

/// Appends what `requester` did to catalog `id` to the audit log, inside `txn`.
fn record(
    txn: &crate::store::WriteTxn<'_>,
    requester: Requester,
    client: &Client,
    action: &str,
    org: OrgId,
    id: &str,
    now: i64,
) -> Result<(), ImportError> {
    let actor = Actor::Account(requester.account.to_string());
    let event = Event::new(actor, action, Outcome::Success)
        .org(org)
        .target(id);
    audit::append(txn, client.stamp(event), now)?;
    Ok(())
}

/// The built-in catalogs and the organization's imported ones, from their summaries.
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
    out.extend(
        summaries(&read.tenant(&grant)?)?
            .into_iter()
            .map(|(id, summary)| CatalogSummary::imported(id, summary)),
    );
    Ok(out)
}

/// The organization's catalogs for its catalogs page: each with how many assessments use
/// it, and what the imported ones hold of the quota.
#[derive(Debug, Clone)]
pub struct Overview {
    pub catalogs: Vec<(CatalogSummary, usize)>,
    pub usage: Usage,
}

pub fn overview(
    store: &Store,
    requester: Requester,
    org: OrgId,
    client: &Client,
    now: i64,
) -> Result<Overview, ImportError> {
    let grant = audit::read_grant(store, requester, org, client, now)?;
    let read = store.read()?;
    let tenant = read.tenant(&grant)?;
    let imported = summaries(&tenant)?;
    let usage = usage_of(&imported);
    let mut users: BTreeMap<String, usize> = BTreeMap::new();
    for assessment in crate::assess::all(&tenant).map_err(Box::new)? {
        *users.entry(assessment.framework).or_default() += 1;
    }
    let catalogs = builtins()
        .map(|c| CatalogSummary::of(c, false))
        .chain(
            imported
                .into_iter()
                .map(|(id, summary)| CatalogSummary::imported(id, summary)),
        )
        .map(|c| {
            let used_by = users.get(&c.id).copied().unwrap_or(0);
            (c, used_by)
        })
        .collect();
    Ok(Overview { catalogs, usage })
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

/// A catalog as earlier releases kept it in [`EARLIER`].
#[derive(Deserialize)]
struct Earlier {
    catalog: Catalog,
    imported_at: i64,
    imported_by: String,
}

/// Moves catalogs kept the way earlier releases kept them (one row holding the whole
/// catalog) to summaries and chunked bodies, one catalog per transaction, so an upgrade
/// needs the memory of one catalog. Their size for the quota is that of the old row, the
/// nearest to the uploaded size still known. Returns how many moved; a row that cannot be
/// read is left where it is and logged.
pub fn convert_earlier(store: &Store) -> Result<usize, ImportError> {
    let operator = ApplianceOperator::local();
    let mut converted = 0;
    for org in store.organizations()? {
        let grant = operator.grant(org);
        let ids: Vec<Vec<u8>> = {
            let read = store.read()?;
            let mut ids = Vec::new();
            read.tenant(&grant)?
                .for_each(EARLIER, |id, _| -> Result<(), StoreError> {
                    ids.push(id.to_vec());
                    Ok(())
                })?;
            ids
        };
        for id in ids {
            let txn = store.write()?;
            let tenant = txn.tenant(&grant)?;
            let Some(row) = tenant.get(EARLIER, &id)? else {
                continue;
            };
            let earlier: Earlier = match serde_json::from_slice(&row) {
                Ok(earlier) => earlier,
                Err(err) => {
                    tracing::error!(%org, error = %err, "an imported catalog kept by an earlier release is unreadable; left as it was");
                    continue;
                }
            };
            let counts = earlier.catalog.counts();
            let id_text = String::from_utf8_lossy(&id).into_owned();
            let summary = Summary {
                title: earlier.catalog.title.clone(),
                version: earlier.catalog.version.clone(),
                families: counts.families,
                requirements: counts.requirements,
                withdrawn: counts.withdrawn,
                objectives: counts.objectives,
                bytes: u64::try_from(row.len()).unwrap_or(u64::MAX),
                chunks: put_body(&tenant, &id_text, &deflate(&earlier.catalog)?)?,
                imported_at: earlier.imported_at,
                imported_by: earlier.imported_by,
            };
            tenant.put(SUMMARIES, &id, &serde_json::to_vec(&summary)?)?;
            tenant.delete(EARLIER, &id)?;
            drop(tenant);
            txn.commit()?;
            converted += 1;
        }
    }
    Ok(converted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store, OrgId) {
        let dir = tempfile::tempdir().unwrap();
        let master = crate::crypto::MasterKey::create(&dir.path().join("master.key")).unwrap();
        let store = Store::open(&dir.path().join("s.redb"), master).unwrap();
        let org = crate::org::create(&store, &ApplianceOperator::local(), "Acme", 0)
            .unwrap()
            .id;
        (dir, store, org)
    }

    fn catalog() -> Catalog {
        super::super::parse_oscal(include_bytes!("../../controls/nist-800-171r2.oscal.json"))
            .unwrap()
    }

    /// A catalog of `n` requirements whose texts differ enough not to compress to nothing.
    fn large(n: usize) -> Catalog {
        let requirements = (0..n)
            .map(|i| super::super::Requirement {
                id: format!("r-{i}"),
                label: format!("R-{i}"),
                oscal_id: format!("r-{i}"),
                title: format!("Requirement {}", i.wrapping_mul(2_654_435_761) % 1_000_003),
                statement: format!("State {} of {}.", i.wrapping_mul(40_503) % 65_521, i),
                discussion: String::new(),
                withdrawn: false,
                objectives: vec![super::super::Objective {
                    id: format!("r-{i}[a]"),
                    label: format!("r-{i}[a]"),
                    oscal_id: String::new(),
                    text: format!("objective {}", i.wrapping_mul(7_919) % 104_729),
                }],
                parameters: Vec::new(),
            })
            .collect();
        let family = super::super::Family {
            id: "f".into(),
            label: "F".into(),
            title: "Family".into(),
            requirements,
        };
        Catalog::new(
            format!("{PREFIX}large"),
            "Large".into(),
            "1".into(),
            vec![family],
        )
        .unwrap()
    }

    #[test]
    fn a_body_reads_back_as_it_was_written_in_chunks_of_a_few_pages() {
        let (_dir, store, org) = store();
        let grant = ApplianceOperator::local().grant(org);
        let catalog = large(20_000);
        let txn = store.write().unwrap();
        let tenant = txn.tenant(&grant).unwrap();
        let chunks = put_body(&tenant, &catalog.id, &deflate(&catalog).unwrap()).unwrap();
        let summary = Summary {
            title: catalog.title.clone(),
            version: catalog.version.clone(),
            families: 0,
            requirements: 0,
            withdrawn: 0,
            objectives: 0,
            bytes: 0,
            chunks,
            imported_at: 0,
            imported_by: String::new(),
        };
        tenant
            .put(
                SUMMARIES,
                catalog.id.as_bytes(),
                &serde_json::to_vec(&summary).unwrap(),
            )
            .unwrap();
        let rows = tenant
            .list_prefix(BODIES, &body_prefix(&catalog.id))
            .unwrap();
        assert!(chunks > 2, "{chunks}");
        assert_eq!(rows.len(), chunks as usize);
        assert!(rows.iter().all(|(_, chunk)| chunk.len() <= CHUNK_BYTES));
        let back = read_body(&tenant, &catalog.id, &summary).unwrap();
        assert_eq!(back.families, catalog.families);
        assert!(back.objective("r-19999[a]").is_some());
        assert_eq!(back.counts(), catalog.counts());

        // A missing piece is damage, not a shorter catalog.
        tenant.delete(BODIES, &body_key(&catalog.id, 0)).unwrap();
        assert!(matches!(
            read_body(&tenant, &catalog.id, &summary),
            Err(ImportError::Store(StoreError::Damaged(_)))
        ));
    }

    #[test]
    fn catalogs_kept_by_earlier_releases_are_converted_once() {
        let (_dir, store, org) = store();
        let grant = ApplianceOperator::local().grant(org);
        let mut catalog = catalog();
        catalog.id = format!("{PREFIX}rev2");
        let earlier = serde_json::json!({
            "catalog": catalog, "imported_at": 1_700_000_000, "imported_by": "someone"
        });
        let row = serde_json::to_vec(&earlier).unwrap();
        let txn = store.write().unwrap();
        txn.tenant(&grant)
            .unwrap()
            .put(EARLIER, catalog.id.as_bytes(), &row)
            .unwrap();
        txn.commit().unwrap();

        assert_eq!(convert_earlier(&store).unwrap(), 1);
        assert_eq!(convert_earlier(&store).unwrap(), 0);
        let read = store.read().unwrap();
        let tenant = read.tenant(&grant).unwrap();
        assert!(
            tenant
                .get(EARLIER, catalog.id.as_bytes())
                .unwrap()
                .is_none()
        );
        let listed = summaries(&tenant).unwrap();
        assert_eq!(listed.len(), 1);
        let (id, summary) = &listed[0];
        assert_eq!(id, &catalog.id);
        assert_eq!(summary.requirements, 110);
        assert_eq!(summary.bytes, row.len() as u64);
        assert_eq!(summary.imported_by, "someone");
        let resolved = resolve(&tenant, &catalog.id).unwrap().unwrap();
        assert_eq!(resolved.counts(), catalog.counts());
    }
}
