//! Evidence pages: the library (filters, usage, upload with progress) and one file's page
//! (metadata, versions, share links). Changes go through the JSON API from evidence.js.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::AppState;
use super::assess_pages::{Frame, People, page_data};
use super::assets;
use super::error::WebError;
use super::pages::{Layout, html, render};
use super::words;
use crate::evidence::{self, Evidence, Filter, links::Link};

#[derive(Template)]
#[template(path = "evidence.html")]
struct LibraryPage {
    layout: Layout,
    frame: Frame,
    script: String,
    rows: Vec<EvidenceRow>,
    filter: Filter,
    /// Usage, the quota and the largest file, for people.
    used: String,
    quota: String,
    max_file: String,
}

/// A file in the library, with what people read about it.
struct EvidenceRow {
    e: Evidence,
    size: String,
    review: String,
}

pub async fn library(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    filter: web::Query<Filter>,
) -> Result<HttpResponse, WebError> {
    let vault = state.vault.clone();
    let filter = filter.into_inner();
    let wanted = filter.clone();
    let (mut frame, (evidence, usage)) = match page_data(
        &req,
        &state,
        &path,
        People::Unnamed,
        move |store, requester, org, client, now| {
            Ok(evidence::list(
                store, &vault, requester, org, &wanted, client, now,
            )?)
        },
    )
    .await?
    {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    Ok(html(render(&LibraryPage {
        layout: frame.layout(),
        frame,
        script: assets::url("js/evidence.js"),
        used: crate::sizes::in_words(usage.used_bytes),
        quota: crate::sizes::in_words(usage.quota_bytes),
        max_file: crate::sizes::in_words(usage.max_file_bytes),
        rows: evidence
            .into_iter()
            .map(|e| EvidenceRow {
                size: crate::sizes::in_words(e.current.size),
                review: words::label(e.review_status),
                e,
            })
            .collect(),
        filter,
    })?))
}

#[derive(Template)]
#[template(path = "evidence_file.html")]
struct DetailPage {
    layout: Layout,
    frame: Frame,
    script: String,
    evidence: Evidence,
    links: Vec<Link>,
    /// Per version: size and who uploaded it when, for people.
    versions: Vec<(String, String, String)>,
    /// Per link: when it expires.
    link_expiry: Vec<String>,
    deleted: Option<String>,
    review: String,
    tags: String,
    requirements: String,
    objectives: String,
}

pub async fn detail(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let (org, id) = path.into_inner();
    let (mut frame, (evidence, links)) = match page_data(
        &req,
        &state,
        &org,
        People::Named,
        move |store, requester, org, client, now| {
            let evidence = evidence::get(store, requester, org, &id, client, now)?;
            let links = evidence::links::list(store, requester, org, &id, client, now)?;
            Ok((evidence, links))
        },
    )
    .await?
    {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    let when = super::account_pages::when;
    let versions = evidence
        .versions
        .iter()
        .map(|v| {
            (
                crate::sizes::in_words(v.size),
                frame.name_of(&v.uploaded_by),
                when(v.uploaded_at),
            )
        })
        .collect();
    Ok(html(render(&DetailPage {
        layout: frame.layout(),
        versions,
        link_expiry: links.iter().map(|l| when(l.expires_at)).collect(),
        deleted: evidence.deleted_at.map(when),
        review: words::label(evidence.review_status),
        frame,
        script: assets::url("js/evidence.js"),
        tags: evidence.meta.tags.join(", "),
        requirements: evidence.meta.requirements.join(", "),
        objectives: evidence.meta.objectives.join(", "),
        evidence,
        links,
    })?))
}
