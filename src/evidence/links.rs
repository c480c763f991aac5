//! Signed share links: one version of one file for someone without an account, for at
//! most 30 days, optionally once, revocable.
//!
//! A token is `org id | link id | HMAC-SHA256(server key, org id | link id)`, base64url.
//! The MAC is checked before anything is looked up, so an altered or made-up token costs
//! one HMAC and reveals nothing; the link record (expiry, uses, revocation) is a sealed
//! tenant record like any other.

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::{
    Author, Download, EvidenceError, Record, Vault, audit_change, grant_for, invalid, load,
    open_version, parse_id, pick_version,
};
use crate::access::{self, Permission, SystemGrant};
use crate::audit::{self, Actor, Event, Outcome};
use crate::auth::Client;
use crate::store::{OrgId, Store, SystemTable, Tenant, TenantGet, TenantTable};

const LINKS: TenantTable = TenantTable::new("t.evidence_links");
const KEYS: SystemTable = SystemTable::new("s.keys");
const SIGNING_KEY: &[u8] = b"share_link_signing_key";
pub const MAX_DAYS: u32 = 30;
const DEFAULT_DAYS: u32 = 7;
const ID_LEN: usize = 16;
const MAC_LEN: usize = 32;

/// `POST .../links` body.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLink {
    /// Version number; the current one when left out.
    #[serde(default)]
    pub version: Option<u32>,
    /// 1 to 30; 7 when left out.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
    #[serde(default)]
    pub single_use: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Link {
    pub id: String,
    pub evidence_id: String,
    pub version: u32,
    pub expires_at: i64,
    pub single_use: bool,
    pub uses: u32,
    pub created_at: i64,
    pub created_by: String,
    pub revoked_at: Option<i64>,
    /// Only in the answer that creates the link: the token is not kept.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub url: Option<String>,
}

fn signing_key_for_write(system: &crate::store::System<'_>) -> Result<Vec<u8>, EvidenceError> {
    if let Some(key) = system.get(KEYS, SIGNING_KEY)? {
        return Ok(key);
    }
    let key: [u8; 32] = crate::crypto::random_bytes().map_err(crate::store::StoreError::from)?;
    system.put(KEYS, SIGNING_KEY, &key)?;
    Ok(key.to_vec())
}

fn mac(key: &[u8], org: OrgId, link: &uuid::Uuid) -> Vec<u8> {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    let mut message = Vec::with_capacity(2 * ID_LEN);
    message.extend_from_slice(org.0.as_bytes());
    message.extend_from_slice(link.as_bytes());
    aws_lc_rs::hmac::sign(&key, &message).as_ref().to_vec()
}

fn token(key: &[u8], org: OrgId, link: &uuid::Uuid) -> String {
    let mut raw = Vec::with_capacity(2 * ID_LEN + MAC_LEN);
    raw.extend_from_slice(org.0.as_bytes());
    raw.extend_from_slice(link.as_bytes());
    raw.extend_from_slice(&mac(key, org, link));
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// The organization and link a token names, if its MAC is right.
fn verify_token(store: &Store, token: &str) -> Result<(OrgId, uuid::Uuid), EvidenceError> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim())
        .map_err(|_| EvidenceError::NotFound)?;
    if raw.len() != 2 * ID_LEN + MAC_LEN {
        return Err(EvidenceError::NotFound);
    }
    let (ids, given) = raw.split_at(2 * ID_LEN);
    let (org, link) = ids.split_at(ID_LEN);
    let org = OrgId(uuid::Uuid::from_slice(org).map_err(|_| EvidenceError::NotFound)?);
    let link = uuid::Uuid::from_slice(link).map_err(|_| EvidenceError::NotFound)?;
    let key = {
        let read = store.read()?;
        read.system(&SystemGrant::internal())?
            .get(KEYS, SIGNING_KEY)?
    }
    .ok_or(EvidenceError::NotFound)?;
    if !crate::crypto::constant_time_eq(&mac(&key, org, &link), given) {
        return Err(EvidenceError::NotFound);
    }
    Ok((org, link))
}

fn load_link(tenant: &impl TenantGet, id: &uuid::Uuid) -> Result<Link, EvidenceError> {
    match tenant.get(LINKS, id.as_bytes())? {
        Some(bytes) => Ok(serde_json::from_slice(&bytes)?),
        None => Err(EvidenceError::NotFound),
    }
}

/// Removes the links of every organization that expired or were revoked more than 30 days
/// ago (until then a late click is told why the link no longer works); returns how many.
pub fn purge_expired(
    store: &Store,
    operator: &crate::access::ApplianceOperator,
    now: i64,
) -> Result<usize, EvidenceError> {
    let mut purged = 0;
    for org in store.organizations()? {
        let txn = store.write()?;
        let tenant = txn.tenant(&operator.grant(org))?;
        let mut gone = 0;
        for (key, bytes) in tenant.list_prefix(LINKS, &[])? {
            let link: Link = serde_json::from_slice(&bytes)?;
            let ended = link
                .revoked_at
                .map_or(link.expires_at, |at| at.min(link.expires_at));
            if ended + crate::auth::links::KEEP_EXPIRED_SECS <= now {
                tenant.delete(LINKS, &key)?;
                gone += 1;
            }
        }
        drop(tenant);
        if gone > 0 {
            txn.commit()?;
            purged += gone;
        }
    }
    Ok(purged)
}

/// Removes every link to `evidence` (when the file is purged).
pub(super) fn delete_for(tenant: &Tenant<'_>, evidence: &uuid::Uuid) -> Result<(), EvidenceError> {
    let evidence = evidence.to_string();
    for (key, bytes) in tenant.list_prefix(LINKS, &[])? {
        let link: Link = serde_json::from_slice(&bytes)?;
        if link.evidence_id == evidence {
            tenant.delete(LINKS, &key)?;
        }
    }
    Ok(())
}

/// Makes a link (admins and owners); audited as `evidence.link_create`. The answer's `url`
/// is the only copy of the token.
pub fn create(
    store: &Store,
    author: &Author,
    org: OrgId,
    evidence: &str,
    new: &NewLink,
    base_url: &str,
    now: i64,
) -> Result<Link, EvidenceError> {
    let evidence = parse_id(evidence)?;
    let days = new.expires_in_days.unwrap_or(DEFAULT_DAYS);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(invalid(
            "expires_in_days",
            format!("a link lasts 1 to {MAX_DAYS} days"),
        ));
    }
    let txn = store.write()?;
    let grant = grant_for(store, &txn, author.requester, org, Permission::Share)?;
    let tenant = txn.tenant(&grant)?;
    let record = load(&tenant, &evidence)?;
    if record.deleted_at.is_some() {
        return Err(EvidenceError::NotFound);
    }
    let version = pick_version(&record, new.version)?.number;
    let id = uuid::Uuid::new_v4();
    let mut link = Link {
        id: id.to_string(),
        evidence_id: evidence.to_string(),
        version,
        expires_at: now + i64::from(days) * 86_400,
        single_use: new.single_use,
        uses: 0,
        created_at: now,
        created_by: author.requester.account.to_string(),
        revoked_at: None,
        url: None,
    };
    tenant.put(LINKS, id.as_bytes(), &serde_json::to_vec(&link)?)?;
    drop(tenant);
    let key = signing_key_for_write(&txn.system(&SystemGrant::internal())?)?;
    audit_change(
        &txn,
        author,
        "evidence.link_create",
        org,
        format!("{evidence} link {id}"),
        now,
    )?;
    txn.commit()?;
    link.url = Some(format!(
        "{}/share/{}",
        base_url.trim_end_matches('/'),
        token(&key, org, &id)
    ));
    Ok(link)
}

/// The links to one file, newest first.
pub fn list(
    store: &Store,
    requester: access::Requester,
    org: OrgId,
    evidence: &str,
    client: &Client,
    now: i64,
) -> Result<Vec<Link>, EvidenceError> {
    let evidence = parse_id(evidence)?;
    let grant = audit::read_grant(store, requester, org, client, now)?;
    let read = store.read()?;
    let tenant = read.tenant(&grant)?;
    load(&tenant, &evidence)?;
    let wanted = evidence.to_string();
    let mut links: Vec<Link> = tenant
        .list_prefix(LINKS, &[])?
        .into_iter()
        .map(|(_, bytes)| serde_json::from_slice::<Link>(&bytes))
        .filter(|link| link.as_ref().map_or(true, |l| l.evidence_id == wanted))
        .collect::<Result<_, _>>()?;
    links.sort_by_key(|l| std::cmp::Reverse(l.created_at));
    Ok(links)
}

/// Revokes a link (admins and owners); audited as `evidence.link_revoke`.
pub fn revoke(
    store: &Store,
    author: &Author,
    org: OrgId,
    evidence: &str,
    link: &str,
    now: i64,
) -> Result<Link, EvidenceError> {
    let evidence = parse_id(evidence)?;
    let id = parse_id(link)?;
    let txn = store.write()?;
    let grant = grant_for(store, &txn, author.requester, org, Permission::Share)?;
    let tenant = txn.tenant(&grant)?;
    let mut link = load_link(&tenant, &id)?;
    if link.evidence_id != evidence.to_string() {
        return Err(EvidenceError::NotFound);
    }
    if link.revoked_at.is_none() {
        link.revoked_at = Some(now);
        tenant.put(LINKS, id.as_bytes(), &serde_json::to_vec(&link)?)?;
    }
    drop(tenant);
    audit_change(
        &txn,
        author,
        "evidence.link_revoke",
        org,
        format!("{evidence} link {id}"),
        now,
    )?;
    txn.commit()?;
    Ok(link)
}

fn usable(link: &Link, now: i64) -> Result<(), EvidenceError> {
    if link.revoked_at.is_some() {
        Err(EvidenceError::Gone("this link was revoked".into()))
    } else if now >= link.expires_at {
        Err(EvidenceError::Gone("this link has expired".into()))
    } else if link.single_use && link.uses > 0 {
        Err(EvidenceError::Gone(
            "this link was for one download and has been used".into(),
        ))
    } else {
        Ok(())
    }
}

/// A link is its creator's act: it works only while they may still share the
/// organization's files (not removed, demoted or disabled), as an invitation does.
fn creator_still_shares(
    system: &impl crate::store::SystemGet,
    link: &Link,
    org: OrgId,
) -> Result<(), EvidenceError> {
    let creator = crate::auth::AccountId(parse_id(&link.created_by)?);
    match crate::auth::authority_of(system, creator, org, Permission::Share) {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(EvidenceError::Gone(
            "this link no longer works: whoever shared it can no longer share this file".into(),
        )),
        Err(err) => Err(EvidenceError::Creator(err.to_string())),
    }
}

/// Opens the file a link shares, for anyone holding its token; audited as
/// `evidence.link_download` with the client's address.
pub fn open_shared(
    store: &Store,
    vault: &Vault,
    token: &str,
    client: &Client,
    now: i64,
) -> Result<Download, EvidenceError> {
    let (org, id) = verify_token(store, token)?;
    let grant = access::signed_link(org);
    let (link, record): (Link, Record) = {
        let read = store.read()?;
        let tenant = read.tenant(&grant)?;
        let link = load_link(&tenant, &id)?;
        usable(&link, now)?;
        creator_still_shares(&read.system(&SystemGrant::internal())?, &link, org)?;
        let record = load(&tenant, &parse_id(&link.evidence_id)?)?;
        (link, record)
    };
    if record.deleted_at.is_some() {
        return Err(EvidenceError::Gone("this file is no longer shared".into()));
    }
    let download = open_version(vault, org, pick_version(&record, Some(link.version))?)?;
    let txn = store.write()?;
    let tenant = txn.tenant(&grant)?;
    // Again inside the write: two downloads racing for one single-use link get one file,
    // and a creator demoted meanwhile stops this one.
    let mut link = load_link(&tenant, &id)?;
    usable(&link, now)?;
    creator_still_shares(&txn.system(&SystemGrant::internal())?, &link, org)?;
    link.uses += 1;
    tenant.put(LINKS, id.as_bytes(), &serde_json::to_vec(&link)?)?;
    drop(tenant);
    let event = client.stamp(
        Event::new(Actor::Anonymous, "evidence.link_download", Outcome::Success)
            .org(org)
            .target(format!("{} v{} link {id}", link.evidence_id, link.version)),
    );
    audit::append(&txn, event, now)?;
    txn.commit()?;
    Ok(download)
}
