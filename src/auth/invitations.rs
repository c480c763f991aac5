//! Invitations: an owner or admin invites an address with a role; the single-use link (7
//! days, only its hash stored) is shown to the inviter, and mailed when mail is on. The
//! invitee accepts by being signed in to the account with that address, or by creating one.
//!
//! The inviter holds the link too, so with mail on the link alone makes no account: a new
//! account waits until its address is confirmed through a second link mailed there, and
//! that confirmation asks for the password chosen when accepting, so neither the inviter
//! (without the mail) nor a mail scanner or a startled recipient (without the password) can
//! finish it. The answer to accepting is the same whether or not the address already has an
//! account anywhere on the appliance; when it has one, that account is left alone and its
//! owner is mailed how to join with it. With mail off the link is the only channel: whoever
//! holds it sets the password.

use serde::{Deserialize, Serialize};

use super::{Account, AccountId, AuthError, Client, Hasher, Password, account, links, password};
use crate::access::{self, AccessError, Permission, Requester, Role, SystemGrant, Via};
use crate::audit::{self, Actor, Event, Outcome};
use crate::store::{OrgId, Store, System, SystemGet, SystemTable, WriteTxn};

const INVITATIONS: SystemTable = SystemTable::new("s.invitations");
/// New accounts waiting for their address to be confirmed, by confirmation link.
const WAITING: SystemTable = SystemTable::new("s.invitation_accounts");
pub const TTL_SECS: i64 = 7 * 24 * 60 * 60;
/// How long a confirmation link works (never past its invitation).
pub const CONFIRM_TTL_SECS: i64 = 24 * 60 * 60;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Invitation {
    #[schema(value_type = String)]
    pub id: uuid::Uuid,
    #[schema(value_type = String)]
    pub org: OrgId,
    pub email: String,
    pub role: Role,
    #[schema(value_type = String)]
    pub invited_by: AccountId,
    pub expires_at: i64,
}

/// A new account accepted through an invitation, waiting for its address to be confirmed.
/// It is no account yet: it cannot sign in and holds no address, so nothing else waits on
/// it, and a later acceptance of the same invitation replaces it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct WaitingAccount {
    invitation: uuid::Uuid,
    org: OrgId,
    email: String,
    role: Role,
    display_name: String,
    password_hash: String,
    expires_at: i64,
}

/// Deletes the expired invitations and confirmation links; retention calls this.
pub(super) fn purge_expired(
    system: &crate::store::System<'_>,
    now: i64,
) -> Result<usize, AuthError> {
    Ok(
        links::purge_expired::<Invitation>(system, INVITATIONS, now)?
            + links::purge_expired::<WaitingAccount>(system, WAITING, now)?,
    )
}

impl links::Expiring for Invitation {
    fn expires_at(&self) -> i64 {
        self.expires_at
    }
}

impl links::Expiring for WaitingAccount {
    fn expires_at(&self) -> i64 {
        self.expires_at
    }
}

/// Invites `email` to `org` as `role`; returns the link token (shown once) and the record.
pub fn invite(
    store: &Store,
    requester: Requester,
    org: OrgId,
    email: &str,
    role: Role,
    client: &Client,
    now: i64,
) -> Result<(String, Invitation), AuthError> {
    let email = account::parse_email(email)?;
    let known = store.organizations()?;
    let txn = store.write()?;
    let system = txn.system(&SystemGrant::internal())?;
    let (grant, via) =
        access::authorize(&system, &known, requester, org, Permission::ManageMembers)?;
    if role == Role::Owner && via != Via::Member(Role::Owner) {
        return Err(AccessError::Forbidden.into());
    }
    if let Some(existing) = account::find_by_email(&system, email.as_str())?
        && access::role_in(&system, existing.id, org)?.is_some()
    {
        return Err(AuthError::InvalidInput {
            field: "email",
            message: "that person is already a member".into(),
        });
    }
    let token = links::new_token()?;
    let invitation = Invitation {
        id: uuid::Uuid::new_v4(),
        org,
        email: email.into_string(),
        role,
        invited_by: requester.account,
        expires_at: now + TTL_SECS,
    };
    links::put(&system, INVITATIONS, &token, &invitation)?;
    let mut event = Event::new(
        Actor::Account(requester.account.to_string()),
        "member.invite",
        Outcome::Success,
    )
    .org(org)
    .target(invitation.id);
    event.ip = client.ip.clone();
    event.user_agent = client.user_agent.clone();
    audit::append(&txn, event, now)?;
    let inviter = account::get(&system, requester.account)?
        .map(|a| a.display_name)
        .unwrap_or_default();
    let organization = crate::org::get(store, &grant)
        .map(|o| o.name)
        .unwrap_or_default();
    crate::mail::queue(&txn, now, |base| {
        crate::mail::messages::invitation(
            &invitation.email,
            &inviter,
            &organization,
            role.as_str(),
            &format!("{base}/invite/{token}"),
        )
    })?;
    drop(system);
    txn.commit()?;
    Ok((token, invitation))
}

fn live(system: &impl SystemGet, token: &str, now: i64) -> Result<Option<Invitation>, AuthError> {
    links::live(system, INVITATIONS, token, now)
}

/// The live invitation behind `token`.
pub fn lookup(store: &Store, token: &str, now: i64) -> Result<Invitation, AuthError> {
    let read = store.read()?;
    live(&read.system(&SystemGrant::internal())?, token, now)?.ok_or(AuthError::LinkInvalid)
}

/// The invitations of `org` still waiting for an answer, soonest to expire first; for those
/// who manage its members.
pub fn pending(
    store: &Store,
    requester: Requester,
    org: OrgId,
    now: i64,
) -> Result<Vec<Invitation>, AuthError> {
    let known = store.organizations()?;
    let read = store.read()?;
    let system = read.system(&SystemGrant::internal())?;
    access::authorize(&system, &known, requester, org, Permission::ManageMembers)?;
    let mut out = Vec::new();
    for (_, bytes) in system.list(INVITATIONS)? {
        let invitation: Invitation = serde_json::from_slice(&bytes)?;
        if invitation.org == org && invitation.expires_at > now {
            out.push(invitation);
        }
    }
    out.sort_by_key(|i| i.expires_at);
    Ok(out)
}

/// Deletes every invitation to `org`, and the accounts waiting on them (its erasure);
/// returns how many invitations went.
pub fn delete_for_org(system: &crate::store::System<'_>, org: OrgId) -> Result<usize, AuthError> {
    links::delete_where::<WaitingAccount>(system, WAITING, |waiting| waiting.org == org)?;
    links::delete_where::<Invitation>(system, INVITATIONS, |invitation| invitation.org == org)
}

/// Deletes every invitation addressed to `email`, and the accounts waiting for it (the
/// person's erasure); returns how many invitations went.
pub fn delete_for_address(
    system: &crate::store::System<'_>,
    email: &str,
) -> Result<usize, AuthError> {
    links::delete_where::<WaitingAccount>(system, WAITING, |waiting| waiting.email == email)?;
    links::delete_where::<Invitation>(system, INVITATIONS, |invitation| invitation.email == email)
}

/// Deletes the accounts waiting on the invitation `id`; returns how many.
fn forget_waiting(system: &crate::store::System<'_>, id: uuid::Uuid) -> Result<usize, AuthError> {
    links::delete_where::<WaitingAccount>(system, WAITING, |waiting| waiting.invitation == id)
}

/// Withdraws an invitation of `org` before it is accepted (those who manage its members).
pub fn revoke(
    store: &Store,
    requester: Requester,
    org: OrgId,
    id: uuid::Uuid,
    client: &Client,
    now: i64,
) -> Result<(), AuthError> {
    let known = store.organizations()?;
    let txn = store.write()?;
    let system = txn.system(&SystemGrant::internal())?;
    access::authorize(&system, &known, requester, org, Permission::ManageMembers)?;
    let revoked = links::delete_where::<Invitation>(&system, INVITATIONS, |invitation| {
        invitation.id == id && invitation.org == org
    })?;
    if revoked == 0 {
        return Err(AccessError::NotFound.into());
    }
    forget_waiting(&system, id)?;
    let event = Event::new(
        Actor::Account(requester.account.to_string()),
        "member.invite_revoke",
        Outcome::Success,
    )
    .org(org)
    .target(id);
    audit::append(&txn, client.stamp(event), now)?;
    drop(system);
    txn.commit()?;
    Ok(())
}

/// Whether the person who sent `invitation` may still grant its role: an invitation is
/// their act, and it must not outlive their authority (removed, demoted or disabled).
fn inviter_still_may(system: &impl SystemGet, invitation: &Invitation) -> Result<bool, AuthError> {
    let role = super::authority_of(
        system,
        invitation.invited_by,
        invitation.org,
        Permission::ManageMembers,
    )?;
    Ok(role.is_some_and(|role| invitation.role != Role::Owner || role == Role::Owner))
}

/// How the invitee proves who they are.
pub enum Acceptor<'a> {
    /// A new account for the invited address.
    NewAccount {
        display_name: &'a str,
        password: &'a Password,
    },
    /// The signed-in account, which must have the invited address.
    SignedIn(AccountId),
}

/// [`Acceptor`], checked: a new account's name and password hash.
enum Proof {
    NewAccount { name: String, hash: String },
    SignedIn(AccountId),
}

/// What accepting did.
#[derive(Debug)]
pub enum Accepted {
    /// The account is a member now.
    Joined(Box<Account>),
    /// Mail is on and a new account was asked for: a message went to `email`, with the link
    /// that confirms the new account or, when the address has an account already, saying
    /// how to join with it. The same answer either way.
    CheckMail { email: String },
}

/// Accepts an invitation. Signed in with the invited address: adds the membership. As a new
/// account: with mail on, waits for the address to be confirmed ([`confirm`]); with mail
/// off, creates the account and adds the membership at once.
pub async fn accept(
    store: &std::sync::Arc<Store>,
    hasher: &Hasher,
    token: &str,
    acceptor: Acceptor<'_>,
    client: &Client,
    now: i64,
) -> Result<Accepted, AuthError> {
    let invitation = lookup(store, token, now)?;
    // An invitation made before addresses were checked as now may hold one that is not.
    let email = account::parse_email(&invitation.email)?;
    // Hashed whether or not the address has an account: both answers take alike.
    let proof = match acceptor {
        Acceptor::NewAccount {
            display_name,
            password,
        } => {
            let name = account::clean_display_name(display_name)?;
            password::check_policy(password, &[email.as_str(), &name])?;
            Proof::NewAccount {
                name,
                hash: hasher.hash(password).await?,
            }
        }
        Acceptor::SignedIn(id) => Proof::SignedIn(id),
    };
    let txn = store.write()?;
    let system = txn.system(&SystemGrant::internal())?;
    // Checked again inside the transaction: two submissions of one link race here.
    let invitation = live(&system, token, now)?.ok_or(AuthError::LinkInvalid)?;
    if !inviter_still_may(&system, &invitation)? {
        return Err(AuthError::LinkInvalid);
    }
    let existing = account::find_by_email(&system, email.as_str())?;
    let member = match (proof, existing) {
        (Proof::SignedIn(id), Some(existing)) if existing.id == id => existing,
        (Proof::SignedIn(_), _) => {
            return Err(AuthError::InvalidInput {
                field: "email",
                message: "this invitation is for another address; sign in with the invited one"
                    .into(),
            });
        }
        (Proof::NewAccount { name, hash }, existing) if crate::mail::enabled() => {
            let waiting = WaitingAccount {
                invitation: invitation.id,
                org: invitation.org,
                email: email.to_string(),
                role: invitation.role,
                display_name: name,
                password_hash: hash,
                expires_at: (now + CONFIRM_TTL_SECS).min(invitation.expires_at),
            };
            ask_for_confirmation(
                &txn,
                &system,
                token,
                &invitation,
                waiting,
                existing,
                client,
                now,
            )?;
            drop(system);
            txn.commit()?;
            return Ok(Accepted::CheckMail {
                email: email.into_string(),
            });
        }
        // Mail is off: the link is the only channel, and whoever holds it is the invitee.
        (Proof::NewAccount { .. }, Some(_)) => {
            return Err(AuthError::InvalidInput {
                field: "email",
                message: "an account with the invited address exists; sign in with it to accept"
                    .into(),
            });
        }
        (Proof::NewAccount { name, hash }, None) => {
            account::create(&system, &email, &name, Some(hash), false, now)?
        }
    };
    // A member's role is changed on the members page, under the owner rules (the last
    // owner stays); an old invitation must not change it around them.
    if access::role_in(&system, member.id, invitation.org)?.is_some() {
        return Err(AuthError::InvalidInput {
            field: "token",
            message: "you are already a member of this organization; an owner or admin changes roles on its members page".into(),
        });
    }
    join(&txn, &system, &member, &invitation, client, now)?;
    links::spend(&system, INVITATIONS, token)?;
    drop(system);
    txn.commit()?;
    Ok(Accepted::Joined(Box::new(member)))
}

/// Adds `member` to the invitation's organization with its role, audited as `member.join`,
/// and forgets any account that waited on the invitation.
fn join(
    txn: &WriteTxn<'_>,
    system: &System<'_>,
    member: &Account,
    invitation: &Invitation,
    client: &Client,
    now: i64,
) -> Result<(), AuthError> {
    access::set_role(system, member.id, invitation.org, invitation.role)?;
    forget_waiting(system, invitation.id)?;
    let event = Event::new(
        Actor::Account(member.id.to_string()),
        "member.join",
        Outcome::Success,
    )
    .org(invitation.org)
    .target(invitation.id);
    audit::append(txn, client.stamp(event), now)?;
    Ok(())
}

/// Mails the invited address: the confirmation link of `waiting` when the address has no
/// account, or how to join with the account it has (whose password nothing here touches).
/// Recorded alike in the organization's log either way (`member.accept_request`), so its
/// owners cannot read there what the answer hides.
#[allow(clippy::too_many_arguments)]
fn ask_for_confirmation(
    txn: &WriteTxn<'_>,
    system: &System<'_>,
    invitation_token: &str,
    invitation: &Invitation,
    waiting: WaitingAccount,
    existing: Option<Account>,
    client: &Client,
    now: i64,
) -> Result<(), AuthError> {
    // One waiting account per invitation: the latest acceptance is the one confirmed.
    forget_waiting(system, invitation.id)?;
    let role = invitation.role.as_str();
    let inviter = account::get(system, invitation.invited_by)?
        .map(|a| a.display_name)
        .unwrap_or_default();
    match existing {
        None => {
            let token = links::new_token()?;
            let hours = ((waiting.expires_at - now).max(0) + 60 * 60 - 1) / (60 * 60);
            links::put(system, WAITING, &token, &waiting)?;
            crate::mail::queue(txn, now, |base| {
                crate::mail::messages::invitation_confirmation(
                    &waiting.email,
                    &inviter,
                    role,
                    &format!("{base}/invite/confirm/{token}"),
                    hours,
                )
            })?;
        }
        // A disabled account is mailed nothing: it could not sign in to join; nor is one
        // that has joined since it was invited.
        Some(account)
            if account.disabled
                || access::role_in(system, account.id, invitation.org)?.is_some() => {}
        Some(account) => {
            crate::mail::queue(txn, now, |base| {
                crate::mail::messages::invitation_existing_account(
                    &account.email,
                    &inviter,
                    role,
                    &format!("{base}/invite/{invitation_token}"),
                )
            })?;
        }
    }
    let event = Event::new(Actor::Anonymous, "member.accept_request", Outcome::Success)
        .org(invitation.org)
        .target(invitation.id);
    audit::append(txn, client.stamp(event), now)?;
    Ok(())
}

/// What a confirmation link would confirm, for its page: the address and the role.
pub fn check_confirmation(
    store: &Store,
    token: &str,
    now: i64,
) -> Result<(String, Role), AuthError> {
    let read = store.read()?;
    let waiting: WaitingAccount =
        links::live(&read.system(&SystemGrant::internal())?, WAITING, token, now)?
            .ok_or(AuthError::LinkInvalid)?;
    Ok((waiting.email, waiting.role))
}

/// The live invitation with id `id`, and the key it is stored under.
fn invitation_by_id(
    system: &System<'_>,
    id: uuid::Uuid,
    now: i64,
) -> Result<Option<(Vec<u8>, Invitation)>, AuthError> {
    for (key, bytes) in system.list(INVITATIONS)? {
        let invitation: Invitation = serde_json::from_slice(&bytes)?;
        if invitation.id == id {
            return Ok((invitation.expires_at > now).then_some((key, invitation)));
        }
    }
    Ok(None)
}

/// Confirms a new account through the link mailed to its address, with the password chosen
/// when the invitation was accepted: creates the account, adds the membership and spends
/// both links.
pub async fn confirm(
    store: &std::sync::Arc<Store>,
    hasher: &Hasher,
    token: &str,
    password: &Password,
    client: &Client,
    now: i64,
) -> Result<Account, AuthError> {
    let waiting: WaitingAccount = {
        let read = store.read()?;
        links::live(&read.system(&SystemGrant::internal())?, WAITING, token, now)?
            .ok_or(AuthError::LinkInvalid)?
    };
    let matched = hasher
        .verify(password, Some(waiting.password_hash.as_str()))
        .await?;
    let txn = store.write()?;
    let system = txn.system(&SystemGrant::internal())?;
    // Checked again inside the transaction: two submissions of one link race here.
    let waiting = links::live::<WaitingAccount>(&system, WAITING, token, now)?
        .filter(|w| w.password_hash == waiting.password_hash)
        .ok_or(AuthError::LinkInvalid)?;
    if !matched {
        let event = Event::new(Actor::Anonymous, "member.join", Outcome::Failure)
            .org(waiting.org)
            .target(waiting.invitation);
        audit::append(&txn, client.stamp(event), now)?;
        drop(system);
        txn.commit()?;
        return Err(AuthError::InvalidInput {
            field: "password",
            message: "that is not the password chosen when the invitation was accepted".into(),
        });
    }
    let (key, invitation) =
        invitation_by_id(&system, waiting.invitation, now)?.ok_or(AuthError::LinkInvalid)?;
    if !inviter_still_may(&system, &invitation)? {
        return Err(AuthError::LinkInvalid);
    }
    let email = account::parse_email(&waiting.email)?;
    // Created meanwhile (another invitation confirmed, the operator): this mailbox's owner
    // joins with it, signed in.
    if account::find_by_email(&system, email.as_str())?.is_some() {
        return Err(AuthError::InvalidInput {
            field: "email",
            message:
                "this address has an account now: sign in with it, then open the invitation again"
                    .into(),
        });
    }
    let member = account::create(
        &system,
        &email,
        &waiting.display_name,
        Some(waiting.password_hash.clone()),
        false,
        now,
    )?;
    join(&txn, &system, &member, &invitation, client, now)?;
    system.delete(INVITATIONS, &key)?;
    drop(system);
    txn.commit()?;
    Ok(member)
}
