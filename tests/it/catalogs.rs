//! Imported catalogs through the real server: who may import and delete, the
//! organization's quota (bytes and controls), a listing read from summaries, deleting one
//! no assessment uses, and a store that grows by less than what was imported.

use std::time::Instant;

use reqwest::blocking::Response;
use serde_json::{Value, json};

use crate::harness::{TestEnv, TestServer, stdout};
use crate::identity::{ADMIN_EMAIL, ADMIN_PASSWORD, Session, origin, send, set_up};

const PASSWORD: &str = "velvet orbit canyon 93 drift";
const MIB: usize = 1024 * 1024;

/// An OSCAL 1.1.3 catalog with `controls` controls in one group, each stating `prose`
/// (none when empty), written out directly: a large one would take long through a JSON
/// tree. The first control has one parameter.
pub fn generated_catalog(uuid: &str, controls: usize, prose: &str) -> String {
    let mut out = String::with_capacity(controls * (prose.len() + 96) + 512);
    out.push_str(&format!(
        r#"{{"catalog":{{"uuid":"{uuid}","metadata":{{"title":"Generated {controls}","last-modified":"2026-01-01T00:00:00Z","version":"1.0","oscal-version":"1.1.3"}},"groups":[{{"id":"gen","title":"Generated","controls":["#
    ));
    for n in 0..controls {
        if n > 0 {
            out.push(',');
        }
        out.push_str(&format!(r#"{{"id":"c-{n}","title":"Control {n}""#));
        if n == 0 {
            out.push_str(r#","params":[{"id":"c-0_prm_1","label":"a period"}]"#);
        }
        if !prose.is_empty() {
            out.push_str(&format!(
                r#","parts":[{{"id":"c-{n}_smt","name":"statement","prose":"{prose}"}}]"#
            ));
        }
        out.push('}');
    }
    out.push_str("]}]}}");
    out
}

/// A catalog of about `bytes` bytes with `controls` controls.
fn catalog_of_size(uuid: &str, controls: usize, bytes: usize) -> String {
    let per_control = (bytes / controls).saturating_sub(90).max(1);
    generated_catalog(uuid, controls, &"x".repeat(per_control))
}

fn uuid(n: u32) -> String {
    format!("7c1e2d3f-0000-4000-8000-{n:012}")
}

fn import_as(server: &TestServer, session: &Session, org: &str, body: String) -> Response {
    server
        .client
        .post(server.url(&format!("/api/v1/orgs/{org}/catalogs")))
        .header("origin", origin(server))
        .header("cookie", &session.cookie)
        .header("x-csrf-token", &session.csrf)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .unwrap()
}

fn delete_as(server: &TestServer, session: &Session, org: &str, id: &str) -> Response {
    server
        .client
        .delete(server.url(&format!("/api/v1/orgs/{org}/catalogs/{id}")))
        .header("origin", origin(server))
        .header("cookie", &session.cookie)
        .header("x-csrf-token", &session.csrf)
        .send()
        .unwrap()
}

fn imported(response: Response) -> Value {
    let status = response.status().as_u16();
    let text = response.text().unwrap();
    assert_eq!(status, 201, "{text}");
    serde_json::from_str(&text).unwrap()
}

fn error_of(response: Response, status: u16) -> Value {
    let got = response.status().as_u16();
    let body: Value = response.json().unwrap();
    assert_eq!(got, status, "{body}");
    body["error"].clone()
}

fn listed(server: &TestServer, session: &Session, org: &str) -> Vec<Value> {
    let response = session.get(server, &format!("/api/v1/orgs/{org}/catalogs"));
    assert_eq!(response.status(), 200);
    let list: Value = response.json().unwrap();
    list.as_array().unwrap().clone()
}

fn imported_ids(server: &TestServer, session: &Session, org: &str) -> Vec<String> {
    listed(server, session, org)
        .iter()
        .filter(|c| c["imported"] == true)
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

fn audit_lines(env: &TestEnv) -> Vec<Value> {
    stdout(&env.rampart(&["audit", "export"]))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A server with its first organization (Ada Admin owns it) and a member of each role.
fn with_roles(extra_config: &str) -> (TestEnv, TestServer, String, Session) {
    let env = TestEnv::with_config(extra_config);
    let server = env.serve();
    let org = set_up(&server);
    for role in ["viewer", "member", "admin"] {
        crate::identity::create_user(&env, &format!("{role}@acme.example"), PASSWORD, &org, role);
    }
    let owner = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    (env, server, org, owner)
}

fn login(server: &TestServer, role: &str) -> Session {
    Session::login(server, &format!("{role}@acme.example"), PASSWORD)
}

#[test]
fn only_admins_and_owners_import_catalogs() {
    let (env, server, org, owner) = with_roles("");
    let body = || generated_catalog(&uuid(1), 3, "Do it.");

    // A member's write token, as in the review, and a viewer's session: refused before the
    // file is read, and audited as refusals.
    let member = login(&server, "member");
    let token = send(
        &server,
        &member,
        "POST",
        &format!("/api/v1/orgs/{org}/tokens"),
        &json!({"name": "ci", "scope": "write", "expires_in_days": 1}),
    );
    assert_eq!(token.status(), 201);
    let token: Value = token.json().unwrap();
    let token = token["token"].as_str().unwrap().to_owned();
    let response = server
        .client
        .post(server.url(&format!("/api/v1/orgs/{org}/catalogs")))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(body())
        .send()
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(import_as(&server, &member, &org, body()).status(), 403);
    let viewer = login(&server, "viewer");
    assert_eq!(import_as(&server, &viewer, &org, body()).status(), 403);
    assert!(imported_ids(&server, &owner, &org).is_empty());
    let refusals = audit_lines(&env)
        .into_iter()
        .filter(|e| {
            e["action"] == "request.refused"
                && e["target"] == "POST /api/v1/orgs/{org_id}/catalogs 403"
        })
        .count();
    assert_eq!(refusals, 3);

    // An admin imports; so does the owner, and an admin's write token.
    let admin = login(&server, "admin");
    imported(import_as(&server, &admin, &org, body()));
    imported(import_as(
        &server,
        &owner,
        &org,
        generated_catalog(&uuid(2), 3, "Do it."),
    ));
    let token = send(
        &server,
        &admin,
        "POST",
        &format!("/api/v1/orgs/{org}/tokens"),
        &json!({"name": "ci", "scope": "write", "expires_in_days": 1}),
    );
    let token: Value = token.json().unwrap();
    let response = server
        .client
        .post(server.url(&format!("/api/v1/orgs/{org}/catalogs")))
        .header(
            "authorization",
            format!("Bearer {}", token["token"].as_str().unwrap()),
        )
        .header("content-type", "application/json")
        .body(generated_catalog(&uuid(3), 3, "Do it."))
        .send()
        .unwrap();
    imported(response);
    assert_eq!(imported_ids(&server, &owner, &org).len(), 3);
    // Members and viewers still read them.
    assert_eq!(imported_ids(&server, &viewer, &org).len(), 3);
}

#[test]
fn the_quota_counts_bytes_and_a_refusal_keeps_nothing() {
    // The default: 20 MiB per organization.
    let (env, server, org, owner) = with_roles("");
    let admin = login(&server, "admin");
    // Two 8 MiB catalogs fit, a third does not.
    let first = catalog_of_size(&uuid(10), 2_000, 8 * MIB);
    assert!(first.len() > 8 * MIB - 64 * 1024 && first.len() < 9 * MIB);
    imported(import_as(&server, &admin, &org, first));
    imported(import_as(
        &server,
        &admin,
        &org,
        catalog_of_size(&uuid(11), 2_000, 8 * MIB),
    ));
    let before = listed(&server, &owner, &org);
    let error = error_of(
        import_as(
            &server,
            &admin,
            &org,
            catalog_of_size(&uuid(12), 100, 8 * MIB),
        ),
        507,
    );
    assert_eq!(error["code"], "quota_exceeded");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("of 21 MB"), "{message}");
    assert!(message.contains("4000 of 20000 controls"), "{message}");
    assert_eq!(listed(&server, &owner, &org), before, "nothing of it kept");
    // No audit entry claims an import that did not happen.
    let imports = audit_lines(&env)
        .into_iter()
        .filter(|e| e["action"] == "catalog.import")
        .count();
    assert_eq!(imports, 2);
}

#[test]
fn the_quota_counts_controls_and_a_refusal_keeps_nothing() {
    // The default: 20,000 controls per organization.
    let (env, server, org, owner) = with_roles("");
    let admin = login(&server, "admin");
    imported(import_as(
        &server,
        &admin,
        &org,
        generated_catalog(&uuid(20), 16_000, ""),
    ));
    let before = listed(&server, &owner, &org);
    let error = error_of(
        import_as(
            &server,
            &admin,
            &org,
            generated_catalog(&uuid(21), 4_001, ""),
        ),
        507,
    );
    assert_eq!(error["code"], "quota_exceeded");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("4001 controls"), "{message}");
    assert!(message.contains("16000 of 20000 controls"), "{message}");
    assert_eq!(listed(&server, &owner, &org), before, "nothing of it kept");
    // Exactly to the limit is within it.
    imported(import_as(
        &server,
        &admin,
        &org,
        generated_catalog(&uuid(22), 4_000, ""),
    ));
    // Full: refused before the file is read, even a small one.
    let error = error_of(
        import_as(&server, &admin, &org, generated_catalog(&uuid(23), 1, "")),
        507,
    );
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("20000 of 20000 controls")
    );
    let imports = audit_lines(&env)
        .into_iter()
        .filter(|e| e["action"] == "catalog.import")
        .count();
    assert_eq!(imports, 2);
}

#[test]
fn the_quota_is_configurable() {
    let (_env, server, org, owner) =
        with_roles("catalog_quota_bytes = 4096\ncatalog_quota_controls = 5\n");
    let error = error_of(
        import_as(&server, &owner, &org, generated_catalog(&uuid(30), 6, "")),
        507,
    );
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("0 of 5 controls")
    );
    imported(import_as(
        &server,
        &owner,
        &org,
        generated_catalog(&uuid(31), 5, ""),
    ));
    let error = error_of(
        import_as(&server, &owner, &org, catalog_of_size(&uuid(32), 1, 5000)),
        507,
    );
    assert!(error["message"].as_str().unwrap().contains("of 4.1 KB"));
}

#[test]
fn a_full_quota_refuses_an_upload_of_unknown_length_before_reading_it() {
    let catalog = catalog_of_size(&uuid(35), 3, 2_000);
    let (_env, server, org, owner) = with_roles(&format!(
        "catalog_quota_bytes = {}\ncatalog_quota_controls = 1000\n",
        catalog.len()
    ));
    imported(import_as(&server, &owner, &org, catalog));
    // Chunked: no Content-Length to weigh. Refused before the body is read, the refusal
    // cannot name the upload's size (one read first would).
    let chunked = server
        .client
        .post(server.url(&format!("/api/v1/orgs/{org}/catalogs")))
        .header("origin", origin(&server))
        .header("cookie", &owner.cookie)
        .header("x-csrf-token", &owner.csrf)
        .header("content-type", "application/json")
        .body(reqwest::blocking::Body::new(std::io::Cursor::new(
            b"this is not a catalog".to_vec(),
        )))
        .send()
        .unwrap();
    let error = error_of(chunked, 507);
    let message = error["message"].as_str().unwrap();
    assert!(
        message.starts_with("this catalog does not fit"),
        "{message}"
    );
    assert!(message.contains("3 of 1000 controls"), "{message}");
}

#[test]
fn the_listing_keeps_its_fields_and_a_catalog_reads_back_whole() {
    let (_env, server, org, owner) = with_roles("");
    // Large enough that its compressed body takes several rows.
    let catalog = generated_catalog(&uuid(40), 6_000, "Keep records of it.");
    let size = catalog.len();
    let summary = imported(import_as(&server, &owner, &org, catalog));
    let id = summary["id"].as_str().unwrap().to_owned();
    assert_eq!(id, format!("imported-{}", uuid(40)));

    let viewer = login(&server, "viewer");
    let list = listed(&server, &viewer, &org);
    let builtin = list.iter().find(|c| c["id"] == "cmmc-l2").unwrap();
    let mine = list.iter().find(|c| c["id"] == id.as_str()).unwrap();
    for field in [
        "id",
        "title",
        "version",
        "scored",
        "imported",
        "families",
        "requirements",
        "withdrawn",
        "objectives",
    ] {
        assert!(builtin.get(field).is_some(), "{field}: {builtin}");
        assert!(mine.get(field).is_some(), "{field}: {mine}");
    }
    assert_eq!(builtin["requirements"], 110);
    assert_eq!(builtin["scored"], true);
    assert_eq!(mine, &summary);
    assert_eq!(mine["title"], "Generated 6000");
    assert_eq!(mine["version"], "1.0");
    assert_eq!(mine["scored"], false);
    assert_eq!(mine["families"], 1);
    assert_eq!(mine["requirements"], 6_000);
    assert_eq!(mine["withdrawn"], 0);
    assert_eq!(mine["objectives"], 6_000);
    assert_eq!(mine["bytes"], size);
    assert!(mine["imported_at"].is_i64());
    assert!(mine["imported_by"].is_string());

    // The whole catalog, read back from its compact form.
    let whole: Value = viewer
        .get(&server, &format!("/api/v1/orgs/{org}/catalogs/{id}"))
        .json()
        .unwrap();
    let requirements = whole["families"][0]["requirements"].as_array().unwrap();
    assert_eq!(requirements.len(), 6_000);
    assert_eq!(requirements[5_999]["id"], "c-5999");
    assert_eq!(requirements[7]["statement"], "Keep records of it.");
    assert_eq!(requirements[0]["parameters"][0]["id"], "c-0_prm_1");
}

#[test]
fn an_imported_catalog_no_assessment_uses_can_be_deleted() {
    let (env, server, org, owner) = with_roles("");
    let admin = login(&server, "admin");
    let used = imported(import_as(
        &server,
        &admin,
        &org,
        generated_catalog(&uuid(50), 4, "Do it."),
    ))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let unused_body = || generated_catalog(&uuid(51), 4, "Do it.");
    let unused = imported(import_as(&server, &admin, &org, unused_body()))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    crate::compliance::create_assessment(&server, &owner, &org, &used);
    crate::compliance::create_assessment(&server, &owner, &org, &used);
    // A value for the unused catalog's parameter, which goes with it.
    let set = send(
        &server,
        &owner,
        "PUT",
        &format!("/api/v1/orgs/{org}/parameters/{unused}"),
        &json!({"values": {"c-0_prm_1": "90 days"}}),
    );
    assert_eq!(set.status(), 200, "{}", set.text().unwrap());

    // Members and viewers may not; another organization's owner finds nothing there.
    for role in ["member", "viewer"] {
        assert_eq!(
            delete_as(&server, &login(&server, role), &org, &unused).status(),
            403
        );
    }
    let other = crate::matrix::create_org(&env, "Initech");
    crate::identity::create_user(&env, "owner@initech.example", PASSWORD, &other, "owner");
    let stranger = Session::login(&server, "owner@initech.example", PASSWORD);
    assert_eq!(delete_as(&server, &stranger, &org, &unused).status(), 404);
    // Its own organization does not hold the id either.
    assert_eq!(delete_as(&server, &stranger, &other, &unused).status(), 404);
    // Built-in catalogs and unknown ids are not found.
    for id in ["cmmc-l2", "nist-800-171r3", "imported-nothing", "nothing"] {
        assert_eq!(delete_as(&server, &admin, &org, id).status(), 404, "{id}");
    }
    // In use: refused, with how many use it.
    let error = error_of(delete_as(&server, &owner, &org, &used), 409);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("2 assessments use this catalog"),
        "{error}"
    );
    assert_eq!(
        imported_ids(&server, &owner, &org),
        [used.clone(), unused.clone()]
    );

    // Unused: gone, with its parameter values.
    let response = delete_as(&server, &admin, &org, &unused);
    assert_eq!(response.status(), 204);
    assert_eq!(imported_ids(&server, &owner, &org), [used.as_str()]);
    assert_eq!(
        owner
            .get(&server, &format!("/api/v1/orgs/{org}/catalogs/{unused}"))
            .status(),
        404
    );
    assert_eq!(delete_as(&server, &admin, &org, &unused).status(), 404);
    imported(import_as(&server, &admin, &org, unused_body()));
    let parameters: Value = owner
        .get(&server, &format!("/api/v1/orgs/{org}/parameters/{unused}"))
        .json()
        .unwrap();
    assert_eq!(parameters[0]["value"], Value::Null, "{parameters}");

    // The used one still assesses.
    let assessments: Value = owner
        .get(&server, &format!("/api/v1/orgs/{org}/assessments"))
        .json()
        .unwrap();
    let assessment = assessments[0]["id"].as_str().unwrap();
    let objectives = owner.get(
        &server,
        &format!("/api/v1/orgs/{org}/assessments/{assessment}/objectives"),
    );
    assert_eq!(objectives.status(), 200);

    let deletes: Vec<Value> = audit_lines(&env)
        .into_iter()
        .filter(|e| e["action"] == "catalog.delete")
        .collect();
    assert_eq!(deletes.len(), 1);
    assert_eq!(deletes[0]["target"], unused.as_str());
    assert_eq!(deletes[0]["org"], org.as_str());
}

#[test]
fn the_catalogs_page_lists_catalogs_and_offers_delete_to_admins() {
    let (env, server, org, owner) = with_roles("");
    let used = imported(import_as(
        &server,
        &owner,
        &org,
        generated_catalog(&uuid(60), 4, "Do it."),
    ))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let unused = imported(import_as(
        &server,
        &owner,
        &org,
        generated_catalog(&uuid(61), 7, "Do it."),
    ))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    crate::compliance::create_assessment(&server, &owner, &org, &used);
    let page = |session: &Session| {
        let response = session.get(&server, &format!("/orgs/{org}/catalogs"));
        let status = response.status().as_u16();
        (status, response.text().unwrap())
    };
    let (status, html) = page(&login(&server, "admin"));
    assert_eq!(status, 200);
    assert!(html.contains("Generated 7"), "{html}");
    assert!(html.contains("CMMC"), "{html}");
    assert!(html.contains("Imported "), "{html}");
    assert!(html.contains("Ada Admin"), "importer named: {html}");
    assert!(html.contains("11 of 20,000 controls"), "{html}");
    let delete = format!("data-api-call=\"DELETE /api/v1/orgs/{org}/catalogs/{unused}\"");
    assert!(html.contains(&delete), "{html}");
    assert!(html.contains("data-confirm=\"Delete the catalog Generated 7?"));
    assert!(
        !html.contains(&format!("catalogs/{used}\"")),
        "in use: {html}"
    );
    let (status, html) = page(&login(&server, "member"));
    assert_eq!(status, 200);
    assert!(html.contains("Generated 7"));
    assert!(!html.contains("data-api-call"), "{html}");
    // Someone else's organization is not found.
    let other = crate::matrix::create_org(&env, "Initech");
    crate::identity::create_user(&env, "owner@initech.example", PASSWORD, &other, "owner");
    let stranger = Session::login(&server, "owner@initech.example", PASSWORD);
    assert_eq!(page(&stranger).0, 404);
}

fn store_bytes(env: &TestEnv) -> u64 {
    std::fs::metadata(env.store_path()).unwrap().len()
}

fn rss_kib(server: &TestServer) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn the_store_grows_by_less_than_what_was_imported() {
    let (env, server, org, owner) =
        with_roles("catalog_quota_bytes = 104857600\ncatalog_quota_controls = 1000000\n");
    let before = store_bytes(&env);
    let mut sent = 0;
    for n in 0..3 {
        // Many small controls, like the review's: 2 MiB, 60,000 controls each.
        let body = generated_catalog(&uuid(70 + n), 60_000, "");
        sent += body.len() as u64;
        imported(import_as(&server, &owner, &org, body));
    }
    let grown = store_bytes(&env) - before;
    eprintln!("imported {sent} bytes; the store grew by {grown} bytes");
    assert!(
        grown < sent,
        "imported {sent} bytes; the store grew by {grown}"
    );
}

/// The review's case, measured: five 5 MiB catalogs of 170,000 controls each, with the
/// quota raised to take them. Prints the store's growth, the daemon's resident memory and
/// how long a listing takes. By hand:
/// `cargo nextest run --run-ignored only --no-capture -E 'test(/import_costs/)'`
#[test]
#[ignore = "a measurement, not a check"]
fn import_costs_of_the_review_case() {
    let (env, server, org, owner) =
        with_roles("catalog_quota_bytes = 1073741824\ncatalog_quota_controls = 10000000\n");
    let start = (store_bytes(&env), rss_kib(&server));
    let mut sent = 0;
    for n in 0..5 {
        let body = generated_catalog(&uuid(80 + n), 170_000, "");
        sent += body.len() as u64;
        let started = Instant::now();
        imported(import_as(&server, &owner, &org, body));
        eprintln!(
            "import {n}: {:?}, RSS {} KiB",
            started.elapsed(),
            rss_kib(&server)
        );
    }
    let after_imports = (store_bytes(&env), rss_kib(&server));
    let viewer = login(&server, "viewer");
    for n in 0..3 {
        let started = Instant::now();
        assert_eq!(listed(&server, &viewer, &org).len(), 10);
        eprintln!(
            "listing {n}: {:?}, RSS {} KiB",
            started.elapsed(),
            rss_kib(&server)
        );
    }
    eprintln!(
        "sent {sent} bytes; store {} -> {} bytes; RSS {} -> {} -> {} KiB",
        start.0,
        after_imports.0,
        start.1,
        after_imports.1,
        rss_kib(&server)
    );
}
