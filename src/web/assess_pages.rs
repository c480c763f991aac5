//! Assessment pages: the list, the dashboard (scores, statuses, SVG charts), the objectives
//! page, requirement detail with history, POA&M, gaps and drift. Changes go through the
//! JSON API from `assessment.js`; these handlers only read.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::AppState;
use super::account_pages::when;
use super::assets;
use super::error::WebError;
use super::identity::{self, SignedIn, now};
use super::pages::{Layout, html, render, require_org_page};
use crate::access::{Permission, Requester, Role};
use crate::assess::{
    self, Assessment, Dashboard, Gaps, PoamView, RequirementView, drift::DriftItem,
};
use crate::auth::{self, Client};
use crate::scoring::Status;
use crate::store::{GenerationCache, OrgId, Store};

/// What every assessment page knows about the organization and the reader.
pub(super) struct Frame {
    pub(super) csrf_token: String,
    pub(super) script: String,
    pub(super) org_id: String,
    pub(super) org_name: String,
    pub(super) can_edit: bool,
    /// The reader's role; `None` for the appliance administrator looking in.
    pub(super) role: Option<Role>,
    /// The reader is a member (not the appliance administrator looking in).
    member: bool,
    /// Account id -> display name, for the people named on the page.
    names: BTreeMap<String, String>,
    /// The application shell around the page, until [`Frame::layout`] takes it.
    shell: Option<super::shell::Shell>,
}

impl Frame {
    /// The page's layout, in the shell worked out for the reader.
    pub(super) fn layout(&mut self) -> Layout {
        Layout {
            shell: self.shell.take(),
            ..Layout::new()
        }
    }

    pub(super) fn name_of(&self, account: &str) -> String {
        self.names
            .get(account)
            .cloned()
            .unwrap_or_else(|| account.to_owned())
    }
}

/// Whether a page names people (owners, history), which costs a read of every member.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum People {
    Named,
    Unnamed,
}

/// The frame of a page that names nobody, for a member, from what was kept since the last
/// commit: `None` when anything would have to be read.
fn kept_frame(store: &Store, signed_in: &SignedIn, org: OrgId) -> Option<Frame> {
    let (profile, role) =
        crate::org::kept_member_profile(store, identity::requester(signed_in), org)?;
    Some(Frame::new(
        signed_in,
        org,
        Some((profile.name, role)),
        BTreeMap::new(),
    ))
}

impl Frame {
    /// `membership`: the organization's name and the reader's role, for a member.
    fn new(
        signed_in: &SignedIn,
        org: OrgId,
        membership: Option<(String, Role)>,
        names: BTreeMap<String, String>,
    ) -> Frame {
        let member = membership.is_some();
        let role = membership.as_ref().map(|(_, role)| *role);
        let (org_name, can_edit) = match membership {
            Some((name, role)) => (name, role.allows(Permission::Write)),
            // The appliance administrator reading an organization it is not a member of.
            None => (org.to_string(), false),
        };
        Frame {
            csrf_token: signed_in.session.csrf_token.clone(),
            script: assets::url("js/assessment.js"),
            org_id: org.to_string(),
            org_name,
            can_edit,
            role,
            member,
            names,
            shell: None,
        }
    }
}

fn frame(
    store: &Store,
    signed_in: &SignedIn,
    org: OrgId,
    people: People,
) -> Result<Frame, WebError> {
    let requester = identity::requester(signed_in);
    let membership = crate::org::member_profile(store, requester, org)?
        .map(|(profile, role)| (profile.name, role));
    let mut names: std::collections::BTreeMap<String, String> = match people {
        People::Unnamed => Ok(Vec::new()),
        People::Named => auth::members::list(store, requester, org),
    }
    .map(|members| {
        members
            .into_iter()
            .map(|m| (m.account.to_string(), m.display_name))
            .collect()
    })
    .unwrap_or_default();
    if people == People::Named {
        // Erased people keep their pseudonym in histories.
        names.extend(
            auth::erased_names(store)
                .unwrap_or_default()
                .into_iter()
                .map(|(id, pseudonym)| (id.to_string(), pseudonym)),
        );
    }
    Ok(Frame::new(signed_in, org, membership, names))
}

/// Reads for a page: the frame and whatever `read` returns, on the blocking pool.
pub(super) async fn page_data<T, F>(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    org: &str,
    people: People,
    read: F,
) -> Result<Result<(Frame, T), HttpResponse>, WebError>
where
    T: Send + 'static,
    F: FnOnce(&Store, Requester, OrgId, &Client, i64) -> Result<T, WebError> + Send + 'static,
{
    let (signed_in, org) = match require_org_page(req, state, org).await? {
        Ok(found) => found,
        Err(redirect) => return Ok(Err(redirect)),
    };
    let shell = super::shell::for_page(req, state, &signed_in).await?;
    let (mut frame, value) = read_page(req, state, signed_in, org, people, read).await?;
    frame.shell = Some(shell);
    Ok(Ok((frame, value)))
}

/// [`page_data`] for a reader already signed in and allowed to ask for `org`.
async fn read_page<T, F>(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    signed_in: SignedIn,
    org: OrgId,
    people: People,
    read: F,
) -> Result<(Frame, T), WebError>
where
    T: Send + 'static,
    F: FnOnce(&Store, Requester, OrgId, &Client, i64) -> Result<T, WebError> + Send + 'static,
{
    let store = state.store.clone();
    let client = identity::client(req, state);
    web::block(move || -> Result<_, WebError> {
        let requester = identity::requester(&signed_in);
        let value = read(&store, requester, org, &client, now())?;
        Ok((frame(&store, &signed_in, org, people)?, value))
    })
    .await?
}

// ---------------------------------------------------------------------------------------
// The list of assessments.

#[derive(Template)]
#[template(path = "assessments.html")]
struct AssessmentsPage {
    layout: Layout,
    frame: Frame,
    /// With the start time for people.
    assessments: Vec<(Assessment, String)>,
    frameworks: Vec<(String, String)>,
}

pub async fn assessments(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let (mut frame, assessments) = match page_data(
        &req,
        &state,
        &path,
        People::Unnamed,
        |store, requester, org, client, now| Ok(assess::list(store, requester, org, client, now)?),
    )
    .await?
    {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    let frameworks = crate::catalog::builtins()
        .map(|c| (c.id.clone(), c.title.clone()))
        .collect();
    Ok(html(render(&AssessmentsPage {
        layout: frame.layout(),
        frame,
        assessments: assessments
            .into_iter()
            .map(|a| {
                let started = when(a.created_at);
                (a, started)
            })
            .collect(),
        frameworks,
    })?))
}

// ---------------------------------------------------------------------------------------
// The dashboard.

/// One family's bar: requirement counts drawn as SVG rectangles (x and width in user units
/// of a 300-wide bar).
struct FamilyBar {
    title: String,
    done_percent: usize,
    total: usize,
    segments: Vec<Segment>,
    y: usize,
}

struct Segment {
    class: &'static str,
    x: usize,
    width: usize,
    count: usize,
    label: &'static str,
}

const BAR_WIDTH: usize = 300;
const BAR_ROW: usize = 22;

fn family_bars(dashboard: &Dashboard) -> Vec<FamilyBar> {
    dashboard
        .families
        .iter()
        .enumerate()
        .map(|(n, family)| {
            let counts = &family.requirements;
            let total = counts.total().max(1);
            let mut x = 0;
            let mut segments = Vec::new();
            for (class, label, count) in [
                ("met", "met", counts.met),
                ("not_applicable", "not applicable", counts.not_applicable),
                ("not_met", "not met", counts.not_met),
                ("not_assessed", "not assessed", counts.not_assessed),
            ] {
                let width = count * BAR_WIDTH / total;
                if count > 0 {
                    segments.push(Segment {
                        class,
                        x,
                        width,
                        count,
                        label,
                    });
                }
                x += width;
            }
            FamilyBar {
                title: family.title.clone(),
                done_percent: counts.percent_done(),
                total: counts.total(),
                segments,
                y: n * BAR_ROW,
            }
        })
        .collect()
}

/// The score over time as an SVG polyline: x spread over the points, y from -203 to 110.
struct Trend {
    points: String,
    /// Each day's point, so a single day shows as a dot rather than an empty box.
    dots: Vec<(i64, i64, i64)>,
    first: String,
    last: String,
    /// The y of the 88 line (conditional floor).
    floor_y: i64,
    values: Vec<(String, i64)>,
}

const TREND_W: i64 = 600;
const TREND_H: i64 = 160;

fn trend_y(score: i64) -> i64 {
    (110 - score.clamp(-203, 110)) * TREND_H / 313
}

fn trend(dashboard: &Dashboard) -> Option<Trend> {
    let values: Vec<(String, i64)> = dashboard
        .trend
        .iter()
        .filter_map(|p| p.score.map(|s| (p.date.clone(), s)))
        .collect();
    let (first, last) = (values.first()?.0.clone(), values.last()?.0.clone());
    let step = if values.len() > 1 {
        TREND_W / (values.len() as i64 - 1)
    } else {
        0
    };
    let points = values
        .iter()
        .enumerate()
        .map(|(n, (_, score))| format!("{},{}", n as i64 * step, trend_y(*score)))
        .collect::<Vec<_>>()
        .join(" ");
    let dots = values
        .iter()
        .enumerate()
        .map(|(n, (_, score))| (n as i64 * step, trend_y(*score), *score))
        .collect();
    Some(Trend {
        points,
        dots,
        first,
        last,
        floor_y: trend_y(88),
        values,
    })
}

#[derive(Template)]
#[template(path = "assessment.html")]
struct DashboardBody {
    /// Why Level 2 status is what it is, with like reasons counted together.
    reasons: Vec<ReasonGroup>,
    /// What the DoD AM score deducts: requirement and points, most first.
    deductions: Vec<(String, i64)>,
    frame: Frame,
    d: Arc<Dashboard>,
    bars: Vec<FamilyBar>,
    bars_height: usize,
    trend: Option<Trend>,
    trend_w: i64,
    trend_h: i64,
    framework: String,
}

/// Reasons of one kind: a sentence, and the requirements it is about (none for a reason
/// about the whole assessment).
pub(super) struct ReasonGroup {
    pub(super) summary: String,
    pub(super) requirements: Vec<String>,
}

/// The scoring rules give one reason per requirement ("3.1.1 is not assessed"); a person
/// needs them counted: "104 requirements are not assessed".
pub(super) fn group_reasons(reasons: &[String]) -> Vec<ReasonGroup> {
    // The sentence the rules end each reason with; one, and many.
    let mut kinds = [
        (
            " is not assessed",
            "requirement is not assessed yet",
            "requirements are not assessed yet",
            Vec::new(),
        ),
        (
            " may not be on a POA&M",
            "unmet requirement may not be on a POA&M, so it must be met",
            "unmet requirements may not be on a POA&M, so they must be met",
            Vec::new(),
        ),
    ];
    let mut out = Vec::new();
    'reasons: for reason in reasons {
        for (suffix, _, _, requirements) in &mut kinds {
            if let Some(requirement) = reason.strip_suffix(*suffix) {
                requirements.push(requirement.to_owned());
                continue 'reasons;
            }
        }
        out.push(ReasonGroup {
            summary: super::words::label(reason),
            requirements: Vec::new(),
        });
    }
    for (_, one, many, requirements) in kinds {
        let summary = match requirements.len() {
            0 => continue,
            1 => format!("1 {one}"),
            n => format!("{n} {many}"),
        };
        out.push(ReasonGroup {
            summary,
            requirements,
        });
    }
    out
}

pub async fn dashboard(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let (org, id) = path.into_inner();
    let (signed_in, org) = match require_org_page(&req, &state, &org).await? {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    let now = now();
    let today = crate::dates::today(now);
    let store = &state.store;
    let assessment = uuid::Uuid::parse_str(&id).ok();
    // Read before anything below: a page kept under it is at least as new as it says.
    let generation = store.generation();
    let shell = super::shell::for_page(&req, &state, &signed_in).await?;
    let in_shell = |title: &str, body: &str| -> Result<HttpResponse, WebError> {
        Ok(html(render(&super::pages::Wrapped {
            layout: Layout {
                shell: Some(shell),
                ..Layout::new()
            },
            title,
            body,
        })?))
    };
    if let Some((title, body)) =
        assessment.and_then(|id| kept_dashboard_page(store, &signed_in, org, id, today))
    {
        return in_shell(&title, &body);
    }
    let requester = identity::requester(&signed_in);
    let kept = kept_frame(store, &signed_in, org)
        .zip(assess::kept_dashboard(store, requester, org, &id, now));
    let (frame, d) = match kept {
        Some(kept) => kept,
        None => {
            let id = id.clone();
            read_page(
                &req,
                &state,
                signed_in,
                org,
                People::Unnamed,
                move |store, requester, org, client, now| {
                    Ok(assess::dashboard(store, requester, org, &id, client, now)?)
                },
            )
            .await?
        }
    };
    let bars = family_bars(&d);
    let framework = d.framework.clone();
    let (member, can_edit) = (frame.member, frame.can_edit);
    let title: Arc<str> = Arc::from(d.assessment.name.as_str());
    let body: Arc<str> = Arc::from(render(&DashboardBody {
        reasons: d
            .outcome
            .as_ref()
            .map(|o| group_reasons(&o.level2.reasons))
            .unwrap_or_default(),
        deductions: d
            .outcome
            .as_ref()
            .map(|o| {
                let mut all: Vec<(String, i64)> =
                    o.deductions.iter().map(|(r, p)| (r.clone(), *p)).collect();
                all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                all
            })
            .unwrap_or_default(),
        frame,
        bars_height: bars.len() * BAR_ROW,
        trend: trend(&d),
        trend_w: TREND_W,
        trend_h: TREND_H,
        bars,
        framework,
        d,
    })?);
    if member && let Some(assessment) = assessment {
        DASHBOARD_PAGES.put(
            (org, assessment, can_edit),
            generation,
            (today, Arc::clone(&title), Arc::clone(&body)),
        );
    }
    in_shell(&title, &body)
}

/// Organization, assessment and whether the reader may edit -> the rendered dashboard page,
/// as of a store generation and a day. The page names nothing of its reader beyond that
/// (no CSRF token, no name), so every member with the same rights gets the same bytes
/// until the next commit or day; rendering it is most of a view's cost. Filled only for
/// members: the appliance administrator looking in sees another page and is audited.
static DASHBOARD_PAGES: LazyLock<GenerationCache<(OrgId, uuid::Uuid, bool), DayPage>> =
    LazyLock::new(|| GenerationCache::new(256));

/// The day, the page's title and its content (the shell is the reader's own, added to it).
type DayPage = (time::Date, Arc<str>, Arc<str>);

/// The dashboard page kept for a member with the reader's rights, if nothing was
/// committed since and it is the same day.
fn kept_dashboard_page(
    store: &Store,
    signed_in: &SignedIn,
    org: OrgId,
    assessment: uuid::Uuid,
    today: time::Date,
) -> Option<(Arc<str>, Arc<str>)> {
    let role = crate::access::kept_member_role(
        store,
        identity::requester(signed_in),
        org,
        Permission::Read,
    )?;
    let (day, title, body) =
        DASHBOARD_PAGES.get(store, &(org, assessment, role.allows(Permission::Write)))?;
    (day == today).then_some((title, body))
}

// ---------------------------------------------------------------------------------------
// The objectives page.

struct ObjectiveRow {
    id: String,
    text: String,
    status: &'static str,
    note: String,
    decided: String,
}

struct RequirementRow {
    id: String,
    label: String,
    title: String,
    status: &'static str,
    owners: String,
    owner_ids: String,
    objectives: Vec<ObjectiveRow>,
}

struct FamilyRows {
    title: String,
    requirements: Vec<RequirementRow>,
}

impl FamilyRows {
    /// Requirements decided: met, not met or not applicable.
    fn assessed(&self) -> usize {
        self.requirements
            .iter()
            .filter(|r| r.status != "not_assessed")
            .count()
    }
}

#[derive(Template)]
#[template(path = "objectives.html")]
struct ObjectivesPage {
    layout: Layout,
    frame: Frame,
    assessment: Assessment,
    families: Vec<FamilyRows>,
    owners: Vec<(String, String)>,
}

pub async fn objectives(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let (org, id) = path.into_inner();
    let (mut frame, list) = match page_data(
        &req,
        &state,
        &org,
        People::Named,
        move |store, requester, org, client, now| {
            Ok(assess::objectives(store, requester, org, &id, client, now)?)
        },
    )
    .await?
    {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    let assessment = list.assessment;
    let catalog = list.catalog.ok_or(WebError::NotFound)?;
    let mut by_objective: BTreeMap<String, assess::ObjectiveView> = list
        .objectives
        .into_iter()
        .map(|o| (o.id.clone(), o))
        .collect();
    let mut families = Vec::new();
    for family in &catalog.families {
        let mut requirements = Vec::new();
        for requirement in family.requirements.iter().filter(|r| !r.withdrawn) {
            let rows: Vec<ObjectiveRow> = requirement
                .objectives
                .iter()
                .filter_map(|o| by_objective.remove(&o.id))
                .map(|o| ObjectiveRow {
                    decided: match (&o.by, o.at) {
                        (Some(by), Some(at)) => format!("{} · {}", frame.name_of(by), when(at)),
                        _ => String::new(),
                    },
                    id: o.id,
                    text: o.text,
                    status: Status::as_str(o.status),
                    note: o.note,
                })
                .collect();
            let status = {
                let statuses: Vec<&str> = rows.iter().map(|r| r.status).collect();
                if statuses.contains(&"not_met") {
                    "not_met"
                } else if statuses.is_empty() || statuses.contains(&"not_assessed") {
                    "not_assessed"
                } else if statuses.iter().all(|s| *s == "not_applicable") {
                    "not_applicable"
                } else {
                    "met"
                }
            };
            let responsible = list
                .responsible
                .get(&requirement.id)
                .cloned()
                .unwrap_or_default();
            requirements.push(RequirementRow {
                id: requirement.id.clone(),
                label: requirement.label.clone(),
                title: requirement.title.clone(),
                status,
                owners: responsible
                    .iter()
                    .map(|a| frame.name_of(a))
                    .collect::<Vec<_>>()
                    .join(", "),
                owner_ids: responsible.join(" "),
                objectives: rows,
            });
        }
        if !requirements.is_empty() {
            families.push(FamilyRows {
                title: family.title.clone(),
                requirements,
            });
        }
    }
    let owners = frame
        .names
        .iter()
        .map(|(id, name)| (id.clone(), name.clone()))
        .collect();
    Ok(html(render(&ObjectivesPage {
        layout: frame.layout(),
        frame,
        assessment,
        families,
        owners,
    })?))
}

// ---------------------------------------------------------------------------------------
// Requirement detail.

struct HistoryRow {
    at: String,
    actor: String,
    source: String,
    subject: String,
    before: String,
    after: String,
}

#[derive(Template)]
#[template(path = "requirement.html")]
struct RequirementPage {
    layout: Layout,
    frame: Frame,
    assessment: Assessment,
    r: RequirementView,
    status: &'static str,
    /// Objectives met or not applicable.
    objectives_met: usize,
    /// Per linked evidence file: its review status in words.
    evidence_review: Vec<String>,
    evidence_script: String,
    history: Vec<HistoryRow>,
    responsible: Vec<(String, String, bool)>,
    inherited: &'static str,
    evidence: Vec<crate::evidence::Evidence>,
}

/// A history value as one line a person can read: fields by their names, statuses in
/// words, people by name.
fn describe(value: &serde_json::Value, frame: &Frame) -> String {
    use serde_json::Value;
    let shown = |value: &Value| -> String {
        match value {
            Value::String(s) if s.contains('_') && !s.contains(' ') => super::words::label(s),
            Value::String(s) if uuid::Uuid::parse_str(s).is_ok() => frame.name_of(s),
            Value::String(s) => s.clone(),
            Value::Array(items) => items
                .iter()
                .map(|item| match item {
                    Value::String(s) if uuid::Uuid::parse_str(s).is_ok() => frame.name_of(s),
                    Value::String(s) => s.clone(),
                    other => describe(other, frame),
                })
                .collect::<Vec<_>>()
                .join(", "),
            Value::Bool(true) => "yes".to_owned(),
            Value::Bool(false) => "no".to_owned(),
            Value::Object(_) => describe(value, frame),
            other => other.to_string(),
        }
    };
    match value {
        Value::Object(map) => map
            .iter()
            .filter(|(_, v)| !v.is_null() && *v != "" && *v != &serde_json::json!([]))
            .map(|(k, v)| format!("{}: {}", super::words::label(k), shown(v)))
            .collect::<Vec<_>>()
            .join("; "),
        other => shown(other),
    }
}

pub async fn requirement(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, WebError> {
    let (org, id, requirement) = path.into_inner();
    let requirement = crate::catalog::parse_requirement_ref(&requirement);
    let vault = state.vault.clone();
    let (mut frame, (assessment, r, evidence)) = match page_data(
        &req,
        &state,
        &org,
        People::Named,
        move |store, requester, org, client, now| {
            let r = assess::requirement(store, requester, org, &id, &requirement, client, now)?;
            let linked = crate::evidence::Filter {
                requirement: Some(requirement.clone()),
                ..crate::evidence::Filter::default()
            };
            let (evidence, _) =
                crate::evidence::list(store, &vault, requester, org, &linked, client, now)?;
            Ok((
                assess::get(store, requester, org, &id, client, now)?,
                r,
                evidence,
            ))
        },
    )
    .await?
    {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    let history = r
        .history
        .iter()
        .map(|c| HistoryRow {
            at: when(c.at),
            actor: frame.name_of(&c.actor),
            source: super::words::label(c.source.as_str()),
            subject: c.subject.clone(),
            before: describe(&c.before, &frame),
            after: describe(&c.after, &frame),
        })
        .collect();
    let responsible = frame
        .names
        .iter()
        .map(|(id, name)| (id.clone(), name.clone(), r.detail.responsible.contains(id)))
        .collect();
    let inherited = match r.detail.inheritance.as_ref().map(|i| i.kind) {
        None => "",
        Some(assess::InheritanceKind::Full) => "full",
        Some(assess::InheritanceKind::Partial) => "partial",
    };
    let objectives_met = r
        .objectives
        .iter()
        .filter(|o| matches!(o.status, Status::Met | Status::NotApplicable))
        .count();
    let evidence_rows = evidence
        .iter()
        .map(|e| super::words::label(e.review_status))
        .collect();
    Ok(html(render(&RequirementPage {
        layout: frame.layout(),
        status: Status::as_str(r.status),
        objectives_met,
        evidence_review: evidence_rows,
        evidence_script: assets::url("js/evidence.js"),
        frame,
        assessment,
        history,
        responsible,
        inherited,
        evidence,
        r,
    })?))
}

// ---------------------------------------------------------------------------------------
// POA&M, gaps, drift.

#[derive(Template)]
#[template(path = "poam.html")]
struct PoamPage {
    layout: Layout,
    frame: Frame,
    v: PoamView,
    show: &'static str,
    filters: Vec<(&'static str, &'static str, usize)>,
    rows: Vec<PoamRow>,
}

/// Which POA&M rows a list shows.
#[derive(serde::Deserialize)]
pub struct PoamQuery {
    show: Option<String>,
}

/// One row of the POA&M list.
struct PoamRow {
    requirement: String,
    label: String,
    title: String,
    points: Option<i64>,
    eligible: Option<bool>,
    weakness: Option<String>,
    next_due: Option<String>,
    overdue: bool,
    /// `open`, `closed`, or empty for no plan yet.
    item_status: &'static str,
}

/// The list's filters: key, label, and how many rows each shows.
const POAM_FILTERS: [(&str, &str); 4] = [
    ("open", "Open"),
    ("overdue", "Overdue"),
    ("closed", "Closed"),
    ("unplanned", "Not met, no plan yet"),
];

fn poam_shows(show: &str, entry: &assess::PoamEntry) -> bool {
    let status = entry.item.as_ref().map(|i| i.status);
    match show {
        "overdue" => entry.overdue,
        "closed" => status == Some(assess::PoamStatus::Closed),
        "unplanned" => status.is_none() && entry.status == Status::NotMet,
        _ => status == Some(assess::PoamStatus::Open),
    }
}

pub async fn poam(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    query: web::Query<PoamQuery>,
) -> Result<HttpResponse, WebError> {
    let (org, id) = path.into_inner();
    let (mut frame, v) = match page_data(
        &req,
        &state,
        &org,
        People::Unnamed,
        move |store, requester, org, client, now| {
            Ok(assess::poam(store, requester, org, &id, client, now)?)
        },
    )
    .await?
    {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    let show = POAM_FILTERS
        .iter()
        .map(|(key, _)| *key)
        .find(|key| query.show.as_deref() == Some(*key))
        .unwrap_or("open");
    let filters = POAM_FILTERS
        .iter()
        .map(|(key, label)| {
            let count = v.entries.iter().filter(|e| poam_shows(key, e)).count();
            (*key, *label, count)
        })
        .collect();
    let rows = v
        .entries
        .iter()
        .filter(|e| poam_shows(show, e))
        .map(|e| PoamRow {
            requirement: e.requirement.clone(),
            label: e.label.clone(),
            title: e.title.clone(),
            points: e.points,
            eligible: e.eligible,
            weakness: e.item.as_ref().map(|i| i.weakness.clone()),
            next_due: e.next_due.clone(),
            overdue: e.overdue,
            item_status: e.item.as_ref().map_or("", |i| i.status.as_str()),
        })
        .collect();
    Ok(html(render(&PoamPage {
        layout: frame.layout(),
        frame,
        v,
        show,
        filters,
        rows,
    })?))
}

#[derive(Template)]
#[template(path = "poam_item.html")]
struct PoamItemPage {
    layout: Layout,
    frame: Frame,
    assessment: Assessment,
    entry: assess::PoamEntry,
    /// Members who may answer for the item: id, name, chosen.
    people: Vec<(String, String, bool)>,
    /// Milestones to show: the item's, or one blank row for a new plan.
    milestones: Vec<assess::Milestone>,
    /// When the item was made and last changed, for people.
    dates: Option<(String, String)>,
}

/// One requirement's POA&M item, with its whole edit form filled in.
pub async fn poam_item(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, WebError> {
    let (org, id, requirement) = path.into_inner();
    let requirement = crate::catalog::parse_requirement_ref(&requirement);
    let wanted = requirement.clone();
    let (mut frame, v) = match page_data(
        &req,
        &state,
        &org,
        People::Named,
        move |store, requester, org, client, now| {
            Ok(assess::poam(store, requester, org, &id, client, now)?)
        },
    )
    .await?
    {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    let Some(entry) = v.entries.into_iter().find(|e| e.requirement == wanted) else {
        return Err(WebError::NotFound);
    };
    let chosen = entry
        .item
        .as_ref()
        .map(|i| i.responsible.clone())
        .unwrap_or_default();
    let people = frame
        .names
        .iter()
        .map(|(id, name)| (id.clone(), name.clone(), chosen.contains(id)))
        .collect();
    let milestones = entry
        .item
        .as_ref()
        .map(|i| i.milestones.clone())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| {
            vec![assess::Milestone {
                title: String::new(),
                due: String::new(),
                done_on: None,
            }]
        });
    let dates = entry
        .item
        .as_ref()
        .map(|i| (when(i.created_at), when(i.updated_at)));
    Ok(html(render(&PoamItemPage {
        layout: frame.layout(),
        dates,
        frame,
        assessment: v.assessment,
        entry,
        people,
        milestones,
    })?))
}

#[derive(Template)]
#[template(path = "gaps.html")]
struct GapsPage {
    layout: Layout,
    frame: Frame,
    assessment: Assessment,
    g: Gaps,
    /// Of the plan to conditional status: requirements still to assess, and to fix.
    to_assess: Vec<String>,
    to_fix: Vec<String>,
}

pub async fn gaps(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let (org, id) = path.into_inner();
    let (mut frame, (assessment, g)) = match page_data(
        &req,
        &state,
        &org,
        People::Unnamed,
        move |store, requester, org, client, now| {
            let g = assess::gaps(store, requester, org, &id, client, now)?;
            Ok((assess::get(store, requester, org, &id, client, now)?, g))
        },
    )
    .await?
    {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    // The plan to conditional status names requirements to assess and requirements to
    // fix: a person does different work for each.
    let (to_assess, to_fix) = g
        .to_conditional
        .as_ref()
        .map(|plan| {
            plan.fixes.iter().cloned().partition(|id| {
                g.unmet
                    .iter()
                    .any(|gap| gap.requirement == *id && gap.status == Status::NotAssessed)
            })
        })
        .unwrap_or_default();
    Ok(html(render(&GapsPage {
        layout: frame.layout(),
        frame,
        assessment,
        g,
        to_assess,
        to_fix,
    })?))
}

#[derive(Template)]
#[template(path = "drift.html")]
struct DriftPage {
    layout: Layout,
    frame: Frame,
    items: Vec<DriftItem>,
}

pub async fn drift(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let (mut frame, items) = match page_data(
        &req,
        &state,
        &path,
        People::Unnamed,
        |store, requester, org, client, now| {
            Ok(assess::drift::for_org(store, requester, org, client, now)?)
        },
    )
    .await?
    {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    Ok(html(render(&DriftPage {
        layout: frame.layout(),
        frame,
        items,
    })?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trend_spans_the_whole_range() {
        assert_eq!(trend_y(110), 0);
        assert_eq!(trend_y(-203), TREND_H);
        assert!(trend_y(88) > 0 && trend_y(88) < TREND_H / 2);
    }

    #[test]
    fn level2_reasons_are_counted_by_kind() {
        let reasons: Vec<String> = [
            "the CMMC score 60 is below 88",
            "3.1.1 is not assessed",
            "3.1.2 is not assessed",
            "3.1.20 may not be on a POA&M",
        ]
        .map(String::from)
        .into();
        let groups = group_reasons(&reasons);
        let summaries: Vec<&str> = groups.iter().map(|g| g.summary.as_str()).collect();
        assert_eq!(
            summaries,
            [
                "The CMMC score 60 is below 88",
                "2 requirements are not assessed yet",
                "1 unmet requirement may not be on a POA&M, so it must be met",
            ]
        );
        assert_eq!(groups[1].requirements, ["3.1.1", "3.1.2"]);
        assert!(groups[0].requirements.is_empty());
    }
}
