//! Who is asking: the signed-in session behind the cookie, the client address (believing
//! X-Forwarded-For only from configured proxies), and the CSRF check.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::{HttpRequest, web};

use super::AppState;
use super::error::WebError;
use crate::auth::{self, Account, Client, Session, session::COOKIE};
use crate::config::TrustedProxies;
use crate::store::{GenerationCache, Store};

pub const CSRF_HEADER: &str = "x-csrf-token";

/// All a session may reach while its organization makes it enrol a second factor first.
const ENROLMENT_PATHS: &[&str] = &[
    "/api/v1/me/totp",
    "/api/v1/me/totp/confirm",
    "/api/v1/me/security-keys",
    "/api/v1/me/security-keys/confirm",
    "/account",
    "/api/v1/auth/reauthenticate",
];

/// Whether a session that must enrol a second factor first may reach `path`.
pub fn enrolment_allows(path: &str) -> bool {
    ENROLMENT_PATHS.contains(&path)
}

pub use crate::dates::now;

/// The address a request came from. X-Forwarded-For is read right to left, skipping
/// trusted proxies, and only when the connection itself comes from a trusted proxy. An
/// entry that is not an address (with or without a port) ends the walk at the peer:
/// skipping it would believe an entry to its left, which the client may have written.
pub fn client_ip(req: &HttpRequest, trusted: &TrustedProxies) -> Option<String> {
    client_addr(req, trusted).map(|ip| ip.to_string())
}

/// [`client_ip`] as an address.
pub fn client_addr(req: &HttpRequest, trusted: &TrustedProxies) -> Option<std::net::IpAddr> {
    let peer = req.peer_addr()?.ip();
    if !trusted.contains(peer) {
        return Some(peer);
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for entry in forwarded.iter().rev() {
        let Some(ip) = forwarded_address(entry) else {
            break;
        };
        if !trusted.contains(ip) {
            return Some(ip);
        }
    }
    Some(peer)
}

/// An X-Forwarded-For entry's address: `192.0.2.7`, `2001:db8::7`, `192.0.2.7:4242` or
/// `[2001:db8::7]:4242`.
fn forwarded_address(entry: &str) -> Option<std::net::IpAddr> {
    entry.parse().ok().or_else(|| {
        entry
            .parse::<std::net::SocketAddr>()
            .ok()
            .map(|address| address.ip())
    })
}

pub fn client(req: &HttpRequest, state: &AppState) -> Client {
    let user_agent = req
        .headers()
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(256).collect());
    Client {
        ip: client_ip(req, &state.trusted_proxies),
        user_agent,
    }
}

/// A signed-in request.
pub struct SignedIn {
    pub token: String,
    pub session: Session,
    pub account: Account,
}

/// Sent by page scripts on requests the person did not make (a dashboard refreshing).
pub const BACKGROUND_HEADER: &str = "x-rampart-background";

/// The signed-in person, or `None` for an anonymous request.
pub async fn current(
    req: &HttpRequest,
    state: &web::Data<AppState>,
) -> Result<Option<SignedIn>, WebError> {
    let Some(token) = req.cookie(COOKIE).map(|c| c.value().to_owned()) else {
        return Ok(None);
    };
    let now = now();
    // Pages that refresh themselves say so; only what the person does keeps a session alive.
    let activity = !req.headers().contains_key(BACKGROUND_HEADER);
    if let Some((session, account)) = state.sessions.get(&state.store, &token, activity, now) {
        return Ok(Some(SignedIn {
            token,
            session,
            account,
        }));
    }
    let store = state.store.clone();
    let lookup_token = token.clone();
    // Read before the store: an entry filled from a snapshot older than a later write is
    // then already stale.
    let generation = state.store.generation();
    let found =
        web::block(move || auth::authenticate(&store, &lookup_token, activity, now)).await??;
    if let Some((session, account)) = &found
        && !auth::session::needs_touch(session, now)
    {
        state
            .sessions
            .put(&token, generation, session.clone(), account.clone());
    }
    Ok(found.map(|(session, account)| SignedIn {
        token,
        session,
        account,
    }))
}

/// Recently authenticated sessions, so a page view does not cost a blocking hop, a read
/// transaction and two AEAD opens. An entry is used only while the store's generation is
/// the one it was read under: any committed write (a revocation, a logout, a role change,
/// a disabled account) makes every entry stale at once, so the cache never outlives the
/// truth. Expiry and the `last_seen` refresh are still checked on every hit.
pub struct SessionCache {
    entries: GenerationCache<String, (Session, Account)>,
}

/// Bounds memory under a flood of distinct cookies; a full cache is simply emptied.
const SESSION_CACHE_MAX: usize = 4096;

impl SessionCache {
    pub fn new() -> SessionCache {
        SessionCache {
            entries: GenerationCache::new(SESSION_CACHE_MAX),
        }
    }

    fn get(
        &self,
        store: &Store,
        token: &str,
        activity: bool,
        now: i64,
    ) -> Option<(Session, Account)> {
        let (session, account) = self.entries.get(store, token)?;
        let stale = auth::session::expired(&session, now)
            || (activity && auth::session::needs_touch(&session, now));
        (!stale).then_some((session, account))
    }

    fn put(&self, token: &str, generation: u64, session: Session, account: Account) {
        self.entries
            .put(token.to_owned(), generation, (session, account));
    }
}

impl Default for SessionCache {
    fn default() -> Self {
        SessionCache::new()
    }
}

pub fn requester(signed_in: &SignedIn) -> crate::access::Requester {
    crate::access::Requester {
        account: signed_in.account.id,
        appliance_admin: signed_in.account.appliance_admin,
        token: None,
    }
}

/// Whoever may call a data route: a fully signed-in session, or an API token.
pub struct Caller {
    pub account: Account,
    pub requester: crate::access::Requester,
    /// The session's CSRF token; `None` for an API token, which carries no cookie to forge.
    pub csrf_token: Option<String>,
    /// When the session's password was last proven; `None` for an API token.
    pub authenticated_at: Option<i64>,
}

impl Caller {
    /// Whether this caller may make a change that needs a recent sign-in.
    pub fn sign_in_proof(&self) -> crate::org::SignInProof {
        match self.authenticated_at {
            Some(at) if auth::proven_recently(at, now()) => crate::org::SignInProof::Recent,
            _ => crate::org::SignInProof::Stale,
        }
    }

    /// Unsafe requests on a session must echo its CSRF token in the header.
    pub fn check_csrf(&self, req: &HttpRequest) -> Result<(), WebError> {
        let Some(expected) = &self.csrf_token else {
            return Ok(());
        };
        csrf_matches(
            req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()),
            expected,
        )
    }
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get("authorization")?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(|t| t.trim().to_owned())
}

/// The caller of a data route: `Authorization: Bearer rmp_...`, else the session cookie.
/// A bearer token that is unknown, revoked or expired is 401, never a fallback to the cookie.
pub async fn require_caller(
    req: &HttpRequest,
    state: &web::Data<AppState>,
) -> Result<Caller, WebError> {
    if let Some(token) = bearer(req) {
        let store = state.store.clone();
        let client = client(req, state);
        let found = web::block(move || auth::tokens::authenticate(&store, &token, &client, now()))
            .await??;
        let (account, limits) = found.ok_or(WebError::Unauthenticated)?;
        return Ok(Caller {
            csrf_token: None,
            authenticated_at: None,
            requester: crate::access::Requester {
                account: account.id,
                appliance_admin: account.appliance_admin,
                token: Some(limits),
            },
            account,
        });
    }
    let signed_in = require(req, state).await?;
    Ok(Caller {
        requester: requester(&signed_in),
        csrf_token: Some(signed_in.session.csrf_token),
        authenticated_at: Some(signed_in.session.authenticated_at),
        account: signed_in.account,
    })
}

/// The signed-in person with every factor given, or 401.
pub async fn require(req: &HttpRequest, state: &web::Data<AppState>) -> Result<SignedIn, WebError> {
    let signed_in = require_any(req, state).await?;
    if signed_in.session.mfa_pending {
        return Err(WebError::MfaRequired);
    }
    if signed_in.session.mfa_enrolment_required && !enrolment_allows(req.path()) {
        return Err(WebError::MfaEnrolmentRequired);
    }
    Ok(signed_in)
}

/// The signed-in person making an unsafe request: [`require`] plus the CSRF header check.
pub async fn require_writer(
    req: &HttpRequest,
    state: &web::Data<AppState>,
) -> Result<SignedIn, WebError> {
    let signed_in = require(req, state).await?;
    check_csrf(req, &signed_in, None)?;
    Ok(signed_in)
}

/// Any session, one still owing its second factor included: for signing out, which
/// "Cancel sign-in" on the second-factor page does.
pub async fn require_any(
    req: &HttpRequest,
    state: &web::Data<AppState>,
) -> Result<SignedIn, WebError> {
    current(req, state).await?.ok_or(WebError::Unauthenticated)
}

/// A session that still owes its second factor, for the MFA step only.
pub async fn require_pending(
    req: &HttpRequest,
    state: &web::Data<AppState>,
) -> Result<SignedIn, WebError> {
    current(req, state)
        .await?
        .filter(|s| s.session.mfa_pending)
        .ok_or(WebError::Unauthenticated)
}

/// Unsafe requests on a session must echo its CSRF token (header for the API, form field
/// for pages).
pub fn check_csrf(
    req: &HttpRequest,
    signed_in: &SignedIn,
    form_token: Option<&str>,
) -> Result<(), WebError> {
    let sent = form_token.or_else(|| req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()));
    csrf_matches(sent, &signed_in.session.csrf_token)
}

fn csrf_matches(sent: Option<&str>, expected: &str) -> Result<(), WebError> {
    match sent {
        Some(sent) if crate::crypto::constant_time_eq(sent.as_bytes(), expected.as_bytes()) => {
            Ok(())
        }
        _ => Err(WebError::Forbidden(
            "missing or wrong CSRF token; reload the page and try again".into(),
        )),
    }
}

pub fn session_cookie(token: &str) -> Cookie<'static> {
    Cookie::build(COOKIE, token.to_owned())
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish()
}

pub fn expired_cookie() -> Cookie<'static> {
    let mut cookie = session_cookie("");
    cookie.make_removal();
    cookie
}

/// An organization id from a path. A malformed one answers 404, like an unknown one.
pub fn parse_org(text: &str) -> Result<crate::store::OrgId, WebError> {
    parse_id(text).map(crate::store::OrgId)
}

/// An id from a path: one that is not a UUID names nothing, so it is 404 like an unknown one.
pub fn parse_id(text: &str) -> Result<uuid::Uuid, WebError> {
    uuid::Uuid::parse_str(text).map_err(|_| WebError::NotFound)
}
