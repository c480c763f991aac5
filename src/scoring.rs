//! SPRS score and CMMC status from objective determinations, exactly as SCORING.md states
//! the DoD Assessment Methodology v1.2.1 and 32 CFR 170.21/170.24. Pure: no store, no clock;
//! the pages, the API and `rampart score FILE` all call [`score`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

/// The Rev 2 requirements with their objectives and point values, built by
/// `scripts/build-controls` from the NIST and DoD sources.
const CATALOG_JSON: &str = include_str!("../controls/nist-800-171r2-scoring.json");

#[derive(Debug, Deserialize)]
pub struct Catalog {
    pub requirements: Vec<Requirement>,
    /// The 17 Rev 2 requirements of CMMC Level 1.
    pub level1: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct Requirement {
    pub id: String,
    pub family: String,
    /// The DoD AM point value; `None` for 3.5.3, 3.12.4 and 3.13.11.
    pub weight: Option<i64>,
    pub objectives: Vec<String>,
}

static CATALOG: LazyLock<Result<Catalog, String>> =
    LazyLock::new(|| serde_json::from_str(CATALOG_JSON).map_err(|err| err.to_string()));

pub fn catalog() -> Result<&'static Catalog, ScoreError> {
    CATALOG
        .as_ref()
        .map_err(|err| ScoreError::Catalog(err.clone()))
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScoreError {
    #[error("{0} is not an 800-171A objective of NIST SP 800-171 Rev 2")]
    UnknownObjective(String),
    #[error(
        "objective {objective}: {status:?} is not a status (use met, not_met, not_applicable or not_assessed)"
    )]
    UnknownStatus { objective: String, status: String },
    #[error("objective {0} is given more than once")]
    Duplicate(String),
    #[error("{list}: {id} is not a NIST SP 800-171 Rev 2 requirement")]
    UnknownRequirement { list: &'static str, id: String },
    #[error("{0}")]
    Input(String),
    #[error("the built-in catalog is unreadable: {0}")]
    Catalog(String),
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Met,
    NotMet,
    NotApplicable,
    NotAssessed,
}

impl Status {
    fn parse(objective: &str, text: &str) -> Result<Status, ScoreError> {
        match text.trim() {
            "met" => Ok(Status::Met),
            "not_met" => Ok(Status::NotMet),
            "not_applicable" => Ok(Status::NotApplicable),
            "not_assessed" => Ok(Status::NotAssessed),
            other => Err(ScoreError::UnknownStatus {
                objective: objective.to_owned(),
                status: other.to_owned(),
            }),
        }
    }
}

/// How far multifactor authentication goes, for 3.5.3's partial deduction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mfa {
    #[default]
    None,
    RemoteAndPrivilegedOnly,
}

/// How CUI is encrypted, for 3.13.11's partial deduction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encryption {
    #[default]
    None,
    NotFipsValidated,
}

/// What an assessment says, as SCORING.md section 5 takes it.
#[derive(Debug, Clone, Default)]
pub struct Input {
    pub objectives: BTreeMap<String, Status>,
    pub mfa: Mfa,
    pub encryption: Encryption,
    pub temporary_deficiencies: BTreeSet<String>,
    pub enduring_exceptions: BTreeSet<String>,
    pub equally_effective: BTreeSet<String>,
    /// Requirements with a plan of action; `None` when the input has no such list.
    pub plan_of_action: Option<BTreeSet<String>>,
    pub conditional_since: Option<time::Date>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Level1 {
    /// `met` or `not_met`.
    pub status: &'static str,
    pub failing: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Level2 {
    pub score: Option<i64>,
    /// `final`, `conditional` or `none`.
    pub status: &'static str,
    pub reasons: Vec<String>,
    pub poam_eligible: Vec<String>,
    pub not_eligible: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closeout_due: Option<String>,
}

/// The output contract of SCORING.md section 5.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Outcome {
    pub score: Option<i64>,
    pub complete: bool,
    pub reason: Option<&'static str>,
    pub deductions: BTreeMap<String, i64>,
    pub requirements: BTreeMap<String, Status>,
    pub level1: Level1,
    pub level2: Level2,
}

/// Level 1 requirements that Level 2 never lets onto a POA&M, and the SSP itself.
const NEVER_ON_POAM: &[&str] = &["3.1.20", "3.1.22", "3.10.3", "3.10.4", "3.10.5", "3.12.4"];
const MAX_SCORE: i64 = 110;
/// 80% of 110, rounded up: the conditional-status floor.
const CONDITIONAL_FLOOR: i64 = 88;
const CONDITIONAL_DAYS: i64 = 180;

/// Section 1: a requirement's status from its objectives.
fn requirement_status(req: &Requirement, objectives: &BTreeMap<String, Status>) -> Status {
    let of = |id: &String| objectives.get(id).copied().unwrap_or(Status::NotAssessed);
    if req.objectives.iter().any(|o| of(o) == Status::NotMet) {
        Status::NotMet
    } else if req.objectives.iter().any(|o| of(o) == Status::NotAssessed) {
        Status::NotAssessed
    } else if req
        .objectives
        .iter()
        .all(|o| of(o) == Status::NotApplicable)
    {
        Status::NotApplicable
    } else {
        Status::Met
    }
}

/// The deduction for a requirement counted not met, with the partial-credit rules.
fn deduction(req: &Requirement, input: &Input) -> i64 {
    match req.id.as_str() {
        "3.5.3" => match input.mfa {
            Mfa::None => 5,
            Mfa::RemoteAndPrivilegedOnly => 3,
        },
        "3.13.11" => match input.encryption {
            Encryption::None => 5,
            Encryption::NotFipsValidated => 3,
        },
        _ => req.weight.unwrap_or(0),
    }
}

fn poam_eligible(req: &Requirement, input: &Input) -> bool {
    let by_points = req.weight == Some(1) || (req.id == "3.13.11" && deduction(req, input) == 3);
    by_points && !NEVER_ON_POAM.contains(&req.id.as_str())
}

/// The points `requirement` takes when it is counted not met, with the partial-credit rules
/// for 3.5.3 and 3.13.11 (0 for 3.12.4, which has no point value).
pub fn points(requirement: &str, input: &Input) -> Result<i64, ScoreError> {
    Ok(deduction(find(requirement)?, input))
}

/// Whether `requirement` may be on a Level 2 POA&M, and why, in words for a person.
pub fn eligibility(requirement: &str, input: &Input) -> Result<(bool, String), ScoreError> {
    let req = find(requirement)?;
    let points = deduction(req, input);
    let eligible = poam_eligible(req, input);
    let why = if req.id == "3.12.4" {
        "the system security plan itself may never be on a POA&M".to_owned()
    } else if NEVER_ON_POAM.contains(&req.id.as_str()) {
        "a Level 1 requirement that Level 2 never lets be deferred".to_owned()
    } else if eligible && req.id == "3.13.11" {
        "encryption is employed but not FIPS-validated (3 points): may be on a POA&M".to_owned()
    } else if eligible {
        "worth 1 point: may be on a POA&M".to_owned()
    } else {
        format!("worth {points} points: only 1-point requirements may be on a POA&M")
    };
    Ok((eligible, why))
}

fn find(requirement: &str) -> Result<&'static Requirement, ScoreError> {
    catalog()?
        .requirements
        .iter()
        .find(|r| r.id == requirement)
        .ok_or_else(|| ScoreError::UnknownRequirement {
            list: "requirement",
            id: requirement.to_owned(),
        })
}

/// Scores `input` by SCORING.md.
pub fn score(input: &Input) -> Result<Outcome, ScoreError> {
    let catalog = catalog()?;
    let statuses: BTreeMap<String, Status> = catalog
        .requirements
        .iter()
        .map(|req| (req.id.clone(), requirement_status(req, &input.objectives)))
        .collect();
    let status_of = |id: &str| statuses.get(id).copied().unwrap_or(Status::NotAssessed);
    let unmet = |id: &str| matches!(status_of(id), Status::NotMet | Status::NotAssessed);
    let complete = !statuses.values().any(|s| *s == Status::NotAssessed);
    let ssp = !matches!(
        input.objectives.get("3.12.4[a]").copied(),
        None | Some(Status::NotMet) | Some(Status::NotAssessed)
    );

    // The DoD AM view: only an equally effective measure counts as met.
    let dod_unmet: Vec<&Requirement> = catalog
        .requirements
        .iter()
        .filter(|req| unmet(&req.id) && !input.equally_effective.contains(&req.id))
        .collect();
    let mut deductions: BTreeMap<String, i64> = dod_unmet
        .iter()
        .map(|req| (req.id.clone(), deduction(req, input)))
        .filter(|(_, points)| *points != 0)
        .collect();
    if let Some(plans) = &input.plan_of_action
        && dod_unmet.iter().any(|req| !plans.contains(&req.id))
    {
        deductions.entry("3.12.2".to_owned()).or_insert(3);
    }
    let score = ssp.then(|| MAX_SCORE - deductions.values().sum::<i64>());

    // The CMMC view: exceptions and temporary deficiencies count as met too.
    let cmmc_unmet: Vec<&Requirement> = catalog
        .requirements
        .iter()
        .filter(|req| {
            unmet(&req.id)
                && !input.equally_effective.contains(&req.id)
                && !input.enduring_exceptions.contains(&req.id)
                && !input.temporary_deficiencies.contains(&req.id)
        })
        .collect();
    let cmmc_score = ssp.then(|| {
        MAX_SCORE
            - cmmc_unmet
                .iter()
                .map(|req| deduction(req, input))
                .sum::<i64>()
    });
    let (eligible, not_eligible): (Vec<&Requirement>, Vec<&Requirement>) =
        cmmc_unmet.iter().partition(|req| poam_eligible(req, input));

    let mut reasons = Vec::new();
    if !ssp {
        reasons.push(
            "no system security plan (3.12.4[a] is not met): no score can be computed".to_owned(),
        );
    }
    if let Some(points) = cmmc_score
        && points < CONDITIONAL_FLOOR
    {
        reasons.push(format!(
            "the CMMC score {points} is below {CONDITIONAL_FLOOR}"
        ));
    }
    for req in &not_eligible {
        reasons.push(format!("{} may not be on a POA&M", req.id));
    }
    // Every requirement still not assessed, including one that a list counts as met in the
    // CMMC view: the assessment is incomplete, and an assessor would not accept that.
    for req in &catalog.requirements {
        if status_of(&req.id) == Status::NotAssessed {
            reasons.push(format!("{} is not assessed", req.id));
        }
    }
    let status = if ssp && cmmc_unmet.is_empty() {
        "final"
    } else if reasons.is_empty() {
        "conditional"
    } else {
        "none"
    };
    let closeout_due = match (status, input.conditional_since) {
        ("conditional", Some(since)) => {
            Some((since + time::Duration::days(CONDITIONAL_DAYS)).to_string())
        }
        _ => None,
    };

    let failing: Vec<String> = catalog
        .level1
        .iter()
        .filter(|id| cmmc_unmet.iter().any(|req| req.id == **id))
        .cloned()
        .collect();
    Ok(Outcome {
        score,
        complete,
        reason: (!ssp).then_some("no_ssp"),
        deductions,
        requirements: statuses,
        level1: Level1 {
            status: if failing.is_empty() { "met" } else { "not_met" },
            failing,
        },
        level2: Level2 {
            score: cmmc_score,
            status,
            reasons: if status == "final" {
                Vec::new()
            } else {
                reasons
            },
            poam_eligible: eligible.iter().map(|r| r.id.clone()).collect(),
            not_eligible: not_eligible.iter().map(|r| r.id.clone()).collect(),
            closeout_due,
        },
    })
}

/// The JSON input of section 5. Objectives are read as pairs so that a key given twice is
/// an error, not a silent overwrite.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonInput {
    objectives: ObjectivePairs,
    #[serde(default)]
    mfa: Mfa,
    #[serde(default)]
    encryption: Encryption,
    #[serde(default)]
    temporary_deficiencies: Vec<String>,
    #[serde(default)]
    enduring_exceptions: Vec<String>,
    #[serde(default)]
    equally_effective: Vec<String>,
    plan_of_action: Option<Vec<String>>,
    conditional_since: Option<String>,
}

struct ObjectivePairs(Vec<(String, String)>);

impl<'de> Deserialize<'de> for ObjectivePairs {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Pairs;
        impl<'de> serde::de::Visitor<'de> for Pairs {
            type Value = ObjectivePairs;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of objective id to status")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut pairs = Vec::new();
                while let Some(pair) = map.next_entry::<String, String>()? {
                    pairs.push(pair);
                }
                Ok(ObjectivePairs(pairs))
            }
        }
        deserializer.deserialize_map(Pairs)
    }
}

fn objectives_from(pairs: Vec<(String, String)>) -> Result<BTreeMap<String, Status>, ScoreError> {
    let catalog = catalog()?;
    let known: BTreeSet<&str> = catalog
        .requirements
        .iter()
        .flat_map(|r| r.objectives.iter().map(String::as_str))
        .collect();
    let mut out = BTreeMap::new();
    for (id, status) in pairs {
        let id = id.trim().to_owned();
        if !known.contains(id.as_str()) {
            return Err(ScoreError::UnknownObjective(id));
        }
        let status = Status::parse(&id, &status)?;
        if out.insert(id.clone(), status).is_some() {
            return Err(ScoreError::Duplicate(id));
        }
    }
    Ok(out)
}

fn requirement_list(list: &'static str, ids: Vec<String>) -> Result<BTreeSet<String>, ScoreError> {
    let catalog = catalog()?;
    ids.into_iter()
        .map(|id| {
            let id = id.trim().to_owned();
            if catalog.requirements.iter().any(|r| r.id == id) {
                Ok(id)
            } else {
                Err(ScoreError::UnknownRequirement { list, id })
            }
        })
        .collect()
}

/// Reads section 5's JSON input.
pub fn parse_json(text: &str) -> Result<Input, ScoreError> {
    let raw: JsonInput = serde_json::from_str(text)
        .map_err(|err| ScoreError::Input(format!("not valid input JSON: {err}")))?;
    let conditional_since = raw
        .conditional_since
        .map(|date| {
            time::Date::parse(
                &date,
                time::macros::format_description!("[year]-[month]-[day]"),
            )
            .map_err(|_| {
                ScoreError::Input(format!(
                    "conditional_since: {date:?} is not a date like 2026-03-01"
                ))
            })
        })
        .transpose()?;
    Ok(Input {
        objectives: objectives_from(raw.objectives.0)?,
        mfa: raw.mfa,
        encryption: raw.encryption,
        temporary_deficiencies: requirement_list(
            "temporary_deficiencies",
            raw.temporary_deficiencies,
        )?,
        enduring_exceptions: requirement_list("enduring_exceptions", raw.enduring_exceptions)?,
        equally_effective: requirement_list("equally_effective", raw.equally_effective)?,
        plan_of_action: raw
            .plan_of_action
            .map(|ids| requirement_list("plan_of_action", ids))
            .transpose()?,
        conditional_since,
    })
}

/// Reads section 5's CSV input: a header `objective,status`, then one row per objective.
pub fn parse_csv(text: &str) -> Result<Input, ScoreError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    match lines.next() {
        Some((_, header)) if header.trim().eq_ignore_ascii_case("objective,status") => {}
        _ => {
            return Err(ScoreError::Input(
                "the first line must be the header objective,status".into(),
            ));
        }
    }
    let mut pairs = Vec::new();
    for (index, line) in lines {
        let (id, status) = line.split_once(',').ok_or_else(|| {
            ScoreError::Input(format!("line {}: expected objective,status", index + 1))
        })?;
        pairs.push((id.trim().to_owned(), status.trim().to_owned()));
    }
    Ok(Input {
        objectives: objectives_from(pairs)?,
        ..Input::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(status: Status) -> BTreeMap<String, Status> {
        catalog()
            .unwrap()
            .requirements
            .iter()
            .flat_map(|r| r.objectives.iter().map(move |o| (o.clone(), status)))
            .collect()
    }

    fn met_except(unmet: &[&str]) -> Input {
        let mut objectives = all(Status::Met);
        for id in unmet {
            objectives.insert((*id).to_owned(), Status::NotMet);
        }
        Input {
            objectives,
            ..Input::default()
        }
    }

    fn set(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn shipped_catalog_has_the_source_counts() {
        let catalog = catalog().unwrap();
        assert_eq!(catalog.requirements.len(), 110);
        let families: BTreeSet<&str> = catalog
            .requirements
            .iter()
            .map(|r| r.family.as_str())
            .collect();
        assert_eq!(families.len(), 14);
        let objectives: usize = catalog
            .requirements
            .iter()
            .map(|r| r.objectives.len())
            .sum();
        assert_eq!(objectives, 320);
        let count = |w: Option<i64>| {
            catalog
                .requirements
                .iter()
                .filter(|r| r.weight == w)
                .count()
        };
        assert_eq!(
            (count(Some(5)), count(Some(3)), count(Some(1)), count(None)),
            (42, 14, 51, 3)
        );
        assert_eq!(catalog.level1.len(), 17);
    }

    #[test]
    fn worked_examples_1_to_6() {
        let out = score(&met_except(&[])).unwrap();
        assert_eq!(
            (out.score, out.level1.status, out.level2.status),
            (Some(110), "met", "final")
        );
        assert!(out.complete && out.deductions.is_empty());

        let out = score(&met_except(&["3.1.5[a]"])).unwrap();
        assert_eq!((out.score, out.level2.status), (Some(107), "none"));
        assert_eq!(out.level2.not_eligible, ["3.1.5"]);

        let out = score(&met_except(&["3.4.9[a]"])).unwrap();
        assert_eq!((out.score, out.level2.status), (Some(109), "conditional"));
        assert_eq!(out.level2.poam_eligible, ["3.4.9"]);

        let mut input = met_except(&["3.5.3[d]"]);
        input.mfa = Mfa::RemoteAndPrivilegedOnly;
        let out = score(&input).unwrap();
        assert_eq!((out.score, out.level2.status), (Some(107), "none"));

        let mut input = met_except(&["3.13.11"]);
        input.encryption = Encryption::NotFipsValidated;
        let out = score(&input).unwrap();
        assert_eq!((out.score, out.level2.status), (Some(107), "conditional"));

        let out = score(&met_except(&["3.12.4[a]"])).unwrap();
        assert_eq!(
            (out.score, out.reason, out.level2.score),
            (None, Some("no_ssp"), None)
        );
        assert_eq!(out.level2.status, "none");
    }

    #[test]
    fn worked_examples_7_to_12() {
        let out = score(&met_except(&["3.1.20[a]"])).unwrap();
        assert_eq!(
            (out.score, out.level1.status, out.level2.status),
            (Some(109), "not_met", "none")
        );
        assert_eq!(out.level1.failing, ["3.1.20"]);

        let mut objectives = all(Status::NotMet);
        objectives.insert("3.12.4[a]".into(), Status::Met);
        let out = score(&Input {
            objectives,
            ..Input::default()
        })
        .unwrap();
        assert_eq!(
            (out.score, out.level1.status, out.level2.status),
            (Some(-203), "not_met", "none")
        );

        let mut input = met_except(&[]);
        input
            .objectives
            .insert("3.1.16[a]".into(), Status::NotApplicable);
        input
            .objectives
            .insert("3.1.16[b]".into(), Status::NotApplicable);
        let out = score(&input).unwrap();
        assert_eq!((out.score, out.level2.status), (Some(110), "final"));
        assert_eq!(out.requirements["3.1.16"], Status::NotApplicable);

        let mut input = met_except(&[]);
        input.objectives.remove("3.1.1[a]");
        let out = score(&input).unwrap();
        assert_eq!((out.score, out.complete), (Some(105), false));
        assert_eq!(out.requirements["3.1.1"], Status::NotAssessed);
        assert!(
            out.level2
                .reasons
                .iter()
                .any(|r| r.contains("3.1.1 is not assessed"))
        );

        let mut input = met_except(&["3.4.9[a]"]);
        input.temporary_deficiencies = set(&["3.4.9"]);
        let out = score(&input).unwrap();
        assert_eq!(
            (out.score, out.level2.score, out.level2.status),
            (Some(109), Some(110), "final")
        );

        let mut input = met_except(&["3.1.5[a]", "3.4.9[a]"]);
        input.plan_of_action = Some(set(&["3.4.9"]));
        let out = score(&input).unwrap();
        assert_eq!((out.score, out.level2.score), (Some(103), Some(106)));
        assert_eq!(out.deductions["3.12.2"], 3);
    }

    #[test]
    fn the_section_5_example_scores_as_documented() {
        let mut input = met_except(&["3.1.5[a]", "3.4.9[b]", "3.13.11"]);
        input.mfa = Mfa::RemoteAndPrivilegedOnly;
        input.encryption = Encryption::NotFipsValidated;
        input.temporary_deficiencies = set(&["3.4.9"]);
        input.plan_of_action = Some(set(&["3.1.5", "3.4.9", "3.13.11"]));
        let out = score(&input).unwrap();
        assert_eq!(out.score, Some(103));
        assert_eq!(out.level2.score, Some(104));
        assert_eq!(out.level2.poam_eligible, ["3.13.11"]);
        assert_eq!(out.level2.not_eligible, ["3.1.5"]);
        assert_eq!(out.level2.reasons, ["3.1.5 may not be on a POA&M"]);
    }

    #[test]
    fn conditional_status_has_a_closeout_date() {
        let mut input = met_except(&["3.4.9[a]"]);
        input.conditional_since = Some(time::macros::date!(2026 - 03 - 01));
        let out = score(&input).unwrap();
        assert_eq!(out.level2.closeout_due.as_deref(), Some("2026-08-28"));
    }

    #[test]
    fn a_requirement_not_assessed_rules_out_conditional_even_when_listed() {
        // 3.4.9 alone is conditional (example 3); 3.1.7 left unassessed, though a
        // temporary deficiency counts it met in the CMMC view, leaves the assessment
        // incomplete, and section 3 gives an incomplete assessment no conditional status.
        let mut input = met_except(&["3.4.9[a]"]);
        input.objectives.remove("3.1.7[a]");
        input.temporary_deficiencies = set(&["3.1.7"]);
        let out = score(&input).unwrap();
        assert_eq!(
            (out.complete, out.level2.score, out.level2.status),
            (false, Some(109), "none")
        );
        assert_eq!(out.level2.reasons, ["3.1.7 is not assessed"]);
    }

    #[test]
    fn bad_input_names_the_problem() {
        let err = |text: &str| parse_json(text).unwrap_err().to_string();
        assert!(err(r#"{"objectives": {"3.99.1[a]": "met"}}"#).contains("3.99.1[a]"));
        assert!(err(r#"{"objectives": {"3.1.1[a]": "done"}}"#).contains("\"done\""));
        assert!(
            err(r#"{"objectives": {"3.1.1[a]": "met", "3.1.1[a]": "not_met"}}"#)
                .contains("more than once")
        );
        assert!(
            err(r#"{"objectives": {}, "plan_of_action": ["9.9.9"]}"#)
                .contains("plan_of_action: 9.9.9")
        );
        assert!(err(r#"{"objectives": {}, "mfa": "sometimes"}"#).contains("sometimes"));
        assert!(err(r#"{"objective": {}}"#).contains("objective"));
        let csv = |text: &str| parse_csv(text).unwrap_err().to_string();
        assert!(csv("objective,status\n3.1.1[a],met\n3.1.1[a],met\n").contains("more than once"));
        assert!(csv("id,state\n").contains("header"));
        assert!(csv("objective,status\n3.1.1[a] met\n").contains("line 2"));
        assert_eq!(
            parse_csv("objective,status\n3.1.1[a],met\n")
                .unwrap()
                .objectives
                .len(),
            1
        );
    }
}
