//! Everything a document says, read from one snapshot of the store, so an SSP never mixes
//! a score from before a change with statuses from after it.

use std::collections::BTreeMap;

use super::DocsError;
use super::system::{self, SystemDescription};
use crate::access::{Requester, SystemGrant};
use crate::assess::{Gaps, Records};
use crate::audit;
use crate::auth::{Client, account};
use crate::evidence::{self, Evidence};
use crate::org::{self, Organization};
use crate::scoring::Outcome;
use crate::store::{OrgId, Store};

/// A member, as documents name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub name: String,
    pub email: String,
}

pub struct Snapshot {
    pub org: Organization,
    pub system: SystemDescription,
    pub records: Records,
    /// For scored frameworks.
    pub outcome: Option<Outcome>,
    pub gaps: Gaps,
    /// Files outside the bin, oldest first.
    pub evidence: Vec<Evidence>,
    /// Account id -> member.
    pub people: BTreeMap<String, Person>,
    /// Unix seconds.
    pub taken_at: i64,
}

impl Snapshot {
    /// Reads assessment `assessment` of `org` for `requester` (any member; the appliance
    /// administrator's read is audited).
    pub fn read(
        store: &Store,
        requester: Requester,
        org: OrgId,
        assessment: &str,
        client: &Client,
        now: i64,
    ) -> Result<Snapshot, DocsError> {
        let grant = audit::read_grant(store, requester, org, client, now)?;
        let read = store.read()?;
        let tenant = read.tenant(&grant)?;
        let records = Records::of(&tenant, assessment)?;
        let outcome = records.outcome()?;
        let gaps = records.gaps(outcome.as_ref())?;
        let org_profile = org::profile_of(&tenant)?.ok_or(DocsError::NotFound)?;
        let system = system::of(&tenant)?;
        let evidence = evidence::current_of(&tenant, now)?;
        let directory = read.system(&SystemGrant::internal())?;
        let mut people = BTreeMap::new();
        for (id, _) in crate::access::members_of(&directory, org)? {
            if let Some(holder) = account::get(&directory, id)? {
                people.insert(
                    id.to_string(),
                    Person {
                        name: holder.display_name,
                        email: holder.email,
                    },
                );
            }
        }
        Ok(Snapshot {
            org: org_profile,
            system,
            records,
            outcome,
            gaps,
            evidence,
            people,
            taken_at: now,
        })
    }

    /// The system's name: as described, or the organization's.
    pub fn system_name(&self) -> &str {
        if self.system.system_name.is_empty() {
            &self.org.name
        } else {
            &self.system.system_name
        }
    }

    /// "Name <mail>" for an account id; the id itself for someone no longer a member.
    pub fn person(&self, account: &str) -> String {
        match self.people.get(account) {
            Some(p) if p.name.is_empty() => p.email.clone(),
            Some(p) => format!("{} <{}>", p.name, p.email),
            None => account.to_owned(),
        }
    }

    /// The files linked to a requirement or any of its objectives.
    pub fn evidence_for<'s>(
        &'s self,
        requirement: &'s crate::catalog::Requirement,
    ) -> impl Iterator<Item = &'s Evidence> {
        self.evidence.iter().filter(move |e| {
            e.meta.requirements.contains(&requirement.id)
                || e.meta
                    .objectives
                    .iter()
                    .any(|o| requirement.objectives.iter().any(|x| x.id == *o))
        })
    }
}
