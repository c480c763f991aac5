//! The security dashboard pages. The figures are rendered here, so the page is complete
//! without JavaScript; `js/security.js` then refreshes them in place from the JSON route.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::AppState;
use super::assets;
use super::audit_pages::{Nav, actor_label, outcome_text, shorten, utc};
use super::error::WebError;
use super::identity::{self, now};
use super::pages::{Layout, html, render, require_org_page, require_page};

use crate::security::{self, Dashboard};
use crate::store::OrgId;

/// Characters of a user agent shown in the table; the whole string is in its tooltip.
const AGENT_CHARS: usize = 40;

/// A count and the width of its bar: 0 for none, else 1 to 10 in proportion to the largest
/// count of its column. `js/security.js` computes it the same way.
struct Cell {
    count: u32,
    level: u32,
}

fn level(count: u32, max: u32) -> u32 {
    if count == 0 || max == 0 {
        0
    } else {
        (count * 10).div_ceil(max).min(10)
    }
}

/// One hour's or one day's counts, a cell per category.
struct BucketRow {
    label: String,
    cells: Vec<Cell>,
}

struct Total {
    key: &'static str,
    label: &'static str,
    last_24h: u32,
    last_14d: u32,
}

struct Recent {
    time: String,
    datetime: String,
    category: &'static str,
    action: String,
    outcome: &'static str,
    actor: String,
    ip: String,
    agent: String,
    agent_full: String,
    org: String,
    org_full: String,
}

#[derive(Template)]
#[template(path = "security.html")]
struct SecurityPage {
    layout: Layout,
    script: String,
    nav: Nav,
    heading: &'static str,
    scope: String,
    /// The JSON route the script polls.
    source: String,
    updated: String,
    /// Category labels, in the order of the cells of each row.
    columns: Vec<&'static str>,
    totals: Vec<Total>,
    hourly: Vec<BucketRow>,
    daily: Vec<BucketRow>,
    recent: Vec<Recent>,
    /// The newest listed event, so the script can tell which events are new.
    latest_seq: u64,
}

/// Rows of a period: one per bucket start, a cell per category.
fn rows(starts: &[i64], counts: &[&[u32]], label: impl Fn(i64) -> String) -> Vec<BucketRow> {
    let maxima: Vec<u32> = counts
        .iter()
        .map(|c| c.iter().copied().max().unwrap_or(0))
        .collect();
    starts
        .iter()
        .enumerate()
        .map(|(i, start)| BucketRow {
            label: label(*start),
            cells: counts
                .iter()
                .zip(&maxima)
                .map(|(series, max)| {
                    let count = series.get(i).copied().unwrap_or(0);
                    Cell {
                        count,
                        level: level(count, *max),
                    }
                })
                .collect(),
        })
        .collect()
}

/// `2026-11-23 14:00`: the start of an hour, UTC.
fn hour_label(start: i64) -> String {
    let (shown, _) = utc(start);
    shown.chars().take(16).collect()
}

/// `2026-11-23`: a UTC day.
fn day_label(start: i64) -> String {
    let (shown, _) = utc(start);
    shown.chars().take(10).collect()
}

fn page(layout: Layout, dashboard: &Dashboard, org: Option<OrgId>) -> SecurityPage {
    let hourly: Vec<&[u32]> = dashboard
        .series
        .iter()
        .map(|s| s.hourly.as_slice())
        .collect();
    let daily: Vec<&[u32]> = dashboard
        .series
        .iter()
        .map(|s| s.daily.as_slice())
        .collect();
    SecurityPage {
        layout,
        script: assets::url("js/security.js"),
        nav: Nav::of(org, "security"),
        heading: if org.is_some() {
            "Organization security dashboard"
        } else {
            "Appliance security dashboard"
        },
        scope: match org {
            Some(_) => "This organization: its events and its members\u{2019} sign-ins".into(),
            None => "Every organization, and the appliance itself".into(),
        },
        source: match org {
            Some(org) => format!("/api/v1/orgs/{org}/security"),
            None => "/api/v1/admin/security".into(),
        },
        updated: utc(dashboard.generated_at).0,
        columns: dashboard.series.iter().map(|s| s.label).collect(),
        totals: dashboard
            .series
            .iter()
            .map(|s| Total {
                key: s.category.key(),
                label: s.label,
                last_24h: s.last_24h,
                last_14d: s.last_14d,
            })
            .collect(),
        hourly: rows(&dashboard.hours, &hourly, hour_label),
        daily: rows(&dashboard.days, &daily, day_label),
        recent: dashboard
            .recent
            .iter()
            .map(|r| {
                let (time, datetime) = utc(r.time);
                let agent_full = r.user_agent.clone().unwrap_or_default();
                let org_full = r.org.clone().unwrap_or_default();
                Recent {
                    time,
                    datetime,
                    category: r.label,
                    action: r.action.clone(),
                    outcome: outcome_text(r.outcome),
                    actor: r
                        .actor_email
                        .clone()
                        .unwrap_or_else(|| actor_label(&r.actor, &HashMap::new())),
                    ip: r.ip.clone().unwrap_or_default(),
                    agent: shorten(&agent_full, AGENT_CHARS),
                    agent_full,
                    org: org_full.chars().take(8).collect(),
                    org_full,
                }
            })
            .collect(),
        latest_seq: dashboard.recent.first().map_or(0, |r| r.seq),
    }
}

pub async fn org_security(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let (signed_in, org) = match require_org_page(&req, &state, &path).await? {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    let requester = identity::requester(&signed_in);
    let client = identity::client(&req, &state);
    let store = state.store.clone();
    let dashboard =
        web::block(move || security::for_org(&store, requester, org, &client, now())).await??;
    let layout = Layout::signed_in(&req, &state, &signed_in).await?;
    Ok(html(render(&page(layout, &dashboard, Some(org)))?))
}

pub async fn admin_security(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let signed_in = match require_page(&req, &state).await? {
        Ok(signed_in) => signed_in,
        Err(redirect) => return Ok(redirect),
    };
    let requester = identity::requester(&signed_in);
    let store = state.store.clone();
    let dashboard = web::block(move || security::for_appliance(&store, requester, now())).await??;
    let layout = Layout::signed_in(&req, &state, &signed_in).await?;
    Ok(html(render(&page(layout, &dashboard, None))?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_count_of_their_column() {
        assert_eq!(level(0, 0), 0);
        assert_eq!(level(0, 5), 0);
        assert_eq!(level(5, 5), 10);
        assert_eq!(level(1, 5), 2);
        assert_eq!(level(1, 1000), 1, "any event shows");
    }
}
