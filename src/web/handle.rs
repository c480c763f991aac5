//! What every JSON read and change handler does, once.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::AppState;
use super::error::WebError;
use super::identity::{self, now};
use crate::access::Requester;
use crate::auth::Client;
use crate::store::{OrgId, Store};

/// Runs a read of organization `org` for the caller on the blocking pool and answers it as
/// JSON.
pub(super) async fn read<T, E, F>(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    org: &str,
    read: F,
) -> Result<HttpResponse, WebError>
where
    T: Serialize + Send + 'static,
    E: Send + 'static,
    WebError: From<E>,
    F: FnOnce(&Store, Requester, OrgId, &Client, i64) -> Result<T, E> + Send + 'static,
{
    let caller = identity::require_caller(req, state).await?;
    let org = identity::parse_org(org)?;
    let client = identity::client(req, state);
    let store = state.store.clone();
    let value = web::block(move || read(&store, caller.requester, org, &client, now())).await??;
    Ok(HttpResponse::Ok().json(value))
}

/// Who makes a change, as the web layer knows it; each domain makes its own author of it.
pub(super) struct Changer {
    pub requester: Requester,
    pub client: Client,
    /// A session is a person on a page; a token is a script.
    pub on_page: bool,
}

/// The signed-in caller of a change, its CSRF token checked.
pub(super) async fn changer(
    req: &HttpRequest,
    state: &web::Data<AppState>,
) -> Result<Changer, WebError> {
    let caller = identity::require_caller(req, state).await?;
    caller.check_csrf(req)?;
    Ok(Changer {
        requester: caller.requester,
        client: identity::client(req, state),
        on_page: caller.csrf_token.is_some(),
    })
}

/// Runs a change of organization `org` for the caller (CSRF checked) on the blocking pool
/// and answers it as JSON with `status`.
pub(super) async fn change<T, E, F>(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    org: &str,
    status: StatusCode,
    change: F,
) -> Result<HttpResponse, WebError>
where
    T: Serialize + Send + 'static,
    E: Send + 'static,
    WebError: From<E>,
    F: FnOnce(&Store, Changer, OrgId, i64) -> Result<T, E> + Send + 'static,
{
    let changer = changer(req, state).await?;
    let org = identity::parse_org(org)?;
    let store = state.store.clone();
    let value = web::block(move || change(&store, changer, org, now())).await??;
    Ok(HttpResponse::build(status).json(value))
}
