//! Organizations: the tenants. Each has its own data key; its profile is a tenant record.

use std::sync::{Arc, LazyLock};

use serde::{Deserialize, Serialize};

use crate::access::{
    self, AccessError, ApplianceOperator, Grant, Permission, Requester, SystemGrant,
};
use crate::audit::{self, Actor, AuditError, Event, Outcome};
use crate::auth::Client;
use crate::store::{GenerationCache, OrgId, Store, StoreError, TenantTable, WriteTxn};

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
    /// A profile field is wrong; the message says how.
    #[error("{message}")]
    InvalidField {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Access(#[from] AccessError),
    /// The change weakens the organization's security settings and the requester has not
    /// proven their password recently (or asked with an API token, which never has).
    #[error("{0} needs a recent sign-in: sign in again, then repeat the change")]
    RecentSignInRequired(&'static str),
    #[error("organization record is unreadable: {0}")]
    Decode(#[from] serde_json::Error),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Organization {
    #[schema(value_type = String)]
    pub id: OrgId,
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Commercial and Government Entity code: 5 letters or digits.
    #[serde(default)]
    pub cage: Option<String>,
    /// SAM.gov Unique Entity ID: 12 letters or digits, never O or I.
    #[serde(default)]
    pub uei: Option<String>,
    #[serde(default)]
    pub contracts: Vec<Contract>,
    /// Members must use a second factor; those without one enrol at their next sign-in.
    #[serde(default)]
    pub require_mfa: bool,
    /// Mail may name requirements, milestones and evidence files. Off by default: mail
    /// says what is due and links to it, nothing more.
    #[serde(default)]
    pub mail_detail: bool,
}

/// A contract the organization holds, and whether it involves CUI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Contract {
    pub number: String,
    pub agency: String,
    /// Whether the contract involves Controlled Unclassified Information.
    pub cui: bool,
    /// `YYYY-MM-DD`.
    pub start: Option<String>,
    /// `YYYY-MM-DD`, not before `start`.
    pub end: Option<String>,
}

/// The editable part of a profile.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ProfileUpdate {
    pub name: String,
    pub cage: Option<String>,
    pub uei: Option<String>,
    #[serde(default)]
    pub contracts: Vec<Contract>,
    #[serde(default)]
    pub require_mfa: bool,
    #[serde(default)]
    pub mail_detail: bool,
}

fn invalid(field: &'static str, message: impl Into<String>) -> OrgError {
    OrgError::InvalidField {
        field,
        message: message.into(),
    }
}

/// Whether the requester proved their password recently enough for a sensitive change
/// (an API token never has).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInProof {
    Recent,
    Stale,
}

/// The settings an update would weaken, as audit actions: each needs a recent sign-in and
/// is recorded on its own, beside `org.update`.
fn weakened(current: &Organization, update: &ProfileUpdate) -> Vec<(&'static str, &'static str)> {
    let mut weakened = Vec::new();
    if current.require_mfa && !update.require_mfa {
        weakened.push((
            "turning off the second-factor requirement",
            "mfa.org_requirement_off",
        ));
    }
    if !current.mail_detail && update.mail_detail {
        weakened.push(("letting reminder mail quote records", "org.mail_detail_on"));
    }
    weakened
}

/// Upper-cases and checks a CAGE code, saying what is wrong.
pub fn clean_cage(raw: &str) -> Result<String, OrgError> {
    let cage = raw.trim().to_ascii_uppercase();
    let count = cage.chars().count();
    if count != 5 {
        return Err(invalid(
            "cage",
            format!("a CAGE code has exactly 5 characters; this has {count}"),
        ));
    }
    if let Some(bad) = cage.chars().find(|c| !c.is_ascii_alphanumeric()) {
        return Err(invalid(
            "cage",
            format!("a CAGE code has only letters and digits, not {bad:?}"),
        ));
    }
    Ok(cage)
}

/// Upper-cases and checks a UEI, saying what is wrong.
pub fn clean_uei(raw: &str) -> Result<String, OrgError> {
    let uei = raw.trim().to_ascii_uppercase();
    let count = uei.chars().count();
    if count != 12 {
        return Err(invalid(
            "uei",
            format!("a UEI has exactly 12 characters; this has {count}"),
        ));
    }
    if let Some(bad) = uei.chars().find(|c| !c.is_ascii_alphanumeric()) {
        return Err(invalid(
            "uei",
            format!("a UEI has only letters and digits, not {bad:?}"),
        ));
    }
    if let Some(bad) = uei.chars().find(|c| matches!(c, 'O' | 'I')) {
        return Err(invalid(
            "uei",
            format!("a UEI never contains the letter {bad} (it would be confused with a digit)"),
        ));
    }
    Ok(uei)
}

fn parse_date(field: &'static str, text: &str) -> Result<time::Date, OrgError> {
    crate::dates::parse(text).map_err(|message| invalid(field, message))
}

fn clean_contract(contract: &Contract) -> Result<Contract, OrgError> {
    let text = |field: &'static str, value: &str, what: &str| -> Result<String, OrgError> {
        let value = value.trim();
        let count = value.chars().count();
        if value.chars().any(char::is_control) {
            return Err(invalid(
                field,
                format!("a contract {what} cannot contain control characters such as line breaks"),
            ));
        }
        if count == 0 || count > 100 {
            return Err(invalid(
                field,
                format!("a contract {what} has 1 to 100 characters"),
            ));
        }
        Ok(value.to_owned())
    };
    let start = contract
        .start
        .as_deref()
        .map(|d| parse_date("contracts.start", d))
        .transpose()?;
    let end = contract
        .end
        .as_deref()
        .map(|d| parse_date("contracts.end", d))
        .transpose()?;
    if let (Some(start), Some(end)) = (start, end)
        && end < start
    {
        return Err(invalid(
            "contracts.end",
            "a contract cannot end before it starts",
        ));
    }
    Ok(Contract {
        number: text("contracts.number", &contract.number, "number")?,
        agency: text("contracts.agency", &contract.agency, "agency")?,
        cui: contract.cui,
        start: start.map(|d| d.to_string()),
        end: end.map(|d| d.to_string()),
    })
}

/// Changes the profile (owners); audited.
pub fn update_profile(
    store: &Store,
    requester: Requester,
    org: OrgId,
    update: &ProfileUpdate,
    proof: SignInProof,
    client: &Client,
    now: i64,
) -> Result<Organization, OrgError> {
    let name = clean_name(&update.name).map_err(|_| {
        let message = if update.name.chars().any(char::is_control) {
            "a name cannot contain control characters such as line breaks".to_owned()
        } else {
            format!("a name has 1 to {NAME_MAX_CHARS} characters")
        };
        invalid("name", message)
    })?;
    let cage = update
        .cage
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        .map(clean_cage)
        .transpose()?;
    let uei = update
        .uei
        .as_deref()
        .filter(|u| !u.trim().is_empty())
        .map(clean_uei)
        .transpose()?;
    if update.contracts.len() > 200 {
        return Err(invalid("contracts", "at most 200 contracts"));
    }
    let contracts = update
        .contracts
        .iter()
        .map(clean_contract)
        .collect::<Result<Vec<_>, _>>()?;
    let known = store.organizations()?;
    let txn = store.write()?;
    let (grant, _) = {
        let system = txn.system(&SystemGrant::internal())?;
        access::authorize(
            &system,
            &known,
            requester,
            org,
            Permission::ManageOrganization,
        )?
    };
    let tenant = txn.tenant(&grant)?;
    let current: Organization = match tenant.get(PROFILE, PROFILE_KEY)? {
        Some(bytes) => serde_json::from_slice(&bytes)?,
        None => return Err(OrgError::Access(AccessError::NotFound)),
    };
    let weakened = weakened(&current, update);
    if let Some((what, _)) = weakened.first()
        && proof != SignInProof::Recent
    {
        return Err(OrgError::RecentSignInRequired(what));
    }
    let updated = Organization {
        name,
        cage,
        uei,
        contracts,
        require_mfa: update.require_mfa,
        mail_detail: update.mail_detail,
        ..current
    };
    tenant.put(PROFILE, PROFILE_KEY, &serde_json::to_vec(&updated)?)?;
    let event = Event::new(
        Actor::Account(requester.account.to_string()),
        "org.update",
        Outcome::Success,
    )
    .org(org)
    .target(org);
    audit::append(&txn, client.stamp(event), now)?;
    for (_, action) in weakened {
        let actor = Actor::Account(requester.account.to_string());
        let event = Event::new(actor, action, Outcome::Success)
            .org(org)
            .target(org);
        audit::append(&txn, client.stamp(event), now)?;
    }
    drop(tenant);
    txn.commit()?;
    Ok(updated)
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
        cage: None,
        uei: None,
        contracts: Vec::new(),
        require_mfa: false,
        mail_detail: false,
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
    let grant = audit::read_grant(store, requester, org, client, now)?;
    get(store, &grant)
}

/// The profiles of the organizations `requester` belongs to (only the token's one for an API
/// token), with its roles.
pub fn member_profiles(
    store: &Store,
    requester: Requester,
) -> Result<Vec<(Organization, access::Role)>, OrgError> {
    profiles_where(store, requester, |_| true)
}

/// `org`'s profile and `requester`'s role in it, if `requester` is a member (and, for an
/// API token, `org` is the token's).
pub fn member_profile(
    store: &Store,
    requester: Requester,
    org: OrgId,
) -> Result<Option<(Organization, access::Role)>, OrgError> {
    Ok(profiles_where(store, requester, |member_of| member_of == org)?.pop())
}

/// [`member_profiles`] from what was kept since the last commit, without reading the
/// store: `None` when anything would have to be read.
pub fn kept_member_profiles(
    store: &Store,
    requester: Requester,
) -> Option<Vec<(Organization, access::Role)>> {
    access::kept_memberships(store, requester.account)?
        .iter()
        .filter(|(org, _)| requester.token_permits(*org, Permission::Read).is_ok())
        .map(|(org, role)| Some((Organization::clone(&*PROFILES.get(store, org)?), *role)))
        .collect()
}

/// [`member_profile`] from what was kept since the last commit, without reading the store:
/// `None` when anything would have to be read, or `requester` is not a member.
pub fn kept_member_profile(
    store: &Store,
    requester: Requester,
    org: OrgId,
) -> Option<(Organization, access::Role)> {
    let role = access::kept_member_role(store, requester, org, Permission::Read)?;
    Some((Organization::clone(&*PROFILES.get(store, &org)?), role))
}

/// Organization profiles as of a store generation: their names head every page. Reached
/// only for organizations the caller has just found the requester to be a member of.
static PROFILES: LazyLock<GenerationCache<OrgId, Arc<Organization>>> =
    LazyLock::new(|| GenerationCache::new(4096));

/// The memberships `wanted` picks, with their profiles; each profile not kept since the
/// last commit costs a key unwrap and a decryption.
fn profiles_where(
    store: &Store,
    requester: Requester,
    wanted: impl Fn(OrgId) -> bool,
) -> Result<Vec<(Organization, access::Role)>, OrgError> {
    let mut out = Vec::new();
    for (org, role) in access::memberships_of(store, requester.account)?.iter() {
        if !wanted(*org) || requester.token_permits(*org, Permission::Read).is_err() {
            continue;
        }
        if let Some(profile) = member_org_profile(store, requester, *org)? {
            out.push((Organization::clone(&profile), *role));
        }
    }
    Ok(out)
}

/// `org`'s profile for one of its members; `None` if it has none, or the membership ended
/// since the caller listed it.
fn member_org_profile(
    store: &Store,
    requester: Requester,
    org: OrgId,
) -> Result<Option<Arc<Organization>>, OrgError> {
    if let Some(profile) = PROFILES.get(store, &org) {
        return Ok(Some(profile));
    }
    // Read before the snapshot: what is kept under it is at least as new as it says.
    let generation = store.generation();
    let read = store.read()?;
    let system = read.system(&SystemGrant::internal())?;
    let member = Requester {
        appliance_admin: false,
        ..requester
    };
    let grant = match access::authorize(&system, &[], member, org, Permission::Read) {
        Ok((grant, _)) => grant,
        Err(AccessError::NotFound) => return Ok(None),
        Err(err) => return Err(err.into()),
    };
    let Some(bytes) = read.tenant(&grant)?.get(PROFILE, PROFILE_KEY)? else {
        return Ok(None);
    };
    let profile = Arc::new(serde_json::from_slice::<Organization>(&bytes)?);
    PROFILES.put(org, generation, Arc::clone(&profile));
    Ok(Some(profile))
}

/// Whether any organization `account` belongs to requires a second factor.
pub fn any_requires_mfa(store: &Store, account: crate::auth::AccountId) -> Result<bool, OrgError> {
    memberships_require_mfa(store, account, |_| true)
}

/// Whether `org`, of which `account` is a member, requires a second factor; `false` when
/// the account is not a member (it reaches nothing there anyway).
pub fn requires_mfa(
    store: &Store,
    account: crate::auth::AccountId,
    org: OrgId,
) -> Result<bool, OrgError> {
    memberships_require_mfa(store, account, |member_of| member_of == org)
}

/// Whether any of `account`'s memberships that `wanted` picks requires a second factor:
/// from the kept memberships and profiles, so a session load after a commit reads each
/// profile at most once.
fn memberships_require_mfa(
    store: &Store,
    account: crate::auth::AccountId,
    wanted: impl Fn(OrgId) -> bool,
) -> Result<bool, OrgError> {
    let member = Requester {
        account,
        appliance_admin: false,
        token: None,
    };
    for (org, _) in access::memberships_of(store, account)?.iter() {
        if wanted(*org) && member_org_profile(store, member, *org)?.is_some_and(|p| p.require_mfa) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The profile of the organization whose tables `tenant` opens.
pub fn profile_of(tenant: &impl crate::store::TenantGet) -> Result<Option<Organization>, OrgError> {
    Ok(match tenant.get(PROFILE, PROFILE_KEY)? {
        Some(bytes) => Some(serde_json::from_slice(&bytes)?),
        None => None,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cage_and_uei_are_checked_with_reasons() {
        assert_eq!(clean_cage(" 1a2b3 ").unwrap(), "1A2B3");
        assert!(
            clean_cage("1234")
                .unwrap_err()
                .to_string()
                .contains("this has 4")
        );
        assert!(clean_cage("12-45").unwrap_err().to_string().contains("'-'"));
        assert_eq!(clean_uei("abcdefgh2345").unwrap(), "ABCDEFGH2345");
        assert!(
            clean_uei("ABCDEFGH234")
                .unwrap_err()
                .to_string()
                .contains("this has 11")
        );
        assert!(
            clean_uei("ABCDEFGHI234")
                .unwrap_err()
                .to_string()
                .contains("letter I")
        );
        assert!(
            clean_uei("ABCDEFGHO234")
                .unwrap_err()
                .to_string()
                .contains("letter O")
        );
        assert!(clean_uei("ABCDEFGH 234").is_err());
    }

    #[test]
    fn contract_dates_must_parse_and_be_ordered() {
        let contract = |start: &str, end: &str| Contract {
            number: "W56KGU-25-C-0001".into(),
            agency: "Army".into(),
            cui: true,
            start: Some(start.into()),
            end: Some(end.into()),
        };
        assert!(clean_contract(&contract("2025-01-01", "2026-01-01")).is_ok());
        assert!(clean_contract(&contract("2026-01-01", "2025-01-01")).is_err());
        assert!(clean_contract(&contract("2025-13-01", "2026-01-01")).is_err());
    }
}
