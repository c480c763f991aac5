//! An organization at a glance: each assessment's scores and status, what falls due next,
//! how much has drifted, and how far a new organization is with its first steps. Read from
//! one snapshot, and kept until the next commit or the next day.

use std::sync::{Arc, LazyLock};

use time::Date;

use crate::access::{Requester, SystemGrant};
use crate::auth::Client;
use crate::scoring::Outcome;
use crate::store::{GenerationCache, OrgId, Store};

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
    /// Members of the organization, for the "invite your team" step.
    pub members: usize,
}

/// Organization -> its overview as of a store generation, with the day it was made for.
/// The overview decrypts every determination of every assessment and every evidence
/// record, and members open it far more often than anything changes. Filled only after
/// the organization's access check has passed.
static OVERVIEWS: LazyLock<GenerationCache<OrgId, (Date, Arc<Overview>)>> =
    LazyLock::new(|| GenerationCache::new(1_000));

/// [`overview`] as kept since the last commit, for a member allowed to read it, without
/// reading the store: `None` when anything would have to be read (or audited).
pub fn kept_overview(
    store: &Store,
    requester: Requester,
    org: OrgId,
    now: i64,
) -> Option<Arc<Overview>> {
    crate::access::kept_member_role(store, requester, org, crate::access::Permission::Read)?;
    let (day, kept) = OVERVIEWS.get(store, &org)?;
    (day == today(now)).then_some(kept)
}

/// The overview of `org`, for whoever may read it.
pub fn overview(
    store: &Store,
    requester: Requester,
    org: OrgId,
    client: &Client,
    now: i64,
) -> Result<Arc<Overview>, AssessError> {
    let grant = read_grant(store, requester, org, client, now)?;
    if let Some((day, kept)) = OVERVIEWS.get(store, &org)
        && day == today(now)
    {
        return Ok(kept);
    }
    // Read before the snapshot: what is kept under it is at least as new as it says.
    let generation = store.generation();
    let read = store.read()?;
    let members = crate::access::members_of(&read.system(&SystemGrant::internal())?, org)?.len();
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
    let overview = Arc::new(Overview {
        assessments,
        upcoming,
        upcoming_total,
        drift: drift::of_org(&tenant, org, now)?,
        open_poam_items: upcoming::open_poam_items(&tenant)?,
        evidence_files: crate::evidence::current_of(&tenant, now)?.len(),
        members,
    });
    OVERVIEWS.put(org, generation, (today(now), Arc::clone(&overview)));
    Ok(overview)
}
