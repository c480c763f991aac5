//! The organization overview, `/orgs/{org_id}`: where a member lands, with each
//! assessment's scores, what falls due next, drift, and a new organization's first steps.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::AppState;
use super::error::WebError;
use super::identity::{self, now};
use super::pages::{Layout, html, kept_or_block, render, require_org_page};
use super::words;
use crate::access::{Permission, Role};
use std::sync::Arc;

use crate::assess::overview::Overview;

/// One step of a new organization's checklist.
struct Step {
    label: &'static str,
    help: &'static str,
    href: String,
    done: bool,
}

/// One line of "coming up" or "drift".
struct Due {
    what: String,
    when: String,
    distance: String,
    overdue: bool,
    href: String,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    layout: Layout,
    org_id: String,
    org_name: String,
    can_edit: bool,
    o: Arc<Overview>,
    steps: Vec<Step>,
    steps_left: usize,
    upcoming: Vec<Due>,
    upcoming_more: usize,
    drift: Vec<Due>,
    drift_more: usize,
    backup_warning: Option<String>,
}

/// How many drift lines the overview shows before "and N more".
const DRIFT_SHOWN: usize = 6;

const DAY_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// `5 Jan 2027`.
fn day(date: time::Date) -> String {
    format!(
        "{} {} {}",
        date.day(),
        &format!("{}", date.month())[..3],
        date.year()
    )
}

/// The organization's overview as kept since the last commit, without a hop to the
/// blocking pool; else read (and kept) there.
async fn read_overview(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    signed_in: &identity::SignedIn,
    org: crate::store::OrgId,
    now: i64,
) -> Result<Arc<Overview>, WebError> {
    let requester = identity::requester(signed_in);
    let (store, client) = (state.store.clone(), identity::client(req, state));
    kept_or_block(
        crate::assess::overview::kept_overview(&state.store, requester, org, now),
        move || crate::assess::overview::overview(&store, requester, org, &client, now),
    )
    .await
}

pub async fn overview(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let (signed_in, org) = match require_org_page(&req, &state, &path).await? {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    let layout = Layout::signed_in(&req, &state, &signed_in).await?;
    let requester = identity::requester(&signed_in);
    let appliance_admin = signed_in.account.appliance_admin;
    let now = now();
    let overview = read_overview(&req, &state, &signed_in, org, now).await?;
    let store = state.store.clone();
    let membership = kept_or_block(
        crate::org::kept_member_profile(&state.store, requester, org).map(Some),
        move || crate::org::member_profile(&store, requester, org),
    )
    .await?;
    let backup_warning = if appliance_admin {
        let (store, jobs) = (state.store.clone(), state.jobs.clone());
        kept_or_block(
            state.jobs.kept_backup_warning(&state.store, now),
            move || jobs.backup_warning(&store, now),
        )
        .await?
    } else {
        None
    };
    let (org_name, role, require_mfa) = match membership {
        Some((profile, role)) => (profile.name, Some(role), profile.require_mfa),
        // The appliance administrator looking in: read-only, audited by the read.
        None => ("This organization".to_owned(), None, false),
    };
    let org_id = org.to_string();
    let mut steps = vec![Step {
        label: "Start your first assessment",
        help: "Choose the framework (CMMC Level 2 is NIST SP 800-171 Rev 2) and mark each objective.",
        href: format!("/orgs/{org_id}/assessments#new-assessment"),
        done: !overview.assessments.is_empty(),
    }];
    if role.is_some_and(|r| r.allows(Permission::ManageMembers)) {
        steps.push(Step {
            label: "Invite your team",
            help: "Control owners answer for their requirements; viewers can read everything.",
            href: format!("/orgs/{org_id}/members"),
            done: overview.members > 1,
        });
    }
    if role == Some(Role::Owner) {
        steps.push(Step {
            label: "Require a second factor for everyone",
            help: "CMMC 3.5.3 asks for multifactor authentication; Rampart enforces it for your members.",
            href: format!("/orgs/{org_id}/settings"),
            done: require_mfa,
        });
    }
    if appliance_admin {
        steps.push(Step {
            label: "Set up backups",
            help: "Encrypted backups on a schedule, to a place you choose.",
            href: "/admin/jobs".to_owned(),
            done: backup_warning.is_none(),
        });
        steps.push(Step {
            label: "Connect your mail server",
            help: "Reminders before deadlines go out through your own SMTP server.",
            href: "/admin/mail".to_owned(),
            done: crate::mail::enabled(),
        });
    }
    let steps_left = steps.iter().filter(|s| !s.done).count();
    let upcoming = overview
        .upcoming
        .iter()
        .map(|u| Due {
            what: u.what.clone(),
            when: day(u.due),
            distance: words::days_from_today(u.days),
            overdue: u.days < 0,
            href: u.link.clone(),
        })
        .collect();
    let drift_more = overview.drift.len().saturating_sub(DRIFT_SHOWN);
    let drift = overview
        .drift
        .iter()
        .take(DRIFT_SHOWN)
        .map(|d| Due {
            what: match (&d.requirement, d.assessment.is_empty()) {
                (Some(requirement), false) => {
                    format!("{} ({requirement}, {})", d.message, d.assessment)
                }
                (Some(requirement), true) => format!("{} ({requirement})", d.message),
                (None, _) => d.message.clone(),
            },
            when: time::Date::parse(&d.date, DAY_FORMAT).map_or_else(|_| d.date.clone(), day),
            distance: words::days_from_today(d.days),
            overdue: d.days < 0,
            href: d.link.clone(),
        })
        .collect();
    Ok(html(render(&OverviewPage {
        layout,
        org_id,
        org_name,
        can_edit: role.is_some_and(|r| r.allows(Permission::Write)),
        upcoming_more: overview
            .upcoming_total
            .saturating_sub(overview.upcoming.len()),
        steps,
        steps_left,
        upcoming,
        drift,
        drift_more,
        backup_warning,
        o: overview,
    })?))
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    layout: Layout,
    org_id: String,
    profile: crate::org::Organization,
    /// Owners change the profile and security settings; admins see them.
    can_change: bool,
    script: String,
}

/// The organization's settings: its profile, its security settings and its catalogs.
pub async fn settings(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let (signed_in, org) = match require_org_page(&req, &state, &path).await? {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    let requester = identity::requester(&signed_in);
    let store = state.store.clone();
    let membership =
        web::block(move || crate::org::member_profile(&store, requester, org)).await??;
    let Some((profile, role)) = membership else {
        return Err(WebError::NotFound);
    };
    if !role.allows(Permission::ManageCatalogs) {
        return Err(WebError::Forbidden(
            "only owners and admins see the organization's settings".to_owned(),
        ));
    }
    Ok(html(render(&SettingsPage {
        layout: Layout::signed_in(&req, &state, &signed_in).await?,
        org_id: org.to_string(),
        can_change: role.allows(Permission::ManageOrganization),
        profile,
        script: super::assets::url("js/settings.js"),
    })?))
}

#[derive(Template)]
#[template(path = "org_poam.html")]
struct OrgPoamPage {
    layout: Layout,
    org_id: String,
    o: Arc<Overview>,
}

/// Every assessment's plan of action, with how many items are open: the way into each.
pub async fn poam(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let (signed_in, org) = match require_org_page(&req, &state, &path).await? {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    let layout = Layout::signed_in(&req, &state, &signed_in).await?;
    let overview = read_overview(&req, &state, &signed_in, org, now()).await?;
    Ok(html(render(&OrgPoamPage {
        layout,
        org_id: org.to_string(),
        o: overview,
    })?))
}
