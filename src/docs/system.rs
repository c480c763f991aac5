//! The system description an owner fills in for the SSP: what the system is, where its
//! boundary runs, what it connects to and who holds its roles. One record per organization.

use serde::{Deserialize, Serialize};

use super::{DocsError, invalid};
use crate::access::{self, Permission, Requester, SystemGrant};
use crate::audit::{self, Actor, Event, Outcome};
use crate::auth::Client;
use crate::store::{OrgId, Store, TenantGet, TenantTable};

const SYSTEM: TenantTable = TenantTable::new("t.system_description");
const SYSTEM_KEY: &[u8] = b"system";
const LINE_MAX_CHARS: usize = 200;
const TEXT_MAX_CHARS: usize = 20_000;
const MAX_ROLES: usize = 50;

/// Sections 1 and 2 of NIST's SP 800-171 SSP template, as the organization states them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SystemDescription {
    /// The system's name or title; the organization's name when empty.
    #[serde(default)]
    pub system_name: String,
    /// The organization's own identifier for the system.
    #[serde(default)]
    pub system_id: String,
    /// General description and purpose.
    #[serde(default)]
    pub description: String,
    /// The authorization boundary: what is in scope, and what is not.
    #[serde(default)]
    pub boundary: String,
    /// The operating environment: locations, hardware, software, users.
    #[serde(default)]
    pub environment: String,
    /// Connections to other systems and what crosses them.
    #[serde(default)]
    pub interconnections: String,
    /// Who holds the system's roles: owner, security officer, administrators.
    #[serde(default)]
    pub roles: Vec<SystemRole>,
    /// Unix seconds of the last change; 0 until an owner saves it.
    #[serde(default)]
    pub updated_at: i64,
    /// Account id of whoever saved it last.
    #[serde(default)]
    pub updated_by: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SystemRole {
    /// `System owner`, `Information system security officer`, …
    pub title: String,
    pub name: String,
    /// Mail address or telephone number.
    #[serde(default)]
    pub contact: String,
}

/// What an owner sends; every field replaces the stored one.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct SystemUpdate {
    #[serde(default)]
    pub system_name: String,
    #[serde(default)]
    pub system_id: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub boundary: String,
    #[serde(default)]
    pub environment: String,
    #[serde(default)]
    pub interconnections: String,
    #[serde(default)]
    pub roles: Vec<SystemRole>,
}

impl SystemDescription {
    /// Whether the parts an assessor reads first are filled in.
    pub fn is_complete(&self) -> bool {
        [&self.description, &self.boundary, &self.environment]
            .iter()
            .all(|text| !text.is_empty())
    }
}

/// The stored description, or an empty one.
pub(crate) fn of(tenant: &impl TenantGet) -> Result<SystemDescription, DocsError> {
    Ok(match tenant.get(SYSTEM, SYSTEM_KEY)? {
        Some(bytes) => serde_json::from_slice(&bytes)?,
        None => SystemDescription::default(),
    })
}

/// The organization's system description, for its members.
pub fn get(
    store: &Store,
    requester: Requester,
    org: OrgId,
    client: &Client,
    now: i64,
) -> Result<SystemDescription, DocsError> {
    let grant = audit::read_grant(store, requester, org, client, now)?;
    let read = store.read()?;
    of(&read.tenant(&grant)?)
}

/// Replaces the system description (the organization's owners);
/// audited as `system.update`.
pub fn update(
    store: &Store,
    requester: Requester,
    org: OrgId,
    update: &SystemUpdate,
    client: &Client,
    now: i64,
) -> Result<SystemDescription, DocsError> {
    let cleaned = clean(update)?;
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
    let stored = SystemDescription {
        updated_at: now,
        updated_by: requester.account.to_string(),
        ..cleaned
    };
    tenant.put(SYSTEM, SYSTEM_KEY, &serde_json::to_vec(&stored)?)?;
    let event = client.stamp(
        Event::new(
            Actor::Account(requester.account.to_string()),
            "system.update",
            Outcome::Success,
        )
        .org(org)
        .target(org),
    );
    audit::append(&txn, event, now)?;
    drop(tenant);
    txn.commit()?;
    Ok(stored)
}

fn clean(update: &SystemUpdate) -> Result<SystemDescription, DocsError> {
    if update.roles.len() > MAX_ROLES {
        return Err(invalid("roles", format!("at most {MAX_ROLES} roles")));
    }
    let roles = update
        .roles
        .iter()
        .enumerate()
        .map(|(n, role)| {
            let role = SystemRole {
                title: line(&format!("roles[{n}].title"), &role.title)?,
                name: line(&format!("roles[{n}].name"), &role.name)?,
                contact: line(&format!("roles[{n}].contact"), &role.contact)?,
            };
            if role.title.is_empty() || role.name.is_empty() {
                return Err(invalid(
                    format!("roles[{n}]"),
                    "a role needs a title and the name of who holds it",
                ));
            }
            Ok(role)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SystemDescription {
        system_name: line("system_name", &update.system_name)?,
        system_id: line("system_id", &update.system_id)?,
        description: text("description", &update.description)?,
        boundary: text("boundary", &update.boundary)?,
        environment: text("environment", &update.environment)?,
        interconnections: text("interconnections", &update.interconnections)?,
        roles,
        updated_at: 0,
        updated_by: String::new(),
    })
}

fn line(field: &str, value: &str) -> Result<String, DocsError> {
    let value = text_within(field, value, LINE_MAX_CHARS)?;
    if value.contains(['\n', '\r']) {
        return Err(invalid(field, "one line only"));
    }
    Ok(value)
}

fn text(field: &str, value: &str) -> Result<String, DocsError> {
    text_within(field, value, TEXT_MAX_CHARS)
}

fn text_within(field: &str, value: &str, max: usize) -> Result<String, DocsError> {
    let count = value.chars().count();
    if count > max {
        return Err(invalid(
            field,
            format!("at most {max} characters; this has {count}"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(invalid(field, "control characters are not allowed"));
    }
    Ok(value.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update() -> SystemUpdate {
        SystemUpdate {
            system_name: " Enclave ".into(),
            system_id: "ENC-1".into(),
            description: "CUI enclave".into(),
            boundary: String::new(),
            environment: String::new(),
            interconnections: String::new(),
            roles: vec![SystemRole {
                title: "System owner".into(),
                name: "Ada".into(),
                contact: String::new(),
            }],
        }
    }

    #[test]
    fn clean_trims_and_names_the_bad_field() {
        assert_eq!(clean(&update()).unwrap().system_name, "Enclave");
        let mut bad = update();
        bad.system_name = "two\nlines".into();
        assert!(
            matches!(clean(&bad), Err(DocsError::Invalid { field, .. }) if field == "system_name")
        );
        let mut bad = update();
        bad.roles[0].name = String::new();
        assert!(
            matches!(clean(&bad), Err(DocsError::Invalid { field, .. }) if field == "roles[0]")
        );
        let mut bad = update();
        bad.boundary = "x".repeat(TEXT_MAX_CHARS + 1);
        assert!(
            matches!(clean(&bad), Err(DocsError::Invalid { field, .. }) if field == "boundary")
        );
        let mut bad = update();
        bad.environment = "bell\u{7}".into();
        assert!(
            matches!(clean(&bad), Err(DocsError::Invalid { field, .. }) if field == "environment")
        );
    }
}
