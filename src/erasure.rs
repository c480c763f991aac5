//! Erasing an organization (GDPR article 17, CCPA's right to delete) by crypto-shredding.
//!
//! One write transaction destroys the organization's data key, removes every one of its
//! rows and memberships, and records the receipt: it commits whole or not at all, so a crash
//! leaves the organization either intact or gone. Its evidence and document files are then
//! removed; their keys were in the rows just removed, so a file a crash leaves behind is
//! unreadable already, and the next start sweeps it.
//!
//! Backups made before the erasure hold a wrapped copy of the key until the backup
//! retention removes them; the receipt names that date.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::access::{self, AccessError, ApplianceOperator, Permission, Requester, SystemGrant};
use crate::audit::{self, Actor, Event, Outcome};
use crate::auth::Client;
use crate::store::{OrgId, Store, StoreError, SystemTable};

const RECEIPTS: SystemTable = SystemTable::new("s.erasures");
/// Folders of per-organization files under the data directory.
const FILE_DIRS: [&str; 2] = ["evidence", "documents"];

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErasureError {
    #[error("{0}; nothing was erased")]
    NotConfirmed(&'static str),
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(#[from] audit::AuditError),
    #[error(transparent)]
    Org(#[from] crate::org::OrgError),
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
    #[error(transparent)]
    Mail(#[from] crate::mail::MailError),
    #[error("erasure record unreadable: {0}")]
    Decode(#[from] serde_json::Error),
}

/// Who asks: an owner through the web, or the operator at the console.
#[derive(Debug, Clone, Copy)]
pub enum Eraser<'a> {
    Member(Requester),
    Operator(&'a ApplianceOperator),
}

/// What an erasure did and promises, kept in the store and given to whoever asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Receipt {
    #[schema(value_type = String)]
    pub id: uuid::Uuid,
    /// The erased organization's id (its name is erased with it).
    pub organization: String,
    /// Unix seconds.
    pub erased_at: i64,
    pub records_removed: u64,
    pub files_removed: u64,
    /// Copies of the store kept before upgrades, removed because they held the organization.
    #[serde(default)]
    pub store_copies_removed: u64,
    /// Unix seconds: by then every backup made before the erasure has expired under the
    /// backup retention (backup_keep_days), and with it the last wrapped copy of the key.
    pub backups_expire_by: i64,
    pub statement: String,
}

/// Where the erased files live and how long backups are kept (for the receipt).
#[derive(Debug, Clone, Copy)]
pub struct Appliance<'a> {
    pub data_dir: &'a Path,
    pub backup_keep_days: u64,
}

/// Erases `org`: `confirm` must be its exact name.
pub fn erase_organization(
    store: &Store,
    eraser: Eraser<'_>,
    org: OrgId,
    confirm: &str,
    appliance: Appliance<'_>,
    client: &Client,
    now: i64,
) -> Result<Receipt, ErasureError> {
    let Appliance {
        data_dir,
        backup_keep_days,
    } = appliance;
    let known = store.organizations()?;
    let txn = store.write()?;
    let (grant, actor) = match eraser {
        Eraser::Member(requester) => {
            let system = txn.system(&SystemGrant::internal())?;
            let (grant, _) = access::authorize(
                &system,
                &known,
                requester,
                org,
                Permission::ManageOrganization,
            )?;
            (grant, Actor::Account(requester.account.to_string()))
        }
        Eraser::Operator(operator) => {
            if !known.contains(&org) {
                return Err(AccessError::NotFound.into());
            }
            (operator.grant(org), Actor::Operator)
        }
    };
    let name = {
        let tenant = txn.tenant(&grant)?;
        crate::org::profile_of(&tenant)?
            .map(|profile| profile.name)
            .unwrap_or_default()
    };
    if confirm.trim() != name {
        return Err(ErasureError::NotConfirmed(
            "to erase an organization, confirm with its exact name",
        ));
    }
    let records_removed = txn.erase_organization(&grant)?;
    {
        let system = txn.system(&SystemGrant::internal())?;
        for (account, _) in access::members_of(&system, org)? {
            access::remove_role(&system, account, org)?;
        }
        crate::auth::invitations::delete_for_org(&system, org)?;
    }
    let backups_expire_by = crate::backup::last_copy_gone_by(backup_keep_days, now);
    let mut receipt = Receipt {
        id: uuid::Uuid::new_v4(),
        organization: org.to_string(),
        erased_at: now,
        records_removed,
        files_removed: 0,
        store_copies_removed: 0,
        backups_expire_by,
        statement: format!(
            "Organization {org} was erased at {}: its data key was destroyed, so none of its \
             records or files can be read, and they were removed. Backups made before then \
             hold a wrapped copy of that key until they expire under the backup retention; \
             the last of those in the backup directory is gone by {}. Copies made elsewhere \
             by hand are the administrator's to destroy.",
            crate::dates::format_utc(now),
            crate::dates::format_utc(backups_expire_by)
        ),
    };
    audit::append(
        &txn,
        client.stamp(Event::new(actor, "org.erase", Outcome::Success).target(org)),
        now,
    )?;
    save_receipt(&txn, &receipt)?;
    txn.commit()?;

    receipt.files_removed = remove_files(store, data_dir, org);
    receipt.store_copies_removed = store.remove_copies_before_migration() as u64;
    receipt
        .statement
        .push_str(&copies_removed(receipt.store_copies_removed));
    if receipt.files_removed > 0 || receipt.store_copies_removed > 0 {
        let txn = store.write()?;
        save_receipt(&txn, &receipt)?;
        txn.commit()?;
    }
    tracing::info!(org = %org, records = records_removed, files = receipt.files_removed, "organization erased");
    Ok(receipt)
}

/// The receipt's sentence for the copies of the store kept before upgrades; none when
/// there were none.
fn copies_removed(count: u64) -> String {
    if count == 0 {
        return String::new();
    }
    format!(
        " The {count} cop{} of the store kept before upgrades held it too and {} removed, \
         so an upgrade can no longer be undone by putting one back.",
        if count == 1 { "y" } else { "ies" },
        if count == 1 { "was" } else { "were" }
    )
}

fn save_receipt(txn: &crate::store::WriteTxn<'_>, receipt: &Receipt) -> Result<(), ErasureError> {
    let system = txn.system(&SystemGrant::internal())?;
    system.put(
        RECEIPTS,
        receipt.id.as_bytes(),
        &serde_json::to_vec(receipt)?,
    )?;
    Ok(())
}

/// Removes the organization's file folders; returns how many files went (what a failed
/// removal left is not counted: the next start sweeps it).
fn remove_files(store: &Store, data_dir: &Path, org: OrgId) -> u64 {
    let _removing = store.removing_files();
    let count =
        |dir: &Path| std::fs::read_dir(dir).map_or(0, |entries| entries.flatten().count() as u64);
    let mut removed = 0;
    for top in FILE_DIRS {
        let dir = data_dir.join(top).join(org.to_string());
        let before = count(&dir);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => {
                tracing::warn!(error = %err, "could not remove an erased organization's files; the next start sweeps them")
            }
        }
        removed += before.saturating_sub(count(&dir));
    }
    removed
}

/// At start: removes file folders of organizations that no longer exist (an erasure the
/// process stopped before it had removed the files). Returns how many folders went.
pub fn sweep(store: &Store, data_dir: &Path) -> Result<usize, ErasureError> {
    let known: std::collections::HashSet<String> = store
        .organizations()?
        .into_iter()
        .map(|org| org.to_string())
        .collect();
    let mut swept = 0;
    for top in FILE_DIRS {
        let Ok(entries) = std::fs::read_dir(data_dir.join(top)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_org_dir = uuid::Uuid::parse_str(&name).is_ok() && entry.path().is_dir();
            if is_org_dir && !known.contains(&name) && std::fs::remove_dir_all(entry.path()).is_ok()
            {
                swept += 1;
            }
        }
    }
    Ok(swept)
}

/// Every erasure receipt, oldest first.
pub fn receipts(store: &Store) -> Result<Vec<Receipt>, ErasureError> {
    let read = store.read()?;
    let system = read.system(&SystemGrant::internal())?;
    let mut out: Vec<Receipt> = system
        .list_from(RECEIPTS, &[])?
        .into_iter()
        .map(|(_, bytes)| serde_json::from_slice(&bytes))
        .collect::<Result<_, _>>()?;
    out.sort_by_key(|r| r.erased_at);
    Ok(out)
}

/// What erasing a person did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PersonReceipt {
    /// The name the person's past actions carry from now on, in histories and the audit
    /// log (whose chain is untouched: it holds account ids, never names).
    pub pseudonym: String,
    /// Unix seconds.
    pub erased_at: i64,
    pub memberships_removed: usize,
    pub sessions_ended: usize,
    pub tokens_revoked: usize,
    pub messages_removed: usize,
    /// Copies of the store kept before upgrades, removed because they held the account.
    #[serde(default)]
    pub store_copies_removed: u64,
    /// Unix seconds: by then every backup made before has expired under the retention.
    pub backups_expire_by: i64,
    pub statement: String,
}

/// Erases the account `target`: the account, its address, memberships, sessions, API
/// tokens and queued mail go in one transaction; its past actions keep a stable pseudonym.
/// The person themselves, the appliance administrator or the operator may; `confirm` must
/// be the account's address. The last appliance administrator and an organization's only
/// owner cannot be erased (hand the role on, or erase the organization, first).
pub fn erase_person(
    store: &Store,
    eraser: Eraser<'_>,
    target: crate::auth::AccountId,
    confirm: &str,
    backup_keep_days: u64,
    client: &Client,
    now: i64,
) -> Result<PersonReceipt, ErasureError> {
    use crate::auth::account;
    let txn = store.write()?;
    let system = txn.system(&SystemGrant::internal())?;
    let actor = match eraser {
        Eraser::Member(requester) if requester.account == target || requester.appliance_admin => {
            Actor::Account(requester.account.to_string())
        }
        Eraser::Member(_) => return Err(AccessError::NotFound.into()),
        Eraser::Operator(_) => Actor::Operator,
    };
    let person = account::get(&system, target)?.ok_or(AccessError::NotFound)?;
    let confirmed =
        crate::auth::account::lookup_form(confirm).is_some_and(|email| email == person.email);
    if !confirmed {
        return Err(ErasureError::NotConfirmed(
            "to erase an account, confirm with its address",
        ));
    }
    if person.appliance_admin {
        let others = account::all(&system)?
            .into_iter()
            .any(|a| a.id != target && a.appliance_admin && !a.disabled);
        if !others {
            return Err(ErasureError::Refused(
                "this is the last appliance administrator; make another one first".into(),
            ));
        }
    }
    let memberships = access::memberships(&system, target)?;
    for (org, role) in &memberships {
        if *role == access::Role::Owner && access::owner_count(&system, *org)? <= 1 {
            return Err(ErasureError::Refused(format!(
                "this person is the only owner of organization {org}; make another owner or erase the organization first"
            )));
        }
    }
    for (org, _) in &memberships {
        access::remove_role(&system, target, *org)?;
    }
    let sessions_ended = crate::auth::session::revoke_all(&system, target, None)?;
    let tokens_revoked = crate::auth::tokens::revoke_all(&system, target)?;
    let mut messages_removed = crate::mail::outbox::forget_recipient(&system, &person.email)?;
    // A pending address change holds the new address, and its confirmation mail is queued
    // to it; invitations to the address name it too.
    for address in crate::auth::email_change::delete_for(&system, target)? {
        messages_removed += crate::mail::outbox::forget_recipient(&system, &address)?;
    }
    crate::auth::invitations::delete_for_address(&system, &person.email)?;
    let pseudonym = account::remove(&system, &person, now)?;
    drop(system);
    audit::append(
        &txn,
        client.stamp(Event::new(actor, "privacy.erase", Outcome::Success).target(target)),
        now,
    )?;
    txn.commit()?;
    let store_copies_removed = store.remove_copies_before_migration() as u64;
    let backups_expire_by = crate::backup::last_copy_gone_by(backup_keep_days, now);
    let mut receipt = PersonReceipt {
        statement: format!(
            "The account was erased at {}: its address, name, password, second factors, \
             memberships, sessions, API tokens and queued mail are gone. Its past actions are \
             attributed to {pseudonym}. Backups made before then hold the account until they \
             expire under the backup retention; the last in the backup directory is gone by {}.",
            crate::dates::format_utc(now),
            crate::dates::format_utc(backups_expire_by)
        ),
        pseudonym,
        erased_at: now,
        memberships_removed: memberships.len(),
        sessions_ended,
        tokens_revoked,
        messages_removed,
        store_copies_removed,
        backups_expire_by,
    };
    receipt
        .statement
        .push_str(&copies_removed(store_copies_removed));
    Ok(receipt)
}
