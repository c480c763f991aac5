//! JSON routes for identity: setup, sign-in, sign-out, who am I, an organization's profile.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::error::WebError;
use super::identity::{self, now, parse_org};
use crate::access;
use crate::auth::mfa::SecondFactor;
use crate::auth::{self, AccountView, Password, SetupRequest, TotpEnrolment};
use crate::store::OrgId;

#[derive(Deserialize, ToSchema)]
pub struct SetupBody {
    /// The token from the setup link.
    token: String,
    #[serde(flatten)]
    request: SetupRequest,
}

#[derive(Serialize, ToSchema)]
pub struct SetupDone {
    account: AccountView,
}

/// Create the appliance administrator and the first organization with a setup link's token.
#[utoipa::path(post, path = "/api/v1/setup", tag = "auth", request_body = SetupBody,
    responses((status = 201, body = SetupDone), (status = 410, description = "link used, replaced or expired"),
        (status = 422, description = "a field is invalid; the message says which")))]
pub async fn setup(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<SetupBody>,
) -> Result<HttpResponse, WebError> {
    let client = identity::client(&req, &state);
    let body = body.into_inner();
    let account = auth::complete_setup(
        &state.store,
        &state.hasher,
        &body.token,
        &body.request,
        &client,
        now(),
    )
    .await?;
    Ok(HttpResponse::Created().json(SetupDone {
        account: AccountView::from(&account),
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct LoginBody {
    email: String,
    #[schema(value_type = String)]
    password: Password,
}

#[derive(Serialize, ToSchema)]
pub struct LoginDone {
    /// Whether a second factor must be given before the session is usable.
    mfa_required: bool,
    /// Whether an organization requires a second factor this account lacks: the session is
    /// good only for enrolling one (POST /api/v1/me/totp).
    mfa_enrolment_required: bool,
    account: AccountView,
    /// Send back in the `X-CSRF-Token` header on every unsafe request of this session.
    csrf_token: String,
}

/// Sign in with e-mail and password; sets the session cookie.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginBody,
    responses((status = 200, body = LoginDone),
        (status = 401, description = "`invalid_credentials`: wrong password, unknown address or locked account, all alike")))]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<LoginBody>,
) -> Result<HttpResponse, WebError> {
    let client = identity::client(&req, &state);
    let signed_in = auth::login(
        &state.store,
        &state.hasher,
        &body.email,
        &body.password,
        &client,
        now(),
    )
    .await?;
    Ok(HttpResponse::Ok()
        .cookie(identity::session_cookie(&signed_in.token))
        .json(LoginDone {
            mfa_required: signed_in.session.mfa_pending,
            mfa_enrolment_required: signed_in.session.mfa_enrolment_required,
            account: AccountView::from(&signed_in.account),
            csrf_token: signed_in.session.csrf_token,
        }))
}

/// End this session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 204, description = "signed out"), (status = 401), (status = 403, description = "missing CSRF token")))]
pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let signed_in = identity::require_any(&req, &state).await?;
    identity::check_csrf(&req, &signed_in, None)?;
    let client = identity::client(&req, &state);
    let store = state.store.clone();
    web::block(move || {
        auth::logout(
            &store,
            &signed_in.token,
            signed_in.account.id,
            &client,
            now(),
        )
    })
    .await??;
    Ok(HttpResponse::NoContent()
        .cookie(identity::expired_cookie())
        .finish())
}

#[derive(Serialize, ToSchema)]
pub struct Membership {
    #[schema(value_type = String)]
    id: OrgId,
    name: String,
    role: access::Role,
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    account: AccountView,
    organizations: Vec<Membership>,
}

/// The signed-in account and its organizations with roles.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", responses((status = 200, body = Me), (status = 401)))]
pub async fn me(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    let caller = identity::require_caller(&req, &state).await?;
    let store = state.store.clone();
    let requester = caller.requester;
    let organizations = web::block(move || -> Result<Vec<Membership>, WebError> {
        let profiles = crate::org::member_profiles(&store, requester)?;
        Ok(profiles
            .into_iter()
            .map(|(org, role)| Membership {
                id: org.id,
                name: org.name,
                role,
            })
            .collect())
    })
    .await??;
    Ok(HttpResponse::Ok().json(Me {
        account: AccountView::from(&caller.account),
        organizations,
    }))
}

/// An organization's profile. Another organization's id answers 404, like an unknown one.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}", tag = "organizations",
    params(("org_id" = String, Path, description = "organization id")),
    responses((status = 200, description = "the profile"), (status = 401), (status = 404)))]
pub async fn org_profile(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let caller = identity::require_caller(&req, &state).await?;
    let org_id = parse_org(&path)?;
    let store = state.store.clone();
    let requester = caller.requester;
    let client = identity::client(&req, &state);
    let org = web::block(move || crate::org::profile(&store, requester, org_id, &client, now()))
        .await??;
    Ok(HttpResponse::Ok().json(org))
}

/// Give the second factor owed by a sign-in: a TOTP code or a recovery code, each good once.
#[utoipa::path(post, path = "/api/v1/auth/mfa", tag = "auth", request_body = SecondFactor,
    responses((status = 204, description = "signed in"),
        (status = 401, description = "`invalid_second_factor`, or no sign-in is waiting for one")))]
pub async fn mfa(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<SecondFactor>,
) -> Result<HttpResponse, WebError> {
    let pending = identity::require_pending(&req, &state).await?;
    identity::check_csrf(&req, &pending, None)?;
    let client = identity::client(&req, &state);
    let state = state.into_inner();
    let (token, _) = web::block(move || {
        auth::complete_mfa(
            &state.store,
            &state.relying_party,
            &pending.token,
            &body,
            &client,
            now(),
        )
    })
    .await??;
    Ok(HttpResponse::NoContent()
        .cookie(identity::session_cookie(&token))
        .finish())
}

/// Start adding TOTP: returns the secret and `otpauth://` URL. Needs a sign-in within 5 minutes.
#[utoipa::path(post, path = "/api/v1/me/totp", tag = "auth",
    extensions(("x-rampart-recent-sign-in" = json!(true))),
    responses((status = 200, body = TotpEnrolment), (status = 401), (status = 403, description = "`reauthentication_required` or missing CSRF token")))]
pub async fn totp_begin(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let signed_in = identity::require_writer(&req, &state).await?;
    let store = state.store.clone();
    let enrolment =
        web::block(move || auth::begin_totp(&store, &signed_in.session, now())).await??;
    Ok(HttpResponse::Ok().json(enrolment))
}

#[derive(Deserialize, ToSchema)]
pub struct TotpConfirm {
    /// The current code from the app.
    code: String,
}

#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Ten one-time codes, shown only now.
    recovery_codes: Vec<String>,
}

/// Finish adding TOTP with a first code. Ends the account's other sessions.
#[utoipa::path(post, path = "/api/v1/me/totp/confirm", tag = "auth", request_body = TotpConfirm,
    extensions(("x-rampart-recent-sign-in" = json!(true))),
    responses((status = 200, body = RecoveryCodes), (status = 401), (status = 403), (status = 422, description = "wrong code")))]
pub async fn totp_confirm(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<TotpConfirm>,
) -> Result<HttpResponse, WebError> {
    let signed_in = identity::require_writer(&req, &state).await?;
    let client = identity::client(&req, &state);
    let store = state.store.clone();
    let codes = web::block(move || {
        auth::confirm_totp(
            &store,
            &signed_in.token,
            &signed_in.session,
            &body.code,
            &client,
            now(),
        )
    })
    .await??;
    Ok(HttpResponse::Ok().json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

/// Replace the recovery codes: the old ones stop working; the new ones are shown this once.
/// Needs a sign-in within 5 minutes, and a second factor to stand in for.
#[utoipa::path(post, path = "/api/v1/me/recovery-codes", tag = "auth",
    extensions(("x-rampart-recent-sign-in" = json!(true))),
    responses((status = 200, body = RecoveryCodes), (status = 401), (status = 403, description = "`reauthentication_required` or missing CSRF token"), (status = 422, description = "no second factor")))]
pub async fn recovery_codes_regenerate(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let signed_in = identity::require_writer(&req, &state).await?;
    let client = identity::client(&req, &state);
    let store = state.store.clone();
    let codes = web::block(move || {
        auth::regenerate_recovery_codes(&store, &signed_in.session, &client, now())
    })
    .await??;
    Ok(HttpResponse::Ok().json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct ResetBody {
    /// The token from the one-time link.
    token: String,
    #[schema(value_type = String)]
    password: Password,
}

/// Set a new password with a one-time link's token. Ends every session of the account.
#[utoipa::path(post, path = "/api/v1/auth/reset", tag = "auth", request_body = ResetBody,
    responses((status = 204, description = "password set"), (status = 410, description = "`link_invalid`"),
        (status = 422, description = "password too weak")))]
pub async fn reset(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<ResetBody>,
) -> Result<HttpResponse, WebError> {
    let client = identity::client(&req, &state);
    auth::reset::complete(
        &state.store,
        &state.hasher,
        &body.token,
        &body.password,
        &client,
        now(),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
pub struct ResetRequestBody {
    /// The address of the account.
    email: String,
}

/// Ask for a password-reset link: when an enabled account has this address, a one-time link
/// (1 hour) is mailed to it. The answer is the same whether or not one does. Rate limited
/// with the sign-in requests; audited as `auth.reset_request`.
#[utoipa::path(post, path = "/api/v1/auth/reset/request", tag = "auth", request_body = ResetRequestBody,
    responses((status = 202, description = "if an account has the address, a link is on its way"),
        (status = 409, description = "mail is not set up: ask the appliance administrator for a link"),
        (status = 422, description = "not an e-mail address")))]
pub async fn reset_request(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<ResetRequestBody>,
) -> Result<HttpResponse, WebError> {
    let client = identity::client(&req, &state);
    let store = state.store.clone();
    let email = body.into_inner().email;
    web::block(move || auth::reset::request(&store, &email, &client, now())).await??;
    Ok(HttpResponse::Accepted().json(serde_json::json!({
        "message": "if an account has this address, a link to choose a new password is on its way"
    })))
}

#[derive(Deserialize, ToSchema)]
pub struct TokenBody {
    /// What the token is for, such as "SIEM export".
    name: String,
    scope: auth::tokens::Scope,
    /// Lifetime in days, 1 to 365.
    expires_in_days: u32,
}

#[derive(Serialize, ToSchema)]
pub struct TokenCreated {
    /// The secret, shown only now: send it as `Authorization: Bearer <token>`.
    token: String,
    #[serde(flatten)]
    details: auth::tokens::ApiToken,
}

/// Create an API token for this organization (session only, sign-in within 5 minutes).
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/tokens", tag = "tokens", request_body = TokenBody,
    extensions(("x-rampart-recent-sign-in" = json!(true))),
    params(("org_id" = String, Path, description = "organization id")),
    responses((status = 201, body = TokenCreated), (status = 401), (status = 403), (status = 404), (status = 422)))]
pub async fn token_create(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<TokenBody>,
) -> Result<HttpResponse, WebError> {
    let signed_in = identity::require_writer(&req, &state).await?;
    let org = parse_org(&path)?;
    let client = identity::client(&req, &state);
    let store = state.store.clone();
    let requester = identity::requester(&signed_in);
    let (token, details) = web::block(move || {
        auth::tokens::create(
            &store,
            requester,
            &signed_in.session,
            org,
            &body.name,
            body.scope,
            body.expires_in_days,
            &client,
            now(),
        )
    })
    .await??;
    Ok(HttpResponse::Created().json(TokenCreated { token, details }))
}

/// Your API tokens for this organization (never their secrets).
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/tokens", tag = "tokens",
    params(("org_id" = String, Path, description = "organization id")),
    responses((status = 200, body = [auth::tokens::ApiToken]), (status = 401), (status = 404)))]
pub async fn token_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let signed_in = identity::require(&req, &state).await?;
    let org = parse_org(&path)?;
    let store = state.store.clone();
    let requester = identity::requester(&signed_in);
    let tokens = web::block(move || -> Result<Vec<auth::tokens::ApiToken>, WebError> {
        let read = store.read()?;
        let known = store.organizations()?;
        let member = access::Requester {
            appliance_admin: false,
            ..requester
        };
        access::authorize(
            &read.system(&access::SystemGrant::internal())?,
            &known,
            member,
            org,
            access::Permission::Read,
        )?;
        Ok(auth::tokens::list(&store, requester.account, org)?)
    })
    .await??;
    Ok(HttpResponse::Ok().json(tokens))
}

/// Revoke a token: your own, or any in the organization if you manage its members.
#[utoipa::path(delete, path = "/api/v1/orgs/{org_id}/tokens/{token_id}", tag = "tokens",
    params(("org_id" = String, Path, description = "organization id"), ("token_id" = String, Path, description = "token id")),
    responses((status = 204, description = "revoked"), (status = 401), (status = 403), (status = 404)))]
pub async fn token_revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let signed_in = identity::require_writer(&req, &state).await?;
    let (org, id) = path.into_inner();
    let org = parse_org(&org)?;
    let id = identity::parse_id(&id)?;
    let client = identity::client(&req, &state);
    let store = state.store.clone();
    let requester = identity::requester(&signed_in);
    web::block(move || auth::tokens::revoke(&store, requester, org, id, &client, now())).await??;
    Ok(HttpResponse::NoContent().finish())
}

/// The organization's audit log, newest first (owners; the appliance administrator's read is
/// itself recorded there as `admin.audit_read`).
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/audit", tag = "audit",
    params(("org_id" = String, Path, description = "organization id"), crate::audit::Filter),
    responses((status = 200, body = [crate::audit::Entry]), (status = 401), (status = 403), (status = 404)))]
pub async fn org_audit(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    filter: web::Query<crate::audit::Filter>,
) -> Result<HttpResponse, WebError> {
    let caller = identity::require_caller(&req, &state).await?;
    let org = parse_org(&path)?;
    let client = identity::client(&req, &state);
    let store = state.store.clone();
    let entries = web::block(move || {
        crate::audit::org_search(&store, caller.requester, org, &filter, &client, now())
    })
    .await??;
    Ok(HttpResponse::Ok().json(entries))
}

/// The whole appliance's audit log, newest first (appliance administrator).
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "audit", params(crate::audit::Filter),
    responses((status = 200, body = [crate::audit::Entry]), (status = 401), (status = 403)))]
pub async fn admin_audit(
    req: HttpRequest,
    state: web::Data<AppState>,
    filter: web::Query<crate::audit::Filter>,
) -> Result<HttpResponse, WebError> {
    let caller = identity::require_caller(&req, &state).await?;
    let store = state.store.clone();
    let entries =
        web::block(move || crate::audit::appliance_search(&store, caller.requester, &filter))
            .await??;
    Ok(HttpResponse::Ok().json(entries))
}

/// Change the organization's profile: name, CAGE code, UEI, contracts (owners). A change
/// that weakens its security settings (turning `require_mfa` off, turning `mail_detail` on)
/// needs a sign-in within the re-authentication window.
#[utoipa::path(put, path = "/api/v1/orgs/{org_id}", tag = "organizations", request_body = crate::org::ProfileUpdate,
    params(("org_id" = String, Path, description = "organization id")),
    responses((status = 200, body = crate::org::Organization), (status = 401),
        (status = 403, description = "not an owner, missing CSRF token, or `reauthentication_required`: the change weakens a security setting"),
        (status = 404),
        (status = 422, description = "a field is wrong; `field` and the message say which and why")))]
pub async fn org_update(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<crate::org::ProfileUpdate>,
) -> Result<HttpResponse, WebError> {
    let caller = identity::require_caller(&req, &state).await?;
    caller.check_csrf(&req)?;
    let org = parse_org(&path)?;
    let client = identity::client(&req, &state);
    let store = state.store.clone();
    let requester = caller.requester;
    let proof = caller.sign_in_proof();
    let updated = web::block(move || {
        crate::org::update_profile(&store, requester, org, &body, proof, &client, now())
    })
    .await??;
    Ok(HttpResponse::Ok().json(updated))
}

#[derive(Deserialize, ToSchema)]
pub struct ReauthBody {
    #[schema(value_type = String)]
    password: Password,
}

/// Give the password again so sensitive operations (tokens, MFA changes) are allowed for
/// the next 5 minutes.
#[utoipa::path(post, path = "/api/v1/auth/reauthenticate", tag = "auth", request_body = ReauthBody,
    responses((status = 204, description = "confirmed"), (status = 401, description = "`invalid_credentials`"), (status = 403)))]
pub async fn reauthenticate(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<ReauthBody>,
) -> Result<HttpResponse, WebError> {
    let signed_in = identity::require_writer(&req, &state).await?;
    let client = identity::client(&req, &state);
    let token = auth::reauthenticate(
        &state.store,
        &state.hasher,
        &signed_in.token,
        &signed_in.session,
        &body.password,
        &client,
        now(),
    )
    .await?;
    Ok(HttpResponse::NoContent()
        .cookie(identity::session_cookie(&token))
        .finish())
}

/// The organization's members with their roles.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/members", tag = "organizations",
    params(("org_id" = String, Path, description = "organization id")),
    responses((status = 200, body = [auth::members::Member]), (status = 401), (status = 404)))]
pub async fn members(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let caller = identity::require_caller(&req, &state).await?;
    let org = parse_org(&path)?;
    let store = state.store.clone();
    let members = web::block(move || auth::members::list(&store, caller.requester, org)).await??;
    Ok(HttpResponse::Ok().json(members))
}

#[derive(Deserialize, ToSchema)]
pub struct RoleBody {
    role: access::Role,
}

/// What erasing an organization needs: its exact name, typed again.
#[derive(Deserialize, ToSchema)]
pub struct EraseBody {
    pub confirm: String,
}

/// Erase the organization (owners; sign-in within 5 minutes): its data key is destroyed,
/// so its records and files can never be read again, and they are removed. Answers the
/// receipt, which says by when backups made before are gone.
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/erase", tag = "organizations", request_body = EraseBody,
    extensions(("x-rampart-recent-sign-in" = json!(true))),
    params(("org_id" = String, Path, description = "organization id")),
    responses((status = 200, body = crate::erasure::Receipt), (status = 401),
        (status = 403, description = "not an owner, `reauthentication_required`, or missing CSRF token"),
        (status = 404), (status = 422, description = "`confirm` is not the organization's name")))]
pub async fn org_erase(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<EraseBody>,
) -> Result<HttpResponse, WebError> {
    let signed_in = identity::require_writer(&req, &state).await?;
    auth::require_step_up(&signed_in.session, now())?;
    let org = parse_org(&path)?;
    let client = identity::client(&req, &state);
    let requester = identity::requester(&signed_in);
    let (store, keep_days) = (state.store.clone(), state.jobs.backup_settings().keep_days);
    let data_dir = state.vault.data_dir().to_owned();
    let receipt = web::block(move || {
        crate::erasure::erase_organization(
            &store,
            crate::erasure::Eraser::Member(requester),
            org,
            &body.confirm,
            crate::erasure::Appliance {
                data_dir: &data_dir,
                backup_keep_days: keep_days,
            },
            &client,
            now(),
        )
    })
    .await??;
    Ok(HttpResponse::Ok().json(receipt))
}

/// Erase your own account (sign-in within 5 minutes; `confirm` is your address). Your
/// past actions keep a pseudonym; the answer is the receipt, and this session ends.
#[utoipa::path(delete, path = "/api/v1/me", tag = "auth", request_body = EraseBody,
    extensions(("x-rampart-recent-sign-in" = json!(true))),
    responses((status = 200, body = crate::erasure::PersonReceipt), (status = 401),
        (status = 403, description = "`reauthentication_required` or missing CSRF token"),
        (status = 409, description = "the last appliance administrator, or an organization's only owner"),
        (status = 422, description = "`confirm` is not your address")))]
pub async fn me_erase(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<EraseBody>,
) -> Result<HttpResponse, WebError> {
    let signed_in = identity::require_writer(&req, &state).await?;
    auth::require_step_up(&signed_in.session, now())?;
    erase_account(
        &req,
        &state,
        &signed_in,
        signed_in.account.id,
        &body.confirm,
    )
    .await
}

/// Erase an account (the appliance administrator; sign-in within 5 minutes; `confirm` is
/// its address).
#[utoipa::path(post, path = "/api/v1/admin/accounts/{account_id}/erase", tag = "admin", request_body = EraseBody,
    extensions(("x-rampart-recent-sign-in" = json!(true))),
    params(("account_id" = String, Path, description = "account id")),
    responses((status = 200, body = crate::erasure::PersonReceipt), (status = 401),
        (status = 403), (status = 404),
        (status = 409, description = "the last appliance administrator, or an organization's only owner"),
        (status = 422, description = "`confirm` is not its address")))]
pub async fn account_erase(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<EraseBody>,
) -> Result<HttpResponse, WebError> {
    let signed_in = identity::require_writer(&req, &state).await?;
    if !signed_in.account.appliance_admin {
        return Err(access::AccessError::Forbidden.into());
    }
    auth::require_step_up(&signed_in.session, now())?;
    let target = parse_account(&path)?;
    erase_account(&req, &state, &signed_in, target, &body.confirm).await
}

async fn erase_account(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    signed_in: &identity::SignedIn,
    target: auth::AccountId,
    confirm: &str,
) -> Result<HttpResponse, WebError> {
    let client = identity::client(req, state);
    let requester = identity::requester(signed_in);
    let (store, keep_days) = (state.store.clone(), state.jobs.backup_settings().keep_days);
    let confirm = confirm.to_owned();
    let receipt = web::block(move || {
        crate::erasure::erase_person(
            &store,
            crate::erasure::Eraser::Member(requester),
            target,
            &confirm,
            keep_days,
            &client,
            now(),
        )
    })
    .await??;
    Ok(HttpResponse::Ok().json(receipt))
}

fn parse_account(text: &str) -> Result<auth::AccountId, WebError> {
    identity::parse_id(text).map(auth::AccountId)
}

async fn change_member(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: (String, String),
    role: Option<access::Role>,
) -> Result<HttpResponse, WebError> {
    let signed_in = identity::require_writer(&req, &state).await?;
    auth::require_step_up(&signed_in.session, now())?;
    let org = parse_org(&path.0)?;
    let target = parse_account(&path.1)?;
    let client = identity::client(&req, &state);
    let store = state.store.clone();
    let requester = identity::requester(&signed_in);
    web::block(move || auth::members::change(&store, requester, org, target, role, &client, now()))
        .await??;
    Ok(HttpResponse::NoContent().finish())
}

/// Change a member's role (admins; only owners make or unmake owners; sign-in within 5 minutes).
#[utoipa::path(put, path = "/api/v1/orgs/{org_id}/members/{account_id}", tag = "organizations", request_body = RoleBody,
    extensions(("x-rampart-recent-sign-in" = json!(true))),
    params(("org_id" = String, Path, description = "organization id"), ("account_id" = String, Path, description = "member's account id")),
    responses((status = 204, description = "changed"), (status = 401), (status = 403), (status = 404),
        (status = 422, description = "would leave the organization without an owner")))]
pub async fn member_role(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Json<RoleBody>,
) -> Result<HttpResponse, WebError> {
    change_member(req, state, path.into_inner(), Some(body.role)).await
}

/// Remove a member; their sessions end.
#[utoipa::path(delete, path = "/api/v1/orgs/{org_id}/members/{account_id}", tag = "organizations",
    extensions(("x-rampart-recent-sign-in" = json!(true))),
    params(("org_id" = String, Path, description = "organization id"), ("account_id" = String, Path, description = "member's account id")),
    responses((status = 204, description = "removed"), (status = 401), (status = 403), (status = 404), (status = 422)))]
pub async fn member_remove(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    change_member(req, state, path.into_inner(), None).await
}

#[derive(Deserialize, ToSchema)]
pub struct InviteBody {
    email: String,
    role: access::Role,
}

#[derive(Serialize, ToSchema)]
pub struct InviteCreated {
    /// The single-use link to give the invitee (valid 7 days).
    url: String,
    #[serde(flatten)]
    invitation: auth::invitations::Invitation,
}

/// Invite an address with a role (admins; only owners invite owners). The link is shown now.
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/invitations", tag = "organizations", request_body = InviteBody,
    extensions(("x-rampart-recent-sign-in" = json!(true))),
    params(("org_id" = String, Path, description = "organization id")),
    responses((status = 201, body = InviteCreated), (status = 401), (status = 403), (status = 404), (status = 422)))]
pub async fn invite(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<InviteBody>,
) -> Result<HttpResponse, WebError> {
    let signed_in = identity::require_writer(&req, &state).await?;
    // An invitation grants a role as surely as a role change does.
    auth::require_step_up(&signed_in.session, now())?;
    let org = parse_org(&path)?;
    let client = identity::client(&req, &state);
    let store = state.store.clone();
    let requester = identity::requester(&signed_in);
    let (token, invitation) = web::block(move || {
        auth::invitations::invite(
            &store,
            requester,
            org,
            &body.email,
            body.role,
            &client,
            now(),
        )
    })
    .await??;
    let url = format!("{}/invite/{token}", state.base_url);
    Ok(HttpResponse::Created().json(InviteCreated { url, invitation }))
}

/// Withdraw an invitation before it is accepted (admins and owners).
#[utoipa::path(delete, path = "/api/v1/orgs/{org_id}/invitations/{invitation_id}", tag = "organizations",
    params(("org_id" = String, Path, description = "organization id"),
        ("invitation_id" = String, Path, description = "invitation id")),
    responses((status = 204, description = "withdrawn; its link works no more"), (status = 401), (status = 403), (status = 404)))]
pub async fn invite_revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let signed_in = identity::require_writer(&req, &state).await?;
    let (org, invitation) = path.into_inner();
    let org = parse_org(&org)?;
    let invitation = identity::parse_id(&invitation)?;
    let client = identity::client(&req, &state);
    let store = state.store.clone();
    let requester = identity::requester(&signed_in);
    web::block(move || {
        auth::invitations::revoke(&store, requester, org, invitation, &client, now())
    })
    .await??;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
pub struct AcceptBody {
    token: String,
    /// For a new account: the person's name.
    display_name: Option<String>,
    /// For a new account: its password. Leave out to accept as the signed-in account.
    #[schema(value_type = Option<String>)]
    password: Option<Password>,
}

/// The answer to accepting as a new account while mail is on: alike whether or not the
/// address has an account.
#[derive(Serialize, ToSchema)]
pub struct AcceptMailed {
    /// The invited address, where the next step was mailed.
    email: String,
    /// What to do next.
    message: String,
}

/// What a person reads after accepting as a new account while mail is on.
pub(super) fn check_mail_message(email: &str) -> String {
    format!(
        "Check your mail at {email}: the message there says how to finish joining. A new account works once you open its link and enter the password you chose."
    )
}

/// Accept an invitation: with `display_name` and `password` as a new account for the
/// invited address, or without them as the signed-in account that has that address. With
/// mail on, a new account is confirmed through a link mailed to the address (202, the same
/// answer whether or not the address already has an account); with mail off it is made at
/// once (200).
#[utoipa::path(post, path = "/api/v1/invitations/accept", tag = "organizations", request_body = AcceptBody,
    responses((status = 200, body = AccountView), (status = 202, body = AcceptMailed), (status = 410, description = "`link_invalid`"), (status = 422)))]
pub async fn accept_invitation(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<AcceptBody>,
) -> Result<HttpResponse, WebError> {
    let client = identity::client(&req, &state);
    let body = body.into_inner();
    let signed_in = match &body.password {
        Some(_) => None,
        None => Some(identity::require_writer(&req, &state).await?.account.id),
    };
    let acceptor = match (&body.password, signed_in) {
        (Some(password), _) => auth::invitations::Acceptor::NewAccount {
            display_name: body.display_name.as_deref().unwrap_or(""),
            password,
        },
        (None, Some(id)) => auth::invitations::Acceptor::SignedIn(id),
        (None, None) => return Err(WebError::Unauthenticated),
    };
    let accepted = auth::invitations::accept(
        &state.store,
        &state.hasher,
        &body.token,
        acceptor,
        &client,
        now(),
    )
    .await?;
    Ok(match accepted {
        auth::invitations::Accepted::Joined(member) => {
            HttpResponse::Ok().json(AccountView::from(member.as_ref()))
        }
        auth::invitations::Accepted::CheckMail { email } => {
            HttpResponse::Accepted().json(AcceptMailed {
                message: check_mail_message(&email),
                email,
            })
        }
    })
}

#[derive(Deserialize, ToSchema)]
pub struct ConfirmJoinBody {
    /// The token of the link mailed to the invited address.
    token: String,
    /// The password chosen when the invitation was accepted.
    #[schema(value_type = String)]
    password: Password,
}

/// Confirm a new account accepted through an invitation, with the link mailed to its
/// address and the password chosen when accepting: the account is made and joins.
#[utoipa::path(post, path = "/api/v1/invitations/confirm", tag = "organizations", request_body = ConfirmJoinBody,
    responses((status = 200, body = AccountView), (status = 410, description = "`link_invalid`"),
        (status = 422, description = "not the password chosen when accepting, or the address has an account now")))]
pub async fn confirm_invitation(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<ConfirmJoinBody>,
) -> Result<HttpResponse, WebError> {
    let client = identity::client(&req, &state);
    let member = auth::invitations::confirm(
        &state.store,
        &state.hasher,
        &body.token,
        &body.password,
        &client,
        now(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(AccountView::from(&member)))
}

/// Your live sessions, newest first, marking this one.
#[utoipa::path(get, path = "/api/v1/me/sessions", tag = "auth",
    responses((status = 200, body = [auth::session::SessionView]), (status = 401)))]
pub async fn sessions(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let signed_in = identity::require(&req, &state).await?;
    let store = state.store.clone();
    let list =
        web::block(move || auth::sessions(&store, signed_in.account.id, &signed_in.token, now()))
            .await??;
    Ok(HttpResponse::Ok().json(list))
}

/// End one of your sessions (another device, say).
#[utoipa::path(delete, path = "/api/v1/me/sessions/{session_id}", tag = "auth",
    params(("session_id" = String, Path, description = "the id from the session list")),
    responses((status = 204, description = "ended"), (status = 401), (status = 403), (status = 404)))]
pub async fn session_end(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let signed_in = identity::require_writer(&req, &state).await?;
    let client = identity::client(&req, &state);
    let store = state.store.clone();
    let id = path.into_inner();
    web::block(move || auth::end_session(&store, signed_in.account.id, &id, &client, now()))
        .await??;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordBody {
    #[schema(value_type = String)]
    current_password: Password,
    #[schema(value_type = String)]
    new_password: Password,
}

/// Change your password; your other sessions end.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "auth", request_body = PasswordBody,
    responses((status = 204, description = "changed"), (status = 401, description = "`invalid_credentials`: the current password is wrong"),
        (status = 403), (status = 422, description = "the new password is too weak")))]
pub async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<PasswordBody>,
) -> Result<HttpResponse, WebError> {
    let signed_in = identity::require_writer(&req, &state).await?;
    let client = identity::client(&req, &state);
    let token = auth::change_password(
        &state.store,
        &state.hasher,
        &signed_in.token,
        &signed_in.session,
        &body.current_password,
        &body.new_password,
        &client,
        now(),
    )
    .await?;
    Ok(HttpResponse::NoContent()
        .cookie(identity::session_cookie(&token))
        .finish())
}
