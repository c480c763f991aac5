//! Assessments: an organization's determinations against one framework, down to the
//! objective, with the per-requirement details the SSP and the scoring rules need, a history
//! of every decision, the POA&M, gap analysis and drift.
//!
//! Every change is one transaction holding the records, their history, the day's score
//! point and the audit event, so a refused or failed change leaves nothing half-written.

mod gaps;
mod poam;
mod records;
mod summary;

pub mod drift;
pub mod overview;
pub mod parameters;
pub mod upcoming;

use serde::{Deserialize, Serialize};
use time::Date;

use crate::access::{self, AccessError, Grant, Permission, Requester, SystemGrant};
use crate::audit::{self, Actor, AuditError, Event, Outcome};
use crate::auth::Client;
use crate::catalog::{self, CatalogRef, ImportError};
use crate::scoring::ScoreError;
use crate::store::{OrgId, Store, StoreError, TenantGet, TenantTable, WriteTxn};

pub use gaps::{Gap, GapPlan, Gaps, gaps};
pub use poam::{Milestone, PoamEntry, PoamInput, PoamItem, PoamStatus, PoamView, poam, put_poam};
pub(crate) use records::clean_note;
pub use records::{
    Change, Determination, Inheritance, InheritanceKind, ObjectiveList, ObjectiveUpdate,
    ObjectiveView, RequirementDetail, RequirementView, Source, UpdateResult, objectives,
    requirement, update_objectives, update_requirement,
};
pub use summary::Records;
pub use summary::{
    Dashboard, Deadline, FamilyProgress, ScorePoint, StatusCounts, dashboard, kept_dashboard, score,
};

const ASSESSMENTS: TenantTable = TenantTable::new("t.assessments");
const NAME_MAX_CHARS: usize = 200;
/// An organization keeps at most this many assessments, so lists stay one page.
const MAX_ASSESSMENTS: usize = 500;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AssessError {
    /// A field is wrong; the message says how, `field` names it (`updates[3].status`).
    #[error("{message}")]
    Invalid { field: String, message: String },
    #[error("no such assessment")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Score(#[from] ScoreError),
    #[error(transparent)]
    Catalog(#[from] ImportError),
    #[error("assessment record is unreadable: {0}")]
    Decode(#[from] serde_json::Error),
    #[error(transparent)]
    Evidence(#[from] crate::evidence::EvidenceError),
}

pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> AssessError {
    AssessError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// The dates CMMC status runs on, as the organization records them (`YYYY-MM-DD`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatusDates {
    /// Conditional Level 2 status granted; the POA&M closes out within 180 days.
    #[serde(default)]
    pub conditional_status_date: Option<String>,
    /// Final Level 2 status granted; valid 3 years.
    #[serde(default)]
    pub final_status_date: Option<String>,
    /// The last yearly affirmation of Level 2 status.
    #[serde(default)]
    pub affirmed_on: Option<String>,
    /// The last yearly Level 1 self-assessment affirmation.
    #[serde(default)]
    pub level1_affirmed_on: Option<String>,
}

/// One assessment of an organization against one framework.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Assessment {
    pub id: String,
    pub name: String,
    /// A built-in framework id: `nist-800-171r2`, `cmmc-l2`, `cmmc-l1`, `nist-800-171r3`,
    /// `nist-csf-2.0`.
    pub framework: String,
    pub created_at: i64,
    /// Account id of whoever created it.
    pub created_by: String,
    #[serde(default)]
    pub dates: StatusDates,
    /// How many changes have been recorded; numbers the history.
    #[serde(default)]
    pub revision: u64,
}

impl Assessment {
    /// The framework, built in or imported by the organization `tenant` belongs to.
    pub fn catalog(&self, tenant: &impl TenantGet) -> Result<CatalogRef, AssessError> {
        catalog::resolve(tenant, &self.framework)?.ok_or_else(|| {
            AssessError::Conflict(format!(
                "this assessment's framework {:?} is not available on this appliance",
                self.framework
            ))
        })
    }

    /// Whether the SPRS score and CMMC status apply.
    pub fn scored(&self) -> bool {
        catalog::scored(&self.framework)
    }
}

/// What a person gives to create an assessment.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewAssessment {
    pub name: String,
    pub framework: String,
}

/// What a person may change on an assessment.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct AssessmentUpdate {
    pub name: String,
    #[serde(default)]
    pub dates: StatusDates,
}

/// Where a change came from, and who made it.
#[derive(Debug, Clone)]
pub struct Author {
    pub requester: Requester,
    pub client: Client,
    pub source: Source,
}

impl Author {
    fn actor(&self) -> Actor {
        Actor::Account(self.requester.account.to_string())
    }
}

pub(crate) fn parse_date(field: &str, text: &str) -> Result<Date, AssessError> {
    crate::dates::parse(text).map_err(|message| invalid(field, message))
}

fn clean_date(field: &str, text: &Option<String>) -> Result<Option<String>, AssessError> {
    text.as_deref()
        .filter(|t| !t.trim().is_empty())
        .map(|t| parse_date(field, t).map(|d| d.to_string()))
        .transpose()
}

fn clean_dates(dates: &StatusDates) -> Result<StatusDates, AssessError> {
    Ok(StatusDates {
        conditional_status_date: clean_date(
            "dates.conditional_status_date",
            &dates.conditional_status_date,
        )?,
        final_status_date: clean_date("dates.final_status_date", &dates.final_status_date)?,
        affirmed_on: clean_date("dates.affirmed_on", &dates.affirmed_on)?,
        level1_affirmed_on: clean_date("dates.level1_affirmed_on", &dates.level1_affirmed_on)?,
    })
}

/// Checks free text: at most `max` characters, no control characters but line breaks and tabs.
pub(crate) fn clean_text(field: &str, text: &str, max: usize) -> Result<String, AssessError> {
    let count = text.chars().count();
    if count > max {
        return Err(invalid(
            field,
            format!("at most {max} characters; this has {count}"),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(invalid(field, "control characters are not allowed"));
    }
    Ok(text.trim().to_owned())
}

fn clean_name(name: &str) -> Result<String, AssessError> {
    // A name is one line: free text's line breaks and tabs are control characters here.
    if name.chars().any(char::is_control) {
        return Err(invalid(
            "name",
            "a name cannot contain control characters such as line breaks",
        ));
    }
    let name = clean_text("name", name, NAME_MAX_CHARS)?;
    if name.is_empty() {
        return Err(invalid(
            "name",
            format!("a name has 1 to {NAME_MAX_CHARS} characters"),
        ));
    }
    Ok(name)
}

pub(crate) fn parse_id(text: &str) -> Result<uuid::Uuid, AssessError> {
    uuid::Uuid::parse_str(text).map_err(|_| AssessError::NotFound)
}

/// Read access to `org`; the appliance administrator's read is audited.
pub(crate) use crate::audit::read_grant;

/// The row key of `id` (an objective, requirement or date) within an assessment: rows of
/// one assessment sort together, so a prefix scan reads them all.
pub(crate) fn row_key(assessment: uuid::Uuid, id: &str) -> Vec<u8> {
    let mut key = assessment.as_bytes().to_vec();
    key.extend_from_slice(id.as_bytes());
    key
}

/// Every row of `table` for one assessment, by the id after the assessment's prefix.
pub(crate) fn rows_by_id<T: serde::de::DeserializeOwned>(
    tenant: &impl TenantGet,
    table: TenantTable,
    assessment: uuid::Uuid,
) -> Result<std::collections::BTreeMap<String, T>, AssessError> {
    let prefix = assessment.as_bytes();
    tenant
        .list_prefix(table, prefix)?
        .into_iter()
        .map(|(key, bytes)| {
            let id = String::from_utf8_lossy(key.get(prefix.len()..).unwrap_or_default());
            Ok((id.into_owned(), serde_json::from_slice(&bytes)?))
        })
        .collect()
}

/// The requirement `id` of `catalog`, refused when unknown or withdrawn.
pub(crate) fn current_requirement<'c>(
    catalog: &'c catalog::Catalog,
    id: &str,
) -> Result<&'c catalog::Requirement, AssessError> {
    catalog
        .requirement(id)
        .filter(|r| !r.withdrawn)
        .ok_or_else(|| unknown_requirement(catalog, id))
}

pub(crate) fn unknown_requirement(catalog: &catalog::Catalog, id: &str) -> AssessError {
    invalid(
        "requirement_id",
        format!("{id:?} is not a requirement of {}", catalog.title),
    )
}

/// Account ids of the organization's members: who may be named responsible.
pub(crate) fn member_ids(
    txn: &WriteTxn<'_>,
    org: OrgId,
) -> Result<std::collections::BTreeSet<String>, AssessError> {
    Ok(access::member_ids(
        &txn.system(&SystemGrant::internal())?,
        org,
    )?)
}

/// Write access to `org` inside `txn`.
pub(crate) fn write_grant(
    store: &Store,
    txn: &WriteTxn<'_>,
    requester: Requester,
    org: OrgId,
) -> Result<Grant, AssessError> {
    let known = store.organizations()?;
    let system = txn.system(&SystemGrant::internal())?;
    Ok(access::authorize(&system, &known, requester, org, Permission::Write)?.0)
}

pub(crate) fn load(tenant: &impl TenantGet, id: uuid::Uuid) -> Result<Assessment, AssessError> {
    match tenant.get(ASSESSMENTS, id.as_bytes())? {
        Some(bytes) => Ok(serde_json::from_slice(&bytes)?),
        None => Err(AssessError::NotFound),
    }
}

fn audit_change(
    txn: &WriteTxn<'_>,
    author: &Author,
    action: &str,
    org: OrgId,
    target: impl ToString,
    now: i64,
) -> Result<(), AssessError> {
    let event = author
        .client
        .stamp(Event::new(author.actor(), action, Outcome::Success).org(org))
        .target(target);
    audit::append(txn, event, now)?;
    Ok(())
}

/// Creates an assessment (members and up); audited as `assessment.create`.
pub fn create(
    store: &Store,
    author: &Author,
    org: OrgId,
    new: &NewAssessment,
    now: i64,
) -> Result<Assessment, AssessError> {
    let name = clean_name(&new.name)?;
    let framework = new.framework.trim();
    let txn = store.write()?;
    let grant = write_grant(store, &txn, author.requester, org)?;
    let tenant = txn.tenant(&grant)?;
    if catalog::resolve(&tenant, framework)?.is_none() {
        let known: Vec<&str> = catalog::builtins().map(|c| c.id.as_str()).collect();
        return Err(invalid(
            "framework",
            format!(
                "{framework:?} is not a framework; use one of {} or an imported catalog's id",
                known.join(", ")
            ),
        ));
    }
    if tenant.list(ASSESSMENTS)?.len() >= MAX_ASSESSMENTS {
        return Err(AssessError::Conflict(format!(
            "an organization keeps at most {MAX_ASSESSMENTS} assessments"
        )));
    }
    let id = uuid::Uuid::new_v4();
    let assessment = Assessment {
        id: id.to_string(),
        name,
        framework: framework.to_owned(),
        created_at: now,
        created_by: author.requester.account.to_string(),
        dates: StatusDates::default(),
        revision: 0,
    };
    tenant.put(
        ASSESSMENTS,
        id.as_bytes(),
        &serde_json::to_vec(&assessment)?,
    )?;
    drop(tenant);
    audit_change(&txn, author, "assessment.create", org, id, now)?;
    txn.commit()?;
    Ok(assessment)
}

/// Renames an assessment and records its status dates; audited as `assessment.update`.
pub fn update(
    store: &Store,
    author: &Author,
    org: OrgId,
    id: &str,
    change: &AssessmentUpdate,
    now: i64,
) -> Result<Assessment, AssessError> {
    let id = parse_id(id)?;
    let name = clean_name(&change.name)?;
    let dates = clean_dates(&change.dates)?;
    let txn = store.write()?;
    let grant = write_grant(store, &txn, author.requester, org)?;
    let tenant = txn.tenant(&grant)?;
    let current = load(&tenant, id)?;
    let updated = Assessment {
        name,
        dates,
        ..current
    };
    tenant.put(ASSESSMENTS, id.as_bytes(), &serde_json::to_vec(&updated)?)?;
    drop(tenant);
    audit_change(&txn, author, "assessment.update", org, id, now)?;
    txn.commit()?;
    Ok(updated)
}

/// The organization's assessments, newest first.
pub fn list(
    store: &Store,
    requester: Requester,
    org: OrgId,
    client: &Client,
    now: i64,
) -> Result<Vec<Assessment>, AssessError> {
    let grant = read_grant(store, requester, org, client, now)?;
    let read = store.read()?;
    all(&read.tenant(&grant)?)
}

/// Every assessment of one organization, newest first.
pub(crate) fn all(tenant: &impl TenantGet) -> Result<Vec<Assessment>, AssessError> {
    let mut out = tenant
        .list_prefix(ASSESSMENTS, &[])?
        .into_iter()
        .map(|(_, bytes)| serde_json::from_slice(&bytes))
        .collect::<Result<Vec<Assessment>, _>>()?;
    out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.name.cmp(&b.name)));
    Ok(out)
}

/// How many of the organization's assessments run against `framework`.
pub(crate) fn using_framework(
    tenant: &impl TenantGet,
    framework: &str,
) -> Result<usize, AssessError> {
    Ok(all(tenant)?
        .iter()
        .filter(|a| a.framework == framework)
        .count())
}

/// One assessment.
pub fn get(
    store: &Store,
    requester: Requester,
    org: OrgId,
    id: &str,
    client: &Client,
    now: i64,
) -> Result<Assessment, AssessError> {
    let id = parse_id(id)?;
    let grant = read_grant(store, requester, org, client, now)?;
    let read = store.read()?;
    load(&read.tenant(&grant)?, id)
}
