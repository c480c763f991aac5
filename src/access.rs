//! The one place that decides "may this actor do this", and the only module that can hand out
//! a [`Grant`]: the capability the store demands before it opens an organization's records.
//!
//! Identity (accounts, roles, sessions) lands on top of this; until then the only actor is the
//! appliance operator on the local control socket, whose identity the kernel vouches for.

use crate::store::OrgId;

/// Permission to open one organization's tenant tables. It cannot be built outside this
/// module, so a handler that skipped the access check has nothing to pass to the store.
#[derive(Debug)]
pub struct Grant {
    org: OrgId,
}

impl Grant {
    pub fn org(&self) -> OrgId {
        self.org
    }
}

/// Permission to open the appliance-wide records: accounts, sessions, the audit log. Only
/// this module and the modules it names build one.
#[derive(Debug)]
pub struct SystemGrant(());

impl SystemGrant {
    /// For the identity and audit modules, which read accounts and sessions before anyone
    /// is signed in, and for the local operator.
    pub(crate) fn internal() -> SystemGrant {
        SystemGrant(())
    }
}

/// The local operator: a process of the daemon's own user on the control socket (peer uid
/// checked there), or the CLI opening the store directly with the master key.
#[derive(Debug, Clone, Copy)]
pub struct ApplianceOperator(());

impl ApplianceOperator {
    /// Callers vouch that the peer is the daemon's own uid or holds the master key.
    pub(crate) fn local() -> ApplianceOperator {
        ApplianceOperator(())
    }

    pub fn grant(&self, org: OrgId) -> Grant {
        Grant { org }
    }
}
