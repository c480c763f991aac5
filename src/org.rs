//! Organizations: the tenants. Each has its own data key; its profile is a tenant record.

use serde::{Deserialize, Serialize};

use crate::access::{
    self, AccessError, ApplianceOperator, Grant, Permission, Requester, SystemGrant, Via,
};
use crate::audit::{self, Actor, AuditError, Event, Outcome};
use crate::auth::Client;
use crate::store::{OrgId, Store, StoreError, TenantTable, WriteTxn};

const PROFILE: TenantTable = TenantTable::new("t.org_profile");
const PROFILE_KEY: &[u8] = b"profile";
const NAME_MAX_CHARS: usize = 200;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OrgError {
    #[error(
        "organization name must be 1 to {NAME_MAX_CHARS} characters without control characters"
    )]
    InvalidName,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error("organization record is unreadable: {0}")]
    Decode(#[from] serde_json::Error),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    pub id: OrgId,
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// Checks an organization name as typed.
pub fn check_name(name: &str) -> Result<(), OrgError> {
    clean_name(name).map(|_| ())
}

fn clean_name(name: &str) -> Result<String, OrgError> {
    let name = name.trim();
    let count = name.chars().count();
    if count == 0 || count > NAME_MAX_CHARS || name.chars().any(char::is_control) {
        return Err(OrgError::InvalidName);
    }
    Ok(name.to_owned())
}

/// Creates the organization `grant` names inside `txn`, with a fresh data key.
pub fn create_in(
    txn: &WriteTxn<'_>,
    grant: &Grant,
    name: &str,
    now: i64,
) -> Result<Organization, OrgError> {
    let org = Organization {
        id: grant.org(),
        name: clean_name(name)?,
        created_at: now,
    };
    txn.create_organization(grant)?
        .put(PROFILE, PROFILE_KEY, &serde_json::to_vec(&org)?)?;
    Ok(org)
}

/// Creates an organization for the local operator; durable when this returns.
pub fn create(
    store: &Store,
    operator: &ApplianceOperator,
    name: &str,
    now: i64,
) -> Result<Organization, OrgError> {
    let txn = store.write()?;
    let org = create_in(&txn, &operator.grant(OrgId::random()), name, now)?;
    let event = Event::new(Actor::Operator, "org.create", Outcome::Success)
        .org(org.id)
        .target(org.id);
    audit::append(&txn, event, now)?;
    txn.commit()?;
    Ok(org)
}

/// The profile, for whoever `access` lets read it; a read by the appliance administrator
/// (not a member) is audited, and the organization's owners see it in their log.
pub fn profile(
    store: &Store,
    requester: Requester,
    org: OrgId,
    client: &Client,
    now: i64,
) -> Result<Organization, OrgError> {
    let known = store.organizations()?;
    let via = {
        let read = store.read()?;
        let system = read.system(&SystemGrant::internal())?;
        access::authorize(&system, &known, requester, org, Permission::Read)?
    };
    let (grant, via) = via;
    if via == Via::ApplianceAdmin {
        let txn = store.write()?;
        let mut event = Event::new(
            Actor::Account(requester.account.to_string()),
            "admin.org_read",
            Outcome::Success,
        )
        .org(org)
        .target(org);
        event.ip = client.ip.clone();
        event.user_agent = client.user_agent.clone();
        audit::append(&txn, event, now)?;
        txn.commit()?;
    }
    get(store, &grant)
}

/// The profile of the organization `grant` names.
pub fn get(store: &Store, grant: &Grant) -> Result<Organization, OrgError> {
    let read = store.read()?;
    let bytes = read
        .tenant(grant)?
        .get(PROFILE, PROFILE_KEY)?
        .ok_or(OrgError::Store(StoreError::UnknownOrganization(
            grant.org(),
        )))?;
    Ok(serde_json::from_slice(&bytes)?)
}

pub fn list(store: &Store, operator: &ApplianceOperator) -> Result<Vec<Organization>, OrgError> {
    let mut orgs = Vec::new();
    let read = store.read()?;
    for id in store.organizations()? {
        if let Some(bytes) = read
            .tenant(&operator.grant(id))?
            .get(PROFILE, PROFILE_KEY)?
        {
            orgs.push(serde_json::from_slice(&bytes)?);
        }
    }
    orgs.sort_by(|a: &Organization, b| a.created_at.cmp(&b.created_at).then(a.name.cmp(&b.name)));
    Ok(orgs)
}
