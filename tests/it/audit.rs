//! The audit log through the CLI: operator actions are recorded, the chain verifies, export
//! is JSON lines, and a tampered record is caught. (Chain-level tamper cases, forged by an
//! insider holding the key, are unit tests in src/audit.rs.)

use redb::{ReadableTable, TableDefinition};

use crate::harness::{TestEnv, stderr, stdout};

#[test]
fn operator_actions_are_recorded_and_chain_verifies() {
    let env = TestEnv::new();
    let _server = env.serve();
    for name in ["Alpha Corp", "Beta LLC"] {
        assert_eq!(
            env.rampart(&["admin", "org", "create", name]).status.code(),
            Some(0)
        );
    }
    let out = env.rampart(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("audit log intact: 2 entries"),
        "{}",
        stdout(&out)
    );

    let out = env.rampart(&["audit", "export"]);
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["action"], "org.create");
    assert_eq!(lines[0]["actor"]["kind"], "operator");
    assert_eq!(lines[0]["outcome"], "success");
    assert_eq!(lines[1]["prev"], lines[0]["hash"]);
    assert!(
        !stdout(&out).contains("Alpha Corp"),
        "names belong in records, not the log"
    );
}

#[test]
fn flipped_audit_ciphertext_is_refused() {
    let env = TestEnv::new();
    assert_eq!(env.rampart(&["init"]).status.code(), Some(0));
    assert_eq!(
        env.rampart(&["admin", "org", "create", "Gamma"])
            .status
            .code(),
        Some(0)
    );
    let table: TableDefinition<&[u8], &[u8]> = TableDefinition::new("s.audit");
    {
        let db = redb::Database::open(env.store_path()).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut t = txn.open_table(table).unwrap();
            let (key, mut value) = {
                let (k, v) = t.iter().unwrap().next().unwrap().unwrap();
                (k.value().to_vec(), v.value().to_vec())
            };
            let middle = value.len() / 2;
            value[middle] ^= 1;
            t.insert(key.as_slice(), value.as_slice()).unwrap();
        }
        txn.commit().unwrap();
    }
    let out = env.rampart(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("s.audit fails authentication"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn sealed_segments_archive_to_files_and_everything_still_verifies() {
    let env = TestEnv::new();
    let server = env.serve();
    crate::identity::set_up(&server);
    let sealed = env.rampart(&["audit", "seal"]);
    assert_eq!(sealed.status.code(), Some(0), "{}", stderr(&sealed));
    let seal: serde_json::Value = serde_json::from_str(&stdout(&sealed)).unwrap();
    assert_eq!(seal["segment"], 1);
    let sealed_entries = seal["last_seq"].as_u64().unwrap();
    assert!(sealed_entries >= 2, "setup and sign-in were logged");

    // Later events stay in the store after archiving.
    crate::identity::Session::login(
        &server,
        crate::identity::ADMIN_EMAIL,
        crate::identity::ADMIN_PASSWORD,
    );
    let archive_dir = env.path().join("audit-archive");
    let archived = env.rampart(&["audit", "archive", "--to", archive_dir.to_str().unwrap()]);
    assert_eq!(archived.status.code(), Some(0), "{}", stderr(&archived));
    let file = archive_dir.join("audit-segment-000001.jsonl");
    assert!(file.exists(), "{}", stdout(&archived));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap().lines().count() as u64,
        sealed_entries + 1,
        "every entry of the segment, then its seal"
    );

    let verified = env.rampart(&["audit", "verify"]);
    assert_eq!(verified.status.code(), Some(0), "{}", stdout(&verified));
    let exported = env.rampart(&["audit", "export"]);
    let first: serde_json::Value =
        serde_json::from_str(stdout(&exported).lines().next().unwrap()).unwrap();
    assert_eq!(first["seq"].as_u64().unwrap(), sealed_entries + 1);

    let file_arg = file.to_str().unwrap();
    let alone = env.rampart(&["audit", "verify", "--archive", file_arg]);
    assert_eq!(alone.status.code(), Some(0), "{}", stdout(&alone));
    assert!(stdout(&alone).contains("intact"), "{}", stdout(&alone));

    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replacen("\"outcome\":\"success\"", "\"outcome\":\"failure\"", 1),
    )
    .unwrap();
    let tampered = env.rampart(&["audit", "verify", "--archive", file_arg]);
    assert_eq!(tampered.status.code(), Some(1));
    assert!(
        stdout(&tampered).contains("BROKEN at entry 1"),
        "{}",
        stdout(&tampered)
    );
}

/// Refused requests are recorded with who asked: a viewer's write, another organization's
/// owner probing this organization's ids (its owners see that in their own log), and a
/// change without its CSRF token. Reads of unknown paths are not.
#[test]
fn refused_requests_are_recorded_where_the_owners_see_them() {
    use crate::identity::{ADMIN_EMAIL, ADMIN_PASSWORD, Session, create_user, origin, set_up};
    use serde_json::Value;

    let env = TestEnv::new();
    let server = env.serve();
    let org = set_up(&server);
    let other = crate::matrix::create_org(&env, "Initech");
    let password = "copper violin meadow 82 orbit";
    create_user(&env, "viewer@acme.example", password, &org, "viewer");
    create_user(&env, "owner@initech.example", password, &other, "owner");
    let viewer = Session::login(&server, "viewer@acme.example", password);
    let stranger = Session::login(&server, "owner@initech.example", password);
    let send = |session: &Session, method: reqwest::Method, path: &str, csrf: bool| {
        let mut request = server
            .client
            .request(method, server.url(path))
            .header("origin", origin(&server))
            .header("cookie", &session.cookie)
            .json(&serde_json::json!({"name": "Hijacked"}));
        if csrf {
            request = request.header("x-csrf-token", &session.csrf);
        }
        request.send().unwrap().status().as_u16()
    };
    let org_path = format!("/api/v1/orgs/{org}");
    assert_eq!(send(&viewer, reqwest::Method::PUT, &org_path, true), 403);
    assert_eq!(send(&stranger, reqwest::Method::GET, &org_path, true), 404);
    assert_eq!(
        send(&viewer, reqwest::Method::POST, "/api/v1/auth/logout", false),
        403
    );
    assert_eq!(server.get("/no/such/page").status(), 404);
    // Refused at the edge (another site's origin), before any route is matched.
    let cross_origin = server
        .client
        .patch(server.url(&format!(
            "/api/v1/orgs/{org}/assessments/{}/objectives",
            uuid::Uuid::new_v4()
        )))
        .header("origin", "https://elsewhere.example")
        .header("cookie", &viewer.cookie)
        .header("x-csrf-token", &viewer.csrf)
        .json(&serde_json::json!({"updates": []}))
        .send()
        .unwrap();
    assert_eq!(cross_origin.status().as_u16(), 403);

    let owner = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let log: Value = owner
        .get(
            &server,
            &format!("/api/v1/orgs/{org}/audit?action=request.refused"),
        )
        .json()
        .unwrap();
    let entries = log.as_array().unwrap();
    let targets: Vec<&str> = entries
        .iter()
        .map(|e| e["target"].as_str().unwrap())
        .collect();
    assert!(
        targets.contains(&"PUT /api/v1/orgs/{org_id} 403"),
        "{targets:?}"
    );
    assert!(
        targets.contains(&"GET /api/v1/orgs/{org_id} 404"),
        "{targets:?}"
    );
    assert!(entries.iter().all(|e| e["outcome"] == "denied"));
    let me: Value = stranger.get(&server, "/api/v1/me").json().unwrap();
    let stranger_id = me["account"]["id"].as_str().unwrap();
    assert!(
        entries.iter().any(|e| e["actor"]["id"] == stranger_id),
        "the prober is named: {entries:?}"
    );

    let everything = stdout(&env.rampart(&["audit", "export"]));
    assert!(
        everything.contains("POST /api/v1/auth/logout 403"),
        "CSRF refusal recorded"
    );
    assert!(
        everything
            .contains("PATCH /api/v1/orgs/{org_id}/assessments/{assessment_id}/objectives 403"),
        "a refusal before routing is named by its route pattern, as written in the API"
    );
    assert!(
        !everything.contains("no/such/page"),
        "unknown paths are not recorded"
    );
}
