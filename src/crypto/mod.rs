//! Keys and authenticated encryption at rest.
//!
//! The master key (a file the admin controls) wraps one data key per organization; data keys
//! seal that organization's records. Every seal binds associated data naming where the
//! ciphertext lives, so a ciphertext copied to another row fails to open.

mod master;

pub use master::{MasterKey, MasterKeyError};

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};

/// Format byte leading every sealed value, so the layout can change later.
const SEALED_V1: u8 = 1;
const TAG_LEN: usize = 16;
pub const KEY_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// Wrong key, tampered or truncated ciphertext, or a ciphertext moved to another place.
    #[error("ciphertext failed authentication")]
    Authentication,
    #[error("the system random number generator failed")]
    Random,
}

/// Fills a fresh array from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| CryptoError::Random)?;
    Ok(bytes)
}

/// An AES-256-GCM key with random 96-bit nonces.
///
/// Random nonces are safe up to about 2^32 seals per key (NIST SP 800-38D); each organization
/// has its own key and seals one record per write, far below that.
pub struct SealingKey {
    key: RandomizedNonceKey,
    raw: [u8; KEY_LEN],
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(<redacted>)")
    }
}

impl SealingKey {
    pub fn from_bytes(raw: [u8; KEY_LEN]) -> Result<Self, CryptoError> {
        let key = RandomizedNonceKey::new(&AES_256_GCM, &raw).map_err(|_| CryptoError::Random)?;
        Ok(SealingKey { key, raw })
    }

    pub fn generate() -> Result<Self, CryptoError> {
        Self::from_bytes(random_bytes()?)
    }

    /// `version || nonce || ciphertext || tag`, authenticated together with `aad`.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut body = Vec::with_capacity(plaintext.len() + TAG_LEN);
        body.extend_from_slice(plaintext);
        let nonce = self
            .key
            .seal_in_place_append_tag(Aad::from(aad), &mut body)
            .map_err(|_| CryptoError::Random)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + body.len());
        out.push(SEALED_V1);
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&body);
        Ok(out)
    }

    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (version, rest) = sealed.split_first().ok_or(CryptoError::Authentication)?;
        if *version != SEALED_V1 || rest.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Authentication);
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce =
            Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Authentication)?;
        let mut body = body.to_vec();
        let plain_len = self
            .key
            .open_in_place(nonce, Aad::from(aad), &mut body)
            .map_err(|_| CryptoError::Authentication)?
            .len();
        body.truncate(plain_len);
        Ok(body)
    }

    /// Seals this key under `wrapping` (key wrapping with the same AEAD).
    pub fn wrap(&self, wrapping: &SealingKey, aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        wrapping.seal(aad, &self.raw)
    }

    pub fn unwrap_with(
        wrapping: &SealingKey,
        aad: &[u8],
        wrapped: &[u8],
    ) -> Result<SealingKey, CryptoError> {
        let raw = wrapping.open(aad, wrapped)?;
        let raw: [u8; KEY_LEN] = raw
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::Authentication)?;
        Self::from_bytes(raw)
    }
}

/// Constant-time equality for secrets such as tokens and codes.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// Lower-case hex of `bytes`, for digests and keys kept as text.
/// The bytes a lower- or upper-case hex string spells, if it spells any.
pub fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 digest of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// A reader that hashes (SHA-256) and counts what passes through it.
pub struct HashingReader<R> {
    inner: R,
    hash: aws_lc_rs::digest::Context,
    size: u64,
}

impl<R: std::io::Read> std::io::Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(read) = buf.get(..n) {
            self.hash.update(read);
        }
        self.size += n as u64;
        Ok(n)
    }
}

impl<R> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hash: aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256),
            size: 0,
        }
    }

    /// Bytes read so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes read and their SHA-256 in hex.
    pub fn finish(self) -> (u64, String) {
        (self.size, hex(self.hash.finish().as_ref()))
    }
}

/// A writer that hashes (SHA-256) and counts what passes through it.
pub struct HashingWriter<W> {
    inner: W,
    hash: aws_lc_rs::digest::Context,
    size: u64,
}

impl<W: std::io::Write> std::io::Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        if let Some(written) = buf.get(..n) {
            self.hash.update(written);
        }
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<W> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hash: aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256),
            size: 0,
        }
    }

    /// Bytes written and their SHA-256 in hex.
    pub fn finish(self) -> (u64, String) {
        (self.size, hex(self.hash.finish().as_ref()))
    }
}

/// The identities in an age identity file (as `age-keygen` writes); the error names the
/// file and the problem.
pub fn age_identities(
    path: &std::path::Path,
) -> Result<Vec<Box<dyn age::Identity + Send + Sync>>, String> {
    let file = std::fs::File::open(path).map_err(|err| format!("{}: {err}", path.display()))?;
    age::IdentityFile::from_buffer(std::io::BufReader::new(file))
        .and_then(|f| f.into_identities().map_err(std::io::Error::other))
        .map_err(|err| format!("{}: not an age identity file: {err}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open_round_trips() {
        let key = SealingKey::generate().unwrap();
        let sealed = key.seal(b"table/key", b"secret record").unwrap();
        assert_eq!(key.open(b"table/key", &sealed).unwrap(), b"secret record");
    }

    #[test]
    fn other_aad_truncation_and_other_key_fail() {
        let key = SealingKey::generate().unwrap();
        let sealed = key.seal(b"table/a", b"secret record").unwrap();
        assert!(key.open(b"table/b", &sealed).is_err());
        assert!(key.open(b"table/a", &sealed[..sealed.len() - 1]).is_err());
        assert!(key.open(b"table/a", &sealed[..5]).is_err());
        assert!(key.open(b"table/a", &[]).is_err());
        let other = SealingKey::generate().unwrap();
        assert!(other.open(b"table/a", &sealed).is_err());
    }

    #[test]
    fn same_plaintext_seals_differently() {
        let key = SealingKey::generate().unwrap();
        assert_ne!(key.seal(b"a", b"x").unwrap(), key.seal(b"a", b"x").unwrap());
    }

    #[test]
    fn wrapped_key_unwraps_only_with_same_aad() {
        let master = SealingKey::generate().unwrap();
        let data = SealingKey::generate().unwrap();
        let wrapped = data.wrap(&master, b"org/1").unwrap();
        let back = SealingKey::unwrap_with(&master, b"org/1", &wrapped).unwrap();
        let sealed = data.seal(b"x", b"y").unwrap();
        assert_eq!(back.open(b"x", &sealed).unwrap(), b"y");
        assert!(SealingKey::unwrap_with(&master, b"org/2", &wrapped).is_err());
    }
}
