//! Drift: what regressed or is lapsing. One function computes it; the pages and the API
//! list it, and the scheduled drift check mails what is new.

use serde::Serialize;
use time::Date;

use super::poam::next_due;
use super::records::requirement_status;
use super::summary::{Records, deadlines, today};
use super::{AssessError, Assessment, PoamStatus, parse_date, read_grant};
use crate::access::Requester;
use crate::auth::Client;
use crate::scoring::Status;
use crate::store::{OrgId, Store, TenantGet};

/// A status or affirmation date this close is drift.
const DUE_WITHIN_DAYS: i64 = 30;

/// One thing to fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DriftItem {
    /// Stable across runs, so an alert is sent once per item: kind, assessment, subject.
    pub key: String,
    /// `regression`, `review_overdue`, `milestone_overdue`, `evidence_review`, or a deadline kind: `closeout`,
    /// `final_expiry`, `affirmation`, `level1_affirmation`.
    pub kind: String,
    pub assessment_id: String,
    pub assessment: String,
    pub requirement: Option<String>,
    pub label: Option<String>,
    /// What happened, without requirement text or notes.
    pub message: String,
    /// `YYYY-MM-DD`: when it happened or falls due.
    pub date: String,
    /// Days until `date`; negative once past.
    pub days: i64,
    /// The page that fixes it, relative to the appliance.
    pub link: String,
}

fn link(org: &str, assessment: &Assessment, rest: &str) -> String {
    format!("/orgs/{org}/assessments/{}{rest}", assessment.id)
}

/// The drift of one assessment as of `today`, most urgent first.
pub(crate) fn of_assessment(
    records: &Records,
    org: OrgId,
    today: Date,
) -> Result<Vec<DriftItem>, AssessError> {
    let assessment = &records.assessment;
    let catalog = &records.catalog;
    let org = org.to_string();
    let org = org.as_str();
    let mut items = Vec::new();
    let item = |kind: &str,
                requirement: Option<(&str, &str)>,
                message: String,
                date: Date,
                link: String| DriftItem {
        key: format!(
            "{kind}:{}:{}",
            assessment.id,
            requirement.map_or("", |(id, _)| id)
        ),
        kind: kind.to_owned(),
        assessment_id: assessment.id.clone(),
        assessment: assessment.name.clone(),
        requirement: requirement.map(|(id, _)| id.to_owned()),
        label: requirement.map(|(_, label)| label.to_owned()),
        message,
        date: date.to_string(),
        days: (date - today).whole_days(),
        link,
    };
    for requirement in catalog.current_requirements() {
        let Some(detail) = records.details.get(&requirement.id) else {
            continue;
        };
        let subject = Some((requirement.id.as_str(), requirement.label.as_str()));
        let page = link(
            org,
            assessment,
            &format!("/requirements/{}", requirement.id),
        );
        if let Some(at) = detail.regressed_at
            && requirement_status(requirement, &records.decided) == Status::NotMet
        {
            items.push(item(
                "regression",
                subject,
                format!("{} went from met to not met", requirement.label),
                super::summary::today(at),
                page.clone(),
            ));
        }
        if let Some(review) = detail
            .review_date
            .as_deref()
            .and_then(|d| parse_date("review_date", d).ok())
            && review < today
        {
            items.push(item(
                "review_overdue",
                subject,
                format!("{} was due for review", requirement.label),
                review,
                page,
            ));
        }
    }
    for poam in records.poam.iter().filter(|p| p.status == PoamStatus::Open) {
        if let Some((due, true)) = next_due(poam, today)
            && let Ok(due) = parse_date("due", &due)
        {
            let label = catalog
                .requirement(&poam.requirement)
                .map_or(poam.requirement.as_str(), |r| r.label.as_str());
            items.push(item(
                "milestone_overdue",
                Some((poam.requirement.as_str(), label)),
                format!("a POA&M milestone for {label} is overdue"),
                due,
                link(org, assessment, "/poam"),
            ));
        }
    }
    for deadline in deadlines(assessment, today) {
        if deadline.days_left <= DUE_WITHIN_DAYS
            && let Ok(due) = parse_date("due", &deadline.due)
        {
            items.push(item(
                deadline.kind,
                None,
                if deadline.days_left < 0 {
                    format!("{} was due", deadline.what)
                } else {
                    format!("{} is due in {} days", deadline.what, deadline.days_left)
                },
                due,
                link(org, assessment, ""),
            ));
        }
    }
    items.sort_by(|a, b| a.days.cmp(&b.days).then(a.key.cmp(&b.key)));
    Ok(items)
}

/// Drift across every assessment of the organization `tenant` belongs to, as of `now`.
pub fn of_org(
    tenant: &impl TenantGet,
    org: OrgId,
    now: i64,
) -> Result<Vec<DriftItem>, AssessError> {
    let today = today(now);
    let mut items = Vec::new();
    for assessment in super::all(tenant)? {
        let id = super::parse_id(&assessment.id)?;
        let records = Records::read(tenant, id)?;
        items.extend(of_assessment(&records, org, today)?);
    }
    for evidence in crate::evidence::with_review_status(tenant, "overdue", now)? {
        let Some(date) = evidence.meta.review_by.as_deref() else {
            continue;
        };
        let date = parse_date("review_by", date)?;
        items.push(DriftItem {
            key: format!("evidence_review/{}/{date}", evidence.id),
            kind: "evidence_review".to_owned(),
            assessment_id: String::new(),
            assessment: String::new(),
            requirement: evidence.meta.requirements.first().cloned(),
            label: None,
            // Mail carries this: no evidence names.
            message: "An evidence file is past its review date".to_owned(),
            date: date.to_string(),
            days: (date - today).whole_days(),
            link: format!("/orgs/{org}/evidence/{}", evidence.id),
        });
    }
    items.sort_by(|a, b| a.days.cmp(&b.days).then(a.key.cmp(&b.key)));
    Ok(items)
}

/// The organization's drift, for whoever may read it.
pub fn for_org(
    store: &Store,
    requester: Requester,
    org: OrgId,
    client: &Client,
    now: i64,
) -> Result<Vec<DriftItem>, AssessError> {
    let grant = read_grant(store, requester, org, client, now)?;
    let read = store.read()?;
    of_org(&read.tenant(&grant)?, org, now)
}
