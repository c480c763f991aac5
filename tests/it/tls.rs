//! TLS: 1.2 and 1.3 with AEAD suites only, no older versions, no plaintext.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{TestEnv, client_tls_versions};

fn client_with(
    env: &TestEnv,
    version: &'static rustls::SupportedProtocolVersion,
) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .use_preconfigured_tls(client_tls_versions(&env.cert_path(), &[version]))
        .build()
        .unwrap()
}

/// `openssl s_client` with extra flags; true when a handshake completed.
fn openssl_handshake(addr: std::net::SocketAddr, flags: &[&str]) -> bool {
    let text = openssl_session(addr, flags);
    // A completed handshake prints the negotiated cipher; a refused one prints "(NONE)".
    text.contains("Cipher is ") && !text.contains("Cipher is (NONE)")
}

/// What `openssl s_client` with extra flags printed.
fn openssl_session(addr: std::net::SocketAddr, flags: &[&str]) -> String {
    let mut child = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &addr.to_string(),
            "-servername",
            "localhost",
        ])
        .args(flags)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl (installed by scripts/test)");
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_servers_cipher_order_wins_strongest_first() {
    let env = TestEnv::new();
    let server = env.serve();
    // A client that prefers the weaker suites still gets AES-256 on TLS 1.2.
    let weakest_first = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:\
                         ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:\
                         ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384";
    let text = openssl_session(server.addr, &["-tls1_2", "-cipher", weakest_first]);
    assert!(text.contains("AES256-GCM-SHA384"), "{text}");
    // And on TLS 1.3.
    let text = openssl_session(
        server.addr,
        &[
            "-tls1_3",
            "-ciphersuites",
            "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384",
        ],
    );
    assert!(text.contains("TLS_AES_256_GCM_SHA384"), "{text}");
}

#[test]
fn tls12_and_tls13_work() {
    let env = TestEnv::new();
    let server = env.serve();
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let response = client_with(&env, version)
            .get(server.url("/healthz"))
            .send()
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    assert!(openssl_handshake(server.addr, &["-tls1_3"]));
    assert!(openssl_handshake(
        server.addr,
        &["-tls1_2", "-cipher", "ECDHE+AESGCM"]
    ));
}

#[test]
fn old_versions_and_non_aead_suites_are_refused() {
    let env = TestEnv::new();
    let server = env.serve();
    // Sanity: the probe itself can succeed, so the refusals below mean something.
    assert!(openssl_handshake(server.addr, &["-tls1_2"]));
    assert!(!openssl_handshake(
        server.addr,
        &["-tls1_1", "-cipher", "ALL:@SECLEVEL=0"]
    ));
    assert!(!openssl_handshake(
        server.addr,
        &["-tls1", "-cipher", "ALL:@SECLEVEL=0"]
    ));
    for cbc in [
        "ECDHE-RSA-AES128-SHA",
        "ECDHE-ECDSA-AES128-SHA",
        "AES128-SHA",
        "ECDHE-ECDSA-AES128-SHA256",
    ] {
        assert!(
            !openssl_handshake(server.addr, &["-tls1_2", "-cipher", cbc]),
            "{cbc} accepted"
        );
    }
}

#[test]
fn plaintext_http_gets_no_http_answer() {
    let env = TestEnv::new();
    let server = env.serve();
    let mut tcp = TcpStream::connect(server.addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut buf = Vec::new();
    let _ = tcp.read_to_end(&mut buf);
    assert!(
        !String::from_utf8_lossy(&buf).contains("HTTP/1.1 200"),
        "served over plaintext"
    );
    assert!(
        !String::from_utf8_lossy(&buf).contains("status"),
        "served over plaintext"
    );
}

#[test]
fn generated_certificate_names_localhost_and_loopback() {
    let env = TestEnv::new();
    let server = env.serve();
    let client = crate::harness::pinned_client(&env.cert_path());
    let by_name = client
        .get(format!("https://localhost:{}/healthz", server.addr.port()))
        .send()
        .unwrap();
    assert_eq!(by_name.status(), 200);
}
