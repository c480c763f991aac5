//! First-time setup: a one-time link that creates the appliance administrator and the first
//! organization. The link carries 256 random bits; the store keeps only their hash and an
//! expiry one hour out. Issuing a new link replaces the old one.

use serde::{Deserialize, Serialize};

use super::{Account, AuthError, Client, Hasher, Password, account, links, password};
use crate::access::{self, Role, SystemGrant};
use crate::audit::{self, Actor, Event, Outcome};
use crate::store::{Store, SystemGet, SystemTable};

const SETUP: SystemTable = SystemTable::new("s.setup");
const LINK_KEY: &[u8] = b"link";
pub const LINK_TTL_SECS: i64 = 60 * 60;

#[derive(Serialize, Deserialize)]
struct StoredLink {
    hash: Vec<u8>,
    expires_at: i64,
}

/// What the setup form sends.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SetupRequest {
    pub email: String,
    pub display_name: String,
    #[schema(value_type = String)]
    pub password: Password,
    /// Name of the first organization.
    pub organization: String,
}

/// Makes a fresh setup token while no administrator exists; `None` once one does.
pub fn issue_setup_link(store: &Store, now: i64) -> Result<Option<String>, AuthError> {
    let txn = store.write()?;
    let system = txn.system(&SystemGrant::internal())?;
    if account::any_appliance_admin(&system)? {
        return Ok(None);
    }
    let token = links::new_token()?;
    let stored = StoredLink {
        hash: crate::crypto::sha256(token.as_bytes()).to_vec(),
        expires_at: now + LINK_TTL_SECS,
    };
    system.put(SETUP, LINK_KEY, &serde_json::to_vec(&stored)?)?;
    drop(system);
    txn.commit()?;
    Ok(Some(token))
}

/// True when `token` is the live setup link.
pub fn link_is_valid(system: &impl SystemGet, token: &str, now: i64) -> Result<bool, AuthError> {
    let Some(bytes) = system.get(SETUP, LINK_KEY)? else {
        return Ok(false);
    };
    let stored: StoredLink = serde_json::from_slice(&bytes)?;
    let hash = crate::crypto::sha256(token.as_bytes());
    Ok(stored.expires_at > now && crate::crypto::constant_time_eq(&hash, &stored.hash))
}

pub fn check_link(store: &Store, token: &str, now: i64) -> Result<(), AuthError> {
    let read = store.read()?;
    if link_is_valid(&read.system(&SystemGrant::internal())?, token, now)? {
        Ok(())
    } else {
        Err(AuthError::SetupLinkInvalid)
    }
}

/// Creates the administrator and the first organization (with the administrator as its
/// owner), and spends the link, all in one transaction.
pub async fn complete_setup(
    store: &std::sync::Arc<Store>,
    hasher: &Hasher,
    token: &str,
    request: &SetupRequest,
    client: &Client,
    now: i64,
) -> Result<Account, AuthError> {
    check_link(store, token, now)?;
    let email = account::parse_email(&request.email)?;
    let display_name = account::clean_display_name(&request.display_name)?;
    crate::org::check_name(&request.organization).map_err(|err| AuthError::InvalidInput {
        field: "organization",
        message: err.to_string(),
    })?;
    password::check_policy(&request.password, &[email.as_str(), &display_name])?;
    let hash = hasher.hash(&request.password).await?;

    let txn = store.write()?;
    let grant = SystemGrant::internal();
    let system = txn.system(&grant)?;
    // Checked again inside the transaction: two submissions of one link race here.
    if !link_is_valid(&system, token, now)? {
        return Err(AuthError::SetupLinkInvalid);
    }
    if account::any_appliance_admin(&system)? {
        return Err(AuthError::AlreadySetUp);
    }
    let admin = account::create(&system, &email, &display_name, Some(hash), true, now)?;
    system.delete(SETUP, LINK_KEY)?;
    let org_grant = access::new_organization();
    let org = crate::org::create_in(&txn, &org_grant, &request.organization, now)
        .map_err(|err| AuthError::Internal(err.to_string()))?;
    access::set_role(&system, admin.id, org.id, Role::Owner)?;
    let actor = Actor::Account(admin.id.to_string());
    let event = client.stamp(
        Event::new(actor, "setup.complete", Outcome::Success)
            .org(org.id)
            .target(admin.id),
    );
    audit::append(&txn, event, now)?;
    drop(system);
    txn.commit()?;
    Ok(admin)
}
