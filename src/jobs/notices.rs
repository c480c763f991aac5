//! The jobs that mail people: deadline reminders, drift alerts and the weekly digest.
//!
//! Each organization is one transaction: the messages go into the outbox together with the
//! ledger that says they were sent, so a crash sends an organization's reminders either
//! once (committed) or at the next run (not), never twice.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::JobError;
use crate::access::{ApplianceOperator, Role, SystemGrant};
use crate::assess::upcoming::{self, Upcoming};
use crate::auth::{Account, AccountId, account};
use crate::mail::messages::{self, Digest, Line};
use crate::org::Organization;
use crate::store::{OrgId, Store, Tenant, TenantTable, WriteTxn};

/// Item key and threshold -> when that reminder was sent and the item's due date.
const REMINDERS_SENT: TenantTable = TenantTable::new("t.reminders_sent");
/// Job state kept per organization, such as the drift already alerted.
const JOB_STATE: TenantTable = TenantTable::new("t.job_state");
const DRIFT_SEEN: &[u8] = b"drift_seen";
/// Days before a due date that a reminder goes out, nearest first.
const THRESHOLDS: [i64; 3] = [1, 7, 30];
const SETTINGS_PAGE: &str = "/account#mail";

#[derive(Serialize, Deserialize)]
struct Sent {
    at: i64,
    due: String,
}

/// The nearest threshold `days` has crossed: the reminder that is due now.
fn threshold(days: i64) -> Option<i64> {
    THRESHOLDS
        .into_iter()
        .find(|t| days <= *t)
        .filter(|_| days >= 0)
}

fn sent_key(item_key: &str, threshold: i64) -> Vec<u8> {
    format!("{item_key}|{threshold}").into_bytes()
}

fn when(days: i64) -> String {
    match days {
        0 => "today".to_owned(),
        1 => "tomorrow".to_owned(),
        n => format!("in {n} days"),
    }
}

/// An organization's tables and people, open in one write transaction.
struct OrgRound<'t> {
    txn: &'t WriteTxn<'t>,
    org: OrgId,
    tenant: Tenant<'t>,
    profile: Organization,
    members: Vec<(Account, Role)>,
}

impl<'t> OrgRound<'t> {
    fn open(txn: &'t WriteTxn<'t>, org: OrgId) -> Result<Option<OrgRound<'t>>, JobError> {
        let tenant = txn.tenant(&ApplianceOperator::scheduler().grant(org))?;
        let Some(profile) = crate::org::profile_of(&tenant)? else {
            return Ok(None);
        };
        let system = txn.system(&SystemGrant::internal())?;
        let mut members = Vec::new();
        for (id, role) in crate::access::members_of(&system, org)? {
            if let Some(person) = account::get(&system, id)?
                && !person.disabled
            {
                members.push((person, role));
            }
        }
        Ok(Some(OrgRound {
            txn,
            org,
            tenant,
            profile,
            members,
        }))
    }

    fn queue(
        &self,
        now: i64,
        build: impl FnOnce(&str) -> Result<crate::mail::Outgoing, crate::mail::MailError>,
    ) -> Result<(), JobError> {
        crate::mail::queue(self.txn, now, build)?;
        Ok(())
    }
}

/// Runs `each` for every organization in its own transaction, committed when it returns
/// `true` (it changed something).
fn each_org(
    store: &Store,
    mut each: impl FnMut(&OrgRound<'_>) -> Result<bool, JobError>,
) -> Result<(), JobError> {
    for org in store.organizations()? {
        let txn = store.write()?;
        let changed = match OrgRound::open(&txn, org)? {
            Some(round) => each(&round)?,
            None => false,
        };
        if changed {
            txn.commit()?;
        }
    }
    Ok(())
}

fn absolute(base: &str, link: &str) -> String {
    format!("{base}{link}")
}

/// Reminders 30, 7 and 1 days before each dated obligation, to the people responsible and
/// the owners. Each item and threshold is reminded once; after downtime only the nearest
/// crossed threshold is sent (a "30 days" reminder a week late would mislead).
pub(super) fn reminders(store: &Store, now: i64) -> Result<String, JobError> {
    if !crate::mail::enabled() {
        return Ok("no mail goes out from this process (mail is off, or the daemon is not running): no reminders sent".to_owned());
    }
    let today = crate::dates::today(now);
    let (mut items, mut messages) = (0, 0);
    each_org(store, |round| {
        let mut due: Vec<(&Upcoming, i64)> = Vec::new();
        let upcoming = upcoming::of_org(&round.tenant, round.org, today, now)?;
        for item in &upcoming {
            if let Some(t) = threshold(item.days)
                && round
                    .tenant
                    .get(REMINDERS_SENT, &sent_key(&item.key, t))?
                    .is_none()
            {
                due.push((item, t));
            }
        }
        let pruned = prune_ledger(&round.tenant, today)?;
        if due.is_empty() {
            return Ok(pruned > 0);
        }
        let members: BTreeMap<String, &(Account, Role)> = round
            .members
            .iter()
            .map(|member| (member.0.id.to_string(), member))
            .collect();
        let mut lines: BTreeMap<AccountId, Vec<&Upcoming>> = BTreeMap::new();
        for (item, t) in &due {
            let owners = members.values().filter(|(_, role)| *role == Role::Owner);
            let responsible = item.responsible.iter().filter_map(|id| members.get(id));
            let people: BTreeSet<AccountId> = owners
                .chain(responsible)
                .filter(|(person, _)| person.mail.reminders)
                .map(|(person, _)| person.id)
                .collect();
            for person in people {
                lines.entry(person).or_default().push(item);
            }
            for crossed in THRESHOLDS.into_iter().filter(|th| th >= t) {
                let sent = Sent {
                    at: now,
                    due: item.due.to_string(),
                };
                round.tenant.put(
                    REMINDERS_SENT,
                    &sent_key(&item.key, crossed),
                    &serde_json::to_vec(&sent)?,
                )?;
            }
        }
        for (person, items_for) in &lines {
            let Some((account, _)) = members.get(&person.to_string()) else {
                continue;
            };
            round.queue(now, |base| {
                let lines: Vec<Line> = items_for
                    .iter()
                    .map(|item| Line {
                        text: if round.profile.mail_detail {
                            item.detail.clone()
                        } else {
                            item.what.clone()
                        },
                        due: item.due.to_string(),
                        when: when(item.days),
                        link: absolute(base, &item.link),
                    })
                    .collect();
                messages::deadline_reminder(
                    &account.email,
                    &round.profile.name,
                    &lines,
                    &absolute(base, SETTINGS_PAGE),
                )
            })?;
            messages += 1;
        }
        items += due.len();
        Ok(true)
    })?;
    Ok(format!(
        "{items} reminder(s) due, {messages} message(s) queued"
    ))
}

/// Forgets reminders for dates already past: they can never be due again.
fn prune_ledger(tenant: &Tenant<'_>, today: time::Date) -> Result<usize, JobError> {
    let mut pruned = 0;
    for (key, bytes) in tenant.list_prefix(REMINDERS_SENT, &[])? {
        let sent: Sent = serde_json::from_slice(&bytes)?;
        if crate::dates::parse(&sent.due).is_ok_and(|due| due < today) {
            tenant.delete(REMINDERS_SENT, &key)?;
            pruned += 1;
        }
    }
    Ok(pruned)
}

/// What a drift item says in mail that may not carry controlled content.
fn drift_text(item: &crate::assess::drift::DriftItem, detail: bool) -> String {
    if detail {
        return match item.assessment.as_str() {
            "" => item.message.clone(),
            assessment => format!("{} ({assessment})", item.message),
        };
    }
    match item.kind.as_str() {
        "regression" => "A requirement went from met to not met".to_owned(),
        "review_overdue" => "A requirement is past its review date".to_owned(),
        "milestone_overdue" => "A POA&M milestone is overdue".to_owned(),
        "evidence_review" => "An evidence file is past its review date".to_owned(),
        // Status dates: the message names no requirement.
        _ => item.message.clone(),
    }
}

/// The drift check: mails the owners and administrators of each organization the drift
/// that was not there at the last check. Drift that clears and comes back is new again.
pub(super) fn drift(store: &Store, now: i64) -> Result<String, JobError> {
    let mail = crate::mail::enabled();
    let (mut total, mut new, mut messages) = (0, 0, 0);
    each_org(store, |round| {
        let items = crate::assess::drift::of_org(&round.tenant, round.org, now)?;
        let seen: BTreeSet<String> = match round.tenant.get(JOB_STATE, DRIFT_SEEN)? {
            Some(bytes) => serde_json::from_slice(&bytes)?,
            None => BTreeSet::new(),
        };
        let current: BTreeSet<String> = items.iter().map(|i| i.key.clone()).collect();
        let fresh: Vec<_> = items.iter().filter(|i| !seen.contains(&i.key)).collect();
        total += items.len();
        new += fresh.len();
        if mail && !fresh.is_empty() {
            let drift_page = format!("/orgs/{}/drift", round.org);
            for (person, _) in round
                .members
                .iter()
                .filter(|(person, role)| *role >= Role::Admin && person.mail.drift_alerts)
            {
                round.queue(now, |base| {
                    let lines: Vec<Line> = fresh
                        .iter()
                        .map(|item| Line {
                            text: drift_text(item, round.profile.mail_detail),
                            due: item.date.clone(),
                            when: String::new(),
                            link: absolute(base, &item.link),
                        })
                        .collect();
                    messages::drift_alert(
                        &person.email,
                        &round.profile.name,
                        &lines,
                        &absolute(base, &drift_page),
                        &absolute(base, SETTINGS_PAGE),
                    )
                })?;
                messages += 1;
            }
        }
        if current == seen {
            return Ok(false);
        }
        round
            .tenant
            .put(JOB_STATE, DRIFT_SEEN, &serde_json::to_vec(&current)?)?;
        Ok(true)
    })?;
    Ok(format!(
        "{total} drift item(s), {new} new, {messages} message(s) queued"
    ))
}

/// The weekly digest: each member who wants it gets each organization's figures.
pub(super) fn digest(store: &Store, now: i64) -> Result<String, JobError> {
    if !crate::mail::enabled() {
        return Ok("no mail goes out from this process (mail is off, or the daemon is not running): no digest sent".to_owned());
    }
    let today = crate::dates::today(now);
    let mut messages = 0;
    each_org(store, |round| {
        let readers: Vec<_> = round
            .members
            .iter()
            .filter(|(person, _)| person.mail.weekly_digest)
            .collect();
        if readers.is_empty() {
            return Ok(false);
        }
        let figures = Digest {
            drift: crate::assess::drift::of_org(&round.tenant, round.org, now)?.len(),
            due_soon: upcoming::of_org(&round.tenant, round.org, today, now)?.len(),
            open_poam: upcoming::open_poam_items(&round.tenant)?,
        };
        let home = format!("/orgs/{}/assessments", round.org);
        for (person, _) in readers {
            round.queue(now, |base| {
                messages::weekly_digest(
                    &person.email,
                    &round.profile.name,
                    &figures,
                    &absolute(base, &home),
                    &absolute(base, SETTINGS_PAGE),
                )
            })?;
            messages += 1;
        }
        Ok(true)
    })?;
    Ok(format!("{messages} digest(s) queued"))
}

/// Tells every appliance administrator that a backup failed (when mail is on).
pub(super) fn backup_failed(store: &Store, now: i64) -> Result<(), JobError> {
    if !crate::mail::enabled() {
        return Ok(());
    }
    let txn = store.write()?;
    let admins: Vec<String> = {
        let system = txn.system(&crate::access::SystemGrant::internal())?;
        crate::auth::account::all(&system)?
            .into_iter()
            .filter(|account| account.appliance_admin && !account.disabled)
            .map(|account| account.email)
            .collect()
    };
    let when = crate::dates::format_utc(now);
    for email in &admins {
        crate::mail::queue(&txn, now, |base| {
            messages::backup_failed(email, &when, &format!("{base}/admin/jobs"))
        })?;
    }
    txn.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_crossed_threshold_is_the_one_due() {
        assert_eq!(threshold(31), None);
        assert_eq!(threshold(30), Some(30));
        assert_eq!(threshold(8), Some(30));
        assert_eq!(threshold(7), Some(7));
        assert_eq!(threshold(2), Some(7));
        assert_eq!(threshold(1), Some(1));
        assert_eq!(threshold(0), Some(1));
        assert_eq!(threshold(-1), None);
    }
}
