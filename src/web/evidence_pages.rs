//! Evidence pages: the library (filters, usage, upload with progress) and one file's page
//! (metadata, versions, share links). Changes go through the JSON API from evidence.js.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::AppState;
use super::assess_pages::{Frame, People, page_data};
use super::assets;
use super::error::WebError;
use super::pages::{Layout, html, render};
use crate::evidence::{self, Evidence, Filter, Usage, links::Link};

#[derive(Template)]
#[template(path = "evidence.html")]
struct LibraryPage {
    layout: Layout,
    frame: Frame,
    script: String,
    evidence: Vec<Evidence>,
    usage: Usage,
    filter: Filter,
    /// Usage in whole megabytes, for people.
    used_mb: u64,
    quota_mb: u64,
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
    let (frame, (evidence, usage)) = match page_data(
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
        layout: Layout::new(),
        frame,
        script: assets::url("js/evidence.js"),
        used_mb: usage.used_bytes.div_ceil(1_000_000),
        quota_mb: usage.quota_bytes / 1_000_000,
        evidence,
        usage,
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
    let (frame, (evidence, links)) = match page_data(
        &req,
        &state,
        &org,
        People::Unnamed,
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
    Ok(html(render(&DetailPage {
        layout: Layout::new(),
        frame,
        script: assets::url("js/evidence.js"),
        tags: evidence.meta.tags.join(", "),
        requirements: evidence.meta.requirements.join(", "),
        objectives: evidence.meta.objectives.join(", "),
        evidence,
        links,
    })?))
}
