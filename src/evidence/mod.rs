//! The evidence vault: files that prove requirements, encrypted on the appliance's disk.
//!
//! A file's bytes live in a blob beside the store (`<data_dir>/evidence/<org>/<blob>.blob`,
//! format in [`blob`]); its record (title, links, versions, and each version's blob key)
//! is a sealed tenant record, so the organization's data key wraps every blob key and
//! destroying that key makes the blobs unreadable. Uploads stream through [`Upload`]:
//! sniffed, counted against the limits, encrypted and hashed as they arrive, written to a
//! temp file, fsynced, renamed into place, and only then recorded in one transaction.

pub mod blob;
pub mod links;
pub mod sniff;
mod upload;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::Date;

use crate::access::{self, Grant, Permission, Requester, SystemGrant};
use crate::audit::{self, Actor, AuditError, Event, Outcome};
use crate::auth::Client;
use crate::store::{OrgId, Store, StoreError, TenantGet, TenantTable, WriteTxn};

pub use blob::BlobReader;
pub use upload::{Finished, Upload, UploadPlan, plan};

const EVIDENCE: TenantTable = TenantTable::new("t.evidence");
/// Deleted files stay restorable this long, then [`purge_expired`] removes them.
pub const BIN_DAYS: i64 = 30;
/// Evidence whose review date is this close is "due".
const REVIEW_DUE_DAYS: i64 = 30;
const TEXT_MAX: usize = 10_000;
const TITLE_MAX: usize = 200;
const TAGS_MAX: usize = 50;
const LINKS_MAX: usize = 500;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvidenceError {
    #[error("not found")]
    NotFound,
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("the file is larger than the {limit} bytes allowed")]
    TooLarge { limit: u64 },
    #[error(
        "the organization's evidence quota of {quota} bytes would be exceeded ({used} bytes used or being uploaded)"
    )]
    QuotaExceeded { quota: u64, used: u64 },
    #[error("{0}")]
    UnsupportedType(String),
    #[error("this file failed its integrity check ({0}); restore it from a backup")]
    Damaged(String),
    #[error("{0}")]
    Gone(String),
    #[error("the upload broke off before it was complete")]
    Incomplete,
    #[error(transparent)]
    Access(#[from] access::AccessError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("evidence record encoding: {0}")]
    Encoding(#[from] serde_json::Error),
    #[error("evidence file i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("evidence blob: {0}")]
    Blob(blob::BlobError),
    /// Reading who made a link, to check they still may share.
    #[error("evidence link creator: {0}")]
    Creator(String),
}

impl From<blob::BlobError> for EvidenceError {
    fn from(err: blob::BlobError) -> Self {
        match err {
            blob::BlobError::Damaged(what) => EvidenceError::Damaged(what),
            blob::BlobError::Missing => EvidenceError::Damaged("the file is missing".into()),
            other => EvidenceError::Blob(other),
        }
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> EvidenceError {
    EvidenceError::Invalid {
        field,
        message: message.into(),
    }
}

/// Where blobs live, and the limits uploads meet.
#[derive(Debug, Clone)]
pub struct Vault {
    root: PathBuf,
    data_dir: PathBuf,
    pub max_file_bytes: u64,
    pub quota_bytes: u64,
    /// Bytes that uploads under way hold against each organization's quota, so that
    /// parallel uploads cannot together fill the disk past it before any is recorded.
    in_flight: std::sync::Arc<upload::InFlight>,
}

impl Vault {
    /// The vault under `<data_dir>/evidence`, touching nothing (for a CLI verb that may run
    /// beside the daemon).
    pub fn new(data_dir: &Path, max_file_bytes: u64, quota_bytes: u64) -> Vault {
        Vault {
            root: data_dir.join("evidence"),
            data_dir: data_dir.to_owned(),
            max_file_bytes,
            quota_bytes,
            in_flight: std::sync::Arc::default(),
        }
    }

    /// The data directory the vault is in; generated documents live beside it.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The vault of `config`'s data directory.
    pub fn of(config: &crate::config::Config) -> Vault {
        Vault::new(
            &config.data_dir,
            config.evidence_max_file_bytes.get(),
            config.evidence_quota_bytes.get(),
        )
    }

    /// Creates the directories (mode 0700) for the daemon, and removes temp files a crash
    /// left behind: an upload that never finished has no record and never will.
    pub fn prepare(&self) -> std::io::Result<()> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(self.temp_dir())?;
        std::fs::set_permissions(&self.root, std::fs::Permissions::from_mode(0o700))?;
        for entry in std::fs::read_dir(self.temp_dir())? {
            std::fs::remove_file(entry?.path())?;
        }
        Ok(())
    }

    fn org_dir(&self, org: OrgId) -> PathBuf {
        self.root.join(org.to_string())
    }

    fn blob_path(&self, org: OrgId, blob_id: &uuid::Uuid) -> PathBuf {
        self.org_dir(org).join(format!("{blob_id}.blob"))
    }

    fn temp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }
}

/// One stored version of a file, as kept (with its key) in the sealed record.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredVersion {
    number: u32,
    blob_id: uuid::Uuid,
    /// The blob's own key, hex; sealed with the record under the organization's key.
    key: String,
    filename: String,
    media_type: String,
    size: u64,
    sha256: String,
    uploaded_at: i64,
    uploaded_by: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    id: uuid::Uuid,
    #[serde(flatten)]
    meta: Metadata,
    created_at: i64,
    created_by: String,
    updated_at: i64,
    deleted_at: Option<i64>,
    /// Oldest first.
    versions: Vec<StoredVersion>,
}

/// What a person says about a file; also the body of `PUT .../evidence/{id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// Account id of the person who keeps this file current.
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Requirement ids such as `3.1.1`.
    #[serde(default)]
    pub requirements: Vec<String>,
    /// Objective ids such as `3.1.1[a]`.
    #[serde(default)]
    pub objectives: Vec<String>,
    /// YYYY-MM-DD.
    #[serde(default)]
    pub effective: Option<String>,
    /// YYYY-MM-DD: when the file must be looked at again.
    #[serde(default)]
    pub review_by: Option<String>,
}

impl Metadata {
    /// Whether this file is linked to `requirement`, directly or through one of its
    /// objectives (`3.1.1[a]` belongs to `3.1.1`).
    fn proves(&self, requirement: &str) -> bool {
        self.requirements.iter().any(|r| r == requirement)
            || self.objectives.iter().any(|o| {
                o.strip_prefix(requirement)
                    .is_some_and(|rest| rest.starts_with('['))
            })
    }
}

/// One version as shown: everything but its key.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Version {
    pub number: u32,
    pub filename: String,
    pub media_type: String,
    pub size: u64,
    /// Hex SHA-256 of the plaintext.
    pub sha256: String,
    pub uploaded_at: i64,
    pub uploaded_by: String,
}

impl From<&StoredVersion> for Version {
    fn from(v: &StoredVersion) -> Self {
        Version {
            number: v.number,
            filename: v.filename.clone(),
            media_type: v.media_type.clone(),
            size: v.size,
            sha256: v.sha256.clone(),
            uploaded_at: v.uploaded_at,
            uploaded_by: v.uploaded_by.clone(),
        }
    }
}

/// A file with its metadata and versions (newest first).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Evidence {
    pub id: String,
    #[serde(flatten)]
    #[schema(schema_with = metadata_fields)]
    pub meta: Metadata,
    /// `none`, `current`, `due` (within 30 days) or `overdue`.
    pub review_status: &'static str,
    pub created_at: i64,
    pub created_by: String,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
    pub current: Version,
    pub versions: Vec<Version>,
}

/// [`Metadata`]'s fields as part of [`Evidence`]: as a body it refuses any other field, but
/// here the others are the file's.
fn metadata_fields() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::PartialSchema;
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::Schema;
    match Metadata::schema() {
        RefOr::T(Schema::Object(mut fields)) => {
            fields.additional_properties = None;
            RefOr::T(Schema::Object(fields))
        }
        other => other,
    }
}

/// Storage use, shown to owners.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Usage {
    pub used_bytes: u64,
    pub quota_bytes: u64,
    pub max_file_bytes: u64,
}

/// `GET .../evidence` filters.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Filter {
    pub requirement: Option<String>,
    pub owner: Option<String>,
    pub tag: Option<String>,
    /// `none`, `current`, `due` or `overdue`.
    pub review: Option<String>,
    /// List the bin instead.
    #[serde(default)]
    pub deleted: bool,
}

/// Who changes something, from where.
#[derive(Debug, Clone)]
pub struct Author {
    pub requester: Requester,
    pub client: Client,
}

fn parse_date(field: &'static str, text: &str) -> Result<Date, EvidenceError> {
    crate::dates::parse(text).map_err(|message| invalid(field, message))
}

fn review_status(meta: &Metadata, now: i64) -> &'static str {
    let Some(date) = meta
        .review_by
        .as_deref()
        .and_then(|d| parse_date("review_by", d).ok())
    else {
        return "none";
    };
    let days = (date - crate::dates::today(now)).whole_days();
    if days < 0 {
        "overdue"
    } else if days <= REVIEW_DUE_DAYS {
        "due"
    } else {
        "current"
    }
}

impl Record {
    fn view(&self, now: i64) -> Result<Evidence, EvidenceError> {
        let current = self.versions.last().ok_or(EvidenceError::NotFound)?;
        Ok(Evidence {
            id: self.id.to_string(),
            review_status: review_status(&self.meta, now),
            meta: self.meta.clone(),
            created_at: self.created_at,
            created_by: self.created_by.clone(),
            updated_at: self.updated_at,
            deleted_at: self.deleted_at,
            current: current.into(),
            versions: self.versions.iter().rev().map(Version::from).collect(),
        })
    }

    fn stored_bytes(&self) -> u64 {
        self.versions.iter().map(|v| v.size).sum()
    }
}

fn parse_id(id: &str) -> Result<uuid::Uuid, EvidenceError> {
    uuid::Uuid::parse_str(id.trim()).map_err(|_| EvidenceError::NotFound)
}

fn load(tenant: &impl TenantGet, id: &uuid::Uuid) -> Result<Record, EvidenceError> {
    match tenant.get(EVIDENCE, id.as_bytes())? {
        Some(bytes) => Ok(serde_json::from_slice(&bytes)?),
        None => Err(EvidenceError::NotFound),
    }
}

fn all(tenant: &impl TenantGet) -> Result<Vec<Record>, EvidenceError> {
    tenant
        .list_prefix(EVIDENCE, &[])?
        .into_iter()
        .map(|(_, bytes)| Ok(serde_json::from_slice(&bytes)?))
        .collect()
}

fn used_bytes(tenant: &impl TenantGet) -> Result<u64, EvidenceError> {
    Ok(all(tenant)?.iter().map(Record::stored_bytes).sum())
}

fn grant_for(
    store: &Store,
    txn: &WriteTxn<'_>,
    requester: Requester,
    org: OrgId,
    permission: Permission,
) -> Result<Grant, EvidenceError> {
    let known = store.organizations()?;
    let system = txn.system(&SystemGrant::internal())?;
    Ok(access::authorize(&system, &known, requester, org, permission)?.0)
}

fn audit_change(
    txn: &WriteTxn<'_>,
    author: &Author,
    action: &str,
    org: OrgId,
    target: impl ToString,
    now: i64,
) -> Result<(), EvidenceError> {
    let event = author.client.stamp(
        Event::new(
            Actor::Account(author.requester.account.to_string()),
            action,
            Outcome::Success,
        )
        .org(org)
        .target(target),
    );
    audit::append(txn, event, now)?;
    Ok(())
}

/// Checks and tidies metadata: trimmed text within limits, known requirement and
/// objective ids, a member as owner, real dates.
fn clean_metadata(
    mut meta: Metadata,
    members: &BTreeSet<String>,
) -> Result<Metadata, EvidenceError> {
    meta.title = meta.title.trim().to_owned();
    if meta.title.chars().count() > TITLE_MAX || meta.title.chars().any(char::is_control) {
        return Err(invalid(
            "title",
            format!("a title has at most {TITLE_MAX} characters on one line"),
        ));
    }
    meta.description = meta.description.trim().to_owned();
    if meta.description.len() > TEXT_MAX {
        return Err(invalid(
            "description",
            format!("a description has at most {TEXT_MAX} bytes"),
        ));
    }
    let mut tags: Vec<String> = meta
        .tags
        .iter()
        .map(|t| t.trim().to_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    tags.sort();
    tags.dedup();
    if tags.len() > TAGS_MAX || tags.iter().any(|t| t.len() > 50 || t.contains(',')) {
        return Err(invalid(
            "tags",
            format!("at most {TAGS_MAX} tags of up to 50 characters, without commas"),
        ));
    }
    meta.tags = tags;
    meta.requirements = known_ids("requirements", &meta.requirements, |id| {
        crate::catalog::builtins().any(|c| c.requirement(id).is_some())
    })?;
    meta.objectives = known_ids("objectives", &meta.objectives, |id| {
        crate::catalog::builtins().any(|c| c.objective(id).is_some())
    })?;
    meta.owner = match meta.owner.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(owner) if members.contains(owner) => Some(owner.to_owned()),
        Some(owner) => {
            return Err(invalid(
                "owner",
                format!("{owner:?} is not a member of this organization"),
            ));
        }
    };
    for (field, value) in [
        ("effective", &mut meta.effective),
        ("review_by", &mut meta.review_by),
    ] {
        *value = match value.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(parse_date(field, text)?.to_string()),
        };
    }
    Ok(meta)
}

fn known_ids(
    field: &'static str,
    ids: &[String],
    known: impl Fn(&str) -> bool,
) -> Result<Vec<String>, EvidenceError> {
    let mut out: Vec<String> = ids
        .iter()
        .map(|id| crate::catalog::parse_requirement_ref(id))
        .filter(|id| !id.is_empty())
        .collect();
    out.sort();
    out.dedup();
    if out.len() > LINKS_MAX {
        return Err(invalid(field, format!("at most {LINKS_MAX} links")));
    }
    if let Some(unknown) = out.iter().find(|id| !known(id)) {
        return Err(invalid(
            field,
            format!("{unknown:?} is not a requirement or objective of any built-in catalog"),
        ));
    }
    Ok(out)
}

fn members(txn: &WriteTxn<'_>, org: OrgId) -> Result<BTreeSet<String>, EvidenceError> {
    Ok(access::member_ids(
        &txn.system(&SystemGrant::internal())?,
        org,
    )?)
}

/// The files of an organization matching `filter`, with its storage use.
pub fn list(
    store: &Store,
    vault: &Vault,
    requester: Requester,
    org: OrgId,
    filter: &Filter,
    client: &Client,
    now: i64,
) -> Result<(Vec<Evidence>, Usage), EvidenceError> {
    let grant = audit::read_grant(store, requester, org, client, now)?;
    let read = store.read()?;
    let tenant = read.tenant(&grant)?;
    let records = all(&tenant)?;
    let usage = Usage {
        used_bytes: records.iter().map(Record::stored_bytes).sum(),
        quota_bytes: vault.quota_bytes,
        max_file_bytes: vault.max_file_bytes,
    };
    let requirement = filter.requirement.as_deref().map(str::trim);
    let mut out = Vec::new();
    for record in &records {
        let meta = &record.meta;
        let keep = record.deleted_at.is_some() == filter.deleted
            && requirement.is_none_or(|r| meta.proves(r))
            && filter
                .owner
                .as_deref()
                .is_none_or(|o| meta.owner.as_deref() == Some(o.trim()))
            && filter
                .tag
                .as_deref()
                .is_none_or(|t| meta.tags.iter().any(|x| *x == t.trim().to_lowercase()))
            && filter
                .review
                .as_deref()
                .is_none_or(|r| review_status(meta, now) == r.trim());
        if keep {
            out.push(record.view(now)?);
        }
    }
    out.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(a.id.cmp(&b.id)));
    Ok((out, usage))
}

/// One file (in the bin too).
pub fn get(
    store: &Store,
    requester: Requester,
    org: OrgId,
    id: &str,
    client: &Client,
    now: i64,
) -> Result<Evidence, EvidenceError> {
    let id = parse_id(id)?;
    let grant = audit::read_grant(store, requester, org, client, now)?;
    let read = store.read()?;
    load(&read.tenant(&grant)?, &id)?.view(now)
}

/// Files outside the bin whose review status (as [`Evidence::review_status`]) is `status`
/// at `now`: `overdue` ones are drift, `due` ones (within 30 days) get reminders.
pub fn with_review_status(
    tenant: &impl TenantGet,
    status: &str,
    now: i64,
) -> Result<Vec<Evidence>, EvidenceError> {
    all(tenant)?
        .iter()
        .filter(|r| r.deleted_at.is_none() && review_status(&r.meta, now) == status)
        .map(|r| r.view(now))
        .collect()
}

/// Every file outside the bin, oldest first: what documents list as evidence.
pub fn current_of(tenant: &impl TenantGet, now: i64) -> Result<Vec<Evidence>, EvidenceError> {
    let mut out = all(tenant)?
        .iter()
        .filter(|r| r.deleted_at.is_none())
        .map(|r| r.view(now))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    Ok(out)
}

/// Changes a file's metadata (members and up); audited as `evidence.update`.
pub fn update(
    store: &Store,
    author: &Author,
    org: OrgId,
    id: &str,
    meta: Metadata,
    now: i64,
) -> Result<Evidence, EvidenceError> {
    let id = parse_id(id)?;
    let txn = store.write()?;
    let grant = grant_for(store, &txn, author.requester, org, Permission::Write)?;
    let meta = clean_metadata(meta, &members(&txn, org)?)?;
    if meta.title.is_empty() {
        return Err(invalid("title", "a file needs a title"));
    }
    let tenant = txn.tenant(&grant)?;
    let mut record = load(&tenant, &id)?;
    if record.deleted_at.is_some() {
        return Err(EvidenceError::NotFound);
    }
    record.meta = meta;
    record.updated_at = now;
    tenant.put(EVIDENCE, id.as_bytes(), &serde_json::to_vec(&record)?)?;
    drop(tenant);
    audit_change(&txn, author, "evidence.update", org, id, now)?;
    txn.commit()?;
    record.view(now)
}

/// Moves a file to the bin, or back out of it (members and up); audited as
/// `evidence.delete` / `evidence.restore`.
pub fn set_deleted(
    store: &Store,
    author: &Author,
    org: OrgId,
    id: &str,
    deleted: bool,
    now: i64,
) -> Result<Evidence, EvidenceError> {
    let id = parse_id(id)?;
    let txn = store.write()?;
    let grant = grant_for(store, &txn, author.requester, org, Permission::Write)?;
    let tenant = txn.tenant(&grant)?;
    let mut record = load(&tenant, &id)?;
    match (record.deleted_at, deleted) {
        (None, true) => record.deleted_at = Some(now),
        (Some(at), false) if now - at <= BIN_DAYS * 86_400 => record.deleted_at = None,
        (Some(_), false) => {
            return Err(EvidenceError::Gone(
                "this file was deleted more than 30 days ago and is being purged".into(),
            ));
        }
        (None, false) => return Err(invalid("evidence_id", "this file is not in the bin")),
        (Some(_), true) => return Err(EvidenceError::NotFound),
    }
    record.updated_at = now;
    tenant.put(EVIDENCE, id.as_bytes(), &serde_json::to_vec(&record)?)?;
    drop(tenant);
    let action = if deleted {
        "evidence.delete"
    } else {
        "evidence.restore"
    };
    audit_change(&txn, author, action, org, id, now)?;
    txn.commit()?;
    record.view(now)
}

/// Removes every file that has been in the bin longer than [`BIN_DAYS`]: its record (with
/// the blob keys) first, then its blobs. Returns how many files went.
pub fn purge_expired(
    store: &Store,
    vault: &Vault,
    operator: &access::ApplianceOperator,
    now: i64,
) -> Result<usize, EvidenceError> {
    let mut purged = 0;
    for org in store.organizations()? {
        let grant = operator.grant(org);
        let txn = store.write()?;
        let tenant = txn.tenant(&grant)?;
        let expired: Vec<Record> = all(&tenant)?
            .into_iter()
            .filter(|r| r.deleted_at.is_some_and(|at| now - at > BIN_DAYS * 86_400))
            .collect();
        if expired.is_empty() {
            continue;
        }
        for record in &expired {
            tenant.delete(EVIDENCE, record.id.as_bytes())?;
            links::delete_for(&tenant, &record.id)?;
        }
        drop(tenant);
        for record in &expired {
            let event = Event::new(Actor::System, "evidence.purge", Outcome::Success)
                .org(org)
                .target(record.id);
            audit::append(&txn, event, now)?;
        }
        txn.commit()?;
        let _removing = store.removing_files();
        for record in &expired {
            for version in &record.versions {
                // The record and its keys are gone: the blob can no longer be read, and
                // one left here is removed by the next sweep.
                if let Err(err) = remove_if_present(&vault.blob_path(org, &version.blob_id)) {
                    tracing::warn!(%org, blob = %version.blob_id, error = %err, "could not remove a purged evidence blob; the next sweep will");
                }
            }
        }
        purged += expired.len();
    }
    Ok(purged)
}

/// How long a blob no record names is left alone: an upload renames its blob into place
/// just before it records it, and a purge or a failed upload may have left one it will
/// not come back for.
const ORPHAN_GRACE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes blobs that no record of their organization names (left by a purge or an upload
/// that failed between the disk and the store) once they are older than [`ORPHAN_GRACE`].
/// Returns how many went.
pub fn sweep_orphans(
    store: &Store,
    vault: &Vault,
    operator: &access::ApplianceOperator,
) -> Result<usize, EvidenceError> {
    let mut swept = 0;
    for org in store.organizations()? {
        let dir = vault.org_dir(org);
        if !dir.is_dir() {
            continue;
        }
        // Waits for a running backup, whose snapshot may still name a blob removed since.
        let _removing = store.removing_files();
        let named: std::collections::HashSet<String> = {
            let read = store.read()?;
            all(&read.tenant(&operator.grant(org))?)?
                .iter()
                .flat_map(|record| &record.versions)
                .map(|version| format!("{}.blob", version.blob_id))
                .collect()
        };
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if !name.ends_with(".blob") || named.contains(name) {
                continue;
            }
            let age = entry.metadata()?.modified()?.elapsed().unwrap_or_default();
            if age < ORPHAN_GRACE {
                continue;
            }
            remove_if_present(&entry.path())?;
            tracing::info!(%org, blob = name, "removed an evidence blob no record names");
            swept += 1;
        }
    }
    Ok(swept)
}

fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}

/// An open download: what to call it and the reader that yields its checked plaintext.
pub struct Download {
    pub filename: String,
    pub media_type: String,
    pub size: u64,
    pub reader: BlobReader,
    /// The first chunk, already read and authenticated, so damage at the start is an
    /// error answer rather than a cut-off transfer.
    pub first: Vec<u8>,
}

impl Download {
    /// The whole plaintext as a byte stream, decrypted and authenticated chunk by chunk: a
    /// damaged chunk is a read error, never wrong bytes.
    pub fn into_read(self) -> impl std::io::Read {
        std::io::Read::chain(
            std::io::Cursor::new(self.first),
            BlobRead {
                reader: self.reader,
                chunk: Vec::new(),
                at: 0,
            },
        )
    }
}

/// An evidence blob as a byte stream, decrypted (and authenticated) chunk by chunk.
struct BlobRead {
    reader: BlobReader,
    chunk: Vec<u8>,
    at: usize,
}

impl std::io::Read for BlobRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.at >= self.chunk.len() {
            match self.reader.next_chunk() {
                Ok(Some(chunk)) => {
                    self.chunk = chunk;
                    self.at = 0;
                }
                Ok(None) => return Ok(0),
                Err(err) => return Err(std::io::Error::other(err.to_string())),
            }
        }
        let available = self.chunk.get(self.at..).unwrap_or_default();
        let n = available.len().min(buf.len());
        if let (Some(to), Some(from)) = (buf.get_mut(..n), available.get(..n)) {
            to.copy_from_slice(from);
        }
        self.at += n;
        Ok(n)
    }
}

fn open_version(
    vault: &Vault,
    org: OrgId,
    version: &StoredVersion,
) -> Result<Download, EvidenceError> {
    let key = crate::crypto::hex_decode(&version.key)
        .as_deref()
        .and_then(blob::BlobKey::from_bytes)
        .ok_or_else(|| EvidenceError::Damaged("the file's key is unreadable".into()))?;
    let mut reader = BlobReader::open(
        &vault.blob_path(org, &version.blob_id),
        &key,
        &version.blob_id,
    )?;
    if reader.size() != version.size {
        return Err(EvidenceError::Damaged(format!(
            "the blob holds {} bytes, the record says {}",
            reader.size(),
            version.size
        )));
    }
    let first = reader.next_chunk()?.unwrap_or_default();
    Ok(Download {
        filename: version.filename.clone(),
        media_type: version.media_type.clone(),
        size: version.size,
        reader,
        first,
    })
}

fn pick_version(record: &Record, number: Option<u32>) -> Result<&StoredVersion, EvidenceError> {
    match number {
        None => record.versions.last(),
        Some(n) => record.versions.iter().find(|v| v.number == n),
    }
    .ok_or(EvidenceError::NotFound)
}

/// Opens a version (the current one when `number` is `None`) for a reader of the
/// organization; audited as `evidence.download`. Files in the bin are not served.
#[allow(clippy::too_many_arguments)]
pub fn open_download(
    store: &Store,
    vault: &Vault,
    requester: Requester,
    org: OrgId,
    id: &str,
    number: Option<u32>,
    client: &Client,
    now: i64,
) -> Result<Download, EvidenceError> {
    let id = parse_id(id)?;
    let grant = audit::read_grant(store, requester, org, client, now)?;
    let record = {
        let read = store.read()?;
        load(&read.tenant(&grant)?, &id)?
    };
    if record.deleted_at.is_some() {
        return Err(EvidenceError::NotFound);
    }
    let version = pick_version(&record, number)?;
    let download = open_version(vault, org, version)?;
    let txn = store.write()?;
    let author = Author {
        requester,
        client: client.clone(),
    };
    audit_change(
        &txn,
        &author,
        "evidence.download",
        org,
        format!("{id} v{}", version.number),
        now,
    )?;
    txn.commit()?;
    Ok(download)
}

/// One problem `verify` found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Problem {
    pub org: String,
    pub evidence: String,
    pub version: u32,
    /// `missing` or `corrupt`.
    pub kind: String,
    pub detail: String,
}

/// What `rampart evidence verify` reports.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct VerifyReport {
    pub checked: usize,
    pub problems: Vec<Problem>,
}

/// Decrypts and re-hashes every blob of every organization.
pub fn verify_all(
    store: &Store,
    vault: &Vault,
    operator: &access::ApplianceOperator,
) -> Result<VerifyReport, EvidenceError> {
    let mut report = VerifyReport::default();
    for org in store.organizations()? {
        let records = {
            let read = store.read()?;
            all(&read.tenant(&operator.grant(org))?)?
        };
        for record in &records {
            for version in &record.versions {
                report.checked += 1;
                if let Err(err) = check_version(vault, org, version) {
                    let missing = !vault.blob_path(org, &version.blob_id).exists();
                    report.problems.push(Problem {
                        org: org.to_string(),
                        evidence: record.id.to_string(),
                        version: version.number,
                        kind: if missing { "missing" } else { "corrupt" }.to_owned(),
                        detail: err.to_string(),
                    });
                }
            }
        }
    }
    Ok(report)
}

fn check_version(vault: &Vault, org: OrgId, version: &StoredVersion) -> Result<(), EvidenceError> {
    let mut download = open_version(vault, org, version)?;
    let mut hash = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    hash.update(&download.first);
    while let Some(chunk) = download.reader.next_chunk()? {
        hash.update(&chunk);
    }
    if crate::crypto::hex(hash.finish().as_ref()) != version.sha256 {
        return Err(EvidenceError::Damaged(
            "its SHA-256 differs from the recorded one".into(),
        ));
    }
    Ok(())
}
