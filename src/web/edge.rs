//! The edge every request passes: request id, early refusal of oversized bodies, uniform
//! error bodies, security headers, and one access-log line naming the matched route pattern,
//! never the raw path or query, either of which may carry a token.

use std::borrow::Cow;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;

use super::AppState;
use super::error::{ErrorMeta, render_error};
use super::identity;
use super::limits::RouteClass;
use crate::audit::{Actor, Event, Outcome};

const SECURITY_HEADERS: &[(&str, &str)] = &[
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    ("strict-transport-security", "max-age=31536000"),
    ("x-content-type-options", "nosniff"),
    // Not `no-referrer`: under it browsers send `Origin: null` on form posts, which
    // `origin_allowed` must refuse, so no page form could be submitted. `same-origin` still
    // sends nothing to other sites (page paths can hold setup and reset tokens).
    ("referrer-policy", "same-origin"),
    (
        "permissions-policy",
        "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()",
    ),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("x-frame-options", "DENY"),
];

fn new_request_id() -> String {
    match crate::crypto::random_bytes::<12>() {
        Ok(bytes) => bytes.iter().map(|b| format!("{b:02x}")).collect(),
        Err(_) => "unavailable".to_owned(),
    }
}

/// Total size of request headers accepted. The HTTP layer itself stops at 128 KiB; no
/// legitimate browser or API client comes near this.
const MAX_HEADER_BYTES: usize = 16 * 1024;

fn header_bytes(req: &ServiceRequest) -> usize {
    req.headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum()
}

/// Unsafe methods must come from our own origin. A request carrying the session cookie must
/// name its origin (browsers always do on POST); one without the cookie (an API token or a
/// sign-in) may omit it, but a foreign one is refused either way.
fn origin_allowed(req: &ServiceRequest) -> bool {
    if req.method().is_safe() {
        return true;
    }
    let host = req.connection_info().host().to_owned();
    match req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
    {
        Some(origin) => origin == format!("https://{host}"),
        None => req.cookie(crate::auth::session::COOKIE).is_none(),
    }
}

/// The body length a request declares, if it declares a readable one.
pub(super) fn declared_length(headers: &header::HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

pub async fn edge(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let request_id = new_request_id();
    // The path as the router will see it: percent-encoded characters other than `%`, `/`
    // and `+` decoded. Classed by the raw path, `/%73ignin` would reach the sign-in form
    // under the unlimited class of an ordinary page.
    let path = req.match_info().as_str();
    let api = path.starts_with("/api/");
    let method = req.method().clone();
    let class = RouteClass::of(path, method.is_safe());
    let metrics_class = crate::metrics::route_class(class, path);

    let state = req.app_data::<web::Data<AppState>>().cloned();
    let limit = state
        .as_ref()
        .map_or(1_048_576, |state| state.body_limit_bytes);
    // A catalog import may be as large as an OSCAL catalog may be; its handler counts.
    let limit = if super::catalog_api::is_import(req.method(), path) {
        limit.max(crate::catalog::MAX_IMPORT_BYTES as u64)
    } else if super::docs_api::is_import(req.method(), path) {
        limit.max(crate::docs::sheets::MAX_IMPORT_BYTES as u64)
    } else if super::evidence_api::is_upload(req.method(), path) {
        // An evidence file may be as large as the vault allows; the handler counts.
        state
            .as_ref()
            .map_or(limit, |state| limit.max(state.vault.max_file_bytes))
    } else {
        limit
    };
    let over_rate = state.as_ref().and_then(|state| {
        let ip = identity::client_ip(req.request(), &state.trusted_proxies)?
            .parse()
            .ok()?;
        state.limits.check(class, ip).err()
    });
    let refusal = if let Some(wait) = over_rate {
        Some((
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "too many requests; try again in {} seconds",
                wait.as_secs().max(1)
            ),
        ))
    } else if header_bytes(&req) > MAX_HEADER_BYTES {
        Some((
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("the request headers are larger than the {MAX_HEADER_BYTES} bytes allowed"),
        ))
    } else if !origin_allowed(&req) {
        Some((
            StatusCode::FORBIDDEN,
            "cross-origin request refused: this change must come from Rampart's own pages"
                .to_owned(),
        ))
    } else if declared_length(req.headers()).is_some_and(|length| length > limit) {
        // Refused before a byte of the body is read; the connection is then closed.
        Some((
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than the {limit} bytes allowed"),
        ))
    } else {
        None
    };
    let (mut res, rendered) = match refusal {
        Some((status, message)) => {
            let response = render_error(status, ErrorMeta::default(), &message, &request_id, api);
            (req.into_response(response), true)
        }
        None => (next.call(req).await?.map_into_boxed_body(), false),
    };

    // A request refused above never reached its route; only then is the pattern looked up
    // by matching the path again.
    let route: Cow<'static, str> = match super::routing::route_pattern(res.request()) {
        Some(pattern) => Cow::Borrowed(pattern),
        None => res
            .request()
            .match_pattern()
            .map_or(Cow::Borrowed("(unmatched)"), |pattern| {
                Cow::Owned(super::routing::plain_pattern(&pattern))
            }),
    };
    let status = res.status();
    // A handler's own error page (a form shown again with its errors) has a body and no
    // attached error; everything else that failed gets the uniform body.
    let bare_error =
        res.response().error().is_some() || !res.headers().contains_key(header::CONTENT_TYPE);
    if !rendered && bare_error && (status.is_client_error() || status.is_server_error()) {
        let message = res
            .response()
            .error()
            .map(ToString::to_string)
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
        if status.is_server_error() {
            tracing::error!(request_id = %request_id, status = status.as_u16(), detail = %message, "request failed");
        }
        let meta = res
            .response()
            .extensions()
            .get::<ErrorMeta>()
            .cloned()
            .unwrap_or_default();
        let (http_req, _) = res.into_parts();
        res = ServiceResponse::new(
            http_req,
            render_error(status, meta, &message, &request_id, api),
        );
    }

    if let Some(state) = &state
        && recorded_refusal(&method, &route, status)
    {
        audit_refusal(state, res.request(), &method, &route, status).await;
    }

    let headers = res.headers_mut();
    if let Some(wait) = over_rate
        && let Ok(value) = HeaderValue::from_str(&wait.as_secs().max(1).to_string())
    {
        headers.insert(header::RETRY_AFTER, value);
    }
    for (name, value) in SECURITY_HEADERS {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert(HeaderName::from_static("x-request-id"), value);
    }
    if api && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    let elapsed = started.elapsed();
    crate::metrics::record_request(metrics_class, res.status().as_u16(), elapsed);
    tracing::info!(
        request_id = %request_id,
        method = %method,
        route = %route,
        status = res.status().as_u16(),
        micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
        "request"
    );
    Ok(res)
}

/// Routes whose refusals the domain records itself, with more detail (a wrong password is
/// `auth.login` failure, a wrong code `auth.mfa` failure).
const AUDITED_BY_DOMAIN: &[&str] = &[
    "/api/v1/auth/login",
    "/api/v1/auth/mfa",
    "/api/v1/auth/reauthenticate",
    "/signin",
    "/signin/mfa",
];

/// Which refusals go to the audit log: every refused change, and every refused read of a
/// route that names something (an organization, a token, a session), so probing another
/// organization's ids shows. Rate-limit refusals are not recorded (they would let a flood
/// fill the log), nor requests for routes that do not exist.
fn recorded_refusal(method: &actix_web::http::Method, route: &str, status: StatusCode) -> bool {
    let refused = status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS;
    let names_something = route.contains('{') || route.starts_with("/api/");
    refused
        && route != "(unmatched)"
        && !AUDITED_BY_DOMAIN.contains(&route)
        && (!method.is_safe() || names_something)
}

/// Appends `request.refused` (outcome denied) with whoever was asking, from where, and the
/// route pattern (never the raw path, which may hold a token). When the path names an
/// organization the entry carries it, so that organization's owners see the attempt.
async fn audit_refusal(
    state: &web::Data<AppState>,
    req: &actix_web::HttpRequest,
    method: &actix_web::http::Method,
    route: &str,
    status: StatusCode,
) {
    let actor = match identity::current(req, state).await {
        Ok(Some(signed_in)) => Actor::Account(signed_in.account.id.to_string()),
        _ => Actor::Anonymous,
    };
    let client = identity::client(req, state);
    let mut event = Event::new(actor, "request.refused", Outcome::Denied)
        .target(format!("{method} {route} {}", status.as_u16()));
    event.ip = client.ip;
    event.user_agent = client.user_agent;
    if let Some(org) = req
        .match_info()
        .get("org_id")
        .and_then(|id| uuid::Uuid::parse_str(id).ok())
    {
        event = event.org(org);
    }
    let store = state.store.clone();
    let recorded = web::block(move || -> Result<(), crate::audit::AuditError> {
        let txn = store.write()?;
        crate::audit::append(&txn, event, identity::now())?;
        txn.commit()?;
        Ok(())
    })
    .await;
    if !matches!(recorded, Ok(Ok(()))) {
        tracing::error!(route, "could not record a refused request in the audit log");
    }
}
