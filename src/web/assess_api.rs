//! JSON routes for assessments: objectives, requirement details, score, POA&M, gaps, drift.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::error::WebError;
use crate::assess::{
    self, AssessError, Assessment, AssessmentUpdate, Author, Dashboard, Gaps, NewAssessment,
    ObjectiveUpdate, PoamInput, PoamItem, PoamView, RequirementDetail, RequirementView, Source,
    drift::DriftItem,
};
use crate::scoring::Outcome;
use crate::store::{OrgId, Store};

use super::handle::{self, read};

/// Runs a change for the caller (CSRF checked) and answers it as JSON.
async fn change<T, F>(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    org: &str,
    change: F,
) -> Result<HttpResponse, WebError>
where
    T: Serialize + Send + 'static,
    F: FnOnce(&Store, &Author, OrgId, i64) -> Result<T, AssessError> + Send + 'static,
{
    handle::change(
        req,
        state,
        org,
        StatusCode::OK,
        move |store, changer, org, now| {
            let author = Author {
                requester: changer.requester,
                client: changer.client,
                source: if changer.on_page {
                    Source::Page
                } else {
                    Source::Api
                },
            };
            change(store, &author, org, now)
        },
    )
    .await
}

/// The organization's assessments, newest first.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/assessments", tag = "assessments",
    params(("org_id" = String, Path)),
    responses((status = 200, body = [Assessment]), (status = 401), (status = 404)))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    read(&req, &state, &path, assess::list).await
}

/// Start an assessment against one framework (members and up).
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/assessments", tag = "assessments",
    params(("org_id" = String, Path)), request_body = NewAssessment,
    responses((status = 200, body = Assessment), (status = 401), (status = 403), (status = 404),
        (status = 422, description = "unknown framework or bad name")))]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<NewAssessment>,
) -> Result<HttpResponse, WebError> {
    let body = body.into_inner();
    change(&req, &state, &path, move |store, author, org, now| {
        assess::create(store, author, org, &body, now)
    })
    .await
}

/// One assessment.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/assessments/{assessment_id}", tag = "assessments",
    params(("org_id" = String, Path), ("assessment_id" = String, Path)),
    responses((status = 200, body = Assessment), (status = 401), (status = 404)))]
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
            assess::get(store, requester, org, &id, client, now)
        },
    )
    .await
}

/// Rename an assessment and record its CMMC status dates (members and up).
#[utoipa::path(put, path = "/api/v1/orgs/{org_id}/assessments/{assessment_id}", tag = "assessments",
    params(("org_id" = String, Path), ("assessment_id" = String, Path)), request_body = AssessmentUpdate,
    responses((status = 200, body = Assessment), (status = 401), (status = 403), (status = 404), (status = 422)))]
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Json<AssessmentUpdate>,
) -> Result<HttpResponse, WebError> {
    let (org, id) = path.into_inner();
    let body = body.into_inner();
    change(&req, &state, &org, move |store, author, org, now| {
        assess::update(store, author, org, &id, &body, now)
    })
    .await
}

/// Every objective of the assessment's framework in catalog order, with its status, note,
/// and who decided when and from where.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/assessments/{assessment_id}/objectives", tag = "assessments",
    params(("org_id" = String, Path), ("assessment_id" = String, Path)),
    responses((status = 200, body = assess::ObjectiveList), (status = 401), (status = 404)))]
pub async fn objectives(
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
            assess::objectives(store, requester, org, &id, client, now)
        },
    )
    .await
}

#[derive(Deserialize, ToSchema)]
pub struct ObjectiveUpdates {
    updates: Vec<ObjectiveUpdate>,
}

/// Set the status (and note) of many objectives at once (members and up): all of them or,
/// when any is refused, none. Each change is kept in its requirement's history.
#[utoipa::path(patch, path = "/api/v1/orgs/{org_id}/assessments/{assessment_id}/objectives", tag = "assessments",
    params(("org_id" = String, Path), ("assessment_id" = String, Path)), request_body = ObjectiveUpdates,
    responses((status = 200, body = assess::UpdateResult), (status = 401), (status = 403), (status = 404),
        (status = 422, description = "unknown objective or status, or an objective given twice; `field` names it")))]
pub async fn update_objectives(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Json<ObjectiveUpdates>,
) -> Result<HttpResponse, WebError> {
    let (org, id) = path.into_inner();
    let body = body.into_inner();
    change(&req, &state, &org, move |store, author, org, now| {
        assess::update_objectives(store, author, org, &id, &body.updates, now)
    })
    .await
}

/// A requirement with its objectives, details, history and POA&M item.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/assessments/{assessment_id}/requirements/{requirement_id}", tag = "assessments",
    params(("org_id" = String, Path), ("assessment_id" = String, Path), ("requirement_id" = String, Path)),
    responses((status = 200, body = RequirementView), (status = 401), (status = 404), (status = 422)))]
pub async fn requirement(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, WebError> {
    let (org, id, requirement) = path.into_inner();
    let requirement = crate::catalog::parse_requirement_ref(&requirement);
    read(
        &req,
        &state,
        &org,
        move |store, requester, org, client, now| {
            assess::requirement(store, requester, org, &id, &requirement, client, now)
        },
    )
    .await
}

/// Change a requirement's implementation statement, responsible people, inheritance, review
/// date and scoring markers (members and up).
#[utoipa::path(put, path = "/api/v1/orgs/{org_id}/assessments/{assessment_id}/requirements/{requirement_id}", tag = "assessments",
    params(("org_id" = String, Path), ("assessment_id" = String, Path), ("requirement_id" = String, Path)),
    request_body = RequirementDetail,
    responses((status = 200, body = RequirementDetail), (status = 401), (status = 403), (status = 404), (status = 422)))]
pub async fn update_requirement(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
    body: web::Json<RequirementDetail>,
) -> Result<HttpResponse, WebError> {
    let (org, id, requirement) = path.into_inner();
    let requirement = crate::catalog::parse_requirement_ref(&requirement);
    let body = body.into_inner();
    change(&req, &state, &org, move |store, author, org, now| {
        assess::update_requirement(store, author, org, &id, &requirement, &body, now)
    })
    .await
}

/// The SPRS score and CMMC status: exactly the output of `rampart score` (SCORING.md
/// section 5). 409 for a framework without a score (Rev 3, CSF 2.0).
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/assessments/{assessment_id}/score", tag = "assessments",
    params(("org_id" = String, Path), ("assessment_id" = String, Path)),
    responses((status = 200, body = Outcome), (status = 401), (status = 404), (status = 409)))]
pub async fn score(
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
            assess::score(store, requester, org, &id, client, now)
        },
    )
    .await
}

/// Scores, statuses, progress per family, top gaps, drift and the score over time.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/assessments/{assessment_id}/dashboard", tag = "assessments",
    params(("org_id" = String, Path), ("assessment_id" = String, Path)),
    responses((status = 200, body = Dashboard), (status = 401), (status = 404)))]
pub async fn dashboard(
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
            assess::dashboard(store, requester, org, &id, client, now)
        },
    )
    .await
}

/// The POA&M: every unmet requirement and every item, with eligibility and the status dates.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/assessments/{assessment_id}/poam", tag = "assessments",
    params(("org_id" = String, Path), ("assessment_id" = String, Path)),
    responses((status = 200, body = PoamView), (status = 401), (status = 404)))]
pub async fn poam(
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
            assess::poam(store, requester, org, &id, client, now)
        },
    )
    .await
}

/// Create or replace the POA&M item of one requirement (members and up).
#[utoipa::path(put, path = "/api/v1/orgs/{org_id}/assessments/{assessment_id}/poam/{requirement_id}", tag = "assessments",
    params(("org_id" = String, Path), ("assessment_id" = String, Path), ("requirement_id" = String, Path)),
    request_body = PoamInput,
    responses((status = 200, body = PoamItem), (status = 401), (status = 403), (status = 404), (status = 422)))]
pub async fn put_poam(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
    body: web::Json<PoamInput>,
) -> Result<HttpResponse, WebError> {
    let (org, id, requirement) = path.into_inner();
    let requirement = crate::catalog::parse_requirement_ref(&requirement);
    let body = body.into_inner();
    change(&req, &state, &org, move |store, author, org, now| {
        assess::put_poam(store, author, org, &id, &requirement, &body, now)
    })
    .await
}

/// Unmet requirements by points with eligibility, and the fewest fixes that reach
/// conditional and final status.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/assessments/{assessment_id}/gaps", tag = "assessments",
    params(("org_id" = String, Path), ("assessment_id" = String, Path)),
    responses((status = 200, body = Gaps), (status = 401), (status = 404)))]
pub async fn gaps(
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
            assess::gaps(store, requester, org, &id, client, now)
        },
    )
    .await
}

/// Drift across the organization's assessments: regressions, reviews and milestones overdue,
/// status dates and affirmations due within 30 days. Most urgent first.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/drift", tag = "assessments",
    params(("org_id" = String, Path)),
    responses((status = 200, body = [DriftItem]), (status = 401), (status = 404)))]
pub async fn drift(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    read(&req, &state, &path, assess::drift::for_org).await
}

/// The organization-defined parameters of a framework with the organization's values.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/parameters/{framework}", tag = "assessments",
    params(("org_id" = String, Path), ("framework" = String, Path)),
    responses((status = 200, body = [assess::parameters::ParameterView]), (status = 401), (status = 404), (status = 422)))]
pub async fn parameters(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let (org, framework) = path.into_inner();
    read(
        &req,
        &state,
        &org,
        move |store, requester, org, client, now| {
            assess::parameters::parameters(store, requester, org, &framework, client, now)
        },
    )
    .await
}

#[derive(Serialize, ToSchema)]
pub struct ParametersChanged {
    changed: usize,
}

/// Set organization-defined parameter values (members and up); an empty value clears one.
/// All land or, when one id is unknown, none.
#[utoipa::path(put, path = "/api/v1/orgs/{org_id}/parameters/{framework}", tag = "assessments",
    params(("org_id" = String, Path), ("framework" = String, Path)),
    request_body = assess::parameters::ParameterUpdate,
    responses((status = 200, body = ParametersChanged), (status = 401), (status = 403), (status = 404), (status = 422)))]
pub async fn set_parameters(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Json<assess::parameters::ParameterUpdate>,
) -> Result<HttpResponse, WebError> {
    let (org, framework) = path.into_inner();
    let body = body.into_inner();
    change(&req, &state, &org, move |store, author, org, now| {
        assess::parameters::set_parameters(store, author, org, &framework, &body, now)
            .map(|changed| ParametersChanged { changed })
    })
    .await
}
