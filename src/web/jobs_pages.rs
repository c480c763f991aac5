//! The appliance administrator's operations pages: the scheduled jobs (schedule, last and
//! next run, run now) and the mail outbox (failed messages with the server's answer,
//! retry). Changes go through the JSON API from `js/jobs.js`.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::AppState;
use super::assets;
use super::audit_pages::{Nav, utc};
use super::error::WebError;
use super::identity;
use super::pages::{Layout, html, render, require_page};
use crate::jobs::JobView;
use crate::mail::outbox::{self, QueuedView, State};

struct JobRow {
    name: String,
    description: String,
    schedule: String,
    last_run: String,
    outcome: &'static str,
    summary: String,
    duration: String,
    next_run: String,
}

impl From<JobView> for JobRow {
    fn from(job: JobView) -> JobRow {
        let (last_run, outcome, summary, duration) = match job.last_run {
            Some(run) => (
                utc(run.started_at).0,
                if run.ok { "ok" } else { "failed" },
                run.summary,
                format!("{} ms", run.duration_ms),
            ),
            None => ("never".to_owned(), "", String::new(), String::new()),
        };
        JobRow {
            name: job.name,
            description: job.description,
            schedule: job.schedule,
            last_run,
            outcome,
            summary,
            duration,
            next_run: job.next_run.map_or_else(String::new, |t| utc(t).0),
        }
    }
}

#[derive(Template)]
#[template(path = "jobs.html")]
struct JobsPage {
    layout: Layout,
    nav: Nav,
    csrf_token: String,
    script: String,
    time_zone: String,
    jobs: Vec<JobRow>,
}

pub async fn jobs(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    let signed_in = match require_page(&req, &state).await? {
        Ok(signed_in) => signed_in,
        Err(redirect) => return Ok(redirect),
    };
    let requester = identity::requester(&signed_in);
    let (store, jobs) = (state.store.clone(), state.jobs.clone());
    let list = web::block(move || jobs.list_for(&store, requester)).await??;
    Ok(html(render(&JobsPage {
        layout: Layout::signed_in(&req, &state, &signed_in).await?,
        nav: Nav::of(None, "jobs"),
        csrf_token: signed_in.session.csrf_token.clone(),
        script: assets::url("js/jobs.js"),
        time_zone: list
            .first()
            .map_or_else(|| "UTC".to_owned(), |job| job.time_zone.clone()),
        jobs: list.into_iter().map(JobRow::from).collect(),
    })?))
}

struct MessageRow {
    id: String,
    queued: String,
    kind: String,
    to: String,
    state: &'static str,
    attempts: u32,
    last_answer: String,
}

impl From<QueuedView> for MessageRow {
    fn from(message: QueuedView) -> MessageRow {
        MessageRow {
            id: message.id.to_string(),
            queued: utc(message.created_at).0,
            kind: message.kind,
            to: message.to,
            state: match message.state {
                State::Pending => "pending",
                State::Sent => "sent",
                State::Failed => "failed",
            },
            attempts: message.attempts,
            last_answer: message.last_answer.unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "outbox.html")]
struct OutboxPage {
    layout: Layout,
    nav: Nav,
    csrf_token: String,
    script: String,
    failed: usize,
    pending: usize,
    sent: usize,
    messages: Vec<MessageRow>,
}

pub async fn outbox(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let signed_in = match require_page(&req, &state).await? {
        Ok(signed_in) => signed_in,
        Err(redirect) => return Ok(redirect),
    };
    let requester = identity::requester(&signed_in);
    let store = state.store.clone();
    let mut list = web::block(move || outbox::list_for(&store, requester)).await??;
    let count = |state: State| list.iter().filter(|m| m.state == state).count();
    let (failed, pending, sent) = (
        count(State::Failed),
        count(State::Pending),
        count(State::Sent),
    );
    // Failed first (they need the administrator), then waiting, then sent; newest first.
    list.sort_by_key(|m| {
        let rank = match m.state {
            State::Failed => 0,
            State::Pending => 1,
            State::Sent => 2,
        };
        (rank, std::cmp::Reverse(m.created_at))
    });
    Ok(html(render(&OutboxPage {
        layout: Layout::signed_in(&req, &state, &signed_in).await?,
        nav: Nav::of(None, "mail"),
        csrf_token: signed_in.session.csrf_token.clone(),
        script: assets::url("js/jobs.js"),
        failed,
        pending,
        sent,
        messages: list.into_iter().map(MessageRow::from).collect(),
    })?))
}
