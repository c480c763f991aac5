//! Retention: what is kept only for a while goes when its time is up.

use super::JobError;
use crate::access::ApplianceOperator;
use crate::evidence::Vault;
use crate::store::Store;

/// Purges the evidence bin (files deleted more than 30 days ago, blobs and keys), share
/// links, sessions, one-time links and invitations past their keeping time, and seals the
/// open audit segment so a quiet appliance still gets archivable segments.
pub(super) fn run(store: &Store, vault: &Vault, now: i64) -> Result<String, JobError> {
    let operator = ApplianceOperator::scheduler();
    let files = crate::evidence::purge_expired(store, vault, &operator, now)?;
    let share_links = crate::evidence::links::purge_expired(store, &operator, now)?;
    let auth = crate::auth::purge_expired(store, now)?;
    let mail = crate::mail::outbox::purge_finished(store, now)?;
    let sealed = crate::audit::seal::seal_now(store, now)?;
    Ok(format!(
        "purged {files} evidence file(s) from the bin, {share_links} share link(s), {} session(s), \
         {} sign-in link(s), {} invitation(s), {mail} delivered or failed message(s); {}",
        auth.sessions,
        auth.links,
        auth.invitations,
        match sealed {
            Some(seal) => format!("sealed the audit log through entry {}", seal.last_seq),
            None => "no audit entries to seal".to_owned(),
        }
    ))
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

    #[test]
    fn the_evidence_bin_is_purged_after_30_days_and_no_sooner() {
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
        let meta = Metadata {
            title: "Access review".into(),
            ..Metadata::default()
        };
        let deleted_at = 1_800_000_000;
        let plan =
            crate::evidence::plan(&store, &vault, author.requester, org, None, &meta).unwrap();
        let mut upload = Upload::start(&vault, plan, "review.txt", None).unwrap();
        upload.feed(b"account,role\nada,owner\n").unwrap();
        let evidence = upload
            .finish(&vault, &author, deleted_at - DAY)
            .unwrap()
            .record(&store, &vault, &author, None, meta, deleted_at - DAY)
            .unwrap();
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
}
