//! The plan of action and milestones: one item per unmet requirement.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::records::requirement_status;
use super::summary::{Deadline, Records, deadlines, today};
use super::{
    AssessError, Assessment, Author, audit_change, clean_text, invalid, parse_date, parse_id,
    read_grant, write_grant,
};
use crate::access::Requester;
use crate::auth::Client;
use crate::scoring::Status;
use crate::store::{OrgId, Store, TenantGet, TenantTable};

/// Assessment id || requirement id -> [`PoamItem`].
const POAM: TenantTable = TenantTable::new("t.poam");
const TEXT_MAX_CHARS: usize = 20_000;
const TITLE_MAX_CHARS: usize = 500;
const MAX_MILESTONES: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PoamStatus {
    Open,
    /// Remediated; `closing_evidence` says how it was shown.
    Closed,
}

impl PoamStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PoamStatus::Open => "open",
            PoamStatus::Closed => "closed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Milestone {
    pub title: String,
    /// `YYYY-MM-DD`.
    pub due: String,
    /// `YYYY-MM-DD` once done.
    #[serde(default)]
    pub done_on: Option<String>,
}

/// One POA&M item as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PoamItem {
    pub requirement: String,
    pub weakness: String,
    pub remediation: String,
    pub milestones: Vec<Milestone>,
    /// Account ids.
    pub responsible: Vec<String>,
    pub resources: String,
    pub status: PoamStatus,
    pub closing_evidence: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What a person gives for a POA&M item.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct PoamInput {
    pub weakness: String,
    pub remediation: String,
    #[serde(default)]
    pub milestones: Vec<Milestone>,
    #[serde(default)]
    pub responsible: Vec<String>,
    #[serde(default)]
    pub resources: String,
    pub status: PoamStatus,
    #[serde(default)]
    pub closing_evidence: String,
}

/// A requirement on the POA&M: its status, eligibility and item.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PoamEntry {
    pub requirement: String,
    pub label: String,
    pub title: String,
    #[schema(value_type = String)]
    pub status: Status,
    /// The points it costs while not met (scored frameworks).
    pub points: Option<i64>,
    /// Whether Level 2 lets it be on a POA&M (scored frameworks), and why.
    pub eligible: Option<bool>,
    pub why: Option<String>,
    pub item: Option<PoamItem>,
    /// The earliest milestone not yet done.
    pub next_due: Option<String>,
    pub overdue: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PoamView {
    pub assessment: Assessment,
    pub deadlines: Vec<Deadline>,
    pub entries: Vec<PoamEntry>,
}

pub(crate) fn items_of(
    tenant: &impl TenantGet,
    id: uuid::Uuid,
) -> Result<Vec<PoamItem>, AssessError> {
    Ok(super::rows_by_id(tenant, POAM, id)?.into_values().collect())
}

pub(crate) fn item(
    tenant: &impl TenantGet,
    id: uuid::Uuid,
    requirement: &str,
) -> Result<Option<PoamItem>, AssessError> {
    Ok(match tenant.get(POAM, &super::row_key(id, requirement))? {
        Some(bytes) => Some(serde_json::from_slice(&bytes)?),
        None => None,
    })
}

/// The earliest milestone not yet done, and whether it is past due.
pub(crate) fn next_due(item: &PoamItem, today: time::Date) -> Option<(String, bool)> {
    if item.status == PoamStatus::Closed {
        return None;
    }
    item.milestones
        .iter()
        .filter(|m| m.done_on.is_none())
        .filter_map(|m| parse_date("due", &m.due).ok())
        .min()
        .map(|due| (due.to_string(), due < today))
}

fn clean(input: &PoamInput, members: &BTreeSet<String>) -> Result<PoamInput, AssessError> {
    let weakness = clean_text("weakness", &input.weakness, TEXT_MAX_CHARS)?;
    if weakness.is_empty() {
        return Err(invalid("weakness", "describe the weakness"));
    }
    if input.milestones.len() > MAX_MILESTONES {
        return Err(invalid(
            "milestones",
            format!("at most {MAX_MILESTONES} milestones"),
        ));
    }
    let mut milestones = Vec::new();
    for (n, m) in input.milestones.iter().enumerate() {
        let title = clean_text(&format!("milestones[{n}].title"), &m.title, TITLE_MAX_CHARS)?;
        if title.is_empty() {
            return Err(invalid(
                format!("milestones[{n}].title"),
                "a milestone needs a title",
            ));
        }
        milestones.push(Milestone {
            title,
            due: parse_date(&format!("milestones[{n}].due"), &m.due)?.to_string(),
            done_on: m
                .done_on
                .as_deref()
                .filter(|d| !d.trim().is_empty())
                .map(|d| parse_date(&format!("milestones[{n}].done_on"), d).map(|d| d.to_string()))
                .transpose()?,
        });
    }
    for (n, person) in input.responsible.iter().enumerate() {
        if !members.contains(person.trim()) {
            return Err(invalid(
                format!("responsible[{n}]"),
                format!("{:?} is not a member of this organization", person.trim()),
            ));
        }
    }
    let closing_evidence = clean_text("closing_evidence", &input.closing_evidence, TEXT_MAX_CHARS)?;
    if input.status == PoamStatus::Closed && closing_evidence.is_empty() {
        return Err(invalid(
            "closing_evidence",
            "say what shows the weakness is corrected before closing the item",
        ));
    }
    Ok(PoamInput {
        weakness,
        remediation: clean_text("remediation", &input.remediation, TEXT_MAX_CHARS)?,
        milestones,
        responsible: input
            .responsible
            .iter()
            .map(|p| p.trim().to_owned())
            .collect(),
        resources: clean_text("resources", &input.resources, TEXT_MAX_CHARS)?,
        status: input.status,
        closing_evidence,
    })
}

/// Creates or replaces the POA&M item of one requirement (members and up); audited as
/// `poam.update`. The score's plan-of-action list follows at once.
pub fn put_poam(
    store: &Store,
    author: &Author,
    org: OrgId,
    id: &str,
    requirement: &str,
    input: &PoamInput,
    now: i64,
) -> Result<PoamItem, AssessError> {
    let id = parse_id(id)?;
    let txn = store.write()?;
    let grant = write_grant(store, &txn, author.requester, org)?;
    let members = super::member_ids(&txn, org)?;
    let tenant = txn.tenant(&grant)?;
    let mut records = Records::read(&tenant, id)?;
    super::current_requirement(&records.catalog, requirement)?;
    let input = clean(input, &members)?;
    let created_at = records
        .poam
        .iter()
        .find(|old| old.requirement == requirement)
        .map_or(now, |old| old.created_at);
    let saved = PoamItem {
        requirement: requirement.to_owned(),
        weakness: input.weakness,
        remediation: input.remediation,
        milestones: input.milestones,
        responsible: input.responsible,
        resources: input.resources,
        status: input.status,
        closing_evidence: input.closing_evidence,
        created_at,
        updated_at: now,
    };
    tenant.put(
        POAM,
        &super::row_key(id, requirement),
        &serde_json::to_vec(&saved)?,
    )?;
    // The score's plan-of-action list follows the item just written.
    records.poam.retain(|old| old.requirement != requirement);
    records.poam.push(saved.clone());
    super::summary::write_point(&tenant, &records, id, now)?;
    drop(tenant);
    audit_change(
        &txn,
        author,
        "poam.update",
        org,
        format!("{id}/{requirement}"),
        now,
    )?;
    txn.commit()?;
    Ok(saved)
}

/// The POA&M: every unmet requirement, and every requirement with an item, with eligibility.
pub fn poam(
    store: &Store,
    requester: Requester,
    org: OrgId,
    id: &str,
    client: &Client,
    now: i64,
) -> Result<PoamView, AssessError> {
    let id = parse_id(id)?;
    let grant = read_grant(store, requester, org, client, now)?;
    let read = store.read()?;
    let records = Records::read(&read.tenant(&grant)?, id)?;
    let today = today(now);
    let catalog = &records.catalog;
    let input = records.input();
    let scored = records.assessment.scored();
    let mut entries = Vec::new();
    for requirement in catalog.current_requirements() {
        let status = requirement_status(requirement, &records.decided);
        let item = records
            .poam
            .iter()
            .find(|i| i.requirement == requirement.id)
            .cloned();
        if item.is_none() && !matches!(status, Status::NotMet | Status::NotAssessed) {
            continue;
        }
        let super::summary::Standing {
            points,
            eligible,
            why,
        } = super::summary::standing(scored, &requirement.id, &input)?;
        let due = item.as_ref().and_then(|i| next_due(i, today));
        entries.push(PoamEntry {
            requirement: requirement.id.clone(),
            label: requirement.label.clone(),
            title: requirement.title.clone(),
            status,
            points,
            eligible,
            why,
            next_due: due.as_ref().map(|(d, _)| d.clone()),
            overdue: due.is_some_and(|(_, overdue)| overdue),
            item,
        });
    }
    Ok(PoamView {
        deadlines: deadlines(&records.assessment, today),
        assessment: records.assessment,
        entries,
    })
}
