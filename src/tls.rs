//! TLS: the default self-signed certificate, and the rustls server configuration
//! (aws-lc-rs provider, TLS 1.2 and 1.3, AEAD suites only).

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::{CryptoProvider, aws_lc_rs};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{CipherSuite, ServerConfig, SupportedCipherSuite};

/// Lifetime of the generated certificate; renewed at start when fewer than 30 days remain.
const GENERATED_VALIDITY_DAYS: i64 = 397;
const RENEW_BEFORE_DAYS: i64 = 30;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    #[error("cannot read TLS {what} {path}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("TLS {what} {path} holds no usable PEM {what}")]
    Pem { what: &'static str, path: PathBuf },
    #[error("TLS certificate and key do not work together: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("cannot write generated certificate to {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot generate certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("cannot parse certificate {0}")]
    Parse(PathBuf),
}

/// Names the generated certificate covers: localhost, loopback and this host's name.
fn default_names() -> Vec<String> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if let Ok(host) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        let host = host.trim();
        if !host.is_empty() && host != "localhost" {
            names.push(host.to_owned());
        }
    }
    names
}

/// Makes the self-signed certificate when it is missing or close to expiry.
/// Returns true when a new one was written.
pub fn ensure_generated(
    cert_path: &Path,
    key_path: &Path,
    now: time::OffsetDateTime,
) -> Result<bool, TlsError> {
    if cert_path.exists() && key_path.exists() {
        let expiry = not_after(cert_path)?;
        if expiry - now > time::Duration::days(RENEW_BEFORE_DAYS) {
            return Ok(false);
        }
    }
    let mut params = rcgen::CertificateParams::new(default_names())?;
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(GENERATED_VALIDITY_DAYS);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Rampart (self-signed)");
    let key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    write_private(key_path, key.serialize_pem().as_bytes())?;
    write_private(cert_path, cert.pem().as_bytes())?;
    Ok(true)
}

fn write_private(path: &Path, contents: &[u8]) -> Result<(), TlsError> {
    let err = |source| TlsError::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(err)?;
    }
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(err)?;
    file.write_all(contents).map_err(err)?;
    file.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_owned(),
        source,
    })
}

/// The certificate's expiry (notAfter) time.
pub fn not_after(cert_path: &Path) -> Result<time::OffsetDateTime, TlsError> {
    let pem = read("certificate", cert_path)?;
    let der = CertificateDer::pem_slice_iter(&pem)
        .next()
        .and_then(Result::ok)
        .ok_or_else(|| TlsError::Pem {
            what: "certificate",
            path: cert_path.to_owned(),
        })?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|_| TlsError::Parse(cert_path.to_owned()))?;
    Ok(cert.validity().not_after.to_datetime())
}

/// AEAD-only suites of the aws-lc-rs provider, TLS 1.3 and TLS 1.2 (ECDHE) alike, in the
/// order the server prefers them: AES-256 first, then AES-128, then ChaCha20.
fn aead_suites(provider: &CryptoProvider) -> Vec<SupportedCipherSuite> {
    const ALLOWED: &[CipherSuite] = &[
        CipherSuite::TLS13_AES_256_GCM_SHA384,
        CipherSuite::TLS13_AES_128_GCM_SHA256,
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ];
    ALLOWED
        .iter()
        .filter_map(|wanted| {
            provider
                .cipher_suites
                .iter()
                .find(|suite| suite.suite() == *wanted)
                .copied()
        })
        .collect()
}

/// Loads the certificate chain and key and builds the server configuration.
pub fn server_config(cert_path: &Path, key_path: &Path) -> Result<ServerConfig, TlsError> {
    let cert_pem = read("certificate", cert_path)?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .ok()
        .filter(|chain: &Vec<_>| !chain.is_empty())
        .ok_or_else(|| TlsError::Pem {
            what: "certificate",
            path: cert_path.to_owned(),
        })?;
    let key_pem = read("key", key_path)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| TlsError::Pem {
        what: "key",
        path: key_path.to_owned(),
    })?;

    let mut provider = aws_lc_rs::default_provider();
    provider.cipher_suites = aead_suites(&provider);
    let mut config = ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // The server's order, strongest first, not whatever a client lists first.
    config.ignore_client_order = true;
    Ok(config)
}
