//! Metrics in the Prometheus text format (version 0.0.4), served on their own listener
//! (`metrics_listen`, loopback by default), never on the public port.
//!
//! Counters live in process memory and start at zero with the process, as Prometheus
//! expects of counters; they are plain atomics so that counting a request costs no lock.
//! Figures the store already keeps (outbox depth, job outcomes, last backup, sizes) are read
//! when scraped. Nothing here names a person, an organization or a record: labels are route
//! classes, status codes, job names and states.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::audit::Outcome;
use crate::store::Store;

/// Route classes, the `route` label: what kind of request, never its path.
pub const ROUTE_CLASSES: [&str; 6] = ["page", "api", "auth", "admin", "asset", "health"];
/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 11] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];
/// Status codes 100 to 599, one counter each.
const STATUSES: usize = 500;

struct RouteCounters {
    by_status: [AtomicU64; STATUSES],
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl RouteCounters {
    const fn new() -> Self {
        RouteCounters {
            by_status: [const { AtomicU64::new(0) }; STATUSES],
            buckets: [const { AtomicU64::new(0) }; BUCKETS.len()],
            count: AtomicU64::new(0),
            sum_nanos: AtomicU64::new(0),
        }
    }
}

struct Counters {
    routes: [RouteCounters; ROUTE_CLASSES.len()],
    signin_failures: AtomicU64,
    lockouts: AtomicU64,
    mail_sent: AtomicU64,
    mail_failures: AtomicU64,
    /// Per job in [`crate::jobs::Job::ALL`] order: successes, failures.
    job_runs: [[AtomicU64; 2]; crate::jobs::Job::ALL.len()],
}

static COUNTERS: Counters = Counters {
    routes: [const { RouteCounters::new() }; ROUTE_CLASSES.len()],
    signin_failures: AtomicU64::new(0),
    lockouts: AtomicU64::new(0),
    mail_sent: AtomicU64::new(0),
    mail_failures: AtomicU64::new(0),
    job_runs: [const { [AtomicU64::new(0), AtomicU64::new(0)] }; crate::jobs::Job::ALL.len()],
};

/// Which `route` label a request counts under: the rate-limit class the edge already
/// decided, with open routes split into pages, assets and health checks. An index into
/// [`ROUTE_CLASSES`].
pub fn route_class(class: crate::web::limits::RouteClass, path: &str) -> usize {
    use crate::web::limits::RouteClass;
    let name = match class {
        RouteClass::Open if path.starts_with("/assets/") => "asset",
        RouteClass::Open if path == "/healthz" || path == "/readyz" => "health",
        RouteClass::Open => "page",
        RouteClass::Api => "api",
        RouteClass::Auth => "auth",
        RouteClass::Admin => "admin",
    };
    // By name, so reordering ROUTE_CLASSES cannot mislabel a route.
    ROUTE_CLASSES.iter().position(|c| *c == name).unwrap_or(0)
}

/// Counts one answered request.
pub fn record_request(class: usize, status: u16, elapsed: std::time::Duration) {
    let Some(route) = COUNTERS.routes.get(class) else {
        return;
    };
    if let Some(counter) = usize::from(status)
        .checked_sub(100)
        .and_then(|i| route.by_status.get(i))
    {
        counter.fetch_add(1, Ordering::Relaxed);
    }
    let seconds = elapsed.as_secs_f64();
    if let Some(bucket) = BUCKETS
        .iter()
        .position(|bound| seconds <= *bound)
        .and_then(|i| route.buckets.get(i))
    {
        bucket.fetch_add(1, Ordering::Relaxed);
    }
    route.count.fetch_add(1, Ordering::Relaxed);
    route.sum_nanos.fetch_add(
        u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
}

/// Counts what the audit log records of interest here: failed sign-ins, lockouts, job
/// runs. Called for every appended event.
pub fn record_event(action: &str, target: Option<&str>, outcome: Outcome) {
    match (action, outcome) {
        ("auth.login", Outcome::Failure) => {
            COUNTERS.signin_failures.fetch_add(1, Ordering::Relaxed);
        }
        ("auth.lockout", _) => {
            COUNTERS.lockouts.fetch_add(1, Ordering::Relaxed);
        }
        ("job.run", outcome) => {
            let job = crate::jobs::Job::ALL
                .iter()
                .position(|job| Some(job.name()) == target);
            if let Some(runs) = job.and_then(|i| COUNTERS.job_runs.get(i)) {
                let index = usize::from(outcome != Outcome::Success);
                if let Some(counter) = runs.get(index) {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        _ => {}
    }
}

/// Counts one delivery attempt of the outbox.
pub fn record_delivery(sent: bool) {
    let counter = if sent {
        &COUNTERS.mail_sent
    } else {
        &COUNTERS.mail_failures
    };
    counter.fetch_add(1, Ordering::Relaxed);
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn load(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// The whole exposition. Store figures that cannot be read are left out (and logged), so a
/// scrape still shows the counters.
pub fn render(store: &Store, data_dir: &std::path::Path) -> String {
    let mut out = String::with_capacity(16 * 1024);
    header(
        &mut out,
        "rampart_build_info",
        "gauge",
        "The running release, as a label; always 1.",
    );
    let _ = writeln!(
        out,
        "rampart_build_info{{version=\"{}\",schema=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION"),
        store.schema_version()
    );

    header(
        &mut out,
        "rampart_http_requests_total",
        "counter",
        "HTTP requests answered, by route class and status code.",
    );
    for (class, route) in ROUTE_CLASSES.iter().zip(&COUNTERS.routes) {
        for (index, counter) in route.by_status.iter().enumerate() {
            let n = load(counter);
            if n > 0 {
                let _ = writeln!(
                    out,
                    "rampart_http_requests_total{{route=\"{class}\",status=\"{}\"}} {n}",
                    index + 100
                );
            }
        }
    }
    header(
        &mut out,
        "rampart_http_request_duration_seconds",
        "histogram",
        "Time from a request's arrival to its answer, by route class.",
    );
    for (class, route) in ROUTE_CLASSES.iter().zip(&COUNTERS.routes) {
        let mut cumulative = 0;
        for (bound, bucket) in BUCKETS.iter().zip(&route.buckets) {
            cumulative += load(bucket);
            let _ = writeln!(
                out,
                "rampart_http_request_duration_seconds_bucket{{route=\"{class}\",le=\"{bound}\"}} {cumulative}"
            );
        }
        let count = load(&route.count);
        let _ = writeln!(
            out,
            "rampart_http_request_duration_seconds_bucket{{route=\"{class}\",le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "rampart_http_request_duration_seconds_sum{{route=\"{class}\"}} {}",
            load(&route.sum_nanos) as f64 / 1e9
        );
        let _ = writeln!(
            out,
            "rampart_http_request_duration_seconds_count{{route=\"{class}\"}} {count}"
        );
    }

    for (name, help, counter) in [
        (
            "rampart_signin_failures_total",
            "Sign-ins refused: wrong password, unknown address, locked or disabled account.",
            &COUNTERS.signin_failures,
        ),
        (
            "rampart_lockouts_total",
            "Accounts locked after repeated failed sign-ins.",
            &COUNTERS.lockouts,
        ),
        (
            "rampart_mail_deliveries_total",
            "Messages the mail server accepted.",
            &COUNTERS.mail_sent,
        ),
        (
            "rampart_mail_delivery_failures_total",
            "Delivery attempts that failed (each retry counts).",
            &COUNTERS.mail_failures,
        ),
    ] {
        header(&mut out, name, "counter", help);
        let _ = writeln!(out, "{name} {}", load(counter));
    }

    header(
        &mut out,
        "rampart_job_runs_total",
        "counter",
        "Scheduled job runs since start, by job and outcome.",
    );
    for (job, runs) in crate::jobs::Job::ALL.iter().zip(&COUNTERS.job_runs) {
        for (outcome, counter) in ["success", "failure"].iter().zip(runs) {
            let _ = writeln!(
                out,
                "rampart_job_runs_total{{job=\"{}\",outcome=\"{outcome}\"}} {}",
                job.name(),
                load(counter)
            );
        }
    }

    store_figures(&mut out, store, data_dir);
    out
}

fn store_figures(out: &mut String, store: &Store, data_dir: &std::path::Path) {
    match crate::mail::outbox::list(store) {
        Ok(queued) => {
            header(
                out,
                "rampart_mail_outbox_messages",
                "gauge",
                "Messages in the outbox, by state.",
            );
            use crate::mail::outbox::State;
            for (state, label) in [
                (State::Pending, "pending"),
                (State::Sent, "sent"),
                (State::Failed, "failed"),
            ] {
                let n = queued.iter().filter(|m| m.state == state).count();
                let _ = writeln!(out, "rampart_mail_outbox_messages{{state=\"{label}\"}} {n}");
            }
        }
        Err(err) => tracing::warn!(error = %err, "metrics: outbox unreadable"),
    }
    match crate::jobs::Jobs::ledger_times(store) {
        Ok(times) => {
            type Pick = fn(&crate::jobs::LedgerTimes) -> Option<i64>;
            let per_job: [(&str, &str, Pick); 2] = [
                (
                    "rampart_job_last_run_timestamp_seconds",
                    "When each job last ran (unix time).",
                    |t| t.1,
                ),
                (
                    "rampart_job_last_success_timestamp_seconds",
                    "When each job last succeeded (unix time).",
                    |t| t.2,
                ),
            ];
            for (name, help, pick) in per_job {
                header(out, name, "gauge", help);
                for times in &times {
                    if let Some(at) = pick(times) {
                        let _ = writeln!(out, "{name}{{job=\"{}\"}} {at}", times.0);
                    }
                }
            }
            header(
                out,
                "rampart_backup_last_success_timestamp_seconds",
                "gauge",
                "When the last good backup was made (unix time); 0 when none was.",
            );
            let backup = times
                .iter()
                .find(|(job, _, _)| *job == crate::jobs::Job::Backup.name())
                .and_then(|(_, _, ok)| *ok)
                .unwrap_or(0);
            let _ = writeln!(
                out,
                "rampart_backup_last_success_timestamp_seconds {backup}"
            );
        }
        Err(err) => tracing::warn!(error = %err, "metrics: job ledger unreadable"),
    }
    header(
        out,
        "rampart_store_size_bytes",
        "gauge",
        "Size of the store file.",
    );
    let store_bytes = std::fs::metadata(store.path()).map_or(0, |m| m.len());
    let _ = writeln!(out, "rampart_store_size_bytes {store_bytes}");
    header(
        out,
        "rampart_evidence_size_bytes",
        "gauge",
        "Bytes of encrypted evidence files on disk, every version and the bin included.",
    );
    let _ = writeln!(
        out,
        "rampart_evidence_size_bytes {}",
        tree_size(&data_dir.join("evidence"))
    );
}

/// Bytes of the regular files under `dir`, one level of folders deep (the vault's layout).
fn tree_size(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => std::fs::read_dir(entry.path())
                .map(|files| {
                    files
                        .flatten()
                        .filter_map(|f| f.metadata().ok())
                        .filter(std::fs::Metadata::is_file)
                        .map(|m| m.len())
                        .sum()
                })
                .unwrap_or(0),
            Ok(kind) if kind.is_file() => entry.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

/// Serves `GET /metrics` on `listener` until the returned server is stopped.
pub fn server(
    listener: std::net::TcpListener,
    store: std::sync::Arc<Store>,
    data_dir: std::path::PathBuf,
) -> std::io::Result<actix_web::dev::Server> {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let state = web::Data::new((store, data_dir));
    Ok(HttpServer::new(move || {
        App::new().app_data(state.clone()).route(
            "/metrics",
            web::get().to(
                |state: web::Data<(std::sync::Arc<Store>, std::path::PathBuf)>| async move {
                    let state = state.into_inner();
                    let body = web::block(move || render(&state.0, &state.1))
                        .await
                        .unwrap_or_default();
                    HttpResponse::Ok()
                        .content_type("text/plain; version=0.0.4; charset=utf-8")
                        .body(body)
                },
            ),
        )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run())
}
