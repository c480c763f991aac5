//! The actix-web application: translates HTTP to calls on the domain modules and back.

mod account_api;
mod account_pages;
pub mod api;
mod assess_api;
mod assess_pages;
mod assets;
mod audit_pages;
mod auth_api;
mod catalog_api;
mod catalog_pages;
mod docs_api;
mod docs_pages;
mod download;
mod edge;
mod error;
mod evidence_api;
mod evidence_pages;
mod handle;
mod identity;
mod jobs_api;
mod jobs_pages;
pub(crate) mod limits;
mod mail_api;
mod openapi;
mod overview_pages;
mod pages;
mod routing;
mod security_api;
mod security_keys_api;
mod security_pages;
mod shell;
mod words;

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::json;

use crate::config::Config;
use crate::store::Store;

pub use error::WebError;
use routing::Endpoint;

/// How long in-flight requests get to finish after SIGTERM.
pub const SHUTDOWN_GRACE_SECS: u64 = 10;

/// Shared by every worker.
pub struct AppState {
    pub store: Arc<Store>,
    pub hasher: crate::auth::Hasher,
    pub trusted_proxies: crate::config::TrustedProxies,
    /// Where users reach Rampart, when configured: its origin is the one unsafe requests
    /// must come from.
    pub public_url: Option<crate::config::PublicUrl>,
    pub limits: Arc<limits::Limits>,
    /// Where users reach Rampart, for links shown in answers.
    pub base_url: String,
    /// Sessions recently read from the store, checked against its generation.
    pub sessions: identity::SessionCache,
    /// WebAuthn's relying party: Rampart's origin as browsers see it.
    pub relying_party: crate::auth::security_keys::RelyingParty,
    pub body_limit_bytes: u64,
    /// How long an evidence upload may send nothing before it is abandoned.
    pub upload_idle: Duration,
    /// Where evidence blobs live, and the upload limits.
    pub vault: Arc<crate::evidence::Vault>,
    /// What each organization's imported catalogs may hold.
    pub catalog_quota: crate::catalog::Quota,
    /// The scheduled jobs, for the jobs page.
    pub jobs: Arc<crate::jobs::Jobs>,
    /// False once shutdown begins, so load balancers stop sending traffic.
    pub ready: Arc<AtomicBool>,
    /// What /.well-known/security.txt says; `None` when no contact is configured.
    pub security_txt: Option<SecurityTxt>,
}

/// The configured parts of /.well-known/security.txt.
pub struct SecurityTxt {
    pub contact: String,
    pub valid_days: u64,
    /// The file's own URL, when the public URL is known.
    pub canonical: Option<String>,
}

/// Every page and system route (the API's are in [`api::ROUTES`]).
static PAGES: &[Endpoint] = &[
    Endpoint {
        method: "get",
        path: "/",
        route: || web::get().to(pages::index),
    },
    Endpoint {
        method: "get",
        path: "/setup/{token}",
        route: || web::get().to(pages::setup_form),
    },
    Endpoint {
        method: "post",
        path: "/setup/{token}",
        route: || web::post().to(pages::setup_submit),
    },
    Endpoint {
        method: "get",
        path: "/signin",
        route: || web::get().to(pages::signin_form),
    },
    Endpoint {
        method: "post",
        path: "/signin",
        route: || web::post().to(pages::signin_submit),
    },
    Endpoint {
        method: "get",
        path: "/signin/mfa",
        route: || web::get().to(account_pages::mfa_form),
    },
    Endpoint {
        method: "post",
        path: "/signin/mfa",
        route: || web::post().to(account_pages::mfa_submit),
    },
    Endpoint {
        method: "post",
        path: "/signout",
        route: || web::post().to(pages::signout),
    },
    Endpoint {
        method: "get",
        path: "/account",
        route: || web::get().to(account_pages::account),
    },
    Endpoint {
        method: "get",
        path: "/email/confirm/{token}",
        route: || web::get().to(account_pages::email_confirm_form),
    },
    Endpoint {
        method: "post",
        path: "/email/confirm/{token}",
        route: || web::post().to(account_pages::email_confirm_submit),
    },
    Endpoint {
        method: "get",
        path: "/orgs/{org_id}",
        route: || web::get().to(overview_pages::overview),
    },
    Endpoint {
        method: "get",
        path: "/orgs/{org_id}/settings",
        route: || web::get().to(overview_pages::settings),
    },
    Endpoint {
        method: "get",
        path: "/orgs/{org_id}/poam",
        route: || web::get().to(overview_pages::poam),
    },
    Endpoint {
        method: "get",
        path: "/admin",
        route: || web::get().to(pages::administration),
    },
    Endpoint {
        method: "get",
        path: "/favicon.ico",
        route: || web::get().to(assets::favicon),
    },
    Endpoint {
        method: "get",
        path: "/orgs/{org_id}/members",
        route: || web::get().to(account_pages::members),
    },
    Endpoint {
        method: "get",
        path: "/invite/{token}",
        route: || web::get().to(pages::invite_form),
    },
    Endpoint {
        method: "post",
        path: "/invite/{token}",
        route: || web::post().to(pages::invite_submit),
    },
    Endpoint {
        method: "get",
        path: "/invite/confirm/{token}",
        route: || web::get().to(pages::invite_confirm_form),
    },
    Endpoint {
        method: "post",
        path: "/invite/confirm/{token}",
        route: || web::post().to(pages::invite_confirm_submit),
    },
    Endpoint {
        method: "get",
        path: "/reset",
        route: || web::get().to(pages::reset_request_form),
    },
    Endpoint {
        method: "post",
        path: "/reset",
        route: || web::post().to(pages::reset_request_submit),
    },
    Endpoint {
        method: "get",
        path: "/reset/{token}",
        route: || web::get().to(pages::reset_form),
    },
    Endpoint {
        method: "post",
        path: "/reset/{token}",
        route: || web::post().to(pages::reset_submit),
    },
    Endpoint {
        method: "get",
        path: "/orgs/{org_id}/audit",
        route: || web::get().to(audit_pages::org_audit),
    },
    Endpoint {
        method: "get",
        path: "/admin/audit",
        route: || web::get().to(audit_pages::admin_audit),
    },
    Endpoint {
        method: "get",
        path: "/orgs/{org_id}/security",
        route: || web::get().to(security_pages::org_security),
    },
    Endpoint {
        method: "get",
        path: "/admin/jobs",
        route: || web::get().to(jobs_pages::jobs),
    },
    Endpoint {
        method: "get",
        path: "/admin/mail",
        route: || web::get().to(jobs_pages::outbox),
    },
    Endpoint {
        method: "get",
        path: "/admin/security",
        route: || web::get().to(security_pages::admin_security),
    },
    Endpoint {
        method: "get",
        path: "/orgs/{org_id}/assessments",
        route: || web::get().to(assess_pages::assessments),
    },
    Endpoint {
        method: "get",
        path: "/orgs/{org_id}/assessments/{assessment_id}",
        route: || web::get().to(assess_pages::dashboard),
    },
    Endpoint {
        method: "get",
        path: "/orgs/{org_id}/assessments/{assessment_id}/objectives",
        route: || web::get().to(assess_pages::objectives),
    },
    Endpoint {
        method: "get",
        path: "/orgs/{org_id}/assessments/{assessment_id}/requirements/{requirement_id}",
        route: || web::get().to(assess_pages::requirement),
    },
    Endpoint {
        method: "get",
        path: "/orgs/{org_id}/assessments/{assessment_id}/poam",
        route: || web::get().to(assess_pages::poam),
    },
    Endpoint {
        method: "get",
        path: "/orgs/{org_id}/assessments/{assessment_id}/poam/{requirement_id}",
        route: || web::get().to(assess_pages::poam_item),
    },
    Endpoint {
        method: "get",
        path: "/orgs/{org_id}/assessments/{assessment_id}/gaps",
        route: || web::get().to(assess_pages::gaps),
    },
    Endpoint {
        method: "get",
        path: "/orgs/{org_id}/catalogs",
        route: || web::get().to(catalog_pages::catalogs),
    },
    Endpoint {
        method: "get",
        path: "/orgs/{org_id}/drift",
        route: || web::get().to(assess_pages::drift),
    },
    Endpoint {
        method: "get",
        path: "/orgs/{org_id}/evidence",
        route: || web::get().to(evidence_pages::library),
    },
    Endpoint {
        method: "get",
        path: "/orgs/{org_id}/documents",
        route: || web::get().to(docs_pages::documents),
    },
    Endpoint {
        method: "get",
        path: "/orgs/{org_id}/evidence/{evidence_id}",
        route: || web::get().to(evidence_pages::detail),
    },
    Endpoint {
        method: "get",
        path: "/share/{token}",
        route: || web::get().to(evidence_api::shared),
    },
    Endpoint {
        method: "get",
        path: "/healthz",
        route: || web::get().to(healthz),
    },
    Endpoint {
        method: "get",
        path: "/.well-known/security.txt",
        route: || web::get().to(security_txt),
    },
    Endpoint {
        method: "get",
        path: "/privacy",
        route: || web::get().to(pages::privacy),
    },
    Endpoint {
        method: "get",
        path: "/readyz",
        route: || web::get().to(readyz),
    },
    Endpoint {
        method: "get",
        path: "/assets/{name}",
        route: || web::get().to(assets::serve),
    },
];

/// RFC 9116: where to report a security problem in this appliance, until when that holds.
async fn security_txt(state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    let Some(txt) = &state.security_txt else {
        return Err(WebError::NotFound);
    };
    let expires = time::OffsetDateTime::now_utc()
        + time::Duration::days(i64::try_from(txt.valid_days).unwrap_or(180));
    let expires = expires
        .replace_nanosecond(0)
        .unwrap_or(expires)
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|err| WebError::Internal(err.to_string()))?;
    let mut body = format!(
        "Contact: {}\nExpires: {expires}\nPreferred-Languages: en\n",
        txt.contact
    );
    if let Some(canonical) = &txt.canonical {
        body.push_str(&format!("Canonical: {canonical}\n"));
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(body))
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({ "status": "ok" }))
}

async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    if !state.ready.load(Ordering::Acquire) {
        return Err(WebError::Unavailable);
    }
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({ "status": "ready", "schema_version": state.store.schema_version() })))
}

/// Builds the HTTPS server on an already bound listener. The caller runs and stops it.
pub fn build_server(
    config: &Config,
    listener: TcpListener,
    tls: rustls::ServerConfig,
    store: Arc<Store>,
    vault: Arc<crate::evidence::Vault>,
    jobs: Arc<crate::jobs::Jobs>,
    ready: Arc<AtomicBool>,
) -> std::io::Result<Server> {
    let body_limit = config.body_limit_bytes.get();
    let body_limit_usize = usize::try_from(body_limit).unwrap_or(usize::MAX);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let limits = Arc::new(limits::Limits::new(
        config.rate_limit_auth_per_minute.get(),
        config.rate_limit_api_per_minute.get(),
        config.rate_limit_admin_per_minute.get(),
    ));
    let sweeper = limits.clone();
    actix_web::rt::spawn(async move {
        let mut every = actix_web::rt::time::interval(Duration::from_secs(30));
        loop {
            every.tick().await;
            sweeper.sweep();
        }
    });
    let base_url = config.public_url.as_ref().map_or_else(
        || {
            format!(
                "https://{}",
                listener.local_addr().map_or(config.listen, |a| a)
            )
        },
        |url| url.as_str().to_owned(),
    );
    // Browsers refuse WebAuthn on an IP address; on loopback, `localhost` (which the
    // self-signed certificate names) is the origin that works.
    let webauthn_origin = match (&config.public_url, listener.local_addr()) {
        (Some(url), _) => url.as_str().to_owned(),
        (None, Ok(addr)) => format!("https://localhost:{}", addr.port()),
        (None, Err(_)) => base_url.clone(),
    };
    let state = web::Data::new(AppState {
        relying_party: crate::auth::security_keys::RelyingParty::new(&webauthn_origin),
        sessions: identity::SessionCache::new(),
        base_url,
        limits,
        store,
        // One core is always left to serve pages: a storm of sign-ins (all PBKDF2) must not
        // starve everyone else. On 2 cores that is one hash at a time.
        hasher: crate::auth::Hasher::new(cores.saturating_sub(1).max(1)),
        trusted_proxies: config.trusted_proxies.clone(),
        public_url: config.public_url.clone(),
        body_limit_bytes: body_limit,
        upload_idle: Duration::from_secs(config.upload_idle_timeout_secs.get()),
        vault,
        catalog_quota: crate::catalog::Quota {
            bytes: config.catalog_quota_bytes.get(),
            controls: config.catalog_quota_controls.get(),
        },
        jobs,
        ready,
        security_txt: config.security_contact.as_ref().map(|contact| SecurityTxt {
            contact: contact.0.clone(),
            valid_days: config.security_txt_valid_days.get(),
            canonical: config.public_url.as_ref().map(|url| {
                format!(
                    "{}/.well-known/security.txt",
                    url.as_str().trim_end_matches('/')
                )
            }),
        }),
    });
    let workers = usize::try_from(config.workers.get()).unwrap_or(1);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web::PayloadConfig::new(body_limit_usize))
            .app_data(
                web::JsonConfig::default()
                    .limit(body_limit_usize)
                    .error_handler(error::json_body_error),
            )
            .app_data(web::FormConfig::default().limit(body_limit_usize))
            .wrap(from_fn(edge::edge))
            .configure(|cfg| {
                let endpoints: Vec<&'static Endpoint> = PAGES.iter().chain(api::ROUTES).collect();
                routing::configure(cfg, &endpoints);
            })
    })
    .workers(workers)
    .client_request_timeout(Duration::from_secs(config.request_timeout_secs.get()))
    .client_disconnect_timeout(Duration::from_secs(2))
    .shutdown_timeout(SHUTDOWN_GRACE_SECS)
    .disable_signals()
    .listen_rustls_0_23(listener, tls)?
    .run();
    Ok(server)
}
