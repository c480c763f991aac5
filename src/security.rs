//! The security dashboard: what the audit log says about attacks on accounts and changes to
//! how people sign in. Failed sign-ins, lockouts, sign-ins from new devices, second-factor
//! changes and API token use, counted per hour over the last 24 hours and per UTC day over
//! the last 14 days, with the latest such events.
//!
//! An organization's owners see the events tagged with their organization, and the identity
//! events (which carry no organization) of its current members. The appliance administrator
//! sees everything.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::access::{self, AccessError, Permission, Requester, SystemGrant, Via};
use crate::audit::{self, Actor, AuditError, Entry, Event, Outcome};
use crate::auth::{self, AccountId, AuthError, Client};
use crate::store::{OrgId, Store, StoreError};

pub const HOURS: usize = 24;
pub const DAYS: usize = 14;
/// How many of the latest events the dashboard lists.
pub const RECENT: usize = 20;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;
/// The appliance administrator's reads of one organization's figures within this long of the
/// last one audited are covered by it: the page refreshes itself every 10 seconds, and one
/// entry per refresh would bury the organization's log.
const READ_AUDIT_WINDOW_SECS: i64 = 15 * 60;
const READ_ACTION: &str = "admin.security_read";

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecurityError {
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What kind of security event an audit entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// A wrong password or second factor, at sign-in or re-authentication.
    FailedSignIn,
    /// An account locked after too many failures.
    Lockout,
    /// A sign-in from a device the account had not used lately.
    NewDevice,
    /// A second factor added or removed, or reset by the operator.
    MfaChange,
    /// An API token used (recorded at most once a minute per token).
    TokenUse,
}

impl Category {
    pub const ALL: [Category; 5] = [
        Category::FailedSignIn,
        Category::Lockout,
        Category::NewDevice,
        Category::MfaChange,
        Category::TokenUse,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Category::FailedSignIn => "Failed sign-ins",
            Category::Lockout => "Lockouts",
            Category::NewDevice => "New devices",
            Category::MfaChange => "MFA changes",
            Category::TokenUse => "API token use",
        }
    }

    /// One event of this kind, as a person reads it.
    pub fn noun(self) -> &'static str {
        match self {
            Category::FailedSignIn => "Failed sign-in",
            Category::Lockout => "Lockout",
            Category::NewDevice => "New device",
            Category::MfaChange => "MFA change",
            Category::TokenUse => "API token use",
        }
    }

    /// The name used in the JSON and in page element ids.
    pub fn key(self) -> &'static str {
        match self {
            Category::FailedSignIn => "failed_sign_in",
            Category::Lockout => "lockout",
            Category::NewDevice => "new_device",
            Category::MfaChange => "mfa_change",
            Category::TokenUse => "token_use",
        }
    }

    pub fn of(event: &Event) -> Option<Category> {
        let action = event.action.as_str();
        match (action, event.outcome) {
            ("auth.login" | "auth.mfa" | "auth.reauthenticate", Outcome::Failure) => {
                Some(Category::FailedSignIn)
            }
            ("auth.lockout", _) => Some(Category::Lockout),
            ("auth.new_device", _) => Some(Category::NewDevice),
            ("admin.user_reset_mfa", Outcome::Success) => Some(Category::MfaChange),
            (mfa, Outcome::Success) if mfa.starts_with("mfa.") => Some(Category::MfaChange),
            ("token.use", _) => Some(Category::TokenUse),
            _ => None,
        }
    }
}

/// One category's counts.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Series {
    pub category: Category,
    pub label: &'static str,
    /// Per hour, oldest first, matching [`Dashboard::hours`]; the last is the current hour.
    pub hourly: Vec<u32>,
    /// Per UTC day, oldest first, matching [`Dashboard::days`]; the last is today.
    pub daily: Vec<u32>,
    /// The sum of `hourly`.
    pub last_24h: u32,
    /// The sum of `daily`.
    pub last_14d: u32,
}

/// One of the latest security events.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecentEvent {
    pub seq: u64,
    /// Unix seconds.
    pub time: i64,
    pub category: Category,
    /// The category as a person reads it, such as "Failed sign-in".
    pub label: &'static str,
    pub action: String,
    pub outcome: Outcome,
    pub actor: Actor,
    /// The acting account's e-mail address, when the actor is an account that still exists.
    pub actor_email: Option<String>,
    pub org: Option<String>,
    pub target: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// The dashboard's figures at one moment.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = SecurityDashboard)]
pub struct Dashboard {
    /// When the figures were computed (Unix seconds).
    pub generated_at: i64,
    /// The start of each hourly bucket (Unix seconds), oldest first.
    pub hours: Vec<i64>,
    /// The start of each daily bucket (Unix seconds, UTC midnight), oldest first.
    pub days: Vec<i64>,
    /// One per category, in a fixed order.
    pub series: Vec<Series>,
    /// The latest events of every category, newest first (at most 20).
    pub recent: Vec<RecentEvent>,
}

/// Equal buckets of `width` seconds, the last holding `now`.
struct Buckets {
    first: i64,
    width: i64,
    count: usize,
}

impl Buckets {
    fn ending_at(now: i64, width: i64, count: usize) -> Buckets {
        let last = now - now.rem_euclid(width);
        let back = i64::try_from(count).unwrap_or(1).saturating_sub(1);
        Buckets {
            first: last - back * width,
            width,
            count,
        }
    }

    fn starts(&self) -> Vec<i64> {
        (0..self.count)
            .map(|i| self.first + i64::try_from(i).unwrap_or(0) * self.width)
            .collect()
    }

    fn index(&self, time: i64) -> Option<usize> {
        if time < self.first {
            return None;
        }
        usize::try_from((time - self.first) / self.width)
            .ok()
            .filter(|i| *i < self.count)
    }
}

fn account_of(actor: &Actor) -> Option<&str> {
    match actor {
        Actor::Account(id) => Some(id),
        _ => None,
    }
}

/// Computes the figures from `entries` (oldest first), counting those `include` accepts.
fn compute(
    entries: &[Entry],
    include: impl Fn(&Entry) -> bool,
    emails: &HashMap<AccountId, String>,
    now: i64,
) -> Dashboard {
    let hours = Buckets::ending_at(now, HOUR, HOURS);
    let days = Buckets::ending_at(now, DAY, DAYS);
    let mut series: Vec<Series> = Category::ALL
        .iter()
        .map(|&category| Series {
            category,
            label: category.label(),
            hourly: vec![0; HOURS],
            daily: vec![0; DAYS],
            last_24h: 0,
            last_14d: 0,
        })
        .collect();
    let email_of = |actor: &Actor| {
        let id = uuid::Uuid::parse_str(account_of(actor)?).ok()?;
        emails.get(&AccountId(id)).cloned()
    };
    let mut recent = Vec::new();
    for entry in entries.iter().rev().filter(|e| e.time <= now) {
        let Some(category) = Category::of(&entry.event) else {
            continue;
        };
        if !include(entry) {
            continue;
        }
        if let Some(counts) = series.iter_mut().find(|s| s.category == category) {
            if let Some(slot) = hours
                .index(entry.time)
                .and_then(|i| counts.hourly.get_mut(i))
            {
                *slot += 1;
                counts.last_24h += 1;
            }
            if let Some(slot) = days.index(entry.time).and_then(|i| counts.daily.get_mut(i)) {
                *slot += 1;
                counts.last_14d += 1;
            }
        }
        if recent.len() < RECENT {
            let event = &entry.event;
            recent.push(RecentEvent {
                seq: entry.seq,
                time: entry.time,
                category,
                label: category.noun(),
                action: event.action.clone(),
                outcome: event.outcome,
                actor_email: email_of(&event.actor),
                actor: event.actor.clone(),
                org: event.org.clone(),
                target: event.target.clone(),
                ip: event.ip.clone(),
                user_agent: event.user_agent.clone(),
            });
        }
    }
    Dashboard {
        generated_at: now,
        hours: hours.starts(),
        days: days.starts(),
        series,
        recent,
    }
}

/// Whether `entry` belongs on `org`'s dashboard: tagged with it, or an untagged identity
/// event by or about one of its members. An entry tagged with another organization never is,
/// even when its actor is a member here.
fn concerns(entry: &Entry, org: &str, members: &HashSet<String>) -> bool {
    match entry.event.org.as_deref() {
        Some(tagged) => tagged == org,
        None => {
            account_of(&entry.event.actor).is_some_and(|id| members.contains(id))
                || entry
                    .event
                    .target
                    .as_deref()
                    .is_some_and(|id| members.contains(id))
        }
    }
}

/// `org`'s figures, for its owners and the appliance administrator (whose read is audited in
/// the organization's log, see [`READ_AUDIT_WINDOW_SECS`]).
pub fn for_org(
    store: &Store,
    requester: Requester,
    org: OrgId,
    client: &Client,
    now: i64,
) -> Result<Dashboard, SecurityError> {
    let known = store.organizations()?;
    let (via, members, emails) = {
        let read = store.read()?;
        let system = read.system(&SystemGrant::internal())?;
        let (_, via) = access::authorize(&system, &known, requester, org, Permission::Oversee)?;
        let members: HashSet<String> = access::members_of(&system, org)?
            .into_iter()
            .map(|(account, _)| account.to_string())
            .collect();
        (via, members, auth::account::emails(&system)?)
    };
    let org_text = org.to_string();
    let mut entries = audit::entries(store)?;
    if via == Via::ApplianceAdmin {
        let me = Actor::Account(requester.account.to_string());
        let covered = entries.iter().rev().any(|e| {
            e.time > now - READ_AUDIT_WINDOW_SECS
                && e.event.action == READ_ACTION
                && e.event.actor == me
                && e.event.org.as_deref() == Some(org_text.as_str())
        });
        if !covered {
            let txn = store.write()?;
            let event = audit::oversight_event(requester, org, READ_ACTION, client);
            entries.push(audit::append(&txn, event, now)?);
            txn.commit()?;
        }
    }
    Ok(compute(
        &entries,
        |e| concerns(e, &org_text, &members),
        &emails,
        now,
    ))
}

/// The whole appliance's figures, for the appliance administrator.
pub fn for_appliance(
    store: &Store,
    requester: Requester,
    now: i64,
) -> Result<Dashboard, SecurityError> {
    access::authorize_appliance(requester)?;
    let emails = auth::account_emails(store)?;
    Ok(compute(&audit::entries(store)?, |_| true, &emails, now))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600 + 10 * DAY + 5 * HOUR + 1800; // 2026-01-11 05:30 UTC

    fn entry(seq: u64, time: i64, actor: Actor, action: &str, outcome: Outcome) -> Entry {
        Entry {
            seq,
            time,
            event: Event::new(actor, action, outcome),
            prev: String::new(),
            hash: String::new(),
        }
    }

    fn account(id: &str) -> Actor {
        Actor::Account(id.into())
    }

    #[test]
    fn categories_follow_actions_and_outcomes() {
        let of = |action: &str, outcome| Category::of(&Event::new(Actor::System, action, outcome));
        assert_eq!(
            of("auth.login", Outcome::Failure),
            Some(Category::FailedSignIn)
        );
        assert_eq!(
            of("auth.mfa", Outcome::Failure),
            Some(Category::FailedSignIn)
        );
        assert_eq!(of("auth.login", Outcome::Success), None);
        assert_eq!(
            of("auth.lockout", Outcome::Success),
            Some(Category::Lockout)
        );
        assert_eq!(
            of("mfa.totp_enable", Outcome::Success),
            Some(Category::MfaChange)
        );
        assert_eq!(of("mfa.security_key_add", Outcome::Failure), None);
        assert_eq!(of("token.use", Outcome::Success), Some(Category::TokenUse));
        assert_eq!(of("token.create", Outcome::Success), None);
    }

    #[test]
    fn counts_fall_in_hourly_and_daily_buckets() {
        let this_hour = NOW - 1800;
        let entries = vec![
            // 15 days ago: outside both windows.
            entry(
                1,
                NOW - 15 * DAY,
                account("a"),
                "auth.lockout",
                Outcome::Success,
            ),
            // 3 days ago: daily only.
            entry(
                2,
                NOW - 3 * DAY,
                account("a"),
                "auth.lockout",
                Outcome::Success,
            ),
            // 23 hours ago: the first hourly bucket.
            entry(
                3,
                NOW - 23 * HOUR,
                account("a"),
                "auth.login",
                Outcome::Failure,
            ),
            entry(4, this_hour, account("a"), "auth.login", Outcome::Failure),
            entry(
                5,
                this_hour + 1,
                account("b"),
                "auth.login",
                Outcome::Failure,
            ),
            entry(
                6,
                this_hour + 2,
                account("a"),
                "auth.login",
                Outcome::Success,
            ),
            // In the future (a clock step): not counted.
            entry(7, NOW + 60, account("a"), "auth.login", Outcome::Failure),
        ];
        let dashboard = compute(&entries, |_| true, &HashMap::new(), NOW);
        assert_eq!(dashboard.hours.len(), HOURS);
        assert_eq!(dashboard.days.len(), DAYS);
        assert_eq!(dashboard.hours.last(), Some(&this_hour));
        assert_eq!(dashboard.days.last(), Some(&(NOW - NOW % DAY)));
        let failed = &dashboard.series[0];
        assert_eq!(failed.category, Category::FailedSignIn);
        assert_eq!(failed.hourly.first(), Some(&1));
        assert_eq!(failed.hourly.last(), Some(&2));
        assert_eq!(failed.last_24h, 3);
        assert_eq!(failed.last_14d, 3);
        let lockouts = &dashboard.series[1];
        assert_eq!((lockouts.last_24h, lockouts.last_14d), (0, 1));
        let seqs: Vec<u64> = dashboard.recent.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, vec![5, 4, 3, 2, 1], "newest first, categorized only");
    }

    #[test]
    fn an_organization_sees_its_events_and_its_members_identity_events() {
        let org = "org-a";
        let members: HashSet<String> = ["m1".to_owned()].into();
        let tagged = |org: &str, actor: Actor| {
            let mut e = entry(1, NOW, actor, "token.use", Outcome::Success);
            e.event.org = Some(org.into());
            e
        };
        assert!(concerns(&tagged("org-a", account("x")), org, &members));
        assert!(
            !concerns(&tagged("org-b", account("m1")), org, &members),
            "a member's doings in another organization stay there"
        );
        let login = |actor| entry(1, NOW, actor, "auth.login", Outcome::Failure);
        assert!(concerns(&login(account("m1")), org, &members));
        assert!(!concerns(&login(account("x")), org, &members));
        assert!(!concerns(&login(Actor::Anonymous), org, &members));
        let mut reset = entry(
            1,
            NOW,
            Actor::Operator,
            "admin.user_reset_mfa",
            Outcome::Success,
        );
        reset.event.target = Some("m1".into());
        assert!(concerns(&reset, org, &members));
    }
}
