//! JSON routes for the scheduled jobs (appliance administrator).

use actix_web::{HttpRequest, HttpResponse, web};

use super::AppState;
use super::error::WebError;
use super::identity;
use crate::jobs::{JobView, Run};

/// Each scheduled job with its schedule, last run (outcome, duration, summary) and next run.
#[utoipa::path(get, path = "/api/v1/admin/jobs", tag = "jobs",
    responses((status = 200, body = [JobView]), (status = 401), (status = 403)))]
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    let caller = identity::require_caller(&req, &state).await?;
    let (store, jobs) = (state.store.clone(), state.jobs.clone());
    let list = web::block(move || jobs.list_for(&store, caller.requester)).await??;
    Ok(HttpResponse::Ok().json(list))
}

/// Run one job now (`reminders`, `drift`, `digest` or `retention`), after any run in
/// progress. Audited as `job.run` by the administrator. A job that fails answers 200 with
/// `ok: false` and the failure as its summary.
#[utoipa::path(post, path = "/api/v1/admin/jobs/{name}/run", tag = "jobs",
    params(("name" = String, Path, description = "the job's name")),
    responses((status = 200, body = Run), (status = 401),
        (status = 403, description = "not the appliance administrator, or missing CSRF token"),
        (status = 404, description = "no such job")))]
pub async fn run(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let caller = identity::require_caller(&req, &state).await?;
    caller.check_csrf(&req)?;
    let (store, vault, jobs) = (state.store.clone(), state.vault.clone(), state.jobs.clone());
    let name = path.into_inner();
    let run = web::block(move || jobs.run_for(&store, &vault, caller.requester, &name)).await??;
    Ok(HttpResponse::Ok().json(run))
}
