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
    extensions(("x-rampart-recent-sign-in" = json!(true))),
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

/// Who an organization's export is encrypted to.
#[derive(Deserialize, ToSchema)]
pub struct ExportRecipient {
    /// An age recipient (`age1…`); only the matching identity opens the export.
    recipient: String,
}

/// Bytes handed to the response from the blocking thread that writes the export.
struct ChannelWriter {
    sender: tokio::sync::mpsc::Sender<Result<web::Bytes, std::io::Error>>,
    buffer: Vec<u8>,
}

const EXPORT_CHUNK: usize = 256 * 1024;

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        if self.buffer.len() >= EXPORT_CHUNK {
            self.flush()?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = web::Bytes::from(std::mem::take(&mut self.buffer));
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::other("the client went away"))
    }
}

/// Everything the organization holds, as a tar encrypted to the given age recipient:
/// profile and members, every record as JSON, every evidence file version (the bin too)
/// and the organization's audit entries. Owners, signed in within 5 minutes; audited as
/// `org.export`. Streamed as it is made: a transfer cut short is an age file without its
/// final chunk, which `age` refuses.
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/export", tag = "organizations",
    extensions(("x-rampart-recent-sign-in" = json!(true))),
    request_body = ExportRecipient,
    params(("org_id" = String, Path, description = "organization id")),
    responses((status = 200, description = "an age file (tar inside)"), (status = 401),
        (status = 403, description = "not an owner, `reauthentication_required`, or missing CSRF token"),
        (status = 404), (status = 422, description = "`recipient` is not an age recipient")))]
pub async fn org_export(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<ExportRecipient>,
) -> Result<HttpResponse, WebError> {
    let signed_in = identity::require_writer(&req, &state).await?;
    auth::require_step_up(&signed_in.session, now())?;
    let org = identity::parse_org(&path)?;
    let requester = identity::requester(&signed_in);
    let store = state.store.clone();
    web::block(move || crate::privacy::check_org_export(&store, requester, org)).await??;
    let recipient: age::x25519::Recipient =
        body.recipient
            .trim()
            .parse()
            .map_err(|_| WebError::Invalid {
                field: "recipient".into(),
                message: "an age recipient starts with age1 (see age-keygen)".into(),
            })?;

    let client = identity::client(&req, &state);
    let (store, vault) = (state.store.clone(), state.vault.clone());
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let mut writer = ChannelWriter {
            sender: sender.clone(),
            buffer: Vec::new(),
        };
        let result = crate::privacy::export_organization(
            &store,
            &vault,
            requester,
            org,
            &recipient,
            &mut writer,
            &client,
            now(),
        );
        if let Err(err) = result {
            tracing::error!(detail = %err, "an organization export failed while streaming");
            let _ = sender.blocking_send(Err(std::io::Error::other("the export failed")));
        }
    });
    let body = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    });
    let date = crate::dates::today(now());
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"rampart-organization-{org}-{date}.tar.age\""),
        ))
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .streaming(body))
}
