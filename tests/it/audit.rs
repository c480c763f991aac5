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
