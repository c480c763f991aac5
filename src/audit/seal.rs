//! Segments of the audit log. Every [`SEGMENT_ENTRIES`] entries (or when asked) the entries
//! since the last seal are sealed: a record naming their range and the hash of their last
//! entry, chained to the seal before it. A sealed segment can be archived (written to a
//! file, then removed from the store); verification then starts from the seal instead of the
//! first entry, and the archived file still verifies against the seal on its own.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{AuditError, BrokenLink, Entry, GENESIS, Verification, link_fault};
use crate::access::SystemGrant;
use crate::crypto::hex;
use crate::store::{Store, System, SystemGet, SystemTable};

const SEALS: SystemTable = SystemTable::new("s.audit_seals");
/// Entries per segment before it rotates.
pub const SEGMENT_ENTRIES: u64 = 10_000;

/// One sealed segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seal {
    /// Counts from 1.
    pub segment: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    /// Hash of the segment's last entry.
    pub last_hash: String,
    pub sealed_at: i64,
    /// Hash of the seal before, or zeros for the first.
    pub prev_seal: String,
    /// SHA-256 of this seal's other fields.
    pub hash: String,
    /// Written to an archive file and removed from the store.
    #[serde(default)]
    pub archived: bool,
}

#[derive(Serialize)]
struct SealHashed<'a> {
    segment: u64,
    first_seq: u64,
    last_seq: u64,
    last_hash: &'a str,
    sealed_at: i64,
    prev_seal: &'a str,
}

fn seal_hash(seal: &Seal) -> Result<String, AuditError> {
    let body = serde_json::to_vec(&SealHashed {
        segment: seal.segment,
        first_seq: seal.first_seq,
        last_seq: seal.last_seq,
        last_hash: &seal.last_hash,
        sealed_at: seal.sealed_at,
        prev_seal: &seal.prev_seal,
    })?;
    Ok(hex(&crate::crypto::sha256(&body)))
}

/// Every seal, oldest first.
pub fn all(system: &impl SystemGet) -> Result<Vec<Seal>, AuditError> {
    system
        .list_from(SEALS, &[])?
        .into_iter()
        .map(|(_, bytes)| serde_json::from_slice(&bytes).map_err(AuditError::from))
        .collect()
}

fn last(system: &impl SystemGet) -> Result<Option<Seal>, AuditError> {
    // Few seals (one per 10,000 entries): reading them all stays cheap for years.
    Ok(all(system)?.pop())
}

/// Seals the entries after the last seal up to `head_seq`, when there are any.
fn seal_through(
    system: &System<'_>,
    head_seq: u64,
    head_hash: &str,
    now: i64,
) -> Result<Option<Seal>, AuditError> {
    let previous = last(system)?;
    let first_seq = previous.as_ref().map_or(1, |s| s.last_seq + 1);
    if head_seq < first_seq {
        return Ok(None);
    }
    let mut seal = Seal {
        segment: previous.as_ref().map_or(1, |s| s.segment + 1),
        first_seq,
        last_seq: head_seq,
        last_hash: head_hash.to_owned(),
        sealed_at: now,
        prev_seal: previous.map_or_else(|| GENESIS.to_owned(), |s| s.hash),
        hash: String::new(),
        archived: false,
    };
    seal.hash = seal_hash(&seal)?;
    system.put(
        SEALS,
        &seal.segment.to_be_bytes(),
        &serde_json::to_vec(&seal)?,
    )?;
    Ok(Some(seal))
}

/// Called by `append`: the open segment rotates at every [`SEGMENT_ENTRIES`]th entry, so
/// no segment holds more, whatever was sealed on demand in between.
pub(super) fn rotate_if_full(
    system: &System<'_>,
    head_seq: u64,
    head_hash: &str,
    now: i64,
) -> Result<(), AuditError> {
    if head_seq.is_multiple_of(SEGMENT_ENTRIES) {
        seal_through(system, head_seq, head_hash, now)?;
    }
    Ok(())
}

/// Seals the open segment now (the retention job does, so a quiet appliance still gets
/// archivable segments). Returns the new seal, or `None` when nothing is unsealed.
pub fn seal_now(store: &Store, now: i64) -> Result<Option<Seal>, AuditError> {
    let txn = store.write()?;
    let system = txn.system(&SystemGrant::internal())?;
    let Some(head) = super::read_head(&system)? else {
        return Ok(None);
    };
    let seal = seal_through(&system, head.seq, &head.hash, now)?;
    drop(system);
    txn.commit()?;
    Ok(seal)
}

/// What verification starts from and checks along the way.
pub(super) struct Anchor {
    /// Where the retained entries start, and the hash the first must link to.
    pub first_seq: u64,
    pub prev: String,
    /// Seals of retained segments: the entry at `last_seq` must have `last_hash`.
    pub checkpoints: Vec<(u64, String)>,
}

/// Checks the chain of seals and returns where the retained entries start.
pub(super) fn anchor(system: &impl SystemGet) -> Result<Result<Anchor, BrokenLink>, AuditError> {
    let mut anchor = Anchor {
        first_seq: 1,
        prev: GENESIS.to_owned(),
        checkpoints: Vec::new(),
    };
    let mut prev_seal = GENESIS.to_owned();
    let mut next_first = 1;
    let mut archiving = true;
    for seal in all(system)? {
        let broken = |reason: String| {
            Ok(Err(BrokenLink {
                seq: seal.first_seq,
                reason,
            }))
        };
        if seal.first_seq != next_first || seal.last_seq < seal.first_seq {
            return broken(format!(
                "the seal of segment {} does not follow the one before it",
                seal.segment
            ));
        }
        if seal.prev_seal != prev_seal || seal_hash(&seal)? != seal.hash {
            return broken(format!(
                "the seal of segment {} was altered or replaced",
                seal.segment
            ));
        }
        if seal.archived && !archiving {
            return broken(format!(
                "segment {} is marked archived after a segment still kept",
                seal.segment
            ));
        }
        archiving = seal.archived;
        if seal.archived {
            anchor.first_seq = seal.last_seq + 1;
            anchor.prev = seal.last_hash.clone();
        } else {
            anchor
                .checkpoints
                .push((seal.last_seq, seal.last_hash.clone()));
        }
        prev_seal = seal.hash.clone();
        next_first = seal.last_seq + 1;
    }
    Ok(Ok(anchor))
}

/// Writes every sealed, not yet archived segment to `dir` as
/// `audit-segment-NNNNNN.jsonl` (its entries, one per line, then `{"seal": …}`), fsynced,
/// then removes those entries from the store in one transaction, which records
/// `audit.archive`. Refused while the chain fails its check: archiving would move the
/// broken entries out of the store, after which the store's check would pass again.
/// Returns the files written.
pub fn archive(store: &Store, dir: &Path) -> Result<Vec<PathBuf>, AuditError> {
    let io = |err: std::io::Error| AuditError::Archive(format!("{}: {err}", dir.display()));
    if let Some(broken) = super::verify(store)?.broken {
        return Err(AuditError::Archive(format!(
            "the audit log fails its check at entry {} ({}); nothing was archived, so it stays \
             in the store as it is (see `rampart audit verify`)",
            broken.seq, broken.reason
        )));
    }
    let (pending, entries) = {
        let read = store.read()?;
        let system = read.system(&SystemGrant::internal())?;
        let pending: Vec<Seal> = all(&system)?.into_iter().filter(|s| !s.archived).collect();
        (pending, super::entries(store)?)
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut written = Vec::new();
    for seal in &pending {
        let path = dir.join(format!("audit-segment-{:06}.jsonl", seal.segment));
        let partial = path.with_extension("jsonl.partial");
        let mut file = std::os::unix::fs::OpenOptionsExt::mode(
            std::fs::File::options()
                .write(true)
                .create(true)
                .truncate(true),
            0o600,
        )
        .open(&partial)
        .map_err(io)?;
        for entry in entries
            .iter()
            .filter(|e| e.seq >= seal.first_seq && e.seq <= seal.last_seq)
        {
            writeln!(file, "{}", serde_json::to_string(entry)?).map_err(io)?;
        }
        writeln!(file, "{}", serde_json::json!({ "seal": seal })).map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&partial, &path).map_err(io)?;
        written.push(path);
    }
    if let Ok(handle) = std::fs::File::open(dir) {
        // The renames are durable only once the directory is.
        handle.sync_all().map_err(io)?;
    }
    let txn = store.write()?;
    let system = txn.system(&SystemGrant::internal())?;
    let segments = match (pending.first(), pending.last()) {
        (Some(first), Some(last)) => Some(format!("segments {}-{}", first.segment, last.segment)),
        _ => None,
    };
    for seal in pending {
        for seq in seal.first_seq..=seal.last_seq {
            system.delete(super::ENTRIES, &seq.to_be_bytes())?;
        }
        let archived = Seal {
            archived: true,
            ..seal
        };
        system.put(
            SEALS,
            &archived.segment.to_be_bytes(),
            &serde_json::to_vec(&archived)?,
        )?;
    }
    drop(system);
    if let Some(segments) = segments {
        let event = super::Event::new(
            super::Actor::Operator,
            "audit.archive",
            super::Outcome::Success,
        )
        .target(segments);
        super::append(&txn, event, crate::dates::now())?;
    }
    txn.commit()?;
    Ok(written)
}

/// Checks an archived segment file against the store's seal for it: every entry links to
/// the one before, starting from the previous segment's last hash, and the last one is the
/// hash the seal names.
pub fn verify_archive(store: &Store, file: &Path) -> Result<Verification, AuditError> {
    let text = std::fs::read_to_string(file)
        .map_err(|err| AuditError::Archive(format!("{}: {err}", file.display())))?;
    let read = store.read()?;
    let seals = all(&read.system(&SystemGrant::internal())?)?;
    let mut lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let broken = |seq: u64, reason: &str, count: u64| Verification {
        entries: count,
        head: String::new(),
        broken: Some(BrokenLink {
            seq,
            reason: reason.to_owned(),
        }),
    };
    #[derive(Deserialize)]
    struct SealLine {
        seal: Seal,
    }
    let Some(Ok(SealLine { seal: claimed })) = lines.pop().map(serde_json::from_str::<SealLine>)
    else {
        return Ok(broken(0, "the file does not end with its seal", 0));
    };
    let Some(stored) = seals.iter().find(|s| s.segment == claimed.segment) else {
        return Ok(broken(
            claimed.first_seq,
            "the store has no seal for this segment",
            0,
        ));
    };
    // The store marks the seal archived after the file is written; the rest must match.
    let as_stored = Seal {
        archived: stored.archived,
        ..claimed.clone()
    };
    if *stored != as_stored {
        return Ok(broken(
            claimed.first_seq,
            "the file's seal differs from the store's",
            0,
        ));
    }
    let mut prev = seals
        .iter()
        .find(|s| s.segment + 1 == stored.segment)
        .map_or_else(|| GENESIS.to_owned(), |s| s.last_hash.clone());
    let mut expected = stored.first_seq;
    for line in lines {
        let count = expected - stored.first_seq;
        let Ok(entry) = serde_json::from_str::<Entry>(line) else {
            return Ok(broken(expected, "entry is not readable", count));
        };
        if let Some(reason) = link_fault(&entry, expected, &prev)? {
            return Ok(broken(expected, &reason, count));
        }
        prev = entry.hash;
        expected += 1;
    }
    let count = expected - stored.first_seq;
    if expected != stored.last_seq + 1 || prev != stored.last_hash {
        return Ok(broken(
            expected,
            "the file ends before the seal's last entry (entries were removed)",
            count,
        ));
    }
    Ok(Verification {
        entries: count,
        head: prev,
        broken: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Actor, Event, Outcome, append, entry_hash, verify};

    use crate::audit::tests::store;

    fn log_events(store: &Store, n: usize) {
        let txn = store.write().unwrap();
        for i in 0..n {
            let event = Event::new(Actor::Operator, "test.event", Outcome::Success).target(i);
            append(&txn, event, 1_700_000_000 + i as i64).unwrap();
        }
        txn.commit().unwrap();
    }

    #[test]
    fn a_full_segment_rotates_by_itself() {
        let (_dir, store) = store();
        log_events(&store, SEGMENT_ENTRIES as usize + 3);
        let seals = all(&store
            .read()
            .unwrap()
            .system(&SystemGrant::internal())
            .unwrap())
        .unwrap();
        assert_eq!(seals.len(), 1);
        assert_eq!(
            (seals[0].first_seq, seals[0].last_seq),
            (1, SEGMENT_ENTRIES)
        );
        assert!(verify(&store).unwrap().broken.is_none());
    }

    #[test]
    fn archived_segments_leave_a_log_that_verifies_and_files_that_verify_alone() {
        let (dir, store) = store();
        log_events(&store, 25);
        assert_eq!(seal_now(&store, 1).unwrap().unwrap().last_seq, 25);
        assert!(
            seal_now(&store, 2).unwrap().is_none(),
            "nothing new to seal"
        );
        log_events(&store, 5);
        seal_now(&store, 3).unwrap();
        log_events(&store, 3);

        let archive_dir = dir.path().join("archive");
        let files = archive(&store, &archive_dir).unwrap();
        assert_eq!(files.len(), 2);
        // The 3 unsealed entries stay, and the archive's own record follows them.
        let kept = super::super::entries(&store).unwrap();
        assert_eq!(kept.len(), 4, "archived entries left the store");
        assert_eq!(kept[3].event.action, "audit.archive");
        let report = verify(&store).unwrap();
        assert!(report.broken.is_none(), "{report:?}");
        assert_eq!(report.entries, 4);
        assert_eq!(verify_archive(&store, &files[0]).unwrap().entries, 25);
        assert_eq!(verify_archive(&store, &files[1]).unwrap().entries, 5);
        assert!(
            archive(&store, &archive_dir).unwrap().is_empty(),
            "archived once"
        );

        // An edited archive no longer verifies.
        let text = std::fs::read_to_string(&files[0]).unwrap();
        std::fs::write(
            &files[0],
            text.replacen("\"target\":\"3\"", "\"target\":\"9\"", 1),
        )
        .unwrap();
        let report = verify_archive(&store, &files[0]).unwrap();
        assert_eq!(report.broken.unwrap().seq, 4);
        // Nor does one cut short.
        let lines: Vec<&str> = text.lines().collect();
        let cut = [&lines[..10], &lines[lines.len() - 1..]]
            .concat()
            .join("\n");
        std::fs::write(&files[0], cut).unwrap();
        assert!(verify_archive(&store, &files[0]).unwrap().broken.is_some());
    }

    /// An insider rewriting every entry from some point on, hashes and head included, is
    /// invisible to the chain alone; the seal taken when the segment closed still names
    /// the original last hash.
    #[test]
    fn a_rewritten_tail_inside_a_sealed_segment_is_caught() {
        let (_dir, store) = store();
        log_events(&store, 10);
        seal_now(&store, 1).unwrap();
        log_events(&store, 2);
        let txn = store.write().unwrap();
        let system = txn.system(&SystemGrant::internal()).unwrap();
        let mut prev = String::new();
        for (key, bytes) in system.list(super::super::ENTRIES).unwrap() {
            let mut entry: Entry = serde_json::from_slice(&bytes).unwrap();
            if entry.seq >= 6 {
                if entry.seq == 6 {
                    entry.event.target = Some("rewritten".into());
                }
                entry.prev = prev.clone();
                entry.hash = entry_hash(entry.seq, entry.time, &entry.event, &entry.prev).unwrap();
                system
                    .put(
                        super::super::ENTRIES,
                        &key,
                        &serde_json::to_vec(&entry).unwrap(),
                    )
                    .unwrap();
            }
            prev = entry.hash.clone();
            if entry.seq == 12 {
                let head = super::super::Head {
                    seq: 12,
                    hash: entry.hash.clone(),
                };
                system
                    .put(
                        super::super::HEAD,
                        super::super::HEAD_KEY,
                        &serde_json::to_vec(&head).unwrap(),
                    )
                    .unwrap();
            }
        }
        drop(system);
        txn.commit().unwrap();
        let broken = verify(&store).unwrap().broken.unwrap();
        assert_eq!(broken.seq, 10, "{broken:?}");
    }

    #[test]
    fn a_chain_that_fails_its_check_is_not_archived_and_an_archive_is_recorded() {
        let (dir, store) = store();
        log_events(&store, 5);
        seal_now(&store, 1).unwrap();
        let txn = store.write().unwrap();
        let system = txn.system(&SystemGrant::internal()).unwrap();
        let (key, bytes) = system.list(super::super::ENTRIES).unwrap().remove(1);
        let mut entry: Entry = serde_json::from_slice(&bytes).unwrap();
        entry.event.outcome = Outcome::Failure;
        system
            .put(
                super::super::ENTRIES,
                &key,
                &serde_json::to_vec(&entry).unwrap(),
            )
            .unwrap();
        drop(system);
        txn.commit().unwrap();

        let refused = archive(&store, &dir.path().join("archive")).unwrap_err();
        assert!(refused.to_string().contains("entry 2"), "{refused}");
        assert_eq!(super::super::entries(&store).unwrap().len(), 5, "all kept");
        assert!(verify(&store).unwrap().broken.is_some(), "still seen");

        // An intact log archives, and says so in what stays.
        let (dir, store) = crate::audit::tests::store();
        log_events(&store, 5);
        seal_now(&store, 1).unwrap();
        let written = archive(&store, &dir.path().join("archive")).unwrap();
        assert_eq!(written.len(), 1);
        let kept = super::super::entries(&store).unwrap();
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert_eq!(kept[0].event.action, "audit.archive");
        assert_eq!(kept[0].event.target.as_deref(), Some("segments 1-1"));
        assert!(verify(&store).unwrap().broken.is_none());
    }

    #[test]
    fn an_altered_seal_is_caught() {
        let (_dir, store) = store();
        log_events(&store, 4);
        let mut seal = seal_now(&store, 1).unwrap().unwrap();
        seal.last_seq = 3;
        let txn = store.write().unwrap();
        txn.system(&SystemGrant::internal())
            .unwrap()
            .put(
                SEALS,
                &seal.segment.to_be_bytes(),
                &serde_json::to_vec(&seal).unwrap(),
            )
            .unwrap();
        txn.commit().unwrap();
        assert!(verify(&store).unwrap().broken.is_some());
    }
}
