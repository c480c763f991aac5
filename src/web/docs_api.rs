//! JSON routes for documents: the system description, OSCAL exports and the catalogs and
//! profiles they reference.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::AppState;
use super::error::WebError;
use super::handle::{self, read};
use super::identity;
use crate::docs::{self, oscal, system};

/// The system description the SSP is written from.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/system", tag = "documents",
    params(("org_id" = String, Path)),
    responses((status = 200, body = system::SystemDescription), (status = 401), (status = 404)))]
pub async fn system_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    read(&req, &state, &path, system::get).await
}

/// Replaces the system description (owners); audited as `system.update`.
#[utoipa::path(put, path = "/api/v1/orgs/{org_id}/system", tag = "documents",
    request_body = system::SystemUpdate, params(("org_id" = String, Path)),
    responses((status = 200, body = system::SystemDescription), (status = 401), (status = 403),
        (status = 404), (status = 422, description = "`field` names what is wrong")))]
pub async fn system_put(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<system::SystemUpdate>,
) -> Result<HttpResponse, WebError> {
    let update = body.into_inner();
    handle::change(
        &req,
        &state,
        &path,
        actix_web::http::StatusCode::OK,
        move |store, changer, org, now| {
            system::update(store, changer.requester, org, &update, &changer.client, now)
        },
    )
    .await
}

/// An OSCAL 1.1.3 document for an assessment: `ssp` (system security plan), `poam` (plan of
/// action and milestones) or `assessment-results` (the objective determinations). Checked
/// against NIST's schema before it is sent; audited as `document.export`.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/assessments/{assessment_id}/oscal/{document}",
    tag = "documents",
    params(("org_id" = String, Path), ("assessment_id" = String, Path),
        ("document" = String, Path, description = "`ssp`, `poam` or `assessment-results`")),
    responses((status = 200, description = "the OSCAL JSON document"), (status = 401),
        (status = 404)))]
pub async fn oscal_export(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, WebError> {
    let (org, assessment, document) = path.into_inner();
    let caller = identity::require_caller(&req, &state).await?;
    let kind = oscal::Kind::parse(&document).ok_or(WebError::NotFound)?;
    let org = identity::parse_org(&org)?;
    let client = identity::client(&req, &state);
    let store = state.store.clone();
    let value = web::block(move || {
        docs::oscal_export(
            &store,
            caller.requester,
            org,
            &assessment,
            kind,
            &client,
            identity::now(),
        )
    })
    .await??;
    Ok(oscal_response(&value, &format!("{}.json", kind.as_str())))
}

/// A built-in framework's OSCAL catalog (`nist-800-171r2`, `nist-800-171r3`,
/// `nist-csf-2.0`; the CMMC levels are Rev 2's catalog).
#[utoipa::path(get, path = "/api/v1/oscal/catalogs/{framework}", tag = "documents",
    params(("framework" = String, Path)),
    responses((status = 200, description = "the OSCAL catalog"), (status = 401), (status = 404)))]
pub async fn oscal_catalog(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    identity::require_caller(&req, &state).await?;
    let json = oscal::catalog(&path).ok_or(WebError::NotFound)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(disposition(&format!("{}.oscal.json", oscal::token(&path))))
        .body(json))
}

/// The OSCAL profile of a built-in framework (`cmmc-l1`, `cmmc-l2`, …): which controls of
/// its catalog it assesses. SSPs made here import it.
#[utoipa::path(get, path = "/api/v1/oscal/profiles/{framework}", tag = "documents",
    params(("framework" = String, Path)),
    responses((status = 200, description = "the OSCAL profile"), (status = 401), (status = 404)))]
pub async fn oscal_profile(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    identity::require_caller(&req, &state).await?;
    let framework = crate::catalog::builtin(&path).ok_or(WebError::NotFound)?;
    let value = oscal::profile(framework, identity::now())?;
    Ok(oscal_response(&value, &oscal::profile_file(&framework.id)))
}

fn oscal_response(value: &serde_json::Value, filename: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(disposition(filename))
        .json(value)
}

/// `attachment` with a name made only of token characters, so it needs no quoting rules.
fn disposition(filename: &str) -> (header::HeaderName, String) {
    (
        header::CONTENT_DISPOSITION,
        format!("attachment; filename=\"{}\"", oscal::token(filename)),
    )
}
