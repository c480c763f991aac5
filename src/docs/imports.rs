//! Imports that set objective statuses: an objectives spreadsheet (XLSX or CSV) and an
//! OSCAL assessment results document. Both first show what would change; applying goes
//! through [`assess::update_objectives`] as one transaction with source `import`, so an
//! import is kept in each requirement's history like any other decision, and a refused
//! file changes nothing.

use serde::Serialize;
use serde_json::Value;

use super::oscal::{NS, objective_target};
use super::sheets::{self, ImportRow};
use super::{DocsError, invalid};
use crate::access::{self, Permission, SystemGrant};
use crate::assess::{self, Author, ObjectiveUpdate, Records};
use crate::catalog::{CatalogError, OscalSchema, validate_oscal};
use crate::scoring::Status;
use crate::store::{OrgId, Store};

/// One objective an import changes.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PlannedChange {
    pub objective: String,
    /// Where the file says so: `Objectives!A7`, `row 7`, a JSON path.
    pub place: String,
    #[schema(value_type = String)]
    pub status_before: Status,
    #[schema(value_type = String)]
    pub status_after: Status,
    pub note_before: String,
    pub note_after: String,
}

/// What an import would do (`applied` false) or did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImportOutcome {
    pub applied: bool,
    pub changes: Vec<PlannedChange>,
    /// Rows or findings that match what is recorded.
    pub unchanged: usize,
    /// The assessment's revision after applying.
    pub revision: Option<u64>,
}

/// Reads an objectives spreadsheet and previews or applies it.
pub fn spreadsheet(
    store: &Store,
    author: &Author,
    org: OrgId,
    assessment: &str,
    bytes: &[u8],
    apply: bool,
    now: i64,
) -> Result<ImportOutcome, DocsError> {
    plan_and_apply(store, author, org, assessment, apply, now, |_records| {
        sheets::read_objectives(bytes)
    })
}

/// Reads an OSCAL assessment results document and previews or applies its findings.
pub fn assessment_results(
    store: &Store,
    author: &Author,
    org: OrgId,
    assessment: &str,
    bytes: &[u8],
    apply: bool,
    now: i64,
) -> Result<ImportOutcome, DocsError> {
    plan_and_apply(store, author, org, assessment, apply, now, |records| {
        findings(&parse_results(bytes)?, org, records)
    })
}

fn parse_results(bytes: &[u8]) -> Result<Value, DocsError> {
    if bytes.len() > sheets::MAX_IMPORT_BYTES {
        return Err(DocsError::Document(CatalogError::TooLarge {
            kind: OscalSchema::AssessmentResults.name(),
            size: bytes.len(),
            max: sheets::MAX_IMPORT_BYTES,
        }));
    }
    let document: Value = serde_json::from_slice(bytes).map_err(|err| {
        DocsError::Document(CatalogError::NotJson {
            line: err.line(),
            column: err.column(),
            message: err.to_string(),
        })
    })?;
    validate_oscal(OscalSchema::AssessmentResults, &document).map_err(DocsError::Document)?;
    Ok(document)
}

/// The determinations an assessment results document records, as import rows.
fn findings(document: &Value, org: OrgId, records: &Records) -> Result<Vec<ImportRow>, DocsError> {
    let root = "/assessment-results";
    let ours = |name: &str| {
        document
            .pointer(&format!("{root}/metadata/props"))
            .and_then(Value::as_array)
            .and_then(|props| {
                props.iter().find(|p| {
                    p.get("ns").and_then(Value::as_str) == Some(NS)
                        && p.get("name").and_then(Value::as_str) == Some(name)
                })
            })
            .and_then(|p| p.get("value").and_then(Value::as_str))
    };
    if let Some(other) = ours("organization").filter(|o| *o != org.to_string()) {
        return Err(invalid(
            format!("{root}/metadata/props"),
            format!("this document is about another organization ({other}); import it there"),
        ));
    }
    if let Some(framework) = ours("framework").filter(|f| *f != records.assessment.framework) {
        return Err(invalid(
            format!("{root}/metadata/props"),
            format!(
                "this document assesses {framework}; this assessment is against {}",
                records.assessment.framework
            ),
        ));
    }
    let catalog = &records.catalog;
    let mut rows = Vec::new();
    let results = document
        .pointer(&format!("{root}/results"))
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    for (r, result) in results.iter().enumerate() {
        let found = result
            .get("findings")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        for (f, finding) in found.iter().enumerate() {
            let path = format!("{root}/results/{r}/findings/{f}/target");
            let target = finding.get("target").unwrap_or(&Value::Null);
            let target_id = target
                .get("target-id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let objective = catalog
                .current_requirements()
                .flat_map(|req| req.objectives.iter())
                .find(|o| objective_target(o) == target_id || o.id == target_id)
                .ok_or_else(|| {
                    invalid(
                        format!("{path}/target-id"),
                        format!("{target_id:?} is not an objective of {}", catalog.title),
                    )
                })?;
            let ours = finding
                .get("props")
                .and_then(Value::as_array)
                .and_then(|props| {
                    props
                        .iter()
                        .find(|p| {
                            p.get("ns").and_then(Value::as_str) == Some(NS)
                                && p.get("name").and_then(Value::as_str) == Some("determination")
                        })
                        .and_then(|p| p.get("value").and_then(Value::as_str))
                });
            let status = match (
                ours,
                target.pointer("/status/state").and_then(Value::as_str),
            ) {
                (Some("not_applicable"), _) => Status::NotApplicable,
                (_, Some("satisfied")) => Status::Met,
                (_, Some("not-satisfied")) => Status::NotMet,
                (_, other) => {
                    return Err(invalid(
                        format!("{path}/status/state"),
                        format!("state {other:?} is neither satisfied nor not-satisfied"),
                    ));
                }
            };
            rows.push(ImportRow {
                place: path,
                objective: objective.id.clone(),
                status,
                note: finding
                    .get("remarks")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .trim()
                    .to_owned(),
            });
        }
    }
    if rows.is_empty() {
        return Err(invalid(
            format!("{root}/results"),
            "the document has no findings to import",
        ));
    }
    Ok(rows)
}

/// Checks write access, reads the assessment, and only then reads the file (so a caller
/// without access learns nothing about it), compares its rows with what is recorded, and
/// applies the differences when asked.
fn plan_and_apply(
    store: &Store,
    author: &Author,
    org: OrgId,
    assessment: &str,
    apply: bool,
    now: i64,
    rows_of: impl FnOnce(&Records) -> Result<Vec<ImportRow>, DocsError>,
) -> Result<ImportOutcome, DocsError> {
    let (changes, unchanged) = {
        let known = store.organizations()?;
        let read = store.read()?;
        let grant = {
            let system = read.system(&SystemGrant::internal())?;
            access::authorize(&system, &known, author.requester, org, Permission::Write)?.0
        };
        let records = Records::of(&read.tenant(&grant)?, assessment)?;
        let rows = rows_of(&records)?;
        compare(&records, rows)?
    };
    let mut outcome = ImportOutcome {
        applied: false,
        changes,
        unchanged,
        revision: None,
    };
    if apply && !outcome.changes.is_empty() {
        let updates: Vec<ObjectiveUpdate> = outcome
            .changes
            .iter()
            .map(|c| ObjectiveUpdate {
                objective: c.objective.clone(),
                status: c.status_after.as_str().to_owned(),
                note: Some(c.note_after.clone()),
            })
            .collect();
        let done = assess::update_objectives(store, author, org, assessment, &updates, now)?;
        outcome.applied = true;
        outcome.revision = Some(done.revision);
    } else if apply {
        outcome.applied = true;
    }
    Ok(outcome)
}

fn compare(
    records: &Records,
    rows: Vec<ImportRow>,
) -> Result<(Vec<PlannedChange>, usize), DocsError> {
    let catalog = &records.catalog;
    let mut changes = Vec::new();
    let mut unchanged = 0;
    let mut seen = std::collections::BTreeSet::new();
    for row in rows {
        let known = catalog
            .objective(&row.objective)
            .is_some_and(|(_, req, _)| !req.withdrawn);
        if !known {
            return Err(invalid(
                row.place,
                format!(
                    "{:?} is not an objective of {}",
                    row.objective, catalog.title
                ),
            ));
        }
        if !seen.insert(row.objective.clone()) {
            return Err(invalid(
                row.place,
                format!("objective {} is given more than once", row.objective),
            ));
        }
        let note = crate::assess::clean_note(&row.place, &row.note)?;
        let decided = records.decided.get(&row.objective);
        let status_before = decided.map_or(Status::NotAssessed, |d| d.status);
        let note_before = decided.map(|d| d.note.clone()).unwrap_or_default();
        if status_before == row.status && note_before == note {
            unchanged += 1;
            continue;
        }
        changes.push(PlannedChange {
            objective: row.objective,
            place: row.place,
            status_before,
            status_after: row.status,
            note_before,
            note_after: note,
        });
    }
    Ok((changes, unchanged))
}
