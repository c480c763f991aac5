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
