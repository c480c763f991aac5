//! What falls due in the next 30 days, and who answers for it: the input of the deadline
//! reminders. Past dates are drift ([`super::drift`]), not reminders.

use time::Date;

use super::summary::{Records, deadlines};
use super::{AssessError, PoamStatus, parse_date};
use crate::store::{OrgId, TenantGet};

/// Reminders look this far ahead.
pub const AHEAD_DAYS: i64 = 30;

/// One dated obligation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upcoming {
    /// Stable while the obligation and its date stand, so a reminder for it is sent once
    /// per threshold; a new date is a new obligation.
    pub key: String,
    /// `milestone`, `closeout`, `final_expiry`, `affirmation`, `level1_affirmation` or
    /// `evidence_review`.
    pub kind: &'static str,
    /// What is due, without controlled content: safe for any mail.
    pub what: String,
    /// The same with the requirement and the milestone's or file's title, for
    /// organizations that allow detail in mail.
    pub detail: String,
    pub due: Date,
    pub days: i64,
    /// Account ids of the people responsible (besides the owners, who hear of everything).
    pub responsible: Vec<String>,
    /// The page that deals with it, relative to the appliance.
    pub link: String,
}

/// Every obligation of the organization `tenant` belongs to that falls due from `today`
/// to [`AHEAD_DAYS`] later, soonest first.
pub fn of_org(
    tenant: &impl TenantGet,
    org: OrgId,
    today: Date,
    now: i64,
) -> Result<Vec<Upcoming>, AssessError> {
    let mut out = Vec::new();
    let ahead = |due: Date| {
        let days = (due - today).whole_days();
        (0..=AHEAD_DAYS).contains(&days).then_some(days)
    };
    for assessment in super::all(tenant)? {
        let records = Records::read(tenant, super::parse_id(&assessment.id)?)?;
        let base = format!("/orgs/{org}/assessments/{}", assessment.id);
        for item in records.poam.iter().filter(|p| p.status == PoamStatus::Open) {
            for (n, milestone) in item.milestones.iter().enumerate() {
                let Ok(due) = parse_date("due", &milestone.due) else {
                    continue;
                };
                let Some(days) = ahead(due).filter(|_| milestone.done_on.is_none()) else {
                    continue;
                };
                out.push(Upcoming {
                    key: format!("milestone:{}:{}:{n}:{due}", assessment.id, item.requirement),
                    kind: "milestone",
                    what: "A POA&M milestone".to_owned(),
                    detail: format!(
                        "POA&M milestone \"{}\" for {}",
                        milestone.title, item.requirement
                    ),
                    due,
                    days,
                    responsible: item.responsible.clone(),
                    link: format!("{base}/poam"),
                });
            }
        }
        for deadline in deadlines(&records.assessment, today) {
            let Ok(due) = parse_date("due", &deadline.due) else {
                continue;
            };
            let Some(days) = ahead(due) else {
                continue;
            };
            let what = capitalized(&deadline.what);
            out.push(Upcoming {
                key: format!("{}:{}:{due}", deadline.kind, assessment.id),
                kind: deadline.kind,
                detail: format!("{what} ({})", records.assessment.name),
                what,
                due,
                days,
                responsible: Vec::new(),
                link: base.clone(),
            });
        }
    }
    for evidence in crate::evidence::with_review_status(tenant, "due", now)? {
        let Some(due) = evidence
            .meta
            .review_by
            .as_deref()
            .and_then(|d| parse_date("review_by", d).ok())
        else {
            continue;
        };
        let Some(days) = ahead(due) else {
            continue;
        };
        out.push(Upcoming {
            key: format!("evidence_review:{}:{due}", evidence.id),
            kind: "evidence_review",
            what: "An evidence file's review".to_owned(),
            detail: format!("Review of the evidence file \"{}\"", evidence.meta.title),
            due,
            days,
            responsible: evidence.meta.owner.iter().cloned().collect(),
            link: format!("/orgs/{org}/evidence/{}", evidence.id),
        });
    }
    out.sort_by(|a, b| a.days.cmp(&b.days).then_with(|| a.key.cmp(&b.key)));
    Ok(out)
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// How many POA&M items are open across the organization's assessments.
pub fn open_poam_items(tenant: &impl TenantGet) -> Result<usize, AssessError> {
    let mut open = 0;
    for assessment in super::all(tenant)? {
        let records = Records::read(tenant, super::parse_id(&assessment.id)?)?;
        open += records
            .poam
            .iter()
            .filter(|p| p.status == PoamStatus::Open)
            .count();
    }
    Ok(open)
}
