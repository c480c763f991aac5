//! HTML pages: one askama template struct per page, all extending `base.html`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::AppState;
use super::assets;
use super::error::WebError;
use super::identity;
use crate::auth::{self, Password, SetupRequest};

pub const PRODUCT: &str = "Rampart";

/// What the base layout needs on every page.
pub struct Layout {
    pub product: &'static str,
    pub version: &'static str,
    pub css: String,
    pub js: String,
    pub icon: String,
    /// The application shell, on every page of a signed-in person.
    pub shell: Option<super::shell::Shell>,
}

impl Layout {
    /// The layout of a page for anyone (sign-in, setup, errors): no shell.
    pub fn new() -> Layout {
        Layout {
            product: PRODUCT,
            version: env!("CARGO_PKG_VERSION"),
            css: assets::url("css/app.css"),
            js: assets::url("js/app.js"),
            icon: assets::url("img/icon.svg"),
            shell: None,
        }
    }

    /// The layout of the signed-in page `req` asked for, in the application shell.
    pub async fn signed_in(
        req: &HttpRequest,
        state: &web::Data<AppState>,
        signed_in: &identity::SignedIn,
    ) -> Result<Layout, WebError> {
        Ok(Layout {
            shell: Some(super::shell::for_page(req, state, signed_in).await?),
            ..Layout::new()
        })
    }
}

impl Default for Layout {
    fn default() -> Self {
        Layout::new()
    }
}

/// A page whose content was rendered (and perhaps kept) apart from its reader's shell.
#[derive(Template)]
#[template(path = "wrapped.html")]
pub(super) struct Wrapped<'a> {
    pub(super) layout: Layout,
    pub(super) title: &'a str,
    pub(super) body: &'a str,
}

pub fn render(page: &impl Template) -> Result<String, WebError> {
    page.render()
        .map_err(|err| WebError::Internal(format!("template: {err}")))
}

pub(super) fn html(body: impl actix_web::body::MessageBody + 'static) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(body)
}

/// `kept` when there is one (read since the last commit: no blocking hop), else what `read`
/// returns on the blocking pool.
pub(super) async fn kept_or_block<T, E>(
    kept: Option<T>,
    read: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, WebError>
where
    T: Send + 'static,
    E: Send + 'static,
    WebError: From<E>,
{
    match kept {
        Some(kept) => Ok(kept),
        None => Ok(web::block(read).await??),
    }
}

pub(super) fn html_status(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(body)
}

pub(super) fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", location))
        .finish()
}

/// A count as people write it: `20,000`.
pub(super) fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A redirect that also sets (or removes) the session cookie.
pub(super) fn see_other_with(
    location: &str,
    cookie: &actix_web::cookie::Cookie<'_>,
) -> Result<HttpResponse, WebError> {
    let mut response = see_other(location);
    response
        .add_cookie(cookie)
        .map_err(|err| WebError::Internal(err.to_string()))?;
    Ok(response)
}

/// Where a session that is not fully signed in must go first: the second-factor step, or
/// enrolment on the account page when its organization requires a second factor.
fn unfinished(signed_in: &identity::SignedIn, path: &str) -> Option<&'static str> {
    if signed_in.session.mfa_pending {
        Some("/signin/mfa")
    } else if signed_in.session.mfa_enrolment_required && !identity::enrolment_allows(path) {
        Some("/account")
    } else {
        None
    }
}

/// The signed-in person for a page, with every factor given; anyone else gets `Err` with a
/// redirect: to sign in, to finish the second factor, or to enrol one.
pub(super) async fn require_page(
    req: &HttpRequest,
    state: &web::Data<AppState>,
) -> Result<Result<identity::SignedIn, HttpResponse>, WebError> {
    let Some(signed_in) = identity::current(req, state).await? else {
        return Ok(Err(see_other("/signin")));
    };
    if let Some(next) = unfinished(&signed_in, req.path()) {
        return Ok(Err(see_other(next)));
    }
    Ok(Ok(signed_in))
}

/// [`require_page`] for a page about one organization: also the id from the path.
pub(super) async fn require_org_page(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    path: &str,
) -> Result<Result<(identity::SignedIn, crate::store::OrgId), HttpResponse>, WebError> {
    let signed_in = match require_page(req, state).await? {
        Ok(signed_in) => signed_in,
        Err(redirect) => return Ok(Err(redirect)),
    };
    Ok(Ok((signed_in, identity::parse_org(path)?)))
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    layout: Layout,
    /// The organizations the person belongs to: id, name and role.
    organizations: Vec<(String, String, String)>,
    appliance_admin: bool,
}

/// The home page: a person in one organization goes straight to its overview; anyone else
/// chooses. Anonymous visitors go to sign in.
pub async fn index(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    let signed_in = match require_page(&req, &state).await? {
        Ok(signed_in) => signed_in,
        Err(redirect) => return Ok(redirect),
    };
    let (store, requester) = (state.store.clone(), identity::requester(&signed_in));
    let organizations = kept_or_block(
        crate::org::kept_member_profiles(&state.store, requester),
        move || crate::org::member_profiles(&store, requester),
    )
    .await?;
    if let [(only, _)] = organizations.as_slice() {
        return Ok(see_other(&format!("/orgs/{}", only.id)));
    }
    let mut organizations: Vec<_> = organizations
        .into_iter()
        .map(|(org, role)| {
            (
                org.id.to_string(),
                org.name,
                super::words::label(role.as_str()),
            )
        })
        .collect();
    organizations.sort_by_key(|(_, name, _)| name.to_lowercase());
    let page = IndexPage {
        layout: Layout::signed_in(&req, &state, &signed_in).await?,
        organizations,
        appliance_admin: signed_in.account.appliance_admin,
    };
    Ok(html(render(&page)?))
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdministrationPage {
    layout: Layout,
    schema_version: u64,
    backup_warning: Option<String>,
    mail_on: bool,
}

/// The appliance administrator's home: the state of backups, mail and the store.
pub async fn administration(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let signed_in = match require_page(&req, &state).await? {
        Ok(signed_in) => signed_in,
        Err(redirect) => return Ok(redirect),
    };
    crate::access::authorize_appliance(identity::requester(&signed_in))?;
    let (store, jobs) = (state.store.clone(), state.jobs.clone());
    let backup_warning = kept_or_block(
        state
            .jobs
            .kept_backup_warning(&state.store, identity::now()),
        move || jobs.backup_warning(&store, identity::now()),
    )
    .await?;
    Ok(html(render(&AdministrationPage {
        layout: Layout::signed_in(&req, &state, &signed_in).await?,
        schema_version: state.store.schema_version(),
        backup_warning,
        mail_on: crate::mail::enabled(),
    })?))
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    layout: Layout,
    link_valid: bool,
    email: String,
    display_name: String,
    organization: String,
    /// The field the message is about, or empty for the whole form.
    field: String,
    message: String,
}

impl SetupPage {
    fn blank(link_valid: bool) -> SetupPage {
        SetupPage {
            layout: Layout::new(),
            link_valid,
            email: String::new(),
            display_name: String::new(),
            organization: String::new(),
            field: String::new(),
            message: String::new(),
        }
    }
}

pub async fn setup_form(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let store = state.store.clone();
    let token = token.into_inner();
    let valid =
        web::block(move || auth::check_link(&store, &token, identity::now()).is_ok()).await?;
    let status = if valid {
        StatusCode::OK
    } else {
        StatusCode::GONE
    };
    Ok(html_status(status, render(&SetupPage::blank(valid))?))
}

pub async fn setup_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
    form: web::Form<SetupRequest>,
) -> Result<HttpResponse, WebError> {
    let client = identity::client(&req, &state);
    let form = form.into_inner();
    match auth::complete_setup(
        &state.store,
        &state.hasher,
        &token,
        &form,
        &client,
        identity::now(),
    )
    .await
    {
        // The administrator just chose the password: this is their first sign-in, and they
        // land on their organization's overview.
        Ok(_) => {
            first_sign_in(
                &state,
                &form.email,
                &form.password,
                &client,
                "/signin?setup=done",
            )
            .await
        }
        Err(err) => {
            let err = WebError::from(err);
            let (status, field, link_valid) = match &err {
                WebError::Invalid { field, .. } => {
                    (StatusCode::UNPROCESSABLE_ENTITY, field.to_string(), true)
                }
                WebError::Conflict(_) => (StatusCode::CONFLICT, "email".to_owned(), true),
                WebError::Gone(_) => (StatusCode::GONE, String::new(), false),
                _ => return Err(err),
            };
            let page = SetupPage {
                link_valid,
                email: form.email,
                display_name: form.display_name,
                organization: form.organization,
                field,
                message: err.to_string(),
                ..SetupPage::blank(link_valid)
            };
            Ok(html_status(status, render(&page)?))
        }
    }
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SigninPage {
    layout: Layout,
    email: String,
    message: String,
    notice: String,
}

#[derive(serde::Deserialize)]
pub struct SigninQuery {
    setup: Option<String>,
}

pub async fn signin_form(query: web::Query<SigninQuery>) -> Result<HttpResponse, WebError> {
    let notice = if query.setup.is_some() {
        "Rampart is set up. Sign in with the account you just created."
    } else {
        ""
    };
    let page = SigninPage {
        layout: Layout::new(),
        email: String::new(),
        message: String::new(),
        notice: notice.to_owned(),
    };
    Ok(html(render(&page)?))
}

#[derive(serde::Deserialize)]
pub struct SigninForm {
    email: String,
    password: Password,
}

pub async fn signin_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<SigninForm>,
) -> Result<HttpResponse, WebError> {
    let client = identity::client(&req, &state);
    match auth::login(
        &state.store,
        &state.hasher,
        &form.email,
        &form.password,
        &client,
        identity::now(),
    )
    .await
    {
        Ok(signed_in) => {
            let next = if signed_in.session.mfa_pending {
                "/signin/mfa"
            } else if signed_in.session.mfa_enrolment_required {
                "/account"
            } else {
                "/"
            };
            see_other_with(next, &identity::session_cookie(&signed_in.token))
        }
        Err(crate::auth::AuthError::InvalidCredentials) => {
            let page = SigninPage {
                layout: Layout::new(),
                email: form.email.chars().take(254).collect(),
                message: crate::auth::AuthError::InvalidCredentials.to_string(),
                notice: String::new(),
            };
            Ok(html_status(StatusCode::UNAUTHORIZED, render(&page)?))
        }
        Err(err) => Err(err.into()),
    }
}

#[derive(serde::Deserialize)]
pub struct CsrfForm {
    csrf_token: String,
}

pub async fn signout(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, WebError> {
    let signed_in = identity::require_any(&req, &state).await?;
    identity::check_csrf(&req, &signed_in, Some(&form.csrf_token))?;
    let client = identity::client(&req, &state);
    let store = state.store.clone();
    web::block(move || {
        auth::logout(
            &store,
            &signed_in.token,
            signed_in.account.id,
            &client,
            identity::now(),
        )
    })
    .await??;
    see_other_with("/signin", &identity::expired_cookie())
}

#[derive(Template)]
#[template(path = "reset.html")]
struct ResetPage {
    layout: Layout,
    link_valid: bool,
    message: String,
}

#[derive(Template)]
#[template(path = "reset_request.html")]
struct ResetRequestPage {
    layout: Layout,
    sent: bool,
    email: String,
    message: String,
}

pub async fn reset_request_form() -> Result<HttpResponse, WebError> {
    Ok(html(render(&ResetRequestPage {
        layout: Layout::new(),
        sent: false,
        email: String::new(),
        message: String::new(),
    })?))
}

#[derive(serde::Deserialize)]
pub struct ResetRequestForm {
    email: String,
}

pub async fn reset_request_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<ResetRequestForm>,
) -> Result<HttpResponse, WebError> {
    let client = identity::client(&req, &state);
    let store = state.store.clone();
    let email = form.email.clone();
    let outcome =
        web::block(move || auth::reset::request(&store, &email, &client, identity::now())).await?;
    let (status, sent, message) = match outcome.map_err(WebError::from) {
        Ok(()) => (StatusCode::OK, true, String::new()),
        Err(err @ WebError::Invalid { .. }) => {
            (StatusCode::UNPROCESSABLE_ENTITY, false, err.to_string())
        }
        Err(err @ WebError::Conflict(_)) => (StatusCode::CONFLICT, false, err.to_string()),
        Err(err) => return Err(err),
    };
    let page = ResetRequestPage {
        layout: Layout::new(),
        sent,
        email: if sent {
            String::new()
        } else {
            form.email.clone()
        },
        message,
    };
    Ok(html_status(status, render(&page)?))
}

pub async fn reset_form(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let store = state.store.clone();
    let token = token.into_inner();
    let valid =
        web::block(move || auth::reset::check(&store, &token, identity::now()).is_ok()).await?;
    let page = ResetPage {
        layout: Layout::new(),
        link_valid: valid,
        message: String::new(),
    };
    let status = if valid {
        StatusCode::OK
    } else {
        StatusCode::GONE
    };
    Ok(html_status(status, render(&page)?))
}

#[derive(serde::Deserialize)]
pub struct ResetForm {
    password: Password,
}

pub async fn reset_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
    form: web::Form<ResetForm>,
) -> Result<HttpResponse, WebError> {
    let client = identity::client(&req, &state);
    match auth::reset::complete(
        &state.store,
        &state.hasher,
        &token,
        &form.password,
        &client,
        identity::now(),
    )
    .await
    {
        Ok(()) => Ok(see_other("/signin")),
        Err(err) => {
            let err = WebError::from(err);
            let (status, link_valid) = match &err {
                WebError::Invalid { .. } => (StatusCode::UNPROCESSABLE_ENTITY, true),
                WebError::Gone(_) => (StatusCode::GONE, false),
                _ => return Err(err),
            };
            let page = ResetPage {
                layout: Layout::new(),
                link_valid,
                message: err.to_string(),
            };
            Ok(html_status(status, render(&page)?))
        }
    }
}

#[derive(Template)]
#[template(path = "invite.html")]
struct InvitePage {
    layout: Layout,
    link_valid: bool,
    email: String,
    role: String,
    signed_in_as: Option<String>,
    csrf_token: String,
    message: String,
    /// A new account is confirmed through mail (said before the form is sent).
    mail_on: bool,
    /// Sent as a new account with mail on: what to do next, the same whoever the address is.
    check_mail: Option<String>,
}

async fn invite_page(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    token: String,
    status: StatusCode,
    message: String,
) -> Result<HttpResponse, WebError> {
    let store = state.store.clone();
    let found =
        web::block(move || auth::invitations::lookup(&store, &token, identity::now()).ok()).await?;
    let signed_in = identity::current(req, state)
        .await?
        .filter(|s| !s.session.mfa_pending);
    let page = InvitePage {
        layout: Layout::new(),
        link_valid: found.is_some(),
        email: found.as_ref().map(|i| i.email.clone()).unwrap_or_default(),
        role: found
            .as_ref()
            .map(|i| i.role.as_str().to_owned())
            .unwrap_or_default(),
        csrf_token: signed_in
            .as_ref()
            .map(|s| s.session.csrf_token.clone())
            .unwrap_or_default(),
        signed_in_as: signed_in.map(|s| s.account.display_name),
        message,
        mail_on: crate::mail::enabled(),
        check_mail: None,
    };
    let status = if page.link_valid {
        status
    } else {
        StatusCode::GONE
    };
    Ok(html_status(status, render(&page)?))
}

pub async fn invite_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    invite_page(
        &req,
        &state,
        token.into_inner(),
        StatusCode::OK,
        String::new(),
    )
    .await
}

#[derive(serde::Deserialize)]
pub struct InviteForm {
    display_name: Option<String>,
    password: Option<Password>,
    csrf_token: Option<String>,
}

pub async fn invite_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
    form: web::Form<InviteForm>,
) -> Result<HttpResponse, WebError> {
    let token = token.into_inner();
    let client = identity::client(&req, &state);
    let form = form.into_inner();
    let acceptor_account = match &form.password {
        Some(_) => None,
        None => {
            let signed_in = identity::require(&req, &state).await?;
            identity::check_csrf(&req, &signed_in, form.csrf_token.as_deref())?;
            Some(signed_in.account.id)
        }
    };
    let acceptor = match (&form.password, acceptor_account) {
        (Some(password), _) => auth::invitations::Acceptor::NewAccount {
            display_name: form.display_name.as_deref().unwrap_or(""),
            password,
        },
        (None, Some(id)) => auth::invitations::Acceptor::SignedIn(id),
        (None, None) => return Err(WebError::Unauthenticated),
    };
    match auth::invitations::accept(
        &state.store,
        &state.hasher,
        &token,
        acceptor,
        &client,
        identity::now(),
    )
    .await
    {
        Ok(auth::invitations::Accepted::Joined(account)) => {
            match (&form.password, acceptor_account) {
                // A new account with the password just chosen: its first sign-in.
                (Some(password), None) => {
                    first_sign_in(&state, &account.email, password, &client, "/signin").await
                }
                _ => Ok(see_other("/")),
            }
        }
        Ok(auth::invitations::Accepted::CheckMail { email }) => {
            let page = InvitePage {
                layout: Layout::new(),
                link_valid: true,
                check_mail: Some(super::auth_api::check_mail_message(&email)),
                email,
                role: String::new(),
                signed_in_as: None,
                csrf_token: String::new(),
                message: String::new(),
                mail_on: true,
            };
            Ok(html(render(&page)?))
        }
        Err(err) => {
            let err = WebError::from(err);
            match &err {
                WebError::Invalid { .. } | WebError::Gone(_) => {
                    invite_page(
                        &req,
                        &state,
                        token,
                        StatusCode::UNPROCESSABLE_ENTITY,
                        err.to_string(),
                    )
                    .await
                }
                _ => Err(err),
            }
        }
    }
}

#[derive(Template)]
#[template(path = "invite_confirm.html")]
struct InviteConfirmPage {
    layout: Layout,
    /// Empty when the link does not work.
    email: String,
    role: String,
    message: String,
}

fn invite_confirm_page(
    status: StatusCode,
    found: Option<(String, crate::access::Role)>,
    message: String,
) -> Result<HttpResponse, WebError> {
    let (email, role) = found
        .map(|(email, role)| (email, role.as_str().to_owned()))
        .unwrap_or_default();
    let page = InviteConfirmPage {
        layout: Layout::new(),
        email,
        role,
        message,
    };
    Ok(html_status(status, render(&page)?))
}

/// The link mailed to confirm a new account opens this page; the account is made only when
/// its form is sent with the password chosen when accepting, so a mail scanner following
/// the link, or a recipient who never accepted, makes nothing.
pub async fn invite_confirm_form(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let store = state.store.clone();
    let token = token.into_inner();
    match web::block(move || auth::invitations::check_confirmation(&store, &token, identity::now()))
        .await?
    {
        Ok(found) => invite_confirm_page(StatusCode::OK, Some(found), String::new()),
        Err(err) => match WebError::from(err) {
            WebError::Gone(message) => invite_confirm_page(StatusCode::GONE, None, message),
            other => Err(other),
        },
    }
}

#[derive(serde::Deserialize)]
pub struct InviteConfirmForm {
    password: Password,
}

/// Makes the account, signs it in and opens Rampart.
pub async fn invite_confirm_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
    form: web::Form<InviteConfirmForm>,
) -> Result<HttpResponse, WebError> {
    let token = token.into_inner();
    let client = identity::client(&req, &state);
    let confirmed = auth::invitations::confirm(
        &state.store,
        &state.hasher,
        &token,
        &form.password,
        &client,
        identity::now(),
    )
    .await;
    let member = match confirmed {
        Ok(member) => member,
        Err(err) => {
            let err = WebError::from(err);
            let status = match &err {
                WebError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                WebError::Gone(_) => StatusCode::GONE,
                _ => return Err(err),
            };
            let store = state.store.clone();
            let found = web::block(move || {
                auth::invitations::check_confirmation(&store, &token, identity::now()).ok()
            })
            .await?;
            return invite_confirm_page(status, found, err.to_string());
        }
    };
    // The password was just proved: this is the account's first sign-in.
    first_sign_in(&state, &member.email, &form.password, &client, "/signin").await
}

/// Signs in an account whose password was just chosen or proved (setup, joining through an
/// invitation) and opens Rampart: home, or the account page when a second factor must be
/// enrolled first. Should the sign-in itself be refused (a lockout, say), `otherwise`.
async fn first_sign_in(
    state: &web::Data<AppState>,
    email: &str,
    password: &Password,
    client: &auth::Client,
    otherwise: &str,
) -> Result<HttpResponse, WebError> {
    match auth::login(
        &state.store,
        &state.hasher,
        email,
        password,
        client,
        identity::now(),
    )
    .await
    {
        Ok(signed_in) => {
            let next = if signed_in.session.mfa_enrolment_required {
                "/account"
            } else {
                "/"
            };
            see_other_with(next, &identity::session_cookie(&signed_in.token))
        }
        Err(_) => Ok(see_other(otherwise)),
    }
}

#[derive(Template)]
#[template(path = "privacy.html")]
struct PrivacyPage {
    layout: Layout,
    cookie: &'static str,
}

/// The privacy notice: what is kept about a person, the one cookie, no tracking.
pub async fn privacy() -> Result<HttpResponse, WebError> {
    Ok(html(render(&PrivacyPage {
        layout: Layout::new(),
        cookie: crate::auth::session::COOKIE,
    })?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(super::grouped(0), "0");
        assert_eq!(super::grouped(999), "999");
        assert_eq!(super::grouped(20_000), "20,000");
        assert_eq!(super::grouped(1_234_567), "1,234,567");
    }
}
