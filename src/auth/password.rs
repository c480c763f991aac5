//! Passwords: policy, and PBKDF2-HMAC-SHA512 hashing off the async executor with bounded
//! concurrency, so a storm of sign-ins cannot starve page serving.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::{Arc, OnceLock};

use aws_lc_rs::pbkdf2;
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use tokio::sync::Semaphore;

use super::AuthError;

/// Iterations for new hashes: above OWASP's 210,000 floor for PBKDF2-HMAC-SHA512. Stored
/// hashes with fewer are rehashed at the next successful sign-in.
pub const ITERATIONS: u32 = 210_000;
const SALT_LEN: usize = 16;
const HASH_LEN: usize = 64;
const SCHEME: &str = "pbkdf2-sha512";
pub const MIN_CHARS: usize = 12;
pub const MAX_CHARS: usize = 128;
/// zxcvbn score a password must reach: 3 ("safely unguessable", about 10^10 guesses).
const MIN_SCORE: u8 = 3;

/// A password in memory: never printed.
#[derive(Clone, serde::Deserialize)]
#[serde(transparent)]
pub struct Password(String);

impl Password {
    pub fn new(text: impl Into<String>) -> Password {
        Password(text.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Checks length and strength; `context` holds words a guesser would try first (the
/// e-mail address, the name).
pub fn check_policy(password: &Password, context: &[&str]) -> Result<(), AuthError> {
    let chars = password.0.chars().count();
    if !(MIN_CHARS..=MAX_CHARS).contains(&chars) {
        return Err(AuthError::WeakPassword(format!(
            "a password must be {MIN_CHARS} to {MAX_CHARS} characters long"
        )));
    }
    let entropy = zxcvbn::zxcvbn(&password.0, context);
    if (entropy.score() as u8) < MIN_SCORE {
        let hint = entropy
            .feedback()
            .and_then(|f| f.warning().map(|w| w.to_string()))
            .unwrap_or_else(|| "it is too easy to guess".to_owned());
        return Err(AuthError::WeakPassword(format!(
            "that password is too weak: {hint}; a few unrelated words make a strong one"
        )));
    }
    Ok(())
}

/// `pbkdf2-sha512$<iterations>$<salt b64>$<hash b64>`
fn hash_blocking(password: &str, iterations: u32) -> Result<String, AuthError> {
    let salt: [u8; SALT_LEN] = crate::crypto::random_bytes()?;
    let rounds =
        NonZeroU32::new(iterations).ok_or(AuthError::Internal("zero iterations".into()))?;
    let mut out = [0u8; HASH_LEN];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA512,
        rounds,
        &salt,
        password.as_bytes(),
        &mut out,
    );
    Ok(format!(
        "{SCHEME}${iterations}${}${}",
        B64.encode(salt),
        B64.encode(out)
    ))
}

struct Parsed {
    iterations: NonZeroU32,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

fn parse(stored: &str) -> Option<Parsed> {
    let mut parts = stored.split('$');
    if parts.next()? != SCHEME {
        return None;
    }
    let iterations = NonZeroU32::new(parts.next()?.parse().ok()?)?;
    let salt = B64.decode(parts.next()?).ok()?;
    let hash = B64.decode(parts.next()?).ok()?;
    (parts.next().is_none() && hash.len() == HASH_LEN).then_some(Parsed {
        iterations,
        salt,
        hash,
    })
}

/// Constant-time check of `password` against a stored hash.
fn verify_blocking(password: &str, stored: &str) -> bool {
    let Some(parsed) = parse(stored) else {
        return false;
    };
    pbkdf2::verify(
        pbkdf2::PBKDF2_HMAC_SHA512,
        parsed.iterations,
        &parsed.salt,
        password.as_bytes(),
        &parsed.hash,
    )
    .is_ok()
}

/// Hashes on the calling thread, for operator commands that already run off the executor.
pub fn hash_now(password: &Password) -> Result<String, AuthError> {
    hash_blocking(&password.0, ITERATIONS)
}

/// True when `stored` was made with weaker parameters than today's.
pub fn needs_rehash(stored: &str) -> bool {
    parse(stored).is_none_or(|p| p.iterations.get() < ITERATIONS)
}

/// Runs hashing on the blocking pool, at most `permits` at a time.
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    iterations: u32,
    /// A real hash of a random password: verifying an unknown account against it costs the
    /// same as a real check, so the two answers cannot be told apart by time. Made on a
    /// background thread at start so it does not delay readiness.
    dummy: Arc<OnceLock<String>>,
}

fn make_dummy() -> String {
    let random: [u8; 16] = crate::crypto::random_bytes().unwrap_or([7; 16]);
    hash_blocking(&B64.encode(random), ITERATIONS).unwrap_or_default()
}

impl Hasher {
    pub fn new(concurrency: usize) -> Hasher {
        let dummy = Arc::new(OnceLock::new());
        let filler = dummy.clone();
        std::thread::spawn(move || {
            filler.get_or_init(make_dummy);
        });
        Hasher {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            iterations: ITERATIONS,
            dummy,
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AuthError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| AuthError::Internal("hasher closed".into()))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|_| AuthError::Internal("hashing task failed".into()))
    }

    pub async fn hash(&self, password: &Password) -> Result<String, AuthError> {
        let password = password.0.clone();
        let iterations = self.iterations;
        self.run(move || hash_blocking(&password, iterations))
            .await?
    }

    /// Verifies against `stored`, or against the dummy hash when there is no account, so
    /// both cases take the same time.
    pub async fn verify(
        &self,
        password: &Password,
        stored: Option<&str>,
    ) -> Result<bool, AuthError> {
        let password = password.0.clone();
        let stored = stored.map(str::to_owned);
        let dummy = self.dummy.clone();
        let real = stored.is_some();
        let matched = self
            .run(move || {
                let target = stored.unwrap_or_else(|| dummy.get_or_init(make_dummy).clone());
                verify_blocking(&password, &target)
            })
            .await?;
        Ok(matched && real)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verifies_and_rejects() {
        let stored = hash_blocking("correct horse battery staple", 1000).unwrap();
        assert!(stored.starts_with("pbkdf2-sha512$1000$"));
        assert!(verify_blocking("correct horse battery staple", &stored));
        assert!(!verify_blocking("correct horse battery stapler", &stored));
        assert!(!verify_blocking("x", "garbage"));
        assert!(needs_rehash(&stored));
        assert!(!needs_rehash(&hash_blocking("a", ITERATIONS).unwrap()));
    }

    #[test]
    fn policy_rejects_short_long_and_weak() {
        let check = |p: &str| check_policy(&Password::new(p), &["alice@example.com", "Alice"]);
        assert!(check("short").is_err());
        assert!(check(&"x".repeat(129)).is_err());
        assert!(check("password1234").is_err());
        assert!(check("alice@example.com").is_err());
        assert!(check("quartz-lantern-mosaic-47").is_ok());
    }

    #[test]
    fn debug_never_shows_password() {
        assert!(!format!("{:?}", Password::new("hunter2hunter2")).contains("hunter2"));
    }
}
