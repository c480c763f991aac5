//! Rate limits per client address and route class (governor), built once from config.
//!
//! Memory stays bounded under a flood of distinct addresses: IPv6 clients are keyed by their
//! /64 (one subscriber's allocation), idle entries are dropped as they go stale, and past
//! [`MAX_TRACKED`] addresses the class's table is started afresh. Per-account lockout still
//! guards passwords while that happens.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::RwLock;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

/// Addresses one class tracks before its table is cleared.
pub const MAX_TRACKED: usize = 100_000;

/// Which limit a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteClass {
    /// Sign-in, setup, sign-out: anything that takes a credential or a link token.
    Auth,
    /// The JSON API.
    Api,
    /// Appliance administration that changes something.
    Admin,
    /// Pages, assets, health: not limited here.
    Open,
}

impl RouteClass {
    /// The class of a request for `path`; `read` is true for a safe method (GET, HEAD).
    /// Reading under `/admin/` (the whole audit log, the security dashboard, which refreshes
    /// itself every 10 seconds) is not administration: it counts as an API call or a page,
    /// so the tight admin limit still guards every change.
    pub fn of(path: &str, read: bool) -> RouteClass {
        const AUTH: &[&str] = &[
            "/api/v1/auth/",
            "/api/v1/setup",
            "/setup/",
            "/reset",
            "/invite/",
            "/email/confirm/",
            "/api/v1/invitations/",
            "/signin",
            "/signout",
            "/share/",
        ];
        if AUTH.iter().any(|prefix| path.starts_with(prefix)) {
            RouteClass::Auth
        } else if !read && (path.starts_with("/api/v1/admin/") || path.starts_with("/admin/")) {
            RouteClass::Admin
        } else if path.starts_with("/api/") {
            RouteClass::Api
        } else {
            RouteClass::Open
        }
    }
}

struct ClassLimiter {
    quota: Quota,
    limiter: RwLock<DefaultKeyedRateLimiter<IpAddr>>,
}

impl ClassLimiter {
    fn new(per_minute: u64) -> ClassLimiter {
        let burst = NonZeroU32::new(u32::try_from(per_minute).unwrap_or(u32::MAX))
            .unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_minute(burst);
        ClassLimiter {
            quota,
            limiter: RwLock::new(DefaultKeyedRateLimiter::keyed(quota)),
        }
    }

    /// `Err(wait)` when `key` is over its limit. A limiter that cannot be read (its lock
    /// poisoned by a panic) refuses: a limit that fails open is no limit. The next sweep
    /// starts it afresh.
    fn check(&self, key: IpAddr) -> Result<(), Duration> {
        let Ok(limiter) = self.limiter.read() else {
            tracing::error!("rate limiter unreadable; refusing until it is rebuilt");
            return Err(Duration::from_secs(1));
        };
        match limiter.check_key(&key) {
            Ok(()) => Ok(()),
            Err(not_until) => Err(not_until.wait_time_from(DefaultClock::default().now())),
        }
    }

    fn tracked(&self) -> usize {
        self.limiter.read().map_or(0, |l| l.len())
    }

    fn sweep(&self) {
        // The read guard (poisoned or not) must be gone before `rebuild` takes the write lock.
        let too_many = match self.limiter.read() {
            Ok(limiter) => {
                limiter.retain_recent();
                limiter.shrink_to_fit();
                Some(limiter.len() > MAX_TRACKED)
            }
            Err(_) => None,
        };
        let Some(too_many) = too_many else {
            self.rebuild();
            tracing::warn!("rate limiter rebuilt after a poisoned lock");
            return;
        };
        if too_many {
            self.rebuild();
            tracing::warn!(
                limit = MAX_TRACKED,
                "rate limiter table cleared under a flood of distinct addresses"
            );
        }
    }

    fn rebuild(&self) {
        let fresh = DefaultKeyedRateLimiter::keyed(self.quota);
        match self.limiter.write() {
            Ok(mut limiter) => *limiter = fresh,
            Err(poisoned) => {
                *poisoned.into_inner() = fresh;
                self.limiter.clear_poison();
            }
        }
    }
}

/// One limiter per route class.
pub struct Limits {
    auth: ClassLimiter,
    api: ClassLimiter,
    admin: ClassLimiter,
}

/// IPv6 addresses are grouped by /64: a single host can draw from a whole /64.
fn key_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let mut segments = v6.segments();
            for segment in segments.iter_mut().skip(4) {
                *segment = 0;
            }
            IpAddr::from(segments)
        }
    }
}

impl Limits {
    pub fn new(auth_per_minute: u64, api_per_minute: u64, admin_per_minute: u64) -> Limits {
        Limits {
            auth: ClassLimiter::new(auth_per_minute),
            api: ClassLimiter::new(api_per_minute),
            admin: ClassLimiter::new(admin_per_minute),
        }
    }

    fn class(&self, class: RouteClass) -> Option<&ClassLimiter> {
        match class {
            RouteClass::Auth => Some(&self.auth),
            RouteClass::Api => Some(&self.api),
            RouteClass::Admin => Some(&self.admin),
            RouteClass::Open => None,
        }
    }

    /// `Err(wait)` when `ip` is over the limit of `class`.
    pub fn check(&self, class: RouteClass, ip: IpAddr) -> Result<(), Duration> {
        let Some(limiter) = self.class(class) else {
            return Ok(());
        };
        let result = limiter.check(key_of(ip));
        if limiter.tracked() > MAX_TRACKED {
            limiter.sweep();
        }
        result
    }

    /// Drops idle entries; run periodically.
    pub fn sweep(&self) {
        for limiter in [&self.auth, &self.api, &self.admin] {
            limiter.sweep();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_paths() {
        assert_eq!(
            RouteClass::of("/api/v1/auth/login", false),
            RouteClass::Auth
        );
        assert_eq!(RouteClass::of("/setup/abc", true), RouteClass::Auth);
        assert_eq!(RouteClass::of("/api/v1/me", true), RouteClass::Api);
        assert_eq!(
            RouteClass::of("/api/v1/admin/users", false),
            RouteClass::Admin
        );
        assert_eq!(RouteClass::of("/healthz", true), RouteClass::Open);
    }

    #[test]
    fn admin_reads_are_not_held_to_the_admin_limit() {
        assert_eq!(
            RouteClass::of("/api/v1/admin/security", true),
            RouteClass::Api
        );
        assert_eq!(RouteClass::of("/admin/audit", true), RouteClass::Open);
        assert_eq!(RouteClass::of("/admin/audit", false), RouteClass::Admin);
    }

    #[test]
    fn limit_applies_per_address_and_class() {
        let limits = Limits::new(2, 100, 5);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(limits.check(RouteClass::Auth, a).is_ok());
        assert!(limits.check(RouteClass::Auth, a).is_ok());
        let wait = limits.check(RouteClass::Auth, a).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        assert!(limits.check(RouteClass::Auth, b).is_ok());
        assert!(limits.check(RouteClass::Api, a).is_ok());
    }

    #[test]
    fn ipv6_neighbours_share_a_bucket() {
        let limits = Limits::new(1, 100, 5);
        assert!(
            limits
                .check(RouteClass::Auth, "2001:db8::1".parse().unwrap())
                .is_ok()
        );
        assert!(
            limits
                .check(RouteClass::Auth, "2001:db8::ffff:2".parse().unwrap())
                .is_err()
        );
    }

    #[test]
    fn a_poisoned_limiter_refuses_until_the_sweep_rebuilds_it() {
        let limits = std::sync::Arc::new(Limits::new(10, 100, 5));
        let poisoner = limits.clone();
        let _ = std::thread::spawn(move || {
            let _guard = poisoner.auth.limiter.write().unwrap();
            panic!("poison the lock");
        })
        .join();
        assert!(limits.auth.limiter.is_poisoned());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(limits.check(RouteClass::Auth, a).is_err(), "fails closed");
        assert!(
            limits.check(RouteClass::Api, a).is_ok(),
            "other classes unaffected"
        );
        limits.sweep();
        assert!(!limits.auth.limiter.is_poisoned());
        assert!(limits.check(RouteClass::Auth, a).is_ok());
    }

    #[test]
    fn memory_stays_bounded_under_address_flood() {
        let limits = Limits::new(10, 100, 5);
        for i in 0..(MAX_TRACKED as u32 + 50_000) {
            let _ = limits.check(RouteClass::Auth, IpAddr::from(i.to_be_bytes()));
        }
        assert!(
            limits.auth.tracked() <= MAX_TRACKED,
            "{}",
            limits.auth.tracked()
        );
    }
}
