//! Erasing an organization: only its owner (or the operator), only with its exact name;
//! afterwards its key and rows are gone from the store file, its files from the disk, other
//! organizations untouched, and a backup made before still holds it, as the receipt says.

use std::path::Path;

use redb::{ReadableDatabase, ReadableTable, TableDefinition, TableHandle};
use serde_json::{Value, json};

use crate::evidence::{pdf, upload};
use crate::harness::{TestEnv, stderr, stdout};
use crate::identity::{ADMIN_EMAIL, ADMIN_PASSWORD, Session, create_user, origin, send, set_up};

const PASSWORD: &str = "velvet orbit canyon 93 drift";

fn erase(
    server: &crate::harness::TestServer,
    session: &Session,
    org: &str,
    confirm: &str,
) -> (u16, Value) {
    let response = server
        .client
        .post(server.url(&format!("/api/v1/orgs/{org}/erase")))
        .header("origin", origin(server))
        .header("cookie", &session.cookie)
        .header("x-csrf-token", &session.csrf)
        .json(&json!({ "confirm": confirm }))
        .send()
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

/// How many rows `table` of the store file holds (0 when it does not exist).
fn rows_in(store: &Path, table: &str) -> usize {
    let db = redb::ReadOnlyDatabase::open(store).unwrap();
    let txn = db.begin_read().unwrap();
    match txn.open_table(TableDefinition::<&[u8], &[u8]>::new(table)) {
        Ok(table) => table.iter().unwrap().count(),
        Err(_) => 0,
    }
}

/// Rows of the store file whose key starts with `org`'s 16 bytes, in any sealed table, and
/// whether `org` still has a data key. Read straight from the file, as an attacker with
/// the disk would.
fn traces_in_store(store: &Path, org: &str) -> (usize, bool) {
    let org = uuid::Uuid::parse_str(org).unwrap();
    let prefix = org.as_bytes().as_slice();
    let db = redb::ReadOnlyDatabase::open(store).unwrap();
    let txn = db.begin_read().unwrap();
    let mut rows = 0;
    for handle in txn.list_tables().unwrap() {
        let name = handle.name().to_owned();
        if !(name.starts_with("t.") || name.starts_with("s.")) {
            continue;
        }
        let table = txn
            .open_table(TableDefinition::<&[u8], &[u8]>::new(&name))
            .unwrap();
        for entry in table.iter().unwrap() {
            let (key, _) = entry.unwrap();
            if key.value().starts_with(prefix) {
                rows += 1;
            }
        }
    }
    let keys = txn
        .open_table(TableDefinition::<&[u8], &[u8]>::new("org_keys"))
        .unwrap();
    let has_key = keys.get(prefix).unwrap().is_some();
    (rows, has_key)
}

#[test]
fn an_owner_erases_an_organization_and_nothing_of_it_can_be_read_again() {
    let keys = tempfile::tempdir().unwrap();
    let (identity, recipient) = crate::backup::age_identity(keys.path());
    let env = TestEnv::with_config(&format!(
        "backup_recipients = [\"{recipient}\"]\nbackup_keep_days = 30\n"
    ));
    let server = env.serve();
    let org = set_up(&server);
    let owner = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let evidence = upload(&server, &owner, &org, "policy.pdf", &pdf("to be erased"));
    create_user(&env, "admin@acme.example", PASSWORD, &org, "admin");
    let org_admin = Session::login(&server, "admin@acme.example", PASSWORD);

    // Another organization, which must come through untouched.
    let other = crate::matrix::create_org(&env, "Initech");
    create_user(&env, "owner@initech.example", PASSWORD, &other, "owner");
    let other_owner = Session::login(&server, "owner@initech.example", PASSWORD);
    let kept = upload(&server, &other_owner, &other, "kept.pdf", &pdf("kept"));

    // A backup before the erasure.
    let backups = env.path().join("backups");
    let out = env.rampart(&[
        "backup",
        "create",
        "--to",
        &format!("{}/", backups.display()),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let old_blobs = env.data_dir().join("evidence").join(&org);
    let saved = env.path().join("saved-blobs");
    std::fs::create_dir_all(&saved).unwrap();
    for entry in std::fs::read_dir(&old_blobs).unwrap().flatten() {
        std::fs::copy(entry.path(), saved.join(entry.file_name())).unwrap();
    }

    // A share link to its file, which must stop answering with the organization.
    let link = send(
        &server,
        &owner,
        "POST",
        &format!(
            "/api/v1/orgs/{org}/evidence/{}/links",
            evidence["id"].as_str().unwrap()
        ),
        &json!({}),
    );
    assert_eq!(link.status(), 201);
    let link: Value = link.json().unwrap();
    let shared = format!(
        "/share/{}",
        link["url"]
            .as_str()
            .unwrap()
            .rsplit_once("/share/")
            .unwrap()
            .1
    );
    assert_eq!(server.get(&shared).status(), 200);

    // An invitation still open: it names an address, and goes with the organization.
    let invited = send(
        &server,
        &owner,
        "POST",
        &format!("/api/v1/orgs/{org}/invitations"),
        &json!({"email": "pending@acme.example", "role": "viewer"}),
    );
    assert_eq!(invited.status(), 201);

    // Refused: an admin who is not the owner, another organization's owner, a wrong name.
    assert_eq!(erase(&server, &org_admin, &org, "Acme Defense").0, 403);
    assert_eq!(erase(&server, &other_owner, &org, "Acme Defense").0, 404);
    let (status, body) = erase(&server, &owner, &org, "Acme");
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "confirm", "{body}");
    let download = format!(
        "/api/v1/orgs/{org}/evidence/{}/download",
        evidence["id"].as_str().unwrap()
    );
    assert_eq!(
        owner.get(&server, &download).status(),
        200,
        "nothing erased yet"
    );

    let (status, receipt) = erase(&server, &owner, &org, "Acme Defense");
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(receipt["organization"], org.as_str());
    assert!(
        receipt["records_removed"].as_u64().unwrap() >= 2,
        "{receipt}"
    );
    assert_eq!(receipt["files_removed"], 1, "{receipt}");
    let erased_at = receipt["erased_at"].as_i64().unwrap();
    assert_eq!(
        receipt["backups_expire_by"].as_i64().unwrap(),
        erased_at + 31 * 86_400
    );
    assert!(
        receipt["statement"]
            .as_str()
            .unwrap()
            .contains("data key was destroyed")
    );

    // Gone for everyone, the appliance administrator included; its files are off the disk.
    assert_eq!(owner.get(&server, &download).status(), 404);
    assert_eq!(server.get(&shared).status(), 404, "the share link");
    assert_every_route_naming_it_is_gone(&server, &owner, &org, &evidence);
    assert_eq!(
        owner.get(&server, &format!("/api/v1/orgs/{org}")).status(),
        404
    );
    assert!(!old_blobs.exists());
    let me: Value = owner.get(&server, "/api/v1/me").json().unwrap();
    assert!(
        me["organizations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["id"] != org.as_str()),
        "{me}"
    );
    // The other organization is as it was.
    let kept_download = format!(
        "/api/v1/orgs/{other}/evidence/{}/download",
        kept["id"].as_str().unwrap()
    );
    assert_eq!(
        other_owner
            .get(&server, &kept_download)
            .bytes()
            .unwrap()
            .as_ref(),
        pdf("kept").as_slice()
    );
    // Audited, and the chain still verifies.
    let log = stdout(&env.rampart(&["audit", "export"]));
    assert!(
        log.lines()
            .any(|l| l.contains("\"org.erase\"") && l.contains(&org)),
        "{log}"
    );
    assert_eq!(env.rampart(&["audit", "verify"]).status.code(), Some(0));

    // The store file holds no row and no key of it: the old blobs, put back as a crash
    // would leave them, have no key anywhere, and the next start sweeps them.
    assert!(server.stop().success());
    assert_eq!(traces_in_store(&env.store_path(), &org), (0, false));
    assert_eq!(
        rows_in(&env.store_path(), "s.invitations"),
        0,
        "invitation kept"
    );
    let (other_rows, other_key) = traces_in_store(&env.store_path(), &other);
    assert!(other_rows > 0 && other_key);
    std::fs::create_dir_all(&old_blobs).unwrap();
    for entry in std::fs::read_dir(&saved).unwrap().flatten() {
        std::fs::copy(entry.path(), old_blobs.join(entry.file_name())).unwrap();
    }
    let server = env.serve();
    assert!(!old_blobs.exists(), "swept at start");
    assert_eq!(
        server.get(&shared).status(),
        404,
        "the share link, after a restart"
    );
    assert_eq!(env.rampart(&["evidence", "verify"]).status.code(), Some(0));
    drop(server);

    // A backup made before still holds it, until it expires under the retention.
    let backup = std::fs::read_dir(&backups)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let elsewhere = TestEnv::new();
    let out = elsewhere.rampart(&[
        "restore",
        backup.to_str().unwrap(),
        "--data-dir",
        elsewhere.data_dir().to_str().unwrap(),
        "--identity",
        identity.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&elsewhere.rampart(&["admin", "org", "list"])).contains("Acme Defense"));
}

/// Every route of the API that names an organization, with the erased one's id (and the id
/// of the file it held wherever a route names something else): each answers 404 (or
/// refuses the body first), none 5xx, for its former owner, who is also the appliance's
/// administrator.
fn assert_every_route_naming_it_is_gone(
    server: &crate::harness::TestServer,
    owner: &Session,
    org: &str,
    evidence: &Value,
) {
    let spec: Value = server.get("/api/v1/openapi.json").json().unwrap();
    let evidence = evidence["id"].as_str().unwrap();
    let mut checked = 0;
    for (path, operations) in spec["paths"].as_object().unwrap() {
        if !path.contains("{org_id}") {
            continue;
        }
        let concrete = path
            .split('/')
            .map(|segment| match segment {
                "{org_id}" => org,
                "{framework}" => "nist-800-171-r2",
                "{source}" => "objectives",
                "{report}" => "gaps",
                s if s.starts_with('{') => evidence,
                s => s,
            })
            .collect::<Vec<_>>()
            .join("/");
        for method in operations.as_object().unwrap().keys() {
            let response = server
                .client
                .request(
                    method.to_uppercase().parse().unwrap(),
                    server.url(&concrete),
                )
                .header("origin", origin(server))
                .header("cookie", &owner.cookie)
                .header("x-csrf-token", &owner.csrf)
                .json(&json!({}))
                .send()
                .unwrap();
            let status = response.status().as_u16();
            // A body the route cannot take may be refused before the organization is looked
            // up; a read names nothing but the organization and must be 404.
            let refused_body = method != "get" && [400, 411, 415, 422].contains(&status);
            assert!(
                status == 404 || refused_body,
                "{method} {concrete}: {status} {}",
                response.text().unwrap()
            );
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} routes name an organization");
}

#[test]
fn the_operator_erases_an_organization_by_id_and_exact_name() {
    let env = TestEnv::new();
    assert_eq!(env.rampart(&["init"]).status.code(), Some(0));
    let org = crate::matrix::create_org(&env, "Globex");
    let out = env.rampart(&["admin", "org", "erase", &org, "--confirm", "globex"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("exact name"), "{}", stderr(&out));
    assert!(stdout(&env.rampart(&["admin", "org", "list"])).contains("Globex"));

    let out = env.rampart(&["admin", "org", "erase", &org, "--confirm", "Globex"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let receipt: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(receipt["organization"], org.as_str());
    assert!(!stdout(&env.rampart(&["admin", "org", "list"])).contains("Globex"));
    let out = env.rampart(&["admin", "org", "erase", &org, "--confirm", "Globex"]);
    assert_eq!(out.status.code(), Some(2), "erased once");
}

#[test]
fn a_person_erases_themselves_and_keeps_only_a_pseudonym_in_the_record() {
    let env = TestEnv::new();
    let server = env.serve();
    let org = set_up(&server);
    let owner = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    create_user(&env, "pat@acme.example", PASSWORD, &org, "member");
    let pat = Session::login(&server, "pat@acme.example", PASSWORD);
    upload(&server, &pat, &org, "pat.pdf", &pdf("pat's evidence"));

    // The address must be typed again; the only owner and last administrator cannot go.
    let wrong = send(
        &server,
        &pat,
        "DELETE",
        "/api/v1/me",
        &json!({"confirm": "someone@acme.example"}),
    );
    assert_eq!(wrong.status(), 422);
    let refused = send(
        &server,
        &owner,
        "DELETE",
        "/api/v1/me",
        &json!({"confirm": ADMIN_EMAIL}),
    );
    assert_eq!(refused.status(), 409);
    let text = refused.text().unwrap();
    assert!(text.contains("last appliance administrator"), "{text}");

    let response = send(
        &server,
        &pat,
        "DELETE",
        "/api/v1/me",
        &json!({"confirm": "Pat@Acme.example"}),
    );
    assert_eq!(response.status(), 200);
    let receipt: Value = response.json().unwrap();
    let pseudonym = receipt["pseudonym"].as_str().unwrap().to_owned();
    assert!(
        pseudonym.starts_with("erased-") && pseudonym.len() == 15,
        "{receipt}"
    );
    assert_eq!(receipt["memberships_removed"], 1);
    assert!(receipt["sessions_ended"].as_u64().unwrap() >= 1);

    // Signed out and unable to sign in; the address is free again.
    assert_eq!(pat.get(&server, "/api/v1/me").status(), 401);
    assert_eq!(
        Session::try_login(&server, "pat@acme.example", PASSWORD).status(),
        401
    );
    let accounts = stdout(&env.rampart(&["admin", "user", "list"]));
    assert!(!accounts.contains("pat@acme.example"), "{accounts}");

    // Past actions carry the pseudonym; the audit chain still verifies.
    let page = owner.get(&server, "/admin/audit").text().unwrap();
    assert!(
        page.contains(&pseudonym),
        "the audit page names the pseudonym"
    );
    assert!(!page.contains("pat@acme.example"));
    let log = stdout(&env.rampart(&["audit", "export"]));
    assert!(
        log.lines().any(|l| l.contains("\"privacy.erase\"")),
        "{log}"
    );
    assert!(!log.contains("pat@acme.example"), "no address in the log");
    assert_eq!(env.rampart(&["audit", "verify"]).status.code(), Some(0));

    // The operator erases by address; an unknown one is named.
    create_user(&env, "sam@acme.example", PASSWORD, &org, "viewer");
    let out = env.rampart(&["admin", "user", "erase", "--email", "sam@acme.example"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = env.rampart(&["admin", "user", "erase", "--email", "sam@acme.example"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no account has the address"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_owner_exports_the_whole_organization_for_the_age_tool_only() {
    let keys = tempfile::tempdir().unwrap();
    let (identity, recipient) = crate::backup::age_identity(keys.path());
    let env = TestEnv::new();
    let server = env.serve();
    let org = set_up(&server);
    let owner = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let evidence = upload(&server, &owner, &org, "access policy.pdf", &pdf("exported"));
    create_user(&env, "member@acme.example", PASSWORD, &org, "member");
    let member = Session::login(&server, "member@acme.example", PASSWORD);
    let path = format!("/api/v1/orgs/{org}/export");
    assert_eq!(
        send(
            &server,
            &member,
            "POST",
            &path,
            &json!({ "recipient": recipient })
        )
        .status(),
        403
    );

    let response = send(
        &server,
        &owner,
        "POST",
        &path,
        &json!({ "recipient": recipient }),
    );
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().unwrap();
    assert!(bytes.starts_with(b"age-encryption.org/v1\n"));
    let file = keys.path().join("export.age");
    std::fs::write(&file, &bytes).unwrap();
    let unpacked = keys.path().join("unpacked");
    std::fs::create_dir_all(&unpacked).unwrap();
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "age -d -i '{}' '{}' | tar -x -C '{}'",
            identity.display(),
            file.display(),
            unpacked.display()
        ))
        .status()
        .unwrap();
    assert!(status.success());
    let organization: Value =
        serde_json::from_slice(&std::fs::read(unpacked.join("organization.json")).unwrap())
            .unwrap();
    assert_eq!(organization["profile"]["name"], "Acme Defense");
    assert_eq!(organization["members"].as_array().unwrap().len(), 2);
    let records = std::fs::read_to_string(unpacked.join("records/evidence.jsonl")).unwrap();
    assert!(records.contains("access policy.pdf"), "{records}");
    let id = evidence["id"].as_str().unwrap();
    let copy = std::fs::read(unpacked.join(format!("evidence/{id}/v1-access_policy.pdf"))).unwrap();
    assert_eq!(copy, pdf("exported"));
    let audit = std::fs::read_to_string(unpacked.join("audit.jsonl")).unwrap();
    assert!(audit.contains("\"org.export\""), "{audit}");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(unpacked.join("manifest.json")).unwrap()).unwrap();
    assert!(manifest.as_array().unwrap().len() >= 4, "{manifest}");
    // Only the identity opens it.
    let other_keys = tempfile::tempdir().unwrap();
    let (other, _) = crate::backup::age_identity(other_keys.path());
    let status = std::process::Command::new("age")
        .args(["-d", "-i"])
        .arg(&other)
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success());
}
