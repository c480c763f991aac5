//! From an assessment's records to the numbers people act on: the scoring input, the score,
//! status per family, the score over time, the status deadlines, and the dashboard.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, LazyLock};

use serde::{Deserialize, Serialize};
use time::{Date, Duration};

use super::records::{
    Determination, RequirementDetail, details_of, determinations_of, requirement_status,
};
use super::{
    AssessError, Assessment, Gap, PoamStatus, load, parse_date, parse_id, poam, read_grant,
};
use crate::access::Requester;
use crate::auth::Client;
use crate::catalog::CatalogRef;
use crate::scoring::{self, Encryption, Mfa, Outcome, Status};
use crate::store::{GenerationCache, OrgId, Store, Tenant, TenantGet, TenantTable};

/// Assessment id || `YYYY-MM-DD` -> [`ScorePoint`]: the last score of each day.
const TREND: TenantTable = TenantTable::new("t.score_trend");
/// The dashboard's trend covers this many recorded days.
const TREND_POINTS: usize = 120;

/// The score at the end of one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScorePoint {
    pub date: String,
    /// The DoD AM score; `None` without an SSP or for a framework without one.
    pub score: Option<i64>,
    pub cmmc_score: Option<i64>,
    /// Requirements met (or not applicable), of `total`.
    pub met: usize,
    pub total: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StatusCounts {
    pub met: usize,
    pub not_met: usize,
    pub not_applicable: usize,
    pub not_assessed: usize,
}

impl StatusCounts {
    fn add(&mut self, status: Status) {
        match status {
            Status::Met => self.met += 1,
            Status::NotMet => self.not_met += 1,
            Status::NotApplicable => self.not_applicable += 1,
            Status::NotAssessed => self.not_assessed += 1,
        }
    }

    pub fn total(&self) -> usize {
        self.met + self.not_met + self.not_applicable + self.not_assessed
    }

    /// Met or not applicable, in whole percent of the total.
    pub fn percent_done(&self) -> usize {
        match self.total() {
            0 => 0,
            total => (self.met + self.not_applicable) * 100 / total,
        }
    }
}

/// Requirement statuses in one family (Rev 2 and 3) or function (CSF).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FamilyProgress {
    pub id: String,
    pub title: String,
    pub requirements: StatusCounts,
}

/// A status date coming up or gone by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Deadline {
    /// `closeout`, `final_expiry`, `affirmation` or `level1_affirmation`.
    pub kind: &'static str,
    pub what: String,
    pub due: String,
    /// Negative once past.
    pub days_left: i64,
}

/// An assessment at a glance.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Dashboard {
    pub assessment: Assessment,
    /// The framework's title.
    pub framework: String,
    /// Whether the SPRS score and CMMC status apply to this framework.
    pub scored: bool,
    /// SCORING.md section 5 output, for scored frameworks.
    pub outcome: Option<Outcome>,
    pub requirements: StatusCounts,
    pub objectives: StatusCounts,
    pub families: Vec<FamilyProgress>,
    pub deadlines: Vec<Deadline>,
    /// The five unmet requirements worth most.
    pub top_gaps: Vec<Gap>,
    /// Drift in this assessment: regressions, overdue milestones, dates due.
    pub drift: Vec<super::drift::DriftItem>,
    /// Oldest first.
    pub trend: Vec<ScorePoint>,
}

pub(crate) use crate::dates::today;

fn date_of(text: &Option<String>) -> Option<Date> {
    text.as_deref().and_then(|t| parse_date("date", t).ok())
}

fn plus_years(date: Date, years: i32) -> Date {
    // 29 February has no twin in a common year: the term ends on 28 February.
    Date::from_calendar_date(date.year() + years, date.month(), date.day())
        .or_else(|_| Date::from_calendar_date(date.year() + years, date.month(), 28))
        .unwrap_or(date)
}

/// The status dates of an assessment with days left, soonest first.
pub(crate) fn deadlines(assessment: &Assessment, today: Date) -> Vec<Deadline> {
    let dates = &assessment.dates;
    let mut out = Vec::new();
    let mut push = |kind: &'static str, what: &str, due: Date| {
        out.push(Deadline {
            kind,
            what: what.to_owned(),
            due: due.to_string(),
            days_left: (due - today).whole_days(),
        })
    };
    if let Some(conditional) = date_of(&dates.conditional_status_date)
        && date_of(&dates.final_status_date).is_none_or(|f| f < conditional)
    {
        push(
            "closeout",
            "POA&M closeout (conditional status lapses)",
            conditional + Duration::days(180),
        );
    }
    if let Some(granted) = date_of(&dates.final_status_date) {
        push(
            "final_expiry",
            "final Level 2 status expires",
            plus_years(granted, 3),
        );
        let last = date_of(&dates.affirmed_on).map_or(granted, |a| a.max(granted));
        push(
            "affirmation",
            "yearly Level 2 affirmation",
            plus_years(last, 1),
        );
    }
    if let Some(affirmed) = date_of(&dates.level1_affirmed_on) {
        push(
            "level1_affirmation",
            "yearly Level 1 affirmation",
            plus_years(affirmed, 1),
        );
    }
    out.sort_by_key(|d| d.days_left);
    out
}

/// The SCORING.md input an assessment's records amount to. The plan-of-action list is the
/// requirements with an open POA&M item.
pub(crate) fn scoring_input(
    assessment: &Assessment,
    decided: &BTreeMap<String, Determination>,
    details: &BTreeMap<String, RequirementDetail>,
    planned: BTreeSet<String>,
) -> scoring::Input {
    let marked = |pick: fn(&RequirementDetail) -> bool| -> BTreeSet<String> {
        details
            .iter()
            .filter(|(_, d)| pick(d))
            .map(|(id, _)| id.clone())
            .collect()
    };
    scoring::Input {
        objectives: decided
            .iter()
            .map(|(id, d)| (id.clone(), d.status))
            .collect(),
        mfa: if details.get("3.5.3").is_some_and(|d| d.mfa_partial) {
            Mfa::RemoteAndPrivilegedOnly
        } else {
            Mfa::None
        },
        encryption: if details.get("3.13.11").is_some_and(|d| d.encryption_partial) {
            Encryption::NotFipsValidated
        } else {
            Encryption::None
        },
        temporary_deficiencies: marked(|d| d.temporary_deficiency.is_some()),
        enduring_exceptions: marked(|d| d.enduring_exception.is_some()),
        equally_effective: marked(|d| d.equally_effective.is_some()),
        plan_of_action: Some(planned),
        conditional_since: date_of(&assessment.dates.conditional_status_date),
    }
}

/// Everything the summaries read, from one snapshot.
pub struct Records {
    pub assessment: Assessment,
    pub catalog: CatalogRef,
    pub decided: BTreeMap<String, Determination>,
    pub details: BTreeMap<String, RequirementDetail>,
    pub poam: Vec<super::PoamItem>,
}

impl Records {
    /// The records of assessment `id` (as the API spells it) in `tenant`'s snapshot.
    pub fn of(tenant: &impl TenantGet, id: &str) -> Result<Records, AssessError> {
        Records::read(tenant, super::parse_id(id)?)
    }

    /// A requirement's status, from its objectives.
    pub fn status_of(&self, requirement: &crate::catalog::Requirement) -> Status {
        requirement_status(requirement, &self.decided)
    }

    /// The gap analysis, given the outcome [`Records::outcome`] computed.
    pub fn gaps(&self, outcome: Option<&Outcome>) -> Result<super::Gaps, AssessError> {
        super::gaps::from_records(self, outcome)
    }

    pub fn read(tenant: &impl TenantGet, id: uuid::Uuid) -> Result<Records, AssessError> {
        let assessment = load(tenant, id)?;
        Ok(Records {
            catalog: assessment.catalog(tenant)?,
            assessment,
            decided: determinations_of(tenant, id)?,
            details: details_of(tenant, id)?,
            poam: poam::items_of(tenant, id)?,
        })
    }

    pub fn input(&self) -> scoring::Input {
        scoring_input(
            &self.assessment,
            &self.decided,
            &self.details,
            planned(&self.poam),
        )
    }

    /// The scoring outcome, for scored frameworks.
    pub fn outcome(&self) -> Result<Option<Outcome>, AssessError> {
        if !self.assessment.scored() {
            return Ok(None);
        }
        Ok(Some(scoring::score(&self.input())?))
    }

    /// Requirement statuses per family, and the totals of requirements and objectives.
    pub fn progress(
        &self,
    ) -> Result<(Vec<FamilyProgress>, StatusCounts, StatusCounts), AssessError> {
        let catalog = &self.catalog;
        let mut families = Vec::new();
        let mut requirements = StatusCounts::default();
        let mut objectives = StatusCounts::default();
        for family in &catalog.families {
            let mut counts = StatusCounts::default();
            for requirement in family.requirements.iter().filter(|r| !r.withdrawn) {
                let status = requirement_status(requirement, &self.decided);
                counts.add(status);
                requirements.add(status);
                for objective in &requirement.objectives {
                    objectives.add(
                        self.decided
                            .get(&objective.id)
                            .map_or(Status::NotAssessed, |d| d.status),
                    );
                }
            }
            if counts.total() > 0 {
                families.push(FamilyProgress {
                    id: family.id.clone(),
                    title: family.title.clone(),
                    requirements: counts,
                });
            }
        }
        Ok((families, requirements, objectives))
    }
}

/// What an unmet requirement costs, whether it may be on a POA&M, and why; all `None` for
/// a framework without a score.
pub(crate) struct Standing {
    pub points: Option<i64>,
    pub eligible: Option<bool>,
    pub why: Option<String>,
}

pub(crate) fn standing(
    scored: bool,
    requirement: &str,
    input: &scoring::Input,
) -> Result<Standing, AssessError> {
    if !scored {
        return Ok(Standing {
            points: None,
            eligible: None,
            why: None,
        });
    }
    let (eligible, why) = scoring::eligibility(requirement, input)?;
    Ok(Standing {
        points: Some(scoring::points(requirement, input)?),
        eligible: Some(eligible),
        why: Some(why),
    })
}

pub(crate) fn planned(items: &[super::PoamItem]) -> BTreeSet<String> {
    items
        .iter()
        .filter(|item| item.status == PoamStatus::Open)
        .map(|item| item.requirement.clone())
        .collect()
}

/// Writes today's score point after a change.
pub(crate) fn record_point(
    tenant: &Tenant<'_>,
    assessment: &Assessment,
    catalog: &CatalogRef,
    id: uuid::Uuid,
    decided: &BTreeMap<String, Determination>,
    details: &BTreeMap<String, RequirementDetail>,
    now: i64,
) -> Result<(), AssessError> {
    let records = Records {
        assessment: assessment.clone(),
        catalog: catalog.clone(),
        decided: decided.clone(),
        details: details.clone(),
        poam: poam::items_of(tenant, id)?,
    };
    write_point(tenant, &records, id, now)
}

pub(crate) fn write_point(
    tenant: &Tenant<'_>,
    records: &Records,
    id: uuid::Uuid,
    now: i64,
) -> Result<(), AssessError> {
    let outcome = records.outcome()?;
    let (_, requirements, _) = records.progress()?;
    let date = today(now).to_string();
    let point = ScorePoint {
        date: date.clone(),
        score: outcome.as_ref().and_then(|o| o.score),
        cmmc_score: outcome.as_ref().and_then(|o| o.level2.score),
        met: requirements.met + requirements.not_applicable,
        total: requirements.total(),
    };
    tenant.put(
        TREND,
        &super::row_key(id, &date),
        &serde_json::to_vec(&point)?,
    )?;
    Ok(())
}

fn trend_of(tenant: &impl TenantGet, id: uuid::Uuid) -> Result<Vec<ScorePoint>, AssessError> {
    let rows = tenant.list_prefix(TREND, id.as_bytes())?;
    let skip = rows.len().saturating_sub(TREND_POINTS);
    rows.into_iter()
        .skip(skip)
        .map(|(_, bytes)| Ok(serde_json::from_slice(&bytes)?))
        .collect()
}

/// SCORING.md section 5 output for an assessment of a scored framework.
pub fn score(
    store: &Store,
    requester: Requester,
    org: OrgId,
    id: &str,
    client: &Client,
    now: i64,
) -> Result<Outcome, AssessError> {
    let id = parse_id(id)?;
    let grant = read_grant(store, requester, org, client, now)?;
    let read = store.read()?;
    let records = Records::read(&read.tenant(&grant)?, id)?;
    records.outcome()?.ok_or_else(|| {
        AssessError::Conflict(format!(
            "{} has no SPRS score; its dashboard shows status per family",
            records.catalog.title
        ))
    })
}

/// Everything the dashboard shows, from one snapshot.
pub fn dashboard(
    store: &Store,
    requester: Requester,
    org: OrgId,
    id: &str,
    client: &Client,
    now: i64,
) -> Result<Arc<Dashboard>, AssessError> {
    let id = parse_id(id)?;
    let grant = read_grant(store, requester, org, client, now)?;
    let today = today(now);
    if let Some(kept) = kept_for(store, org, id, today) {
        return Ok(kept);
    }
    // Read before the snapshot: what is kept under it is at least as new as it says.
    let generation = store.generation();
    let read = store.read()?;
    let tenant = read.tenant(&grant)?;
    let records = Records::read(&tenant, id)?;
    let outcome = records.outcome()?;
    let (families, requirements, objectives) = records.progress()?;
    let mut top_gaps = super::gaps::from_records(&records, outcome.as_ref())?.unmet;
    top_gaps.truncate(5);
    let dashboard = Dashboard {
        deadlines: deadlines(&records.assessment, today),
        drift: super::drift::of_assessment(&records, org, today)?,
        trend: trend_of(&tenant, id)?,
        scored: records.assessment.scored(),
        framework: records.catalog.title.clone(),
        assessment: records.assessment,
        outcome,
        requirements,
        objectives,
        families,
        top_gaps,
    };
    let dashboard = Arc::new(dashboard);
    DASHBOARDS.put((org, id), generation, (today, Arc::clone(&dashboard)));
    Ok(dashboard)
}

/// [`dashboard`] as kept since the last commit, for a member allowed to read it, without
/// reading the store: `None` when anything would have to be read (or audited).
pub fn kept_dashboard(
    store: &Store,
    requester: Requester,
    org: OrgId,
    id: &str,
    now: i64,
) -> Option<Arc<Dashboard>> {
    crate::access::kept_member_role(store, requester, org, crate::access::Permission::Read)?;
    kept_for(store, org, parse_id(id).ok()?, today(now))
}

/// The dashboard kept for `today` since the last commit.
fn kept_for(store: &Store, org: OrgId, id: uuid::Uuid, today: Date) -> Option<Arc<Dashboard>> {
    let (day, kept) = DASHBOARDS.get(store, &(org, id))?;
    (day == today).then_some(kept)
}

/// Organization and assessment -> the dashboard as of a store generation, with the day it
/// was made for. A dashboard reads and decrypts every determination of its assessment and
/// is read far more often than anything changes; any commit or a new day makes an entry
/// stale. Only reached once the organization's access check has passed.
static DASHBOARDS: LazyLock<GenerationCache<(OrgId, uuid::Uuid), DayDashboard>> =
    LazyLock::new(|| GenerationCache::new(1_000));

type DayDashboard = (Date, Arc<Dashboard>);
