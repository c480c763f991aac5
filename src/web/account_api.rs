//! JSON routes for an account's e-mail address and its mail preferences.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::error::WebError;
use super::identity::{self, now};
use crate::auth::account::MailPreferences;
use crate::auth::{self, email_change};

#[derive(Deserialize, ToSchema)]
pub struct NewEmail {
    /// The address to move the account to.
    email: String,
}

#[derive(Serialize, ToSchema)]
pub struct EmailChangeRequested {
    /// The address the confirmation link was mailed to.
    pending_email: String,
}

/// Ask to change your address: a single-use link (24 hours) is mailed to the new address,
/// and the change happens when it is confirmed. Needs a sign-in within 5 minutes.
#[utoipa::path(post, path = "/api/v1/me/email", tag = "auth", request_body = NewEmail,
    responses((status = 202, body = EmailChangeRequested), (status = 401),
        (status = 403, description = "`reauthentication_required` or missing CSRF token"),
        (status = 409, description = "mail is not set up, so the address cannot be confirmed"),
        (status = 422, description = "not an address, or already yours")))]
pub async fn request_change(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<NewEmail>,
) -> Result<HttpResponse, WebError> {
    let signed_in = identity::require_writer(&req, &state).await?;
    let client = identity::client(&req, &state);
    let store = state.store.clone();
    let pending_email = web::block(move || {
        email_change::request(&store, &signed_in.session, &body.email, &client, now())
    })
    .await??;
    Ok(HttpResponse::Accepted().json(EmailChangeRequested { pending_email }))
}

#[derive(Deserialize, ToSchema)]
pub struct ConfirmEmail {
    /// The token from the mailed link.
    token: String,
}

/// Confirm an address change with the token from the mailed link (no sign-in needed: the
/// link is the proof). Each link works once.
#[utoipa::path(post, path = "/api/v1/auth/email/confirm", tag = "auth", request_body = ConfirmEmail,
    responses((status = 204, description = "the account now has the new address"),
        (status = 409, description = "another account has taken the address meanwhile"),
        (status = 410, description = "link used or expired")))]
pub async fn confirm_change(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<ConfirmEmail>,
) -> Result<HttpResponse, WebError> {
    let client = identity::client(&req, &state);
    let store = state.store.clone();
    web::block(move || email_change::confirm(&store, &body.token, &client, now())).await??;
    Ok(HttpResponse::NoContent().finish())
}

/// Which scheduled mail you receive: deadline reminders, drift alerts, the weekly digest.
#[utoipa::path(get, path = "/api/v1/me/mail-preferences", tag = "auth",
    responses((status = 200, body = MailPreferences), (status = 401)))]
pub async fn mail_preferences(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let caller = identity::require_caller(&req, &state).await?;
    Ok(HttpResponse::Ok().json(caller.account.mail))
}

/// Choose which scheduled mail you receive (every field is required); audited as
/// `account.mail_preferences`.
#[utoipa::path(put, path = "/api/v1/me/mail-preferences", tag = "auth",
    request_body = MailPreferences,
    responses((status = 200, body = MailPreferences), (status = 401),
        (status = 403, description = "missing CSRF token"),
        (status = 422, description = "a field is missing or not true or false")))]
pub async fn set_mail_preferences(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<MailPreferences>,
) -> Result<HttpResponse, WebError> {
    let signed_in = identity::require_writer(&req, &state).await?;
    let client = identity::client(&req, &state);
    let store = state.store.clone();
    let preferences = body.into_inner();
    let saved = web::block(move || {
        auth::set_mail_preferences(&store, signed_in.account.id, preferences, &client, now())
    })
    .await??;
    Ok(HttpResponse::Ok().json(saved))
}

/// Everything Rampart holds about you as a person, as a zip of JSON: account, second
/// factors (described, never copied), mail choices, organizations, sessions, and every
/// audit entry of your actions. For a signed-in person, not an API token; audited as
/// `privacy.export`.
#[utoipa::path(get, path = "/api/v1/me/export", tag = "auth",
    responses((status = 200, description = "a zip: README.txt, personal-data.json, audit.jsonl"),
        (status = 401), (status = 403, description = "an API token")))]
pub async fn personal_export(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let caller = identity::require_caller(&req, &state).await?;
    if caller.requester.token.is_some() {
        return Err(WebError::Forbidden(
            "a person exports their own data while signed in, not through an API token".into(),
        ));
    }
    let client = identity::client(&req, &state);
    let store = state.store.clone();
    let account = caller.account.id;
    let bytes =
        web::block(move || crate::privacy::export(&store, account, &client, now())).await??;
    Ok(HttpResponse::Ok()
        .content_type("application/zip")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            "attachment; filename=\"rampart-personal-data.zip\"",
        ))
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .body(bytes))
}
