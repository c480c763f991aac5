//! JSON routes for the security dashboard; the pages poll them to refresh in place.

use actix_web::{HttpRequest, HttpResponse, web};

use super::AppState;
use super::error::WebError;
use super::identity::{self, now};
use crate::security::{self, Dashboard};

/// An organization's security figures: failed sign-ins, lockouts, new devices, MFA changes
/// and API token use per hour (24 h) and per day (14 days), and the latest such events.
/// Owners; the appliance administrator's read is audited as `admin.security_read` in the
/// organization's log (once per 15 minutes, since the page refreshes every 10 seconds).
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/security", tag = "audit",
    params(("org_id" = String, Path, description = "organization id")),
    responses((status = 200, body = Dashboard), (status = 401), (status = 403), (status = 404)))]
pub async fn org_security(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let caller = identity::require_caller(&req, &state).await?;
    let org = identity::parse_org(&path)?;
    let client = identity::client(&req, &state);
    let store = state.store.clone();
    let dashboard =
        web::block(move || security::for_org(&store, caller.requester, org, &client, now()))
            .await??;
    Ok(HttpResponse::Ok().json(dashboard))
}

/// The whole appliance's security figures (appliance administrator).
#[utoipa::path(get, path = "/api/v1/admin/security", tag = "audit",
    responses((status = 200, body = Dashboard), (status = 401), (status = 403)))]
pub async fn admin_security(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let caller = identity::require_caller(&req, &state).await?;
    let store = state.store.clone();
    let dashboard =
        web::block(move || security::for_appliance(&store, caller.requester, now())).await??;
    Ok(HttpResponse::Ok().json(dashboard))
}
