//! JSON routes for changing an account's e-mail address.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::error::WebError;
use super::identity::{self, now};
use crate::auth::email_change;

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
