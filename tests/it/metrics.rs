//! The metrics listener: its own port (never the public one), Prometheus text format read
//! back by Prometheus's own parser, counts that follow what happened, and no names.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::harness::{TestEnv, TestServer, stderr};
use crate::identity::{ADMIN_EMAIL, post_json, set_up};

/// The metrics address the server printed.
fn metrics_url(server: &TestServer) -> String {
    let log = server.log_until(|log| log.contains("Metrics on http://"));
    let rest = log
        .split("Metrics on http://")
        .nth(1)
        .expect("metrics line");
    format!("http://{}", rest.lines().next().unwrap().trim())
}

/// GET over plain HTTP/1.1, as Prometheus scrapes: content type and body.
fn scrape(url: &str) -> (String, String) {
    let rest = url.strip_prefix("http://").unwrap();
    let (addr, path) = rest.split_once('/').unwrap();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET /{path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    std::io::Read::read_to_string(&mut stream, &mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let kind = head
        .lines()
        .find_map(|l| l.strip_prefix("content-type: "))
        .unwrap()
        .to_owned();
    (kind, body.to_owned())
}

/// Every sample as `name{labels}` -> value, and every family's type, as Prometheus's Python
/// client parses the text: a format error fails the parse.
fn parse(text: &str) -> (BTreeMap<String, f64>, BTreeMap<String, String>) {
    const SCRIPT: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
samples, types = {}, {}
for family in text_string_to_metric_families(sys.stdin.read()):
    types[family.name] = family.type
    for s in family.samples:
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
        samples[f"{s.name}{{{labels}}}"] = s.value
print(json.dumps({"samples": samples, "types": types}))
"#;
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the Prometheus parser refused the text: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parsed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let samples = parsed["samples"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_f64().unwrap()))
        .collect();
    let types = parsed["types"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    (samples, types)
}

#[test]
fn metrics_are_served_apart_in_prometheus_text_and_follow_what_happened() {
    let env = TestEnv::new();
    let server = env.serve();
    let org = set_up(&server);
    let url = metrics_url(&server);
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/metrics"),
        "{url}"
    );

    let (kind, text) = scrape(&url);
    assert_eq!(kind, "text/plain; version=0.0.4; charset=utf-8");
    let (before, types) = parse(&text);
    for (family, kind) in [
        ("rampart_http_requests", "counter"),
        ("rampart_http_request_duration_seconds", "histogram"),
        ("rampart_signin_failures", "counter"),
        ("rampart_lockouts", "counter"),
        ("rampart_mail_delivery_failures", "counter"),
        ("rampart_mail_outbox_messages", "gauge"),
        ("rampart_job_runs", "counter"),
        ("rampart_store_size_bytes", "gauge"),
        ("rampart_evidence_size_bytes", "gauge"),
        ("rampart_backup_last_success_timestamp_seconds", "gauge"),
    ] {
        assert_eq!(
            types.get(family).map(String::as_str),
            Some(kind),
            "{family} in {types:?}"
        );
    }
    assert!(before["rampart_store_size_bytes{}"] > 0.0);
    assert_eq!(
        before["rampart_backup_last_success_timestamp_seconds{}"],
        0.0
    );

    // What happens is counted: pages, health checks, refused sign-ins up to a lockout, a
    // job run.
    for _ in 0..3 {
        assert_eq!(server.get("/healthz").status(), 200);
    }
    let refused = |n: usize| {
        for _ in 0..n {
            let response = post_json(
                &server,
                "/api/v1/auth/login",
                &json!({"email": ADMIN_EMAIL, "password": "not the password"}),
            );
            assert_eq!(response.status(), 401);
        }
    };
    refused(5);
    let out = env.rampart(&["jobs", "run", "retention"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let (_, text) = scrape(&url);
    let (after, _) = parse(&text);
    let grew = |sample: &str| {
        after.get(sample).copied().unwrap_or(0.0) - before.get(sample).copied().unwrap_or(0.0)
    };
    assert_eq!(
        grew(r#"rampart_http_requests_total{route="health",status="200"}"#),
        3.0
    );
    assert_eq!(
        grew(r#"rampart_http_requests_total{route="auth",status="401"}"#),
        5.0
    );
    assert_eq!(grew("rampart_signin_failures_total{}"), 5.0);
    assert_eq!(grew("rampart_lockouts_total{}"), 1.0);
    assert_eq!(
        grew(r#"rampart_job_runs_total{job="retention",outcome="success"}"#),
        1.0
    );
    assert!(after[r#"rampart_job_last_success_timestamp_seconds{job="retention"}"#] > 1.7e9);
    // A histogram's buckets are cumulative and end in the count.
    let count = after[r#"rampart_http_request_duration_seconds_count{route="health"}"#];
    assert_eq!(
        after[r#"rampart_http_request_duration_seconds_bucket{le="+Inf",route="health"}"#],
        count
    );
    assert!(
        after[r#"rampart_http_request_duration_seconds_bucket{le="0.001",route="health"}"#]
            <= count
    );

    // Nothing in the metrics names a person or an organization.
    assert!(!text.to_lowercase().contains(&ADMIN_EMAIL.to_lowercase()));
    assert!(!text.contains(&org));

    // Not on the public port.
    assert_eq!(server.get("/metrics").status(), 404);
}

#[test]
fn metrics_can_be_turned_off() {
    let env = TestEnv::with_config("metrics_listen = \"off\"\n");
    let server = env.serve();
    assert!(!server.log().contains("Metrics on"), "{}", server.log());
    let out = env.rampart(&["config", "check"]);
    let text = crate::harness::stdout(&out);
    assert!(text.contains("metrics_listen = off    # "), "{text}");
    let out =
        TestEnv::with_config("metrics_listen = \"127.0.0.1\"\n").rampart(&["config", "check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("metrics_listen"), "{}", stderr(&out));
}
