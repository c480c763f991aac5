//! JSON routes for security keys and passkeys: adding, listing and removing them, and the
//! challenge a sign-in answers with one.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;
use webauthn_rs::prelude::RegisterPublicKeyCredential;

use super::AppState;
use super::error::WebError;
use super::identity::{self, now};
use crate::auth::security_keys::{self, Enrolled, SecurityKeyView};

/// Start the security-key step of a sign-in: returns the WebAuthn request options for
/// `navigator.credentials.get`. Answer with `POST /api/v1/auth/mfa` and `{"webauthn": …}`.
#[utoipa::path(post, path = "/api/v1/auth/mfa/webauthn", tag = "auth",
    responses((status = 200, description = "`{\"publicKey\": …}` request options"),
        (status = 401, description = "no sign-in is waiting for a second factor"),
        (status = 422, description = "the account has no security key")))]
pub async fn sign_in_challenge(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let pending = identity::require_pending(&req, &state).await?;
    identity::check_csrf(&req, &pending, None)?;
    let state = state.into_inner();
    let challenge = web::block(move || {
        security_keys::begin_sign_in(&state.store, &state.relying_party, &pending.token, now())
    })
    .await??;
    Ok(HttpResponse::Ok().json(challenge))
}

/// Your security keys and passkeys.
#[utoipa::path(get, path = "/api/v1/me/security-keys", tag = "auth",
    responses((status = 200, body = Vec<SecurityKeyView>), (status = 401)))]
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    let signed_in = identity::require(&req, &state).await?;
    let keys: Vec<SecurityKeyView> = signed_in
        .account
        .mfa
        .security_keys
        .iter()
        .map(SecurityKeyView::from)
        .collect();
    Ok(HttpResponse::Ok().json(keys))
}

#[derive(Deserialize, ToSchema)]
pub struct NewKey {
    /// What to call the key in lists, such as "blue YubiKey" (1 to 64 characters).
    name: String,
}

/// Start adding a security key or passkey: returns the WebAuthn creation options for
/// `navigator.credentials.create`. Needs a sign-in within 5 minutes.
#[utoipa::path(post, path = "/api/v1/me/security-keys", tag = "auth", request_body = NewKey,
    extensions(("x-rampart-recent-sign-in" = json!(true))),
    responses((status = 200, description = "`{\"publicKey\": …}` creation options"), (status = 401),
        (status = 403, description = "`reauthentication_required` or missing CSRF token"),
        (status = 422, description = "the name is empty, too long or already used")))]
pub async fn begin(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<NewKey>,
) -> Result<HttpResponse, WebError> {
    let signed_in = identity::require_writer(&req, &state).await?;
    let state = state.into_inner();
    let challenge = web::block(move || {
        security_keys::begin_enrolment(
            &state.store,
            &state.relying_party,
            &signed_in.token,
            &signed_in.session,
            &body.name,
            now(),
        )
    })
    .await??;
    Ok(HttpResponse::Ok().json(challenge))
}

#[derive(Deserialize, ToSchema)]
pub struct KeyAnswer {
    /// The browser's answer: `PublicKeyCredential.toJSON()` of the new credential.
    #[schema(value_type = Object)]
    credential: RegisterPublicKeyCredential,
}

/// Finish adding a security key. The first second factor of an account also returns ten
/// recovery codes, shown only now. Ends the account's other sessions.
#[utoipa::path(post, path = "/api/v1/me/security-keys/confirm", tag = "auth", request_body = KeyAnswer,
    extensions(("x-rampart-recent-sign-in" = json!(true))),
    responses((status = 200, body = Enrolled), (status = 401), (status = 403),
        (status = 422, description = "no request was waiting, it expired, or the key's answer was refused")))]
pub async fn confirm(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<KeyAnswer>,
) -> Result<HttpResponse, WebError> {
    let signed_in = identity::require_writer(&req, &state).await?;
    let client = identity::client(&req, &state);
    let state = state.into_inner();
    let enrolled = web::block(move || {
        security_keys::finish_enrolment(
            &state.store,
            &state.relying_party,
            &signed_in.token,
            &signed_in.session,
            &body.credential,
            &client,
            now(),
        )
    })
    .await??;
    Ok(HttpResponse::Ok().json(enrolled))
}

/// Remove one of your security keys. Needs a sign-in within 5 minutes; ends your other
/// sessions.
#[utoipa::path(delete, path = "/api/v1/me/security-keys/{key_id}", tag = "auth",
    extensions(("x-rampart-recent-sign-in" = json!(true))),
    params(("key_id" = String, Path, description = "the id from the key list")),
    responses((status = 204, description = "removed"), (status = 401), (status = 403), (status = 404)))]
pub async fn remove(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let signed_in = identity::require_writer(&req, &state).await?;
    let key_id = super::identity::parse_id(&path)?;
    let client = identity::client(&req, &state);
    let store = state.store.clone();
    web::block(move || {
        security_keys::remove(
            &store,
            &signed_in.token,
            &signed_in.session,
            key_id,
            &client,
            now(),
        )
    })
    .await??;
    Ok(HttpResponse::NoContent().finish())
}
