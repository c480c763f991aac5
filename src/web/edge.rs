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
///
/// Our origin is the configured public URL's, or the host the browser itself addressed
/// (`Host`, or HTTP/2's `:authority`), which a page on another site cannot choose. The
/// forwarded host headers (`X-Forwarded-Host`, `Forwarded: host=`) are anyone's to write, so
/// they count only on a connection from a trusted proxy.
fn origin_allowed(req: &ServiceRequest, state: Option<&AppState>) -> bool {
    if req.method().is_safe() {
        return true;
    }
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return req.cookie(crate::auth::session::COOKIE).is_none();
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if let Some(public) = state.and_then(|state| state.public_url.as_ref())
        && origin.eq_ignore_ascii_case(public.origin())
    {
        return true;
    }
    let from_proxy = state.is_some_and(|state| {
        req.peer_addr()
            .is_some_and(|peer| state.trusted_proxies.contains(peer.ip()))
    });
    let host = if from_proxy {
        Some(req.connection_info().host().to_owned())
    } else {
        addressed_host(req)
    };
    host.is_some_and(|host| {
        origin
            .strip_prefix("https://")
            .is_some_and(|named| named.eq_ignore_ascii_case(&host))
    })
}

/// The host the client addressed on this connection, ignoring every forwarded header.
fn addressed_host(req: &ServiceRequest) -> Option<String> {
    req.uri()
        .authority()
        .map(|authority| authority.as_str().to_owned())
        .or_else(|| {
            req.headers()
                .get(header::HOST)
                .and_then(|host| host.to_str().ok())
                .map(str::to_owned)
        })
}

/// Why a request is refused before it reaches its route, by the rate limits.
#[derive(Debug, PartialEq, Eq)]
enum RateRefusal {
    /// Over the limit of its class: try again after this long.
    Over(std::time::Duration),
    /// A limited route, and no address to count the request against: refused, not let
    /// through unlimited.
    NoAddress,
}

fn rate_check(
    req: &ServiceRequest,
    limits: &super::limits::Limits,
    trusted: &crate::config::TrustedProxies,
    class: RouteClass,
) -> Result<(), RateRefusal> {
    if class == RouteClass::Open {
        return Ok(());
    }
    let Some(ip) = identity::client_addr(req.request(), trusted) else {
        tracing::warn!(class = ?class, "request without a client address refused");
        return Err(RateRefusal::NoAddress);
    };
    limits.check(class, ip).map_err(RateRefusal::Over)
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
    let rate = state.as_ref().map_or(Ok(()), |state| {
        rate_check(&req, &state.limits, &state.trusted_proxies, class)
    });
    let (over_rate, no_address) = match rate {
        Ok(()) => (None, false),
        Err(RateRefusal::Over(wait)) => (Some(wait), false),
        Err(RateRefusal::NoAddress) => (None, true),
    };
    let refusal = if no_address {
        Some((
            StatusCode::BAD_REQUEST,
            "the request's client address cannot be told, so no rate limit can be applied"
                .to_owned(),
        ))
    } else if let Some(wait) = over_rate {
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
    } else if !origin_allowed(&req, state.as_ref().map(|state| state.get_ref())) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TrustedProxies;
    use crate::web::limits::Limits;

    #[test]
    fn a_limited_request_without_a_client_address_is_refused() {
        let limits = Limits::new(100, 100, 100);
        let trusted = TrustedProxies::default();
        let anonymous = actix_web::test::TestRequest::default().to_srv_request();
        assert_eq!(
            rate_check(&anonymous, &limits, &trusted, RouteClass::Auth),
            Err(RateRefusal::NoAddress)
        );
        assert_eq!(
            rate_check(&anonymous, &limits, &trusted, RouteClass::Open),
            Ok(())
        );
        let addressed = actix_web::test::TestRequest::default()
            .peer_addr("192.0.2.7:4242".parse().unwrap())
            .to_srv_request();
        assert_eq!(
            rate_check(&addressed, &limits, &trusted, RouteClass::Auth),
            Ok(())
        );
    }
}
