//! The jobs page (appliance administrator): each job's schedule, last and next run, and a
//! button to run it now through the JSON API.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::AppState;
use super::assets;
use super::audit_pages::utc;
use super::error::WebError;
use super::identity;
use super::pages::{Layout, html, render, require_page};
use crate::jobs::JobView;

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
        layout: Layout::new(),
        csrf_token: signed_in.session.csrf_token.clone(),
        script: assets::url("js/jobs.js"),
        time_zone: list
            .first()
            .map_or_else(|| "UTC".to_owned(), |job| job.time_zone.clone()),
        jobs: list.into_iter().map(JobRow::from).collect(),
    })?))
}
