//! What every JSON read handler does, once.

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
