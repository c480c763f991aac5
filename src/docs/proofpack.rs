//! Proofpacks: one file an assessor can check on their own. A tar archive holding the
//! documents of an assessment and the evidence files chosen, with `manifest.json` (each
//! file's path, size and SHA-256) and `manifest.sig` (the manifest's Ed25519 signature by
//! the appliance's key) written last, so the archive streams in one pass. Optionally the
//! whole tar is age-encrypted to the assessor's recipient.
//!
//! [`verify`] checks the signature, then every file against the manifest, and names each
//! one missing, added or altered.

use std::collections::BTreeMap;
use std::io::{BufRead, Read, Write};

use aws_lc_rs::signature::{self, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::archive::{self, Archive, DocumentKind, DocumentVersion, NewVersion, Progress};
use super::snapshot::Snapshot;
use super::{DocsError, invalid, oscal, sheets};
use crate::access::{Requester, SystemGrant};
use crate::auth::Client;
use crate::crypto::HashingReader;
use crate::evidence::Vault;
use crate::store::{OrgId, Store, SystemTable};

const KEYS: SystemTable = SystemTable::new("s.keys");
const SIGNING_KEY: &[u8] = b"proofpack_signing_key";
pub const FORMAT: &str = "rampart-proofpack/1";
pub const MANIFEST: &str = "manifest.json";
pub const SIGNATURE: &str = "manifest.sig";
/// A manifest is small; one larger than this is not ours.
const MAX_MANIFEST_BYTES: u64 = 16 * 1024 * 1024;
const KEY_PREFIX: &str = "ed25519:";

/// What goes into a proofpack.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ProofpackRequest {
    /// Evidence file ids to include; all current files when absent.
    #[serde(default)]
    pub evidence: Option<Vec<String>>,
    /// An age recipient (`age1…`): the proofpack is encrypted to it.
    #[serde(default)]
    pub recipient: Option<String>,
    /// A handling marking for the PDFs' headers and footers, such as `CUI`.
    #[serde(default)]
    pub marking: Option<String>,
}

/// One file in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub organization: String,
    pub organization_id: String,
    pub assessment: String,
    pub assessment_id: String,
    pub framework: String,
    /// RFC 3339.
    pub created_at: String,
    pub created_by: String,
    /// `ed25519:` and the base64 public key that signed it.
    pub signing_key: String,
    pub files: Vec<ManifestFile>,
}

/// The appliance's signing key, made on first use and kept in the sealed system store.
fn signing_key(store: &Store) -> Result<Ed25519KeyPair, DocsError> {
    let existing = {
        let read = store.read()?;
        read.system(&SystemGrant::internal())?
            .get(KEYS, SIGNING_KEY)?
    };
    let pkcs8 = match existing {
        Some(bytes) => bytes,
        None => {
            let txn = store.write()?;
            let bytes = {
                let system = txn.system(&SystemGrant::internal())?;
                match system.get(KEYS, SIGNING_KEY)? {
                    Some(bytes) => bytes,
                    None => {
                        let made =
                            Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new())
                                .map_err(|_| render("could not make the signing key"))?;
                        system.put(KEYS, SIGNING_KEY, made.as_ref())?;
                        made.as_ref().to_vec()
                    }
                }
            };
            txn.commit()?;
            bytes
        }
    };
    Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|_| render("the signing key is unreadable"))
}

fn render(message: &str) -> DocsError {
    DocsError::Render {
        format: "proofpack",
        message: message.to_owned(),
    }
}

/// The appliance's public key as `rampart proofpack verify --key` takes it.
pub fn public_key(store: &Store) -> Result<String, DocsError> {
    Ok(key_text(signing_key(store)?.public_key().as_ref()))
}

fn key_text(raw: &[u8]) -> String {
    format!(
        "{KEY_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

fn parse_key(text: &str) -> Result<Vec<u8>, DocsError> {
    let text = text.trim();
    let b64 = text.strip_prefix(KEY_PREFIX).unwrap_or(text);
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| invalid("key", "the key is not base64 (expected ed25519:…)"))?;
    if raw.len() != 32 {
        return Err(invalid("key", "an Ed25519 public key is 32 bytes"));
    }
    Ok(raw)
}

/// Checks a request and records a `building` version; [`build`] then fills it.
pub struct Plan {
    pub version: DocumentVersion,
    writer: archive::DocumentWriter,
    evidence: Vec<crate::evidence::Evidence>,
    recipient: Option<age::x25519::Recipient>,
    marking: Option<String>,
    assessment: String,
}

/// Checks the request (members and up; the assessment and every evidence id must be the
/// organization's; the recipient must parse) and records the version as `building`.
#[allow(clippy::too_many_arguments)]
pub fn plan(
    store: &Store,
    archive_dir: &Archive,
    requester: Requester,
    org: OrgId,
    assessment: &str,
    request: &ProofpackRequest,
    client: &Client,
    now: i64,
) -> Result<Plan, DocsError> {
    // Refused before anything is read: viewers read proofpacks, members make them.
    {
        let txn = store.write()?;
        super::write_grant(store, &txn, requester, org)?;
    }
    let recipient = request
        .recipient
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| {
            r.parse::<age::x25519::Recipient>()
                .map_err(|_| invalid("recipient", "not an age recipient (age1…)"))
        })
        .transpose()?;
    let marking = super::clean_marking(request.marking.as_deref())?;
    let snapshot = Snapshot::read(store, requester, org, assessment, client, now)?;
    let evidence = match &request.evidence {
        None => snapshot.evidence.clone(),
        Some(ids) => {
            if ids.len() > 10_000 {
                return Err(invalid("evidence", "at most 10000 files"));
            }
            ids.iter()
                .enumerate()
                .map(|(n, id)| {
                    snapshot
                        .evidence
                        .iter()
                        .find(|e| e.id == id.trim())
                        .cloned()
                        .ok_or_else(|| {
                            invalid(
                                format!("evidence[{n}]"),
                                format!("no evidence file {id:?} in this organization"),
                            )
                        })
                })
                .collect::<Result<Vec<_>, _>>()?
        }
    };
    let writer = archive::writer(archive_dir, org)?;
    let filename = format!(
        "proofpack-{}.tar{}",
        crate::dates::today(now),
        if recipient.is_some() { ".age" } else { "" }
    );
    let version = archive::begin(
        store,
        requester,
        org,
        &writer,
        &NewVersion {
            kind: DocumentKind::Proofpack,
            assessment: &snapshot.records.assessment.id,
            filename,
            media_type: if recipient.is_some() {
                "application/octet-stream"
            } else {
                "application/x-tar"
            },
        },
        now,
    )?;
    Ok(Plan {
        version,
        writer,
        evidence,
        recipient,
        marking,
        assessment: snapshot.records.assessment.id.clone(),
    })
}

/// Builds a planned proofpack, streaming every file through; marks the version ready (or
/// failed, with why). Runs on a blocking thread; progress is visible through
/// [`archive::list`].
#[allow(clippy::too_many_arguments)]
pub fn build(
    store: &Store,
    archive_dir: &Archive,
    vault: &Vault,
    requester: Requester,
    org: OrgId,
    plan: Plan,
    client: &Client,
    now: i64,
) -> Result<DocumentVersion, DocsError> {
    let Plan {
        version,
        mut writer,
        evidence,
        recipient,
        marking,
        assessment,
    } = plan;
    let id = version.id.clone();
    let result = write_pack(
        store,
        vault,
        requester,
        org,
        &assessment,
        &evidence,
        recipient.as_ref(),
        marking.as_deref(),
        &id,
        &mut writer,
        client,
        now,
    );
    archive::set_progress(&id, None);
    match result {
        Ok(()) => archive::finish(
            store,
            archive_dir,
            requester,
            org,
            writer,
            version,
            client,
            now,
        ),
        Err(err) => {
            let detail = err.to_string();
            archive::fail(store, requester, org, writer, version, detail)?;
            Err(err)
        }
    }
}

fn manifest_entry<R>(source: HashingReader<R>, path: String) -> ManifestFile {
    let (size, sha256) = source.finish();
    ManifestFile { path, size, sha256 }
}

fn header(size: u64, now: i64) -> tar::Header {
    let mut header = tar::Header::new_ustar();
    header.set_size(size);
    header.set_mode(0o644);
    header.set_mtime(u64::try_from(now).unwrap_or(0));
    header.set_entry_type(tar::EntryType::Regular);
    header
}

#[allow(clippy::too_many_arguments)]
fn write_pack(
    store: &Store,
    vault: &Vault,
    requester: Requester,
    org: OrgId,
    assessment: &str,
    evidence: &[crate::evidence::Evidence],
    recipient: Option<&age::x25519::Recipient>,
    marking: Option<&str>,
    id: &str,
    out: &mut archive::DocumentWriter,
    client: &Client,
    now: i64,
) -> Result<(), DocsError> {
    let snapshot = Snapshot::read(store, requester, org, assessment, client, now)?;
    let documents = documents(&snapshot, marking, now)?;
    let total = (documents.len() + evidence.len()) as u64;
    archive::set_progress(id, Some(Progress { done: 0, total }));

    let mut pack = Pack {
        store,
        vault,
        requester,
        org,
        client,
        now,
        id,
        done: 0,
        total,
        files: Vec::new(),
    };
    match recipient {
        Some(recipient) => {
            let encryptor =
                age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient))
                    .map_err(|err| render(&err.to_string()))?;
            let stream = encryptor.wrap_output(&mut *out)?;
            let stream = pack.fill(stream, &snapshot, documents, evidence)?;
            // The last age chunk is written only by finish.
            stream.finish()?;
        }
        None => {
            pack.fill(&mut *out, &snapshot, documents, evidence)?;
        }
    }
    Ok(())
}

/// One build's context and what it has written so far.
struct Pack<'a> {
    store: &'a Store,
    vault: &'a Vault,
    requester: Requester,
    org: OrgId,
    client: &'a Client,
    now: i64,
    id: &'a str,
    done: u64,
    total: u64,
    files: Vec<ManifestFile>,
}

impl Pack<'_> {
    fn step(&mut self, file: ManifestFile) {
        self.files.push(file);
        self.done += 1;
        archive::set_progress(
            self.id,
            Some(Progress {
                done: self.done,
                total: self.total,
            }),
        );
    }

    /// Writes every file, then the manifest and its signature; hands the sink back.
    fn fill<W: Write>(
        &mut self,
        sink: W,
        snapshot: &Snapshot,
        documents: Vec<(String, Vec<u8>)>,
        evidence: &[crate::evidence::Evidence],
    ) -> Result<W, DocsError> {
        let now = self.now;
        let mut tar = tar::Builder::new(sink);
        for (path, bytes) in documents {
            let mut source = HashingReader::new(bytes.as_slice());
            tar.append_data(&mut header(bytes.len() as u64, now), &path, &mut source)?;
            self.step(manifest_entry(source, path));
        }
        for file in evidence {
            let download = crate::evidence::open_download(
                self.store,
                self.vault,
                self.requester,
                self.org,
                &file.id,
                None,
                self.client,
                now,
            )?;
            let path = format!(
                "evidence/{}/v{}-{}",
                file.id,
                file.current.number,
                safe_name(&download.filename)
            );
            let size = download.size;
            let mut source = HashingReader::new(download.into_read());
            tar.append_data(&mut header(size, now), &path, &mut source)?;
            if source.size() != size {
                return Err(render(&format!(
                    "evidence {} changed size while it was packed",
                    file.id
                )));
            }
            self.step(manifest_entry(source, path));
        }
        let manifest = self.manifest(snapshot)?;
        let key = signing_key(self.store)?;
        let manifest = Manifest {
            signing_key: key_text(key.public_key().as_ref()),
            ..manifest
        };
        let manifest_bytes = serde_json::to_vec_pretty(&manifest)?;
        let signature = key.sign(&manifest_bytes);
        let signature_text = format!(
            "{}\n",
            base64::engine::general_purpose::STANDARD.encode(signature.as_ref())
        );
        tar.append_data(
            &mut header(manifest_bytes.len() as u64, now),
            MANIFEST,
            manifest_bytes.as_slice(),
        )?;
        tar.append_data(
            &mut header(signature_text.len() as u64, now),
            SIGNATURE,
            signature_text.as_bytes(),
        )?;
        Ok(tar.into_inner()?)
    }

    fn manifest(&mut self, snapshot: &Snapshot) -> Result<Manifest, DocsError> {
        Ok(Manifest {
            format: FORMAT.to_owned(),
            organization: snapshot.org.name.clone(),
            organization_id: snapshot.org.id.to_string(),
            assessment: snapshot.records.assessment.name.clone(),
            assessment_id: snapshot.records.assessment.id.clone(),
            framework: snapshot.records.assessment.framework.clone(),
            created_at: super::rfc3339(self.now),
            created_by: snapshot.person(&self.requester.account.to_string()),
            signing_key: String::new(),
            files: std::mem::take(&mut self.files),
        })
    }
}

/// A file name as a tar path segment: no separators, no leading dots.
fn safe_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let cleaned = cleaned.trim_start_matches('.');
    if cleaned.is_empty() {
        "file".to_owned()
    } else {
        cleaned.to_owned()
    }
}

/// The documents of the assessment, by path in the pack.
fn documents(
    snapshot: &Snapshot,
    marking: Option<&str>,
    now: i64,
) -> Result<Vec<(String, Vec<u8>)>, DocsError> {
    let framework = &snapshot.records.catalog;
    let mut out = vec![
        (
            "documents/ssp.pdf".to_owned(),
            super::pdf::render(&super::ssp::document(snapshot, marking))?,
        ),
        (
            "documents/score-summary.pdf".to_owned(),
            super::pdf::render(&super::reports::score_summary(snapshot, marking))?,
        ),
        (
            "documents/poam.xlsx".to_owned(),
            sheets::poam(snapshot).render(sheets::Format::Xlsx)?,
        ),
        (
            "documents/poam.csv".to_owned(),
            sheets::poam(snapshot).render(sheets::Format::Csv)?,
        ),
    ];
    for kind in [
        oscal::Kind::Ssp,
        oscal::Kind::Poam,
        oscal::Kind::AssessmentResults,
    ] {
        out.push((
            format!("oscal/{}.json", kind.as_str()),
            serde_json::to_vec_pretty(&oscal::export(kind, snapshot)?)?,
        ));
    }
    if let Some(builtin) = crate::catalog::builtin(&framework.id) {
        out.push((
            format!("oscal/{}", oscal::profile_file(&builtin.id)),
            serde_json::to_vec_pretty(&oscal::profile(builtin, now)?)?,
        ));
    }
    if let Some((file, json)) = crate::catalog::oscal_source(&framework.id) {
        out.push((format!("oscal/{file}"), json.as_bytes().to_vec()));
    }
    Ok(out)
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    pub intact: bool,
    /// The key the manifest names.
    pub signing_key: String,
    pub signature_valid: bool,
    pub files: usize,
    /// Each problem in words: `missing: path`, `added: path`, `altered: path`, …
    pub problems: Vec<String>,
    pub manifest: Option<Manifest>,
}

/// Checks a proofpack read from `input`: the manifest's signature (by `key` when given,
/// otherwise by the key the manifest names, which says nothing about who made it), and
/// every file against the manifest. An age-encrypted pack needs `identities`.
pub fn verify(
    input: impl BufRead,
    key: Option<&str>,
    identities: Option<&[Box<dyn age::Identity + Send + Sync>]>,
) -> Result<Verification, DocsError> {
    let expected_key = key.map(parse_key).transpose()?;
    let mut input = input;
    let encrypted = input.fill_buf()?.starts_with(b"age-encryption.org/");
    let reader: Box<dyn Read> = if encrypted {
        let Some(identities) = identities else {
            return Err(invalid(
                "file",
                "this proofpack is age-encrypted: give the identity it was encrypted to (--identity FILE)",
            ));
        };
        let decryptor = age::Decryptor::new_buffered(input)
            .map_err(|err| invalid("file", format!("not a readable age file: {err}")))?;
        Box::new(
            decryptor
                .decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
                .map_err(|err| invalid("file", format!("cannot decrypt: {err}")))?,
        )
    } else {
        Box::new(input)
    };
    let mut tar = tar::Archive::new(reader);
    let mut found: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut problems = Vec::new();
    let mut manifest_bytes = None;
    let mut signature_text = None;
    let unreadable =
        |err: std::io::Error| invalid("file", format!("not a readable proofpack (tar): {err}"));
    for entry in tar.entries().map_err(unreadable)? {
        let mut entry = entry.map_err(unreadable)?;
        let path = entry
            .path()
            .map_err(unreadable)?
            .to_string_lossy()
            .into_owned();
        if entry.header().entry_type() != tar::EntryType::Regular {
            problems.push(format!("added: {path} (not a regular file)"));
            continue;
        }
        if path == MANIFEST || path == SIGNATURE {
            if entry.size() > MAX_MANIFEST_BYTES {
                return Err(invalid(
                    "file",
                    format!("{path} is too large to be a manifest"),
                ));
            }
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).map_err(unreadable)?;
            if path == MANIFEST {
                manifest_bytes = Some(bytes);
            } else {
                signature_text = Some(bytes);
            }
            continue;
        }
        let mut source = HashingReader::new(&mut entry);
        std::io::copy(&mut source, &mut std::io::sink()).map_err(unreadable)?;
        let file = manifest_entry(source, path.clone());
        if found
            .insert(path.clone(), (file.size, file.sha256))
            .is_some()
        {
            problems.push(format!("added: {path} (a second copy)"));
        }
    }
    let manifest_bytes = manifest_bytes
        .ok_or_else(|| invalid("file", "not a proofpack: it has no manifest.json"))?;
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes).map_err(|err| {
        invalid(
            "file",
            format!("manifest.json is not a proofpack manifest: {err}"),
        )
    })?;
    let named_key = parse_key(&manifest.signing_key)?;
    let verifying_key = expected_key.clone().unwrap_or_else(|| named_key.clone());
    if expected_key.is_some_and(|k| k != named_key) {
        problems.push("the manifest names a different signing key than the one given".to_owned());
    }
    let signature_valid = match signature_text {
        None => {
            problems.push("missing: manifest.sig".to_owned());
            false
        }
        Some(text) => {
            let signature = base64::engine::general_purpose::STANDARD
                .decode(String::from_utf8_lossy(&text).trim())
                .unwrap_or_default();
            let valid = UnparsedPublicKey::new(&signature::ED25519, &verifying_key)
                .verify(&manifest_bytes, &signature)
                .is_ok();
            if !valid {
                problems.push(
                    "the manifest's signature does not verify: the manifest was altered or signed by another key"
                        .to_owned(),
                );
            }
            valid
        }
    };
    for file in &manifest.files {
        match found.remove(&file.path) {
            None => problems.push(format!("missing: {}", file.path)),
            Some((size, sha256)) if size != file.size || sha256 != file.sha256 => {
                problems.push(format!("altered: {}", file.path));
            }
            Some(_) => {}
        }
    }
    for path in found.keys() {
        problems.push(format!("added: {path}"));
    }
    Ok(Verification {
        intact: problems.is_empty() && signature_valid,
        signing_key: manifest.signing_key.clone(),
        signature_valid,
        files: manifest.files.len(),
        problems,
        manifest: Some(manifest),
    })
}
