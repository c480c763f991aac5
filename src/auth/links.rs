//! One-time links (password reset, invitation, address change) and the random tokens behind
//! links and sessions. A token is 256 random bits shown once as 43 URL-safe base64
//! characters; a link's record is stored under the token's SHA-256, so a copy of the store
//! yields no usable link.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::AuthError;
use crate::store::{System, SystemGet, SystemTable};

/// The length of every token [`new_token`] makes; anything else cannot be one.
pub const TOKEN_LEN: usize = 43;

/// A link record that knows when it stops working.
pub trait Expiring {
    fn expires_at(&self) -> i64;
}

pub fn new_token() -> Result<String, AuthError> {
    let bytes: [u8; 32] = crate::crypto::random_bytes()?;
    Ok(B64URL.encode(bytes))
}

fn key(token: &str) -> Vec<u8> {
    crate::crypto::sha256(token.as_bytes()).to_vec()
}

/// Stores `record` for `token` in `table`.
pub fn put<T: Serialize>(
    system: &System<'_>,
    table: SystemTable,
    token: &str,
    record: &T,
) -> Result<(), AuthError> {
    system.put(table, &key(token), &serde_json::to_vec(record)?)?;
    Ok(())
}

/// The record behind `token` while it has not expired.
pub fn live<T: DeserializeOwned + Expiring>(
    system: &impl SystemGet,
    table: SystemTable,
    token: &str,
    now: i64,
) -> Result<Option<T>, AuthError> {
    if token.len() != TOKEN_LEN {
        return Ok(None);
    }
    Ok(match system.get(table, &key(token))? {
        Some(bytes) => Some(serde_json::from_slice::<T>(&bytes)?).filter(|r| r.expires_at() > now),
        None => None,
    })
}

/// How long an expired link's record is kept, so a late click is told the link expired
/// rather than that it never existed.
pub const KEEP_EXPIRED_SECS: i64 = 30 * 24 * 60 * 60;

/// Deletes every record of `table` that expired more than [`KEEP_EXPIRED_SECS`] ago;
/// returns how many.
pub fn purge_expired<T: DeserializeOwned + Expiring>(
    system: &System<'_>,
    table: SystemTable,
    now: i64,
) -> Result<usize, AuthError> {
    delete_where::<T>(system, table, |record| {
        record.expires_at() + KEEP_EXPIRED_SECS <= now
    })
}

/// Deletes every link of `table` that `doomed` picks; returns how many went.
pub fn delete_where<T: DeserializeOwned>(
    system: &System<'_>,
    table: SystemTable,
    mut doomed: impl FnMut(&T) -> bool,
) -> Result<usize, AuthError> {
    let mut deleted = 0;
    for (key, bytes) in system.list(table)? {
        let record: T = serde_json::from_slice(&bytes)?;
        if doomed(&record) {
            system.delete(table, &key)?;
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// Spends `token`: the link works no more.
pub fn spend(system: &System<'_>, table: SystemTable, token: &str) -> Result<(), AuthError> {
    system.delete(table, &key(token))?;
    Ok(())
}
