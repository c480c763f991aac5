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
use crate::evidence::{
    self, Author, Download, Evidence, EvidenceError, Filter, Metadata, Upload, Usage, Version,
    links::{self, Link, NewLink},
};

/// Chunks buffered between the network and the encrypting writer (each up to 64 KiB):
/// bounds an upload's memory whatever its size.
const UPLOAD_QUEUE: usize = 16;
/// Decrypted runs (of `blob::RUN_CHUNKS` chunks, 1 MiB) buffered ahead of a slow downloader.
const DOWNLOAD_QUEUE: usize = 2;

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
    let (store, vault) = (state.store.clone(), state.vault.clone());
    let plan = {
        let (to, meta) = (to.clone(), meta.clone());
        let requester = author.requester;
        web::block(move || evidence::plan(&store, &vault, requester, org, to.as_deref(), &meta))
            .await??
    };
    plan.check_declared(super::edge::declared_length(req.headers()))?;

    let (sender, mut receiver) = tokio::sync::mpsc::channel::<web::Bytes>(UPLOAD_QUEUE);
    let vault = state.vault.clone();
    let writer = tokio::task::spawn_blocking(move || -> Result<Upload, EvidenceError> {
        let mut upload = Upload::start(&vault, plan, &filename)?;
        while let Some(data) = receiver.blocking_recv() {
            upload.feed(&data)?;
        }
        Ok(upload)
    });
    let mut broke_off = false;
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else {
            broke_off = true;
            break;
        };
        if sender.send(chunk).await.is_err() {
            // The writer stopped on an error, which it returns below.
            break;
        }
    }
    drop(sender);
    let upload = writer
        .await
        .map_err(|err| WebError::Internal(format!("upload writer: {err}")))??;
    if broke_off {
        // Dropping the upload removes its temp file.
        web::block(move || drop(upload)).await?;
        return Err(EvidenceError::Incomplete.into());
    }
    let (store, vault) = (state.store.clone(), state.vault.clone());
    let evidence = web::block(move || {
        let now = now();
        upload.finish(&vault, org, &author, now)?.record(
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

/// Answers a download: the first (already authenticated) chunk, then the rest decrypted on
/// the blocking pool. A chunk that fails authentication ends the transfer short of its
/// Content-Length, so a damaged file is never received as a whole one.
pub(super) fn serve(download: Download, inline: bool) -> HttpResponse {
    let Download {
        filename,
        media_type,
        size,
        mut reader,
        first,
    } = download;
    let (sender, receiver) =
        tokio::sync::mpsc::channel::<Result<Vec<web::Bytes>, std::io::Error>>(DOWNLOAD_QUEUE);
    tokio::task::spawn_blocking(move || {
        loop {
            let next = match reader.next_run() {
                Ok(Some(run)) => Ok(run),
                Ok(None) => break,
                Err(err) => {
                    tracing::error!(detail = %err, "an evidence blob failed its check during a download");
                    Err(std::io::Error::other("the file failed its integrity check"))
                }
            };
            let failed = next.is_err();
            if sender.blocking_send(next).is_err() || failed {
                break;
            }
        }
    });
    // The body hands actix one chunk at a time from each run the reader sent.
    let rest = futures_util::stream::unfold(
        (receiver, Vec::new().into_iter()),
        |(mut receiver, mut run)| async move {
            loop {
                if let Some(chunk) = run.next() {
                    return Some((Ok(chunk), (receiver, run)));
                }
                match receiver.recv().await? {
                    Ok(next) => run = next.into_iter(),
                    Err(err) => return Some((Err(err), (receiver, run))),
                }
            }
        },
    );
    let body = futures_util::stream::once(async move { Ok(web::Bytes::from(first)) }).chain(rest);
    let disposition = if inline && evidence::sniff::previewable(&media_type) {
        "inline"
    } else {
        "attachment"
    };
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, media_type))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("{disposition}; filename=\"{filename}\""),
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
        (status = 413), (status = 415), (status = 422), (status = 507)))]
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
        (status = 413), (status = 415), (status = 507)))]
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
