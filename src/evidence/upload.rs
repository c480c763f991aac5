//! One streamed upload: checked before the first byte, sniffed on its first bytes, limited
//! while it streams, and recorded only once its blob is durable in place.

use std::path::PathBuf;

use super::blob::{BlobKey, BlobWriter};
use super::sniff::{self, SNIFF_LEN};
use super::{
    Author, EVIDENCE, Evidence, EvidenceError, Metadata, Record, StoredVersion, Vault,
    audit_change, clean_metadata, grant_for, invalid, load, members, parse_id, used_bytes,
};
use crate::access::{Permission, Requester};
use crate::store::{OrgId, Store};

/// What an upload may take: found before any of its bytes are read.
#[derive(Debug, Clone, Copy)]
pub struct UploadPlan {
    pub org: OrgId,
    /// At most this many bytes.
    pub allowed: u64,
    pub max_file_bytes: u64,
    pub quota_bytes: u64,
    /// Recorded use, and what uploads under way held when the plan was made.
    pub used_bytes: u64,
    /// Recorded use alone.
    recorded_bytes: u64,
}

/// What uploads under way hold against each organization's quota (see [`Reservation`]).
#[derive(Debug, Default)]
pub(super) struct InFlight(std::sync::Mutex<std::collections::HashMap<OrgId, u64>>);

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<OrgId, u64>> {
        // The map holds plain counts, whole after any panic.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn held(&self, org: OrgId) -> u64 {
        self.lock().get(&org).copied().unwrap_or(0)
    }
}

/// The bytes one upload holds against its organization's quota, from its declared length
/// or what has arrived, whichever is more, until it is recorded or dropped. Recorded use
/// is checked in the recording transaction; this keeps uploads under way from together
/// writing more than the quota to disk before any of them gets there.
struct Reservation {
    in_flight: std::sync::Arc<InFlight>,
    org: OrgId,
    bytes: u64,
}

impl Reservation {
    fn new(vault: &Vault, org: OrgId) -> Reservation {
        Reservation {
            in_flight: std::sync::Arc::clone(&vault.in_flight),
            org,
            bytes: 0,
        }
    }

    /// Holds `bytes` in all, if the organization's recorded use when the upload was
    /// planned and every upload's holding stay within the quota.
    fn hold(&mut self, bytes: u64, plan: &UploadPlan) -> Result<(), EvidenceError> {
        if bytes <= self.bytes {
            return Ok(());
        }
        let mut held = self.in_flight.lock();
        let total = held.entry(self.org).or_default();
        let others = total.saturating_sub(self.bytes);
        let used = plan.recorded_bytes.saturating_add(others);
        if used.saturating_add(bytes) > plan.quota_bytes {
            return Err(EvidenceError::QuotaExceeded {
                quota: plan.quota_bytes,
                used,
            });
        }
        *total = others + bytes;
        self.bytes = bytes;
        Ok(())
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut held = self.in_flight.lock();
        if let Some(total) = held.get_mut(&self.org) {
            *total = total.saturating_sub(self.bytes);
            if *total == 0 {
                held.remove(&self.org);
            }
        }
    }
}

impl UploadPlan {
    fn refusal(&self) -> EvidenceError {
        if self.allowed < self.max_file_bytes {
            EvidenceError::QuotaExceeded {
                quota: self.quota_bytes,
                used: self.used_bytes,
            }
        } else {
            EvidenceError::TooLarge {
                limit: self.max_file_bytes,
            }
        }
    }

    /// Refuses a declared length over the limits before the body is read.
    pub fn check_declared(&self, length: Option<u64>) -> Result<(), EvidenceError> {
        match length {
            Some(length) if length > self.allowed => Err(self.refusal()),
            _ => Ok(()),
        }
    }
}

/// Checks that `requester` may add a file (or a version of `to`) described by `meta`, and
/// how large it may be, so a refusal comes before the body is read.
pub fn plan(
    store: &Store,
    vault: &Vault,
    requester: Requester,
    org: OrgId,
    to: Option<&str>,
    meta: &Metadata,
) -> Result<UploadPlan, EvidenceError> {
    let txn = store.write()?;
    let grant = grant_for(store, &txn, requester, org, Permission::Write)?;
    clean_metadata(meta.clone(), &members(&txn, org)?)?;
    let tenant = txn.tenant(&grant)?;
    if let Some(id) = to {
        let record = load(&tenant, &parse_id(id)?)?;
        if record.deleted_at.is_some() {
            return Err(EvidenceError::NotFound);
        }
    }
    let recorded = used_bytes(&tenant)?;
    let used = recorded.saturating_add(vault.in_flight.held(org));
    Ok(UploadPlan {
        org,
        allowed: vault
            .max_file_bytes
            .min(vault.quota_bytes.saturating_sub(used)),
        max_file_bytes: vault.max_file_bytes,
        quota_bytes: vault.quota_bytes,
        used_bytes: used,
        recorded_bytes: recorded,
    })
}

/// An upload in progress. Dropped before [`Upload::finish`], it removes its temp file.
pub struct Upload {
    plan: UploadPlan,
    reservation: Reservation,
    filename: String,
    temp: PathBuf,
    blob_id: uuid::Uuid,
    key: BlobKey,
    writer: Option<BlobWriter>,
    /// Bytes held until there are enough to sniff.
    head: Vec<u8>,
    media_type: Option<&'static str>,
    received: u64,
}

/// A durable blob in place, not yet recorded.
pub struct Finished {
    org: OrgId,
    path: PathBuf,
    version: StoredVersion,
    /// Held until the blob's record is committed (or it is removed).
    _reservation: Reservation,
}

impl Upload {
    /// Starts an upload of `declared` bytes, when the request said how many, holding
    /// them against the quota from the start.
    pub fn start(
        vault: &Vault,
        plan: UploadPlan,
        filename: &str,
        declared: Option<u64>,
    ) -> Result<Upload, EvidenceError> {
        let filename = sniff::clean_filename(filename)
            .ok_or_else(|| invalid("filename", "give the file's name (?filename=...)"))?;
        plan.check_declared(declared)?;
        let mut reservation = Reservation::new(vault, plan.org);
        reservation.hold(declared.unwrap_or(0), &plan)?;
        let blob_id = uuid::Uuid::new_v4();
        let temp = vault.temp_dir().join(format!("{blob_id}.part"));
        let key = BlobKey::generate()?;
        let writer = BlobWriter::create(&temp, &key, &blob_id)?;
        Ok(Upload {
            plan,
            reservation,
            filename,
            temp,
            blob_id,
            key,
            writer: Some(writer),
            head: Vec::new(),
            media_type: None,
            received: 0,
        })
    }

    pub fn feed(&mut self, data: &[u8]) -> Result<(), EvidenceError> {
        self.received += data.len() as u64;
        if self.received > self.plan.allowed {
            return Err(self.plan.refusal());
        }
        self.reservation.hold(self.received, &self.plan)?;
        if self.media_type.is_none() {
            self.head.extend_from_slice(data);
            if self.head.len() >= SNIFF_LEN {
                self.sniff(false)?;
            }
            return Ok(());
        }
        self.writer()?.write(data)?;
        Ok(())
    }

    fn writer(&mut self) -> Result<&mut BlobWriter, EvidenceError> {
        self.writer.as_mut().ok_or(EvidenceError::Incomplete)
    }

    fn sniff(&mut self, complete: bool) -> Result<(), EvidenceError> {
        let kind = sniff::sniff(&self.filename, &self.head, complete)
            .map_err(|refused| EvidenceError::UnsupportedType(refused.0))?;
        self.media_type = Some(kind.media_type);
        let head = std::mem::take(&mut self.head);
        self.writer()?.write(&head)?;
        Ok(())
    }

    /// Seals and syncs the blob, then renames it into the organization's directory.
    pub fn finish(
        mut self,
        vault: &Vault,
        author: &Author,
        now: i64,
    ) -> Result<Finished, EvidenceError> {
        if self.media_type.is_none() {
            self.sniff(true)?;
        }
        let writer = self.writer.take().ok_or(EvidenceError::Incomplete)?;
        let written = writer.finish()?;
        let org = self.plan.org;
        let dir = vault.org_dir(org);
        match std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), 0o700)
            .create(&dir)
        {
            // An organization's first blob: its directory's entry must be durable too.
            Ok(()) => std::fs::File::open(&vault.root)?.sync_all()?,
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(err) => return Err(err.into()),
        }
        let path = vault.blob_path(org, &self.blob_id);
        std::fs::rename(&self.temp, &path)?;
        // The rename is durable once the directory is; a blob that may not be is removed
        // here, since no record will ever name it.
        if let Err(err) = std::fs::File::open(&dir).and_then(|dir| dir.sync_all()) {
            let _ = std::fs::remove_file(&path);
            return Err(err.into());
        }
        let reservation = std::mem::replace(&mut self.reservation, Reservation::new(vault, org));
        Ok(Finished {
            org,
            path,
            _reservation: reservation,
            version: StoredVersion {
                number: 0,
                blob_id: self.blob_id,
                key: crate::crypto::hex(self.key.as_bytes()),
                filename: self.filename.clone(),
                media_type: self
                    .media_type
                    .unwrap_or("application/octet-stream")
                    .to_owned(),
                size: written.size,
                sha256: crate::crypto::hex(&written.sha256),
                uploaded_at: now,
                uploaded_by: author.requester.account.to_string(),
            },
        })
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if self.writer.is_some() || self.temp.exists() {
            drop(self.writer.take());
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

impl Finished {
    /// Records the blob as a new file with `meta` (`to` = `None`) or a new version of `to`,
    /// in one transaction that checks the quota again; audited as `evidence.upload` or
    /// `evidence.version`. On any failure the blob is removed.
    pub fn record(
        self,
        store: &Store,
        vault: &Vault,
        author: &Author,
        to: Option<&str>,
        meta: Metadata,
        now: i64,
    ) -> Result<Evidence, EvidenceError> {
        let path = self.path.clone();
        let recorded = self.record_inner(store, vault, author, to, meta, now);
        if recorded.is_err() {
            let _ = std::fs::remove_file(&path);
        }
        recorded
    }

    fn record_inner(
        self,
        store: &Store,
        vault: &Vault,
        author: &Author,
        to: Option<&str>,
        meta: Metadata,
        now: i64,
    ) -> Result<Evidence, EvidenceError> {
        let org = self.org;
        let txn = store.write()?;
        let grant = grant_for(store, &txn, author.requester, org, Permission::Write)?;
        let meta = clean_metadata(meta, &members(&txn, org)?)?;
        let tenant = txn.tenant(&grant)?;
        let used = used_bytes(&tenant)?;
        if used + self.version.size > vault.quota_bytes {
            return Err(EvidenceError::QuotaExceeded {
                quota: vault.quota_bytes,
                used,
            });
        }
        let mut version = self.version;
        let (record, action) = match to {
            Some(id) => {
                let mut record = load(&tenant, &parse_id(id)?)?;
                if record.deleted_at.is_some() {
                    return Err(EvidenceError::NotFound);
                }
                version.number = record.versions.last().map_or(1, |v| v.number + 1);
                record.versions.push(version);
                record.updated_at = now;
                (record, "evidence.version")
            }
            None => {
                version.number = 1;
                let mut meta = meta;
                if meta.title.is_empty() {
                    meta.title.clone_from(&version.filename);
                }
                let record = Record {
                    id: uuid::Uuid::new_v4(),
                    meta,
                    created_at: now,
                    created_by: author.requester.account.to_string(),
                    updated_at: now,
                    deleted_at: None,
                    versions: vec![version],
                };
                (record, "evidence.upload")
            }
        };
        tenant.put(
            EVIDENCE,
            record.id.as_bytes(),
            &serde_json::to_vec(&record)?,
        )?;
        drop(tenant);
        let number = record.versions.last().map_or(1, |v| v.number);
        audit_change(
            &txn,
            author,
            action,
            org,
            format!("{} v{number}", record.id),
            now,
        )?;
        txn.commit()?;
        record.view(now)
    }
}
