//! The command line: verbs, exit statuses, configuration errors, init and doctor.

use std::os::unix::fs::PermissionsExt;

use crate::harness::{BIN, TestEnv, stderr, stdout};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn version_and_help_exit_zero() {
    let out = std::process::Command::new(BIN)
        .arg("version")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains(env!("CARGO_PKG_VERSION")));
    for verb in [
        &["serve"][..],
        &["init"],
        &["config", "check"],
        &["doctor"],
        &["version"],
    ] {
        let out = std::process::Command::new(BIN)
            .args(verb)
            .arg("--help")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{verb:?} --help");
        assert!(stdout(&out).contains("Usage"), "{verb:?}");
    }
}

#[test]
fn bad_usage_exits_two() {
    for args in [&["frobnicate"][..], &["serve", "--no-such-flag"], &[]] {
        let out = std::process::Command::new(BIN).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn config_check_prints_effective_values_and_origins() {
    let mut env = TestEnv::with_config("log_level = \"debug\"");
    env.env.push(("RAMPART_WORKERS".into(), "3".into()));
    let out = env.rampart(&["config", "check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("log_level = debug"), "{text}");
    assert!(text.contains("rampart.toml:"), "{text}");
    assert!(
        text.contains("workers = 3    # environment variable RAMPART_WORKERS"),
        "{text}"
    );
    assert!(text.contains("listen = 127.0.0.1:0"), "{text}");
}

#[test]
fn malformed_toml_is_bad_input_with_line() {
    let env = TestEnv::with_config("log_level = = 2");
    let out = env.rampart(&["config", "check"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    let line = format!("rampart.toml:{}", env.config_line("= ="));
    assert!(
        err.contains(&line) && err.contains("malformed TOML"),
        "{err}"
    );
}

#[test]
fn wrong_type_names_key_file_line_and_allowed_values() {
    let env = TestEnv::with_config("log_level = \"loud\"");
    let out = env.rampart(&["serve"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("`log_level`"), "{err}");
    assert!(
        err.contains(&format!("rampart.toml:{}", env.config_line("loud"))),
        "{err}"
    );
    assert!(err.contains("\"error\", \"warn\", \"info\""), "{err}");
    assert!(!env.data_dir().exists(), "nothing is created on bad config");
}

#[test]
fn wrong_env_value_names_the_variable() {
    let mut env = TestEnv::new();
    env.env
        .push(("RAMPART_LISTEN".into(), "not-an-address".into()));
    let out = env.rampart(&["config", "check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("RAMPART_LISTEN"), "{}", stderr(&out));
}

#[test]
fn unknown_keys_and_variables_warn_by_name() {
    let mut env = TestEnv::with_config("lisen = \"127.0.0.1:1\"");
    env.env.push(("RAMPART_WORKRES".into(), "2".into()));
    let out = env.rampart(&["config", "check"]);
    assert_eq!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(err.contains("warning") && err.contains("`lisen`"), "{err}");
    assert!(err.contains("RAMPART_WORKRES"), "{err}");
}

#[test]
fn missing_config_file_is_an_error() {
    let env = TestEnv::new();
    let out = std::process::Command::new(BIN)
        .args(["config", "check", "--config"])
        .arg(env.path().join("absent.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("absent.toml"));
}

#[test]
fn init_creates_private_files_and_is_idempotent() {
    let env = TestEnv::new();
    let out = env.rampart(&["init"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("(created)"));
    assert_eq!(mode(&env.data_dir()), 0o700);
    assert_eq!(mode(&env.data_dir().join("master.key")), 0o600);
    assert_eq!(mode(&env.data_dir().join("tls").join("key.pem")), 0o600);
    assert_eq!(mode(&env.store_path()), 0o600);
    let key_before = std::fs::read(env.data_dir().join("master.key")).unwrap();

    let again = env.rampart(&["init"]);
    assert_eq!(again.status.code(), Some(0));
    assert!(!stdout(&again).contains("(created)"), "{}", stdout(&again));
    assert_eq!(
        std::fs::read(env.data_dir().join("master.key")).unwrap(),
        key_before
    );
}

#[test]
fn doctor_reports_each_check_and_fails_on_open_data_dir() {
    let env = TestEnv::new();
    assert_eq!(env.rampart(&["init"]).status.code(), Some(0));
    let out = env.rampart(&["doctor"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    for name in [
        "data dir permissions",
        "master key",
        "certificate",
        "free disk",
        "schema version",
        "listen address",
    ] {
        assert!(
            text.contains(&format!(" {name}: ")),
            "missing {name}: {text}"
        );
    }
    assert!(
        text.contains("warn master key") && text.contains("inside the data dir"),
        "{text}"
    );
    assert!(text.contains("expires in 39"), "{text}");

    std::fs::set_permissions(env.data_dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = env.rampart(&["doctor"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("FAIL data dir permissions"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn doctor_asks_the_running_daemon() {
    let env = TestEnv::new();
    let server = env.serve();
    let out = env.rampart(&["doctor"]);
    let text = stdout(&out);
    assert!(text.contains("daemon running"), "{text}");
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!(
            "ok   listen address: {} accepts connections",
            server.addr
        )),
        "{text}"
    );
    drop(server);
}

/// `rampart score FILE` on SCORING.md's own example, on CSV, and on bad files.
#[test]
fn score_reads_json_and_csv_and_names_bad_input() {
    let env = TestEnv::new();
    let objectives: serde_json::Map<String, serde_json::Value> = {
        let catalog: serde_json::Value =
            serde_json::from_str(include_str!("../../controls/nist-800-171r2-scoring.json"))
                .unwrap();
        catalog["requirements"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["objectives"].as_array().unwrap().clone())
            .map(|o| {
                let id = o.as_str().unwrap().to_owned();
                let status = match id.as_str() {
                    "3.1.5[a]" | "3.4.9[b]" | "3.13.11" => "not_met",
                    _ => "met",
                };
                (id, serde_json::json!(status))
            })
            .collect()
    };
    let input = serde_json::json!({
        "objectives": objectives,
        "mfa": "remote_and_privileged_only",
        "encryption": "not_fips_validated",
        "temporary_deficiencies": ["3.4.9"],
        "enduring_exceptions": [],
        "equally_effective": [],
        "plan_of_action": ["3.1.5", "3.4.9", "3.13.11"],
        "conditional_since": "2026-03-01"
    });
    let file = env.path().join("assessment.json");
    std::fs::write(&file, input.to_string()).unwrap();
    let out = env.rampart(&["score", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(result["score"], 103);
    assert_eq!(result["complete"], true);
    assert_eq!(
        result["deductions"],
        serde_json::json!({"3.1.5": 3, "3.4.9": 1, "3.13.11": 3})
    );
    assert_eq!(result["requirements"].as_object().unwrap().len(), 110);
    assert_eq!(result["level1"]["status"], "met");
    assert_eq!(result["level2"]["score"], 104);
    assert_eq!(result["level2"]["status"], "none");
    assert_eq!(
        result["level2"]["poam_eligible"],
        serde_json::json!(["3.13.11"])
    );
    assert_eq!(
        result["level2"]["not_eligible"],
        serde_json::json!(["3.1.5"])
    );

    let csv = env.path().join("assessment.csv");
    std::fs::write(&csv, "objective,status\n3.12.4[a],met\n3.1.1[a],met\n").unwrap();
    let out = env.rampart(&["score", csv.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        result["complete"], false,
        "missing objectives are not assessed"
    );
    assert_eq!(result["requirements"]["3.1.2"], "not_assessed");

    for (name, text, named) in [
        (
            "unknown.json",
            r#"{"objectives": {"3.1.99[a]": "met"}}"#,
            "3.1.99[a]",
        ),
        ("status.csv", "objective,status\n3.1.1[a],maybe\n", "maybe"),
        (
            "twice.csv",
            "objective,status\n3.1.1[a],met\n3.1.1[a],met\n",
            "more than once",
        ),
        (
            "list.json",
            r#"{"objectives": {}, "equally_effective": ["3.1.99"]}"#,
            "3.1.99",
        ),
    ] {
        let path = env.path().join(name);
        std::fs::write(&path, text).unwrap();
        let out = env.rampart(&["score", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stdout(&out));
        assert!(stderr(&out).contains(named), "{name}: {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "no score on bad input");
    }
    let missing = env.rampart(&["score", "/nonexistent/assessment.json"]);
    assert_eq!(missing.status.code(), Some(2));
}
