//! Every generated document, kept as a version: what it is, for which assessment, who made
//! it and when, its size and SHA-256, so "the SSP is reviewed and updated" has a trail.
//!
//! The file is encrypted at rest like evidence (its own key, in the sealed record; chunked
//! AES-256-GCM, [`crate::evidence::blob`]) under `<data_dir>/documents/<org>/`. It is
//! written to a temp file, synced and renamed before its record says `ready`.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use super::DocsError;
use crate::access::Requester;
use crate::audit::{self, Actor, Event, Outcome};
use crate::auth::Client;
use crate::evidence::blob::{BlobError, BlobKey, BlobReader, BlobWriter};
use crate::store::{OrgId, Store, TenantGet, TenantTable};

const DOCUMENTS: TenantTable = TenantTable::new("t.documents");
/// An organization keeps its newest versions; older ones are removed as new ones arrive.
const MAX_VERSIONS: usize = 500;

/// Where generated documents live.
#[derive(Debug, Clone)]
pub struct Archive {
    root: PathBuf,
}

impl Archive {
    pub fn new(data_dir: &Path) -> Archive {
        Archive {
            root: data_dir.join("documents"),
        }
    }

    fn org_dir(&self, org: OrgId) -> PathBuf {
        self.root.join(org.to_string())
    }

    fn path(&self, org: OrgId, id: &uuid::Uuid) -> PathBuf {
        self.org_dir(org).join(format!("{id}.blob"))
    }

    fn temp_path(&self, id: &uuid::Uuid) -> PathBuf {
        self.root.join("tmp").join(format!("{id}.part"))
    }

    fn ensure_dirs(&self, org: OrgId) -> std::io::Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true).mode(0o700);
        builder.create(self.root.join("tmp"))?;
        builder.create(self.org_dir(org))
    }
}

/// What a stored document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    SspDocx,
    SspPdf,
    ScoreSummaryPdf,
    GapReportPdf,
    Proofpack,
}

impl DocumentKind {
    pub fn parse(text: &str) -> Option<DocumentKind> {
        match text {
            "ssp_docx" => Some(DocumentKind::SspDocx),
            "ssp_pdf" => Some(DocumentKind::SspPdf),
            "score_summary_pdf" => Some(DocumentKind::ScoreSummaryPdf),
            "gap_report_pdf" => Some(DocumentKind::GapReportPdf),
            "proofpack" => Some(DocumentKind::Proofpack),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::SspDocx => "ssp_docx",
            DocumentKind::SspPdf => "ssp_pdf",
            DocumentKind::ScoreSummaryPdf => "score_summary_pdf",
            DocumentKind::GapReportPdf => "gap_report_pdf",
            DocumentKind::Proofpack => "proofpack",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            DocumentKind::SspDocx => "System Security Plan (DOCX)",
            DocumentKind::SspPdf => "System Security Plan (PDF)",
            DocumentKind::ScoreSummaryPdf => "Score summary (PDF)",
            DocumentKind::GapReportPdf => "Gap report (PDF)",
            DocumentKind::Proofpack => "Proofpack",
        }
    }
}

/// `building` while a proofpack is made, then `ready` or `failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentState {
    Building,
    Ready,
    Failed,
}

/// A stored document version, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DocumentVersion {
    pub id: String,
    pub kind: DocumentKind,
    pub assessment: String,
    pub filename: String,
    pub media_type: String,
    pub state: DocumentState,
    /// Why it failed, when it did.
    #[serde(default)]
    pub detail: String,
    pub size: u64,
    /// Of the file as downloaded; empty until ready.
    pub sha256: String,
    pub created_at: i64,
    /// Account id.
    pub created_by: String,
    /// While building: files written so far and in all.
    #[serde(default)]
    pub progress: Option<Progress>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
}

/// The sealed record: the version and its blob key.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    #[serde(flatten)]
    version: DocumentVersion,
    key: String,
}

/// Progress of the builds under way, by document id: kept in memory, because a build that
/// dies with the process is marked failed at the next start (see [`prepare`]).
static PROGRESS: LazyLock<Mutex<HashMap<String, Progress>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

pub(crate) fn set_progress(id: &str, progress: Option<Progress>) {
    let mut map = PROGRESS.lock().unwrap_or_else(PoisonError::into_inner);
    match progress {
        Some(p) => map.insert(id.to_owned(), p),
        None => map.remove(id),
    };
}

fn progress_of(id: &str) -> Option<Progress> {
    PROGRESS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(id)
        .copied()
}

/// Writes a document's bytes through encryption into a temp file.
pub(crate) struct DocumentWriter {
    writer: Option<BlobWriter>,
    temp: PathBuf,
    id: uuid::Uuid,
    key: BlobKey,
}

impl Write for DocumentWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let writer = self
            .writer
            .as_mut()
            .ok_or_else(|| std::io::Error::other("the document is already finished"))?;
        writer.write(buf).map_err(blob_io)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for DocumentWriter {
    fn drop(&mut self) {
        // Unfinished: nothing refers to the temp file.
        if self.writer.is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

fn blob_io(err: BlobError) -> std::io::Error {
    match err {
        BlobError::Io(io) => io,
        other => std::io::Error::other(other.to_string()),
    }
}

impl From<BlobError> for DocsError {
    fn from(err: BlobError) -> Self {
        DocsError::Render {
            format: "stored document",
            message: err.to_string(),
        }
    }
}

impl From<std::io::Error> for DocsError {
    fn from(err: std::io::Error) -> Self {
        DocsError::Render {
            format: "stored document",
            message: err.to_string(),
        }
    }
}

/// Opens a writer for a new document of `org`.
pub(crate) fn writer(archive: &Archive, org: OrgId) -> Result<DocumentWriter, DocsError> {
    archive.ensure_dirs(org)?;
    let id = uuid::Uuid::new_v4();
    let key = BlobKey::generate()?;
    let temp = archive.temp_path(&id);
    let writer = BlobWriter::create(&temp, &key, &id)?;
    Ok(DocumentWriter {
        writer: Some(writer),
        temp,
        id,
        key,
    })
}

/// What a new version is, before it is stored.
pub(crate) struct NewVersion<'a> {
    pub kind: DocumentKind,
    pub assessment: &'a str,
    pub filename: String,
    pub media_type: &'static str,
}

/// The version a new document will be, before anything is stored.
pub(crate) fn pending(
    requester: Requester,
    writer: &DocumentWriter,
    new: &NewVersion<'_>,
    now: i64,
) -> DocumentVersion {
    DocumentVersion {
        id: writer.id.to_string(),
        kind: new.kind,
        assessment: new.assessment.to_owned(),
        filename: new.filename.clone(),
        media_type: new.media_type.to_owned(),
        state: DocumentState::Building,
        detail: String::new(),
        size: 0,
        sha256: String::new(),
        created_at: now,
        created_by: requester.account.to_string(),
        progress: None,
    }
}

/// Records a version as `building` (a proofpack on its way), so it is listed at once.
pub(crate) fn begin(
    store: &Store,
    requester: Requester,
    org: OrgId,
    writer: &DocumentWriter,
    new: &NewVersion<'_>,
    now: i64,
) -> Result<DocumentVersion, DocsError> {
    let version = pending(requester, writer, new, now);
    let txn = store.write()?;
    let grant = super::write_grant(store, &txn, requester, org)?;
    let tenant = txn.tenant(&grant)?;
    put(&tenant, &version, &writer.key)?;
    drop(tenant);
    txn.commit()?;
    Ok(version)
}

fn put(
    tenant: &crate::store::Tenant<'_>,
    version: &DocumentVersion,
    key: &BlobKey,
) -> Result<(), DocsError> {
    let stored = Stored {
        version: DocumentVersion {
            progress: None,
            ..version.clone()
        },
        key: crate::crypto::hex(key.as_bytes()),
    };
    tenant.put(
        DOCUMENTS,
        version.id.as_bytes(),
        &serde_json::to_vec(&stored)?,
    )?;
    Ok(())
}

/// Seals the file, moves it into place and marks its version `ready`, auditing
/// `document.generate` in the same transaction.
#[allow(clippy::too_many_arguments)]
pub(crate) fn finish(
    store: &Store,
    archive: &Archive,
    requester: Requester,
    org: OrgId,
    mut writer: DocumentWriter,
    mut version: DocumentVersion,
    client: &Client,
    now: i64,
) -> Result<DocumentVersion, DocsError> {
    let blob = writer
        .writer
        .take()
        .ok_or_else(|| std::io::Error::other("the document is already finished"))?;
    let written = match blob.finish() {
        Ok(written) => written,
        Err(err) => {
            let _ = std::fs::remove_file(&writer.temp);
            return Err(err.into());
        }
    };
    let path = archive.path(org, &writer.id);
    std::fs::rename(&writer.temp, &path)?;
    std::fs::File::open(archive.org_dir(org))?.sync_all()?;
    version.state = DocumentState::Ready;
    version.size = written.size;
    version.sha256 = crate::crypto::hex(&written.sha256);
    let txn = store.write()?;
    let grant = super::write_grant(store, &txn, requester, org)?;
    let tenant = txn.tenant(&grant)?;
    put(&tenant, &version, &writer.key)?;
    let old = prune(&tenant)?;
    drop(tenant);
    let event = client.stamp(
        Event::new(
            Actor::Account(requester.account.to_string()),
            "document.generate",
            Outcome::Success,
        )
        .org(org)
        .target(format!("{} {}", version.kind.as_str(), version.id)),
    );
    audit::append(&txn, event, now)?;
    txn.commit()?;
    // Pruning waits for no backup: while one runs, the pruned files stay behind and
    // `prepare` sweeps them at the next start.
    if let Some(_removing) = store.try_removing_files() {
        for id in old {
            let _ = std::fs::remove_file(archive.path(org, &id));
        }
    }
    Ok(version)
}

/// Marks a version `failed` with why; its file never made it into place.
pub(crate) fn fail(
    store: &Store,
    requester: Requester,
    org: OrgId,
    writer: DocumentWriter,
    mut version: DocumentVersion,
    detail: String,
) -> Result<(), DocsError> {
    version.state = DocumentState::Failed;
    version.detail = detail;
    let key = writer.key.clone();
    drop(writer);
    let txn = store.write()?;
    let grant = super::write_grant(store, &txn, requester, org)?;
    let tenant = txn.tenant(&grant)?;
    put(&tenant, &version, &key)?;
    drop(tenant);
    txn.commit()?;
    Ok(())
}

/// Removes the oldest records past [`MAX_VERSIONS`]; returns their ids for their files.
fn prune(tenant: &crate::store::Tenant<'_>) -> Result<Vec<uuid::Uuid>, DocsError> {
    let mut all = all(tenant)?;
    if all.len() <= MAX_VERSIONS {
        return Ok(Vec::new());
    }
    all.sort_by_key(|s| s.version.created_at);
    let excess = all.len() - MAX_VERSIONS;
    let mut out = Vec::new();
    for stored in all.into_iter().take(excess) {
        tenant.delete(DOCUMENTS, stored.version.id.as_bytes())?;
        if let Ok(id) = uuid::Uuid::parse_str(&stored.version.id) {
            out.push(id);
        }
    }
    Ok(out)
}

fn all(tenant: &impl TenantGet) -> Result<Vec<Stored>, DocsError> {
    tenant
        .list_prefix(DOCUMENTS, &[])?
        .into_iter()
        .map(|(_, bytes)| Ok(serde_json::from_slice(&bytes)?))
        .collect()
}

/// The organization's document versions, newest first, optionally of one assessment.
pub fn list(
    store: &Store,
    requester: Requester,
    org: OrgId,
    assessment: Option<&str>,
    client: &Client,
    now: i64,
) -> Result<Vec<DocumentVersion>, DocsError> {
    let grant = audit::read_grant(store, requester, org, client, now)?;
    let read = store.read()?;
    let mut out: Vec<DocumentVersion> = all(&read.tenant(&grant)?)?
        .into_iter()
        .map(|s| s.version)
        .filter(|v| assessment.is_none_or(|a| v.assessment == a))
        .map(|mut v| {
            if v.state == DocumentState::Building {
                v.progress = progress_of(&v.id);
            }
            v
        })
        .collect();
    out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    Ok(out)
}

/// One version.
pub fn get(
    store: &Store,
    requester: Requester,
    org: OrgId,
    id: &str,
    client: &Client,
    now: i64,
) -> Result<DocumentVersion, DocsError> {
    let id = uuid::Uuid::parse_str(id).map_err(|_| DocsError::NotFound)?;
    let grant = audit::read_grant(store, requester, org, client, now)?;
    let read = store.read()?;
    let mut version = load(&read.tenant(&grant)?, &id)?.version;
    if version.state == DocumentState::Building {
        version.progress = progress_of(&version.id);
    }
    Ok(version)
}

fn load(tenant: &impl TenantGet, id: &uuid::Uuid) -> Result<Stored, DocsError> {
    let bytes = tenant
        .get(DOCUMENTS, id.to_string().as_bytes())?
        .ok_or(DocsError::NotFound)?;
    Ok(serde_json::from_slice(&bytes)?)
}

/// A ready version, opened for download (any member), its first chunk already checked;
/// audited as `document.download`.
pub fn open(
    store: &Store,
    archive: &Archive,
    requester: Requester,
    org: OrgId,
    id: &str,
    client: &Client,
    now: i64,
) -> Result<crate::evidence::Download, DocsError> {
    let id = uuid::Uuid::parse_str(id).map_err(|_| DocsError::NotFound)?;
    let grant = audit::read_grant(store, requester, org, client, now)?;
    let stored = {
        let read = store.read()?;
        load(&read.tenant(&grant)?, &id)?
    };
    if stored.version.state != DocumentState::Ready {
        return Err(DocsError::Invalid {
            field: "document".into(),
            message: format!(
                "this document is {}; it can be downloaded once ready",
                match stored.version.state {
                    DocumentState::Building => "still being built",
                    _ => "a failed build",
                }
            ),
        });
    }
    let key = crate::crypto::hex_decode(&stored.key)
        .and_then(|bytes| BlobKey::from_bytes(&bytes))
        .ok_or_else(|| DocsError::Render {
            format: "stored document",
            message: "its key is unreadable".into(),
        })?;
    let mut reader = BlobReader::open(&archive.path(org, &id), &key, &id)?;
    let first = reader.next_chunk()?.unwrap_or_default();
    super::audit_document(
        store,
        requester,
        org,
        "document.download",
        format!("{} {}", stored.version.kind.as_str(), stored.version.id),
        client,
        now,
    )?;
    Ok(crate::evidence::Download {
        filename: stored.version.filename,
        media_type: stored.version.media_type,
        size: stored.version.size,
        reader,
        first,
    })
}

/// At start-up: removes temp files a crash left, and marks builds that were under way
/// when the process stopped as failed (they never finish). Returns how many there were.
pub fn prepare(store: &Store, data_dir: &Path) -> Result<usize, DocsError> {
    let temp = Archive::new(data_dir).root.join("tmp");
    if let Ok(entries) = std::fs::read_dir(&temp) {
        for entry in entries.flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    fail_unfinished(store, &Archive::new(data_dir))
}

/// Removes files of versions pruned while a backup ran (see the pruning in [`finish`]).
fn sweep_pruned(archive: &Archive, org: OrgId, versions: &[Stored]) {
    let Ok(entries) = std::fs::read_dir(archive.org_dir(org)) else {
        return;
    };
    let kept: std::collections::HashSet<&str> = versions
        .iter()
        .map(|stored| stored.version.id.as_str())
        .collect();
    for entry in entries.flatten() {
        let path = entry.path();
        let pruned = path.extension().is_some_and(|ext| ext == "blob")
            && path
                .file_stem()
                .and_then(|stem| stem.to_str())
                .is_some_and(|stem| !kept.contains(stem));
        if pruned {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn fail_unfinished(store: &Store, archive: &Archive) -> Result<usize, DocsError> {
    let txn = store.write()?;
    let mut failed = 0;
    for org in store.organizations()? {
        let grant = crate::access::ApplianceOperator::scheduler().grant(org);
        let tenant = txn.tenant(&grant)?;
        let versions = all(&tenant)?;
        sweep_pruned(archive, org, &versions);
        for mut stored in versions {
            if stored.version.state == DocumentState::Building {
                stored.version.state = DocumentState::Failed;
                stored.version.detail = "the appliance stopped while this was being built".into();
                tenant.put(
                    DOCUMENTS,
                    stored.version.id.as_bytes(),
                    &serde_json::to_vec(&stored)?,
                )?;
                failed += 1;
            }
        }
    }
    txn.commit()?;
    Ok(failed)
}
