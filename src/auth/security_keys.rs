//! Security keys and passkeys (WebAuthn through webauthn-rs) as second factors.
//!
//! Rampart uses webauthn-rs's security-key ceremonies: user verification is preferred, not
//! required, so a plain USB key without a PIN works as well as a phone passkey or a
//! platform authenticator. The ceremony state lives in the server-side session, sealed
//! like the rest of the store, and is spent by the first answer, right or wrong.

use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, SecurityKey, SecurityKeyAuthentication, SecurityKeyRegistration, Url,
    Uuid, Webauthn, WebauthnBuilder,
};

use super::account::{self, Account};
use super::session::{self, Session};
use super::{AuthError, Client, require_step_up};
use crate::access::SystemGrant;
use crate::audit::{self, Actor, Event, Outcome};
use crate::store::Store;

/// A ceremony must be answered within this long.
pub const CEREMONY_SECS: i64 = 5 * 60;
/// Names are shown in lists; they need not be long.
pub const NAME_MAX_CHARS: usize = 64;
/// More keys than anyone carries; bounds the record and the allow-list sent to browsers.
pub const MAX_KEYS: usize = 20;

/// One registered key, named by its owner.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecurityKeyRecord {
    pub id: Uuid,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub key: SecurityKey,
}

/// What the owner sees of a key.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SecurityKeyView {
    #[schema(value_type = String)]
    pub id: Uuid,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

impl From<&SecurityKeyRecord> for SecurityKeyView {
    fn from(record: &SecurityKeyRecord) -> Self {
        SecurityKeyView {
            id: record.id,
            name: record.name.clone(),
            created_at: record.created_at,
            last_used_at: record.last_used_at,
        }
    }
}

/// A ceremony in progress, kept in the session until answered.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Ceremony {
    Register {
        name: String,
        started_at: i64,
        state: SecurityKeyRegistration,
    },
    Authenticate {
        started_at: i64,
        state: SecurityKeyAuthentication,
    },
}

/// The relying party: Rampart's own origin. Without a host name (an IP address) browsers
/// refuse WebAuthn, so security keys are then unavailable and the answer says why.
pub struct RelyingParty {
    webauthn: Result<Webauthn, String>,
}

impl RelyingParty {
    /// `origin` is where people open Rampart, such as `https://rampart.example.com`.
    pub fn new(origin: &str) -> RelyingParty {
        RelyingParty {
            webauthn: Self::build(origin),
        }
    }

    fn build(origin: &str) -> Result<Webauthn, String> {
        let unavailable = |why: String| {
            format!(
                "security keys are unavailable: {why}; set public_url to the https:// address people use"
            )
        };
        let url = Url::parse(origin).map_err(|err| unavailable(format!("{origin}: {err}")))?;
        let host = url
            .host_str()
            .ok_or_else(|| unavailable(format!("{origin} has no host")))?;
        if host.starts_with('[') || host.parse::<std::net::IpAddr>().is_ok() {
            return Err(unavailable(format!(
                "{origin} is an IP address, and browsers need a host name"
            )));
        }
        WebauthnBuilder::new(host, &url)
            .and_then(|builder| builder.rp_name("Rampart").build())
            .map_err(|err| unavailable(err.to_string()))
    }

    fn webauthn(&self) -> Result<&Webauthn, AuthError> {
        self.webauthn
            .as_ref()
            .map_err(|why| AuthError::InvalidInput {
                field: "security_key",
                message: why.clone(),
            })
    }
}

/// Checks a key's name: shown back in lists, so trimmed, bounded and printable.
pub fn clean_name(raw: &str) -> Result<String, AuthError> {
    let name = raw.trim();
    let invalid = |message: &str| AuthError::InvalidInput {
        field: "name",
        message: message.to_owned(),
    };
    if name.is_empty() {
        return Err(invalid(
            "name the key so you can tell it apart, such as \"blue YubiKey\"",
        ));
    }
    if name.chars().count() > NAME_MAX_CHARS {
        return Err(invalid(&format!(
            "use at most {NAME_MAX_CHARS} characters for the name"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid("the name cannot contain control characters"));
    }
    Ok(name.to_owned())
}

/// Starts registering a key for `account`; the caller stores the ceremony in the session.
pub fn begin_registration(
    party: &RelyingParty,
    account: &Account,
    name: &str,
    now: i64,
) -> Result<(CreationChallengeResponse, Ceremony), AuthError> {
    let name = clean_name(name)?;
    let keys = &account.mfa.security_keys;
    if keys.len() >= MAX_KEYS {
        return Err(AuthError::InvalidInput {
            field: "name",
            message: format!("an account can hold {MAX_KEYS} security keys; remove one first"),
        });
    }
    if keys.iter().any(|k| k.name.eq_ignore_ascii_case(&name)) {
        return Err(AuthError::InvalidInput {
            field: "name",
            message: "you already have a key with that name".into(),
        });
    }
    let exclude = keys.iter().map(|k| k.key.cred_id().clone()).collect();
    let (mut challenge, state) = party
        .webauthn()?
        .start_securitykey_registration(
            account.id.0,
            &account.email,
            &account.display_name,
            Some(exclude),
            None,
            None,
        )
        .map_err(|err| AuthError::Internal(format!("webauthn: {err}")))?;
    without_uv_required_protection(&mut challenge);
    Ok((
        challenge,
        Ceremony::Register {
            name,
            started_at: now,
            state,
        },
    ))
}

/// webauthn-rs asks security keys for credProtect "userVerificationRequired" while only
/// preferring user verification. Chromium refuses that pair outright (NotSupportedError,
/// "Requested protection policy is inconsistent", kanidm/webauthn-rs#490), so no Chrome or
/// Edge user could add a key; and a key holding such a credential but no PIN could never
/// use it, against the point of preferring verification. So no protection is requested;
/// webauthn-rs then records the extension as ignored and checks nothing else differently.
fn without_uv_required_protection(challenge: &mut CreationChallengeResponse) {
    if let Some(extensions) = challenge.public_key.extensions.as_mut() {
        extensions.cred_protect = None;
    }
}

/// Finishes a registration against the ceremony taken from the session.
pub fn finish_registration(
    party: &RelyingParty,
    ceremony: Option<Ceremony>,
    credential: &RegisterPublicKeyCredential,
    now: i64,
) -> Result<SecurityKeyRecord, AuthError> {
    let Some(Ceremony::Register {
        name,
        started_at,
        state,
    }) = ceremony
    else {
        return Err(no_ceremony());
    };
    if now - started_at > CEREMONY_SECS {
        return Err(no_ceremony());
    }
    let key = party
        .webauthn()?
        .finish_securitykey_registration(credential, &state)
        .map_err(|err| AuthError::InvalidInput {
            field: "credential",
            message: format!("the key's answer was refused: {err}"),
        })?;
    Ok(SecurityKeyRecord {
        id: Uuid::new_v4(),
        name,
        created_at: now,
        last_used_at: None,
        key,
    })
}

fn no_ceremony() -> AuthError {
    AuthError::InvalidInput {
        field: "credential",
        message: "no security key request is waiting, or it expired: start again".into(),
    }
}

/// Starts a sign-in with any of the account's keys.
pub fn begin_authentication(
    party: &RelyingParty,
    account: &Account,
    now: i64,
) -> Result<(RequestChallengeResponse, Ceremony), AuthError> {
    let keys: Vec<SecurityKey> = account
        .mfa
        .security_keys
        .iter()
        .map(|k| k.key.clone())
        .collect();
    if keys.is_empty() {
        return Err(AuthError::InvalidInput {
            field: "security_key",
            message:
                "this account has no security key; use your authenticator app or a recovery code"
                    .into(),
        });
    }
    let (challenge, state) = party
        .webauthn()?
        .start_securitykey_authentication(&keys)
        .map_err(|err| AuthError::Internal(format!("webauthn: {err}")))?;
    Ok((
        challenge,
        Ceremony::Authenticate {
            started_at: now,
            state,
        },
    ))
}

/// Checks an assertion against the ceremony taken from the session; on success records the
/// use on the matching key. A wrong origin, a replayed challenge, an unknown key or a bad
/// signature all answer false.
pub fn verify_assertion(
    party: &RelyingParty,
    ceremony: Option<Ceremony>,
    account: &mut Account,
    assertion: &PublicKeyCredential,
    now: i64,
) -> Result<bool, AuthError> {
    let Some(Ceremony::Authenticate { started_at, state }) = ceremony else {
        return Ok(false);
    };
    if now - started_at > CEREMONY_SECS {
        return Ok(false);
    }
    let result = match party
        .webauthn()?
        .finish_securitykey_authentication(assertion, &state)
    {
        Ok(result) => result,
        Err(err) => {
            // The kind of failure (origin, signature, challenge) helps the operator; it
            // carries no secret.
            tracing::info!(reason = %err, "security key assertion refused");
            return Ok(false);
        }
    };
    let Some(record) = account
        .mfa
        .security_keys
        .iter_mut()
        .find(|k| k.key.cred_id() == result.cred_id())
    else {
        return Ok(false);
    };
    record.key.update_credential(&result);
    record.last_used_at = Some(now);
    Ok(true)
}

/// Takes the ceremony out of `session`: whatever the answer, it is spent.
pub fn take_ceremony(session: &mut Session) -> Option<Ceremony> {
    session
        .webauthn_ceremony
        .take()
        .and_then(|json| serde_json::from_str(&json).ok())
}

pub fn put_ceremony(session: &mut Session, ceremony: &Ceremony) -> Result<(), AuthError> {
    session.webauthn_ceremony = Some(serde_json::to_string(ceremony)?);
    Ok(())
}

/// The sign-in step: a challenge for the account behind a session that owes its second
/// factor. The answer goes to `complete_mfa` as `webauthn`.
pub fn begin_sign_in(
    store: &Store,
    party: &RelyingParty,
    token: &str,
    now: i64,
) -> Result<RequestChallengeResponse, AuthError> {
    let txn = store.write()?;
    let system = txn.system(&SystemGrant::internal())?;
    let mut current = session::lookup(&system, token, now)?
        .filter(|s| s.mfa_pending)
        .ok_or(AuthError::InvalidSecondFactor)?;
    let account = account::get(&system, current.account)?.ok_or(AuthError::InvalidSecondFactor)?;
    let (challenge, ceremony) = begin_authentication(party, &account, now)?;
    put_ceremony(&mut current, &ceremony)?;
    session::save(&system, token, &current)?;
    drop(system);
    txn.commit()?;
    Ok(challenge)
}

/// Starts adding a key (needs a recent sign-in); the browser answers with `finish_enrolment`.
pub fn begin_enrolment(
    store: &Store,
    party: &RelyingParty,
    token: &str,
    current: &Session,
    name: &str,
    now: i64,
) -> Result<CreationChallengeResponse, AuthError> {
    require_step_up(current, now)?;
    let txn = store.write()?;
    let system = txn.system(&SystemGrant::internal())?;
    let mut live = session::lookup(&system, token, now)?.ok_or(AuthError::InvalidCredentials)?;
    let holder = account::get(&system, live.account)?.ok_or(AuthError::InvalidCredentials)?;
    let (challenge, ceremony) = begin_registration(party, &holder, name, now)?;
    put_ceremony(&mut live, &ceremony)?;
    session::save(&system, token, &live)?;
    drop(system);
    txn.commit()?;
    Ok(challenge)
}

/// A key just added, and the recovery codes to show once when it is the account's first
/// second factor (empty otherwise).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Enrolled {
    pub security_key: SecurityKeyView,
    pub recovery_codes: Vec<String>,
}

/// Finishes adding a key. Like any MFA change it ends the account's other sessions.
pub fn finish_enrolment(
    store: &Store,
    party: &RelyingParty,
    token: &str,
    current: &Session,
    credential: &RegisterPublicKeyCredential,
    client: &Client,
    now: i64,
) -> Result<Enrolled, AuthError> {
    require_step_up(current, now)?;
    let txn = store.write()?;
    let system = txn.system(&SystemGrant::internal())?;
    let mut live = session::lookup(&system, token, now)?.ok_or(AuthError::InvalidCredentials)?;
    let ceremony = take_ceremony(&mut live);
    let mut holder = account::get(&system, live.account)?.ok_or(AuthError::InvalidCredentials)?;
    let actor = Actor::Account(holder.id.to_string());
    let checked = finish_registration(party, ceremony, credential, now).and_then(|record| {
        // A credential belongs to one account; the browser's exclude list only covers
        // the account's own keys.
        let credential_id = record.key.cred_id();
        let taken = account::all(&system)?.iter().any(|other| {
            other
                .mfa
                .security_keys
                .iter()
                .any(|k| k.key.cred_id() == credential_id)
        });
        if taken {
            return Err(AuthError::InvalidInput {
                field: "credential",
                message: "this security key is already registered".into(),
            });
        }
        Ok(record)
    });
    let record = match checked {
        Ok(record) => record,
        Err(err) => {
            // The spent ceremony is saved so a second answer to it is refused too.
            session::save(&system, token, &live)?;
            let event = Event::new(actor, "mfa.security_key_add", Outcome::Failure);
            audit::append(&txn, client.stamp(event), now)?;
            drop(system);
            txn.commit()?;
            return Err(err);
        }
    };
    let view = SecurityKeyView::from(&record);
    holder.mfa.security_keys.push(record);
    let recovery_codes = holder.mfa.ensure_recovery_codes()?;
    account::save(&system, &holder)?;
    session::revoke_all(&system, holder.id, Some(token))?;
    session::save(&system, token, &live)?;
    let event = Event::new(actor, "mfa.security_key_add", Outcome::Success).target(view.id);
    audit::append(&txn, client.stamp(event), now)?;
    super::mail_mfa_changed(&txn, &holder.email, "a security key was added", now)?;
    drop(system);
    txn.commit()?;
    Ok(Enrolled {
        security_key: view,
        recovery_codes,
    })
}

/// Removes one key (needs a recent sign-in) and ends the account's other sessions. Another
/// account's key id answers like an unknown one.
pub fn remove(
    store: &Store,
    token: &str,
    current: &Session,
    key_id: Uuid,
    client: &Client,
    now: i64,
) -> Result<(), AuthError> {
    require_step_up(current, now)?;
    let txn = store.write()?;
    let system = txn.system(&SystemGrant::internal())?;
    let mut holder =
        account::get(&system, current.account)?.ok_or(AuthError::InvalidCredentials)?;
    let before = holder.mfa.security_keys.len();
    holder.mfa.security_keys.retain(|k| k.id != key_id);
    if holder.mfa.security_keys.len() == before {
        return Err(AuthError::Access(crate::access::AccessError::NotFound));
    }
    account::save(&system, &holder)?;
    session::revoke_all(&system, holder.id, Some(token))?;
    let event = Event::new(
        Actor::Account(holder.id.to_string()),
        "mfa.security_key_remove",
        Outcome::Success,
    )
    .target(key_id);
    audit::append(&txn, client.stamp(event), now)?;
    super::mail_mfa_changed(&txn, &holder.email, "a security key was removed", now)?;
    drop(system);
    txn.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert_eq!(clean_name("  blue key ").unwrap(), "blue key");
        assert!(clean_name("").is_err());
        assert!(clean_name(&"k".repeat(65)).is_err());
        assert!(clean_name("a\u{7}b").is_err());
    }

    #[test]
    fn creation_options_are_ones_chromium_accepts() {
        let account = Account {
            id: account::AccountId(Uuid::new_v4()),
            email: "ada@example.com".into(),
            display_name: "Ada".into(),
            password_hash: None,
            appliance_admin: false,
            disabled: false,
            created_at: 0,
            failed_logins: 0,
            locked_until: None,
            mfa: crate::auth::mfa::MfaState::default(),
            devices: Vec::new(),
            mail: Default::default(),
        };
        let party = RelyingParty::new("https://localhost:8443");
        let (challenge, _) = begin_registration(&party, &account, "blue key", 0).unwrap();
        let options = serde_json::to_value(&challenge).unwrap();
        let options = &options["publicKey"];
        // Chromium refuses credProtect "userVerificationRequired" without required UV.
        assert_eq!(
            options["authenticatorSelection"]["userVerification"],
            "preferred"
        );
        assert!(
            options["extensions"]
                .get("credentialProtectionPolicy")
                .is_none(),
            "{options}"
        );
    }

    #[test]
    fn an_ip_origin_makes_keys_unavailable_with_a_reason() {
        let party = RelyingParty::new("https://127.0.0.1:8443");
        let err = party.webauthn().err().unwrap().to_string();
        assert!(err.contains("public_url"), "{err}");
        assert!(
            RelyingParty::new("https://localhost:8443")
                .webauthn()
                .is_ok()
        );
        assert!(
            RelyingParty::new("https://rampart.example.com")
                .webauthn()
                .is_ok()
        );
    }
}
