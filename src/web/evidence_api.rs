//! JSON routes for the evidence vault, the streamed upload and download, and the public
//! share-link download.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::error::WebError;
use super::handle::{Changer, change, changer, read};
use super::identity::{self, now};
use crate::evidence::blob::BlobReader;
use crate::evidence::{
    self, Author, Download, Evidence, EvidenceError, Filter, Metadata, Upload, Usage, Version,
    links::{self, Link, NewLink},
};

/// Bytes of an upload gathered before they are handed to the blocking pool to be encrypted
/// and written: while one batch is written the next is gathered, so an upload holds at
/// most two, and a blocking thread only while it writes one. A slow client thus ties up
/// memory it is limited in, never a thread of the pool every request shares.
const UPLOAD_BATCH: usize = 1024 * 1024;

/// Whether this request may carry a body as large as an evidence file: the edge raises its
/// limit for these, and the handler counts.
pub fn is_upload(method: &actix_web::http::Method, path: &str) -> bool {
    method == actix_web::http::Method::POST
        && path.strip_prefix("/api/v1/orgs/").is_some_and(|rest| {
            let parts: Vec<&str> = rest.split('/').collect();
            matches!(
                parts.as_slice(),
                [_, "evidence"] | [_, "evidence", _, "versions"]
            )
        })
}

#[derive(Serialize, ToSchema)]
pub struct EvidenceList {
    evidence: Vec<Evidence>,
    usage: Usage,
}

#[derive(Serialize, ToSchema)]
pub struct VersionList {
    versions: Vec<Version>,
}

#[derive(Serialize, ToSchema)]
pub struct LinkList {
    links: Vec<Link>,
}

/// Query of an upload: the file's name, and for a new file its metadata (lists
/// comma-separated).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    filename: Option<String>,
    title: Option<String>,
    description: Option<String>,
    owner: Option<String>,
    tags: Option<String>,
    requirements: Option<String>,
    objectives: Option<String>,
    effective: Option<String>,
    review_by: Option<String>,
}

fn split(list: Option<&String>) -> Vec<String> {
    list.map(|l| l.split(',').map(str::to_owned).collect())
        .unwrap_or_default()
}

impl UploadQuery {
    fn metadata(&self) -> Metadata {
        Metadata {
            title: self.title.clone().unwrap_or_default(),
            description: self.description.clone().unwrap_or_default(),
            owner: self.owner.clone(),
            tags: split(self.tags.as_ref()),
            requirements: split(self.requirements.as_ref()),
            objectives: split(self.objectives.as_ref()),
            effective: self.effective.clone(),
            review_by: self.review_by.clone(),
        }
    }
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DownloadQuery {
    /// `1`: show an image or plain text in the browser instead of saving it.
    #[serde(default)]
    inline: Option<String>,
}

fn author(changer: Changer) -> Author {
    Author {
        requester: changer.requester,
        client: changer.client,
    }
}

/// Streams the body into an [`Upload`] on the blocking pool, then records it. Nothing is
/// recorded, and no file is left, unless the whole body arrived and passed every check.
async fn receive(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    org: &str,
    to: Option<String>,
    query: &UploadQuery,
    mut body: web::Payload,
) -> Result<Evidence, WebError> {
    let author = author(changer(req, state).await?);
    let org = identity::parse_org(org)?;
    let meta = query.metadata();
    let filename = query.filename.clone().unwrap_or_default();
    let declared = super::edge::declared_length(req.headers());
    let (store, vault) = (state.store.clone(), state.vault.clone());
    let upload = {
        let (to, meta) = (to.clone(), meta.clone());
        let requester = author.requester;
        web::block(move || {
            let plan = evidence::plan(&store, &vault, requester, org, to.as_deref(), &meta)?;
            Upload::start(&vault, plan, &filename, declared)
        })
        .await??
    };

    // Dropping an upload removes its temp file, so every early return below leaves none.
    let mut writing = Writing::Idle(Box::new(upload));
    let mut batch = Batch::default();
    loop {
        let chunk = match tokio::time::timeout(state.upload_idle, body.next()).await {
            Err(_) => {
                writing.abandon().await?;
                return Err(WebError::Timeout(format!(
                    "no data arrived for {} s; the upload was abandoned",
                    state.upload_idle.as_secs()
                )));
            }
            Ok(None) => break,
            Ok(Some(Err(_))) => {
                writing.abandon().await?;
                return Err(EvidenceError::Incomplete.into());
            }
            Ok(Some(Ok(chunk))) => chunk,
        };
        batch.push(chunk);
        if batch.len >= UPLOAD_BATCH {
            writing = writing.write(std::mem::take(&mut batch)).await?;
        }
    }
    let upload = writing.write(batch).await?.finished().await?;
    let (store, vault) = (state.store.clone(), state.vault.clone());
    let evidence = web::block(move || {
        let now = now();
        upload.finish(&vault, &author, now)?.record(
            &store,
            &vault,
            &author,
            to.as_deref(),
            meta,
            now,
        )
    })
    .await??;
    Ok(evidence)
}

/// Chunks of an upload gathered for one hand-off.
#[derive(Default)]
struct Batch {
    chunks: Vec<web::Bytes>,
    len: usize,
}

impl Batch {
    fn push(&mut self, chunk: web::Bytes) {
        self.len += chunk.len();
        self.chunks.push(chunk);
    }
}

/// An upload either waiting for its next batch or writing one on the blocking pool.
enum Writing {
    Idle(Box<Upload>),
    Busy(tokio::task::JoinHandle<Result<Upload, EvidenceError>>),
}

impl Writing {
    /// Waits for the batch being written, if any, then starts writing `batch`.
    async fn write(self, batch: Batch) -> Result<Writing, WebError> {
        let mut upload = self.finished().await?;
        if batch.chunks.is_empty() {
            return Ok(Writing::Idle(Box::new(upload)));
        }
        Ok(Writing::Busy(tokio::task::spawn_blocking(move || {
            for chunk in &batch.chunks {
                upload.feed(chunk)?;
            }
            Ok(upload)
        })))
    }

    /// The upload, once the batch being written (if any) is.
    async fn finished(self) -> Result<Upload, WebError> {
        match self {
            Writing::Idle(upload) => Ok(*upload),
            Writing::Busy(task) => Ok(task
                .await
                .map_err(|err| WebError::Internal(format!("upload writer: {err}")))??),
        }
    }

    /// Drops the upload (removing its temp file) on the blocking pool.
    async fn abandon(self) -> Result<(), WebError> {
        let upload = self.finished().await;
        web::block(move || drop(upload)).await?;
        Ok(())
    }
}

/// What a download's body holds between chunks: the rest of the run being sent, and the
/// next run being read and decrypted on the blocking pool meanwhile.
struct Sending {
    run: std::vec::IntoIter<web::Bytes>,
    next: Option<ReadAhead>,
}

/// The reader back, with the run it read: `None` after the last.
type ReadAhead = tokio::task::JoinHandle<(BlobReader, Option<std::io::Result<Vec<web::Bytes>>>)>;

/// Reads and decrypts the run after `reader`'s position on the blocking pool. A thread is
/// held only while it does: a slow downloader holds at most two runs (2 MiB), no thread.
fn read_ahead(mut reader: BlobReader) -> ReadAhead {
    tokio::task::spawn_blocking(move || {
        let run = match reader.next_run() {
            Ok(run) => run.map(Ok),
            Err(err) => {
                tracing::error!(detail = %err, "an evidence blob failed its check during a download");
                Some(Err(std::io::Error::other(
                    "the file failed its integrity check",
                )))
            }
        };
        (reader, run)
    })
}

/// Answers a download: the first (already authenticated) chunk, then the rest decrypted on
/// the blocking pool a run at a time. A chunk that fails authentication ends the transfer
/// short of its Content-Length, so a damaged file is never received as a whole one.
pub(super) fn serve(download: Download, inline: bool) -> HttpResponse {
    let Download {
        filename,
        media_type,
        size,
        reader,
        first,
    } = download;
    let sending = Sending {
        run: Vec::new().into_iter(),
        next: Some(read_ahead(reader)),
    };
    let rest = futures_util::stream::unfold(sending, |mut sending| async move {
        loop {
            if let Some(chunk) = sending.run.next() {
                return Some((Ok(chunk), sending));
            }
            let (reader, run) = match sending.next.take()?.await {
                Ok((reader, run)) => (Some(reader), run),
                Err(err) => (
                    None,
                    Some(Err(std::io::Error::other(format!(
                        "download reader: {err}"
                    )))),
                ),
            };
            match run? {
                Ok(run) => {
                    sending.run = run.into_iter();
                    sending.next = reader.map(read_ahead);
                }
                // Nothing follows an error: the body ends short of its length.
                Err(err) => return Some((Err(err), sending)),
            }
        }
    });
    let body = futures_util::stream::once(async move { Ok(web::Bytes::from(first)) }).chain(rest);
    let inline = inline && evidence::sniff::previewable(&media_type);
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, media_type))
        .insert_header((
            header::CONTENT_DISPOSITION,
            super::download::content_disposition(inline, &filename),
        ))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .no_chunking(size)
        .streaming(body)
}

/// The organization's evidence (or its bin) and storage use.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/evidence", tag = "evidence",
    params(("org_id" = String, Path), Filter),
    responses((status = 200, body = EvidenceList), (status = 401), (status = 404)))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    filter: web::Query<Filter>,
) -> Result<HttpResponse, WebError> {
    let caller = identity::require_caller(&req, &state).await?;
    let org = identity::parse_org(&path)?;
    let client = identity::client(&req, &state);
    let (store, vault) = (state.store.clone(), state.vault.clone());
    let (evidence, usage) = web::block(move || {
        evidence::list(
            &store,
            &vault,
            caller.requester,
            org,
            &filter,
            &client,
            now(),
        )
    })
    .await??;
    Ok(HttpResponse::Ok().json(EvidenceList { evidence, usage }))
}

/// Uploads a new file: the raw body is the file, streamed and encrypted as it arrives.
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/evidence", tag = "evidence",
    params(("org_id" = String, Path), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = Evidence), (status = 403), (status = 404),
        (status = 408), (status = 413), (status = 415), (status = 422), (status = 507)))]
pub async fn upload(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<UploadQuery>,
    body: web::Payload,
) -> Result<HttpResponse, WebError> {
    let evidence = receive(&req, &state, &path, None, &query, body).await?;
    Ok(HttpResponse::Created().json(evidence))
}

/// One file with its versions.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/evidence/{evidence_id}", tag = "evidence",
    params(("org_id" = String, Path), ("evidence_id" = String, Path)),
    responses((status = 200, body = Evidence), (status = 401), (status = 404)))]
pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let (org, id) = path.into_inner();
    read(
        &req,
        &state,
        &org,
        move |store, requester, org, client, now| {
            evidence::get(store, requester, org, &id, client, now)
        },
    )
    .await
}

/// Changes a file's title, description, owner, tags, links and dates.
#[utoipa::path(put, path = "/api/v1/orgs/{org_id}/evidence/{evidence_id}", tag = "evidence",
    params(("org_id" = String, Path), ("evidence_id" = String, Path)),
    request_body = Metadata,
    responses((status = 200, body = Evidence), (status = 403), (status = 404), (status = 422)))]
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Json<Metadata>,
) -> Result<HttpResponse, WebError> {
    let (org, id) = path.into_inner();
    change(
        &req,
        &state,
        &org,
        StatusCode::OK,
        move |store, changer, org, now| {
            evidence::update(store, &author(changer), org, &id, body.into_inner(), now)
        },
    )
    .await
}

async fn set_deleted(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    deleted: bool,
) -> Result<HttpResponse, WebError> {
    let (org, id) = path.into_inner();
    change(
        &req,
        &state,
        &org,
        StatusCode::OK,
        move |store, changer, org, now| {
            evidence::set_deleted(store, &author(changer), org, &id, deleted, now)
        },
    )
    .await
}

/// Moves a file to the bin, where it can be restored for 30 days.
#[utoipa::path(delete, path = "/api/v1/orgs/{org_id}/evidence/{evidence_id}", tag = "evidence",
    params(("org_id" = String, Path), ("evidence_id" = String, Path)),
    responses((status = 200, body = Evidence), (status = 403), (status = 404)))]
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    set_deleted(req, state, path, true).await
}

/// Takes a file back out of the bin.
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/evidence/{evidence_id}/restore", tag = "evidence",
    params(("org_id" = String, Path), ("evidence_id" = String, Path)),
    responses((status = 200, body = Evidence), (status = 403), (status = 404), (status = 410)))]
pub async fn restore(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    set_deleted(req, state, path, false).await
}

/// A file's versions, newest first.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/evidence/{evidence_id}/versions", tag = "evidence",
    params(("org_id" = String, Path), ("evidence_id" = String, Path)),
    responses((status = 200, body = VersionList), (status = 401), (status = 404)))]
pub async fn versions(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let (org, id) = path.into_inner();
    read(
        &req,
        &state,
        &org,
        move |store, requester, org, client, now| {
            let versions = evidence::get(store, requester, org, &id, client, now)?.versions;
            Ok::<_, EvidenceError>(VersionList { versions })
        },
    )
    .await
}

/// Uploads a new version of a file; the old ones are kept.
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/evidence/{evidence_id}/versions", tag = "evidence",
    params(("org_id" = String, Path), ("evidence_id" = String, Path), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = Evidence), (status = 403), (status = 404),
        (status = 408), (status = 413), (status = 415), (status = 507)))]
pub async fn add_version(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    query: web::Query<UploadQuery>,
    body: web::Payload,
) -> Result<HttpResponse, WebError> {
    let (org, id) = path.into_inner();
    let evidence = receive(&req, &state, &org, Some(id), &query, body).await?;
    Ok(HttpResponse::Created().json(evidence))
}

async fn download_version(
    req: HttpRequest,
    state: web::Data<AppState>,
    org: String,
    id: String,
    number: Option<&str>,
    inline: bool,
) -> Result<HttpResponse, WebError> {
    let caller = identity::require_caller(&req, &state).await?;
    let org = identity::parse_org(&org)?;
    let number = match number {
        Some(text) => Some(text.parse::<u32>().map_err(|_| WebError::NotFound)?),
        None => None,
    };
    let client = identity::client(&req, &state);
    let (store, vault) = (state.store.clone(), state.vault.clone());
    let download = web::block(move || {
        evidence::open_download(
            &store,
            &vault,
            caller.requester,
            org,
            &id,
            number,
            &client,
            now(),
        )
    })
    .await??;
    Ok(serve(download, inline))
}

/// The current version's bytes, as an attachment (`?inline=1` previews images and text).
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/evidence/{evidence_id}/download", tag = "evidence",
    params(("org_id" = String, Path), ("evidence_id" = String, Path), DownloadQuery),
    responses((status = 200, description = "The file"), (status = 404), (status = 500)))]
pub async fn download(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    query: web::Query<DownloadQuery>,
) -> Result<HttpResponse, WebError> {
    let (org, id) = path.into_inner();
    let inline = query.inline.as_deref() == Some("1");
    download_version(req, state, org, id, None, inline).await
}

/// One version's bytes.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/evidence/{evidence_id}/versions/{number}/download", tag = "evidence",
    params(("org_id" = String, Path), ("evidence_id" = String, Path), ("number" = u32, Path), DownloadQuery),
    responses((status = 200, description = "The file"), (status = 404), (status = 500)))]
pub async fn download_numbered(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
    query: web::Query<DownloadQuery>,
) -> Result<HttpResponse, WebError> {
    let (org, id, number) = path.into_inner();
    let inline = query.inline.as_deref() == Some("1");
    download_version(req, state, org, id, Some(&number), inline).await
}

/// Creates a share link to one version (admins and owners); the answer's `url` is the only
/// copy of the link.
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/evidence/{evidence_id}/links", tag = "evidence",
    params(("org_id" = String, Path), ("evidence_id" = String, Path)),
    request_body = NewLink,
    responses((status = 201, body = Link), (status = 403), (status = 404), (status = 422)))]
pub async fn create_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Json<NewLink>,
) -> Result<HttpResponse, WebError> {
    let (org, id) = path.into_inner();
    let base_url = state.base_url.clone();
    change(
        &req,
        &state,
        &org,
        StatusCode::CREATED,
        move |store, changer, org, now| {
            links::create(store, &author(changer), org, &id, &body, &base_url, now)
        },
    )
    .await
}

/// A file's share links (without their tokens).
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/evidence/{evidence_id}/links", tag = "evidence",
    params(("org_id" = String, Path), ("evidence_id" = String, Path)),
    responses((status = 200, body = LinkList), (status = 401), (status = 404)))]
pub async fn list_links(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let (org, id) = path.into_inner();
    read(
        &req,
        &state,
        &org,
        move |store, requester, org, client, now| {
            let links = links::list(store, requester, org, &id, client, now)?;
            Ok::<_, EvidenceError>(LinkList { links })
        },
    )
    .await
}

/// Revokes a share link (admins and owners).
#[utoipa::path(delete, path = "/api/v1/orgs/{org_id}/evidence/{evidence_id}/links/{link_id}", tag = "evidence",
    params(("org_id" = String, Path), ("evidence_id" = String, Path), ("link_id" = String, Path)),
    responses((status = 200, body = Link), (status = 403), (status = 404)))]
pub async fn revoke_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, WebError> {
    let (org, id, link) = path.into_inner();
    change(
        &req,
        &state,
        &org,
        StatusCode::OK,
        move |store, changer, org, now| {
            links::revoke(store, &author(changer), org, &id, &link, now)
        },
    )
    .await
}

/// The public download behind a share link: no account, rate limited like sign-in.
pub async fn shared(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let token = path.into_inner();
    let client = identity::client(&req, &state);
    let (store, vault) = (state.store.clone(), state.vault.clone());
    let download =
        web::block(move || links::open_shared(&store, &vault, &token, &client, now())).await??;
    Ok(serve(download, false))
}
