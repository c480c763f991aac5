//! The store through the real daemon: one process per data dir, encryption at rest, and every
//! way a store can be wrong stopping start-up without changing anything.

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

use crate::harness::{TestEnv, stderr, stdout};

const PROFILE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("t.org_profile");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

fn create_org(env: &TestEnv, name: &str) -> serde_json::Value {
    let out = env.rampart(&["admin", "org", "create", name]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

fn list_orgs(env: &TestEnv) -> Vec<String> {
    let out = env.rampart(&["admin", "org", "list"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let orgs: Vec<serde_json::Value> = serde_json::from_str(&stdout(&out)).unwrap();
    orgs.iter()
        .map(|o| o["name"].as_str().unwrap().to_owned())
        .collect()
}

fn sha(path: &std::path::Path) -> [u8; 32] {
    rampart::crypto::sha256(&std::fs::read(path).unwrap())
}

/// Asserts `serve` refuses to start with exit 1 and a message containing `needle`, and that the
/// store file is byte-for-byte unchanged.
fn assert_refuses(env: &TestEnv, needle: &str) {
    let before = sha(&env.store_path());
    let failure = match env.try_serve() {
        Ok(_) => panic!("server started but should have refused"),
        Err(failure) => failure,
    };
    assert!(failure.starts_with("exit Some(1)"), "{failure}");
    assert!(
        failure.contains(needle),
        "expected {needle:?} in: {failure}"
    );
    assert!(!failure.contains("panicked"), "{failure}");
    assert_eq!(sha(&env.store_path()), before, "the store file was changed");
}

fn with_store(env: &TestEnv, edit: impl FnOnce(&redb::WriteTransaction)) {
    let db = redb::Database::open(env.store_path()).unwrap();
    let txn = db.begin_write().unwrap();
    edit(&txn);
    txn.commit().unwrap();
}

#[test]
fn orgs_created_through_daemon_and_offline_persist() {
    let env = TestEnv::new();
    let server = env.serve();
    create_org(&env, "Acme Defense");
    assert_eq!(server.stop().code(), Some(0));
    create_org(&env, "Offline Widgets");
    let _server = env.serve();
    assert_eq!(list_orgs(&env), vec!["Acme Defense", "Offline Widgets"]);
}

#[test]
fn bad_org_name_is_bad_input() {
    let env = TestEnv::new();
    let _server = env.serve();
    let out = env.rampart(&["admin", "org", "create", "   "]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("organization name"),
        "{}",
        stderr(&out)
    );
    assert!(list_orgs(&env).is_empty());
}

#[test]
fn second_server_on_same_data_dir_exits_naming_holder() {
    let env = TestEnv::new();
    let first = env.serve();
    let failure = env.try_serve().err().expect("second server must not start");
    assert!(failure.starts_with("exit Some(1)"), "{failure}");
    assert!(
        failure.contains(&format!("pid {}", first.pid())),
        "{failure}"
    );
    assert_eq!(
        first.get("/healthz").status(),
        200,
        "first server disturbed"
    );
    assert!(
        env.socket_path().exists(),
        "first server's control socket removed"
    );
    create_org(&env, "Still Served");
}

#[test]
fn no_plaintext_record_content_in_store_file() {
    let env = TestEnv::new();
    let server = env.serve();
    let canary = "Canary Aerospace QX7Z-PLAINTEXT-9431";
    create_org(&env, canary);
    assert_eq!(server.stop().code(), Some(0));
    let bytes = std::fs::read(env.store_path()).unwrap();
    for needle in [canary.as_bytes(), b"QX7Z-PLAINTEXT", b"Canary Aerospace"] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "plaintext found in store"
        );
    }
    // The name is really there, sealed: the daemon reads it back.
    let _server = env.serve();
    assert_eq!(list_orgs(&env), vec![canary]);
}

#[test]
fn wrong_master_key_stops_start_up() {
    let env = TestEnv::new();
    assert_eq!(env.rampart(&["init"]).status.code(), Some(0));
    let other = TestEnv::new();
    assert_eq!(other.rampart(&["init"]).status.code(), Some(0));
    std::fs::copy(
        other.data_dir().join("master.key"),
        env.data_dir().join("master.key"),
    )
    .unwrap();
    assert_refuses(&env, "master key does not open this store");
}

#[test]
fn malformed_master_key_stops_start_up() {
    let env = TestEnv::new();
    assert_eq!(env.rampart(&["init"]).status.code(), Some(0));
    std::fs::write(env.data_dir().join("master.key"), "not a key\n").unwrap();
    assert_refuses(&env, "is not a Rampart master key");
}

#[test]
fn missing_master_key_for_existing_store_is_not_replaced() {
    let env = TestEnv::new();
    assert_eq!(env.rampart(&["init"]).status.code(), Some(0));
    std::fs::remove_file(env.data_dir().join("master.key")).unwrap();
    assert_refuses(&env, "master key file");
    assert!(
        !env.data_dir().join("master.key").exists(),
        "a new key was made for an old store"
    );
}

#[test]
fn corrupt_store_file_stops_start_up() {
    let env = TestEnv::new();
    assert_eq!(env.rampart(&["init"]).status.code(), Some(0));
    let mut bytes = std::fs::read(env.store_path()).unwrap();
    for b in bytes.iter_mut().take(64) {
        *b ^= 0x5a;
    }
    std::fs::write(env.store_path(), &bytes).unwrap();
    assert_refuses(&env, "cannot open store file");
}

#[test]
fn truncated_ciphertext_stops_start_up() {
    let env = TestEnv::new();
    assert_eq!(env.rampart(&["init"]).status.code(), Some(0));
    create_org(&env, "Truncated Inc");
    with_store(&env, |txn| {
        let mut table = txn.open_table(PROFILE).unwrap();
        let (key, value) = {
            let (k, v) = table.iter().unwrap().next().unwrap().unwrap();
            (k.value().to_vec(), v.value().to_vec())
        };
        table
            .insert(key.as_slice(), &value[..value.len() - 7])
            .unwrap();
    });
    assert_refuses(&env, "fails authentication");
}

#[test]
fn record_moved_to_another_row_fails_to_decrypt() {
    let env = TestEnv::new();
    assert_eq!(env.rampart(&["init"]).status.code(), Some(0));
    create_org(&env, "First Org");
    create_org(&env, "Second Org");
    with_store(&env, |txn| {
        let mut table = txn.open_table(PROFILE).unwrap();
        let rows: Vec<(Vec<u8>, Vec<u8>)> = table
            .iter()
            .unwrap()
            .map(|r| {
                let (k, v) = r.unwrap();
                (k.value().to_vec(), v.value().to_vec())
            })
            .collect();
        assert_eq!(rows.len(), 2);
        // Org A's sealed profile placed in org B's row.
        table
            .insert(rows[1].0.as_slice(), rows[0].1.as_slice())
            .unwrap();
    });
    assert_refuses(&env, "fails authentication");
}

#[test]
fn store_from_newer_release_is_refused() {
    let env = TestEnv::new();
    assert_eq!(env.rampart(&["init"]).status.code(), Some(0));
    with_store(&env, |txn| {
        let mut meta = txn.open_table(META).unwrap();
        meta.insert("schema_version", 99u64.to_be_bytes().as_slice())
            .unwrap();
    });
    assert_refuses(&env, "newer Rampart (schema 99");
}

#[test]
fn store_reopens_after_clean_stop() {
    let env = TestEnv::new();
    let server = env.serve();
    create_org(&env, "Durable LLC");
    assert_eq!(server.stop().code(), Some(0));
    assert!(!env.socket_path().exists(), "control socket left behind");
    let db = redb::Database::open(env.store_path()).unwrap();
    let txn = db.begin_read().unwrap();
    assert_eq!(txn.open_table(PROFILE).unwrap().len().unwrap(), 1);
}
