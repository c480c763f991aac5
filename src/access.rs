//! The one place that decides "may this actor do this", and the only module that can hand out
//! a [`Grant`]: the capability the store demands before it opens an organization's records.

use std::sync::{Arc, LazyLock};

use serde::{Deserialize, Serialize};

use crate::auth::AccountId;
use crate::store::{GenerationCache, OrgId, Store, StoreError, System, SystemGet, SystemTable};

/// Account id || org id -> role.
const MEMBERS: SystemTable = SystemTable::new("s.members");

/// Permission to open one organization's tenant tables. It cannot be built outside this
/// module, so a handler that skipped the access check has nothing to pass to the store.
#[derive(Debug)]
pub struct Grant {
    org: OrgId,
}

impl Grant {
    pub fn org(&self) -> OrgId {
        self.org
    }
}

/// Permission to open the appliance-wide records: accounts, sessions, the audit log.
#[derive(Debug)]
pub struct SystemGrant(());

impl SystemGrant {
    /// For the identity and audit modules, which read accounts and sessions before anyone
    /// is signed in, and for the local operator.
    pub(crate) fn internal() -> SystemGrant {
        SystemGrant(())
    }
}

/// A brand-new organization's id with the grant to create it. Whoever may create an
/// organization (the operator, first-time setup) becomes able to write it.
pub(crate) fn new_organization() -> Grant {
    Grant {
        org: OrgId::random(),
    }
}

/// Permission to read the one organization a share link names, for a link token whose
/// signature `evidence::links` has checked: the holder of a valid link has no account.
pub(crate) fn signed_link(org: OrgId) -> Grant {
    Grant { org }
}

/// The local operator: a process of the daemon's own user on the control socket (peer uid
/// checked there), or the CLI opening the store directly with the master key.
#[derive(Debug, Clone, Copy)]
pub struct ApplianceOperator(());

impl ApplianceOperator {
    /// Callers vouch that the peer is the daemon's own uid or holds the master key.
    pub(crate) fn local() -> ApplianceOperator {
        ApplianceOperator(())
    }

    /// The daemon's scheduled jobs, which act for the appliance itself (reminders,
    /// retention) and answer to no signed-in person.
    pub(crate) fn scheduler() -> ApplianceOperator {
        ApplianceOperator(())
    }

    pub fn grant(&self, org: OrgId) -> Grant {
        Grant { org }
    }
}

/// A role in one organization, from least to most powerful.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Member,
    Admin,
    Owner,
}

impl Role {
    /// The name the API, pages and mail use (as serialized).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(text: &str) -> Result<Role, String> {
        match text {
            "viewer" => Ok(Role::Viewer),
            "member" => Ok(Role::Member),
            "admin" => Ok(Role::Admin),
            "owner" => Ok(Role::Owner),
            _ => Err("a role is one of owner, admin, member, viewer".to_owned()),
        }
    }
}

/// What an actor wants to do to an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// See the organization's records.
    Read,
    /// Change assessments, evidence, plans.
    Write,
    /// Invite, remove and change the roles of members.
    ManageMembers,
    /// Change the profile, delete the organization.
    ManageOrganization,
    /// See the organization's audit log and security figures: owners only, because the log
    /// names every member's sign-ins, addresses and devices.
    Oversee,
    /// Share evidence with someone without an account (signed links): admins and owners.
    Share,
    /// Import and delete the organization's own catalogs: admins and owners, since each
    /// import spends the organization's catalog quota and the appliance's memory.
    ManageCatalogs,
}

impl Permission {
    /// Whether this only reads, so the appliance administrator may do it (audited by the
    /// caller) without being a member.
    fn is_read(self) -> bool {
        matches!(self, Permission::Read | Permission::Oversee)
    }
}

impl Role {
    pub fn allows(self, permission: Permission) -> bool {
        match permission {
            Permission::Read => true,
            Permission::Write => self >= Role::Member,
            Permission::ManageMembers | Permission::Share | Permission::ManageCatalogs => {
                self >= Role::Admin
            }
            Permission::ManageOrganization | Permission::Oversee => self == Role::Owner,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccessError {
    /// Not a member: answered exactly like an organization that does not exist.
    #[error("not found")]
    NotFound,
    #[error("your role in this organization does not allow that")]
    Forbidden,
    #[error("only the appliance administrator may do that")]
    NotApplianceAdmin,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("membership record is unreadable: {0}")]
    Decode(#[from] serde_json::Error),
}

fn member_key(account: AccountId, org: OrgId) -> Vec<u8> {
    let mut key = account.as_bytes().to_vec();
    key.extend_from_slice(org.0.as_bytes());
    key
}

pub fn set_role(
    system: &System<'_>,
    account: AccountId,
    org: OrgId,
    role: Role,
) -> Result<(), AccessError> {
    system.put(
        MEMBERS,
        &member_key(account, org),
        &serde_json::to_vec(&role)?,
    )?;
    Ok(())
}

pub fn role_in(
    system: &impl SystemGet,
    account: AccountId,
    org: OrgId,
) -> Result<Option<Role>, AccessError> {
    Ok(match system.get(MEMBERS, &member_key(account, org))? {
        Some(bytes) => Some(serde_json::from_slice(&bytes)?),
        None => None,
    })
}

/// Removes `account` from `org`; true when it was a member.
pub fn remove_role(
    system: &System<'_>,
    account: AccountId,
    org: OrgId,
) -> Result<bool, AccessError> {
    Ok(system.delete(MEMBERS, &member_key(account, org))?)
}

/// How many owners `org` has.
pub fn owner_count(system: &impl SystemGet, org: OrgId) -> Result<usize, AccessError> {
    Ok(members_of(system, org)?
        .iter()
        .filter(|(_, role)| *role == Role::Owner)
        .count())
}

/// Every member of `org` with its role. Scans all memberships: an appliance holds a few
/// thousand at most; an org-first index is the next step if that changes.
pub fn members_of(
    system: &impl SystemGet,
    org: OrgId,
) -> Result<Vec<(AccountId, Role)>, AccessError> {
    let mut out = Vec::new();
    for (key, bytes) in system.list_from(MEMBERS, &[])? {
        let (account, member_org) = key
            .split_at_checked(16)
            .ok_or_else(|| StoreError::Damaged("membership key has the wrong length".into()))?;
        if member_org == org.0.as_bytes() {
            let account: [u8; 16] = account
                .try_into()
                .map_err(|_| StoreError::Damaged("membership key has the wrong length".into()))?;
            out.push((
                AccountId(uuid::Uuid::from_bytes(account)),
                serde_json::from_slice(&bytes)?,
            ));
        }
    }
    Ok(out)
}

/// The account ids (as text, as records name people) of `org`'s members: who may be named
/// responsible for something.
pub fn member_ids(
    system: &impl SystemGet,
    org: OrgId,
) -> Result<std::collections::BTreeSet<String>, AccessError> {
    Ok(members_of(system, org)?
        .into_iter()
        .map(|(account, _)| account.to_string())
        .collect())
}

/// Every organization `account` belongs to, with its role there.
pub fn memberships(
    system: &impl SystemGet,
    account: AccountId,
) -> Result<Vec<(OrgId, Role)>, AccessError> {
    let prefix = account.as_bytes();
    let mut out = Vec::new();
    // Only this account's rows: each row read is a row decrypted, on every page view.
    for (key, bytes) in system.list_prefix(MEMBERS, prefix)? {
        let org: [u8; 16] = key
            .get(prefix.len()..)
            .unwrap_or_default()
            .try_into()
            .map_err(|_| StoreError::Damaged("membership key has the wrong length".into()))?;
        out.push((
            OrgId(uuid::Uuid::from_bytes(org)),
            serde_json::from_slice(&bytes)?,
        ));
    }
    Ok(out)
}

/// An account's memberships as of a store generation: every page view asks, and any commit
/// (a role changed, a member removed) makes every entry stale.
static MEMBERSHIPS: LazyLock<GenerationCache<AccountId, Memberships>> =
    LazyLock::new(|| GenerationCache::new(4096));

/// Each organization an account belongs to, with its role there.
pub type Memberships = Arc<[(OrgId, Role)]>;

/// [`memberships`] from its own snapshot, kept for later calls until the next commit.
pub fn memberships_of(store: &Store, account: AccountId) -> Result<Memberships, AccessError> {
    MEMBERSHIPS.get_or_read(store, account, || {
        let read = store.read()?;
        let system = read.system(&SystemGrant::internal())?;
        Ok(memberships(&system, account)?.into())
    })
}

/// The memberships kept for `account` since the last commit, without reading the store.
pub fn kept_memberships(store: &Store, account: AccountId) -> Option<Memberships> {
    MEMBERSHIPS.get(store, &account)
}

/// `requester`'s role in `org` when the memberships kept since the last commit show that it
/// may do `permission` there, without reading the store. `None` means "ask [`authorize`]":
/// nothing is kept for this account, it is not a member (the appliance administrator's
/// reads are audited), or the answer is a refusal, whose exact form `authorize` gives.
pub fn kept_member_role(
    store: &Store,
    requester: Requester,
    org: OrgId,
    permission: Permission,
) -> Option<Role> {
    requester.token_permits(org, permission).ok()?;
    let role = kept_memberships(store, requester.account)?
        .iter()
        .find_map(|(member_of, role)| (*member_of == org).then_some(*role))?;
    role.allows(permission).then_some(role)
}

/// Who is asking, as far as access decisions go.
#[derive(Debug, Clone, Copy)]
pub struct Requester {
    pub account: AccountId,
    pub appliance_admin: bool,
    /// Set when the request came with an API token: it reaches one organization, and only
    /// as far as its scope.
    pub token: Option<crate::auth::tokens::TokenLimits>,
}

impl Requester {
    /// What an API token's limits allow on `org`: another organization is
    /// [`AccessError::NotFound`], more than its scope [`AccessError::Forbidden`]. A session
    /// has no such limits.
    pub fn token_permits(&self, org: OrgId, permission: Permission) -> Result<(), AccessError> {
        match self.token {
            Some(limits) if limits.org != org => Err(AccessError::NotFound),
            Some(limits) if !limits.scope.allows(permission) => Err(AccessError::Forbidden),
            _ => Ok(()),
        }
    }
}

/// How access was granted: the caller audits [`Via::ApplianceAdmin`] reads, which the
/// organization's owners see in their log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Member(Role),
    ApplianceAdmin,
}

/// Decides whether `requester` may do `permission` on `org`, and if so hands out the grant.
/// A non-member gets [`AccessError::NotFound`], the same answer as for an unknown id. The
/// appliance administrator may read any organization that exists (audited by the caller)
/// but change none it is not a member of.
pub fn authorize(
    system: &impl SystemGet,
    known_orgs: &[OrgId],
    requester: Requester,
    org: OrgId,
    permission: Permission,
) -> Result<(Grant, Via), AccessError> {
    requester.token_permits(org, permission)?;
    let appliance_admin = requester.appliance_admin && requester.token.is_none();
    match role_in(system, requester.account, org)? {
        Some(role) if role.allows(permission) => Ok((Grant { org }, Via::Member(role))),
        Some(_) => Err(AccessError::Forbidden),
        None if appliance_admin && permission.is_read() && known_orgs.contains(&org) => {
            Ok((Grant { org }, Via::ApplianceAdmin))
        }
        None => Err(AccessError::NotFound),
    }
}

/// Decides whether `requester` may see appliance-wide records (the whole audit log, every
/// organization's security figures): the appliance administrator on a session only, since an
/// API token reaches one organization.
pub fn authorize_appliance(requester: Requester) -> Result<(), AccessError> {
    if requester.appliance_admin && requester.token.is_none() {
        Ok(())
    } else {
        Err(AccessError::NotApplianceAdmin)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn role_names_are_their_serialized_form() {
        for role in [Role::Viewer, Role::Member, Role::Admin, Role::Owner] {
            assert_eq!(serde_json::to_value(role).unwrap(), role.as_str());
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        use crate::auth::tokens::Scope;
        for scope in [Scope::Read, Scope::Write] {
            assert_eq!(serde_json::to_value(scope).unwrap(), scope.as_str());
        }
    }

    use super::*;

    #[test]
    fn roles_allow_in_order() {
        use Permission::*;
        let table = [
            (Role::Viewer, [true, false, false, false, false, false]),
            (Role::Member, [true, true, false, false, false, false]),
            (Role::Admin, [true, true, true, true, false, false]),
            (Role::Owner, [true, true, true, true, true, true]),
        ];
        for (role, expected) in table {
            let got = [
                Read,
                Write,
                ManageMembers,
                ManageCatalogs,
                ManageOrganization,
                Oversee,
            ]
            .map(|p| role.allows(p));
            assert_eq!(got, expected, "{role:?}");
        }
    }
}
