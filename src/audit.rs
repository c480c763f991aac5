//! The audit log: append-only and hash-chained. Each entry commits to the one before it
//! (`hash = SHA-256(prev_hash || entry JSON)`), and a head record commits to the last, so an
//! edit, a deletion, an insertion, a reordering or a cut tail is found by [`verify`].
//!
//! Entries are appended inside the caller's write transaction, so an event and its record
//! land together or not at all. Like every appliance record they are sealed at rest.

pub mod seal;

use serde::{Deserialize, Serialize};

use crate::access::{self, AccessError, Permission, Requester, SystemGrant, Via};
use crate::auth::Client;
use crate::store::{OrgId, Store, StoreError, System, SystemTable, WriteTxn};

const ENTRIES: SystemTable = SystemTable::new("s.audit");
const HEAD: SystemTable = SystemTable::new("s.audit_head");
const HEAD_KEY: &[u8] = b"head";
/// The `prev` of the first entry.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("audit record is unreadable: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("audit archive: {0}")]
    Archive(String),
    #[error(transparent)]
    Access(#[from] AccessError),
}

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Actor {
    /// The local operator on the control socket or CLI.
    Operator,
    /// A signed-in account, by id.
    Account(String),
    /// Someone not signed in (a failed sign-in, a share link).
    Anonymous,
    /// Rampart itself (scheduled jobs).
    System,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = AuditOutcome)]
pub enum Outcome {
    Success,
    Failure,
    Denied,
}

/// What happened, before it is numbered and chained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Event {
    pub actor: Actor,
    pub org: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Dotted verb such as `org.create` or `auth.login`.
    pub action: String,
    pub target: Option<String>,
    pub outcome: Outcome,
}

impl Event {
    pub fn new(actor: Actor, action: &str, outcome: Outcome) -> Event {
        Event {
            actor,
            org: None,
            ip: None,
            user_agent: None,
            action: action.to_owned(),
            target: None,
            outcome,
        }
    }

    pub fn org(mut self, org: impl ToString) -> Event {
        self.org = Some(org.to_string());
        self
    }

    pub fn target(mut self, target: impl ToString) -> Event {
        self.target = Some(target.to_string());
        self
    }
}

/// One numbered, chained entry as stored and exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Entry {
    pub seq: u64,
    /// Unix seconds.
    pub time: i64,
    #[serde(flatten)]
    pub event: Event,
    /// Hash of the previous entry (hex), or zeros for the first.
    pub prev: String,
    /// SHA-256 of `prev` and this entry's other fields (hex).
    pub hash: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Head {
    seq: u64,
    hash: String,
}

/// The fields an entry's hash covers: everything but the hash itself.
#[derive(Serialize)]
struct Hashed<'a> {
    seq: u64,
    time: i64,
    event: &'a Event,
    prev: &'a str,
}

fn entry_hash(seq: u64, time: i64, event: &Event, prev: &str) -> Result<String, AuditError> {
    let body = serde_json::to_vec(&Hashed {
        seq,
        time,
        event,
        prev,
    })?;
    Ok(crate::crypto::hex(&crate::crypto::sha256(&body)))
}

fn read_head(system: &System<'_>) -> Result<Option<Head>, AuditError> {
    Ok(match system.get(HEAD, HEAD_KEY)? {
        Some(bytes) => Some(serde_json::from_slice(&bytes)?),
        None => None,
    })
}

/// Read access to `org`, for whoever `access` lets read it. The appliance administrator's
/// read (it is not a member) is recorded as `admin.org_read` in the organization's log,
/// which its owners see.
pub fn read_grant(
    store: &Store,
    requester: Requester,
    org: OrgId,
    client: &Client,
    now: i64,
) -> Result<access::Grant, AuditError> {
    let known = store.organizations()?;
    let (grant, via) = {
        let read = store.read()?;
        let system = read.system(&SystemGrant::internal())?;
        access::authorize(&system, &known, requester, org, Permission::Read)?
    };
    if via == Via::ApplianceAdmin {
        let txn = store.write()?;
        let event = client.stamp(
            Event::new(
                Actor::Account(requester.account.to_string()),
                "admin.org_read",
                Outcome::Success,
            )
            .org(org)
            .target(org),
        );
        append(&txn, event, now)?;
        txn.commit()?;
    }
    Ok(grant)
}

/// Appends `event` at `now` within `txn`; it is durable when `txn` commits.
pub fn append(txn: &WriteTxn<'_>, event: Event, now: i64) -> Result<Entry, AuditError> {
    let system = txn.system(&SystemGrant::internal())?;
    let head = read_head(&system)?;
    let (seq, prev) = match head {
        Some(head) => (head.seq + 1, head.hash),
        None => (1, GENESIS.to_owned()),
    };
    let hash = entry_hash(seq, now, &event, &prev)?;
    let entry = Entry {
        seq,
        time: now,
        event,
        prev,
        hash: hash.clone(),
    };
    system.put(ENTRIES, &seq.to_be_bytes(), &serde_json::to_vec(&entry)?)?;
    system.put(HEAD, HEAD_KEY, &serde_json::to_vec(&Head { seq, hash })?)?;
    seal::rotate_if_full(&system, seq, &entry.hash, now)?;
    crate::metrics::record_event(
        &entry.event.action,
        entry.event.target.as_deref(),
        entry.event.outcome,
    );
    Ok(entry)
}

/// Every entry in order.
pub fn entries(store: &Store) -> Result<Vec<Entry>, AuditError> {
    let read = store.read()?;
    let system = read.system(&SystemGrant::internal())?;
    system
        .list(ENTRIES)?
        .into_iter()
        .map(|(_, bytes)| serde_json::from_slice(&bytes).map_err(AuditError::from))
        .collect()
}

/// Which entries to show.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Filter {
    /// Only entries whose action starts with this, such as `auth.`.
    pub action: Option<String>,
    pub outcome: Option<Outcome>,
    /// Only entries by this actor: an account id, or `operator`, `system` or `anonymous`.
    pub actor: Option<String>,
    /// Only entries at or after this time (Unix seconds).
    pub since: Option<i64>,
    /// Only entries before this time (Unix seconds).
    pub until: Option<i64>,
    /// Only entries with a sequence number below this, for paging back.
    pub before: Option<u64>,
    /// At most this many, newest first (default 100, at most 1000).
    pub limit: Option<usize>,
}

impl Actor {
    /// Whether this is the actor a filter names: an account id, or the kind of the others.
    fn is(&self, wanted: &str) -> bool {
        match self {
            Actor::Account(id) => id == wanted,
            Actor::Operator => wanted == "operator",
            Actor::Anonymous => wanted == "anonymous",
            Actor::System => wanted == "system",
        }
    }
}

impl Filter {
    fn matches(&self, entry: &Entry) -> bool {
        self.action
            .as_deref()
            .is_none_or(|a| entry.event.action.starts_with(a))
            && self.outcome.is_none_or(|o| entry.event.outcome == o)
            && self
                .actor
                .as_deref()
                .is_none_or(|a| entry.event.actor.is(a))
            && self.since.is_none_or(|t| entry.time >= t)
            && self.until.is_none_or(|t| entry.time < t)
            && self.before.is_none_or(|seq| entry.seq < seq)
    }
}

/// Entries matching `filter`, newest first; only `org`'s when given.
pub fn search(store: &Store, org: Option<&str>, filter: &Filter) -> Result<Vec<Entry>, AuditError> {
    let limit = filter.limit.unwrap_or(100).clamp(1, 1000);
    let mut found: Vec<Entry> = entries(store)?
        .into_iter()
        .rev()
        .filter(|e| org.is_none_or(|org| e.event.org.as_deref() == Some(org)))
        .filter(|e| filter.matches(e))
        .take(limit)
        .collect();
    found.shrink_to_fit();
    Ok(found)
}

/// The event recording that the appliance administrator, not a member, read `what` of `org`.
/// It is tagged with the organization, so its owners see it in their log.
pub(crate) fn oversight_event(
    requester: Requester,
    org: OrgId,
    action: &str,
    client: &Client,
) -> Event {
    client.stamp(
        Event::new(
            Actor::Account(requester.account.to_string()),
            action,
            Outcome::Success,
        )
        .org(org)
        .target(org),
    )
}

/// An organization's log, newest first, for its owners and for the appliance administrator.
/// The administrator's read is appended before the search, so it shows in what it returns.
pub fn org_search(
    store: &Store,
    requester: Requester,
    org: OrgId,
    filter: &Filter,
    client: &Client,
    now: i64,
) -> Result<Vec<Entry>, AuditError> {
    let known = store.organizations()?;
    let (_, via) = {
        let read = store.read()?;
        let system = read.system(&SystemGrant::internal())?;
        access::authorize(&system, &known, requester, org, Permission::Oversee)?
    };
    if via == Via::ApplianceAdmin {
        let txn = store.write()?;
        append(
            &txn,
            oversight_event(requester, org, "admin.audit_read", client),
            now,
        )?;
        txn.commit()?;
    }
    search(store, Some(&org.to_string()), filter)
}

/// The whole appliance's log, newest first, for the appliance administrator.
pub fn appliance_search(
    store: &Store,
    requester: Requester,
    filter: &Filter,
) -> Result<Vec<Entry>, AuditError> {
    access::authorize_appliance(requester)?;
    search(store, None, filter)
}

/// The outcome of checking the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    pub entries: u64,
    /// Hash of the last entry: record it elsewhere to detect a rewrite of the whole chain.
    pub head: String,
    /// The first broken link, if any.
    pub broken: Option<BrokenLink>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokenLink {
    /// Sequence number where the chain first fails.
    pub seq: u64,
    pub reason: String,
}

fn link_fault_at(expected_seq: u64, found_seq: u64) -> String {
    format!(
        "expected entry {expected_seq}, found entry {found_seq} (an entry was deleted, inserted or moved)"
    )
}

/// Why `entry` does not continue the chain at `expected_seq` after the hash `prev`, if it
/// does not.
fn link_fault(entry: &Entry, expected_seq: u64, prev: &str) -> Result<Option<String>, AuditError> {
    Ok(if entry.seq != expected_seq {
        Some(link_fault_at(expected_seq, entry.seq))
    } else if entry.prev != prev {
        Some("does not link to the entry before it".into())
    } else if entry_hash(entry.seq, entry.time, &entry.event, &entry.prev)? != entry.hash {
        Some("content does not match its hash (the entry was altered)".into())
    } else {
        None
    })
}

/// Walks the whole chain and reports the first broken link.
pub fn verify(store: &Store) -> Result<Verification, AuditError> {
    let read = store.read()?;
    let system = read.system(&SystemGrant::internal())?;
    let head: Option<Head> = match system.get(HEAD, HEAD_KEY)? {
        Some(bytes) => Some(serde_json::from_slice(&bytes)?),
        None => None,
    };
    let broken = |seq: u64, reason: String, count: u64, head: &str| Verification {
        entries: count,
        head: head.to_owned(),
        broken: Some(BrokenLink { seq, reason }),
    };
    // Archived segments are gone from the store; their seals say where the rest begins.
    let anchor = match seal::anchor(&system)? {
        Ok(anchor) => anchor,
        Err(link) => return Ok(broken(link.seq, link.reason, 0, GENESIS)),
    };
    let base = anchor.first_seq - 1;
    let mut expected_seq = anchor.first_seq;
    let mut prev = anchor.prev;
    let mut checkpoints = anchor.checkpoints.into_iter().peekable();
    for (key, bytes) in system.list(ENTRIES)? {
        let Ok(entry) = serde_json::from_slice::<Entry>(&bytes) else {
            return Ok(broken(
                expected_seq,
                "entry is not readable".into(),
                expected_seq - 1 - base,
                &prev,
            ));
        };
        let key_seq = key
            .as_slice()
            .try_into()
            .map(u64::from_be_bytes)
            .unwrap_or(0);
        let fault = if key_seq != expected_seq {
            Some(link_fault_at(expected_seq, key_seq))
        } else {
            link_fault(&entry, expected_seq, &prev)?
        };
        if let Some(reason) = fault {
            return Ok(broken(expected_seq, reason, expected_seq - 1 - base, &prev));
        }
        if let Some((sealed_seq, sealed_hash)) = checkpoints.peek()
            && *sealed_seq == entry.seq
        {
            if *sealed_hash != entry.hash {
                return Ok(broken(
                    entry.seq,
                    "differs from the segment seal taken when it was written".into(),
                    expected_seq - 1 - base,
                    &prev,
                ));
            }
            checkpoints.next();
        }
        prev = entry.hash;
        expected_seq += 1;
    }
    let last_seq = expected_seq - 1;
    let count = last_seq - base;
    if let Some((sealed_seq, _)) = checkpoints.next() {
        return Ok(broken(
            last_seq + 1,
            format!(
                "the log ends at entry {last_seq} but a segment seal names entry {sealed_seq} (entries were removed from the end)"
            ),
            count,
            &prev,
        ));
    }
    match head {
        Some(head) if head.seq != last_seq || head.hash != prev => Ok(broken(
            last_seq + 1,
            format!(
                "the log ends at entry {last_seq} but its head names entry {} (entries were removed from the end)",
                head.seq
            ),
            count,
            &prev,
        )),
        None if last_seq > 0 => Ok(broken(
            last_seq,
            "the head record is missing".into(),
            count,
            &prev,
        )),
        _ => Ok(Verification {
            entries: count,
            head: prev,
            broken: None,
        }),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::crypto::MasterKey;

    pub(crate) fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let master = MasterKey::create(&dir.path().join("master.key")).unwrap();
        let store = Store::open(&dir.path().join("s.redb"), master).unwrap();
        (dir, store)
    }

    fn log_events(store: &Store, n: usize) {
        for i in 0..n {
            let txn = store.write().unwrap();
            let event = Event::new(Actor::Operator, "test.event", Outcome::Success).target(i);
            append(&txn, event, 1_700_000_000 + i as i64).unwrap();
            txn.commit().unwrap();
        }
    }

    /// Rewrites stored entries as an insider holding the master key could.
    fn tamper(store: &Store, edit: impl FnOnce(&System<'_>, Vec<(Vec<u8>, Vec<u8>)>)) {
        let txn = store.write().unwrap();
        let system = txn.system(&SystemGrant::internal()).unwrap();
        let rows = system.list(ENTRIES).unwrap();
        edit(&system, rows);
        drop(system);
        txn.commit().unwrap();
    }

    fn entry_of(bytes: &[u8]) -> Entry {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn intact_chain_verifies() {
        let (_dir, store) = store();
        log_events(&store, 5);
        let result = verify(&store).unwrap();
        assert_eq!(result.entries, 5);
        assert_eq!(result.broken, None);
        assert_eq!(result.head, entries(&store).unwrap()[4].hash);
    }

    #[test]
    fn filter_by_actor_and_time_window() {
        let (_dir, store) = store();
        log_events(&store, 4);
        let txn = store.write().unwrap();
        let event = Event::new(Actor::Account("a1".into()), "auth.login", Outcome::Failure);
        append(&txn, event, 1_700_000_002).unwrap();
        txn.commit().unwrap();
        let by = |filter: Filter| -> Vec<u64> {
            search(&store, None, &filter)
                .unwrap()
                .iter()
                .map(|e| e.seq)
                .collect()
        };
        let actor = |a: &str| Filter {
            actor: Some(a.into()),
            ..Filter::default()
        };
        assert_eq!(by(actor("a1")), vec![5]);
        assert_eq!(by(actor("operator")), vec![4, 3, 2, 1]);
        assert!(by(actor("anonymous")).is_empty());
        let window = Filter {
            since: Some(1_700_000_001),
            until: Some(1_700_000_003),
            ..Filter::default()
        };
        assert_eq!(
            by(window),
            vec![5, 3, 2],
            "since inclusive, until exclusive"
        );
    }

    #[test]
    fn empty_log_verifies() {
        let (_dir, store) = store();
        assert_eq!(verify(&store).unwrap().broken, None);
    }

    #[test]
    fn altered_entry_is_caught() {
        let (_dir, store) = store();
        log_events(&store, 5);
        tamper(&store, |system, rows| {
            let mut entry = entry_of(&rows[2].1);
            entry.event.outcome = Outcome::Failure;
            system
                .put(ENTRIES, &rows[2].0, &serde_json::to_vec(&entry).unwrap())
                .unwrap();
        });
        let broken = verify(&store).unwrap().broken.unwrap();
        assert_eq!(broken.seq, 3);
        assert!(broken.reason.contains("altered"), "{}", broken.reason);
    }

    #[test]
    fn deleted_entry_is_caught() {
        let (_dir, store) = store();
        log_events(&store, 5);
        tamper(&store, |system, rows| {
            system.delete(ENTRIES, &rows[1].0).unwrap();
        });
        assert_eq!(verify(&store).unwrap().broken.unwrap().seq, 2);
    }

    #[test]
    fn inserted_entry_is_caught() {
        let (_dir, store) = store();
        log_events(&store, 3);
        tamper(&store, |system, rows| {
            // Renumber entries 2..3 to 3..4 and put a forged entry 2 in between, re-hashed.
            let mut forged = entry_of(&rows[1].1);
            forged.event.action = "forged".into();
            forged.hash = entry_hash(2, forged.time, &forged.event, &forged.prev).unwrap();
            for (key, bytes) in rows.iter().skip(1).rev() {
                let mut moved = entry_of(bytes);
                moved.seq += 1;
                let seq = u64::from_be_bytes(key.as_slice().try_into().unwrap()) + 1;
                system
                    .put(
                        ENTRIES,
                        &seq.to_be_bytes(),
                        &serde_json::to_vec(&moved).unwrap(),
                    )
                    .unwrap();
            }
            system
                .put(ENTRIES, &rows[1].0, &serde_json::to_vec(&forged).unwrap())
                .unwrap();
        });
        let broken = verify(&store).unwrap().broken.unwrap();
        assert_eq!(broken.seq, 3);
    }

    #[test]
    fn reordered_entries_are_caught() {
        let (_dir, store) = store();
        log_events(&store, 4);
        tamper(&store, |system, rows| {
            system.put(ENTRIES, &rows[1].0, &rows[2].1).unwrap();
            system.put(ENTRIES, &rows[2].0, &rows[1].1).unwrap();
        });
        let broken = verify(&store).unwrap().broken.unwrap();
        assert_eq!(broken.seq, 2);
        assert!(
            broken.reason.contains("expected entry 2"),
            "{}",
            broken.reason
        );
    }

    #[test]
    fn cut_tail_is_caught() {
        let (_dir, store) = store();
        log_events(&store, 4);
        tamper(&store, |system, rows| {
            system.delete(ENTRIES, &rows[3].0).unwrap();
        });
        let broken = verify(&store).unwrap().broken.unwrap();
        assert!(
            broken.reason.contains("removed from the end"),
            "{}",
            broken.reason
        );
    }
}
