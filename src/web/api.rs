//! The JSON API under `/api/v1`. Every route is listed once in [`ROUTES`]; the app registers
//! them from that list, and a test checks each one appears in the OpenAPI document.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::openapi::StandardAnswers;
use super::routing::Endpoint;
use super::{
    AppState, account_api, assess_api, auth_api, catalog_api, docs_api, evidence_api, jobs_api,
    mail_api, security_api, security_keys_api,
};

/// Every API route: how it is registered and what the OpenAPI document must list.
pub static ROUTES: &[Endpoint] = &[
    Endpoint {
        method: "get",
        path: "/api/v1/version",
        route: || web::get().to(version),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/openapi.json",
        route: || web::get().to(openapi_json),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/setup",
        route: || web::post().to(auth_api::setup),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/auth/login",
        route: || web::post().to(auth_api::login),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/auth/logout",
        route: || web::post().to(auth_api::logout),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/auth/reset",
        route: || web::post().to(auth_api::reset),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/auth/reset/request",
        route: || web::post().to(auth_api::reset_request),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/auth/reauthenticate",
        route: || web::post().to(auth_api::reauthenticate),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/auth/mfa",
        route: || web::post().to(auth_api::mfa),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/me",
        route: || web::get().to(auth_api::me),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/me/password",
        route: || web::post().to(auth_api::change_password),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/me/sessions",
        route: || web::get().to(auth_api::sessions),
    },
    Endpoint {
        method: "delete",
        path: "/api/v1/me/sessions/{session_id}",
        route: || web::delete().to(auth_api::session_end),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/me/totp",
        route: || web::post().to(auth_api::totp_begin),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/me/totp/confirm",
        route: || web::post().to(auth_api::totp_confirm),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/me/recovery-codes",
        route: || web::post().to(auth_api::recovery_codes_regenerate),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/orgs/{org_id}",
        route: || web::get().to(auth_api::org_profile),
    },
    Endpoint {
        method: "put",
        path: "/api/v1/orgs/{org_id}",
        route: || web::put().to(auth_api::org_update),
    },
    Endpoint {
        method: "delete",
        path: "/api/v1/me",
        route: || web::delete().to(auth_api::me_erase),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/admin/accounts/{account_id}/erase",
        route: || web::post().to(auth_api::account_erase),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/orgs/{org_id}/export",
        route: || web::post().to(account_api::org_export),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/orgs/{org_id}/erase",
        route: || web::post().to(auth_api::org_erase),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/orgs/{org_id}/members",
        route: || web::get().to(auth_api::members),
    },
    Endpoint {
        method: "put",
        path: "/api/v1/orgs/{org_id}/members/{account_id}",
        route: || web::put().to(auth_api::member_role),
    },
    Endpoint {
        method: "delete",
        path: "/api/v1/orgs/{org_id}/members/{account_id}",
        route: || web::delete().to(auth_api::member_remove),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/orgs/{org_id}/invitations",
        route: || web::post().to(auth_api::invite),
    },
    Endpoint {
        method: "delete",
        path: "/api/v1/orgs/{org_id}/invitations/{invitation_id}",
        route: || web::delete().to(auth_api::invite_revoke),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/invitations/accept",
        route: || web::post().to(auth_api::accept_invitation),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/invitations/confirm",
        route: || web::post().to(auth_api::confirm_invitation),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/orgs/{org_id}/audit",
        route: || web::get().to(auth_api::org_audit),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/admin/audit",
        route: || web::get().to(auth_api::admin_audit),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/orgs/{org_id}/security",
        route: || web::get().to(security_api::org_security),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/admin/jobs",
        route: || web::get().to(jobs_api::list),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/admin/jobs/{name}/run",
        route: || web::post().to(jobs_api::run),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/admin/mail/outbox",
        route: || web::get().to(mail_api::outbox),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/admin/mail/outbox/{message_id}/retry",
        route: || web::post().to(mail_api::retry),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/me/mail-preferences",
        route: || web::get().to(account_api::mail_preferences),
    },
    Endpoint {
        method: "put",
        path: "/api/v1/me/mail-preferences",
        route: || web::put().to(account_api::set_mail_preferences),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/admin/security",
        route: || web::get().to(security_api::admin_security),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/orgs/{org_id}/tokens",
        route: || web::post().to(auth_api::token_create),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/orgs/{org_id}/tokens",
        route: || web::get().to(auth_api::token_list),
    },
    Endpoint {
        method: "delete",
        path: "/api/v1/orgs/{org_id}/tokens/{token_id}",
        route: || web::delete().to(auth_api::token_revoke),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/auth/mfa/webauthn",
        route: || web::post().to(security_keys_api::sign_in_challenge),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/me/security-keys",
        route: || web::get().to(security_keys_api::list),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/me/security-keys",
        route: || web::post().to(security_keys_api::begin),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/me/security-keys/confirm",
        route: || web::post().to(security_keys_api::confirm),
    },
    Endpoint {
        method: "delete",
        path: "/api/v1/me/security-keys/{key_id}",
        route: || web::delete().to(security_keys_api::remove),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/me/email",
        route: || web::post().to(account_api::request_change),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/auth/email/confirm",
        route: || web::post().to(account_api::confirm_change),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/orgs/{org_id}/assessments",
        route: || web::get().to(assess_api::list),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/orgs/{org_id}/assessments",
        route: || web::post().to(assess_api::create),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/orgs/{org_id}/assessments/{assessment_id}",
        route: || web::get().to(assess_api::get),
    },
    Endpoint {
        method: "put",
        path: "/api/v1/orgs/{org_id}/assessments/{assessment_id}",
        route: || web::put().to(assess_api::update),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/orgs/{org_id}/assessments/{assessment_id}/objectives",
        route: || web::get().to(assess_api::objectives),
    },
    Endpoint {
        method: "patch",
        path: "/api/v1/orgs/{org_id}/assessments/{assessment_id}/objectives",
        route: || web::patch().to(assess_api::update_objectives),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/orgs/{org_id}/assessments/{assessment_id}/requirements/{requirement_id}",
        route: || web::get().to(assess_api::requirement),
    },
    Endpoint {
        method: "put",
        path: "/api/v1/orgs/{org_id}/assessments/{assessment_id}/requirements/{requirement_id}",
        route: || web::put().to(assess_api::update_requirement),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/orgs/{org_id}/assessments/{assessment_id}/score",
        route: || web::get().to(assess_api::score),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/orgs/{org_id}/assessments/{assessment_id}/dashboard",
        route: || web::get().to(assess_api::dashboard),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/orgs/{org_id}/assessments/{assessment_id}/poam",
        route: || web::get().to(assess_api::poam),
    },
    Endpoint {
        method: "put",
        path: "/api/v1/orgs/{org_id}/assessments/{assessment_id}/poam/{requirement_id}",
        route: || web::put().to(assess_api::put_poam),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/orgs/{org_id}/assessments/{assessment_id}/gaps",
        route: || web::get().to(assess_api::gaps),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/orgs/{org_id}/drift",
        route: || web::get().to(assess_api::drift),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/me/export",
        route: || web::get().to(account_api::personal_export),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/orgs/{org_id}/system",
        route: || web::get().to(docs_api::system_get),
    },
    Endpoint {
        method: "put",
        path: "/api/v1/orgs/{org_id}/system",
        route: || web::put().to(docs_api::system_put),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/orgs/{org_id}/assessments/{assessment_id}/oscal/{document}",
        route: || web::get().to(docs_api::oscal_export),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/orgs/{org_id}/assessments/{assessment_id}/export/{sheet}",
        route: || web::get().to(docs_api::table_export),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/orgs/{org_id}/assessments/{assessment_id}/import/{source}",
        route: || web::post().to(docs_api::import),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/orgs/{org_id}/assessments/{assessment_id}/ssp",
        route: || web::post().to(docs_api::ssp),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/orgs/{org_id}/assessments/{assessment_id}/reports/{report}",
        route: || web::post().to(docs_api::report),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/orgs/{org_id}/assessments/{assessment_id}/proofpack",
        route: || web::post().to(docs_api::proofpack),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/orgs/{org_id}/documents",
        route: || web::get().to(docs_api::documents),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/orgs/{org_id}/documents/{document_id}",
        route: || web::get().to(docs_api::document),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/orgs/{org_id}/documents/{document_id}/download",
        route: || web::get().to(docs_api::download),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/proofpack/key",
        route: || web::get().to(docs_api::signing_key),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/oscal/catalogs/{framework}",
        route: || web::get().to(docs_api::oscal_catalog),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/oscal/profiles/{framework}",
        route: || web::get().to(docs_api::oscal_profile),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/catalogs",
        route: || web::get().to(catalog_api::builtins),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/orgs/{org_id}/catalogs",
        route: || web::get().to(catalog_api::list),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/orgs/{org_id}/catalogs",
        route: || web::post().to(catalog_api::import),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/orgs/{org_id}/catalogs/{catalog_id}",
        route: || web::get().to(catalog_api::get),
    },
    Endpoint {
        method: "delete",
        path: "/api/v1/orgs/{org_id}/catalogs/{catalog_id}",
        route: || web::delete().to(catalog_api::delete),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/orgs/{org_id}/parameters/{framework}",
        route: || web::get().to(assess_api::parameters),
    },
    Endpoint {
        method: "put",
        path: "/api/v1/orgs/{org_id}/parameters/{framework}",
        route: || web::put().to(assess_api::set_parameters),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/orgs/{org_id}/evidence",
        route: || web::get().to(evidence_api::list),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/orgs/{org_id}/evidence",
        route: || web::post().to(evidence_api::upload),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/orgs/{org_id}/evidence/{evidence_id}",
        route: || web::get().to(evidence_api::get),
    },
    Endpoint {
        method: "put",
        path: "/api/v1/orgs/{org_id}/evidence/{evidence_id}",
        route: || web::put().to(evidence_api::update),
    },
    Endpoint {
        method: "delete",
        path: "/api/v1/orgs/{org_id}/evidence/{evidence_id}",
        route: || web::delete().to(evidence_api::delete),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/orgs/{org_id}/evidence/{evidence_id}/restore",
        route: || web::post().to(evidence_api::restore),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/orgs/{org_id}/evidence/{evidence_id}/versions",
        route: || web::get().to(evidence_api::versions),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/orgs/{org_id}/evidence/{evidence_id}/versions",
        route: || web::post().to(evidence_api::add_version),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/orgs/{org_id}/evidence/{evidence_id}/download",
        route: || web::get().to(evidence_api::download),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/orgs/{org_id}/evidence/{evidence_id}/versions/{number}/download",
        route: || web::get().to(evidence_api::download_numbered),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/orgs/{org_id}/evidence/{evidence_id}/links",
        route: || web::post().to(evidence_api::create_link),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/orgs/{org_id}/evidence/{evidence_id}/links",
        route: || web::get().to(evidence_api::list_links),
    },
    Endpoint {
        method: "delete",
        path: "/api/v1/orgs/{org_id}/evidence/{evidence_id}/links/{link_id}",
        route: || web::delete().to(evidence_api::revoke_link),
    },
];

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
        auth_api::reset_request,
        auth_api::me,
        auth_api::totp_begin,
        auth_api::totp_confirm,
        auth_api::recovery_codes_regenerate,
        auth_api::org_profile,
        auth_api::token_create,
        auth_api::token_list,
        auth_api::token_revoke,
        auth_api::org_audit,
        auth_api::org_update,
        auth_api::org_erase,
        account_api::org_export,
        auth_api::me_erase,
        auth_api::account_erase,
        auth_api::members,
        auth_api::member_role,
        auth_api::member_remove,
        auth_api::invite,
        auth_api::invite_revoke,
        auth_api::sessions,
        auth_api::change_password,
        auth_api::session_end,
        auth_api::accept_invitation,
        auth_api::confirm_invitation,
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
        account_api::mail_preferences,
        account_api::set_mail_preferences,
        account_api::personal_export,
        jobs_api::list,
        jobs_api::run,
        mail_api::outbox,
        mail_api::retry,
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
        catalog_api::get,
        catalog_api::delete,
        evidence_api::list,
        evidence_api::upload,
        evidence_api::get,
        evidence_api::update,
        evidence_api::delete,
        evidence_api::restore,
        evidence_api::versions,
        evidence_api::add_version,
        evidence_api::download,
        evidence_api::download_numbered,
        evidence_api::create_link,
        evidence_api::list_links,
        evidence_api::revoke_link,
        docs_api::system_get,
        docs_api::system_put,
        docs_api::oscal_export,
        docs_api::oscal_catalog,
        docs_api::oscal_profile,
        docs_api::table_export,
        docs_api::import,
        docs_api::ssp,
        docs_api::report,
        docs_api::proofpack,
        docs_api::documents,
        docs_api::document,
        docs_api::download,
        docs_api::signing_key
    ),
    components(schemas(VersionInfo)),
    modifiers(&StandardAnswers)
)]
pub struct ApiDoc;
