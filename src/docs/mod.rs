//! Documents made from the live data: the System Security Plan, OSCAL exports, reports,
//! spreadsheets and proofpacks. Each reads one [`snapshot::Snapshot`] and renders it; none
//! changes a record except the imports, which go through `assess` like any other change.

pub mod archive;
pub mod docx;
pub mod imports;
pub mod model;
pub mod oscal;
pub mod pdf;
pub mod proofpack;
pub mod reports;
pub mod sheets;
pub mod snapshot;
pub mod ssp;
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

/// Write access to `org` (members and up), checked inside `txn`.
pub(crate) fn write_grant(
    store: &crate::store::Store,
    txn: &crate::store::WriteTxn<'_>,
    requester: crate::access::Requester,
    org: crate::store::OrgId,
) -> Result<crate::access::Grant, DocsError> {
    let known = store.organizations()?;
    let system = txn.system(&crate::access::SystemGrant::internal())?;
    Ok(crate::access::authorize(
        &system,
        &known,
        requester,
        org,
        crate::access::Permission::Write,
    )?
    .0)
}

/// RFC 3339 in UTC.
pub(crate) fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
}

/// A handling marking (`CUI`, `CUI//SP-CTI`): one short line, or none.
pub(crate) fn clean_marking(marking: Option<&str>) -> Result<Option<String>, DocsError> {
    let Some(marking) = marking.map(str::trim).filter(|m| !m.is_empty()) else {
        return Ok(None);
    };
    if marking.chars().count() > 60 || marking.chars().any(char::is_control) {
        return Err(invalid(
            "marking",
            "a marking is one line of at most 60 characters, such as CUI",
        ));
    }
    Ok(Some(marking.to_owned()))
}

/// Renders and stores one document of an assessment (members and up): the SSP as DOCX or
/// PDF, the score summary or the gap report. Audited as `document.generate`.
#[allow(clippy::too_many_arguments)]
pub fn generate(
    store: &crate::store::Store,
    archive_dir: &archive::Archive,
    requester: crate::access::Requester,
    org: crate::store::OrgId,
    assessment: &str,
    kind: archive::DocumentKind,
    marking: Option<&str>,
    client: &crate::auth::Client,
    now: i64,
) -> Result<archive::DocumentVersion, DocsError> {
    use archive::DocumentKind;
    use std::io::Write;
    // Refused before anything is read: viewers read documents, members make them.
    {
        let txn = store.write()?;
        write_grant(store, &txn, requester, org)?;
    }
    let marking = clean_marking(marking)?;
    let snapshot = snapshot::Snapshot::read(store, requester, org, assessment, client, now)?;
    let marking = marking.as_deref();
    let (bytes, stem, extension, media_type) = match kind {
        DocumentKind::SspDocx => (
            docx::render(&ssp::document(&snapshot, marking))?,
            "ssp",
            "docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        DocumentKind::SspPdf => (
            pdf::render(&ssp::document(&snapshot, marking))?,
            "ssp",
            "pdf",
            "application/pdf",
        ),
        DocumentKind::ScoreSummaryPdf => (
            pdf::render(&reports::score_summary(&snapshot, marking))?,
            "score-summary",
            "pdf",
            "application/pdf",
        ),
        DocumentKind::GapReportPdf => (
            pdf::render(&reports::gap_report(&snapshot, marking))?,
            "gap-report",
            "pdf",
            "application/pdf",
        ),
        DocumentKind::Proofpack => {
            return Err(invalid(
                "kind",
                "a proofpack is built with POST .../proofpack",
            ));
        }
    };
    let mut writer = archive::writer(archive_dir, org)?;
    writer.write_all(&bytes)?;
    let version = archive::pending(
        requester,
        &writer,
        &archive::NewVersion {
            kind,
            assessment: &snapshot.records.assessment.id,
            filename: format!("{stem}-{}.{extension}", crate::dates::today(now)),
            media_type,
        },
        now,
    );
    archive::finish(
        store,
        archive_dir,
        requester,
        org,
        writer,
        version,
        client,
        now,
    )
}
