//! JSON routes for the mail outbox (appliance administrator): what was sent, what is
//! waiting, what finally failed with the server's last answer, and retrying those.

use actix_web::{HttpRequest, HttpResponse, web};

use super::AppState;
use super::error::WebError;
use super::identity::{self, now};
use crate::mail::outbox::{self, QueuedView};

/// Every message in the outbox, oldest first: kind, recipient, state (`pending`, `sent`,
/// `failed`), attempts and the server's last answer; never the content.
#[utoipa::path(get, path = "/api/v1/admin/mail/outbox", tag = "mail",
    responses((status = 200, body = [QueuedView]), (status = 401), (status = 403)))]
pub async fn outbox(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let caller = identity::require_caller(&req, &state).await?;
    let store = state.store.clone();
    let list = web::block(move || outbox::list_for(&store, caller.requester)).await??;
    Ok(HttpResponse::Ok().json(list))
}

/// Queue a message that finally failed again, due now; audited as `mail.retry`.
#[utoipa::path(post, path = "/api/v1/admin/mail/outbox/{message_id}/retry", tag = "mail",
    params(("message_id" = String, Path, description = "the message's id")),
    responses((status = 204, description = "queued again"), (status = 401),
        (status = 403, description = "not the appliance administrator, or missing CSRF token"),
        (status = 404, description = "no failed message has this id")))]
pub async fn retry(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let caller = identity::require_caller(&req, &state).await?;
    caller.check_csrf(&req)?;
    let id = super::identity::parse_id(&path)?;
    let client = identity::client(&req, &state);
    let store = state.store.clone();
    web::block(move || outbox::retry_for(&store, caller.requester, id, &client, now())).await??;
    Ok(HttpResponse::NoContent().finish())
}
