//! Retention: what is kept only for a while goes when its time is up.

use super::JobError;
use crate::access::ApplianceOperator;
use crate::evidence::Vault;
use crate::store::Store;

/// Purges the evidence bin (files deleted more than 30 days ago, blobs and keys) and blobs
/// no record names, share links, sessions, one-time links and invitations past their
/// keeping time, and seals the open audit segment so a quiet appliance still gets
/// archivable segments. Each step runs whatever another's outcome: one that fails is named
/// in the job's error, after what the others did.
pub(super) fn run(store: &Store, vault: &Vault, now: i64) -> Result<String, JobError> {
    let operator = ApplianceOperator::scheduler();
    let mut done = Vec::new();
    let mut failed = Vec::new();
    let mut step = |what: &str, outcome: Result<String, JobError>| match outcome {
        Ok(summary) => done.push(summary),
        Err(err) => failed.push(format!("{what}: {err}")),
    };
    step(
        "evidence bin",
        crate::evidence::purge_expired(store, vault, &operator, now)
            .map(|files| format!("purged {files} evidence file(s) from the bin"))
            .map_err(JobError::from),
    );
    step(
        "evidence blobs",
        crate::evidence::sweep_orphans(store, vault, &operator)
            .map(|blobs| format!("{blobs} blob(s) no record named"))
            .map_err(JobError::from),
    );
    step(
        "share links",
        crate::evidence::links::purge_expired(store, &operator, now)
            .map(|links| format!("{links} share link(s)"))
            .map_err(JobError::from),
    );
    step(
        "sessions and links",
        crate::auth::purge_expired(store, now)
            .map(|auth| {
                format!(
                    "{} session(s), {} sign-in link(s), {} invitation(s)",
                    auth.sessions, auth.links, auth.invitations
                )
            })
            .map_err(JobError::from),
    );
    step(
        "outbox",
        crate::mail::outbox::purge_finished(store, now)
            .map(|mail| format!("{mail} delivered or failed message(s)"))
            .map_err(JobError::from),
    );
    let mut summary = done.join(", ");
    match crate::audit::seal::seal_now(store, now) {
        Ok(Some(seal)) => summary.push_str(&format!(
            "; sealed the audit log through entry {}",
            seal.last_seq
        )),
        Ok(None) => summary.push_str("; no audit entries to seal"),
        Err(err) => failed.push(format!("audit seal: {err}")),
    }
    if failed.is_empty() {
        Ok(summary)
    } else {
        Err(JobError::Failed(format!(
            "{summary}; failed: {}",
            failed.join("; ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{Requester, Role, SystemGrant};
    use crate::evidence::{Author, Metadata, Upload};

    const DAY: i64 = 86_400;

    fn blobs(dir: &std::path::Path, org: crate::store::OrgId) -> usize {
        std::fs::read_dir(dir.join("evidence").join(org.to_string()))
            .map(|d| {
                d.filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .path()
                        .extension()
                        .is_some_and(|x| x == "blob")
                })
                .count()
            })
            .unwrap_or(0)
    }

    /// A store with one organization and its owner, and the vault beside it.
    fn one_organization() -> (tempfile::TempDir, Store, Vault, crate::store::OrgId, Author) {
        let (dir, store) = crate::audit::tests::store();
        let vault = Vault::new(dir.path(), 1 << 20, 1 << 30);
        vault.prepare().unwrap();
        let grant = crate::access::new_organization();
        let org = grant.org();
        let account = crate::auth::AccountId(uuid::Uuid::new_v4());
        let txn = store.write().unwrap();
        crate::org::create_in(&txn, &grant, "Acme Defense", 0).unwrap();
        let system = txn.system(&SystemGrant::internal()).unwrap();
        crate::access::set_role(&system, account, org, Role::Owner).unwrap();
        drop(system);
        txn.commit().unwrap();
        let author = Author {
            requester: Requester {
                account,
                appliance_admin: false,
                token: None,
            },
            client: crate::auth::Client::default(),
        };
        (dir, store, vault, org, author)
    }

    fn upload(
        store: &Store,
        vault: &Vault,
        author: &Author,
        org: crate::store::OrgId,
        now: i64,
    ) -> crate::evidence::Evidence {
        let meta = Metadata {
            title: "Access review".into(),
            ..Metadata::default()
        };
        let plan = crate::evidence::plan(store, vault, author.requester, org, None, &meta).unwrap();
        let mut upload = Upload::start(vault, plan, "review.txt", None).unwrap();
        upload.feed(b"account,role\nada,owner\n").unwrap();
        upload
            .finish(vault, author, now)
            .unwrap()
            .record(store, vault, author, None, meta, now)
            .unwrap()
    }

    #[test]
    fn the_evidence_bin_is_purged_after_30_days_and_no_sooner() {
        let (dir, store, vault, org, author) = one_organization();
        let deleted_at = 1_800_000_000;
        let evidence = upload(&store, &vault, &author, org, deleted_at - DAY);
        crate::evidence::set_deleted(&store, &author, org, &evidence.id, true, deleted_at).unwrap();
        assert_eq!(blobs(dir.path(), org), 1);

        // Day 30 in the bin: still restorable.
        let summary = run(&store, &vault, deleted_at + 30 * DAY).unwrap();
        assert!(
            summary.starts_with("purged 0 evidence file(s)"),
            "{summary}"
        );
        assert_eq!(blobs(dir.path(), org), 1);

        // Past 30 days: the record (with the blob's key) and the blob go.
        let summary = run(&store, &vault, deleted_at + 30 * DAY + 1).unwrap();
        assert!(
            summary.starts_with("purged 1 evidence file(s)"),
            "{summary}"
        );
        assert_eq!(blobs(dir.path(), org), 0);
        let gone = crate::evidence::set_deleted(
            &store,
            &author,
            org,
            &evidence.id,
            false,
            deleted_at + 31 * DAY,
        );
        assert!(
            matches!(gone, Err(crate::evidence::EvidenceError::NotFound)),
            "{gone:?}"
        );
        let summary = run(&store, &vault, deleted_at + 32 * DAY).unwrap();
        assert!(
            summary.starts_with("purged 0 evidence file(s)"),
            "{summary}"
        );
    }

    #[test]
    fn blobs_no_record_names_are_swept_once_they_are_an_hour_old() {
        let (dir, store, vault, org, author) = one_organization();
        upload(&store, &vault, &author, org, 1_800_000_000);
        let org_dir = dir.path().join("evidence").join(org.to_string());
        let stray = |age: std::time::Duration| {
            let path = org_dir.join(format!("{}.blob", uuid::Uuid::new_v4()));
            let file = std::fs::File::create(&path).unwrap();
            file.set_modified(std::time::SystemTime::now() - age)
                .unwrap();
            path
        };
        let left_by_a_purge = stray(std::time::Duration::from_secs(2 * 3600));
        let being_recorded = stray(std::time::Duration::ZERO);
        let not_a_blob = org_dir.join("notes.txt");
        std::fs::write(&not_a_blob, b"kept").unwrap();
        assert_eq!(blobs(dir.path(), org), 3);

        let summary = run(&store, &vault, 1_800_000_000).unwrap();
        assert!(summary.contains("1 blob(s) no record named"), "{summary}");
        assert!(!left_by_a_purge.exists());
        assert!(being_recorded.exists(), "a blob under an hour old is left");
        assert!(not_a_blob.exists());
        // The recorded file's blob is untouched, and still reads.
        assert_eq!(blobs(dir.path(), org), 2);
        let report =
            crate::evidence::verify_all(&store, &vault, &ApplianceOperator::scheduler()).unwrap();
        assert_eq!(report.checked, 1, "{report:?}");
        assert!(report.problems.is_empty(), "{report:?}");
    }
}
