//! Invitations: an owner or admin invites an address with a role; the single-use link (7
//! days, only its hash stored) is shown to the inviter, and mailed once mail exists. The
//! invitee accepts by creating an account for that address, or, if one exists, by being
//! signed in to it.

use serde::{Deserialize, Serialize};

use super::{Account, AccountId, AuthError, Client, Hasher, Password, account, links, password};
use crate::access::{self, AccessError, Permission, Requester, Role, SystemGrant, Via};
use crate::audit::{self, Actor, Event, Outcome};
use crate::store::{OrgId, Store, SystemGet, SystemTable};

const INVITATIONS: SystemTable = SystemTable::new("s.invitations");
pub const TTL_SECS: i64 = 7 * 24 * 60 * 60;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Invitation {
    #[schema(value_type = String)]
    pub id: uuid::Uuid,
    #[schema(value_type = String)]
    pub org: OrgId,
    pub email: String,
    #[schema(value_type = String)]
    pub role: Role,
    #[schema(value_type = String)]
    pub invited_by: AccountId,
    pub expires_at: i64,
}

/// Deletes the expired invitations; retention calls this.
pub(super) fn purge_expired(
    system: &crate::store::System<'_>,
    now: i64,
) -> Result<usize, AuthError> {
    links::purge_expired::<Invitation>(system, INVITATIONS, now)
}

impl links::Expiring for Invitation {
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

/// Deletes every invitation to `org` (its erasure); returns how many went.
pub fn delete_for_org(system: &crate::store::System<'_>, org: OrgId) -> Result<usize, AuthError> {
    links::delete_where::<Invitation>(system, INVITATIONS, |invitation| invitation.org == org)
}

/// Deletes every invitation addressed to `email` (the person's erasure); returns how many.
pub fn delete_for_address(
    system: &crate::store::System<'_>,
    email: &str,
) -> Result<usize, AuthError> {
    links::delete_where::<Invitation>(system, INVITATIONS, |invitation| invitation.email == email)
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
    let enabled = account::get(system, invitation.invited_by)?.is_some_and(|a| !a.disabled);
    let role = access::role_in(system, invitation.invited_by, invitation.org)?;
    Ok(enabled
        && role.is_some_and(|role| {
            role.allows(Permission::ManageMembers)
                && (invitation.role != Role::Owner || role == Role::Owner)
        }))
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

/// Accepts an invitation: spends the link and adds the membership, creating the account
/// first when the address has none.
pub async fn accept(
    store: &std::sync::Arc<Store>,
    hasher: &Hasher,
    token: &str,
    acceptor: Acceptor<'_>,
    client: &Client,
    now: i64,
) -> Result<Account, AuthError> {
    let invitation = lookup(store, token, now)?;
    // An invitation made before addresses were checked as now may hold one that is not.
    let email = account::parse_email(&invitation.email)?;
    let hash = match &acceptor {
        Acceptor::NewAccount {
            display_name,
            password,
        } => {
            let name = account::clean_display_name(display_name)?;
            password::check_policy(password, &[email.as_str(), &name])?;
            Some(hasher.hash(password).await?)
        }
        Acceptor::SignedIn(_) => None,
    };
    let txn = store.write()?;
    let system = txn.system(&SystemGrant::internal())?;
    // Checked again inside the transaction: two submissions of one link race here.
    let invitation = live(&system, token, now)?.ok_or(AuthError::LinkInvalid)?;
    if !inviter_still_may(&system, &invitation)? {
        return Err(AuthError::LinkInvalid);
    }
    let existing = account::find_by_email(&system, email.as_str())?;
    let member = match (acceptor, existing) {
        (Acceptor::SignedIn(id), Some(existing)) if existing.id == id => existing,
        (Acceptor::SignedIn(_), _) => {
            return Err(AuthError::InvalidInput {
                field: "email",
                message: "this invitation is for another address; sign in with the invited one"
                    .into(),
            });
        }
        (Acceptor::NewAccount { .. }, Some(_)) => {
            return Err(AuthError::InvalidInput {
                field: "email",
                message: "an account with the invited address exists; sign in with it to accept"
                    .into(),
            });
        }
        (Acceptor::NewAccount { display_name, .. }, None) => {
            account::create(&system, &email, display_name, hash, false, now)?
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
    access::set_role(&system, member.id, invitation.org, invitation.role)?;
    links::spend(&system, INVITATIONS, token)?;
    let mut event = Event::new(
        Actor::Account(member.id.to_string()),
        "member.join",
        Outcome::Success,
    )
    .org(invitation.org)
    .target(invitation.id);
    event.ip = client.ip.clone();
    event.user_agent = client.user_agent.clone();
    audit::append(&txn, event, now)?;
    drop(system);
    txn.commit()?;
    Ok(member)
}
