//! The HTTPS edge: headers, errors, limits, slow and malformed clients, assets, OpenAPI,
//! health, shutdown and systemd notification.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixDatagram;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;

use crate::harness::{TestEnv, TestServer, client_tls};

type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

fn raw_tls(env: &TestEnv, server: &TestServer) -> TlsStream {
    let config = Arc::new(client_tls(&env.cert_path()));
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(config, name).unwrap();
    let tcp = TcpStream::connect(server.addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

/// Reads until the peer closes or times out; returns what arrived.
fn read_all(stream: &mut TlsStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn status_line(response: &str) -> &str {
    response.lines().next().unwrap_or("")
}

const REQUIRED_HEADERS: &[(&str, &str)] = &[
    ("strict-transport-security", "max-age=31536000"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("cross-origin-opener-policy", "same-origin"),
];

fn assert_security_headers(response: &reqwest::blocking::Response) {
    let headers = response.headers();
    for (name, value) in REQUIRED_HEADERS {
        assert_eq!(
            headers.get(*name).map(|v| v.to_str().unwrap()),
            Some(*value),
            "{name}"
        );
    }
    let csp = headers["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(directive), "CSP lacks {directive}: {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(headers.contains_key("permissions-policy"));
    let id = headers["x-request-id"].to_str().unwrap();
    assert!(
        id.len() >= 16 && id.chars().all(|c| c.is_ascii_hexdigit()),
        "{id}"
    );
}

#[test]
fn every_response_carries_security_headers_and_a_fresh_request_id() {
    let env = TestEnv::new();
    let server = env.serve();
    let mut ids = Vec::new();
    for (path, status) in [
        ("/", 200),
        ("/healthz", 200),
        ("/readyz", 200),
        ("/nope", 404),
        ("/api/v1/nope", 404),
        ("/api/v1/version", 200),
    ] {
        let response = server.get(path);
        assert_eq!(response.status(), status, "{path}");
        assert_security_headers(&response);
        ids.push(
            response.headers()["x-request-id"]
                .to_str()
                .unwrap()
                .to_owned(),
        );
    }
    let post = server.client.post(server.url("/healthz")).send().unwrap();
    assert_eq!(post.status(), 405);
    assert_security_headers(&post);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 6, "request ids repeat");
}

#[test]
fn api_errors_are_json_with_request_id() {
    let env = TestEnv::new();
    let server = env.serve();
    let response = server.get("/api/v1/does-not-exist");
    assert_eq!(response.status(), 404);
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: serde_json::Value = response.json().unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    assert_eq!(body["error"]["request_id"], id.as_str());
    assert!(body["error"]["message"].as_str().unwrap().len() > 3);
    assert!(
        server.log_until(|log| log.contains(&id)).contains(&id),
        "request id not in the log"
    );
}

#[test]
fn page_errors_are_html_showing_request_id() {
    let env = TestEnv::new();
    let server = env.serve();
    let response = server.get("/no/such/page");
    assert_eq!(response.status(), 404);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.text().unwrap();
    assert!(
        body.contains(&format!("<code id=\"request-id\">{id}</code>")),
        "{body}"
    );
}

#[test]
fn index_shows_product_and_version_with_hashed_assets() {
    let env = TestEnv::new();
    let server = env.serve();
    let body = server.get("/").text().unwrap();
    assert!(body.contains("Rampart") && body.contains(env!("CARGO_PKG_VERSION")));
    assert!(
        !body.contains("<style") && !body.contains("style=\""),
        "inline style"
    );
    assert!(!body.contains("<script>"), "inline script");
    let css = body
        .split("href=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .find(|href| href.ends_with(".css"))
        .unwrap();
    assert!(
        css.starts_with("/assets/app.") && css.ends_with(".css"),
        "{css}"
    );
    let response = server.get(css);
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age=31536000")
    );
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert_eq!(server.get("/assets/app.0000000000.css").status(), 404);
    assert_eq!(server.get("/assets/..%2f..%2fCargo.toml").status(), 404);
}

#[test]
fn openapi_lists_every_api_route() {
    let env = TestEnv::new();
    let server = env.serve();
    let doc: serde_json::Value = server.get("/api/v1/openapi.json").json().unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(!rampart::web::api::ROUTES.is_empty());
    for route in rampart::web::api::ROUTES {
        assert!(
            doc["paths"][route.path][route.method].is_object(),
            "{} {} missing from openapi.json",
            route.method,
            route.path
        );
        // And the route really is served.
        let status = server
            .client
            .request(
                route.method.to_uppercase().parse().unwrap(),
                server.url(route.path),
            )
            .send()
            .unwrap()
            .status();
        assert_ne!(status, 404, "{} not served", route.path);
    }
    let version: serde_json::Value = server.get("/api/v1/version").json().unwrap();
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(version["schema_version"], rampart::store::SCHEMA_VERSION);
}

#[test]
fn huge_declared_body_is_refused_before_it_is_read() {
    let env = TestEnv::new();
    let server = env.serve();
    let mut stream = raw_tls(&env, &server);
    let head = format!(
        "POST /api/v1/version HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{{",
        50 * 1024 * 1024
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.flush().unwrap();
    let response = read_all(&mut stream);
    assert!(status_line(&response).contains("413"), "{response}");
    assert!(
        response.contains("\"code\":\"payload_too_large\""),
        "{response}"
    );
    assert_eq!(server.get("/healthz").status(), 200);
}

#[test]
fn chunked_body_over_limit_is_refused() {
    let env = TestEnv::with_config("body_limit_bytes = 2048");
    let server = env.serve();
    let body = format!("{{\"x\":\"{}\"}}", "a".repeat(10_000));
    let response = server
        .client
        .post(server.url("/api/v1/version"))
        .header("content-type", "application/json")
        .body(reqwest::blocking::Body::new(std::io::Cursor::new(
            body.into_bytes(),
        )))
        .send()
        .unwrap();
    // No handler takes a body on this route yet, so the method is refused; never a 5xx.
    assert!(response.status().is_client_error(), "{}", response.status());
    assert_eq!(server.get("/healthz").status(), 200);
}

#[test]
fn oversized_headers_get_431_not_a_crash() {
    let env = TestEnv::new();
    let server = env.serve();
    // Over our 16 KiB limit: refused by the edge with the usual error body.
    let response = server
        .client
        .get(server.url("/api/v1/version"))
        .header("x-big", "x".repeat(20 * 1024))
        .send()
        .unwrap();
    assert_eq!(response.status(), 431);
    let body: serde_json::Value = response.json().unwrap();
    assert_eq!(body["error"]["code"], "headers_too_large");

    // Over the HTTP layer's own buffer: refused before routing, still a 4xx.
    let mut stream = raw_tls(&env, &server);
    let big = "x".repeat(256 * 1024);
    let request = format!("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {big}\r\n\r\n");
    let _ = stream.write_all(request.as_bytes());
    let response = read_all(&mut stream);
    let line = status_line(&response);
    assert!(
        line.contains(" 431") || line.contains(" 400") || response.is_empty(),
        "{line}"
    );
    assert!(!line.contains(" 5"), "{line}");
    assert_eq!(server.get("/healthz").status(), 200);
}

#[test]
fn malformed_http_gets_400() {
    let env = TestEnv::new();
    let server = env.serve();
    let mut stream = raw_tls(&env, &server);
    stream
        .write_all(b"GARBAGE\x01\x02 / HTTP/9.9\r\n\r\n")
        .unwrap();
    let response = read_all(&mut stream);
    assert!(status_line(&response).contains("400"), "{response:?}");
    assert_eq!(server.get("/healthz").status(), 200);
}

#[test]
fn slow_client_is_cut_off_after_header_timeout() {
    let env = TestEnv::with_config("request_timeout_secs = 1");
    let server = env.serve();
    let mut stream = raw_tls(&env, &server);
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .unwrap();
    stream.flush().unwrap();
    let started = Instant::now();
    let response = read_all(&mut stream);
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(10),
        "connection held open for {waited:?}"
    );
    assert!(
        response.is_empty() || status_line(&response).contains("408"),
        "{response}"
    );
    assert_eq!(server.get("/healthz").status(), 200);
}

#[test]
fn sigterm_stops_cleanly_with_systemd_notifications() {
    let mut env = TestEnv::new();
    let notify_path = env.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    env.env
        .push(("NOTIFY_SOCKET".into(), notify_path.display().to_string()));
    let server = env.serve();
    let mut buf = [0u8; 256];
    let n = notify.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"READY=1");
    assert_eq!(server.get("/readyz").status(), 200);
    let status = server.stop();
    assert_eq!(status.code(), Some(0));
    let n = notify.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"STOPPING=1");
}

#[test]
fn port_in_use_exits_one_with_message() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = holder.local_addr().unwrap();
    let env = TestEnv::with_config(&format!("listen = \"{addr}\""));
    let failure = env.try_serve().err().expect("must not start");
    assert!(failure.starts_with("exit Some(1)"), "{failure}");
    assert!(
        failure.contains(&format!("cannot listen on {addr}")),
        "{failure}"
    );
}

#[test]
fn unreadable_certificate_exits_one_naming_it() {
    let env = TestEnv::new();
    let cert = env.path().join("bad-cert.pem");
    let key = env.path().join("bad-key.pem");
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\nnot base64\n").unwrap();
    std::fs::write(&key, "nothing").unwrap();
    let env = TestEnv {
        extra_config: format!(
            "tls_cert = \"{}\"\ntls_key = \"{}\"",
            cert.display(),
            key.display()
        ),
        ..env
    };
    env.write_config();
    let failure = env.try_serve().err().expect("must not start");
    assert!(failure.starts_with("exit Some(1)"), "{failure}");
    assert!(failure.contains("bad-cert.pem"), "{failure}");

    std::fs::remove_file(&cert).unwrap();
    let failure = env.try_serve().err().expect("must not start");
    assert!(
        failure.contains("cannot read TLS certificate") && failure.contains("bad-cert.pem"),
        "{failure}"
    );
}

#[test]
fn access_log_names_route_pattern_never_raw_path_or_query() {
    let env = TestEnv::new();
    let server = env.serve();
    let token = "tok3n-SHOULD-NOT-BE-LOGGED-7f3a";
    assert_eq!(server.get(&format!("/assets/{token}")).status(), 404);
    assert_eq!(server.get(&format!("/healthz?key={token}")).status(), 200);
    assert_eq!(server.get(&format!("/{token}/x")).status(), 404);
    let log = server.log_until(|log| log.matches("\"message\":\"request\"").count() >= 3);
    assert!(!log.contains(token), "token in log:\n{log}");
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("json log line"))
        .collect();
    let routes: Vec<&str> = lines.iter().filter_map(|l| l["route"].as_str()).collect();
    assert!(routes.contains(&"/assets/{name}"), "{routes:?}");
    assert!(routes.contains(&"/healthz"), "{routes:?}");
    assert!(routes.contains(&"(unmatched)"), "{routes:?}");
}

#[test]
fn security_txt_is_served_from_the_config_and_only_then() {
    let env = TestEnv::with_config("security_contact = \"mailto:security@acme.example\"\n");
    let server = env.serve();
    let response = server.get("/.well-known/security.txt");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let body = response.text().unwrap();
    assert!(
        body.contains("Contact: mailto:security@acme.example\n"),
        "{body}"
    );
    let expires = body
        .lines()
        .find_map(|l| l.strip_prefix("Expires: "))
        .expect("an Expires field");
    let expires =
        time::OffsetDateTime::parse(expires, &time::format_description::well_known::Rfc3339)
            .unwrap();
    let days = (expires - time::OffsetDateTime::now_utc()).whole_days();
    assert!((179..=180).contains(&days), "expires in {days} days");
    drop(server);

    // Without a contact there is nothing to publish.
    let plain = TestEnv::new();
    let server = plain.serve();
    assert_eq!(server.get("/.well-known/security.txt").status(), 404);
    drop(server);

    // A contact that is not a mailto: or https: URI stops the config check, named.
    let bad = TestEnv::with_config("security_contact = \"security at acme\"\n");
    let out = bad.rampart(&["config", "check"]);
    assert_eq!(out.status.code(), Some(2));
    let said = crate::harness::stderr(&out);
    assert!(said.contains("security_contact"), "{said}");
}
