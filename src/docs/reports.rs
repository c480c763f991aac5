//! Reports as [`Document`]s: the one-page score summary (what to transcribe into SPRS) and
//! the gap report.

use super::model::{Block, Document};
use super::snapshot::Snapshot;
use crate::scoring;

fn text_or(value: Option<i64>, none: &str) -> String {
    value.map_or_else(|| none.to_owned(), |v| v.to_string())
}

/// The score, statuses and dates, as label/value pairs.
pub fn score_fields(snapshot: &Snapshot) -> Vec<(String, String)> {
    let records = &snapshot.records;
    let dates = &records.assessment.dates;
    let mut fields = vec![
        ("Assessment".into(), records.assessment.name.clone()),
        ("Framework".into(), records.catalog.title.clone()),
        (
            "Assessment date".into(),
            crate::dates::today(snapshot.taken_at).to_string(),
        ),
    ];
    match &snapshot.outcome {
        Some(outcome) => {
            fields.push((
                "SPRS score (DoD Assessment Methodology)".into(),
                text_or(
                    outcome.score,
                    "not yet computable: objectives remain to be assessed",
                ),
            ));
            fields.push(("CMMC score".into(), text_or(outcome.level2.score, "—")));
            fields.push((
                "CMMC Level 1 status".into(),
                if outcome.level1.failing.is_empty() {
                    scoring::status_words(outcome.level1.status).to_owned()
                } else {
                    format!(
                        "{} (failing: {})",
                        scoring::status_words(outcome.level1.status),
                        outcome.level1.failing.join(", ")
                    )
                },
            ));
            // An early assessment has a reason per ineligible requirement; the summary
            // stays one page, and the gap report lists them all.
            const SHOWN: usize = 4;
            let reasons = &outcome.level2.reasons;
            let mut status = scoring::status_words(outcome.level2.status).to_owned();
            if !reasons.is_empty() {
                let shown: Vec<&str> = reasons.iter().take(SHOWN).map(String::as_str).collect();
                status = format!("{status}: {}", shown.join("; "));
                if reasons.len() > SHOWN {
                    status.push_str(&format!(
                        "; and {} more (the gap report lists them)",
                        reasons.len() - SHOWN
                    ));
                }
            }
            fields.push(("CMMC Level 2 status".into(), status));
            if let Some(due) = &outcome.level2.closeout_due {
                fields.push(("POA&M closeout due".into(), due.clone()));
            }
            if let Some(reason) = outcome.reason {
                fields.push(("Note".into(), scoring::reason_words(reason).to_owned()));
            }
        }
        None => fields.push((
            "Score".into(),
            "This framework has no SPRS score; status is shown per family.".into(),
        )),
    }
    for (label, value) in [
        ("Conditional status date", &dates.conditional_status_date),
        ("Final status date", &dates.final_status_date),
        ("Last Level 2 affirmation", &dates.affirmed_on),
        ("Last Level 1 affirmation", &dates.level1_affirmed_on),
    ] {
        if let Some(value) = value {
            fields.push((label.into(), value.clone()));
        }
    }
    fields.push((
        "Unmet requirements".into(),
        snapshot.gaps.unmet.len().to_string(),
    ));
    fields
}

fn organization_fields(snapshot: &Snapshot) -> Vec<(String, String)> {
    let org = &snapshot.org;
    vec![
        ("Organization".into(), org.name.clone()),
        (
            "CAGE code".into(),
            org.cage.clone().unwrap_or_else(|| "—".into()),
        ),
        ("UEI".into(), org.uei.clone().unwrap_or_else(|| "—".into())),
        ("System".into(), snapshot.system_name().to_owned()),
    ]
}

/// One page with both scores, the statuses and their dates.
pub fn score_summary(snapshot: &Snapshot, marking: Option<&str>) -> Document {
    let mut fields = organization_fields(snapshot);
    fields.extend(score_fields(snapshot));
    Document {
        title: "Score summary".into(),
        subtitle: format!(
            "{} — {}",
            snapshot.org.name,
            crate::dates::today(snapshot.taken_at)
        ),
        marking: marking.map(str::to_owned),
        landscape: false,
        blocks: vec![Block::Fields(fields)],
    }
}

/// Unmet requirements by points with eligibility and POA&M status, and the fixes that
/// reach conditional and final status.
pub fn gap_report(snapshot: &Snapshot, marking: Option<&str>) -> Document {
    let gaps = &snapshot.gaps;
    let mut blocks = vec![
        Block::Fields(organization_fields(snapshot)),
        Block::Heading {
            level: 1,
            text: "Fixes that reach each status".into(),
        },
    ];
    for (label, plan) in [
        ("Conditional status", &gaps.to_conditional),
        ("Final status", &gaps.to_final),
    ] {
        blocks.push(Block::Paragraph(match plan {
            Some(plan) if plan.fixes.is_empty() => format!("{label}: already reached."),
            Some(plan) => format!(
                "{label}: fix these {} to reach {}: {}.",
                plan.fixes.len(),
                plan.score_after,
                plan.fixes.join(", ")
            ),
            None => format!("{label}: not reachable by fixes alone (see eligibility)."),
        }));
    }
    let table = super::sheets::gaps(snapshot);
    blocks.push(Block::Heading {
        level: 1,
        text: "Unmet requirements".into(),
    });
    blocks.push(Block::Table {
        header: table
            .columns
            .iter()
            .map(|(name, _)| (*name).to_owned())
            .collect(),
        widths: table.columns.iter().map(|(_, width)| *width).collect(),
        rows: table.rows,
    });
    Document {
        title: "Gap report".into(),
        subtitle: format!(
            "{} — {} — {}",
            snapshot.org.name,
            snapshot.records.assessment.name,
            crate::dates::today(snapshot.taken_at)
        ),
        marking: marking.map(str::to_owned),
        landscape: true,
        blocks,
    }
}
