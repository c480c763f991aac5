//! Scheduled jobs: deadline reminders, the drift check, the weekly digest and retention.
//!
//! Each job has a cron schedule read in the configured time zone. Its ledger row records
//! the time up to which its slots are accounted for, so a job that missed one slot or many
//! (the daemon was down, or the wall clock jumped forward) runs once, not once per slot.
//! Jobs run one at a time, on the blocking pool: they are store work.
//!
//! The schedule arithmetic is croner's, in zones from the system's tzdata
//! ([`crate::zone`]), DST included.
//! tokio-cron-scheduler (which uses croner too) fixes a job's UTC offset when the job is
//! created, so a 07:00 job would run at 06:00 or 08:00 for half the year, and it has no
//! notion of a slot missed while the process was down; a loop of our own is shorter than
//! the workarounds.

mod notices;
mod retention;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::access::{Requester, SystemGrant};
use crate::audit::{self, Actor, Event, Outcome};
use crate::config::{Config, Schedule};
use crate::dates::now;
use crate::evidence::Vault;
use crate::store::{GenerationCache, Store, SystemTable};
use crate::zone::Zone;

const LEDGER: SystemTable = SystemTable::new("s.jobs");
/// The loop looks at the wall clock at least this often: tokio's timers run on the
/// monotonic clock, which does not see the wall clock jump.
const LONGEST_SLEEP: Duration = Duration::from_secs(30);
/// A run this long after its slot is a catch-up, not a scheduled run.
const LATE_SECS: i64 = 60;

/// The jobs there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Job {
    Reminders,
    Drift,
    Digest,
    Retention,
    Backup,
}

impl Job {
    pub const ALL: [Job; 5] = [
        Job::Reminders,
        Job::Drift,
        Job::Digest,
        Job::Retention,
        Job::Backup,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Job::Reminders => "reminders",
            Job::Drift => "drift",
            Job::Digest => "digest",
            Job::Retention => "retention",
            Job::Backup => "backup",
        }
    }

    pub fn parse(name: &str) -> Result<Job, JobError> {
        Job::ALL
            .into_iter()
            .find(|job| job.name() == name)
            .ok_or_else(|| JobError::Unknown(name.to_owned()))
    }

    fn description(self) -> &'static str {
        match self {
            Job::Reminders => {
                "mails reminders 30, 7 and 1 days before milestones, status dates and evidence reviews"
            }
            Job::Drift => "checks every organization for drift and mails what is new",
            Job::Digest => "mails each organization's weekly digest",
            Job::Retention => {
                "purges the evidence bin and expired sessions and links, seals the audit log"
            }
            Job::Backup => "writes an encrypted backup to the backup directory and prunes old ones",
        }
    }

    fn schedule(self, config: &Config) -> &Schedule {
        match self {
            Job::Reminders => &config.jobs_reminders_schedule,
            Job::Drift => &config.jobs_drift_schedule,
            Job::Digest => &config.jobs_digest_schedule,
            Job::Retention => &config.jobs_retention_schedule,
            Job::Backup => &config.jobs_backup_schedule,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    #[error("there is no job {0:?}; the jobs are reminders, drift, digest, retention and backup")]
    Unknown(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    #[error(transparent)]
    Mail(#[from] crate::mail::MailError),
    #[error(transparent)]
    Assess(#[from] crate::assess::AssessError),
    #[error(transparent)]
    Evidence(#[from] crate::evidence::EvidenceError),
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
    #[error(transparent)]
    Access(#[from] crate::access::AccessError),
    #[error(transparent)]
    Org(#[from] crate::org::OrgError),
    #[error(transparent)]
    Backup(#[from] crate::backup::BackupError),
    #[error("job record is unreadable: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("{0}")]
    Failed(String),
    #[error("the job stopped unexpectedly: {0}")]
    Crashed(String),
}

/// Why a job ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Schedule,
    /// Its slot passed while the daemon was down or the clock jumped.
    CatchUp,
    /// `rampart jobs run` or the jobs page.
    Manual,
}

/// How a run went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Run {
    pub started_at: i64,
    pub duration_ms: u64,
    pub trigger: Trigger,
    pub ok: bool,
    /// Counts only (never names or content), or the failure.
    pub summary: String,
}

/// A job's row in the store.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Ledger {
    /// Slots up to this unix time are accounted for: run, or covered by a later run.
    covered: i64,
    runs: u64,
    last: Option<Run>,
    /// Start of the last run that succeeded.
    #[serde(default)]
    last_ok: Option<i64>,
}

/// A job's name, its last run's start and its last success's, unix seconds.
pub type LedgerTimes = (&'static str, Option<i64>, Option<i64>);

/// What the jobs page and `rampart jobs list` show of one job.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobView {
    pub name: String,
    pub description: String,
    /// The cron expression.
    pub schedule: String,
    pub time_zone: String,
    pub runs: u64,
    pub last_run: Option<Run>,
    /// Start of the last run that succeeded, unix seconds.
    pub last_success: Option<i64>,
    /// Unix seconds.
    pub next_run: Option<i64>,
}

/// The first slot of `schedule` strictly after unix time `after`, read in `zone`.
pub fn next_slot(schedule: &Schedule, zone: &Zone, after: i64) -> Option<i64> {
    let after = chrono::DateTime::from_timestamp(after, 0)?.with_timezone(zone);
    schedule
        .cron()
        .find_next_occurrence(&after, false)
        .ok()
        .map(|slot| slot.timestamp())
}

/// The slot a job with slots accounted for up to `covered` owes at `now`, if any. However
/// many slots passed, there is one run to make.
pub fn owed_slot(schedule: &Schedule, zone: &Zone, covered: i64, now: i64) -> Option<i64> {
    next_slot(schedule, zone, covered).filter(|slot| *slot <= now)
}

/// The jobs as configured: run on their schedules by [`Jobs::serve`], and on demand.
#[derive(Debug)]
pub struct Jobs {
    zone: Zone,
    schedules: Vec<(Job, Schedule)>,
    /// One job at a time, scheduled or manual; backups made by hand count as jobs.
    running: tokio::sync::Mutex<()>,
    backups: crate::backup::Settings,
    /// The backup job's ledger as of a store generation: every page an appliance
    /// administrator opens warns from it.
    backup_ledger: GenerationCache<(), Option<Ledger>>,
}

impl Jobs {
    pub fn new(config: &Config) -> Jobs {
        Jobs {
            zone: config.jobs_time_zone.0.clone(),
            schedules: Job::ALL
                .into_iter()
                .map(|job| (job, job.schedule(config).clone()))
                .collect(),
            running: tokio::sync::Mutex::new(()),
            backups: crate::backup::Settings::of(config),
            backup_ledger: GenerationCache::new(1),
        }
    }

    /// Each job's name, last run and last success (unix seconds), for the metrics.
    pub fn ledger_times(store: &Store) -> Result<Vec<LedgerTimes>, JobError> {
        let mut ledgers = ledgers(store)?;
        Ok(Job::ALL
            .iter()
            .map(|job| {
                let ledger = ledgers.remove(job);
                (
                    job.name(),
                    ledger
                        .as_ref()
                        .and_then(|l| l.last.as_ref().map(|r| r.started_at)),
                    ledger.and_then(|l| l.last_ok),
                )
            })
            .collect())
    }

    /// When the last backup that succeeded was made, by schedule or by hand.
    pub fn last_good_backup(store: &Store) -> Result<Option<i64>, JobError> {
        Ok(ledgers(store)?.remove(&Job::Backup).and_then(|l| l.last_ok))
    }

    /// What an appliance administrator must hear about backups, if anything: none
    /// configured, the last run failed, or the last good one is stale.
    pub fn backup_warning(&self, store: &Store, now: i64) -> Result<Option<String>, JobError> {
        let ledger = self.backup_ledger.get_or_read(store, (), || {
            Ok::<_, JobError>(ledgers(store)?.remove(&Job::Backup))
        })?;
        Ok(self.backup_warning_of(ledger.as_ref(), now))
    }

    /// [`Jobs::backup_warning`] from the backup ledger kept since the last commit, without
    /// reading the store: `None` when it would have to be read.
    pub fn kept_backup_warning(&self, store: &Store, now: i64) -> Option<Option<String>> {
        let ledger = self.backup_ledger.get(store, &())?;
        Some(self.backup_warning_of(ledger.as_ref(), now))
    }

    /// What is wrong with backups, from the backup job's ledger.
    fn backup_warning_of(&self, ledger: Option<&Ledger>, now: i64) -> Option<String> {
        if !self.backups.configured() {
            return Some(
                "Backups are not configured: set backup_recipients or backup_passphrase."
                    .to_owned(),
            );
        }
        let last_ok = ledger.and_then(|l| l.last_ok);
        if let Some(run) = ledger.and_then(|l| l.last.as_ref()).filter(|run| !run.ok) {
            return Some(format!(
                "The last backup failed ({}): {}",
                crate::dates::format_utc(run.started_at),
                run.summary
            ));
        }
        match last_ok {
            None => Some("No backup has been made yet.".to_owned()),
            Some(at) if now - at > crate::backup::STALE_SECS => Some(format!(
                "The last good backup is {} days old.",
                (now - at) / 86_400
            )),
            Some(_) => None,
        }
    }

    /// Every job with its last run and next slot.
    pub fn list(&self, store: &Store) -> Result<Vec<JobView>, JobError> {
        let now = now();
        let mut ledgers = ledgers(store)?;
        let mut out = Vec::new();
        for (job, schedule) in &self.schedules {
            let ledger = ledgers.remove(job);
            out.push(JobView {
                name: job.name().to_owned(),
                description: job.description().to_owned(),
                schedule: crate::config::SettingType::show(schedule),
                time_zone: self.zone.name().to_owned(),
                runs: ledger.as_ref().map_or(0, |l| l.runs),
                last_success: ledger.as_ref().and_then(|l| l.last_ok),
                last_run: ledger.and_then(|l| l.last),
                next_run: next_slot(schedule, &self.zone, now),
            });
        }
        Ok(out)
    }

    /// Runs `job` now, after any run in progress, on this (blocking) thread; records and
    /// audits the outcome. A failed run is an `Ok` with `ok: false`: the error is its
    /// summary.
    pub fn run_blocking(
        &self,
        store: &Store,
        vault: &Vault,
        job: Job,
        actor: Actor,
    ) -> Result<Run, JobError> {
        let _one_at_a_time = self.running.blocking_lock();
        self.run_unlocked(store, vault, job, Trigger::Manual, actor)
    }

    /// A backup by hand into `to` (a directory, or a new file), after any job under way;
    /// recorded as a run of the backup job.
    pub fn backup_to(
        &self,
        store: &Store,
        to: &std::path::Path,
        actor: Actor,
    ) -> Result<crate::backup::Report, JobError> {
        let _one_at_a_time = self.running.blocking_lock();
        let mut report = None;
        // The run records the failure in words; the caller gets the error itself, so a
        // target that cannot be written is told from a backup that is not configured.
        let mut failure = None;
        let run = run_with(store, Job::Backup, Trigger::Manual, actor, |now| {
            let made = match crate::backup::create(store, &self.backups, to, now) {
                Ok(made) => made,
                Err(err) => {
                    let summary = err.to_string();
                    failure = Some(err);
                    return Err(JobError::Failed(summary));
                }
            };
            let summary = format!(
                "wrote {} ({} bytes: {} organization(s), {} record(s), {} file(s))",
                made.path.display(),
                made.bytes,
                made.organizations,
                made.records,
                made.files
            );
            report = Some(made);
            Ok(summary)
        })?;
        match (report, failure) {
            (Some(report), _) => Ok(report),
            (None, Some(err)) => Err(JobError::Backup(err)),
            (None, None) => Err(JobError::Failed(run.summary)),
        }
    }

    pub fn backup_settings(&self) -> &crate::backup::Settings {
        &self.backups
    }

    /// [`Jobs::list`] for the appliance administrator.
    pub fn list_for(&self, store: &Store, requester: Requester) -> Result<Vec<JobView>, JobError> {
        crate::access::authorize_appliance(requester)?;
        self.list(store)
    }

    /// [`Jobs::run_blocking`] for the appliance administrator; audited as theirs.
    pub fn run_for(
        &self,
        store: &Store,
        vault: &Vault,
        requester: Requester,
        name: &str,
    ) -> Result<Run, JobError> {
        crate::access::authorize_appliance(requester)?;
        let job = Job::parse(name)?;
        self.run_blocking(
            store,
            vault,
            job,
            Actor::Account(requester.account.to_string()),
        )
    }

    /// A scheduled run, from the loop.
    async fn run_scheduled(
        self: &Arc<Self>,
        store: &Arc<Store>,
        vault: &Arc<Vault>,
        job: Job,
        trigger: Trigger,
    ) -> Result<Run, JobError> {
        let _one_at_a_time = self.running.lock().await;
        let (jobs, store, vault) = (self.clone(), store.clone(), vault.clone());
        tokio::task::spawn_blocking(move || {
            jobs.run_unlocked(&store, &vault, job, trigger, Actor::System)
        })
        .await
        .map_err(|err| JobError::Crashed(err.to_string()))?
    }

    /// The schedule loop. At start a job that owes a slot (missed while the daemon was
    /// down) runs once; a job never seen before starts counting from now.
    pub async fn serve(self: Arc<Self>, store: Arc<Store>, vault: Arc<Vault>) {
        let started = now();
        loop {
            let wait = match self.tick(&store, &vault, started).await {
                Ok(wait) => wait,
                Err(err) => {
                    tracing::error!(error = %err, "job schedule check failed");
                    LONGEST_SLEEP
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Runs what is owed; returns how long to sleep before looking again.
    async fn tick(
        self: &Arc<Self>,
        store: &Arc<Store>,
        vault: &Arc<Vault>,
        started: i64,
    ) -> Result<Duration, JobError> {
        let now = now();
        // Store work, so off the runtime's thread, like the runs themselves.
        let covered_to = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || covered(&store, now))
                .await
                .map_err(|err| JobError::Crashed(err.to_string()))??
        };
        let mut soonest: Option<i64> = None;
        for (job, schedule) in &self.schedules {
            let covered = covered_to.get(job).copied().unwrap_or(now);
            if let Some(slot) = owed_slot(schedule, &self.zone, covered, now) {
                let trigger = if slot < started || now - slot > LATE_SECS {
                    Trigger::CatchUp
                } else {
                    Trigger::Schedule
                };
                self.run_scheduled(store, vault, *job, trigger).await?;
            }
            if let Some(next) = next_slot(schedule, &self.zone, now.max(covered)) {
                soonest = Some(soonest.map_or(next, |s| s.min(next)));
            }
        }
        let now_ms = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        Ok(soonest.map_or(LONGEST_SLEEP, |next| {
            let ms = (i128::from(next) * 1000 - now_ms).max(0);
            Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX)).min(LONGEST_SLEEP)
        }))
    }
}

/// Every job's ledger row, from one snapshot.
fn ledgers(store: &Store) -> Result<BTreeMap<Job, Ledger>, JobError> {
    let read = store.read()?;
    let system = read.system(&SystemGrant::internal())?;
    let mut out = BTreeMap::new();
    for job in Job::ALL {
        if let Some(bytes) = system.get(LEDGER, job.name().as_bytes())? {
            out.insert(job, serde_json::from_slice(&bytes)?);
        }
    }
    Ok(out)
}

/// The time each job's slots are covered to; a job seen for the first time starts
/// counting from `now`.
fn covered(store: &Store, now: i64) -> Result<BTreeMap<Job, i64>, JobError> {
    let mut ledgers = ledgers(store)?;
    let mut out = BTreeMap::new();
    for job in Job::ALL {
        let covered = match ledgers.remove(&job) {
            Some(ledger) => ledger.covered,
            None => {
                start_ledger(store, job, now)?;
                now
            }
        };
        out.insert(job, covered);
    }
    Ok(out)
}

impl Jobs {
    fn run_unlocked(
        &self,
        store: &Store,
        vault: &Vault,
        job: Job,
        trigger: Trigger,
        actor: Actor,
    ) -> Result<Run, JobError> {
        run_with(store, job, trigger, actor, |now| match job {
            Job::Reminders => notices::reminders(store, now),
            Job::Drift => notices::drift(store, now),
            Job::Digest => notices::digest(store, now),
            Job::Retention => retention::run(store, vault, now),
            Job::Backup => Ok(crate::backup::scheduled(store, &self.backups, now)?),
        })
    }
}

/// Runs `work` as a run of `job`: times it, logs it, records it in the ledger and the
/// audit log; a failed backup also tells the appliance administrators.
fn run_with(
    store: &Store,
    job: Job,
    trigger: Trigger,
    actor: Actor,
    work: impl FnOnce(i64) -> Result<String, JobError>,
) -> Result<Run, JobError> {
    let started_at = now();
    let clock = std::time::Instant::now();
    let outcome = work(started_at);
    let run = Run {
        started_at,
        duration_ms: u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX),
        trigger,
        ok: outcome.is_ok(),
        summary: match &outcome {
            Ok(summary) => summary.clone(),
            Err(err) => err.to_string(),
        },
    };
    if run.ok {
        tracing::info!(job = job.name(), ?trigger, ms = run.duration_ms, summary = %run.summary, "job ran");
    } else {
        tracing::warn!(job = job.name(), ?trigger, ms = run.duration_ms, error = %run.summary, "job failed");
    }
    record(store, job, &run, actor)?;
    if job == Job::Backup
        && !run.ok
        && let Err(err) = notices::backup_failed(store, started_at)
    {
        tracing::warn!(error = %err, "could not queue the backup failure notice");
    }
    Ok(run)
}

fn start_ledger(store: &Store, job: Job, now: i64) -> Result<(), JobError> {
    let txn = store.write()?;
    let system = txn.system(&SystemGrant::internal())?;
    if system.get(LEDGER, job.name().as_bytes())?.is_none() {
        let ledger = Ledger {
            covered: now,
            runs: 0,
            last: None,
            last_ok: None,
        };
        system.put(LEDGER, job.name().as_bytes(), &serde_json::to_vec(&ledger)?)?;
    }
    drop(system);
    txn.commit()?;
    Ok(())
}

/// Writes the run into the job's ledger: slots up to its start are now accounted for.
fn record(store: &Store, job: Job, run: &Run, actor: Actor) -> Result<(), JobError> {
    let txn = store.write()?;
    let system = txn.system(&SystemGrant::internal())?;
    let mut ledger = match system.get(LEDGER, job.name().as_bytes())? {
        Some(bytes) => serde_json::from_slice(&bytes)?,
        None => Ledger {
            covered: run.started_at,
            runs: 0,
            last: None,
            last_ok: None,
        },
    };
    ledger.covered = ledger.covered.max(run.started_at);
    ledger.runs += 1;
    ledger.last = Some(run.clone());
    if run.ok {
        ledger.last_ok = Some(run.started_at);
    }
    system.put(LEDGER, job.name().as_bytes(), &serde_json::to_vec(&ledger)?)?;
    drop(system);
    let outcome = if run.ok {
        Outcome::Success
    } else {
        Outcome::Failure
    };
    audit::append(
        &txn,
        Event::new(actor, "job.run", outcome).target(job.name()),
        run.started_at,
    )?;
    txn.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SettingType;

    fn at(text: &str) -> i64 {
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .unwrap()
            .unix_timestamp()
    }

    fn schedule(text: &str) -> Schedule {
        Schedule::from_text(text).unwrap()
    }

    #[test]
    fn a_daily_job_owes_one_slot_however_many_passed() {
        let daily = schedule("0 7 * * *");
        let utc = &Zone::utc();
        let covered = at("2026-11-20T08:00:00Z");
        assert_eq!(
            owed_slot(&daily, utc, covered, at("2026-11-21T06:59:59Z")),
            None
        );
        assert_eq!(
            owed_slot(&daily, utc, covered, at("2026-11-21T07:00:00Z")),
            Some(at("2026-11-21T07:00:00Z"))
        );
        // The clock jumps (or the daemon was down) three days: one slot is owed, the
        // earliest; the run then covers everything up to its start.
        let owed = owed_slot(&daily, utc, covered, at("2026-11-24T12:00:00Z"));
        assert_eq!(owed, Some(at("2026-11-21T07:00:00Z")));
        assert_eq!(
            owed_slot(
                &daily,
                utc,
                at("2026-11-24T12:00:00Z"),
                at("2026-11-24T12:00:01Z")
            ),
            None
        );
    }

    #[test]
    fn schedules_follow_the_zone_across_daylight_saving() {
        let daily = schedule("0 7 * * *");
        let new_york = &Zone::named("America/New_York").unwrap();
        // 07:00 in New York is 12:00 UTC in winter and 11:00 UTC in summer.
        assert_eq!(
            next_slot(&daily, new_york, at("2026-11-20T00:00:00Z")),
            Some(at("2026-11-20T12:00:00Z"))
        );
        assert_eq!(
            next_slot(&daily, new_york, at("2026-07-01T00:00:00Z")),
            Some(at("2026-07-01T11:00:00Z"))
        );
    }

    #[test]
    fn weekly_and_seconds_schedules_parse() {
        let weekly = schedule("0 8 * * Mon");
        // 2026-11-23 is a Monday.
        assert_eq!(
            next_slot(&weekly, &Zone::utc(), at("2026-11-20T00:00:00Z")),
            Some(at("2026-11-23T08:00:00Z"))
        );
        let every_two_seconds = schedule("*/2 * * * * *");
        assert_eq!(
            next_slot(&every_two_seconds, &Zone::utc(), at("2026-11-20T00:00:00Z")),
            Some(at("2026-11-20T00:00:02Z"))
        );
        assert!(Schedule::from_text("0 25 * * *").is_none());
        assert!(Schedule::from_text("every day").is_none());
    }

    #[test]
    fn job_names_are_the_public_ones() {
        for job in Job::ALL {
            assert_eq!(Job::parse(job.name()).unwrap(), job);
        }
        assert!(matches!(Job::parse("backups"), Err(JobError::Unknown(_))));
    }
}
