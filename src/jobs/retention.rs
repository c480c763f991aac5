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
