//! The durable outbox. A message is written here in the same transaction as the event that
//! causes it; a worker delivers due messages, retrying with exponential backoff for up to
//! 24 hours. A message keeps its id (and so its Message-ID) across retries and restarts.
//! A failure no retry can mend (the server refuses it for good, or the message cannot even
//! be built for the transport) fails it at once.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::{MailError, Mailer, Outgoing};
use crate::access::{Requester, SystemGrant};
use crate::audit::{self, Actor, Event, Outcome};
use crate::store::{Store, SystemTable, WriteTxn};

const OUTBOX: SystemTable = SystemTable::new("s.outbox");
/// How long a message is retried before it is given up.
pub const GIVE_UP_AFTER_SECS: i64 = 24 * 60 * 60;
/// The first retry waits this long; each later one twice as long, up to an hour.
const FIRST_RETRY_SECS: i64 = 5;
const MAX_RETRY_SECS: i64 = 60 * 60;
/// Messages in flight at once. Each SMTP exchange spends most of its time waiting on the
/// server (and on a delayed ACK: lettre writes the end-of-data marker apart from the
/// message and cannot set TCP_NODELAY), so a few connections at once multiply throughput;
/// few enough that a small relay is not flooded.
const PARALLEL_DELIVERIES: usize = 4;
/// Messages read from the store at a time.
const BATCH: usize = 256;
/// How often the worker looks for due messages when nothing wakes it.
const POLL: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Pending,
    Sent,
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Queued {
    pub message: Outgoing,
    pub state: State,
    pub created_at: i64,
    pub attempts: u32,
    pub next_attempt_at: i64,
    /// The server's last answer (or the failure), for the administrator.
    pub last_answer: Option<String>,
}

/// What the administrator sees of a message: never its content.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QueuedView {
    #[schema(value_type = String)]
    pub id: uuid::Uuid,
    pub kind: String,
    pub to: String,
    pub state: State,
    pub created_at: i64,
    pub attempts: u32,
    pub last_answer: Option<String>,
}

impl From<&Queued> for QueuedView {
    fn from(queued: &Queued) -> Self {
        QueuedView {
            id: queued.message.id,
            kind: queued.message.kind.clone(),
            to: queued.message.to.clone(),
            state: queued.state,
            created_at: queued.created_at,
            attempts: queued.attempts,
            last_answer: queued.last_answer.clone(),
        }
    }
}

/// Queues `message` inside `txn`: it is sent only if `txn` commits.
pub fn enqueue(txn: &WriteTxn<'_>, message: Outgoing, now: i64) -> Result<(), MailError> {
    let system = txn.system(&SystemGrant::internal())?;
    let queued = Queued {
        message,
        state: State::Pending,
        created_at: now,
        attempts: 0,
        next_attempt_at: now,
        last_answer: None,
    };
    system.put(
        OUTBOX,
        queued.message.id.as_bytes(),
        &serde_json::to_vec(&queued)?,
    )?;
    Ok(())
}

/// Every message in the outbox, oldest first.
pub fn list(store: &Store) -> Result<Vec<QueuedView>, MailError> {
    let read = store.read()?;
    let system = read.system(&SystemGrant::internal())?;
    let mut all = Vec::new();
    // Views only: a long queue's contents are never all in memory at once.
    system.for_each(OUTBOX, |_, bytes| {
        let queued: Queued = serde_json::from_slice(&bytes)?;
        all.push(QueuedView::from(&queued));
        Ok::<(), MailError>(())
    })?;
    all.sort_by_key(|q| q.created_at);
    Ok(all)
}

/// The oldest `limit` messages due at `now`. Only their keys are kept while scanning, so a
/// long queue (a mail server down for hours) costs memory for one batch, not all of it.
fn due(store: &Store, now: i64, limit: usize) -> Result<Vec<Queued>, MailError> {
    let read = store.read()?;
    let system = read.system(&SystemGrant::internal())?;
    let mut found = Vec::new();
    system.for_each(OUTBOX, |key, bytes| {
        let queued: Queued = serde_json::from_slice(&bytes)?;
        if queued.state == State::Pending && queued.next_attempt_at <= now {
            found.push((queued.created_at, key.to_vec()));
        }
        Ok::<(), MailError>(())
    })?;
    found.sort();
    found.truncate(limit);
    let mut batch = Vec::with_capacity(found.len());
    for (_, key) in found {
        if let Some(bytes) = system.get(OUTBOX, &key)? {
            batch.push(serde_json::from_slice(&bytes)?);
        }
    }
    Ok(batch)
}

fn record(store: &Store, queued: &Queued) -> Result<(), MailError> {
    let txn = store.write()?;
    txn.system(&SystemGrant::internal())?.put(
        OUTBOX,
        queued.message.id.as_bytes(),
        &serde_json::to_vec(queued)?,
    )?;
    txn.commit()?;
    Ok(())
}

/// When the next attempt is due after `attempts` failures.
fn backoff(attempts: u32) -> i64 {
    let doublings = attempts.saturating_sub(1).min(20);
    (FIRST_RETRY_SECS << doublings).min(MAX_RETRY_SECS)
}

/// Delivers every due message once; returns how many were sent.
pub async fn deliver_due(
    store: &Arc<Store>,
    mailer: &Mailer,
    now: i64,
) -> Result<usize, MailError> {
    let mut sent = 0;
    loop {
        let batch = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || due(&store, now, BATCH))
                .await
                .map_err(|err| MailError::Delivery(err.to_string()))??
        };
        let full = batch.len() == BATCH;
        // Each message leaves the due set (sent, failed, or due again only after `now`),
        // so the next batch holds others.
        let outcomes: Vec<Result<bool, MailError>> = futures_util::stream::iter(batch)
            .map(|queued| deliver_one(store, mailer, queued, now))
            .buffer_unordered(PARALLEL_DELIVERIES)
            .collect()
            .await;
        for outcome in outcomes {
            sent += usize::from(outcome?);
        }
        if !full {
            return Ok(sent);
        }
    }
}

/// Tries one message and records the outcome; true when it was sent.
async fn deliver_one(
    store: &Arc<Store>,
    mailer: &Mailer,
    mut queued: Queued,
    now: i64,
) -> Result<bool, MailError> {
    let outcome = mailer.send(&queued.message).await;
    crate::metrics::record_delivery(outcome.is_ok());
    queued.attempts += 1;
    let sent = match outcome {
        Ok(answer) => {
            queued.state = State::Sent;
            queued.last_answer = Some(answer);
            true
        }
        Err(err) => {
            // The kind of message and the failure; never the recipient's content.
            tracing::warn!(id = %queued.message.id, kind = %queued.message.kind, attempts = queued.attempts, error = %err, "mail not delivered");
            queued.last_answer = Some(err.to_string());
            if err.is_permanent() || now - queued.created_at >= GIVE_UP_AFTER_SECS {
                queued.state = State::Failed;
            } else {
                queued.next_attempt_at = now + backoff(queued.attempts);
            }
            false
        }
    };
    let store = store.clone();
    tokio::task::spawn_blocking(move || record(&store, &queued))
        .await
        .map_err(|err| MailError::Delivery(err.to_string()))??;
    Ok(sent)
}

/// Deletes every message addressed to `email` (an erased person's), whatever its state.
pub fn forget_recipient(
    system: &crate::store::System<'_>,
    email: &str,
) -> Result<usize, MailError> {
    let mut forgotten = 0;
    for (row, bytes) in system.list(OUTBOX)? {
        let queued: Queued = serde_json::from_slice(&bytes)?;
        if queued.message.to.eq_ignore_ascii_case(email) {
            system.delete(OUTBOX, &row)?;
            forgotten += 1;
        }
    }
    Ok(forgotten)
}

/// [`list`] for the appliance administrator.
pub fn list_for(store: &Store, requester: Requester) -> Result<Vec<QueuedView>, MailError> {
    crate::access::authorize_appliance(requester)?;
    list(store)
}

/// [`retry`] for the appliance administrator, audited as theirs.
pub fn retry_for(
    store: &Store,
    requester: Requester,
    id: uuid::Uuid,
    client: &crate::auth::Client,
    now: i64,
) -> Result<(), MailError> {
    crate::access::authorize_appliance(requester)?;
    let actor = Actor::Account(requester.account.to_string());
    if !retry(store, id, actor, client, now)? {
        return Err(MailError::NotFailed(id));
    }
    Ok(())
}

/// Sent messages are kept this long (so the administrator sees what went), failed ones
/// this long after they failed, then [`purge_finished`] removes them with their content.
const KEEP_SENT_SECS: i64 = 7 * 24 * 60 * 60;
const KEEP_FAILED_SECS: i64 = 30 * 24 * 60 * 60;

/// Removes sent and failed messages past their keeping time; returns how many.
pub fn purge_finished(store: &Store, now: i64) -> Result<usize, MailError> {
    let txn = store.write()?;
    let system = txn.system(&SystemGrant::internal())?;
    let mut purged = 0;
    for (key, bytes) in system.list(OUTBOX)? {
        let queued: Queued = serde_json::from_slice(&bytes)?;
        let keep = match queued.state {
            State::Pending => continue,
            State::Sent => KEEP_SENT_SECS,
            State::Failed => KEEP_FAILED_SECS,
        };
        if queued.next_attempt_at.max(queued.created_at) + keep <= now {
            system.delete(OUTBOX, &key)?;
            purged += 1;
        }
    }
    drop(system);
    txn.commit()?;
    Ok(purged)
}

/// Puts a message that finally failed back in the queue, due now, audited as `mail.retry`
/// by `actor` in the same transaction. False when no failed message has `id`.
pub fn retry(
    store: &Store,
    id: uuid::Uuid,
    actor: Actor,
    client: &crate::auth::Client,
    now: i64,
) -> Result<bool, MailError> {
    let txn = store.write()?;
    let system = txn.system(&SystemGrant::internal())?;
    let Some(bytes) = system.get(OUTBOX, id.as_bytes())? else {
        return Ok(false);
    };
    let mut queued: Queued = serde_json::from_slice(&bytes)?;
    if queued.state != State::Failed {
        return Ok(false);
    }
    queued.state = State::Pending;
    queued.created_at = now;
    queued.next_attempt_at = now;
    system.put(OUTBOX, id.as_bytes(), &serde_json::to_vec(&queued)?)?;
    drop(system);
    let event = Event::new(actor, "mail.retry", Outcome::Success).target(id);
    audit::append(&txn, client.stamp(event), now)?;
    txn.commit()?;
    Ok(true)
}

/// Runs the delivery worker until the process ends.
pub async fn run(store: Arc<Store>, mailer: Mailer) {
    if !mailer.enabled() {
        return;
    }
    let mut every = tokio::time::interval(POLL);
    loop {
        every.tick().await;
        let now = crate::dates::now();
        if let Err(err) = deliver_due(&store, &mailer, now).await {
            tracing::error!(error = %err, "outbox delivery failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_failed_message_can_be_retried_and_it_comes_back_due() {
        let (_dir, store) = crate::audit::tests::store();
        let message = crate::mail::test_message("ada@example.com");
        let id = message.id;
        let txn = store.write().unwrap();
        enqueue(&txn, message, 100).unwrap();
        txn.commit().unwrap();
        assert!(
            !retry(&store, id, Actor::Operator, &Default::default(), 200).unwrap(),
            "pending is not failed"
        );
        assert_eq!(due(&store, 100, BATCH).unwrap().len(), 1);

        let mut failed = due(&store, 100, BATCH).unwrap().remove(0);
        failed.state = State::Failed;
        failed.last_answer = Some("550 no such user".into());
        record(&store, &failed).unwrap();
        assert!(
            due(&store, 10_000, BATCH).unwrap().is_empty(),
            "failed is not retried by itself"
        );
        let listed = list(&store).unwrap();
        assert_eq!(listed[0].state, State::Failed);
        assert_eq!(listed[0].last_answer.as_deref(), Some("550 no such user"));

        assert!(retry(&store, id, Actor::Operator, &Default::default(), 20_000).unwrap());
        assert_eq!(due(&store, 20_000, BATCH).unwrap().len(), 1);
        assert!(
            !retry(
                &store,
                uuid::Uuid::new_v4(),
                Actor::Operator,
                &Default::default(),
                20_000
            )
            .unwrap()
        );
    }

    /// A mailer for an SMTP server on `port`, plain, as a relay on a trusted network.
    fn mailer(port: u16) -> Mailer {
        let env = [
            ("RAMPART_MAIL_TRANSPORT", "smtp".to_owned()),
            (
                "RAMPART_MAIL_FROM",
                "Rampart <rampart@example.com>".to_owned(),
            ),
            ("RAMPART_SMTP_HOST", "127.0.0.1".to_owned()),
            ("RAMPART_SMTP_PORT", port.to_string()),
            ("RAMPART_SMTP_SECURITY", "none".to_owned()),
            ("RAMPART_SMTP_ALLOW_PLAIN", "true".to_owned()),
        ];
        let (config, _) =
            crate::config::Config::load(None, env.into_iter().map(|(k, v)| (k.to_owned(), v)))
                .unwrap();
        Mailer::from_config(&config).unwrap()
    }

    /// An address the transport refuses to parse (queued before addresses were checked as
    /// they are now) can never be sent: it fails at the first attempt, like a recipient the
    /// server refuses for good, and is not retried for 24 hours. Nothing listens on the
    /// port: the message never gets as far as a connection.
    #[test]
    fn a_message_that_cannot_be_built_fails_at_once() {
        let (_dir, store) = crate::audit::tests::store();
        let store = Arc::new(store);
        let unsendable = crate::mail::test_message("v6@[127.0.0.1]");
        let sendable = crate::mail::test_message("ada@example.com");
        let txn = store.write().unwrap();
        enqueue(&txn, unsendable.clone(), 100).unwrap();
        enqueue(&txn, sendable.clone(), 100).unwrap();
        txn.commit().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let sent = runtime
            .block_on(deliver_due(&store, &mailer(port), 100))
            .unwrap();
        assert_eq!(sent, 0);
        let listed = list(&store).unwrap();
        let state = |id: uuid::Uuid| listed.iter().find(|q| q.id == id).unwrap().clone();
        let failed = state(unsendable.id);
        assert_eq!(failed.state, State::Failed, "{failed:?}");
        assert_eq!(failed.attempts, 1);
        let answer = failed.last_answer.unwrap();
        assert!(answer.contains("cannot be used"), "{answer}");
        assert!(
            !answer.contains("127.0.0.1"),
            "no address in the answer: {answer}"
        );
        // A connection failure is passing: that one is retried.
        let retried = state(sendable.id);
        assert_eq!(retried.state, State::Pending, "{retried:?}");
        assert!(
            due(&store, 10_000, BATCH)
                .unwrap()
                .iter()
                .all(|q| q.message.id == sendable.id)
        );
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff(1), 5);
        assert_eq!(backoff(2), 10);
        assert_eq!(backoff(5), 80);
        assert_eq!(backoff(40), MAX_RETRY_SECS);
    }

    #[test]
    fn a_batch_is_the_oldest_due_messages() {
        let (_dir, store) = crate::audit::tests::store();
        let txn = store.write().unwrap();
        let mut ids = Vec::new();
        for n in 0..5 {
            let message = crate::mail::test_message(&format!("p{n}@example.com"));
            ids.push(message.id);
            // Queued newest first, at 100, 99, ... 96: the batch must come back oldest first.
            enqueue(&txn, message, 100 - n).unwrap();
        }
        txn.commit().unwrap();
        let batch: Vec<_> = due(&store, 100, 3)
            .unwrap()
            .iter()
            .map(|q| q.message.id)
            .collect();
        assert_eq!(batch, [ids[4], ids[3], ids[2]]);
        assert!(due(&store, 95, 3).unwrap().is_empty(), "none due yet");
    }
}
