//! An organization at a glance: each assessment's scores and status, what falls due next,
//! how much has drifted, and how far a new organization is with its first steps. Read from
//! one snapshot.

use crate::access::Requester;
use crate::auth::Client;
use crate::scoring::Outcome;
use crate::store::{OrgId, Store};

use super::summary::{Records, today};
use super::upcoming::{self, Upcoming};
use super::{AssessError, PoamStatus, StatusCounts, all, drift, read_grant};

/// How many deadlines the overview lists.
const DEADLINES_SHOWN: usize = 8;

/// One assessment on the overview.
pub struct AssessmentCard {
    pub id: String,
    pub name: String,
    pub framework: String,
    /// SCORING.md section 5 output, for scored frameworks.
    pub outcome: Option<Outcome>,
    pub requirements: StatusCounts,
    pub objectives: StatusCounts,
    /// POA&M items still open, and closed.
    pub open_poam: usize,
    pub closed_poam: usize,
}

/// What the overview shows.
pub struct Overview {
    /// Newest first.
    pub assessments: Vec<AssessmentCard>,
    /// What falls due in the next 30 days, soonest first (at most a handful).
    pub upcoming: Vec<Upcoming>,
    /// How many deadlines fall due in the next 30 days in all.
    pub upcoming_total: usize,
    /// Drift: regressions, overdue milestones, lapsed reviews.
    pub drift: Vec<drift::DriftItem>,
    pub open_poam_items: usize,
    pub evidence_files: usize,
}

/// The overview of `org`, for whoever may read it.
pub fn overview(
    store: &Store,
    requester: Requester,
    org: OrgId,
    client: &Client,
    now: i64,
) -> Result<Overview, AssessError> {
    let grant = read_grant(store, requester, org, client, now)?;
    let read = store.read()?;
    let tenant = read.tenant(&grant)?;
    let mut assessments = Vec::new();
    for assessment in all(&tenant)? {
        let records = Records::read(&tenant, super::parse_id(&assessment.id)?)?;
        let outcome = records.outcome()?;
        let (_, requirements, objectives) = records.progress()?;
        assessments.push(AssessmentCard {
            id: assessment.id.clone(),
            name: assessment.name.clone(),
            framework: records.catalog.title.clone(),
            outcome,
            requirements,
            objectives,
            open_poam: records
                .poam
                .iter()
                .filter(|p| p.status == PoamStatus::Open)
                .count(),
            closed_poam: records
                .poam
                .iter()
                .filter(|p| p.status != PoamStatus::Open)
                .count(),
        });
    }
    let mut upcoming = upcoming::of_org(&tenant, org, today(now), now)?;
    let upcoming_total = upcoming.len();
    upcoming.truncate(DEADLINES_SHOWN);
    Ok(Overview {
        assessments,
        upcoming,
        upcoming_total,
        drift: drift::of_org(&tenant, org, now)?,
        open_poam_items: upcoming::open_poam_items(&tenant)?,
        evidence_files: crate::evidence::current_of(&tenant, now)?.len(),
    })
}
