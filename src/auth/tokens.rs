//! API tokens: opaque `rmp_` strings scoped to one organization and to read or write, with
//! an expiry. Shown once; the store keeps only their SHA-256. Last use is recorded.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use serde::{Deserialize, Serialize};

use super::{Account, AccountId, AuthError, Client, Session, account, require_step_up};
use crate::access::{self, Permission, Requester, SystemGrant};
use crate::audit::{self, Actor, Event, Outcome};
use crate::store::{OrgId, Store, System, SystemTable};

const TOKENS: SystemTable = SystemTable::new("s.api_tokens");
pub const PREFIX: &str = "rmp_";
pub const MAX_DAYS: u32 = 365;
/// Last-use time is written back at most this often per token.
const TOUCH_AFTER_SECS: i64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Read,
    Write,
}

impl Scope {
    /// The name the API and pages use (as serialized).
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
        }
    }

    pub fn allows(self, permission: Permission) -> bool {
        match self {
            Scope::Read => permission == Permission::Read,
            // A write token may import and delete catalogs; its holder's role still decides.
            Scope::Write => matches!(
                permission,
                Permission::Read | Permission::Write | Permission::ManageCatalogs
            ),
        }
    }
}

/// A token as stored and listed (never the secret).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiToken {
    #[schema(value_type = String)]
    pub id: uuid::Uuid,
    pub name: String,
    #[schema(value_type = String)]
    pub account: AccountId,
    #[schema(value_type = String)]
    pub org: OrgId,
    pub scope: Scope,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
}

/// What a valid bearer token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenLimits {
    pub org: OrgId,
    pub scope: Scope,
}

fn key(token: &str) -> Vec<u8> {
    crate::crypto::sha256(token.as_bytes()).to_vec()
}

fn clean_name(name: &str) -> Result<String, AuthError> {
    let name = name.trim();
    let count = name.chars().count();
    if name.chars().any(char::is_control) {
        return Err(AuthError::InvalidInput {
            field: "name",
            message: "a token name cannot contain control characters such as line breaks".into(),
        });
    }
    if count == 0 || count > 100 {
        return Err(AuthError::InvalidInput {
            field: "name",
            message: "a token name has 1 to 100 characters".into(),
        });
    }
    Ok(name.to_owned())
}

/// Creates a token for `org`; the holder must have the permission the scope implies, and
/// have signed in recently (`require_step_up`). Returns the secret, shown this once.
#[allow(clippy::too_many_arguments)]
pub fn create(
    store: &Store,
    requester: Requester,
    session: &Session,
    org: OrgId,
    name: &str,
    scope: Scope,
    days: u32,
    client: &Client,
    now: i64,
) -> Result<(String, ApiToken), AuthError> {
    require_step_up(session, now)?;
    let name = clean_name(name)?;
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(AuthError::InvalidInput {
            field: "expires_in_days",
            message: format!("a token lives 1 to {MAX_DAYS} days"),
        });
    }
    let needed = match scope {
        Scope::Read => Permission::Read,
        Scope::Write => Permission::Write,
    };
    let known = store.organizations()?;
    let txn = store.write()?;
    let system = txn.system(&SystemGrant::internal())?;
    // Members only: the appliance administrator's read access is not for handing out.
    let requester = Requester {
        appliance_admin: false,
        ..requester
    };
    access::authorize(&system, &known, requester, org, needed)?;
    let secret: [u8; 32] = crate::crypto::random_bytes()?;
    let token = format!("{PREFIX}{}", B64URL.encode(secret));
    let record = ApiToken {
        id: uuid::Uuid::new_v4(),
        name,
        account: requester.account,
        org,
        scope,
        created_at: now,
        expires_at: now + i64::from(days) * 86_400,
        last_used_at: None,
    };
    system.put(TOKENS, &key(&token), &serde_json::to_vec(&record)?)?;
    let event = Event::new(
        Actor::Account(requester.account.to_string()),
        "token.create",
        Outcome::Success,
    )
    .org(org)
    .target(record.id);
    audit::append(&txn, client.stamp(event), now)?;
    drop(system);
    txn.commit()?;
    Ok((token, record))
}

/// The account and limits behind a bearer token, recording its use: its last-use time and a
/// `token.use` audit entry, at most once a minute each, so a busy integration does not
/// write on every request. `None` for an unknown, revoked or expired token, or a disabled
/// account.
pub fn authenticate(
    store: &Store,
    token: &str,
    client: &Client,
    now: i64,
) -> Result<Option<(Account, TokenLimits)>, AuthError> {
    if !token.starts_with(PREFIX) || token.len() != PREFIX.len() + 43 {
        return Ok(None);
    }
    let grant = SystemGrant::internal();
    let found = {
        let read = store.read()?;
        let system = read.system(&grant)?;
        match system.get(TOKENS, &key(token))? {
            Some(bytes) => {
                let record: ApiToken = serde_json::from_slice(&bytes)?;
                let holder = account::get(&system, record.account)?.filter(|a| !a.disabled);
                holder
                    .filter(|_| record.expires_at > now)
                    .map(|a| (a, record))
            }
            None => None,
        }
    };
    let Some((holder, record)) = found else {
        return Ok(None);
    };
    // A token speaks for its holder: where the holder must first add a second factor, so
    // must the token's (a token made before the organization began to require one).
    if !holder.mfa.enabled()
        && crate::org::requires_mfa(store, holder.id, record.org)
            .map_err(|e| AuthError::Internal(e.to_string()))?
    {
        return Err(AuthError::MfaEnrolmentRequired);
    }
    if record
        .last_used_at
        .is_none_or(|last| now - last > TOUCH_AFTER_SECS)
    {
        let txn = store.write()?;
        let system = txn.system(&grant)?;
        let mut updated = record.clone();
        updated.last_used_at = Some(now);
        system.put(TOKENS, &key(token), &serde_json::to_vec(&updated)?)?;
        let event = Event::new(
            Actor::Account(record.account.to_string()),
            "token.use",
            Outcome::Success,
        )
        .org(record.org)
        .target(record.id);
        audit::append(&txn, client.stamp(event), now)?;
        drop(system);
        txn.commit()?;
    }
    Ok(Some((
        holder,
        TokenLimits {
            org: record.org,
            scope: record.scope,
        },
    )))
}

/// Deletes every token `account` holds, in any organization; returns how many.
pub fn revoke_all(system: &System<'_>, account: AccountId) -> Result<usize, AuthError> {
    let mut revoked = 0;
    for (row, bytes) in system.list(TOKENS)? {
        let record: ApiToken = serde_json::from_slice(&bytes)?;
        if record.account == account {
            system.delete(TOKENS, &row)?;
            revoked += 1;
        }
    }
    Ok(revoked)
}

/// The tokens `account` holds for `org`.
pub fn list(store: &Store, account: AccountId, org: OrgId) -> Result<Vec<ApiToken>, AuthError> {
    let read = store.read()?;
    let system = read.system(&SystemGrant::internal())?;
    let mut out = Vec::new();
    for (_, bytes) in system.list(TOKENS)? {
        let record: ApiToken = serde_json::from_slice(&bytes)?;
        if record.account == account && record.org == org {
            out.push(record);
        }
    }
    out.sort_by_key(|t| t.created_at);
    Ok(out)
}

/// Revokes token `id` of `org`: the holder's own, or any in the organization for those who
/// manage its members. Someone else's token answers like one that does not exist.
pub fn revoke(
    store: &Store,
    requester: Requester,
    org: OrgId,
    id: uuid::Uuid,
    client: &Client,
    now: i64,
) -> Result<(), AuthError> {
    let known = store.organizations()?;
    let txn = store.write()?;
    let system = txn.system(&SystemGrant::internal())?;
    let member = Requester {
        appliance_admin: false,
        ..requester
    };
    access::authorize(&system, &known, member, org, Permission::Read)?;
    let manager =
        access::authorize(&system, &known, member, org, Permission::ManageMembers).is_ok();
    let mut target = None;
    for (row, bytes) in system.list(TOKENS)? {
        let record: ApiToken = serde_json::from_slice(&bytes)?;
        if record.id == id && record.org == org && (record.account == requester.account || manager)
        {
            target = Some(row);
        }
    }
    let row = target.ok_or(AuthError::Access(access::AccessError::NotFound))?;
    system.delete(TOKENS, &row)?;
    let event = Event::new(
        Actor::Account(requester.account.to_string()),
        "token.revoke",
        Outcome::Success,
    )
    .org(org)
    .target(id);
    audit::append(&txn, client.stamp(event), now)?;
    drop(system);
    txn.commit()?;
    Ok(())
}
