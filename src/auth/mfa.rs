//! Second factors: TOTP (RFC 6238, 6 digits, 30 s, SHA-1: what authenticator apps expect)
//! with replay protection, and one-time recovery codes stored hashed.

use base64::Engine;
use serde::{Deserialize, Serialize};
use totp_rs::{Builder, Totp};

use super::AuthError;

const SECRET_LEN: usize = 20;
pub const RECOVERY_CODES: usize = 10;
const ISSUER: &str = "Rampart";

/// An account's TOTP state. `last_step` is the newest time step accepted: a code is only
/// taken for a later step, so a code seen once (over a shoulder, in a proxy log) is spent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpState {
    pub secret: Vec<u8>,
    pub last_step: u64,
}

/// Everything second-factor about an account.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MfaState {
    /// Active TOTP, once confirmed.
    pub totp: Option<TotpState>,
    /// A secret shown to the person but not yet confirmed with a code.
    pub pending_totp: Option<Vec<u8>>,
    /// SHA-256 of each unused recovery code.
    pub recovery: Vec<Vec<u8>>,
    /// Registered security keys and passkeys, each named.
    #[serde(default)]
    pub security_keys: Vec<super::security_keys::SecurityKeyRecord>,
}

impl MfaState {
    pub fn enabled(&self) -> bool {
        self.totp.is_some() || !self.security_keys.is_empty()
    }

    /// Fresh recovery codes when the account has none left (first factor added): returns
    /// them to show once, or nothing when the old ones still stand.
    pub fn ensure_recovery_codes(&mut self) -> Result<Vec<String>, AuthError> {
        if !self.recovery.is_empty() {
            return Ok(Vec::new());
        }
        let codes = new_recovery_codes()?;
        self.recovery = codes.iter().map(|c| hash_recovery(c)).collect();
        Ok(codes)
    }
}

fn totp(secret: &[u8]) -> Result<Totp, AuthError> {
    Builder::new()
        .with_secret(secret.to_vec())
        .build()
        .map_err(|err| AuthError::Internal(format!("totp: {err}")))
}

/// The step a code matches within one step either side of `now`, if it is later than
/// `after`.
fn matching_step(
    secret: &[u8],
    code: &str,
    now: i64,
    after: u64,
) -> Result<Option<u64>, AuthError> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        return Ok(None);
    }
    let now = u64::try_from(now).unwrap_or(0);
    Ok(totp(secret)?.check(&code, now).filter(|step| *step > after))
}

/// A new secret for enrolment, and the `otpauth://` URL an app scans.
pub fn new_secret(account_email: &str) -> Result<(Vec<u8>, String, String), AuthError> {
    let secret: [u8; SECRET_LEN] = crate::crypto::random_bytes()?;
    let base32 = base32_encode(&secret);
    let label: String = format!("{ISSUER}:{account_email}")
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' | b':' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect();
    let url = format!(
        "otpauth://totp/{label}?secret={base32}&issuer={ISSUER}&algorithm=SHA1&digits=6&period=30"
    );
    Ok((secret.to_vec(), base32, url))
}

/// The QR code of an `otpauth://` URL, as an SVG `data:` URL an `<img>` shows (the page's
/// CSP allows `data:` images and no script draws it). Dark modules on white with the quiet
/// zone, so phone cameras read it in dark mode too.
pub fn qr_code(url: &str) -> Result<String, AuthError> {
    use base64::Engine;
    let code = qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M)
        .map_err(|err| AuthError::Internal(format!("QR code: {err}")))?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    Ok(format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    ))
}

/// RFC 4648 base32 without padding, as authenticator apps take secrets.
fn base32_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for byte in bytes {
        buffer = (buffer << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            let index = usize::try_from((buffer >> bits) & 31).unwrap_or(0);
            out.push(char::from(*ALPHABET.get(index).unwrap_or(&b'A')));
        }
    }
    if bits > 0 {
        let index = usize::try_from((buffer << (5 - bits)) & 31).unwrap_or(0);
        out.push(char::from(*ALPHABET.get(index).unwrap_or(&b'A')));
    }
    out
}

/// Confirms enrolment with a first code; returns the recovery codes to show once.
pub fn confirm(state: &mut MfaState, code: &str, now: i64) -> Result<Vec<String>, AuthError> {
    let secret = state.pending_totp.clone().ok_or(AuthError::InvalidInput {
        field: "code",
        message: "start TOTP enrolment first".into(),
    })?;
    let step = matching_step(&secret, code, now, 0)?.ok_or(AuthError::InvalidInput {
        field: "code",
        message: "that code is not right; check the time on your device and try the next code"
            .into(),
    })?;
    state.totp = Some(TotpState {
        secret,
        last_step: step,
    });
    state.pending_totp = None;
    let codes = new_recovery_codes()?;
    state.recovery = codes.iter().map(|c| hash_recovery(c)).collect();
    Ok(codes)
}

/// New recovery codes for an account with a second factor; the old ones stop working.
pub fn replace_recovery_codes(state: &mut MfaState) -> Result<Vec<String>, AuthError> {
    if state.totp.is_none() && state.security_keys.is_empty() {
        return Err(AuthError::InvalidInput {
            field: "recovery_codes",
            message: "recovery codes stand in for a second factor: add one first".into(),
        });
    }
    let codes = new_recovery_codes()?;
    state.recovery = codes.iter().map(|c| hash_recovery(c)).collect();
    Ok(codes)
}

fn new_recovery_codes() -> Result<Vec<String>, AuthError> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let bytes: [u8; 10] = crate::crypto::random_bytes()?;
            let text = base32_encode(&bytes).to_lowercase();
            Ok(format!(
                "{}-{}",
                text.get(..8).unwrap_or(""),
                text.get(8..).unwrap_or("")
            ))
        })
        .collect()
}

fn hash_recovery(code: &str) -> Vec<u8> {
    let normalized: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    crate::crypto::sha256(normalized.as_bytes()).to_vec()
}

/// What a person offers as a second factor.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct SecondFactor {
    /// A 6-digit code from the authenticator app.
    pub code: Option<String>,
    /// One of the recovery codes, instead.
    pub recovery_code: Option<String>,
    /// A security key's answer (`PublicKeyCredential.toJSON()`) to the challenge from
    /// `POST /api/v1/auth/mfa/webauthn`, instead.
    #[schema(value_type = Option<Object>)]
    pub webauthn: Option<webauthn_rs::prelude::PublicKeyCredential>,
}

/// Checks a second factor, spending it: a TOTP step or a recovery code works once.
pub fn verify(state: &mut MfaState, factor: &SecondFactor, now: i64) -> Result<bool, AuthError> {
    if let Some(code) = &factor.code
        && let Some(totp) = state.totp.as_mut()
    {
        if let Some(step) = matching_step(&totp.secret, code, now, totp.last_step)? {
            totp.last_step = step;
            return Ok(true);
        }
        return Ok(false);
    }
    if let Some(code) = &factor.recovery_code {
        let hash = hash_recovery(code);
        if let Some(index) = state
            .recovery
            .iter()
            .position(|stored| crate::crypto::constant_time_eq(stored, &hash))
        {
            state.recovery.remove(index);
            return Ok(true);
        }
    }
    Ok(false)
}

/// Encodes bytes for an API response (the secret is also shown as base32).
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_at(secret: &[u8], time: i64) -> String {
        totp(secret).unwrap().generate(time as u64).to_string()
    }

    #[test]
    fn base32_matches_rfc_4648() {
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_encode(b"f"), "MY");
    }

    #[test]
    fn a_code_works_once_and_old_steps_are_refused() {
        let mut state = MfaState {
            pending_totp: Some(vec![7; 20]),
            ..MfaState::default()
        };
        let now = 1_800_000_000;
        let codes = confirm(&mut state, &code_at(&[7; 20], now), now).unwrap();
        assert_eq!(codes.len(), 10);
        // The enrolment step is spent already.
        let same = SecondFactor {
            code: Some(code_at(&[7; 20], now)),
            recovery_code: None,
            webauthn: None,
        };
        assert!(!verify(&mut state, &same, now).unwrap());
        let next = SecondFactor {
            code: Some(code_at(&[7; 20], now + 30)),
            recovery_code: None,
            webauthn: None,
        };
        assert!(verify(&mut state, &next, now + 30).unwrap());
        assert!(!verify(&mut state, &next, now + 31).unwrap(), "replayed");
        let stale = SecondFactor {
            code: Some(code_at(&[7; 20], now)),
            recovery_code: None,
            webauthn: None,
        };
        assert!(!verify(&mut state, &stale, now + 60).unwrap());
        let wrong = SecondFactor {
            code: Some("12345x".into()),
            recovery_code: None,
            webauthn: None,
        };
        assert!(!verify(&mut state, &wrong, now + 90).unwrap());
    }

    #[test]
    fn recovery_codes_work_once() {
        let mut state = MfaState {
            pending_totp: Some(vec![9; 20]),
            ..MfaState::default()
        };
        let codes = confirm(&mut state, &code_at(&[9; 20], 1000), 1000).unwrap();
        let factor = SecondFactor {
            code: None,
            recovery_code: Some(codes[3].to_uppercase()),
            webauthn: None,
        };
        assert!(verify(&mut state, &factor, 2000).unwrap());
        assert!(!verify(&mut state, &factor, 2000).unwrap());
        assert_eq!(state.recovery.len(), 9);
    }
}
