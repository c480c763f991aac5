//! JSON routes for control catalogs: the built-ins, and OSCAL catalogs an organization
//! imports (validated against the OSCAL 1.1.3 schema; each problem named by JSON path).

use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;

use super::AppState;
use super::error::WebError;
use super::identity::{self, now};
use crate::catalog::{self, CatalogSummary, MAX_IMPORT_BYTES, imported};

/// Whether `path` is the import route, whose body may be larger than the general limit.
pub fn is_import(method: &actix_web::http::Method, path: &str) -> bool {
    method == actix_web::http::Method::POST
        && path
            .strip_prefix("/api/v1/orgs/")
            .and_then(|rest| rest.strip_suffix("/catalogs"))
            .is_some_and(|org| !org.contains('/'))
}

/// The frameworks built into this appliance.
#[utoipa::path(get, path = "/api/v1/catalogs", tag = "catalogs",
    responses((status = 200, body = [CatalogSummary]), (status = 401)))]
pub async fn builtins(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    identity::require_caller(&req, &state).await?;
    let list: Vec<CatalogSummary> = catalog::builtins()
        .map(|c| CatalogSummary::of(c, false))
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

/// The built-in catalogs and those the organization imported.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/catalogs", tag = "catalogs",
    params(("org_id" = String, Path)),
    responses((status = 200, body = [CatalogSummary]), (status = 401), (status = 404)))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let caller = identity::require_caller(&req, &state).await?;
    let org = identity::parse_org(&path)?;
    let client = identity::client(&req, &state);
    let store = state.store.clone();
    let list =
        web::block(move || imported::list(&store, caller.requester, org, &client, now())).await??;
    Ok(HttpResponse::Ok().json(list))
}

/// One catalog, whole: families, requirements (with statements and parameters), objectives.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/catalogs/{catalog_id}", tag = "catalogs",
    params(("org_id" = String, Path), ("catalog_id" = String, Path)),
    responses((status = 200, description = "the catalog"), (status = 401), (status = 404)))]
pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let (org, id) = path.into_inner();
    let caller = identity::require_caller(&req, &state).await?;
    let org = identity::parse_org(&org)?;
    let client = identity::client(&req, &state);
    let store = state.store.clone();
    let found = web::block(move || {
        imported::get(&store, caller.requester, org, &id, &client, now())
            .map(|catalog| serde_json::to_vec(&*catalog))
    })
    .await??
    .map_err(|err| WebError::Internal(err.to_string()))?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(found))
}

/// Import an OSCAL 1.1.3 catalog (JSON, at most 10 MB; admins and owners), within the
/// organization's quota for imported catalogs. A file that breaks the schema is refused
/// with `invalid_document` and each problem's JSON path in `problems`.
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/catalogs", tag = "catalogs",
    params(("org_id" = String, Path)),
    request_body(content = String, content_type = "application/json", description = "an OSCAL 1.1.3 catalog document"),
    responses((status = 201, body = CatalogSummary), (status = 401),
        (status = 403, description = "only admins and owners import catalogs"), (status = 404),
        (status = 409, description = "a catalog with that uuid is already imported, or the organization keeps 50"),
        (status = 413), (status = 422, description = "`invalid_document`: not JSON, or not a valid OSCAL catalog"),
        (status = 507, description = "`quota_exceeded`: the catalog does not fit the organization's quota for imported catalogs (bytes or controls); the message says what is used and allowed")))]
pub async fn import(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    mut body: web::Payload,
) -> Result<HttpResponse, WebError> {
    let caller = identity::require_caller(&req, &state).await?;
    caller.check_csrf(&req)?;
    let org = identity::parse_org(&path)?;
    let quota = state.catalog_quota;
    // Who asks, and whether a file of the declared size could fit, before it is read.
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    let store = state.store.clone();
    let requester = caller.requester;
    web::block(move || imported::admit(&store, requester, org, declared, quota)).await??;
    let mut bytes = web::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|err| WebError::Invalid {
            field: "body".into(),
            message: format!("the upload broke off: {err}"),
        })?;
        if bytes.len() + chunk.len() > MAX_IMPORT_BYTES {
            return Err(WebError::PayloadTooLarge {
                limit: MAX_IMPORT_BYTES as u64,
            });
        }
        bytes.extend_from_slice(&chunk);
    }
    let client = identity::client(&req, &state);
    let store = state.store.clone();
    let bytes = Vec::from(bytes);
    let summary =
        web::block(move || imported::import(&store, requester, org, bytes, quota, &client, now()))
            .await??;
    Ok(HttpResponse::Created().json(summary))
}

/// Delete an imported catalog that no assessment uses, with the organization's values of
/// its parameters (admins and owners). Built-in catalogs cannot be deleted.
#[utoipa::path(delete, path = "/api/v1/orgs/{org_id}/catalogs/{catalog_id}", tag = "catalogs",
    params(("org_id" = String, Path), ("catalog_id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 401),
        (status = 403, description = "only admins and owners delete catalogs"),
        (status = 404, description = "no imported catalog with that id in this organization (built-in catalogs included)"),
        (status = 409, description = "assessments use the catalog; the message says how many")))]
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let (org, id) = path.into_inner();
    let caller = identity::require_caller(&req, &state).await?;
    caller.check_csrf(&req)?;
    let org = identity::parse_org(&org)?;
    let client = identity::client(&req, &state);
    let store = state.store.clone();
    web::block(move || imported::delete(&store, caller.requester, org, &id, &client, now()))
        .await??;
    Ok(HttpResponse::NoContent().finish())
}
