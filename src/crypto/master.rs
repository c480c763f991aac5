//! The master key file: 32 random bytes, base64 on one line, mode 0600.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{CryptoError, KEY_LEN, SealingKey, random_bytes};

const HEADER: &str = "rampart-master-key-v1:";

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MasterKeyError {
    #[error(
        "master key file {0} does not exist; run `rampart init` to create one, or set master_key_file to the key you have"
    )]
    Missing(PathBuf),
    #[error("cannot read master key file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "master key file {0} is not a Rampart master key (expected one line `{HEADER}<base64 of 32 bytes>`)"
    )]
    Malformed(PathBuf),
    #[error("cannot create master key file {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the master key {path} is sealed with systemd-creds and does not open here ({detail}); run this as root on the machine that sealed it"
    )]
    Sealed { path: PathBuf, detail: String },
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

fn sealed_path(path: &Path) -> PathBuf {
    let mut sealed = path.as_os_str().to_owned();
    sealed.push(".cred");
    PathBuf::from(sealed)
}

/// The text of a key file sealed with systemd-creds.
fn unseal(sealed: &Path) -> Result<String, MasterKeyError> {
    let out = std::process::Command::new("systemd-creds")
        .args(["decrypt", "--name=master.key"])
        .arg(sealed)
        .arg("-")
        .output()
        .map_err(|source| MasterKeyError::Read {
            path: sealed.to_owned(),
            source,
        })?;
    if !out.status.success() {
        return Err(MasterKeyError::Sealed {
            path: sealed.to_owned(),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    String::from_utf8(out.stdout).map_err(|_| MasterKeyError::Malformed(sealed.to_owned()))
}

/// The key that wraps every organization's data key.
#[derive(Debug)]
pub struct MasterKey(SealingKey);

impl MasterKey {
    /// The key file's text (what a backup carries), from `path` or unsealed from
    /// `<path>.cred`.
    pub fn file_text(path: &Path) -> Result<String, MasterKeyError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(text),
            Err(source) if source.kind() == std::io::ErrorKind::NotFound => {
                let sealed = sealed_path(path);
                if !sealed.exists() {
                    return Err(MasterKeyError::Missing(path.to_owned()));
                }
                unseal(&sealed)
            }
            Err(source) => Err(MasterKeyError::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Whether a key is at `path`, as a file or sealed beside it (`<path>.cred`).
    pub fn present(path: &Path) -> bool {
        path.exists() || sealed_path(path).exists()
    }

    /// Reads the key file at `path`; where only `<path>.cred` exists (the key sealed with
    /// systemd-creds by the package), decrypts that with `systemd-creds decrypt`, which
    /// works for root on the machine it was sealed on.
    pub fn load(path: &Path) -> Result<MasterKey, MasterKeyError> {
        let text = MasterKey::file_text(path)?;
        MasterKey::from_text(&text)?.ok_or_else(|| MasterKeyError::Malformed(path.to_owned()))
    }

    /// The key in a key file's text; `None` when it is not one.
    pub fn from_text(text: &str) -> Result<Option<MasterKey>, MasterKeyError> {
        let raw: Option<[u8; KEY_LEN]> = text
            .trim()
            .strip_prefix(HEADER)
            .and_then(|encoded| STANDARD.decode(encoded).ok())
            .and_then(|bytes| bytes.try_into().ok());
        match raw {
            Some(raw) => Ok(Some(MasterKey(SealingKey::from_bytes(raw)?))),
            None => Ok(None),
        }
    }

    /// Writes a new random key to `path`, which must not exist yet.
    pub fn create(path: &Path) -> Result<MasterKey, MasterKeyError> {
        let create_err = |source| MasterKeyError::Create {
            path: path.to_owned(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(create_err)?;
        }
        let raw: [u8; KEY_LEN] = random_bytes()?;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(create_err)?;
        // The mode passed to open() is filtered by the umask; set it explicitly.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(create_err)?;
        writeln!(file, "{HEADER}{}", STANDARD.encode(raw)).map_err(create_err)?;
        file.sync_all().map_err(create_err)?;
        Ok(MasterKey(SealingKey::from_bytes(raw)?))
    }

    pub fn sealing_key(&self) -> &SealingKey {
        &self.0
    }
}
