//! The evidence vault through the real server: streamed, encrypted uploads checked by their
//! hash, versions, sniffed types, size and quota limits, cut-off uploads, share links for
//! people without an account, the bin, review dates feeding drift, other tenants, and
//! damaged blobs that are never served as good (`rampart evidence verify` names them).

use std::collections::BTreeSet;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::blocking::Response;
use rustls::pki_types::ServerName;
use serde_json::{Value, json};

use crate::harness::{TestEnv, TestServer, client_tls, stderr, stdout};
use crate::identity::{ADMIN_EMAIL, ADMIN_PASSWORD, Session, create_user, origin, send, set_up};

const PASSWORD: &str = "velvet orbit canyon 93 drift";

/// The blob file layout of the contract: a 16-byte header (`RAMPBLOB`, version 1, nonce
/// prefix), then chunks of 64 KiB plaintext each sealed with a 16-byte tag.
const HEADER: u64 = 16;
const CHUNK: u64 = 65_536;
const TAG: u64 = 16;
const SEALED: u64 = CHUNK + TAG;
/// 200 KiB: three full chunks and a short last one.
const BIG: usize = 204_800;

fn ok_json(response: Response) -> Value {
    let status = response.status();
    let text = response.text().unwrap();
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

pub(crate) fn created(response: Response) -> Value {
    let status = response.status();
    let text = response.text().unwrap();
    assert_eq!(status, 201, "{text}");
    serde_json::from_str(&text).unwrap()
}

fn error_of(response: Response, status: u16) -> Value {
    let got = response.status().as_u16();
    let text = response.text().unwrap();
    assert_eq!(got, status, "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    body["error"].clone()
}

fn signed_in_with(config: &str) -> (TestEnv, TestServer, Session, String) {
    let env = TestEnv::with_config(config);
    let server = env.serve();
    let org = set_up(&server);
    let session = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    (env, server, session, org)
}

fn signed_in() -> (TestEnv, TestServer, Session, String) {
    signed_in_with("")
}

/// Another organization, Initech, and its owner signed in.
fn stranger(env: &TestEnv, server: &TestServer) -> (String, Session) {
    let org = crate::matrix::create_org(env, "Initech");
    create_user(env, "owner@initech.example", PASSWORD, &org, "owner");
    (
        org,
        Session::login(server, "owner@initech.example", PASSWORD),
    )
}

/// A new account with `role` in `org`, signed in.
fn join(env: &TestEnv, server: &TestServer, org: &str, email: &str, role: &str) -> Session {
    create_user(env, email, PASSWORD, org, role);
    Session::login(server, email, PASSWORD)
}

fn account_id(server: &TestServer, session: &Session) -> String {
    let me = ok_json(session.get(server, "/api/v1/me"));
    me["account"]["id"].as_str().unwrap().to_owned()
}

fn sha256_hex(bytes: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A small, well-formed PDF; `note` makes each one different.
pub(crate) fn pdf(note: &str) -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    bytes.extend_from_slice(
        format!(
            "1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n\
             2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n\
             % {note}\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
        )
        .as_bytes(),
    );
    bytes
}

/// `len` bytes of ASCII log text, each line naming `seed`.
fn text(len: usize, seed: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 80);
    let mut line = 0u64;
    while out.len() < len {
        out.extend_from_slice(format!("{seed} line {line:06}: account reviewed\n").as_bytes());
        line += 1;
    }
    out.truncate(len);
    out
}

/// A 1x1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0b, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x60, 0x00, 0x02, 0x00,
    0x00, 0x05, 0x00, 0x01, 0x7a, 0x5e, 0xab, 0x3f, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44,
    0xae, 0x42, 0x60, 0x82,
];

fn evidence_path(org: &str) -> String {
    format!("/api/v1/orgs/{org}/evidence")
}

/// POSTs `bytes` as the raw request body, as uploads are sent, with `query` in the URL.
pub(crate) fn post_file(
    server: &TestServer,
    session: &Session,
    path: &str,
    query: &[(&str, &str)],
    bytes: &[u8],
) -> Response {
    server
        .client
        .post(server.url(path))
        .query(query)
        .header("origin", origin(server))
        .header("cookie", &session.cookie)
        .header("x-csrf-token", &session.csrf)
        .header("content-type", "application/octet-stream")
        .body(bytes.to_vec())
        .send()
        .unwrap()
}

/// Like [`post_file`], but streamed without a Content-Length (chunked), so that a limit can
/// only be found by counting what arrives.
fn post_streamed(
    server: &TestServer,
    session: &Session,
    path: &str,
    query: &[(&str, &str)],
    bytes: &[u8],
) -> Response {
    server
        .client
        .post(server.url(path))
        .query(query)
        .header("origin", origin(server))
        .header("cookie", &session.cookie)
        .header("x-csrf-token", &session.csrf)
        .header("content-type", "application/octet-stream")
        .body(reqwest::blocking::Body::new(std::io::Cursor::new(
            bytes.to_vec(),
        )))
        .send()
        .unwrap()
}

/// Uploads a new piece of evidence; returns it (201).
pub(crate) fn upload(
    server: &TestServer,
    session: &Session,
    org: &str,
    filename: &str,
    bytes: &[u8],
) -> Value {
    created(post_file(
        server,
        session,
        &evidence_path(org),
        &[("filename", filename)],
        bytes,
    ))
}

fn delete(server: &TestServer, session: &Session, path: &str) -> Response {
    server
        .client
        .delete(server.url(path))
        .header("origin", origin(server))
        .header("cookie", &session.cookie)
        .header("x-csrf-token", &session.csrf)
        .send()
        .unwrap()
}

fn list(server: &TestServer, session: &Session, org: &str, query: &str) -> Value {
    ok_json(session.get(server, &format!("{}{query}", evidence_path(org))))
}

fn ids(listed: &Value) -> Vec<String> {
    listed["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
        .to_owned()
}

/// The body of a successful download.
fn downloaded(response: Response) -> Vec<u8> {
    let status = response.status();
    if status != 200 {
        panic!("download answered {status}: {}", response.text().unwrap());
    }
    response.bytes().unwrap().to_vec()
}

/// Byte-for-byte equality without printing megabytes when it fails.
fn assert_same(got: &[u8], want: &[u8], what: &str) {
    assert!(
        got == want,
        "{what}: got {} bytes (sha256 {}), want {} bytes (sha256 {})",
        got.len(),
        sha256_hex(got),
        want.len(),
        sha256_hex(want)
    );
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The organization's entries for `action` in its audit log, newest first.
fn audit(server: &TestServer, owner: &Session, org: &str, action: &str) -> Vec<Value> {
    let log = ok_json(owner.get(server, &format!("/api/v1/orgs/{org}/audit?action={action}")));
    log.as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == action)
        .cloned()
        .collect()
}

fn evidence_dir(env: &TestEnv) -> PathBuf {
    env.data_dir().join("evidence")
}

/// Every regular file under `dir`, recursively (nothing when `dir` does not exist).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries {
        let entry = entry.unwrap();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            found.extend(files_under(&entry.path()));
        } else if kind.is_file() {
            found.push(entry.path());
        }
    }
    found.sort();
    found
}

/// The organization's blob files: `<data_dir>/evidence/<org_id>/*.blob`.
fn blobs(env: &TestEnv, org: &str) -> BTreeSet<PathBuf> {
    files_under(&evidence_dir(env).join(org))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "blob"))
        .collect()
}

/// The one blob that is in the organization's directory now but was not in `before`.
fn new_blob(env: &TestEnv, org: &str, before: &BTreeSet<PathBuf>) -> PathBuf {
    let after = blobs(env, org);
    let new: Vec<&PathBuf> = after.difference(before).collect();
    assert_eq!(
        new.len(),
        1,
        "one new blob expected under {}: {new:?} (all files: {:?})",
        evidence_dir(env).display(),
        files_under(&evidence_dir(env))
    );
    new[0].clone()
}

/// The size on disk of a blob holding `len` plaintext bytes, `len` not a multiple of 64 KiB.
fn blob_len(len: usize) -> u64 {
    let len = len as u64;
    assert_ne!(len % CHUNK, 0);
    HEADER + (len / CHUNK) * SEALED + (len % CHUNK) + TAG
}

fn open_for_change(path: &Path) -> std::fs::File {
    use std::os::unix::fs::PermissionsExt;
    // The server may keep blobs read-only; the test owns them all the same.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap()
}

fn flip_byte(path: &Path, offset: u64) {
    let mut file = open_for_change(path);
    let mut byte = [0u8; 1];
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.read_exact(&mut byte).unwrap();
    byte[0] ^= 0x01;
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.write_all(&byte).unwrap();
    file.sync_all().unwrap();
}

fn truncate(path: &Path, len: u64) {
    let file = open_for_change(path);
    file.set_len(len).unwrap();
    file.sync_all().unwrap();
}

/// Swaps the sealed chunks `a` and `b` (both full chunks) in place.
fn swap_chunks(path: &Path, a: u64, b: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    let (a, b) = (
        (HEADER + a * SEALED) as usize,
        (HEADER + b * SEALED) as usize,
    );
    let sealed = SEALED as usize;
    assert!(a + sealed <= b && b + sealed <= bytes.len());
    let first = bytes[a..a + sealed].to_vec();
    let second = bytes[b..b + sealed].to_vec();
    bytes[a..a + sealed].copy_from_slice(&second);
    bytes[b..b + sealed].copy_from_slice(&first);
    let mut file = open_for_change(path);
    file.write_all(&bytes).unwrap();
    file.sync_all().unwrap();
}

/// Waits (up to 10 s) until `check` holds.
fn wait_until(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A download of a damaged blob fails: an error status, or a body cut off before the
/// Content-Length it declared; never the original in full.
fn assert_not_served_whole(response: Response, original: &[u8], what: &str) {
    let status = response.status();
    if !status.is_success() {
        assert!(status.is_server_error(), "{what}: answered {status}");
        return;
    }
    // Streamed as it is decrypted: the whole length is declared up front, so a client can
    // tell when the connection is cut before it.
    assert_eq!(
        header(&response, "content-length"),
        original.len().to_string(),
        "{what}"
    );
    if let Ok(body) = response.bytes() {
        assert!(
            body.len() < original.len(),
            "{what}: all {} bytes served with status {status} and no error",
            body.len()
        );
    }
}

/// Metadata for a PUT: every field, most empty.
fn metadata(title: &str) -> Value {
    json!({"title": title, "description": "", "owner": null, "tags": [], "requirements": [],
           "objectives": [], "effective": null, "review_by": null})
}

type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

fn raw_tls(env: &TestEnv, server: &TestServer) -> TlsStream {
    let config = Arc::new(client_tls(&env.cert_path()));
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(config, name).unwrap();
    let tcp = TcpStream::connect(server.addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

#[test]
fn a_pdf_uploads_and_downloads_byte_for_byte_with_its_hash_and_type() {
    let (_env, server, owner, org) = signed_in();
    let before = list(&server, &owner, &org, "");
    assert!(ids(&before).is_empty());
    assert_eq!(before["usage"]["used_bytes"], 0);
    assert_eq!(before["usage"]["quota_bytes"], 10_737_418_240u64);
    assert_eq!(before["usage"]["max_file_bytes"], 2_147_483_648u64);

    let bytes = pdf("System security plan, version 1");
    let evidence = created(post_file(
        &server,
        &owner,
        &evidence_path(&org),
        &[("filename", "ssp.pdf"), ("title", "System security plan")],
        &bytes,
    ));
    let me = account_id(&server, &owner);
    let current = &evidence["current"];
    assert_eq!(current["number"], 1);
    assert_eq!(current["filename"], "ssp.pdf");
    assert_eq!(current["media_type"], "application/pdf");
    assert_eq!(current["size"], bytes.len() as u64);
    assert_eq!(current["sha256"], sha256_hex(&bytes).as_str());
    assert_eq!(current["uploaded_by"], me.as_str());
    assert_eq!(evidence["title"], "System security plan");
    assert_eq!(evidence["created_by"], me.as_str());
    assert!(evidence["deleted_at"].is_null());
    assert_eq!(evidence["versions"].as_array().unwrap().len(), 1);
    assert_eq!(evidence["versions"][0], *current);
    let id = evidence["id"].as_str().unwrap().to_owned();
    let base = format!("{}/{id}", evidence_path(&org));

    // Back again: the same bytes, as an attachment of the recorded type, with its length.
    let response = owner.get(&server, &format!("{base}/download"));
    assert_eq!(response.status(), 200);
    let disposition = header(&response, "content-disposition");
    assert!(disposition.starts_with("attachment"), "{disposition}");
    assert!(
        disposition.contains("filename=\"ssp.pdf\""),
        "{disposition}"
    );
    assert!(header(&response, "content-type").starts_with("application/pdf"));
    assert_eq!(header(&response, "x-content-type-options"), "nosniff");
    assert_eq!(header(&response, "content-length"), bytes.len().to_string());
    assert_same(&downloaded(response), &bytes, "download");
    // A PDF is no inline preview: still an attachment.
    let response = owner.get(&server, &format!("{base}/download?inline=1"));
    assert_eq!(response.status(), 200);
    let disposition = header(&response, "content-disposition");
    assert!(disposition.starts_with("attachment"), "{disposition}");

    let one = ok_json(owner.get(&server, &base));
    assert_eq!(one["id"], id.as_str());
    assert_eq!(one["current"]["sha256"], sha256_hex(&bytes).as_str());

    let after = list(&server, &owner, &org, "");
    assert_eq!(ids(&after), vec![id.clone()]);
    let used = after["usage"]["used_bytes"].as_u64().unwrap();
    assert!(used >= bytes.len() as u64, "used_bytes {used}");

    assert_eq!(audit(&server, &owner, &org, "evidence.upload").len(), 1);
    assert!(!audit(&server, &owner, &org, "evidence.download").is_empty());
}

#[test]
fn a_new_version_keeps_the_old_one_downloadable() {
    let (_env, server, owner, org) = signed_in();
    let first = pdf("Incident response plan, 2025");
    let second = pdf("Incident response plan, 2026, with the new call tree");
    let evidence = upload(&server, &owner, &org, "irp.pdf", &first);
    let id = evidence["id"].as_str().unwrap().to_owned();
    let base = format!("{}/{id}", evidence_path(&org));

    let updated = created(post_file(
        &server,
        &owner,
        &format!("{base}/versions"),
        &[("filename", "irp-2026.pdf")],
        &second,
    ));
    assert_eq!(updated["id"], id.as_str());
    assert_eq!(updated["current"]["number"], 2);
    assert_eq!(updated["current"]["sha256"], sha256_hex(&second).as_str());
    let numbers: Vec<u64> = updated["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, vec![2, 1], "newest first");

    let versions = ok_json(owner.get(&server, &format!("{base}/versions")));
    let versions = versions["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["number"], 2);
    assert_eq!(versions[0]["filename"], "irp-2026.pdf");
    assert_eq!(versions[0]["sha256"], sha256_hex(&second).as_str());
    assert_eq!(versions[1]["number"], 1);
    assert_eq!(versions[1]["filename"], "irp.pdf");
    assert_eq!(versions[1]["sha256"], sha256_hex(&first).as_str());
    assert_eq!(versions[1]["size"], first.len() as u64);

    let response = owner.get(&server, &format!("{base}/versions/1/download"));
    assert!(header(&response, "content-disposition").contains("filename=\"irp.pdf\""));
    assert_same(&downloaded(response), &first, "version 1");
    assert_same(
        &downloaded(owner.get(&server, &format!("{base}/versions/2/download"))),
        &second,
        "version 2",
    );
    assert_same(
        &downloaded(owner.get(&server, &format!("{base}/download"))),
        &second,
        "current",
    );
    assert_eq!(
        owner
            .get(&server, &format!("{base}/versions/3/download"))
            .status(),
        404
    );
    assert_eq!(ids(&list(&server, &owner, &org, "")), vec![id]);
    assert_eq!(audit(&server, &owner, &org, "evidence.version").len(), 1);
}

#[test]
fn blobs_on_disk_hold_no_plaintext() {
    let (env, server, owner, org) = signed_in();
    let marker = "CUI//SP-CTI firewall export 7f3a9c";
    let mut bytes = Vec::new();
    for rule in 0..20 {
        bytes.extend_from_slice(format!("{marker} rule {rule}: allow 443/tcp\n").as_bytes());
    }
    assert!(bytes.len() < CHUNK as usize);
    let first = upload(&server, &owner, &org, "firewall.txt", &bytes);
    let blob = new_blob(&env, &org, &BTreeSet::new());

    let stored = std::fs::read(blob).unwrap();
    assert_eq!(&stored[..8], b"RAMPBLOB");
    assert_eq!(stored[8], 1, "format version");
    assert_eq!(
        stored.len() as u64,
        HEADER + bytes.len() as u64 + TAG,
        "one short last chunk"
    );
    // Not in the blob, nor anywhere else under the data dir (temp files, the store).
    for file in files_under(&env.data_dir()) {
        let Ok(content) = std::fs::read(&file) else {
            continue;
        };
        assert!(
            !contains(&content, marker.as_bytes()),
            "plaintext in {}",
            file.display()
        );
    }

    // The same bytes again: a different key and nonce, so a different blob.
    let before = blobs(&env, &org);
    let second = upload(&server, &owner, &org, "firewall-copy.txt", &bytes);
    assert_eq!(second["current"]["sha256"], first["current"]["sha256"]);
    let other = std::fs::read(new_blob(&env, &org, &before)).unwrap();
    assert_eq!(other.len(), stored.len());
    assert!(
        other[HEADER as usize..] != stored[HEADER as usize..],
        "two uploads sealed alike"
    );
}

#[test]
fn a_file_over_the_size_limit_gets_413_and_leaves_nothing() {
    let (env, server, owner, org) = signed_in_with("evidence_max_file_bytes = 200000");
    assert_eq!(
        list(&server, &owner, &org, "")["usage"]["max_file_bytes"],
        200_000
    );
    let too_big = text(250_000, "oversize");
    let path = evidence_path(&org);
    let query = [("filename", "big.log")];

    // Declared in Content-Length, and streamed without one (counted as it arrives).
    let error = error_of(post_file(&server, &owner, &path, &query, &too_big), 413);
    assert_eq!(error["code"], "payload_too_large");
    let error = error_of(post_streamed(&server, &owner, &path, &query, &too_big), 413);
    assert_eq!(error["code"], "payload_too_large");
    wait_until("no evidence file is left", || {
        files_under(&evidence_dir(&env)).is_empty()
    });
    let listed = list(&server, &owner, &org, "");
    assert!(ids(&listed).is_empty(), "{listed}");
    assert_eq!(listed["usage"]["used_bytes"], 0);

    // Exactly the limit is allowed.
    let at_limit = text(200_000, "at the limit");
    let evidence = upload(&server, &owner, &org, "limit.log", &at_limit);
    assert_eq!(evidence["current"]["size"], 200_000);
    assert_eq!(
        evidence["current"]["sha256"],
        sha256_hex(&at_limit).as_str()
    );

    // A new version over the limit is refused too; version 1 stays current.
    let id = evidence["id"].as_str().unwrap();
    let versions = format!("{path}/{id}/versions");
    let error = error_of(
        post_streamed(&server, &owner, &versions, &query, &too_big),
        413,
    );
    assert_eq!(error["code"], "payload_too_large");
    let one = ok_json(owner.get(&server, &format!("{path}/{id}")));
    assert_eq!(one["current"]["number"], 1);
    assert_eq!(one["versions"].as_array().unwrap().len(), 1);
    wait_until("only the one good blob is left", || {
        files_under(&evidence_dir(&env)).len() == 1
    });
    assert_eq!(blobs(&env, &org).len(), 1);
}

#[test]
fn an_upload_over_the_quota_gets_507_and_leaves_nothing() {
    let (env, server, owner, org) = signed_in_with("evidence_quota_bytes = 300000");
    let first = upload(&server, &owner, &org, "first.log", &text(200_000, "first"));
    let id = first["id"].as_str().unwrap().to_owned();
    let usage = list(&server, &owner, &org, "")["usage"].clone();
    assert_eq!(usage["quota_bytes"], 300_000);
    let used = usage["used_bytes"].as_u64().unwrap();
    assert!(used >= 200_000, "{usage}");

    let second = text(200_000, "second");
    let path = evidence_path(&org);
    let query = [("filename", "second.log")];
    let error = error_of(post_file(&server, &owner, &path, &query, &second), 507);
    assert_eq!(error["code"], "quota_exceeded");
    let error = error_of(post_streamed(&server, &owner, &path, &query, &second), 507);
    assert_eq!(error["code"], "quota_exceeded");
    // A new version counts against the quota as well.
    let error = error_of(
        post_streamed(
            &server,
            &owner,
            &format!("{path}/{id}/versions"),
            &query,
            &second,
        ),
        507,
    );
    assert_eq!(error["code"], "quota_exceeded");

    wait_until("only the first blob is left", || {
        files_under(&evidence_dir(&env)).len() == 1
    });
    let listed = list(&server, &owner, &org, "");
    assert_eq!(ids(&listed), vec![id.clone()]);
    assert_eq!(listed["usage"]["used_bytes"], used);
    let one = ok_json(owner.get(&server, &format!("{path}/{id}")));
    assert_eq!(one["versions"].as_array().unwrap().len(), 1);

    // What still fits goes in.
    upload(&server, &owner, &org, "small.log", &text(50_000, "small"));
    assert_eq!(ids(&list(&server, &owner, &org, "")).len(), 2);
}

#[test]
fn an_executable_named_pdf_is_refused_naming_what_it_is() {
    let (env, server, owner, org) = signed_in();
    let mut elf = b"\x7fELF\x02\x01\x01\x00".to_vec();
    elf.resize(4096, 0);
    elf[16] = 2; // ET_EXEC
    elf[18] = 0x3e; // x86-64
    for name in ["report.pdf", "report.txt"] {
        let error = error_of(
            post_file(
                &server,
                &owner,
                &evidence_path(&org),
                &[("filename", name)],
                &elf,
            ),
            415,
        );
        assert_eq!(error["code"], "unsupported_type", "{name}");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains("ELF"), "{name}: {message}");
    }
    // A Windows executable dressed as a Word document.
    let mut exe = b"MZ\x90\x00\x03\x00\x00\x00".to_vec();
    exe.resize(512, 0);
    exe[0x3c] = 0x80;
    exe.extend_from_slice(b"PE\0\0");
    exe.resize(1024, 0);
    let error = error_of(
        post_file(
            &server,
            &owner,
            &evidence_path(&org),
            &[("filename", "policy.docx")],
            &exe,
        ),
        415,
    );
    assert_eq!(error["code"], "unsupported_type");

    assert!(ids(&list(&server, &owner, &org, "")).is_empty());
    wait_until("no evidence file is left", || {
        files_under(&evidence_dir(&env)).is_empty()
    });
}

#[test]
fn content_that_does_not_match_its_name_is_refused() {
    let (env, server, owner, org) = signed_in();
    let error = error_of(
        post_file(
            &server,
            &owner,
            &evidence_path(&org),
            &[("filename", "network-diagram.pdf")],
            PNG,
        ),
        415,
    );
    assert_eq!(error["code"], "unsupported_type");
    let message = error["message"].as_str().unwrap();
    assert!(message.to_lowercase().contains("png"), "{message}");
    let error = error_of(
        post_file(
            &server,
            &owner,
            &evidence_path(&org),
            &[("filename", "scan.png")],
            &pdf("not an image"),
        ),
        415,
    );
    assert_eq!(error["code"], "unsupported_type");
    // A trailing dot hides the extension that Windows and browsers restore on saving.
    let error = error_of(
        post_file(
            &server,
            &owner,
            &evidence_path(&org),
            &[("filename", "cleanup.bat.")],
            b"@echo off\r\ndel /q C:\\evidence\\*\r\n",
        ),
        415,
    );
    assert_eq!(error["code"], "unsupported_type");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains(".bat"), "{message}");
    assert!(ids(&list(&server, &owner, &org, "")).is_empty());
    wait_until("no evidence file is left", || {
        files_under(&evidence_dir(&env)).is_empty()
    });

    // Under its own name the PNG is welcome, and previews inline on request.
    let evidence = upload(&server, &owner, &org, "network-diagram.png", PNG);
    assert_eq!(evidence["current"]["media_type"], "image/png");
    let base = format!(
        "{}/{}",
        evidence_path(&org),
        evidence["id"].as_str().unwrap()
    );
    let response = owner.get(&server, &format!("{base}/download?inline=1"));
    assert_eq!(response.status(), 200);
    assert!(header(&response, "content-disposition").starts_with("inline"));
    assert!(header(&response, "content-type").starts_with("image/png"));
    assert_same(&downloaded(response), PNG, "inline PNG");
    let response = owner.get(&server, &format!("{base}/download"));
    assert!(header(&response, "content-disposition").starts_with("attachment"));
}

#[test]
fn file_names_lose_their_path_and_control_characters() {
    let (env, server, owner, org) = signed_in();
    let content = b"root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n";
    let evidence = upload(&server, &owner, &org, "../../etc/passwd", content);
    assert_eq!(evidence["current"]["filename"], "passwd");
    assert!(
        evidence["current"]["media_type"]
            .as_str()
            .unwrap()
            .starts_with("text/plain"),
        "{evidence}"
    );
    let base = format!(
        "{}/{}",
        evidence_path(&org),
        evidence["id"].as_str().unwrap()
    );
    let response = owner.get(&server, &format!("{base}/download"));
    let disposition = header(&response, "content-disposition");
    assert!(disposition.contains("filename=\"passwd\""), "{disposition}");
    assert!(!disposition.contains(".."), "{disposition}");
    assert_same(&downloaded(response), content, "passwd");
    // Plain text previews inline on request.
    let response = owner.get(&server, &format!("{base}/download?inline=1"));
    assert!(header(&response, "content-disposition").starts_with("inline"));
    // Nothing was written outside the organization's directory.
    let stray: Vec<PathBuf> = files_under(env.path())
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "passwd"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
    assert_eq!(blobs(&env, &org).len(), 1);

    let evidence = upload(
        &server,
        &owner,
        &org,
        "notes\u{7}\u{1b}.txt",
        b"reviewed by the ISSO\n",
    );
    assert_eq!(evidence["current"]["filename"], "notes.txt");

    // No file name at all.
    let error = error_of(
        post_file(&server, &owner, &evidence_path(&org), &[], b"no name\n"),
        422,
    );
    assert_eq!(error["code"], "invalid_input");
    assert_eq!(ids(&list(&server, &owner, &org, "")).len(), 2);
}

/// Probed by Initech's owner: the appliance administrator (Acme's owner here) may read any
/// organization, so it would be the wrong prober.
#[test]
fn another_organizations_evidence_is_not_found_anywhere() {
    let (env, server, owner, org) = signed_in();
    let (other, stranger) = stranger(&env, &server);
    let theirs = upload(&server, &stranger, &other, "initech.pdf", &pdf("Initech"));
    let theirs_id = theirs["id"].as_str().unwrap().to_owned();
    let ours = upload(&server, &owner, &org, "acme.pdf", &pdf("Acme"));
    let ours_id = ours["id"].as_str().unwrap().to_owned();

    // Our id under their own organization, and anything under ours: unknown to them.
    let under_theirs = format!("/api/v1/orgs/{other}/evidence/{ours_id}");
    let under_ours = format!("/api/v1/orgs/{org}/evidence/{ours_id}");
    for path in [
        under_theirs.clone(),
        format!("{under_theirs}/download"),
        format!("{under_theirs}/versions"),
        format!("{under_theirs}/versions/1/download"),
        format!("{under_theirs}/links"),
        under_ours.clone(),
        format!("{under_ours}/download"),
        format!("{under_ours}/versions/1/download"),
        format!("/api/v1/orgs/{org}/evidence"),
    ] {
        assert_eq!(stranger.get(&server, &path).status(), 404, "GET {path}");
    }
    for base in [&under_theirs, &under_ours] {
        let response = send(&server, &stranger, "PUT", base, &metadata("Hijacked"));
        assert_eq!(response.status(), 404, "PUT {base}");
        assert_eq!(
            delete(&server, &stranger, base).status(),
            404,
            "DELETE {base}"
        );
        let response = send(
            &server,
            &stranger,
            "POST",
            &format!("{base}/links"),
            &json!({}),
        );
        assert_eq!(response.status(), 404, "POST {base}/links");
        let response = post_file(
            &server,
            &stranger,
            &format!("{base}/versions"),
            &[("filename", "x.pdf")],
            &pdf("replacement"),
        );
        assert_eq!(response.status(), 404, "POST {base}/versions");
        let response = stranger.post(
            &server,
            &format!("{base}/restore"),
            Some(stranger.csrf.as_str()),
        );
        assert_eq!(response.status(), 404, "POST {base}/restore");
    }

    // Ours is untouched; each list has only its own.
    let still = ok_json(owner.get(&server, &under_ours));
    assert_eq!(still["title"], ours["title"]);
    assert!(still["deleted_at"].is_null());
    assert_eq!(still["versions"].as_array().unwrap().len(), 1);
    assert!(
        ok_json(owner.get(&server, &format!("{under_ours}/links")))["links"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(ids(&list(&server, &owner, &org, "")), vec![ours_id]);
    assert_eq!(ids(&list(&server, &stranger, &other, "")), vec![theirs_id]);
}

#[test]
fn a_viewer_reads_evidence_but_cannot_upload_change_or_delete_it() {
    let (env, server, owner, org) = signed_in();
    let bytes = pdf("Media protection policy");
    let evidence = upload(&server, &owner, &org, "mp.pdf", &bytes);
    let id = evidence["id"].as_str().unwrap().to_owned();
    let base = format!("{}/{id}", evidence_path(&org));
    let viewer = join(&env, &server, &org, "viewer@acme.example", "viewer");

    let response = post_file(
        &server,
        &viewer,
        &evidence_path(&org),
        &[("filename", "viewer.pdf")],
        &pdf("from a viewer"),
    );
    assert_eq!(response.status(), 403);
    let response = post_file(
        &server,
        &viewer,
        &format!("{base}/versions"),
        &[("filename", "mp.pdf")],
        &pdf("from a viewer"),
    );
    assert_eq!(response.status(), 403);
    let response = send(&server, &viewer, "PUT", &base, &metadata("Renamed"));
    assert_eq!(response.status(), 403);
    assert_eq!(delete(&server, &viewer, &base).status(), 403);
    let response = send(
        &server,
        &viewer,
        "POST",
        &format!("{base}/links"),
        &json!({}),
    );
    assert_eq!(response.status(), 403);

    // Reading is fine.
    assert_eq!(ids(&list(&server, &viewer, &org, "")), vec![id.clone()]);
    assert_same(
        &downloaded(viewer.get(&server, &format!("{base}/download"))),
        &bytes,
        "viewer download",
    );
    // And nothing changed.
    let one = ok_json(owner.get(&server, &base));
    assert_eq!(one["title"], evidence["title"]);
    assert!(one["deleted_at"].is_null());
    assert_eq!(one["versions"].as_array().unwrap().len(), 1);
    assert_eq!(blobs(&env, &org).len(), 1);
}

#[test]
fn a_member_uploads_but_only_admins_and_owners_create_share_links() {
    let (env, server, owner, org) = signed_in();
    let evidence = upload(&server, &owner, &org, "ir.pdf", &pdf("Incident response"));
    let links = format!(
        "{}/{}/links",
        evidence_path(&org),
        evidence["id"].as_str().unwrap()
    );
    let member = join(&env, &server, &org, "member@acme.example", "member");
    let response = send(&server, &member, "POST", &links, &json!({}));
    assert_eq!(response.status(), 403);
    upload(&server, &member, &org, "member.pdf", &pdf("from a member"));

    let admin = join(&env, &server, &org, "admin@acme.example", "admin");
    let link = created(send(&server, &admin, "POST", &links, &json!({})));
    assert!(link["url"].as_str().unwrap().contains("/share/"), "{link}");
    let listed = ok_json(owner.get(&server, &links));
    assert_eq!(listed["links"].as_array().unwrap().len(), 1, "{listed}");

    // A link is its creator's act: it works only while they may still share.
    let shared = format!("/share/{}", token_of(&link));
    assert_eq!(server.get(&shared).status(), 200);
    let admin_id = account_id(&server, &admin);
    let role = |role: &str| {
        send(
            &server,
            &owner,
            "PUT",
            &format!("/api/v1/orgs/{org}/members/{admin_id}"),
            &json!({ "role": role }),
        )
        .status()
    };
    assert_eq!(role("member"), 204);
    assert_eq!(server.get(&shared).status(), 410, "demoted creator");
    assert_eq!(role("admin"), 204);
    assert_eq!(server.get(&shared).status(), 200);
    let out = env.rampart(&["admin", "user", "disable", "--email", "admin@acme.example"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(server.get(&shared).status(), 410, "disabled creator");
}

/// Starts an upload of `body` on a connection of its own, sends the first `sent` bytes,
/// and waits until the server is writing them to a temp file.
fn start_upload(
    env: &TestEnv,
    server: &TestServer,
    owner: &Session,
    org: &str,
    body: &[u8],
    sent: usize,
) -> TlsStream {
    let mut stream = raw_tls(env, server);
    let head = format!(
        "POST /api/v1/orgs/{org}/evidence?filename=big.log HTTP/1.1\r\n\
         Host: {}\r\nOrigin: {}\r\nCookie: {}\r\nX-CSRF-Token: {}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        server.addr,
        origin(server),
        owner.cookie,
        owner.csrf,
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body[..sent]).unwrap();
    stream.flush().unwrap();
    let tmp = evidence_dir(env).join("tmp");
    wait_until("the upload is being written to evidence/tmp", || {
        !files_under(&tmp).is_empty()
    });
    stream
}

/// The status line and body of the answer on a `Connection: close` stream.
fn answer(stream: &mut TlsStream) -> (String, String) {
    let mut got = Vec::new();
    let mut buf = [0u8; 16_384];
    // The server closes without a TLS close_notify at times: what arrived is the answer.
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    let got = String::from_utf8_lossy(&got).into_owned();
    let (head, body) = got.split_once("\r\n\r\n").unwrap_or((&got, ""));
    (
        head.lines().next().unwrap_or("").to_owned(),
        body.to_owned(),
    )
}

#[test]
fn an_upload_cut_off_halfway_leaves_no_file_and_no_record() {
    let (env, server, owner, org) = signed_in();
    let body = text(1_000_000, "cut off");
    // The upload is under way: streamed into a temp file as it arrives.
    let stream = start_upload(&env, &server, &owner, &org, &body, 400_000);
    let tmp = evidence_dir(&env).join("tmp");

    // The client goes away.
    let _ = stream.sock.shutdown(Shutdown::Both);
    drop(stream);
    wait_until("the partial upload is gone", || {
        files_under(&evidence_dir(&env)).is_empty()
    });
    let listed = list(&server, &owner, &org, "");
    assert!(ids(&listed).is_empty(), "{listed}");
    assert_eq!(listed["usage"]["used_bytes"], 0);
    assert!(
        audit(&server, &owner, &org, "evidence.upload")
            .iter()
            .all(|e| e["outcome"] != "success")
    );

    // The server carries on: a whole upload still goes in.
    let whole = text(300_000, "whole");
    let evidence = upload(&server, &owner, &org, "whole.log", &whole);
    assert_eq!(evidence["current"]["sha256"], sha256_hex(&whole).as_str());
    assert_eq!(blobs(&env, &org).len(), 1);
    assert!(files_under(&tmp).is_empty());
}

#[test]
fn uploads_under_way_hold_their_bytes_against_the_quota() {
    let (env, server, owner, org) = signed_in_with("evidence_quota_bytes = 300000");
    let first = text(200_000, "first");
    let mut under_way = start_upload(&env, &server, &owner, &org, &first, 100_000);

    // Nothing is recorded yet, but the first upload declared 200,000 bytes: a second of
    // 150,000 would take the two past the quota, declared or counted as it streams.
    let path = evidence_path(&org);
    let second = text(150_000, "second");
    let query = [("filename", "second.log")];
    let error = error_of(post_file(&server, &owner, &path, &query, &second), 507);
    assert_eq!(error["code"], "quota_exceeded");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("being uploaded"), "{message}");
    let error = error_of(post_streamed(&server, &owner, &path, &query, &second), 507);
    assert_eq!(error["code"], "quota_exceeded");

    // The first upload finishes and is recorded; what is left of the quota is usable.
    under_way.write_all(&first[100_000..]).unwrap();
    under_way.flush().unwrap();
    let (status, body) = answer(&mut under_way);
    assert!(status.starts_with("HTTP/1.1 201"), "{status}: {body}");
    let third = upload(&server, &owner, &org, "third.log", &text(100_000, "third"));
    assert_eq!(third["current"]["size"], 100_000);
    let listed = list(&server, &owner, &org, "");
    assert_eq!(ids(&listed).len(), 2, "{listed}");
    assert_eq!(listed["usage"]["used_bytes"], 300_000);
    wait_until("only the two recorded blobs are left", || {
        files_under(&evidence_dir(&env)).len() == 2
    });
}

#[test]
fn an_upload_that_stops_sending_is_abandoned_with_408() {
    let (env, server, owner, org) = signed_in_with("upload_idle_timeout_secs = 1");
    let body = text(300_000, "stalled");
    let mut stalled = start_upload(&env, &server, &owner, &org, &body, 100_000);
    let started = Instant::now();
    let (status, answered) = answer(&mut stalled);
    assert!(status.starts_with("HTTP/1.1 408"), "{status}: {answered}");
    assert!(answered.contains("request_timeout"), "{answered}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "answered after {:?}",
        started.elapsed()
    );
    wait_until("the partial upload is gone", || {
        files_under(&evidence_dir(&env)).is_empty()
    });
    assert!(ids(&list(&server, &owner, &org, "")).is_empty());

    // An upload that keeps sending is not cut off, however long it takes in all.
    let mut slow = start_upload(&env, &server, &owner, &org, &body, 100_000);
    for part in body[100_000..].chunks(50_000) {
        std::thread::sleep(Duration::from_millis(400));
        slow.write_all(part).unwrap();
        slow.flush().unwrap();
    }
    let (status, answered) = answer(&mut slow);
    assert!(status.starts_with("HTTP/1.1 201"), "{status}: {answered}");
    assert_eq!(ids(&list(&server, &owner, &org, "")).len(), 1);
}

/// The token at the end of a share link's URL.
fn token_of(link: &Value) -> String {
    let url = link["url"].as_str().unwrap();
    assert!(url.starts_with("https://"), "{url}");
    let (_, token) = url.rsplit_once("/share/").unwrap();
    assert!(!token.is_empty() && !token.contains('/'), "{url}");
    token.to_owned()
}

/// `token` with its middle character changed.
fn altered(token: &str) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    let middle = chars.len() / 2;
    chars[middle] = if chars[middle] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

#[test]
fn share_links_serve_one_version_without_an_account_and_are_audited() {
    let (_env, server, owner, org) = signed_in();
    let first = pdf("Access control policy v1");
    let second = pdf("Access control policy v2, with remote access");
    let evidence = upload(&server, &owner, &org, "acp.pdf", &first);
    let id = evidence["id"].as_str().unwrap().to_owned();
    let base = format!("{}/{id}", evidence_path(&org));
    created(post_file(
        &server,
        &owner,
        &format!("{base}/versions"),
        &[("filename", "acp-v2.pdf")],
        &second,
    ));

    // Default: the current version, for 7 days, reusable.
    let link = created(send(
        &server,
        &owner,
        "POST",
        &format!("{base}/links"),
        &json!({}),
    ));
    assert_eq!(link["evidence_id"], id.as_str());
    assert_eq!(link["version"], 2);
    assert_eq!(link["single_use"], false);
    assert_eq!(link["uses"], 0);
    assert!(link["revoked_at"].is_null());
    let lifetime = link["expires_at"].as_i64().unwrap() - link["created_at"].as_i64().unwrap();
    assert!(
        (7 * 86_400 - 60..=7 * 86_400 + 60).contains(&lifetime),
        "{link}"
    );
    let token = token_of(&link);

    // No cookie, no account: the file as an attachment.
    for _ in 0..2 {
        let response = server.get(&format!("/share/{token}"));
        assert_eq!(response.status(), 200);
        let disposition = header(&response, "content-disposition");
        assert!(disposition.starts_with("attachment"), "{disposition}");
        assert!(disposition.contains("acp-v2.pdf"), "{disposition}");
        assert!(header(&response, "content-type").starts_with("application/pdf"));
        assert_same(&downloaded(response), &second, "shared current version");
    }

    // A link to version 1, for the longest time allowed.
    let old = created(send(
        &server,
        &owner,
        "POST",
        &format!("{base}/links"),
        &json!({"version": 1, "expires_in_days": 30}),
    ));
    assert_eq!(old["version"], 1);
    let lifetime = old["expires_at"].as_i64().unwrap() - old["created_at"].as_i64().unwrap();
    assert!(
        (30 * 86_400 - 60..=30 * 86_400 + 60).contains(&lifetime),
        "{old}"
    );
    assert_same(
        &downloaded(server.get(&format!("/share/{}", token_of(&old)))),
        &first,
        "shared version 1",
    );

    // Listed without their URLs or tokens; uses counted.
    let listed = ok_json(owner.get(&server, &format!("{base}/links")));
    let links = listed["links"].as_array().unwrap();
    assert_eq!(links.len(), 2, "{listed}");
    assert!(links.iter().all(|l| l.get("url").is_none()), "{listed}");
    assert!(!listed.to_string().contains(&token));
    let counted = links.iter().find(|l| l["id"] == link["id"]).unwrap();
    assert_eq!(counted["uses"], 2);

    // Every download through a link is audited with the client's address.
    let downloads: Vec<Value> = audit(&server, &owner, &org, "evidence.link_download")
        .into_iter()
        .filter(|e| e["outcome"] == "success")
        .collect();
    assert_eq!(downloads.len(), 3, "{downloads:?}");
    assert!(
        downloads.iter().all(|e| e["ip"] == "127.0.0.1"),
        "{downloads:?}"
    );
    assert_eq!(
        audit(&server, &owner, &org, "evidence.link_create").len(),
        2
    );
    // The token, a credential, is in no log line.
    assert!(!server.log().contains(&token));
}

#[test]
fn share_links_refuse_reuse_revocation_alteration_and_long_lives() {
    let (_env, server, owner, org) = signed_in();
    let bytes = pdf("Audit and accountability procedures");
    let evidence = upload(&server, &owner, &org, "au.pdf", &bytes);
    let base = format!(
        "{}/{}",
        evidence_path(&org),
        evidence["id"].as_str().unwrap()
    );
    let links = format!("{base}/links");
    let create = |body: Value| created(send(&server, &owner, "POST", &links, &body));

    // Single use: once, then gone.
    let single = create(json!({"single_use": true}));
    assert_eq!(single["single_use"], true);
    let token = token_of(&single);
    assert_same(
        &downloaded(server.get(&format!("/share/{token}"))),
        &bytes,
        "single use",
    );
    assert_eq!(server.get(&format!("/share/{token}")).status(), 410);

    // Revoked: worked before, gone after.
    let revocable = create(json!({}));
    let token = token_of(&revocable);
    assert_eq!(server.get(&format!("/share/{token}")).status(), 200);
    let revoked = ok_json(delete(
        &server,
        &owner,
        &format!("{links}/{}", revocable["id"].as_str().unwrap()),
    ));
    assert!(revoked["revoked_at"].is_i64(), "{revoked}");
    assert_eq!(server.get(&format!("/share/{token}")).status(), 410);

    // Altered or made up: unknown. The real one still works.
    let good = create(json!({}));
    let token = token_of(&good);
    let forged = altered(&token);
    assert_ne!(forged, token);
    assert_eq!(server.get(&format!("/share/{forged}")).status(), 404);
    assert_eq!(server.get("/share/not-a-token").status(), 404);
    assert_eq!(server.get(&format!("/share/{token}")).status(), 200);

    // At most 30 days, at least one.
    for days in [31, 0] {
        let response = send(
            &server,
            &owner,
            "POST",
            &links,
            &json!({"expires_in_days": days}),
        );
        assert_eq!(response.status(), 422, "expires_in_days {days}");
    }
    let listed = ok_json(owner.get(&server, &links));
    let listed = listed["links"].as_array().unwrap();
    assert_eq!(
        listed.len(),
        3,
        "refused links were not created: {listed:?}"
    );
    let single = listed.iter().find(|l| l["id"] == single["id"]).unwrap();
    assert_eq!(single["uses"], 1);
    let revocable = listed.iter().find(|l| l["id"] == revocable["id"]).unwrap();
    assert!(revocable["revoked_at"].is_i64());
    assert_eq!(
        audit(&server, &owner, &org, "evidence.link_revoke").len(),
        1
    );

    // A file in the bin is not served through its links.
    ok_json(delete(&server, &owner, &base));
    let status = server.get(&format!("/share/{token}")).status();
    assert!(status.is_client_error(), "{status}");
}

#[test]
fn a_blob_flipped_in_its_first_chunk_answers_evidence_damaged() {
    let (env, server, owner, org) = signed_in();
    let bytes = text(BIG, "first chunk");
    let evidence = upload(&server, &owner, &org, "syslog.log", &bytes);
    let base = format!(
        "{}/{}",
        evidence_path(&org),
        evidence["id"].as_str().unwrap()
    );
    let blob = new_blob(&env, &org, &BTreeSet::new());
    assert_eq!(std::fs::metadata(&blob).unwrap().len(), blob_len(BIG));
    let link = created(send(
        &server,
        &owner,
        "POST",
        &format!("{base}/links"),
        &json!({}),
    ));

    flip_byte(&blob, HEADER + 1000);
    let error = error_of(owner.get(&server, &format!("{base}/download")), 500);
    assert_eq!(error["code"], "evidence_damaged");
    // The owner is told what happened and what to do, not to quote a request id.
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("integrity check") && message.contains("backup"),
        "{message}"
    );
    let error = error_of(
        owner.get(&server, &format!("{base}/versions/1/download")),
        500,
    );
    assert_eq!(error["code"], "evidence_damaged");
    let status = server.get(&format!("/share/{}", token_of(&link))).status();
    assert_eq!(status, 500);
    assert_eq!(server.get("/healthz").status(), 200);
}

#[test]
fn a_blob_flipped_truncated_or_reordered_later_is_never_served_whole() {
    let (env, server, owner, org) = signed_in();
    for damage in [
        "flipped in a middle chunk",
        "truncated at a chunk boundary",
        "two chunks swapped",
    ] {
        let bytes = text(BIG, damage);
        let before = blobs(&env, &org);
        let evidence = upload(
            &server,
            &owner,
            &org,
            &format!("{}.log", damage.replace(' ', "-")),
            &bytes,
        );
        let blob = new_blob(&env, &org, &before);
        assert_eq!(std::fs::metadata(&blob).unwrap().len(), blob_len(BIG));
        match damage {
            "flipped in a middle chunk" => flip_byte(&blob, HEADER + 2 * SEALED + 100),
            "truncated at a chunk boundary" => truncate(&blob, HEADER + 3 * SEALED),
            _ => swap_chunks(&blob, 1, 2),
        }
        let path = format!(
            "{}/{}/download",
            evidence_path(&org),
            evidence["id"].as_str().unwrap()
        );
        assert_not_served_whole(owner.get(&server, &path), &bytes, damage);
        assert_eq!(server.get("/healthz").status(), 200, "{damage}");
    }
}

#[test]
fn evidence_verify_names_missing_and_corrupt_files_and_exits_one() {
    let (env, server, owner, org) = signed_in();
    let a1 = text(5_000, "a, version 1");
    let a2 = text(5_000, "a, version 2");
    let a = upload(&server, &owner, &org, "a.log", &a1);
    let a = a["id"].as_str().unwrap().to_owned();
    let before = blobs(&env, &org);
    created(post_file(
        &server,
        &owner,
        &format!("{}/{a}/versions", evidence_path(&org)),
        &[("filename", "a.log")],
        &a2,
    ));
    let a2_blob = new_blob(&env, &org, &before);
    let before = blobs(&env, &org);
    let b = upload(&server, &owner, &org, "b.log", &text(5_000, "b"));
    let b = b["id"].as_str().unwrap().to_owned();
    let b_blob = new_blob(&env, &org, &before);
    let c_bytes = text(5_000, "c");
    let c = upload(&server, &owner, &org, "c.log", &c_bytes);
    let c = c["id"].as_str().unwrap().to_owned();

    let out = env.rampart(&["evidence", "verify"]);
    let report = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{report}{}", stderr(&out));
    assert!(
        report.contains("checked 4 files: 0 missing, 0 corrupt"),
        "{report}"
    );

    flip_byte(&a2_blob, HEADER + 10);
    std::fs::remove_file(b_blob).unwrap();
    let check = |out: std::process::Output| {
        let report = stdout(&out);
        assert_eq!(out.status.code(), Some(1), "{report}{}", stderr(&out));
        let lines: Vec<&str> = report.lines().map(str::trim).collect();
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("corrupt {a} v2"))),
            "{report}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("missing {b} v1"))),
            "{report}"
        );
        assert!(!report.contains(&format!("{a} v1")), "{report}");
        assert!(!report.contains(&c), "{report}");
        assert!(
            report.contains("checked 4 files: 1 missing, 1 corrupt"),
            "{report}"
        );
    };
    // Through the running daemon.
    check(env.rampart(&["evidence", "verify"]));

    // The damage shows in downloads too; the good files are still served.
    let files = evidence_path(&org);
    let error = error_of(owner.get(&server, &format!("{files}/{a}/download")), 500);
    assert_eq!(error["code"], "evidence_damaged");
    assert_same(
        &downloaded(owner.get(&server, &format!("{files}/{a}/versions/1/download"))),
        &a1,
        "a v1",
    );
    let status = owner
        .get(&server, &format!("{files}/{b}/download"))
        .status();
    assert!(!status.is_success(), "a missing blob answered {status}");
    assert_same(
        &downloaded(owner.get(&server, &format!("{files}/{c}/download"))),
        &c_bytes,
        "c",
    );

    // Directly, with the daemon stopped: the same findings.
    assert_eq!(server.stop().code(), Some(0));
    check(env.rampart(&["evidence", "verify"]));
}

#[test]
fn deleted_evidence_goes_to_the_bin_and_can_be_restored() {
    let (_env, server, owner, org) = signed_in();
    let bytes = pdf("Configuration baseline");
    let evidence = upload(&server, &owner, &org, "baseline.pdf", &bytes);
    let keep = upload(&server, &owner, &org, "other.pdf", &pdf("Other"));
    let id = evidence["id"].as_str().unwrap().to_owned();
    let keep = keep["id"].as_str().unwrap().to_owned();
    let base = format!("{}/{id}", evidence_path(&org));

    let deleted = ok_json(delete(&server, &owner, &base));
    assert!(deleted["deleted_at"].is_i64(), "{deleted}");
    assert_eq!(ids(&list(&server, &owner, &org, "")), vec![keep.clone()]);
    let bin = list(&server, &owner, &org, "?deleted=true");
    let binned = bin["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id.as_str())
        .unwrap_or_else(|| panic!("not in the bin: {bin}"));
    assert!(binned["deleted_at"].is_i64());
    assert_eq!(
        owner.get(&server, &format!("{base}/download")).status(),
        404
    );
    assert_eq!(
        owner
            .get(&server, &format!("{base}/versions/1/download"))
            .status(),
        404
    );

    let restored = ok_json(owner.post(
        &server,
        &format!("{base}/restore"),
        Some(owner.csrf.as_str()),
    ));
    assert!(restored["deleted_at"].is_null(), "{restored}");
    let mut listed = ids(&list(&server, &owner, &org, ""));
    listed.sort();
    let mut want = vec![id.clone(), keep];
    want.sort();
    assert_eq!(listed, want);
    assert_same(
        &downloaded(owner.get(&server, &format!("{base}/download"))),
        &bytes,
        "restored",
    );
    assert_eq!(audit(&server, &owner, &org, "evidence.delete").len(), 1);
    assert_eq!(audit(&server, &owner, &org, "evidence.restore").len(), 1);
}

#[test]
fn metadata_links_requirements_and_a_past_review_date_is_drift() {
    let (_env, server, owner, org) = signed_in();
    let me = account_id(&server, &owner);

    // Metadata can come with the upload itself.
    let evidence = created(post_file(
        &server,
        &owner,
        &evidence_path(&org),
        &[
            ("filename", "mfa-config.json"),
            ("title", "MFA configuration export"),
            ("description", "Exported from the IdP"),
            ("tags", "mfa,idp"),
            ("requirements", "3.5.3"),
            ("objectives", "3.5.3[a]"),
            ("owner", me.as_str()),
            ("effective", "2025-06-01"),
        ],
        br#"{"mfa": "required", "methods": ["totp", "webauthn"]}"#,
    ));
    assert_eq!(evidence["title"], "MFA configuration export");
    assert_eq!(evidence["description"], "Exported from the IdP");
    let mut tags: Vec<&str> = evidence["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    tags.sort_unstable();
    assert_eq!(tags, vec!["idp", "mfa"]);
    assert_eq!(evidence["requirements"], json!(["3.5.3"]));
    assert_eq!(evidence["objectives"], json!(["3.5.3[a]"]));
    assert_eq!(evidence["owner"], me.as_str());
    assert_eq!(evidence["effective"], "2025-06-01");
    assert!(evidence["review_by"].is_null());
    assert_eq!(evidence["review_status"], "none");
    let id = evidence["id"].as_str().unwrap().to_owned();
    let base = format!("{}/{id}", evidence_path(&org));

    let put = |review_by: Value, requirements: Value| {
        send(
            &server,
            &owner,
            "PUT",
            &base,
            &json!({"title": "MFA configuration export", "description": "From the IdP console",
                    "owner": me, "tags": ["mfa"], "requirements": requirements,
                    "objectives": ["3.1.1[a]"], "effective": "2019-06-01",
                    "review_by": review_by}),
        )
    };
    let updated = ok_json(put(json!("2020-01-01"), json!(["3.1.1"])));
    assert_eq!(updated["requirements"], json!(["3.1.1"]));
    assert_eq!(updated["objectives"], json!(["3.1.1[a]"]));
    assert_eq!(updated["tags"], json!(["mfa"]));
    assert_eq!(updated["description"], "From the IdP console");
    assert_eq!(updated["review_by"], "2020-01-01");
    assert_eq!(updated["review_status"], "overdue");

    // An unknown requirement refuses the whole change.
    let response = put(json!("2099-01-01"), json!(["3.1.1", "9.9.9"]));
    let status = response.status();
    assert_eq!(status, 422, "{}", response.text().unwrap());
    let one = ok_json(owner.get(&server, &base));
    assert_eq!(one["requirements"], json!(["3.1.1"]));
    assert_eq!(one["review_by"], "2020-01-01");

    // Past its review date: drift.
    let drift = ok_json(owner.get(&server, &format!("/api/v1/orgs/{org}/drift")));
    let reviews: Vec<&Value> = drift
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "evidence_review")
        .collect();
    assert_eq!(reviews.len(), 1, "{drift}");

    // The library's filters.
    for (query, found) in [
        ("?requirement=3.1.1", true),
        ("?requirement=3.5.3", false),
        ("?tag=mfa", true),
        ("?tag=idp", false),
        ("?review=overdue", true),
        ("?review=current", false),
        ("?review=none", false),
    ] {
        let listed = ids(&list(&server, &owner, &org, query));
        assert_eq!(listed.contains(&id), found, "{query}: {listed:?}");
    }
    let listed = ids(&list(&server, &owner, &org, &format!("?owner={me}")));
    assert_eq!(listed, vec![id.clone()]);

    // Due within 30 days; current after that; none without a date.
    let soon = (time::OffsetDateTime::now_utc().date() + time::Duration::days(10)).to_string();
    let updated = ok_json(put(json!(soon), json!(["3.1.1"])));
    assert_eq!(updated["review_status"], "due", "{soon}");
    assert_eq!(
        ids(&list(&server, &owner, &org, "?review=due")),
        vec![id.clone()]
    );
    let updated = ok_json(put(json!("2099-01-01"), json!(["3.1.1"])));
    assert_eq!(updated["review_status"], "current");
    let drift = ok_json(owner.get(&server, &format!("/api/v1/orgs/{org}/drift")));
    assert!(
        drift
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["kind"] != "evidence_review"),
        "{drift}"
    );
    let updated = ok_json(put(Value::Null, json!(["3.1.1"])));
    assert_eq!(updated["review_status"], "none");
    assert!(audit(&server, &owner, &org, "evidence.update").len() >= 4);
}

#[test]
fn every_file_and_directory_is_the_daemons_alone_whatever_the_umask() {
    let env = TestEnv {
        umask: Some("022"),
        ..TestEnv::new()
    };
    let server = env.serve();
    let org = set_up(&server);
    let owner = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    upload(&server, &owner, &org, "policy.pdf", &pdf("modes"));
    let out = env.rampart(&["audit", "seal"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    use std::os::unix::fs::PermissionsExt;
    let mut open_to_others = Vec::new();
    let mut blobs = 0;
    let mut pending = vec![env.data_dir()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let meta = std::fs::symlink_metadata(entry.path()).unwrap();
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                open_to_others.push(format!("{:o} {}", mode, entry.path().display()));
            }
            if meta.is_dir() {
                pending.push(entry.path());
            } else if entry.path().extension().is_some_and(|e| e == "blob") {
                blobs += 1;
            }
        }
    }
    assert_eq!(blobs, 1, "the upload's blob was looked at");
    assert!(open_to_others.is_empty(), "{open_to_others:#?}");
}

#[test]
fn a_download_names_its_file_in_ascii_and_in_utf8() {
    let (_env, server, owner, org) = signed_in();
    let name = "Zugangsrichtlinie für Büros — 2026.pdf";
    let evidence = upload(&server, &owner, &org, name, &pdf("names"));
    let download = owner.get(
        &server,
        &format!(
            "{}/{}/download",
            evidence_path(&org),
            evidence["id"].as_str().unwrap()
        ),
    );
    assert_eq!(download.status(), 200);
    let header = download.headers()["content-disposition"]
        .as_bytes()
        .to_vec();
    assert!(header.is_ascii(), "{}", String::from_utf8_lossy(&header));
    let header = String::from_utf8(header).unwrap();
    assert!(
        header.starts_with("attachment; filename=\"Zugangsrichtlinie f_r B_ros _ 2026.pdf\"; "),
        "{header}"
    );
    assert!(
        header.ends_with(
            "filename*=UTF-8''Zugangsrichtlinie%20f%C3%BCr%20B%C3%BCros%20%E2%80%94%202026.pdf"
        ),
        "{header}"
    );
}
