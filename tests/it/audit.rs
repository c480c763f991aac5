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
