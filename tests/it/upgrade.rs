//! Upgrades: store files made by earlier releases (committed under `tests/fixtures/stores`)
//! open with this one, migrate, keep every record, and leave a copy of the file as it was.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::harness::{TestEnv, stderr, stdout};
use crate::identity::Session;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/stores")
        .join(name)
}

/// `env`'s data dir holding the fixture's files, with the modes Rampart insists on.
fn install(env: &TestEnv, name: &str) {
    let dir = env.data_dir();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    for file in ["master.key", "rampart.redb"] {
        let to = dir.join(file);
        std::fs::copy(fixture(name).join(file), &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

fn copies(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".bak"))
        .collect()
}

fn org_names(env: &TestEnv) -> Vec<String> {
    let out = env.rampart(&["admin", "org", "list"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let orgs: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let mut names: Vec<String> = orgs
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_schema_1_store_migrates_keeps_its_records_and_a_copy_of_itself() {
    let env = TestEnv::new();
    install(&env, "schema-1");
    let original = std::fs::read(fixture("schema-1").join("rampart.redb")).unwrap();

    assert_eq!(org_names(&env), ["Acme Defense", "Initech"]);
    let kept = copies(&env.data_dir());
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(
        kept[0].to_string_lossy().contains("rampart.schema-1."),
        "{kept:?}"
    );
    assert!(
        std::fs::read(&kept[0]).unwrap() == original,
        "the copy is the file as it was"
    );

    // Migrated once: opening again copies nothing more.
    assert_eq!(org_names(&env), ["Acme Defense", "Initech"]);
    assert_eq!(copies(&env.data_dir()).len(), 1);
    let doctor = stdout(&env.rampart(&["doctor"]));
    assert!(doctor.contains("ok   schema version: 2 "), "{doctor}");

    // It serves, and (never having had an administrator) offers the setup link.
    let server = env.serve();
    assert!(server.log().contains("/setup/"), "{}", server.log());
    assert_eq!(server.get("/healthz").status(), 200);
}

#[test]
fn erasing_an_organization_removes_the_copies_kept_before_upgrades() {
    let env = TestEnv::new();
    install(&env, "schema-1");
    assert_eq!(org_names(&env), ["Acme Defense", "Initech"]);
    assert_eq!(copies(&env.data_dir()).len(), 1);

    // The copy holds Initech too, readable by putting it back: it goes with the erasure.
    let out = env.rampart(&["admin", "org", "list"]);
    let orgs: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let initech = orgs
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "Initech")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = env.rampart(&["admin", "org", "erase", &initech, "--confirm", "Initech"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let receipt: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(receipt["store_copies_removed"], 1, "{receipt}");
    let statement = receipt["statement"].as_str().unwrap();
    assert!(statement.contains("kept before upgrades"), "{statement}");
    assert!(copies(&env.data_dir()).is_empty());
    assert_eq!(org_names(&env), ["Acme Defense"]);
}

#[test]
fn a_schema_2_store_opens_with_its_people_and_no_copy() {
    let env = TestEnv::new();
    install(&env, "schema-2");
    assert_eq!(org_names(&env), ["Globex"]);
    assert!(copies(&env.data_dir()).is_empty(), "nothing to migrate");
    let server = env.serve();
    let owner = Session::login(
        &server,
        "owner@globex.example",
        "correct horse battery staple 42",
    );
    let me: Value = owner.get(&server, "/api/v1/me").json().unwrap();
    assert_eq!(me["organizations"][0]["name"], "Globex", "{me}");
    assert_eq!(env.rampart(&["audit", "verify"]).status.code(), Some(0));
}
