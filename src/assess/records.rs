//! Objective determinations, requirement details and the history of both.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{
    AssessError, Assessment, Author, PoamItem, audit_change, clean_text, invalid, load, parse_date,
    parse_id, read_grant, summary, write_grant,
};
use crate::access::Requester;
use crate::auth::Client;
use crate::catalog::{Catalog, CatalogRef, Requirement};
use crate::scoring::Status;
use crate::store::{OrgId, Store, Tenant, TenantGet, TenantTable};

/// Assessment id || objective id -> [`Determination`].
const DETERMINATIONS: TenantTable = TenantTable::new("t.determinations");
/// Assessment id || requirement id -> [`RequirementDetail`].
const DETAILS: TenantTable = TenantTable::new("t.requirement_details");
/// Assessment id || requirement id || 0 || revision (big-endian) -> [`Change`].
const HISTORY: TenantTable = TenantTable::new("t.assessment_history");

const NOTE_MAX_CHARS: usize = 10_000;
const STATEMENT_MAX_CHARS: usize = 50_000;
const SHORT_MAX_CHARS: usize = 500;
const MAX_RESPONSIBLE: usize = 20;
/// One bulk change covers at most this many objectives (Rev 3 has 422).
const MAX_UPDATES: usize = 1_000;

/// Where a decision was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A signed-in person on a page (a session).
    Page,
    /// A script with an API token.
    Api,
    /// A file imported into the assessment.
    Import,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Page => "page",
            Source::Api => "api",
            Source::Import => "import",
        }
    }
}

/// The decision on one objective.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Determination {
    #[schema(value_type = String)]
    pub status: Status,
    #[serde(default)]
    pub note: String,
    /// Account id of whoever decided.
    pub by: String,
    /// Unix seconds.
    pub at: i64,
    pub source: Source,
}

/// One objective's new status, as a page or script sends it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ObjectiveUpdate {
    /// An objective id of the assessment's framework, such as `3.1.1[a]`.
    pub objective: String,
    /// `met`, `not_met`, `not_applicable` or `not_assessed`.
    pub status: String,
    /// Replaces the note when given; the note is kept when absent.
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InheritanceKind {
    /// The provider meets the requirement entirely.
    Full,
    /// Shared: the provider meets part, the organization the rest.
    Partial,
}

/// A requirement met, fully or in part, by someone else (a cloud or managed service).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Inheritance {
    pub kind: InheritanceKind,
    pub provider: String,
    /// What the organization itself still does.
    #[serde(default)]
    pub customer_share: String,
}

/// What the SSP and the scoring rules need to know about one requirement.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RequirementDetail {
    /// What the SSP will say about how the requirement is met.
    #[serde(default)]
    pub implementation: String,
    /// Account ids of the members responsible.
    #[serde(default)]
    pub responsible: Vec<String>,
    #[serde(default)]
    pub inheritance: Option<Inheritance>,
    /// `YYYY-MM-DD`: when this requirement is next reviewed.
    #[serde(default)]
    pub review_date: Option<String>,
    /// 3.5.3 only: MFA covers remote and privileged users but not every general user.
    #[serde(default)]
    pub mfa_partial: bool,
    /// 3.13.11 only: CUI is encrypted, but not with FIPS-validated cryptography.
    #[serde(default)]
    pub encryption_partial: bool,
    /// SSP reference of an alternative measure adjudicated equally effective.
    #[serde(default)]
    pub equally_effective: Option<String>,
    /// SSP reference of an enduring exception.
    #[serde(default)]
    pub enduring_exception: Option<String>,
    /// SSP reference of a temporary deficiency under the operational plan of action.
    #[serde(default)]
    pub temporary_deficiency: Option<String>,
    /// When the requirement went from met to not met; cleared when it is met again. Kept
    /// by Rampart: ignored when sent.
    #[serde(default)]
    pub regressed_at: Option<i64>,
}

/// One recorded decision: an objective's status and note, or a requirement's details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Change {
    pub revision: u64,
    pub at: i64,
    /// Account id.
    pub actor: String,
    pub source: Source,
    /// The objective id, or `details`.
    pub subject: String,
    #[schema(value_type = Object)]
    pub before: serde_json::Value,
    #[schema(value_type = Object)]
    pub after: serde_json::Value,
}

/// A requirement with everything recorded about it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RequirementView {
    pub id: String,
    pub label: String,
    pub title: String,
    pub family: String,
    pub statement: String,
    pub discussion: String,
    #[schema(value_type = String)]
    pub status: Status,
    pub objectives: Vec<ObjectiveView>,
    pub detail: RequirementDetail,
    /// Newest first.
    pub history: Vec<Change>,
    pub poam: Option<PoamItem>,
    /// Its organization-defined parameters with the organization's values.
    pub parameters: Vec<super::parameters::ParameterView>,
    /// The requirements before and after it in the catalog, for stepping through.
    pub previous: Option<String>,
    pub next: Option<String>,
}

/// One objective with its text and decision.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ObjectiveView {
    pub id: String,
    pub requirement: String,
    pub text: String,
    #[schema(value_type = String)]
    pub status: Status,
    pub note: String,
    pub by: Option<String>,
    pub at: Option<i64>,
    pub source: Option<Source>,
}

fn history_prefix(assessment: uuid::Uuid, requirement: &str) -> Vec<u8> {
    let mut key = super::row_key(assessment, requirement);
    key.push(0);
    key
}

/// Every determination of an assessment, by objective id.
pub(crate) fn determinations_of(
    tenant: &impl TenantGet,
    assessment: uuid::Uuid,
) -> Result<BTreeMap<String, Determination>, AssessError> {
    super::rows_by_id(tenant, DETERMINATIONS, assessment)
}

/// Every requirement detail of an assessment, by requirement id.
pub(crate) fn details_of(
    tenant: &impl TenantGet,
    assessment: uuid::Uuid,
) -> Result<BTreeMap<String, RequirementDetail>, AssessError> {
    super::rows_by_id(tenant, DETAILS, assessment)
}

/// Section 1 of SCORING.md for any framework: a requirement's status from its objectives.
pub(crate) fn requirement_status(
    requirement: &Requirement,
    statuses: &BTreeMap<String, Determination>,
) -> Status {
    let of = |id: &str| {
        statuses
            .get(id)
            .map(|d| d.status)
            .unwrap_or(Status::NotAssessed)
    };
    let all: Vec<Status> = requirement.objectives.iter().map(|o| of(&o.id)).collect();
    if all.contains(&Status::NotMet) {
        Status::NotMet
    } else if all.is_empty() || all.contains(&Status::NotAssessed) {
        Status::NotAssessed
    } else if all.iter().all(|s| *s == Status::NotApplicable) {
        Status::NotApplicable
    } else {
        Status::Met
    }
}

fn parse_status(field: &str, text: &str) -> Result<Status, AssessError> {
    match text.trim() {
        "met" => Ok(Status::Met),
        "not_met" => Ok(Status::NotMet),
        "not_applicable" => Ok(Status::NotApplicable),
        "not_assessed" => Ok(Status::NotAssessed),
        other => Err(invalid(
            field,
            format!("{other:?} is not a status (use met, not_met, not_applicable or not_assessed)"),
        )),
    }
}

fn append_history(
    tenant: &Tenant<'_>,
    assessment: &mut Assessment,
    id: uuid::Uuid,
    requirement: &str,
    change: Change,
) -> Result<(), AssessError> {
    let mut key = history_prefix(id, requirement);
    key.extend_from_slice(&change.revision.to_be_bytes());
    tenant.put(HISTORY, &key, &serde_json::to_vec(&change)?)?;
    assessment.revision = change.revision;
    Ok(())
}

fn next_revision(assessment: &Assessment) -> u64 {
    assessment.revision + 1
}

/// An assessment's objectives and who is responsible for each requirement.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ObjectiveList {
    pub assessment: Assessment,
    /// Catalog order.
    pub objectives: Vec<ObjectiveView>,
    /// Requirement id -> account ids of the people responsible (only requirements with any).
    pub responsible: BTreeMap<String, Vec<String>>,
    /// The framework, for pages that group the objectives.
    #[serde(skip)]
    pub catalog: Option<CatalogRef>,
}

/// Every objective of the assessment's framework in catalog order, with its decision.
pub fn objectives(
    store: &Store,
    requester: Requester,
    org: OrgId,
    id: &str,
    client: &Client,
    now: i64,
) -> Result<ObjectiveList, AssessError> {
    let id = parse_id(id)?;
    let grant = read_grant(store, requester, org, client, now)?;
    let read = store.read()?;
    let tenant = read.tenant(&grant)?;
    let assessment = load(&tenant, id)?;
    let catalog = assessment.catalog(&tenant)?;
    let decided = determinations_of(&tenant, id)?;
    let views = catalog
        .current_requirements()
        .flat_map(|req| req.objectives.iter().map(move |o| (req, o)))
        .map(|(req, objective)| objective_view(req, objective, decided.get(&objective.id)))
        .collect();
    let responsible = details_of(&tenant, id)?
        .into_iter()
        .filter(|(_, d)| !d.responsible.is_empty())
        .map(|(req, d)| (req, d.responsible))
        .collect();
    Ok(ObjectiveList {
        assessment,
        objectives: views,
        responsible,
        catalog: Some(catalog),
    })
}

fn objective_view(
    requirement: &Requirement,
    objective: &crate::catalog::Objective,
    decided: Option<&Determination>,
) -> ObjectiveView {
    ObjectiveView {
        id: objective.id.clone(),
        requirement: requirement.id.clone(),
        text: objective.text.clone(),
        status: decided.map(|d| d.status).unwrap_or(Status::NotAssessed),
        note: decided.map(|d| d.note.clone()).unwrap_or_default(),
        by: decided.map(|d| d.by.clone()),
        at: decided.map(|d| d.at),
        source: decided.map(|d| d.source),
    }
}

/// Checks a bulk change against the catalog before anything is written: every objective
/// known and named once, every status known, every note within bounds.
/// A checked objective change: its requirement, objective id, status, and new note if any.
type Checked<'c> = (&'c Requirement, String, Status, Option<String>);

fn check_updates<'c>(
    catalog: &'c Catalog,
    updates: &[ObjectiveUpdate],
) -> Result<Vec<Checked<'c>>, AssessError> {
    if updates.is_empty() {
        return Err(invalid("updates", "give at least one objective to change"));
    }
    if updates.len() > MAX_UPDATES {
        return Err(invalid(
            "updates",
            format!(
                "at most {MAX_UPDATES} objectives per change; this has {}",
                updates.len()
            ),
        ));
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(updates.len());
    for (n, update) in updates.iter().enumerate() {
        let objective = update.objective.trim();
        let Some((_, requirement, _)) = catalog
            .objective(objective)
            .filter(|(_, req, _)| !req.withdrawn)
        else {
            return Err(invalid(
                format!("updates[{n}].objective"),
                format!("{objective:?} is not an objective of {}", catalog.title),
            ));
        };
        if !seen.insert(objective.to_owned()) {
            return Err(invalid(
                format!("updates[{n}].objective"),
                format!("objective {objective} is given more than once"),
            ));
        }
        let status = parse_status(&format!("updates[{n}].status"), &update.status)?;
        let note = update
            .note
            .as_deref()
            .map(|note| clean_note(&format!("updates[{n}].note"), note))
            .transpose()?;
        out.push((requirement, objective.to_owned(), status, note));
    }
    Ok(out)
}

/// An objective's note as it would be stored, or why it cannot be: what an import's
/// preview checks, so it lists as changes only what applying it will take.
pub(crate) fn clean_note(field: &str, note: &str) -> Result<String, AssessError> {
    clean_text(field, note, NOTE_MAX_CHARS)
}

/// What a bulk change did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UpdateResult {
    /// Objectives whose status or note changed (the others were already so).
    pub changed: usize,
    pub revision: u64,
}

/// Sets objective statuses and notes in one transaction (members and up); each change is
/// kept in its requirement's history, and one `assessment.objectives_update` is audited.
pub fn update_objectives(
    store: &Store,
    author: &Author,
    org: OrgId,
    id: &str,
    updates: &[ObjectiveUpdate],
    now: i64,
) -> Result<UpdateResult, AssessError> {
    let id = parse_id(id)?;
    let txn = store.write()?;
    let grant = write_grant(store, &txn, author.requester, org)?;
    let tenant = txn.tenant(&grant)?;
    let mut assessment = load(&tenant, id)?;
    let catalog = assessment.catalog(&tenant)?;
    let checked = check_updates(&catalog, updates)?;

    let before = determinations_of(&tenant, id)?;
    let mut after = before.clone();
    let mut changed = 0;
    let mut touched: BTreeMap<&str, &Requirement> = BTreeMap::new();
    for (requirement, objective, status, note) in checked {
        let old = before.get(&objective);
        let note = note.unwrap_or_else(|| old.map(|d| d.note.clone()).unwrap_or_default());
        if old.is_some_and(|d| d.status == status && d.note == note)
            || (old.is_none() && status == Status::NotAssessed && note.is_empty())
        {
            continue;
        }
        let decision = Determination {
            status,
            note,
            by: author.requester.account.to_string(),
            at: now,
            source: author.source,
        };
        tenant.put(
            DETERMINATIONS,
            &super::row_key(id, &objective),
            &serde_json::to_vec(&decision)?,
        )?;
        let change = Change {
            revision: next_revision(&assessment),
            at: now,
            actor: decision.by.clone(),
            source: author.source,
            subject: objective.clone(),
            before: old
                .map(|d| serde_json::json!({ "status": d.status, "note": d.note }))
                .unwrap_or(serde_json::json!({ "status": Status::NotAssessed, "note": "" })),
            after: serde_json::json!({ "status": decision.status, "note": decision.note }),
        };
        append_history(&tenant, &mut assessment, id, &requirement.id, change)?;
        after.insert(objective, decision);
        touched.insert(requirement.id.as_str(), requirement);
        changed += 1;
    }
    if changed == 0 {
        return Ok(UpdateResult {
            changed,
            revision: assessment.revision,
        });
    }

    // A requirement that went from met to not met is drift until it is met again.
    let mut details = details_of(&tenant, id)?;
    for (req_id, requirement) in touched {
        let was = requirement_status(requirement, &before);
        let is = requirement_status(requirement, &after);
        let detail = details.entry(req_id.to_owned()).or_default();
        let regressed = match (was, is) {
            (Status::Met | Status::NotApplicable, Status::NotMet) => Some(now),
            (_, Status::Met | Status::NotApplicable) => None,
            _ => detail.regressed_at,
        };
        if regressed != detail.regressed_at {
            detail.regressed_at = regressed;
            tenant.put(
                DETAILS,
                &super::row_key(id, req_id),
                &serde_json::to_vec(&*detail)?,
            )?;
        }
    }
    summary::record_point(&tenant, &assessment, &catalog, id, &after, &details, now)?;
    tenant.put(
        super::ASSESSMENTS,
        id.as_bytes(),
        &serde_json::to_vec(&assessment)?,
    )?;
    drop(tenant);
    audit_change(&txn, author, "assessment.objectives_update", org, id, now)?;
    txn.commit()?;
    Ok(UpdateResult {
        changed,
        revision: assessment.revision,
    })
}

fn clean_reference(field: &str, text: &Option<String>) -> Result<Option<String>, AssessError> {
    match text.as_deref().map(str::trim) {
        None => Ok(None),
        Some("") => Err(invalid(
            field,
            "give the SSP reference (section or paragraph) that records this",
        )),
        Some(text) => Ok(Some(clean_text(field, text, SHORT_MAX_CHARS)?)),
    }
}

fn clean_detail(
    requirement: &Requirement,
    input: &RequirementDetail,
    members: &BTreeSet<String>,
) -> Result<RequirementDetail, AssessError> {
    if input.responsible.len() > MAX_RESPONSIBLE {
        return Err(invalid(
            "responsible",
            format!("at most {MAX_RESPONSIBLE} responsible people"),
        ));
    }
    let mut responsible = Vec::new();
    for (n, person) in input.responsible.iter().enumerate() {
        let person = person.trim();
        if !members.contains(person) {
            return Err(invalid(
                format!("responsible[{n}]"),
                format!("{person:?} is not a member of this organization"),
            ));
        }
        if !responsible.iter().any(|p| p == person) {
            responsible.push(person.to_owned());
        }
    }
    let inheritance = match &input.inheritance {
        None => None,
        Some(inherited) => {
            let provider =
                clean_text("inheritance.provider", &inherited.provider, SHORT_MAX_CHARS)?;
            if provider.is_empty() {
                return Err(invalid(
                    "inheritance.provider",
                    "name the provider the requirement is inherited from",
                ));
            }
            Some(Inheritance {
                kind: inherited.kind,
                provider,
                customer_share: clean_text(
                    "inheritance.customer_share",
                    &inherited.customer_share,
                    STATEMENT_MAX_CHARS,
                )?,
            })
        }
    };
    if input.mfa_partial && requirement.id != "3.5.3" {
        return Err(invalid(
            "mfa_partial",
            "the multifactor partial credit applies to 3.5.3 only",
        ));
    }
    if input.encryption_partial && requirement.id != "3.13.11" {
        return Err(invalid(
            "encryption_partial",
            "the encryption partial credit applies to 3.13.11 only",
        ));
    }
    Ok(RequirementDetail {
        implementation: clean_text("implementation", &input.implementation, STATEMENT_MAX_CHARS)?,
        responsible,
        inheritance,
        review_date: input
            .review_date
            .as_deref()
            .filter(|d| !d.trim().is_empty())
            .map(|d| parse_date("review_date", d).map(|d| d.to_string()))
            .transpose()?,
        mfa_partial: input.mfa_partial,
        encryption_partial: input.encryption_partial,
        equally_effective: clean_reference("equally_effective", &input.equally_effective)?,
        enduring_exception: clean_reference("enduring_exception", &input.enduring_exception)?,
        temporary_deficiency: clean_reference("temporary_deficiency", &input.temporary_deficiency)?,
        regressed_at: None,
    })
}

/// Changes a requirement's details (members and up); kept in its history, audited as
/// `assessment.requirement_update`.
pub fn update_requirement(
    store: &Store,
    author: &Author,
    org: OrgId,
    id: &str,
    req_id: &str,
    input: &RequirementDetail,
    now: i64,
) -> Result<RequirementDetail, AssessError> {
    let id = parse_id(id)?;
    let txn = store.write()?;
    let grant = write_grant(store, &txn, author.requester, org)?;
    let members = super::member_ids(&txn, org)?;
    let tenant = txn.tenant(&grant)?;
    let mut assessment = load(&tenant, id)?;
    let catalog = assessment.catalog(&tenant)?;
    let requirement = super::current_requirement(&catalog, req_id)?;
    let mut details = details_of(&tenant, id)?;
    let before = details.get(req_id).cloned().unwrap_or_default();
    let mut detail = clean_detail(requirement, input, &members)?;
    detail.regressed_at = before.regressed_at;
    if detail == before {
        return Ok(detail);
    }
    tenant.put(
        DETAILS,
        &super::row_key(id, req_id),
        &serde_json::to_vec(&detail)?,
    )?;
    let change = Change {
        revision: next_revision(&assessment),
        at: now,
        actor: author.requester.account.to_string(),
        source: author.source,
        subject: "details".to_owned(),
        before: serde_json::to_value(&before)?,
        after: serde_json::to_value(&detail)?,
    };
    append_history(&tenant, &mut assessment, id, req_id, change)?;
    details.insert(req_id.to_owned(), detail.clone());
    let decided = determinations_of(&tenant, id)?;
    summary::record_point(&tenant, &assessment, &catalog, id, &decided, &details, now)?;
    tenant.put(
        super::ASSESSMENTS,
        id.as_bytes(),
        &serde_json::to_vec(&assessment)?,
    )?;
    drop(tenant);
    audit_change(
        &txn,
        author,
        "assessment.requirement_update",
        org,
        format!("{id}/{req_id}"),
        now,
    )?;
    txn.commit()?;
    Ok(detail)
}

/// A requirement with its objectives, details, history and POA&M item.
pub fn requirement(
    store: &Store,
    requester: Requester,
    org: OrgId,
    id: &str,
    req_id: &str,
    client: &Client,
    now: i64,
) -> Result<RequirementView, AssessError> {
    let id = parse_id(id)?;
    let grant = read_grant(store, requester, org, client, now)?;
    let read = store.read()?;
    let tenant = read.tenant(&grant)?;
    let assessment = load(&tenant, id)?;
    let catalog = assessment.catalog(&tenant)?;
    let (family, requirement) = catalog
        .families
        .iter()
        .find_map(|f| {
            f.requirements
                .iter()
                .find(|r| r.id == req_id)
                .map(|r| (f, r))
        })
        .ok_or_else(|| super::unknown_requirement(&catalog, req_id))?;
    let decided: BTreeMap<String, Determination> = requirement
        .objectives
        .iter()
        .filter_map(|o| {
            tenant
                .get(DETERMINATIONS, &super::row_key(id, &o.id))
                .transpose()
                .map(|bytes| Ok((o.id.clone(), serde_json::from_slice(&bytes?)?)))
        })
        .collect::<Result<_, AssessError>>()?;
    let detail = match tenant.get(DETAILS, &super::row_key(id, req_id))? {
        Some(bytes) => serde_json::from_slice(&bytes)?,
        None => RequirementDetail::default(),
    };
    let mut history = tenant
        .list_prefix(HISTORY, &history_prefix(id, req_id))?
        .into_iter()
        .map(|(_, bytes)| serde_json::from_slice(&bytes))
        .collect::<Result<Vec<Change>, _>>()?;
    history.reverse();
    let order: Vec<&str> = catalog
        .current_requirements()
        .map(|r| r.id.as_str())
        .collect();
    let at = order.iter().position(|r| *r == requirement.id);
    let previous = at
        .and_then(|n| n.checked_sub(1))
        .and_then(|n| order.get(n))
        .map(|r| (*r).to_owned());
    let next = at.and_then(|n| order.get(n + 1)).map(|r| (*r).to_owned());
    Ok(RequirementView {
        previous,
        next,
        id: requirement.id.clone(),
        label: requirement.label.clone(),
        title: requirement.title.clone(),
        family: family.title.clone(),
        statement: requirement.statement.clone(),
        discussion: requirement.discussion.clone(),
        status: requirement_status(requirement, &decided),
        objectives: requirement
            .objectives
            .iter()
            .map(|o| objective_view(requirement, o, decided.get(&o.id)))
            .collect(),
        detail,
        history,
        poam: super::poam::item(&tenant, id, req_id)?,
        parameters: super::parameters::of_requirement(&tenant, &assessment.framework, requirement)?,
    })
}
