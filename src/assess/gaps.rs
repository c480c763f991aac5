//! Gap analysis: what is not met, what it costs, and the fewest fixes that reach conditional
//! and final Level 2 status.

use serde::Serialize;

use super::records::requirement_status;
use super::summary::Records;
use super::{AssessError, PoamStatus, parse_id, read_grant};
use crate::access::Requester;
use crate::auth::Client;
use crate::scoring::{Outcome, Status};
use crate::store::{OrgId, Store};

const MAX_SCORE: i64 = 110;
const CONDITIONAL_FLOOR: i64 = 88;

/// One requirement not met.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Gap {
    pub requirement: String,
    pub label: String,
    pub title: String,
    /// `not_met`, or `not_assessed`.
    #[schema(value_type = String)]
    pub status: Status,
    /// What it costs in the CMMC score while not met (scored frameworks).
    pub points: Option<i64>,
    pub eligible: Option<bool>,
    pub why: Option<String>,
    pub poam: Option<PoamStatus>,
}

/// The fixes that reach a status, fewest first by points.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GapPlan {
    /// Requirement ids to make met (or, for `not_assessed` ones, to assess).
    pub fixes: Vec<String>,
    /// The CMMC score once they are fixed.
    pub score_after: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Gaps {
    pub scored: bool,
    pub score: Option<i64>,
    pub cmmc_score: Option<i64>,
    /// `final`, `conditional` or `none` (scored frameworks).
    pub level2_status: Option<String>,
    /// Highest points first.
    pub unmet: Vec<Gap>,
    /// `None` for a framework without a score.
    pub to_conditional: Option<GapPlan>,
    pub to_final: Option<GapPlan>,
}

pub(crate) fn from_records(
    records: &Records,
    outcome: Option<&Outcome>,
) -> Result<Gaps, AssessError> {
    let catalog = &records.catalog;
    let input = records.input();
    let mut unmet = Vec::new();
    for requirement in catalog.current_requirements() {
        let status = requirement_status(requirement, &records.decided);
        let counted_unmet = match outcome {
            // The CMMC view: exceptions and temporary deficiencies count as met.
            Some(outcome) => {
                outcome.level2.poam_eligible.contains(&requirement.id)
                    || outcome.level2.not_eligible.contains(&requirement.id)
            }
            None => matches!(status, Status::NotMet | Status::NotAssessed),
        };
        if !counted_unmet {
            continue;
        }
        let super::summary::Standing {
            points,
            eligible,
            why,
        } = super::summary::standing(outcome.is_some(), &requirement.id, &input)?;
        unmet.push(Gap {
            requirement: requirement.id.clone(),
            label: requirement.label.clone(),
            title: requirement.title.clone(),
            status,
            points,
            eligible,
            why,
            poam: records
                .poam
                .iter()
                .find(|i| i.requirement == requirement.id)
                .map(|i| i.status),
        });
    }
    // Stable: equal points keep catalog order.
    unmet.sort_by_key(|gap| std::cmp::Reverse(gap.points.unwrap_or(0)));

    let (to_conditional, to_final) = match outcome {
        Some(_) => (Some(conditional_plan(&unmet)), Some(final_plan(&unmet))),
        None => (None, None),
    };
    Ok(Gaps {
        scored: outcome.is_some(),
        score: outcome.and_then(|o| o.score),
        cmmc_score: outcome.and_then(|o| o.level2.score),
        level2_status: outcome.map(|o| o.level2.status.to_owned()),
        unmet,
        to_conditional,
        to_final,
    })
}

fn final_plan(unmet: &[Gap]) -> GapPlan {
    GapPlan {
        fixes: unmet.iter().map(|g| g.requirement.clone()).collect(),
        score_after: MAX_SCORE,
    }
}

/// Conditional status needs every ineligible and every unassessed requirement fixed, then a
/// CMMC score of at least 88: the remaining eligible gaps are fixed largest first, which is
/// the fewest fixes that gets there.
fn conditional_plan(unmet: &[Gap]) -> GapPlan {
    let (must, may): (Vec<&Gap>, Vec<&Gap>) = unmet
        .iter()
        .partition(|g| g.eligible != Some(true) || g.status == Status::NotAssessed);
    let mut fixes: Vec<String> = must.iter().map(|g| g.requirement.clone()).collect();
    let mut score = MAX_SCORE - may.iter().map(|g| g.points.unwrap_or(0)).sum::<i64>();
    for gap in may {
        if score >= CONDITIONAL_FLOOR {
            break;
        }
        score += gap.points.unwrap_or(0);
        fixes.push(gap.requirement.clone());
    }
    GapPlan {
        fixes,
        score_after: score,
    }
}

/// The gap analysis of one assessment.
pub fn gaps(
    store: &Store,
    requester: Requester,
    org: OrgId,
    id: &str,
    client: &Client,
    now: i64,
) -> Result<Gaps, AssessError> {
    let id = parse_id(id)?;
    let grant = read_grant(store, requester, org, client, now)?;
    let read = store.read()?;
    let records = Records::read(&read.tenant(&grant)?, id)?;
    let outcome = records.outcome()?;
    from_records(&records, outcome.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gap(id: &str, points: i64, eligible: bool, status: Status) -> Gap {
        Gap {
            requirement: id.into(),
            label: id.into(),
            title: String::new(),
            status,
            points: Some(points),
            eligible: Some(eligible),
            why: None,
            poam: None,
        }
    }

    #[test]
    fn conditional_plan_fixes_the_ineligible_then_the_largest_eligible() {
        // 110 - 5 - 3 - 3*1 - 3 (3.13.11 eligible at 3) - 15 (fifteen 1-pointers) = 81.
        let mut unmet = vec![
            gap("3.1.1", 5, false, Status::NotMet),
            gap("3.1.5", 3, false, Status::NotMet),
            gap("3.13.11", 3, true, Status::NotMet),
        ];
        for n in 0..18 {
            unmet.push(gap(&format!("x{n}"), 1, true, Status::NotMet));
        }
        let plan = conditional_plan(&unmet);
        // Without the two ineligible: 110 - 3 - 18 = 89, already at least 88.
        assert_eq!(plan.fixes, ["3.1.1", "3.1.5"]);
        assert_eq!(plan.score_after, 89);

        for n in 18..24 {
            unmet.push(gap(&format!("x{n}"), 1, true, Status::NotMet));
        }
        // 110 - 3 - 24 = 83: 3.13.11 (3) then two 1-pointers reach 88.
        let plan = conditional_plan(&unmet);
        assert_eq!(plan.fixes, ["3.1.1", "3.1.5", "3.13.11", "x0", "x1"]);
        assert_eq!(plan.score_after, 88);
    }

    #[test]
    fn unassessed_requirements_must_be_assessed_even_when_eligible() {
        let unmet = vec![gap("3.1.3", 1, true, Status::NotAssessed)];
        let plan = conditional_plan(&unmet);
        assert_eq!(plan.fixes, ["3.1.3"]);
        assert_eq!(final_plan(&unmet).fixes, ["3.1.3"]);
    }
}
