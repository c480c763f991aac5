//! Identity: accounts, passwords, sessions, first-time setup, sign-in with lockout.
//!
//! Functions take the clock (`now`, Unix seconds) as an argument so tests can drive time.

pub mod account;
pub mod devices;
pub mod email_change;
pub mod invitations;
pub mod links;
pub mod members;
pub mod mfa;
pub mod password;
pub mod reset;
pub mod security_keys;
pub mod session;
mod setup;
pub mod tokens;

use serde::Serialize;

pub use account::{Account, AccountId};
pub use password::{Hasher, Password};
pub use session::Session;
pub use setup::{SetupRequest, check_link, complete_setup, issue_setup_link};

use crate::access::{self, SystemGrant};
use crate::audit::{self, Actor, AuditError, Event, Outcome};
use crate::crypto::CryptoError;
use crate::store::{Store, StoreError, System, WriteTxn};

/// Consecutive failures that lock an account.
pub const LOCKOUT_THRESHOLD: u32 = 5;
pub const LOCKOUT_SECS: i64 = 15 * 60;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Wrong password, unknown address, locked or disabled account: one answer for all.
    #[error("the e-mail address or password is not right")]
    InvalidCredentials,
    #[error("{message}")]
    InvalidInput {
        field: &'static str,
        message: String,
    },
    #[error("{0}")]
    WeakPassword(String),
    #[error("an account with that e-mail address already exists")]
    EmailTaken,
    #[error(
        "Rampart cannot send mail yet, so a new address cannot be confirmed: ask your appliance administrator to set up mail"
    )]
    MailUnavailable,
    #[error(
        "Rampart cannot send mail, so a reset link cannot be mailed: ask your appliance administrator for one"
    )]
    ResetMailUnavailable,
    #[error(
        "this setup link is not valid: it was used, replaced or has expired; run `rampart admin setup-link` for a new one"
    )]
    SetupLinkInvalid,
    #[error("Rampart already has an administrator")]
    AlreadySetUp,
    #[error("that code is not right, or was already used")]
    InvalidSecondFactor,
    #[error(
        "this link is not valid: it was used or has expired; ask your administrator for a new one"
    )]
    LinkInvalid,
    #[error("no account has that e-mail address")]
    NoSuchAccount,
    #[error(
        "sign in again to do this: it needs a recent sign-in (5 minutes unless your administrator set otherwise)"
    )]
    StepUpRequired,
    /// The account has no second factor and an organization it belongs to requires one.
    #[error(
        "your organization requires a second factor: add one (POST /api/v1/me/totp) before anything else"
    )]
    MfaEnrolmentRequired,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Access(#[from] access::AccessError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("identity record is unreadable: {0}")]
    Decode(#[from] serde_json::Error),
    #[error(transparent)]
    Mail(#[from] crate::mail::MailError),
    #[error("internal error: {0}")]
    Internal(String),
}

/// Where a request came from, for the audit log.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Client {
    /// Records where the request came from on `event`.
    pub(crate) fn stamp(&self, mut event: Event) -> Event {
        event.ip = self.ip.clone();
        event.user_agent = self.user_agent.clone();
        event
    }
}

/// What a person sees of their account.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AccountView {
    #[schema(value_type = String)]
    pub id: AccountId,
    pub email: String,
    pub display_name: String,
    pub appliance_admin: bool,
}

impl From<&Account> for AccountView {
    fn from(account: &Account) -> Self {
        AccountView {
            id: account.id,
            email: account.email.clone(),
            display_name: account.display_name.clone(),
            appliance_admin: account.appliance_admin,
        }
    }
}

/// A successful sign-in.
#[derive(Debug)]
pub struct SignedIn {
    /// The cookie value; shown once.
    pub token: String,
    pub session: Session,
    pub account: Account,
}

/// Counts one failed proof (password, second factor) against `account`. At the threshold
/// it locks the account for [`LOCKOUT_SECS`], audits the lockout and returns true; the caller
/// saves the account and ends whatever sessions the situation calls for.
fn count_failure(
    txn: &WriteTxn<'_>,
    account: &mut Account,
    client: &Client,
    now: i64,
) -> Result<bool, AuthError> {
    account.failed_logins += 1;
    if account.failed_logins < LOCKOUT_THRESHOLD {
        return Ok(false);
    }
    account.locked_until = Some(now + LOCKOUT_SECS);
    account.failed_logins = 0;
    let event = Event::new(
        Actor::Account(account.id.to_string()),
        "auth.lockout",
        Outcome::Success,
    )
    .target(account.id);
    audit::append(txn, client.stamp(event), now)?;
    crate::mail::queue(txn, now, |base| {
        crate::mail::messages::lockout_notice(
            &account.email,
            LOCKOUT_SECS / 60,
            LOCKOUT_THRESHOLD,
            &format!("{base}/signin"),
        )
    })?;
    Ok(true)
}

/// Tells the account's holder that its second factors changed, in the transaction that
/// changed them: if it was not them, this is how they find out.
pub(crate) fn mail_mfa_changed(
    txn: &WriteTxn<'_>,
    email: &str,
    change: &str,
    now: i64,
) -> Result<(), AuthError> {
    crate::mail::queue(txn, now, |base| {
        crate::mail::messages::mfa_changed(email, change, &format!("{base}/account"))
    })?;
    Ok(())
}

/// Remembers the device `client` signs in from; true when the account had not used it lately.
/// The caller saves the account and then calls [`audit_new_device`], in the same transaction.
fn remember_device(account: &mut Account, client: &Client) -> bool {
    devices::remember(&mut account.devices, devices::fingerprint(client))
}

fn audit_new_device(
    txn: &WriteTxn<'_>,
    account: &Account,
    client: &Client,
    now: i64,
) -> Result<(), AuthError> {
    let event = Event::new(
        Actor::Account(account.id.to_string()),
        "auth.new_device",
        Outcome::Success,
    )
    .target(account.id);
    audit::append(txn, client.stamp(event), now)?;
    let when = time::OffsetDateTime::from_unix_timestamp(now)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc2822)
                .ok()
        })
        .unwrap_or_default();
    // The first device an account ever uses is not news to its holder.
    if account.devices.len() <= 1 {
        return Ok(());
    }
    crate::mail::queue(txn, now, |base| {
        crate::mail::messages::new_device(
            &account.email,
            &when,
            client.ip.as_deref().unwrap_or("unknown"),
            client.user_agent.as_deref().unwrap_or("unknown"),
            &format!("{base}/account"),
        )
    })?;
    Ok(())
}

fn audit_failure(
    store: &Store,
    client: &Client,
    account: Option<AccountId>,
    reason: &str,
    now: i64,
) -> Result<(), AuthError> {
    let txn = store.write()?;
    let actor = account.map_or(Actor::Anonymous, |id| Actor::Account(id.to_string()));
    let event = client.stamp(Event::new(actor, "auth.login", Outcome::Failure).target(reason));
    audit::append(&txn, event, now)?;
    txn.commit()?;
    Ok(())
}

/// Signs in with e-mail and password. Every refusal is [`AuthError::InvalidCredentials`] and
/// takes the same time: an unknown address is checked against a dummy hash.
pub async fn login(
    store: &std::sync::Arc<Store>,
    hasher: &Hasher,
    email: &str,
    password: &Password,
    client: &Client,
    now: i64,
) -> Result<SignedIn, AuthError> {
    let found = match account::lookup_form(email) {
        Some(email) => {
            let read = store.read()?;
            account::find_by_email(&read.system(&SystemGrant::internal())?, &email)?
        }
        None => None,
    };
    let stored_hash = found.as_ref().and_then(|a| a.password_hash.clone());
    let matched = hasher.verify(password, stored_hash.as_deref()).await?;
    let rehash = if matched && password::needs_rehash(stored_hash.as_deref().unwrap_or("")) {
        Some(hasher.hash(password).await?)
    } else {
        None
    };
    // The decision commits (fsync) to the store: off the request threads, like hashing.
    let store = store.clone();
    let client = client.clone();
    let found = found.map(|a| a.id);
    blocking(move || match found {
        Some(id) => decide_login(&store, id, matched, rehash, &client, now),
        None => {
            audit_failure(&store, &client, None, "unknown account", now)?;
            Err(AuthError::InvalidCredentials)
        }
    })
    .await
}

/// Runs store work that commits on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AuthError> + Send + 'static,
) -> Result<T, AuthError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| AuthError::Internal("store task failed".into()))?
}

/// Decides a sign-in inside one write transaction, re-reading the account so concurrent
/// failures count one by one.
fn decide_login(
    store: &Store,
    id: AccountId,
    matched: bool,
    rehash: Option<String>,
    client: &Client,
    now: i64,
) -> Result<SignedIn, AuthError> {
    let txn = store.write()?;
    let system = txn.system(&SystemGrant::internal())?;
    let mut account = account::get(&system, id)?.ok_or(AuthError::InvalidCredentials)?;
    let locked = account.locked_until.is_some_and(|until| until > now);
    let outcome = if account.disabled {
        Err("account disabled")
    } else if locked {
        Err("account locked")
    } else if !matched {
        Err("wrong password")
    } else {
        Ok(())
    };
    if let Err(reason) = outcome {
        let actor = Actor::Account(account.id.to_string());
        if !locked && !account.disabled {
            count_failure(&txn, &mut account, client, now)?;
            account::save(&system, &account)?;
        }
        let event = Event::new(actor, "auth.login", Outcome::Failure).target(reason);
        audit::append(&txn, client.stamp(event), now)?;
        drop(system);
        txn.commit()?;
        return Err(AuthError::InvalidCredentials);
    }
    let enrol = must_enrol(store, &account)?;
    // With a second factor owed, the failures count on until it is given: a right
    // password must not wipe the wrong codes tried since, or anyone who has the password
    // could guess codes four at a time, forever.
    if !account.mfa.enabled() {
        account.failed_logins = 0;
    }
    account.locked_until = None;
    if let Some(hash) = rehash {
        account.password_hash = Some(hash);
    }
    // With a second factor owed, the sign-in (and so the device) counts once it is given.
    let new_device = !account.mfa.enabled() && remember_device(&mut account, client);
    account::save(&system, &account)?;
    let (token, mut session) = session::create(&system, account.id, account.mfa.enabled(), now)?;
    session.mfa_enrolment_required = enrol;
    session.ip = client.ip.clone();
    session.user_agent = client.user_agent.clone();
    session::save(&system, &token, &session)?;
    let event = Event::new(
        Actor::Account(account.id.to_string()),
        "auth.login",
        Outcome::Success,
    );
    audit::append(&txn, client.stamp(event), now)?;
    if new_device {
        audit_new_device(&txn, &account, client, now)?;
    }
    drop(system);
    txn.commit()?;
    Ok(SignedIn {
        token,
        session,
        account,
    })
}

/// The signed-in account behind a session token. A request the person made (`activity`)
/// keeps the session alive; a page refreshing itself in the background does not, so an
/// open dashboard does not keep an abandoned session from its idle expiry.
pub fn authenticate(
    store: &Store,
    token: &str,
    activity: bool,
    now: i64,
) -> Result<Option<(Session, Account)>, AuthError> {
    let grant = SystemGrant::internal();
    let found = {
        let read = store.read()?;
        let system = read.system(&grant)?;
        match session::lookup(&system, token, now)? {
            Some(session) => account::get(&system, session.account)?
                .filter(|account| !account.disabled)
                .map(|account| (session, account)),
            None => None,
        }
    };
    // Decided on every load, not kept from the sign-in: an organization may have begun to
    // require a second factor since, the person may have joined one that does, or removed
    // their last factor. (Loads follow every write, so a change takes effect at once.)
    let found = match found {
        Some((mut session, account)) => {
            session.mfa_enrolment_required = must_enrol(store, &account)?;
            Some((session, account))
        }
        None => None,
    };
    if let Some((session, _)) = &found
        && activity
        && session::needs_touch(session, now)
    {
        let txn = store.write()?;
        session::touch(&txn.system(&grant)?, token, now)?;
        txn.commit()?;
    }
    Ok(found)
}

/// Whether `account` must add a second factor before anything else: it has none, and an
/// organization it belongs to requires one.
fn must_enrol(store: &Store, account: &Account) -> Result<bool, AuthError> {
    Ok(!account.mfa.enabled()
        && crate::org::any_requires_mfa(store, account.id)
            .map_err(|e| AuthError::Internal(e.to_string()))?)
}

/// Ends the session behind `token`.
pub fn logout(
    store: &Store,
    token: &str,
    account: AccountId,
    client: &Client,
    now: i64,
) -> Result<(), AuthError> {
    let txn = store.write()?;
    session::revoke(&txn.system(&SystemGrant::internal())?, token)?;
    let event = Event::new(
        Actor::Account(account.to_string()),
        "auth.logout",
        Outcome::Success,
    );
    audit::append(&txn, client.stamp(event), now)?;
    txn.commit()?;
    Ok(())
}

/// The operator creates an account, optionally as a member of one organization.
pub fn create_account_as_operator(
    store: &Store,
    email: &str,
    display_name: &str,
    password: Option<&Password>,
    membership: Option<(crate::store::OrgId, access::Role)>,
    now: i64,
) -> Result<Account, AuthError> {
    let email = account::parse_email(email)?;
    let display_name = account::clean_display_name(display_name)?;
    let hash = match password {
        Some(password) => {
            password::check_policy(password, &[email.as_str(), &display_name])?;
            Some(password::hash_now(password)?)
        }
        None => None,
    };
    let txn = store.write()?;
    let system = txn.system(&SystemGrant::internal())?;
    let created = account::create(&system, &email, &display_name, hash, false, now)?;
    let mut event =
        Event::new(Actor::Operator, "admin.user_create", Outcome::Success).target(created.id);
    if let Some((org, role)) = membership {
        if !store.organizations()?.contains(&org) {
            return Err(AuthError::InvalidInput {
                field: "org",
                message: format!("organization {org} does not exist"),
            });
        }
        access::set_role(&system, created.id, org, role)?;
        event = event.org(org);
    }
    audit::append(&txn, event, now)?;
    drop(system);
    txn.commit()?;
    Ok(created)
}

/// What the operator can do to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorAction {
    /// Clear a lockout.
    Unlock,
    /// Refuse every sign-in and end every session.
    Disable,
    /// Allow sign-in again.
    Enable,
    /// Remove TOTP and recovery codes (the person enrols again), ending every session.
    ResetMfa,
}

/// Applies `action` to the account with address `email`, audited as the operator's.
pub fn operator_action(
    store: &Store,
    email: &str,
    action: OperatorAction,
    now: i64,
) -> Result<Account, AuthError> {
    let email = account::lookup_form(email).ok_or(AuthError::NoSuchAccount)?;
    let txn = store.write()?;
    let system = txn.system(&SystemGrant::internal())?;
    let mut target = account::find_by_email(&system, &email)?.ok_or(AuthError::NoSuchAccount)?;
    let name = match action {
        OperatorAction::Unlock => {
            target.locked_until = None;
            target.failed_logins = 0;
            "admin.user_unlock"
        }
        OperatorAction::Disable => {
            target.disabled = true;
            session::revoke_all(&system, target.id, None)?;
            "admin.user_disable"
        }
        OperatorAction::Enable => {
            target.disabled = false;
            "admin.user_enable"
        }
        OperatorAction::ResetMfa => {
            target.mfa = mfa::MfaState::default();
            session::revoke_all(&system, target.id, None)?;
            "admin.user_reset_mfa"
        }
    };
    account::save(&system, &target)?;
    audit::append(
        &txn,
        Event::new(Actor::Operator, name, Outcome::Success).target(target.id),
        now,
    )?;
    drop(system);
    txn.commit()?;
    Ok(target)
}

/// A one-time link to set a new password, for the account with address `email`.
pub fn operator_password_link(store: &Store, email: &str, now: i64) -> Result<String, AuthError> {
    let email = account::lookup_form(email).ok_or(AuthError::NoSuchAccount)?;
    let id = {
        let read = store.read()?;
        account::find_by_email(&read.system(&SystemGrant::internal())?, &email)?
            .ok_or(AuthError::NoSuchAccount)?
            .id
    };
    reset::issue(store, id, now)
}

/// Every account, for the operator.
pub fn list_accounts(store: &Store) -> Result<Vec<AccountView>, AuthError> {
    let read = store.read()?;
    Ok(account::all(&read.system(&SystemGrant::internal())?)?
        .iter()
        .map(AccountView::from)
        .collect())
}

/// Erased accounts by id, with the pseudonyms they are named by.
pub fn erased_names(
    store: &Store,
) -> Result<std::collections::HashMap<AccountId, String>, AuthError> {
    let read = store.read()?;
    account::erased(&read.system(&SystemGrant::internal())?)
}

/// Every account's address by id, to name the actors of audit entries.
pub fn account_emails(
    store: &Store,
) -> Result<std::collections::HashMap<AccountId, String>, AuthError> {
    let read = store.read()?;
    account::emails(&read.system(&SystemGrant::internal())?)
}

/// The id of the account with address `email`, to filter the audit log by a person. An
/// address that is not an account's, or not an address at all, is `None`.
pub fn account_id_by_email(store: &Store, email: &str) -> Result<Option<AccountId>, AuthError> {
    let Some(email) = account::lookup_form(email) else {
        return Ok(None);
    };
    let read = store.read()?;
    Ok(account::find_by_email(&read.system(&SystemGrant::internal())?, &email)?.map(|a| a.id))
}

/// The role `account` holds in `org` while it is enabled and that role may still do
/// `permission`, else `None`. What a person set going for others (an invitation, a share
/// link) must not outlive their authority: removed, demoted or disabled, it stops.
pub fn authority_of(
    system: &impl crate::store::SystemGet,
    account: AccountId,
    org: crate::store::OrgId,
    permission: access::Permission,
) -> Result<Option<access::Role>, AuthError> {
    let enabled = account::get(system, account)?.is_some_and(|a| !a.disabled);
    let role = access::role_in(system, account, org)?;
    Ok(role.filter(|role| enabled && role.allows(permission)))
}

/// Sensitive operations need the password (and second factor) given this recently, unless
/// the daemon set another window (`reauthentication_secs`) at start.
pub const STEP_UP_SECS: i64 = 5 * 60;

static STEP_UP_WINDOW: std::sync::OnceLock<i64> = std::sync::OnceLock::new();

/// Sets how recent a sign-in sensitive operations need, once, at start-up; later calls
/// change nothing.
pub fn set_step_up_window(secs: i64) {
    let _ = STEP_UP_WINDOW.set(secs);
}

pub fn require_step_up(session: &Session, now: i64) -> Result<(), AuthError> {
    if !proven_recently(session.authenticated_at, now) {
        return Err(AuthError::StepUpRequired);
    }
    Ok(())
}

/// Whether a password proven at `authenticated_at` is recent enough for a sensitive change.
pub fn proven_recently(authenticated_at: i64, now: i64) -> bool {
    let window = STEP_UP_WINDOW.get().copied().unwrap_or(STEP_UP_SECS);
    now - authenticated_at <= window
}

/// Finishes a sign-in that owes a second factor. A wrong factor counts as a failed sign-in.
/// The session moves to a new token (returned with it); the pending one ends.
pub fn complete_mfa(
    store: &Store,
    party: &security_keys::RelyingParty,
    token: &str,
    factor: &mfa::SecondFactor,
    client: &Client,
    now: i64,
) -> Result<(String, Session), AuthError> {
    let grant = SystemGrant::internal();
    let txn = store.write()?;
    let system = txn.system(&grant)?;
    let mut current = session::lookup(&system, token, now)?
        .filter(|s| s.mfa_pending)
        .ok_or(AuthError::InvalidSecondFactor)?;
    let mut account =
        account::get(&system, current.account)?.ok_or(AuthError::InvalidSecondFactor)?;
    let actor = Actor::Account(account.id.to_string());
    let locked = account.locked_until.is_some_and(|until| until > now);
    // Any answer spends a waiting security-key challenge, right or wrong.
    let ceremony = security_keys::take_ceremony(&mut current);
    let mut renewed = None;
    let accepted = !locked
        && !account.disabled
        && match &factor.webauthn {
            Some(assertion) => {
                security_keys::verify_assertion(party, ceremony, &mut account, assertion, now)?
            }
            None => mfa::verify(&mut account.mfa, factor, now)?,
        };
    if accepted {
        account.failed_logins = 0;
        current.mfa_pending = false;
        current.authenticated_at = now;
        renewed = Some(session::renew(&system, token, &current)?);
        let kind = if factor.webauthn.is_some() {
            "security_key"
        } else if factor.code.is_some() {
            "totp"
        } else {
            "recovery_code"
        };
        audit::append(
            &txn,
            client.stamp(Event::new(actor, "auth.mfa", Outcome::Success).target(kind)),
            now,
        )?;
        if remember_device(&mut account, client) {
            audit_new_device(&txn, &account, client, now)?;
        }
    } else {
        if !locked && count_failure(&txn, &mut account, client, now)? {
            session::revoke(&system, token)?;
        } else {
            session::save(&system, token, &current)?;
        }
        audit::append(
            &txn,
            client.stamp(Event::new(actor, "auth.mfa", Outcome::Failure)),
            now,
        )?;
    }
    account::save(&system, &account)?;
    drop(system);
    txn.commit()?;
    match renewed {
        Some(token) if accepted => Ok((token, current)),
        _ => Err(AuthError::InvalidSecondFactor),
    }
}

/// Proves the password again for step-up: refreshes the session's sign-in time and moves
/// the session to a new token, which it returns. A wrong password counts as a failed
/// sign-in.
pub async fn reauthenticate(
    store: &std::sync::Arc<Store>,
    hasher: &Hasher,
    token: &str,
    current: &Session,
    password: &Password,
    client: &Client,
    now: i64,
) -> Result<String, AuthError> {
    let grant = SystemGrant::internal();
    let stored_hash = {
        let read = store.read()?;
        account::get(&read.system(&grant)?, current.account)?.and_then(|a| a.password_hash)
    };
    let matched = hasher.verify(password, stored_hash.as_deref()).await?;
    let txn = store.write()?;
    let system = txn.system(&grant)?;
    let mut holder =
        account::get(&system, current.account)?.ok_or(AuthError::InvalidCredentials)?;
    let actor = Actor::Account(holder.id.to_string());
    let locked = holder.locked_until.is_some_and(|until| until > now);
    if matched && !locked && !holder.disabled {
        let mut refreshed =
            session::lookup(&system, token, now)?.ok_or(AuthError::InvalidCredentials)?;
        refreshed.authenticated_at = now;
        let renewed = session::renew(&system, token, &refreshed)?;
        holder.failed_logins = 0;
        account::save(&system, &holder)?;
        audit::append(
            &txn,
            client.stamp(Event::new(actor, "auth.reauthenticate", Outcome::Success)),
            now,
        )?;
        drop(system);
        txn.commit()?;
        return Ok(renewed);
    }
    if !locked {
        if count_failure(&txn, &mut holder, client, now)? {
            session::revoke_all(&system, holder.id, None)?;
        }
        account::save(&system, &holder)?;
    }
    audit::append(
        &txn,
        client.stamp(Event::new(actor, "auth.reauthenticate", Outcome::Failure)),
        now,
    )?;
    drop(system);
    txn.commit()?;
    Err(AuthError::InvalidCredentials)
}

/// Changes the password: the current one must be right (a wrong one counts towards
/// lockout, through re-authentication), the new one must pass the policy. Ends every other
/// session of the account; this one moves to the new token returned.
#[allow(clippy::too_many_arguments)]
pub async fn change_password(
    store: &std::sync::Arc<Store>,
    hasher: &Hasher,
    token: &str,
    current: &Session,
    old_password: &Password,
    new_password: &Password,
    client: &Client,
    now: i64,
) -> Result<String, AuthError> {
    let grant = SystemGrant::internal();
    let holder = {
        let read = store.read()?;
        account::get(&read.system(&grant)?, current.account)?
            .ok_or(AuthError::InvalidCredentials)?
    };
    password::check_policy(new_password, &[&holder.email, &holder.display_name])?;
    // Hashed before the old password is proven: proving it renews the session's token, and
    // nothing slow should stand between that and the answer that carries the new cookie.
    let hash = hasher.hash(new_password).await?;
    let token = reauthenticate(store, hasher, token, current, old_password, client, now).await?;
    let txn = store.write()?;
    let system = txn.system(&grant)?;
    let holder = account::get(&system, current.account)?.ok_or(AuthError::InvalidCredentials)?;
    set_password(&txn, &system, holder, hash, Some(&token), client, now)?;
    drop(system);
    txn.commit()?;
    Ok(token)
}

/// Stores a new password hash for `holder` inside `txn`, ends every session of the account
/// but `keep`, and audits the change. Callers check the policy and the proof first.
fn set_password(
    txn: &WriteTxn<'_>,
    system: &System<'_>,
    mut holder: Account,
    hash: String,
    keep: Option<&str>,
    client: &Client,
    now: i64,
) -> Result<(), AuthError> {
    holder.password_hash = Some(hash);
    account::save(system, &holder)?;
    session::revoke_all(system, holder.id, keep)?;
    reset::spend_all(system, holder.id)?;
    let event = Event::new(
        Actor::Account(holder.id.to_string()),
        "auth.password_change",
        Outcome::Success,
    );
    audit::append(txn, client.stamp(event), now)?;
    Ok(())
}

/// What a person needs to add TOTP to an authenticator app.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TotpEnrolment {
    /// The secret in base32, for typing in by hand.
    pub secret: String,
    /// `otpauth://` URL, for a QR code.
    pub otpauth_url: String,
    /// The QR code of `otpauth_url`: an SVG image as a `data:` URL.
    pub qr_code: String,
}

/// Starts TOTP enrolment (step-up required); the secret is active only once confirmed.
pub fn begin_totp(store: &Store, current: &Session, now: i64) -> Result<TotpEnrolment, AuthError> {
    require_step_up(current, now)?;
    let txn = store.write()?;
    let system = txn.system(&SystemGrant::internal())?;
    let mut account =
        account::get(&system, current.account)?.ok_or(AuthError::InvalidCredentials)?;
    let (secret, base32, url) = mfa::new_secret(&account.email)?;
    account.mfa.pending_totp = Some(secret);
    account::save(&system, &account)?;
    drop(system);
    txn.commit()?;
    Ok(TotpEnrolment {
        secret: base32,
        qr_code: mfa::qr_code(&url)?,
        otpauth_url: url,
    })
}

/// Confirms TOTP with a first code; ends the account's other sessions; returns the recovery
/// codes, shown this once.
pub fn confirm_totp(
    store: &Store,
    token: &str,
    current: &Session,
    code: &str,
    client: &Client,
    now: i64,
) -> Result<Vec<String>, AuthError> {
    require_step_up(current, now)?;
    let txn = store.write()?;
    let system = txn.system(&SystemGrant::internal())?;
    let mut account =
        account::get(&system, current.account)?.ok_or(AuthError::InvalidCredentials)?;
    let codes = mfa::confirm(&mut account.mfa, code, now)?;
    account::save(&system, &account)?;
    session::revoke_all(&system, account.id, Some(token))?;
    let event = Event::new(
        Actor::Account(account.id.to_string()),
        "mfa.totp_enable",
        Outcome::Success,
    );
    audit::append(&txn, client.stamp(event), now)?;
    mail_mfa_changed(&txn, &account.email, "an authenticator app was added", now)?;
    drop(system);
    txn.commit()?;
    Ok(codes)
}

/// Replaces the account's recovery codes (step-up required): the old ones stop working and
/// the new ones are returned, shown this once. Audited, and the account is told by mail.
pub fn regenerate_recovery_codes(
    store: &Store,
    current: &Session,
    client: &Client,
    now: i64,
) -> Result<Vec<String>, AuthError> {
    require_step_up(current, now)?;
    let txn = store.write()?;
    let system = txn.system(&SystemGrant::internal())?;
    let mut account =
        account::get(&system, current.account)?.ok_or(AuthError::InvalidCredentials)?;
    let codes = mfa::replace_recovery_codes(&mut account.mfa)?;
    account::save(&system, &account)?;
    let event = Event::new(
        Actor::Account(account.id.to_string()),
        "mfa.recovery_codes_regenerate",
        Outcome::Success,
    );
    audit::append(&txn, client.stamp(event), now)?;
    mail_mfa_changed(
        &txn,
        &account.email,
        "new recovery codes were made; the old ones no longer work",
        now,
    )?;
    drop(system);
    txn.commit()?;
    Ok(codes)
}

/// What [`purge_expired`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub sessions: usize,
    pub links: usize,
    pub invitations: usize,
}

/// Removes expired sessions, password and address-change links and invitations, in one
/// transaction. They are useless once expired; removing them keeps the store and the
/// account's session list small.
pub fn purge_expired(store: &Store, now: i64) -> Result<Purged, AuthError> {
    let txn = store.write()?;
    let system = txn.system(&SystemGrant::internal())?;
    let purged = Purged {
        sessions: session::purge_expired(&system, now)?,
        links: reset::purge_expired(&system, now)? + email_change::purge_expired(&system, now)?,
        invitations: invitations::purge_expired(&system, now)?,
    };
    drop(system);
    txn.commit()?;
    Ok(purged)
}

/// Sets which scheduled mail the account receives; audited.
pub fn set_mail_preferences(
    store: &Store,
    account: AccountId,
    preferences: account::MailPreferences,
    client: &Client,
    now: i64,
) -> Result<account::MailPreferences, AuthError> {
    let txn = store.write()?;
    let system = txn.system(&SystemGrant::internal())?;
    let mut holder = account::get(&system, account)?.ok_or(AuthError::InvalidCredentials)?;
    holder.mail = preferences;
    account::save(&system, &holder)?;
    drop(system);
    let event = Event::new(
        Actor::Account(account.to_string()),
        "account.mail_preferences",
        Outcome::Success,
    )
    .target(account);
    audit::append(&txn, client.stamp(event), now)?;
    txn.commit()?;
    Ok(preferences)
}

/// The account's live sessions, marking the one asking.
pub fn sessions(
    store: &Store,
    account: AccountId,
    token: &str,
    now: i64,
) -> Result<Vec<session::SessionView>, AuthError> {
    let read = store.read()?;
    session::list_for(&read.system(&SystemGrant::internal())?, account, token, now)
}

/// Ends one of the account's own sessions by its public id.
pub fn end_session(
    store: &Store,
    account: AccountId,
    id: &str,
    client: &Client,
    now: i64,
) -> Result<(), AuthError> {
    let txn = store.write()?;
    let system = txn.system(&SystemGrant::internal())?;
    if !session::revoke_by_id(&system, account, id)? {
        return Err(AuthError::Access(access::AccessError::NotFound));
    }
    let event = Event::new(
        Actor::Account(account.to_string()),
        "session.revoke",
        Outcome::Success,
    );
    audit::append(&txn, client.stamp(event), now)?;
    drop(system);
    txn.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(authenticated_at: i64) -> Session {
        Session {
            account: AccountId(uuid::Uuid::nil()),
            created_at: 0,
            last_seen: authenticated_at,
            authenticated_at,
            csrf_token: String::new(),
            mfa_pending: false,
            mfa_enrolment_required: false,
            ip: None,
            user_agent: None,
            webauthn_ceremony: None,
        }
    }

    /// Every link and token stops working the second its lifetime ends (the clock is an
    /// argument, so expiry is tested without waiting for it).
    #[test]
    fn links_and_tokens_stop_working_when_they_expire() {
        let (_dir, store) = crate::audit::tests::store();
        let setup = issue_setup_link(&store, 0).unwrap().unwrap();
        assert!(check_link(&store, &setup, setup::LINK_TTL_SECS - 1).is_ok());
        assert!(matches!(
            check_link(&store, &setup, setup::LINK_TTL_SECS + 1),
            Err(AuthError::SetupLinkInvalid)
        ));

        let txn = store.write().unwrap();
        let system = txn.system(&SystemGrant::internal()).unwrap();
        let owner = account::create(
            &system,
            &account::parse_email("ada@example.com").unwrap(),
            "Ada",
            None,
            false,
            0,
        )
        .unwrap();
        drop(system);
        txn.commit().unwrap();
        let reset_link = reset::issue(&store, owner.id, 0).unwrap();
        assert!(reset::check(&store, &reset_link, reset::LINK_TTL_SECS - 1).is_ok());
        assert!(reset::check(&store, &reset_link, reset::LINK_TTL_SECS + 1).is_err());

        let org = crate::org::create(&store, &access::ApplianceOperator::local(), "Acme", 0)
            .unwrap()
            .id;
        let txn = store.write().unwrap();
        access::set_role(
            &txn.system(&SystemGrant::internal()).unwrap(),
            owner.id,
            org,
            access::Role::Owner,
        )
        .unwrap();
        txn.commit().unwrap();
        let requester = access::Requester {
            account: owner.id,
            appliance_admin: false,
            token: None,
        };
        let client = Client::default();
        let (invite, _) = invitations::invite(
            &store,
            requester,
            org,
            "bob@example.com",
            access::Role::Member,
            &client,
            0,
        )
        .unwrap();
        assert!(invitations::lookup(&store, &invite, invitations::TTL_SECS - 1).is_ok());
        assert!(matches!(
            invitations::lookup(&store, &invite, invitations::TTL_SECS + 1),
            Err(AuthError::LinkInvalid)
        ));

        let (secret, _) = tokens::create(
            &store,
            requester,
            &session(0),
            org,
            "SIEM",
            tokens::Scope::Read,
            1,
            &client,
            0,
        )
        .unwrap();
        let day = 24 * 60 * 60;
        assert!(
            tokens::authenticate(&store, &secret, &client, day - 1)
                .unwrap()
                .is_some()
        );
        assert!(
            tokens::authenticate(&store, &secret, &client, day + 1)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn only_activity_keeps_a_session_alive() {
        let (_dir, store) = crate::audit::tests::store();
        let txn = store.write().unwrap();
        let system = txn.system(&SystemGrant::internal()).unwrap();
        let holder = account::create(
            &system,
            &account::parse_email("ada@example.com").unwrap(),
            "Ada",
            None,
            false,
            0,
        )
        .unwrap();
        let (token, _) = session::create(&system, holder.id, false, 0).unwrap();
        drop(system);
        txn.commit().unwrap();
        let last_seen = |now| {
            authenticate(&store, &token, false, now)
                .unwrap()
                .unwrap()
                .0
                .last_seen
        };

        // A background refresh ten minutes on finds the session but does not extend it...
        assert_eq!(last_seen(600), 0);
        // ...so without activity it lapses at the idle limit.
        assert!(
            authenticate(&store, &token, false, session::IDLE_SECS + 1)
                .unwrap()
                .is_none()
        );

        let (token, _) = {
            let txn = store.write().unwrap();
            let made = session::create(
                &txn.system(&SystemGrant::internal()).unwrap(),
                holder.id,
                false,
                0,
            )
            .unwrap();
            txn.commit().unwrap();
            made
        };
        // What the person does moves it on.
        authenticate(&store, &token, true, 600).unwrap().unwrap();
        assert!(
            authenticate(&store, &token, false, session::IDLE_SECS + 1)
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn step_up_needs_a_sign_in_within_five_minutes() {
        assert!(require_step_up(&session(1000), 1000 + STEP_UP_SECS).is_ok());
        assert!(matches!(
            require_step_up(&session(1000), 1001 + STEP_UP_SECS),
            Err(AuthError::StepUpRequired)
        ));
    }
}
