//! `cargo bench --bench scoring`: scoring one full assessment, against the goal of at most
//! 50 µs per score, beside a baseline of comparable size measured in the same run (the host
//! may be shared and noisy, so the ratio is the figure to compare across runs).
//! `scripts/bench` reads both means from criterion's `estimates.json`; the benchmark names
//! here are the directory names it reads.

use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;
use std::process::ExitCode;

use criterion::Criterion;
use rampart::scoring::{self, Encryption, Input, Mfa, Status};

/// Objectives not met in the assessment; every other objective is met, save the requirements
/// in [`NOT_APPLICABLE`]. Together a realistic mix: 5-, 3- and 1-point requirements, both
/// partial-credit requirements, and entries for each list below.
const NOT_MET: &[&str] = &[
    "3.1.5[b]",   // 3 points, not on the plan of action: 3.12.2 is deducted too
    "3.1.7[c]",   // 1 point
    "3.3.4[b]",   // 1 point
    "3.4.9[b]",   // temporary deficiency
    "3.5.3[d]",   // MFA for remote and privileged users only: 3 points
    "3.6.2[c]",   // equally effective
    "3.8.5[a]",   // 1 point
    "3.10.6[a]",  // enduring exception
    "3.11.2[d]",  // temporary deficiency
    "3.13.10[b]", // 1 point
    "3.13.11",    // encryption not FIPS-validated: 3 points
    "3.14.7[b]",  // 3 points
];
/// No wireless or mobile access, and CUI crosses only a carrier's MPLS.
const NOT_APPLICABLE: &[&str] = &["3.1.16", "3.1.17", "3.1.18", "3.13.8"];
const TEMPORARY_DEFICIENCIES: &[&str] = &["3.4.9", "3.11.2"];
const ENDURING_EXCEPTIONS: &[&str] = &["3.10.6"];
const EQUALLY_EFFECTIVE: &[&str] = &["3.6.2"];
const PLAN_OF_ACTION: &[&str] = &[
    "3.1.7", "3.3.4", "3.4.9", "3.5.3", "3.8.5", "3.11.2", "3.13.10", "3.13.11", "3.14.7",
];

/// The 320 objectives in catalog order with their statuses, as a parser sees its rows.
fn determinations() -> Result<Vec<(String, Status)>, String> {
    let catalog = scoring::catalog().map_err(|err| err.to_string())?;
    let mut rows = Vec::new();
    for req in &catalog.requirements {
        for objective in &req.objectives {
            let status = if NOT_APPLICABLE.contains(&req.id.as_str()) {
                Status::NotApplicable
            } else if NOT_MET.contains(&objective.as_str()) {
                Status::NotMet
            } else {
                Status::Met
            };
            rows.push((objective.clone(), status));
        }
    }
    // A misspelt id above would silently score as met: refuse to measure that.
    for id in NOT_MET {
        if !rows.iter().any(|(objective, _)| objective == id) {
            return Err(format!("{id} is not an objective"));
        }
    }
    Ok(rows)
}

fn ids(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|id| (*id).to_owned()).collect()
}

fn assessment(rows: &[(String, Status)]) -> Input {
    Input {
        objectives: rows.iter().cloned().collect(),
        mfa: Mfa::RemoteAndPrivilegedOnly,
        encryption: Encryption::NotFipsValidated,
        temporary_deficiencies: ids(TEMPORARY_DEFICIENCIES),
        enduring_exceptions: ids(ENDURING_EXCEPTIONS),
        equally_effective: ids(EQUALLY_EFFECTIVE),
        plan_of_action: Some(ids(PLAN_OF_ACTION)),
        conditional_since: Some(time::macros::date!(2026 - 03 - 01)),
    }
}

fn main() -> ExitCode {
    let rows = match determinations() {
        Ok(rows) => rows,
        Err(err) => {
            eprintln!("bench scoring: {err}");
            return ExitCode::FAILURE;
        }
    };
    let input = assessment(&rows);
    // The figure only means something if the fixture scores as intended.
    match scoring::score(&input) {
        Ok(out) if out.score.is_some() && out.complete => {}
        other => {
            eprintln!("bench scoring: the fixture does not score as intended: {other:?}");
            return ExitCode::FAILURE;
        }
    }

    let mut c = Criterion::default().configure_from_args();
    c.bench_function("score_assessment", |b| {
        b.iter(|| scoring::score(black_box(&input)))
    });
    // Baseline: the map of 320 objective statuses alone, built from the rows as the
    // parsers build it; every score needs at least that much work on its input.
    c.bench_function("objective_map", |b| {
        b.iter(|| {
            black_box(&rows)
                .iter()
                .cloned()
                .collect::<BTreeMap<String, Status>>()
        })
    });
    c.final_summary();
    ExitCode::SUCCESS
}
