//! The documents page of an organization: the system description, generating the SSP,
//! reports and proofpacks (with progress), every kept version, exports and imports. Changes
//! go through the JSON API from documents.js.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::AppState;
use super::assess_pages::{Frame, People, page_data};
use super::assets;
use super::audit_pages::utc;
use super::error::WebError;
use super::pages::{Layout, html, render};
use crate::access::Role;
use crate::assess::{self, Assessment};
use crate::docs::archive::{self, DocumentState, DocumentVersion};
use crate::docs::{proofpack, system};

/// One kept version as the page lists it.
struct Row {
    version: DocumentVersion,
    /// `building`, `ready` or `failed`.
    state: &'static str,
    /// Files packed so far and in all, while building.
    done: u64,
    total: u64,
    title: &'static str,
    assessment: String,
    created: String,
    created_by: String,
    size: String,
}

#[derive(Template)]
#[template(path = "documents.html")]
struct DocumentsPage {
    layout: Layout,
    frame: Frame,
    script: String,
    assessments: Vec<Assessment>,
    system: system::SystemDescription,
    /// `Title | Name | Contact` lines, as the form edits them.
    roles: String,
    is_owner: bool,
    rows: Vec<Row>,
    signing_key: String,
}

pub async fn documents(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let (mut frame, (assessments, system, versions, is_owner, signing_key, people)) =
        match page_data(
            &req,
            &state,
            &path,
            People::Unnamed,
            |store, requester, org, client, now| {
                let assessments = assess::list(store, requester, org, client, now)?;
                let system = system::get(store, requester, org, client, now)?;
                let versions = archive::list(store, requester, org, None, client, now)?;
                let is_owner = crate::org::member_profile(store, requester, org)?
                    .is_some_and(|(_, role)| role == Role::Owner);
                let key = proofpack::public_key(store)?;
                let people = crate::auth::members::list(store, requester, org)
                    .map(|members| {
                        members
                            .into_iter()
                            .map(|m| (m.account.to_string(), m.email))
                            .collect::<std::collections::BTreeMap<_, _>>()
                    })
                    .unwrap_or_default();
                Ok((assessments, system, versions, is_owner, key, people))
            },
        )
        .await?
        {
            Ok(found) => found,
            Err(redirect) => return Ok(redirect),
        };
    let rows = versions
        .into_iter()
        .map(|version| Row {
            state: match version.state {
                DocumentState::Building => "building",
                DocumentState::Ready => "ready",
                DocumentState::Failed => "failed",
            },
            done: version.progress.map_or(0, |p| p.done),
            total: version.progress.map_or(1, |p| p.total.max(1)),
            title: version.kind.title(),
            assessment: assessments
                .iter()
                .find(|a| a.id == version.assessment)
                .map_or_else(|| version.assessment.clone(), |a| a.name.clone()),
            created: utc(version.created_at).0,
            created_by: people
                .get(&version.created_by)
                .cloned()
                .unwrap_or_else(|| version.created_by.clone()),
            size: crate::sizes::in_words(version.size),
            version,
        })
        .collect();
    let roles = system
        .roles
        .iter()
        .map(|r| format!("{} | {} | {}", r.title, r.name, r.contact))
        .collect::<Vec<_>>()
        .join("\n");
    Ok(html(render(&DocumentsPage {
        layout: frame.layout(),
        frame,
        script: assets::url("js/documents.js"),
        assessments,
        system,
        roles,
        is_owner,
        rows,
        signing_key,
    })?))
}
