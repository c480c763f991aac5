//! Changing an account's address: the new address must confirm. A signed-in person (with a
//! recent sign-in) asks; a single-use link (24 hours, only its hash stored) is mailed to the
//! new address; opening it and confirming moves the account, and the old address is told.
//! Without mail there is no way to prove the new address, so the request is refused.

use serde::{Deserialize, Serialize};

use super::{AccountId, AuthError, Client, Session, account, links, require_step_up};
use crate::access::SystemGrant;
use crate::audit::{self, Actor, Event, Outcome};
use crate::mail::messages;
use crate::store::{Store, SystemGet, SystemTable};

const LINKS: SystemTable = SystemTable::new("s.email_links");
pub const LINK_TTL_SECS: i64 = 24 * 60 * 60;

#[derive(Serialize, Deserialize)]
struct StoredLink {
    account: AccountId,
    email: String,
    expires_at: i64,
}

/// Deletes every address-change link of `account` (its erasure: they hold the new
/// address); returns the addresses they were for.
pub fn delete_for(
    system: &crate::store::System<'_>,
    account: AccountId,
) -> Result<Vec<String>, AuthError> {
    let mut addresses = Vec::new();
    links::delete_where::<StoredLink>(system, LINKS, |link| {
        let doomed = link.account == account;
        if doomed {
            addresses.push(link.email.clone());
        }
        doomed
    })?;
    Ok(addresses)
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

/// Asks to move the signed-in account to `new_email`; mails the confirmation link there.
/// Whether another account holds the address is not revealed here (the confirmation
/// refuses it), so the answer cannot be used to test addresses.
pub fn request(
    store: &Store,
    current: &Session,
    new_email: &str,
    client: &Client,
    now: i64,
) -> Result<String, AuthError> {
    require_step_up(current, now)?;
    let email = account::parse_email(new_email)?;
    if !crate::mail::enabled() {
        return Err(AuthError::MailUnavailable);
    }
    let txn = store.write()?;
    let system = txn.system(&SystemGrant::internal())?;
    let holder = account::get(&system, current.account)?.ok_or(AuthError::InvalidCredentials)?;
    if holder.email == email.as_str() {
        return Err(AuthError::InvalidInput {
            field: "email",
            message: "that is already your address".into(),
        });
    }
    let token = links::new_token()?;
    let link = StoredLink {
        account: holder.id,
        email: email.to_string(),
        expires_at: now + LINK_TTL_SECS,
    };
    links::put(&system, LINKS, &token, &link)?;
    let event = Event::new(
        Actor::Account(holder.id.to_string()),
        "account.email_change_request",
        Outcome::Success,
    )
    .target(holder.id);
    audit::append(&txn, client.stamp(event), now)?;
    crate::mail::queue(&txn, now, |base| {
        messages::email_change_confirmation(
            email.as_str(),
            &holder.display_name,
            &format!("{base}/email/confirm/{token}"),
        )
    })?;
    drop(system);
    txn.commit()?;
    Ok(email.into_string())
}

fn live(system: &impl SystemGet, token: &str, now: i64) -> Result<Option<StoredLink>, AuthError> {
    links::live(system, LINKS, token, now)
}

/// The address a live link would confirm, for the confirmation page.
pub fn check(store: &Store, token: &str, now: i64) -> Result<String, AuthError> {
    let read = store.read()?;
    live(&read.system(&SystemGrant::internal())?, token, now)?
        .map(|l| l.email)
        .ok_or(AuthError::LinkInvalid)
}

/// Confirms a change: spends the link, moves the account to the new address and tells the
/// old one. Returns the new address.
pub fn confirm(store: &Store, token: &str, client: &Client, now: i64) -> Result<String, AuthError> {
    let txn = store.write()?;
    let system = txn.system(&SystemGrant::internal())?;
    let link = live(&system, token, now)?.ok_or(AuthError::LinkInvalid)?;
    links::spend(&system, LINKS, token)?;
    let mut holder = account::get(&system, link.account)?.ok_or(AuthError::LinkInvalid)?;
    // A link asked for before addresses were checked as now may hold one that is not.
    let email = account::parse_email(&link.email)?;
    let actor = Actor::Account(holder.id.to_string());
    if account::find_by_email(&system, email.as_str())?.is_some() {
        let event = Event::new(actor, "account.email_change", Outcome::Failure).target(holder.id);
        audit::append(&txn, client.stamp(event), now)?;
        drop(system);
        txn.commit()?;
        return Err(AuthError::EmailTaken);
    }
    let old = holder.email.clone();
    account::set_email(&system, &mut holder, &email)?;
    let event = Event::new(actor, "account.email_change", Outcome::Success).target(holder.id);
    audit::append(&txn, client.stamp(event), now)?;
    crate::mail::queue(&txn, now, |_| messages::email_changed(&old, &link.email))?;
    drop(system);
    txn.commit()?;
    Ok(link.email)
}
