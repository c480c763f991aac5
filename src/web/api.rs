//! The JSON API under `/api/v1`. Every route is listed once in [`ROUTES`]; the app registers
//! them from that list, and a test checks each one appears in the OpenAPI document.

use actix_web::{HttpResponse, Route, web};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::{
    AppState, account_api, assess_api, auth_api, catalog_api, security_api, security_keys_api,
};

/// One API route: how it is registered and what the OpenAPI document must list.
pub struct ApiRoute {
    /// Lower-case HTTP method, as OpenAPI spells it.
    pub method: &'static str,
    pub path: &'static str,
    route: fn() -> Route,
}

pub static ROUTES: &[ApiRoute] = &[
    ApiRoute {
        method: "get",
        path: "/api/v1/version",
        route: || web::get().to(version),
    },
    ApiRoute {
        method: "get",
        path: "/api/v1/openapi.json",
        route: || web::get().to(openapi_json),
    },
    ApiRoute {
        method: "post",
        path: "/api/v1/setup",
        route: || web::post().to(auth_api::setup),
    },
    ApiRoute {
        method: "post",
        path: "/api/v1/auth/login",
        route: || web::post().to(auth_api::login),
    },
    ApiRoute {
        method: "post",
        path: "/api/v1/auth/logout",
        route: || web::post().to(auth_api::logout),
    },
    ApiRoute {
        method: "post",
        path: "/api/v1/auth/reset",
        route: || web::post().to(auth_api::reset),
    },
    ApiRoute {
        method: "post",
        path: "/api/v1/auth/reauthenticate",
        route: || web::post().to(auth_api::reauthenticate),
    },
    ApiRoute {
        method: "post",
        path: "/api/v1/auth/mfa",
        route: || web::post().to(auth_api::mfa),
    },
    ApiRoute {
        method: "get",
        path: "/api/v1/me",
        route: || web::get().to(auth_api::me),
    },
    ApiRoute {
        method: "post",
        path: "/api/v1/me/password",
        route: || web::post().to(auth_api::change_password),
    },
    ApiRoute {
        method: "get",
        path: "/api/v1/me/sessions",
        route: || web::get().to(auth_api::sessions),
    },
    ApiRoute {
        method: "delete",
        path: "/api/v1/me/sessions/{session_id}",
        route: || web::delete().to(auth_api::session_end),
    },
    ApiRoute {
        method: "post",
        path: "/api/v1/me/totp",
        route: || web::post().to(auth_api::totp_begin),
    },
    ApiRoute {
        method: "post",
        path: "/api/v1/me/totp/confirm",
        route: || web::post().to(auth_api::totp_confirm),
    },
    ApiRoute {
        method: "get",
        path: "/api/v1/orgs/{org_id}",
        route: || web::get().to(auth_api::org_profile),
    },
    ApiRoute {
        method: "put",
        path: "/api/v1/orgs/{org_id}",
        route: || web::put().to(auth_api::org_update),
    },
    ApiRoute {
        method: "get",
        path: "/api/v1/orgs/{org_id}/members",
        route: || web::get().to(auth_api::members),
    },
    ApiRoute {
        method: "put",
        path: "/api/v1/orgs/{org_id}/members/{account_id}",
        route: || web::put().to(auth_api::member_role),
    },
    ApiRoute {
        method: "delete",
        path: "/api/v1/orgs/{org_id}/members/{account_id}",
        route: || web::delete().to(auth_api::member_remove),
    },
    ApiRoute {
        method: "post",
        path: "/api/v1/orgs/{org_id}/invitations",
        route: || web::post().to(auth_api::invite),
    },
    ApiRoute {
        method: "post",
        path: "/api/v1/invitations/accept",
        route: || web::post().to(auth_api::accept_invitation),
    },
    ApiRoute {
        method: "get",
        path: "/api/v1/orgs/{org_id}/audit",
        route: || web::get().to(auth_api::org_audit),
    },
    ApiRoute {
        method: "get",
        path: "/api/v1/admin/audit",
        route: || web::get().to(auth_api::admin_audit),
    },
    ApiRoute {
        method: "get",
        path: "/api/v1/orgs/{org_id}/security",
        route: || web::get().to(security_api::org_security),
    },
    ApiRoute {
        method: "get",
        path: "/api/v1/admin/security",
        route: || web::get().to(security_api::admin_security),
    },
    ApiRoute {
        method: "post",
        path: "/api/v1/orgs/{org_id}/tokens",
        route: || web::post().to(auth_api::token_create),
    },
    ApiRoute {
        method: "get",
        path: "/api/v1/orgs/{org_id}/tokens",
        route: || web::get().to(auth_api::token_list),
    },
    ApiRoute {
        method: "delete",
        path: "/api/v1/orgs/{org_id}/tokens/{token_id}",
        route: || web::delete().to(auth_api::token_revoke),
    },
    ApiRoute {
        method: "post",
        path: "/api/v1/auth/mfa/webauthn",
        route: || web::post().to(security_keys_api::sign_in_challenge),
    },
    ApiRoute {
        method: "get",
        path: "/api/v1/me/security-keys",
        route: || web::get().to(security_keys_api::list),
    },
    ApiRoute {
        method: "post",
        path: "/api/v1/me/security-keys",
        route: || web::post().to(security_keys_api::begin),
    },
    ApiRoute {
        method: "post",
        path: "/api/v1/me/security-keys/confirm",
        route: || web::post().to(security_keys_api::confirm),
    },
    ApiRoute {
        method: "delete",
        path: "/api/v1/me/security-keys/{key_id}",
        route: || web::delete().to(security_keys_api::remove),
    },
    ApiRoute {
        method: "post",
        path: "/api/v1/me/email",
        route: || web::post().to(account_api::request_change),
    },
    ApiRoute {
        method: "post",
        path: "/api/v1/auth/email/confirm",
        route: || web::post().to(account_api::confirm_change),
    },
    ApiRoute {
        method: "get",
        path: "/api/v1/orgs/{org_id}/assessments",
        route: || web::get().to(assess_api::list),
    },
    ApiRoute {
        method: "post",
        path: "/api/v1/orgs/{org_id}/assessments",
        route: || web::post().to(assess_api::create),
    },
    ApiRoute {
        method: "get",
        path: "/api/v1/orgs/{org_id}/assessments/{assessment_id}",
        route: || web::get().to(assess_api::get),
    },
    ApiRoute {
        method: "put",
        path: "/api/v1/orgs/{org_id}/assessments/{assessment_id}",
        route: || web::put().to(assess_api::update),
    },
    ApiRoute {
        method: "get",
        path: "/api/v1/orgs/{org_id}/assessments/{assessment_id}/objectives",
        route: || web::get().to(assess_api::objectives),
    },
    ApiRoute {
        method: "patch",
        path: "/api/v1/orgs/{org_id}/assessments/{assessment_id}/objectives",
        route: || web::patch().to(assess_api::update_objectives),
    },
    ApiRoute {
        method: "get",
        path: "/api/v1/orgs/{org_id}/assessments/{assessment_id}/requirements/{requirement_id}",
        route: || web::get().to(assess_api::requirement),
    },
    ApiRoute {
        method: "put",
        path: "/api/v1/orgs/{org_id}/assessments/{assessment_id}/requirements/{requirement_id}",
        route: || web::put().to(assess_api::update_requirement),
    },
    ApiRoute {
        method: "get",
        path: "/api/v1/orgs/{org_id}/assessments/{assessment_id}/score",
        route: || web::get().to(assess_api::score),
    },
    ApiRoute {
        method: "get",
        path: "/api/v1/orgs/{org_id}/assessments/{assessment_id}/dashboard",
        route: || web::get().to(assess_api::dashboard),
    },
    ApiRoute {
        method: "get",
        path: "/api/v1/orgs/{org_id}/assessments/{assessment_id}/poam",
        route: || web::get().to(assess_api::poam),
    },
    ApiRoute {
        method: "put",
        path: "/api/v1/orgs/{org_id}/assessments/{assessment_id}/poam/{requirement_id}",
        route: || web::put().to(assess_api::put_poam),
    },
    ApiRoute {
        method: "get",
        path: "/api/v1/orgs/{org_id}/assessments/{assessment_id}/gaps",
        route: || web::get().to(assess_api::gaps),
    },
    ApiRoute {
        method: "get",
        path: "/api/v1/orgs/{org_id}/drift",
        route: || web::get().to(assess_api::drift),
    },
    ApiRoute {
        method: "get",
        path: "/api/v1/catalogs",
        route: || web::get().to(catalog_api::builtins),
    },
    ApiRoute {
        method: "get",
        path: "/api/v1/orgs/{org_id}/catalogs",
        route: || web::get().to(catalog_api::list),
    },
    ApiRoute {
        method: "post",
        path: "/api/v1/orgs/{org_id}/catalogs",
        route: || web::post().to(catalog_api::import),
    },
    ApiRoute {
        method: "get",
        path: "/api/v1/orgs/{org_id}/catalogs/{catalog_id}",
        route: || web::get().to(catalog_api::get),
    },
    ApiRoute {
        method: "get",
        path: "/api/v1/orgs/{org_id}/parameters/{framework}",
        route: || web::get().to(assess_api::parameters),
    },
    ApiRoute {
        method: "put",
        path: "/api/v1/orgs/{org_id}/parameters/{framework}",
        route: || web::put().to(assess_api::set_parameters),
    },
];

/// Registers one resource per path holding all of its methods, so a wrong method gets 405.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let mut paths: Vec<&str> = ROUTES.iter().map(|r| r.path).collect();
    paths.dedup();
    for path in paths {
        let resource = ROUTES
            .iter()
            .filter(|r| r.path == path)
            .fold(web::resource(path), |resource, r| {
                resource.route((r.route)())
            });
        cfg.service(resource);
    }
}

#[derive(Serialize, ToSchema)]
pub struct VersionInfo {
    /// Always "rampart".
    name: &'static str,
    /// The release, such as "0.1.0".
    version: &'static str,
    /// The store schema version this server runs.
    schema_version: u64,
}

/// The running release and schema version.
#[utoipa::path(get, path = "/api/v1/version", tag = "system",
    responses((status = 200, description = "Release and schema version", body = VersionInfo)))]
async fn version(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(VersionInfo {
        name: "rampart",
        version: env!("CARGO_PKG_VERSION"),
        schema_version: state.store.schema_version(),
    })
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "system",
    responses((status = 200, description = "The OpenAPI 3.1 description of this API")))]
async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Rampart API",
        description = "CMMC 2.0 / NIST SP 800-171 compliance appliance"
    ),
    paths(
        version,
        openapi_json,
        auth_api::setup,
        auth_api::login,
        auth_api::logout,
        auth_api::mfa,
        auth_api::reauthenticate,
        auth_api::reset,
        auth_api::me,
        auth_api::totp_begin,
        auth_api::totp_confirm,
        auth_api::org_profile,
        auth_api::token_create,
        auth_api::token_list,
        auth_api::token_revoke,
        auth_api::org_audit,
        auth_api::org_update,
        auth_api::members,
        auth_api::member_role,
        auth_api::member_remove,
        auth_api::invite,
        auth_api::sessions,
        auth_api::change_password,
        auth_api::session_end,
        auth_api::accept_invitation,
        auth_api::admin_audit,
        security_api::org_security,
        security_api::admin_security,
        security_keys_api::sign_in_challenge,
        security_keys_api::list,
        security_keys_api::begin,
        security_keys_api::confirm,
        security_keys_api::remove,
        account_api::request_change,
        account_api::confirm_change,
        assess_api::list,
        assess_api::create,
        assess_api::get,
        assess_api::update,
        assess_api::objectives,
        assess_api::update_objectives,
        assess_api::requirement,
        assess_api::update_requirement,
        assess_api::score,
        assess_api::dashboard,
        assess_api::poam,
        assess_api::put_poam,
        assess_api::gaps,
        assess_api::drift,
        assess_api::parameters,
        assess_api::set_parameters,
        catalog_api::builtins,
        catalog_api::list,
        catalog_api::import,
        catalog_api::get
    ),
    components(schemas(VersionInfo))
)]
pub struct ApiDoc;
