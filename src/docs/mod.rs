//! Documents made from the live data: the System Security Plan, OSCAL exports, reports,
//! spreadsheets and proofpacks. Each reads one [`snapshot::Snapshot`] and renders it; none
//! changes a record except the imports, which go through `assess` like any other change.

pub mod docx;
pub mod imports;
pub mod model;
pub mod oscal;
pub mod pdf;
pub mod sheets;
pub mod snapshot;
pub mod system;

use crate::access::AccessError;
use crate::assess::AssessError;
use crate::audit::AuditError;
use crate::auth::AuthError;
use crate::catalog::CatalogError;
use crate::evidence::EvidenceError;
use crate::org::OrgError;
use crate::store::StoreError;

/// Why a document could not be made or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DocsError {
    /// A field or an uploaded file is wrong; `field` names where (`roles[2].name`,
    /// `Objectives!C14`, `/assessment-results/results/0`).
    #[error("{message}")]
    Invalid { field: String, message: String },
    #[error("not found")]
    NotFound,
    /// A renderer failed on well-formed content; a defect, not bad input.
    #[error("could not render the {format} document: {message}")]
    Render {
        format: &'static str,
        message: String,
    },
    /// An uploaded OSCAL document is not JSON or breaks its schema; the problems name
    /// their JSON paths.
    #[error(transparent)]
    Document(CatalogError),
    /// A document we made breaks its OSCAL schema: a defect, never shipped to the caller.
    #[error("the generated OSCAL document is invalid: {0}")]
    OscalOutput(CatalogError),
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Assess(#[from] AssessError),
    #[error(transparent)]
    Org(#[from] OrgError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Evidence(#[from] EvidenceError),
    #[error("document record is unreadable: {0}")]
    Decode(#[from] serde_json::Error),
}

pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> DocsError {
    DocsError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// Records that `requester` made or downloaded a document (`document.export`,
/// `document.generate`, …), naming it in `target`.
pub(crate) fn audit_document(
    store: &crate::store::Store,
    requester: crate::access::Requester,
    org: crate::store::OrgId,
    action: &str,
    target: String,
    client: &crate::auth::Client,
    now: i64,
) -> Result<(), DocsError> {
    use crate::audit::{self, Actor, Event, Outcome};
    let txn = store.write()?;
    let event = client.stamp(
        Event::new(
            Actor::Account(requester.account.to_string()),
            action,
            Outcome::Success,
        )
        .org(org)
        .target(target),
    );
    audit::append(&txn, event, now)?;
    txn.commit()?;
    Ok(())
}

/// The OSCAL document of `kind` for an assessment (any member); audited as
/// `document.export` with target `oscal-<kind> <assessment id>`.
pub fn oscal_export(
    store: &crate::store::Store,
    requester: crate::access::Requester,
    org: crate::store::OrgId,
    assessment: &str,
    kind: oscal::Kind,
    client: &crate::auth::Client,
    now: i64,
) -> Result<serde_json::Value, DocsError> {
    let snapshot = snapshot::Snapshot::read(store, requester, org, assessment, client, now)?;
    let document = oscal::export(kind, &snapshot)?;
    audit_document(
        store,
        requester,
        org,
        "document.export",
        format!("oscal-{} {}", kind.as_str(), snapshot.records.assessment.id),
        client,
        now,
    )?;
    Ok(document)
}

/// The tables an assessment exports as XLSX or CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sheet {
    /// One row per objective; imports back.
    Objectives,
    Poam,
    Gaps,
}

impl Sheet {
    /// As the API path spells it.
    pub fn parse(text: &str) -> Option<Sheet> {
        match text {
            "objectives" => Some(Sheet::Objectives),
            "poam" => Some(Sheet::Poam),
            "gaps" => Some(Sheet::Gaps),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Sheet::Objectives => "objectives",
            Sheet::Poam => "poam",
            Sheet::Gaps => "gaps",
        }
    }
}

/// A table of an assessment as XLSX or CSV (any member); audited as `document.export`
/// with target `<sheet>.<format> <assessment id>`.
#[allow(clippy::too_many_arguments)]
pub fn table_export(
    store: &crate::store::Store,
    requester: crate::access::Requester,
    org: crate::store::OrgId,
    assessment: &str,
    sheet: Sheet,
    format: sheets::Format,
    client: &crate::auth::Client,
    now: i64,
) -> Result<Vec<u8>, DocsError> {
    let snapshot = snapshot::Snapshot::read(store, requester, org, assessment, client, now)?;
    let table = match sheet {
        Sheet::Objectives => sheets::objectives(&snapshot),
        Sheet::Poam => sheets::poam(&snapshot),
        Sheet::Gaps => sheets::gaps(&snapshot),
    };
    let bytes = table.render(format)?;
    audit_document(
        store,
        requester,
        org,
        "document.export",
        format!(
            "{}.{} {}",
            sheet.as_str(),
            format.extension(),
            snapshot.records.assessment.id
        ),
        client,
        now,
    )?;
    Ok(bytes)
}
