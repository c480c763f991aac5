//! Accounts: one per e-mail address, found through a keyed blind index so no plaintext
//! address is ever a key in the store.

use serde::{Deserialize, Serialize};

use super::AuthError;
use crate::mail::EmailAddress;
use crate::store::{System, SystemGet, SystemTable};

const ACCOUNTS: SystemTable = SystemTable::new("s.accounts");
/// Erased accounts: id -> the pseudonym that names them in histories and the audit log.
const ERASED: SystemTable = SystemTable::new("s.erased_accounts");
const BY_EMAIL: SystemTable = SystemTable::new("s.account_email");
const KEYS: SystemTable = SystemTable::new("s.keys");
const BLIND_INDEX_KEY: &[u8] = b"blind_index";
const EMAIL_MAX: usize = 254;
const NAME_MAX: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(pub uuid::Uuid);

impl AccountId {
    pub fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }
}

impl std::fmt::Display for AccountId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    pub id: AccountId,
    pub email: String,
    pub display_name: String,
    /// None until the person sets a password (invited, or created by the operator).
    pub password_hash: Option<String>,
    pub appliance_admin: bool,
    pub disabled: bool,
    pub created_at: i64,
    /// Consecutive failed sign-ins since the last success.
    pub failed_logins: u32,
    pub locked_until: Option<i64>,
    #[serde(default)]
    pub mfa: super::mfa::MfaState,
    /// Fingerprints of the devices signed in from lately, least recent first
    /// (see [`super::devices`]).
    #[serde(default)]
    pub devices: Vec<String>,
    #[serde(default)]
    pub mail: MailPreferences,
}

/// Which scheduled mail a person receives. Everything is on until they turn it off: a
/// deadline nobody hears of is the failure Rampart exists to prevent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MailPreferences {
    /// Reminders 30, 7 and 1 days before a deadline the person answers for.
    pub reminders: bool,
    /// New drift in organizations the person administers.
    pub drift_alerts: bool,
    /// The weekly digest of each organization.
    pub weekly_digest: bool,
}

impl Default for MailPreferences {
    fn default() -> Self {
        MailPreferences {
            reminders: true,
            drift_alerts: true,
            weekly_digest: true,
        }
    }
}

impl From<crate::mail::InvalidAddress> for AuthError {
    fn from(err: crate::mail::InvalidAddress) -> Self {
        AuthError::InvalidInput {
            field: "email",
            message: err.to_string(),
        }
    }
}

/// A new address, as typed: the one parser ([`EmailAddress::parse`]), saying what is wrong.
pub fn parse_email(raw: &str) -> Result<EmailAddress, AuthError> {
    Ok(EmailAddress::parse(raw)?)
}

/// What a person typed to find an existing account (sign-in, the operator's verbs): trimmed
/// and lower-cased as every address has been stored, so an account whose address was taken
/// before addresses were checked as now still signs in, and can be changed or erased.
/// `None` for what no stored address can be.
pub fn lookup_form(raw: &str) -> Option<String> {
    let text = raw.trim();
    (!text.is_empty() && text.len() <= EMAIL_MAX).then(|| text.to_lowercase())
}

/// Trims; 1 to 100 characters without control characters.
pub fn clean_display_name(raw: &str) -> Result<String, AuthError> {
    let name = raw.trim();
    let count = name.chars().count();
    let invalid = |message: String| AuthError::InvalidInput {
        field: "display_name",
        message,
    };
    if name.chars().any(char::is_control) {
        return Err(invalid(
            "a name cannot contain control characters such as line breaks".into(),
        ));
    }
    if count == 0 || count > NAME_MAX {
        return Err(invalid(format!("a name has 1 to {NAME_MAX} characters")));
    }
    Ok(name.to_owned())
}

fn blind_index_with(key: &[u8], email: &str) -> Vec<u8> {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    aws_lc_rs::hmac::sign(&key, email.as_bytes())
        .as_ref()
        .to_vec()
}

/// The index key, made on first use inside a write transaction.
fn index_key_for_write(system: &System<'_>) -> Result<Vec<u8>, AuthError> {
    if let Some(key) = system.get(KEYS, BLIND_INDEX_KEY)? {
        return Ok(key);
    }
    let key: [u8; 32] = crate::crypto::random_bytes()?;
    system.put(KEYS, BLIND_INDEX_KEY, &key)?;
    Ok(key.to_vec())
}

fn decode(bytes: &[u8]) -> Result<Account, AuthError> {
    Ok(serde_json::from_slice(bytes)?)
}

pub fn get(system: &impl SystemGet, id: AccountId) -> Result<Option<Account>, AuthError> {
    system
        .get(ACCOUNTS, id.as_bytes())?
        .map(|bytes| decode(&bytes))
        .transpose()
}

/// Looks a stored address up: `email` is an [`EmailAddress`] or a [`lookup_form`].
pub fn find_by_email(system: &impl SystemGet, email: &str) -> Result<Option<Account>, AuthError> {
    let Some(key) = system.get(KEYS, BLIND_INDEX_KEY)? else {
        return Ok(None);
    };
    let Some(id) = system.get(BY_EMAIL, &blind_index_with(&key, email))? else {
        return Ok(None);
    };
    let id: [u8; 16] = id
        .as_slice()
        .try_into()
        .map_err(|_| AuthError::Internal("account index entry has the wrong length".into()))?;
    get(system, AccountId(uuid::Uuid::from_bytes(id)))
}

pub fn save(system: &System<'_>, account: &Account) -> Result<(), AuthError> {
    system.put(
        ACCOUNTS,
        account.id.as_bytes(),
        &serde_json::to_vec(account)?,
    )?;
    Ok(())
}

/// Creates an account; the address must be free.
pub fn create(
    system: &System<'_>,
    email: &EmailAddress,
    display_name: &str,
    password_hash: Option<String>,
    appliance_admin: bool,
    now: i64,
) -> Result<Account, AuthError> {
    let display_name = clean_display_name(display_name)?;
    let index = blind_index_with(&index_key_for_write(system)?, email.as_str());
    if system.get(BY_EMAIL, &index)?.is_some() {
        return Err(AuthError::EmailTaken);
    }
    let account = Account {
        id: AccountId(uuid::Uuid::new_v4()),
        email: email.to_string(),
        display_name,
        password_hash,
        appliance_admin,
        disabled: false,
        created_at: now,
        failed_logins: 0,
        locked_until: None,
        mfa: super::mfa::MfaState::default(),
        devices: Vec::new(),
        mail: MailPreferences::default(),
    };
    system.put(BY_EMAIL, &index, account.id.as_bytes())?;
    save(system, &account)?;
    Ok(account)
}

/// Moves `account` to `email` (free: the caller checked), keeping the blind index in step.
pub fn set_email(
    system: &System<'_>,
    account: &mut Account,
    email: &EmailAddress,
) -> Result<(), AuthError> {
    let key = index_key_for_write(system)?;
    system.delete(BY_EMAIL, &blind_index_with(&key, &account.email))?;
    system.put(
        BY_EMAIL,
        &blind_index_with(&key, email.as_str()),
        account.id.as_bytes(),
    )?;
    account.email = email.to_string();
    save(system, account)
}

pub fn any_appliance_admin(system: &impl SystemGet) -> Result<bool, AuthError> {
    for (_, bytes) in system.list_from(ACCOUNTS, &[])? {
        if decode(&bytes)?.appliance_admin {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Every account's address by id, to name the actors of audit entries; an erased account
/// by its pseudonym.
pub fn emails(
    system: &impl SystemGet,
) -> Result<std::collections::HashMap<AccountId, String>, AuthError> {
    let mut names = erased(system)?;
    names.extend(all(system)?.into_iter().map(|a| (a.id, a.email)));
    Ok(names)
}

/// What is kept of an erased account: the pseudonym it is named by from then on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Erased {
    pub pseudonym: String,
    pub erased_at: i64,
}

/// Erased accounts by id, with their pseudonyms.
pub fn erased(
    system: &impl SystemGet,
) -> Result<std::collections::HashMap<AccountId, String>, AuthError> {
    let mut out = std::collections::HashMap::new();
    for (key, bytes) in system.list_from(ERASED, &[])? {
        let id: [u8; 16] = key
            .as_slice()
            .try_into()
            .map_err(|_| AuthError::Internal("erased account key has the wrong length".into()))?;
        let record: Erased = serde_json::from_slice(&bytes)?;
        out.insert(AccountId(uuid::Uuid::from_bytes(id)), record.pseudonym);
    }
    Ok(out)
}

/// Deletes `account` and its address index entry, and records the pseudonym that names it
/// from now on: `erased-` and 8 random hex digits, the same everywhere it appears.
pub fn remove(system: &System<'_>, account: &Account, now: i64) -> Result<String, AuthError> {
    let key = index_key_for_write(system)?;
    system.delete(BY_EMAIL, &blind_index_with(&key, &account.email))?;
    system.delete(ACCOUNTS, account.id.as_bytes())?;
    let tag: [u8; 4] = crate::crypto::random_bytes()?;
    let pseudonym = format!("erased-{}", crate::crypto::hex(&tag));
    system.put(
        ERASED,
        account.id.as_bytes(),
        &serde_json::to_vec(&Erased {
            pseudonym: pseudonym.clone(),
            erased_at: now,
        })?,
    )?;
    Ok(pseudonym)
}

pub fn all(system: &impl SystemGet) -> Result<Vec<Account>, AuthError> {
    system
        .list_from(ACCOUNTS, &[])?
        .iter()
        .map(|(_, bytes)| decode(bytes))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_old_address_is_still_found_as_it_was_stored() {
        assert_eq!(
            lookup_form("  Alice@Example.COM ").as_deref(),
            Some("alice@example.com")
        );
        // Stored before addresses were checked as now: the account still signs in.
        assert_eq!(
            lookup_form("<O@example.test>").as_deref(),
            Some("<o@example.test>")
        );
        assert_eq!(lookup_form("  "), None);
        assert_eq!(lookup_form(&"a".repeat(255)), None);
        // Whatever the parser takes is stored as the lookup finds it.
        let parsed = parse_email(" Ada@Example.com ").unwrap();
        assert_eq!(
            lookup_form(" Ada@Example.com ").as_deref(),
            Some(parsed.as_str())
        );
    }

    #[test]
    fn a_name_with_a_line_break_is_refused_for_its_control_character() {
        let message = |raw: &str| match clean_display_name(raw) {
            Err(AuthError::InvalidInput { message, .. }) => message,
            other => panic!("{raw:?}: {other:?}"),
        };
        assert!(message("Eve\r\nBcc: x").contains("control characters"));
        assert!(message("Eve\u{7}").contains("control characters"));
        assert!(message("").contains("1 to 100"));
        assert!(message(&"a".repeat(101)).contains("1 to 100"));
        assert_eq!(clean_display_name(" Eve ").unwrap(), "Eve");
    }

    #[test]
    fn blind_index_depends_on_key_and_address() {
        let a = blind_index_with(b"k1", "a@example.com");
        assert_ne!(a, blind_index_with(b"k2", "a@example.com"));
        assert_ne!(a, blind_index_with(b"k1", "b@example.com"));
        assert!(!a.windows(7).any(|w| w == b"example"));
    }
}
