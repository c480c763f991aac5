//! One-time password links: issued by the operator, or mailed to whoever asks for one for
//! their own address ("forgot your password"); valid one hour, only the token's hash stored.

use serde::{Deserialize, Serialize};

use super::{AccountId, AuthError, Client, Hasher, Password, account, links, password};
use crate::access::SystemGrant;
use crate::audit::{self, Actor, Event, Outcome};
use crate::store::{Store, SystemGet, SystemTable};

const LINKS: SystemTable = SystemTable::new("s.password_links");
pub const LINK_TTL_SECS: i64 = 60 * 60;

#[derive(Serialize, Deserialize)]
struct StoredLink {
    account: AccountId,
    expires_at: i64,
}

/// Deletes the expired links; retention calls this.
pub(super) fn purge_expired(
    system: &crate::store::System<'_>,
    now: i64,
) -> Result<usize, AuthError> {
    links::purge_expired::<StoredLink>(system, LINKS, now)
}

impl links::Expiring for StoredLink {
    fn expires_at(&self) -> i64 {
        self.expires_at
    }
}

/// Spends every password link of `account`: once its password is set, by a link or
/// otherwise, a link mailed earlier (perhaps read by someone else) must not set it again.
pub(super) fn spend_all(
    system: &crate::store::System<'_>,
    account: AccountId,
) -> Result<usize, AuthError> {
    links::delete_where::<StoredLink>(system, LINKS, |link| link.account == account)
}

/// A fresh link token for `account`; earlier links stay valid until used, expired, or the
/// password is set.
pub fn issue(store: &Store, account: AccountId, now: i64) -> Result<String, AuthError> {
    let token = links::new_token()?;
    let txn = store.write()?;
    let system = txn.system(&SystemGrant::internal())?;
    let stored = StoredLink {
        account,
        expires_at: now + LINK_TTL_SECS,
    };
    links::put(&system, LINKS, &token, &stored)?;
    let event =
        Event::new(Actor::Operator, "admin.password_link", Outcome::Success).target(account);
    audit::append(&txn, event, now)?;
    drop(system);
    txn.commit()?;
    Ok(token)
}

/// Mails a one-time link (1 hour) to `email` when an enabled account has that address.
/// The answer and the work are the same either way (a write with an audit entry), so the
/// form tells nobody which addresses have accounts.
pub fn request(store: &Store, email: &str, client: &Client, now: i64) -> Result<(), AuthError> {
    if !crate::mail::enabled() {
        return Err(AuthError::ResetMailUnavailable);
    }
    let email = account::parse_email(email)?;
    let token = links::new_token()?;
    let txn = store.write()?;
    let system = txn.system(&SystemGrant::internal())?;
    let holder = account::find_by_email(&system, email.as_str())?.filter(|a| !a.disabled);
    let mut event = match &holder {
        Some(holder) => {
            let stored = StoredLink {
                account: holder.id,
                expires_at: now + LINK_TTL_SECS,
            };
            links::put(&system, LINKS, &token, &stored)?;
            crate::mail::queue(&txn, now, |base| {
                crate::mail::messages::password_reset(
                    &holder.email,
                    &format!("{base}/reset/{token}"),
                    LINK_TTL_SECS / 60,
                )
            })?;
            Event::new(Actor::Anonymous, "auth.reset_request", Outcome::Success).target(holder.id)
        }
        None => Event::new(Actor::Anonymous, "auth.reset_request", Outcome::Failure),
    };
    drop(system);
    event = client.stamp(event);
    audit::append(&txn, event, now)?;
    txn.commit()?;
    Ok(())
}

fn live(system: &impl SystemGet, token: &str, now: i64) -> Result<Option<AccountId>, AuthError> {
    Ok(links::live::<StoredLink>(system, LINKS, token, now)?.map(|link| link.account))
}

pub fn check(store: &Store, token: &str, now: i64) -> Result<(), AuthError> {
    let read = store.read()?;
    match live(&read.system(&SystemGrant::internal())?, token, now)? {
        Some(_) => Ok(()),
        None => Err(AuthError::LinkInvalid),
    }
}

/// Sets a new password with a link, spends the link, ends every session and clears lockout.
pub async fn complete(
    store: &std::sync::Arc<Store>,
    hasher: &Hasher,
    token: &str,
    new_password: &Password,
    client: &Client,
    now: i64,
) -> Result<(), AuthError> {
    let grant = SystemGrant::internal();
    let target = {
        let read = store.read()?;
        let system = read.system(&grant)?;
        let id = live(&system, token, now)?.ok_or(AuthError::LinkInvalid)?;
        account::get(&system, id)?.ok_or(AuthError::LinkInvalid)?
    };
    password::check_policy(new_password, &[&target.email, &target.display_name])?;
    let hash = hasher.hash(new_password).await?;
    let txn = store.write()?;
    let system = txn.system(&grant)?;
    // Checked again inside the transaction: two submissions of one link race here.
    if live(&system, token, now)? != Some(target.id) {
        return Err(AuthError::LinkInvalid);
    }
    links::spend(&system, LINKS, token)?;
    let mut updated = account::get(&system, target.id)?.ok_or(AuthError::LinkInvalid)?;
    // Whoever proves the link owns the account: a lockout from guessing ends here too.
    updated.failed_logins = 0;
    updated.locked_until = None;
    super::set_password(&txn, &system, updated, hash, None, client, now)?;
    drop(system);
    txn.commit()?;
    Ok(())
}
