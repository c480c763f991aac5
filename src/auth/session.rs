//! Server-side sessions. The cookie holds a random 256-bit token; the store holds only its
//! SHA-256, so a copy of the store cannot be replayed as a cookie.

use serde::{Deserialize, Serialize};

use super::AuthError;
use super::account::AccountId;
use crate::store::{System, SystemGet, SystemTable};

const SESSIONS: SystemTable = SystemTable::new("s.sessions");
/// Cookie name: the `__Host-` prefix makes browsers insist on Secure, Path=/ and no Domain.
pub const COOKIE: &str = "__Host-rampart_session";
pub const IDLE_SECS: i64 = 30 * 60;
pub const ABSOLUTE_SECS: i64 = 12 * 60 * 60;
/// How stale `last_seen` may get before a request writes it back (saves a write per request).
const TOUCH_AFTER_SECS: i64 = 60;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub account: AccountId,
    pub created_at: i64,
    pub last_seen: i64,
    /// When the password was last proven (for step-up on sensitive operations).
    pub authenticated_at: i64,
    /// Sent back with every unsafe request (header or form field).
    pub csrf_token: String,
    /// Password given, second factor still owed: good for nothing but the MFA step.
    #[serde(default)]
    pub mfa_pending: bool,
    /// An organization requires MFA and the account has none: good only for enrolling.
    /// Decided again each time the session is loaded (`auth::authenticate`), so what is
    /// stored is only what sign-in found.
    #[serde(default)]
    pub mfa_enrolment_required: bool,
    /// Where it was opened from, so a person can tell their sessions apart.
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
    /// A security-key ceremony waiting for its answer (serialized, sealed with the session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webauthn_ceremony: Option<String>,
}

/// A session as its owner sees it in the list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    /// Stable public id (the hex SHA-256 of the token; the token itself is never shown).
    pub id: String,
    pub created_at: i64,
    pub last_seen: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Whether this is the session making the request.
    pub current: bool,
}

/// The live sessions of `account`, newest first.
pub fn list_for(
    system: &impl SystemGet,
    account: AccountId,
    current_token: &str,
    now: i64,
) -> Result<Vec<SessionView>, AuthError> {
    let current = token_hash(current_token);
    let mut out = Vec::new();
    for (key, bytes) in system.list_from(SESSIONS, &[])? {
        let session: Session = serde_json::from_slice(&bytes)?;
        if session.account == account && !expired(&session, now) {
            out.push(SessionView {
                id: crate::crypto::hex(&key),
                created_at: session.created_at,
                last_seen: session.last_seen,
                ip: session.ip,
                user_agent: session.user_agent,
                current: key == current.0,
            });
        }
    }
    out.sort_by_key(|s| std::cmp::Reverse(s.created_at));
    Ok(out)
}

/// Ends the session with public `id` if it belongs to `account`.
pub fn revoke_by_id(system: &System<'_>, account: AccountId, id: &str) -> Result<bool, AuthError> {
    for (key, bytes) in system.list(SESSIONS)? {
        let session: Session = serde_json::from_slice(&bytes)?;
        if session.account == account && crate::crypto::hex(&key) == id {
            return Ok(system.delete(SESSIONS, &key)?);
        }
    }
    Ok(false)
}

/// The stored key of a session token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHash(Vec<u8>);

pub fn token_hash(token: &str) -> TokenHash {
    TokenHash(crate::crypto::sha256(token.as_bytes()).to_vec())
}

/// Starts a session; returns the cookie token (shown once, never stored).
pub fn create(
    system: &System<'_>,
    account: AccountId,
    mfa_pending: bool,
    now: i64,
) -> Result<(String, Session), AuthError> {
    let token = super::links::new_token()?;
    let session = Session {
        account,
        created_at: now,
        last_seen: now,
        authenticated_at: now,
        csrf_token: super::links::new_token()?,
        mfa_pending,
        mfa_enrolment_required: false,
        ip: None,
        user_agent: None,
        webauthn_ceremony: None,
    };
    system.put(
        SESSIONS,
        &token_hash(&token).0,
        &serde_json::to_vec(&session)?,
    )?;
    Ok((token, session))
}

pub fn expired(session: &Session, now: i64) -> bool {
    now - session.last_seen > IDLE_SECS || now - session.created_at > ABSOLUTE_SECS
}

/// The live session for `token`, if any.
pub fn lookup(
    system: &impl SystemGet,
    token: &str,
    now: i64,
) -> Result<Option<Session>, AuthError> {
    // Tokens are 43 characters; anything else cannot be one and costs no store read.
    if token.len() != super::links::TOKEN_LEN {
        return Ok(None);
    }
    let Some(bytes) = system.get(SESSIONS, &token_hash(token).0)? else {
        return Ok(None);
    };
    let session: Session = serde_json::from_slice(&bytes)?;
    Ok((!expired(&session, now)).then_some(session))
}

pub fn needs_touch(session: &Session, now: i64) -> bool {
    now - session.last_seen > TOUCH_AFTER_SECS
}

/// Records activity, keeping an active session alive.
pub fn touch(system: &System<'_>, token: &str, now: i64) -> Result<(), AuthError> {
    if let Some(mut session) = lookup(system, token, now)? {
        session.last_seen = now;
        system.put(
            SESSIONS,
            &token_hash(token).0,
            &serde_json::to_vec(&session)?,
        )?;
    }
    Ok(())
}

pub fn save(system: &System<'_>, token: &str, session: &Session) -> Result<(), AuthError> {
    system.put(
        SESSIONS,
        &token_hash(token).0,
        &serde_json::to_vec(session)?,
    )?;
    Ok(())
}

/// Moves `session` to a new token and ends the old one: the cookie that was good before a
/// step that raised the session's assurance (a second factor, a re-authentication) is
/// worth nothing after it, so a token seen or planted earlier cannot ride the new trust.
/// Returns the new token (shown once, never stored).
pub fn renew(system: &System<'_>, old_token: &str, session: &Session) -> Result<String, AuthError> {
    let token = super::links::new_token()?;
    system.delete(SESSIONS, &token_hash(old_token).0)?;
    save(system, &token, session)?;
    Ok(token)
}

pub fn revoke(system: &System<'_>, token: &str) -> Result<bool, AuthError> {
    Ok(system.delete(SESSIONS, &token_hash(token).0)?)
}

/// Ends every session of `account` but `keep` (password or MFA change, disable, role
/// removal).
/// Deletes every expired session; returns how many.
pub fn purge_expired(system: &System<'_>, now: i64) -> Result<usize, AuthError> {
    let mut purged = 0;
    for (key, bytes) in system.list(SESSIONS)? {
        let session: Session = serde_json::from_slice(&bytes)?;
        if expired(&session, now) {
            system.delete(SESSIONS, &key)?;
            purged += 1;
        }
    }
    Ok(purged)
}

pub fn revoke_all(
    system: &System<'_>,
    account: AccountId,
    keep: Option<&str>,
) -> Result<usize, AuthError> {
    let kept = keep.map(token_hash);
    let mut ended = 0;
    for (key, bytes) in system.list(SESSIONS)? {
        let session: Session = serde_json::from_slice(&bytes)?;
        if session.account == account && kept.as_ref().is_none_or(|k| k.0 != key) {
            system.delete(SESSIONS, &key)?;
            ended += 1;
        }
    }
    Ok(ended)
}
