//! Pages for a signed-in person: the second-factor step of a sign-in, account settings, and
//! an organization's members and invitations. They render what the domain modules return;
//! changes go through the JSON API from `app.js`, so each rule lives in one handler.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::AppState;
use super::error::WebError;
use super::identity::{self, SignedIn, now};
use super::pages::{Layout, html, html_status, render, require_org_page, require_page, see_other};
use crate::access::Role;
use crate::auth::security_keys::SecurityKeyView;
use crate::auth::session::SessionView;
use crate::auth::tokens::ApiToken;
use crate::auth::{self, mfa::SecondFactor};
use crate::store::OrgId;

/// Formats Unix seconds for people: UTC, to the minute.
pub fn when(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_default()
}

#[derive(Template)]
#[template(path = "mfa.html")]
struct MfaPage {
    layout: Layout,
    csrf_token: String,
    has_totp: bool,
    has_keys: bool,
    /// The field the message is about: "code", "recovery_code" or "security_key".
    field: &'static str,
    message: String,
    script: String,
}

fn mfa_page(
    pending: &SignedIn,
    status: StatusCode,
    field: &'static str,
    message: String,
) -> Result<HttpResponse, WebError> {
    let held = &pending.account.mfa;
    let page = MfaPage {
        layout: Layout::new(),
        csrf_token: pending.session.csrf_token.clone(),
        has_totp: held.totp.is_some(),
        has_keys: !held.security_keys.is_empty(),
        field,
        message,
        script: super::assets::url("js/account.js"),
    };
    Ok(html_status(status, render(&page)?))
}

pub async fn mfa_form(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    match identity::require_pending(&req, &state).await {
        Ok(pending) => mfa_page(&pending, StatusCode::OK, "", String::new()),
        Err(_) => Ok(see_other("/signin")),
    }
}

#[derive(Deserialize)]
pub struct MfaForm {
    csrf_token: String,
    code: Option<String>,
    recovery_code: Option<String>,
}

pub async fn mfa_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<MfaForm>,
) -> Result<HttpResponse, WebError> {
    let Ok(pending) = identity::require_pending(&req, &state).await else {
        return Ok(see_other("/signin"));
    };
    identity::check_csrf(&req, &pending, Some(&form.csrf_token))?;
    let form = form.into_inner();
    let non_empty = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
    let factor = SecondFactor {
        code: non_empty(form.code),
        recovery_code: non_empty(form.recovery_code),
        webauthn: None,
    };
    let field = if factor.code.is_some() {
        "code"
    } else {
        "recovery_code"
    };
    let client = identity::client(&req, &state);
    let token = pending.token.clone();
    let shared = state.clone().into_inner();
    let outcome = web::block(move || {
        auth::complete_mfa(
            &shared.store,
            &shared.relying_party,
            &token,
            &factor,
            &client,
            now(),
        )
    })
    .await?;
    match outcome {
        Ok((token, _)) => super::pages::see_other_with("/", &identity::session_cookie(&token)),
        Err(auth::AuthError::InvalidSecondFactor) => {
            // A lockout ends the pending session; then the sign-in starts over.
            if identity::require_pending(&req, &state).await.is_err() {
                return Ok(see_other("/signin"));
            }
            let message = WebError::InvalidSecondFactor.to_string();
            mfa_page(&pending, StatusCode::UNAUTHORIZED, field, message)
        }
        Err(err) => Err(err.into()),
    }
}

/// One organization on the account page, with the person's API tokens in it.
struct OrgTokens {
    id: OrgId,
    name: String,
    role: String,
    manages_members: bool,
    tokens: Vec<TokenRow>,
}

struct TokenRow {
    id: String,
    name: String,
    scope: String,
    created: String,
    expires: String,
    last_used: String,
}

impl From<&ApiToken> for TokenRow {
    fn from(token: &ApiToken) -> Self {
        TokenRow {
            id: token.id.to_string(),
            name: token.name.clone(),
            scope: token.scope.as_str().to_owned(),
            created: when(token.created_at),
            expires: when(token.expires_at),
            last_used: token
                .last_used_at
                .map(when)
                .unwrap_or_else(|| "never".into()),
        }
    }
}

struct KeyRow {
    id: String,
    name: String,
    added: String,
    last_used: String,
}

impl From<SecurityKeyView> for KeyRow {
    fn from(key: SecurityKeyView) -> Self {
        KeyRow {
            id: key.id.to_string(),
            name: key.name,
            added: when(key.created_at),
            last_used: key.last_used_at.map(when).unwrap_or_else(|| "never".into()),
        }
    }
}

struct SessionRow {
    id: String,
    since: String,
    last_active: String,
    ip: String,
    browser: String,
    current: bool,
}

impl From<SessionView> for SessionRow {
    fn from(view: SessionView) -> Self {
        SessionRow {
            id: view.id,
            since: when(view.created_at),
            last_active: when(view.last_seen),
            ip: view.ip.unwrap_or_default(),
            browser: view.user_agent.unwrap_or_default(),
            current: view.current,
        }
    }
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    layout: Layout,
    csrf_token: String,
    display_name: String,
    email: String,
    appliance_admin: bool,
    enrolment_required: bool,
    has_totp: bool,
    recovery_codes_left: usize,
    keys: Vec<KeyRow>,
    sessions: Vec<SessionRow>,
    organizations: Vec<OrgTokens>,
    mail: crate::auth::account::MailPreferences,
    script: String,
}

pub async fn account(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let signed_in = match require_page(&req, &state).await? {
        Ok(signed_in) => signed_in,
        Err(redirect) => return Ok(redirect),
    };
    let store = state.store.clone();
    let token = signed_in.token.clone();
    let session = signed_in.session.clone();
    let requester = identity::requester(&signed_in);
    let (sessions, organizations) = web::block(move || -> Result<_, WebError> {
        let sessions = auth::sessions(&store, session.account, &token, now())?;
        let mut organizations = Vec::new();
        for (org, role) in crate::org::member_profiles(&store, requester)? {
            let tokens = auth::tokens::list(&store, session.account, org.id)?;
            organizations.push(OrgTokens {
                id: org.id,
                name: org.name,
                role: role.as_str().to_owned(),
                manages_members: role.allows(crate::access::Permission::ManageMembers),
                tokens: tokens.iter().map(TokenRow::from).collect(),
            });
        }
        Ok((sessions, organizations))
    })
    .await??;
    let page = AccountPage {
        layout: Layout::signed_in(&req, &state, &signed_in).await?,
        csrf_token: signed_in.session.csrf_token.clone(),
        display_name: signed_in.account.display_name.clone(),
        email: signed_in.account.email.clone(),
        appliance_admin: signed_in.account.appliance_admin,
        mail: signed_in.account.mail,
        enrolment_required: signed_in.session.mfa_enrolment_required,
        // The signed-in account was read for this request: its second factors are current.
        has_totp: signed_in.account.mfa.totp.is_some(),
        recovery_codes_left: signed_in.account.mfa.recovery.len(),
        keys: signed_in
            .account
            .mfa
            .security_keys
            .iter()
            .map(|key| KeyRow::from(SecurityKeyView::from(key)))
            .collect(),
        sessions: sessions.into_iter().map(SessionRow::from).collect(),
        organizations,
        script: super::assets::url("js/account.js"),
    };
    Ok(html(render(&page)?))
}

struct MemberRow {
    account: String,
    display_name: String,
    email: String,
    role: String,
    is_self: bool,
}

struct InvitationRow {
    id: String,
    email: String,
    role: String,
    expires: String,
}

#[derive(Template)]
#[template(path = "members.html")]
struct MembersPage {
    layout: Layout,
    csrf_token: String,
    org_id: String,
    org_name: String,
    manages_members: bool,
    is_owner: bool,
    members: Vec<MemberRow>,
    invitations: Vec<InvitationRow>,
    roles: [&'static str; 4],
    script: String,
}

pub async fn members(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let (signed_in, org) = match require_org_page(&req, &state, &path).await? {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    let store = state.store.clone();
    let requester = identity::requester(&signed_in);
    let me = signed_in.account.id;
    let (profile, role, members, invitations) = web::block(move || -> Result<_, WebError> {
        let members = auth::members::list(&store, requester, org)?;
        let (profile, role) =
            crate::org::member_profile(&store, requester, org)?.ok_or(WebError::NotFound)?;
        let invitations = if role.allows(crate::access::Permission::ManageMembers) {
            auth::invitations::pending(&store, requester, org, now())?
        } else {
            Vec::new()
        };
        Ok((profile, role, members, invitations))
    })
    .await??;
    let page = MembersPage {
        layout: Layout::signed_in(&req, &state, &signed_in).await?,
        csrf_token: signed_in.session.csrf_token.clone(),
        org_id: org.to_string(),
        org_name: profile.name,
        manages_members: role.allows(crate::access::Permission::ManageMembers),
        is_owner: role == Role::Owner,
        members: members
            .into_iter()
            .map(|m| MemberRow {
                account: m.account.to_string(),
                is_self: m.account == me,
                display_name: m.display_name,
                email: m.email,
                role: m.role.as_str().to_owned(),
            })
            .collect(),
        invitations: invitations
            .into_iter()
            .map(|i| InvitationRow {
                id: i.id.to_string(),
                email: i.email,
                role: i.role.as_str().to_owned(),
                expires: when(i.expires_at),
            })
            .collect(),
        roles: ["viewer", "member", "admin", "owner"],
        script: super::assets::url("js/account.js"),
    };
    Ok(html(render(&page)?))
}

#[derive(Template)]
#[template(path = "email_confirm.html")]
struct EmailConfirmPage {
    layout: Layout,
    email: String,
    done: bool,
    message: String,
}

fn email_confirm_page(
    status: StatusCode,
    email: String,
    done: bool,
    message: String,
) -> Result<HttpResponse, WebError> {
    let page = EmailConfirmPage {
        layout: Layout::new(),
        email,
        done,
        message,
    };
    Ok(html_status(status, render(&page)?))
}

/// The mailed link opens this page; the change happens only on its button, so a mail
/// scanner following the link changes nothing.
pub async fn email_confirm_form(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let store = state.store.clone();
    let token = token.into_inner();
    match web::block(move || auth::email_change::check(&store, &token, now())).await? {
        Ok(email) => email_confirm_page(StatusCode::OK, email, false, String::new()),
        Err(err) => {
            let err = WebError::from(err);
            match err {
                WebError::Gone(message) => {
                    email_confirm_page(StatusCode::GONE, String::new(), false, message)
                }
                other => Err(other),
            }
        }
    }
}

pub async fn email_confirm_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let client = identity::client(&req, &state);
    let store = state.store.clone();
    let token = token.into_inner();
    match web::block(move || auth::email_change::confirm(&store, &token, &client, now())).await? {
        Ok(email) => email_confirm_page(StatusCode::OK, email, true, String::new()),
        Err(err) => match WebError::from(err) {
            WebError::Gone(message) | WebError::Conflict(message) => {
                email_confirm_page(StatusCode::CONFLICT, String::new(), false, message)
            }
            other => Err(other),
        },
    }
}
