//! An organization's members: who they are, changing their roles, removing them. Only
//! owners make or unmake owners, and an organization always keeps at least one owner.

use serde::Serialize;

use super::{AccountId, AuthError, Client, account, session};
use crate::access::{self, AccessError, Permission, Requester, Role, SystemGrant};
use crate::audit::{self, Actor, Event, Outcome};
use crate::store::{OrgId, Store, System};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Member {
    #[schema(value_type = String)]
    pub account: AccountId,
    pub email: String,
    pub display_name: String,
    pub role: Role,
}

/// The members of `org`, for its members (the appliance administrator sees accounts through
/// the operator's tools instead).
pub fn list(store: &Store, requester: Requester, org: OrgId) -> Result<Vec<Member>, AuthError> {
    let known = store.organizations()?;
    let read = store.read()?;
    let system = read.system(&SystemGrant::internal())?;
    let member = Requester {
        appliance_admin: false,
        ..requester
    };
    access::authorize(&system, &known, member, org, Permission::Read)?;
    let mut out = Vec::new();
    for (id, role) in access::members_of(&system, org)? {
        if let Some(holder) = account::get(&system, id)? {
            out.push(Member {
                account: id,
                email: holder.email,
                display_name: holder.display_name,
                role,
            });
        }
    }
    out.sort_by(|a, b| b.role.cmp(&a.role).then(a.email.cmp(&b.email)));
    Ok(out)
}

/// Checks that `requester` may move `target` from `current` to `next` (None: removal).
fn check_change(
    system: &System<'_>,
    known: &[OrgId],
    requester: Requester,
    org: OrgId,
    current: Role,
    next: Option<Role>,
) -> Result<(), AuthError> {
    let (_, via) = access::authorize(system, known, requester, org, Permission::ManageMembers)?;
    let is_owner = via == access::Via::Member(Role::Owner);
    if (current == Role::Owner || next == Some(Role::Owner)) && !is_owner {
        return Err(AccessError::Forbidden.into());
    }
    if current == Role::Owner && next != Some(Role::Owner) && access::owner_count(system, org)? <= 1
    {
        return Err(AuthError::InvalidInput {
            field: "role",
            message: "an organization needs at least one owner; make someone else owner first"
                .into(),
        });
    }
    Ok(())
}

/// Sets `target`'s role in `org` (None removes it). A removal or demotion ends the
/// target's sessions, so nothing they opened keeps the old rights.
pub fn change(
    store: &Store,
    requester: Requester,
    org: OrgId,
    target: AccountId,
    next: Option<Role>,
    client: &Client,
    now: i64,
) -> Result<(), AuthError> {
    let known = store.organizations()?;
    let txn = store.write()?;
    let system = txn.system(&SystemGrant::internal())?;
    // Someone outside the organization answers like an unknown id.
    access::authorize(&system, &known, requester, org, Permission::Read)?;
    let current = access::role_in(&system, target, org)?.ok_or(AccessError::NotFound)?;
    check_change(&system, &known, requester, org, current, next)?;
    let action = match next {
        Some(role) => {
            access::set_role(&system, target, org, role)?;
            if role < current {
                session::revoke_all(&system, target, None)?;
            }
            "member.role_change"
        }
        None => {
            access::remove_role(&system, target, org)?;
            session::revoke_all(&system, target, None)?;
            "member.remove"
        }
    };
    let mut event = Event::new(
        Actor::Account(requester.account.to_string()),
        action,
        Outcome::Success,
    )
    .org(org)
    .target(target);
    event.ip = client.ip.clone();
    event.user_agent = client.user_agent.clone();
    audit::append(&txn, event, now)?;
    drop(system);
    txn.commit()?;
    Ok(())
}
