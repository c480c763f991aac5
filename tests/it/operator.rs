//! The operator's account verbs through the control socket: unlock, disable and enable,
//! and one-time password links.

use serde_json::json;

use crate::harness::{TestEnv, stderr, stdout};
use crate::identity::{ADMIN_EMAIL, ADMIN_PASSWORD, Session, post_json, set_up};

#[test]
fn unlock_disable_enable() {
    let env = TestEnv::new();
    let server = env.serve();
    set_up(&server);
    for _ in 0..5 {
        assert_eq!(
            Session::try_login(&server, ADMIN_EMAIL, "a wrong password here").status(),
            401
        );
    }
    assert_eq!(
        Session::try_login(&server, ADMIN_EMAIL, ADMIN_PASSWORD).status(),
        401,
        "locked"
    );
    let out = env.rampart(&["admin", "user", "unlock", "--email", ADMIN_EMAIL]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let session = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    // Used once, so the server holds it in its session cache: disabling must still end it.
    assert_eq!(session.get(&server, "/api/v1/me").status(), 200);

    assert_eq!(
        env.rampart(&["admin", "user", "disable", "--email", ADMIN_EMAIL])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        session.get(&server, "/api/v1/me").status(),
        401,
        "sessions end on disable"
    );
    assert_eq!(
        Session::try_login(&server, ADMIN_EMAIL, ADMIN_PASSWORD).status(),
        401
    );
    assert_eq!(
        env.rampart(&["admin", "user", "enable", "--email", ADMIN_EMAIL])
            .status
            .code(),
        Some(0)
    );
    Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);

    let out = env.rampart(&["admin", "user", "unlock", "--email", "nobody@example.com"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no account"), "{}", stderr(&out));

    let log = stdout(&env.rampart(&["audit", "export"]));
    for action in [
        "admin.user_unlock",
        "admin.user_disable",
        "admin.user_enable",
    ] {
        assert!(
            log.contains(&format!("\"action\":\"{action}\"")),
            "{action} not audited"
        );
    }
}

#[test]
fn password_link_sets_a_new_password_once() {
    let env = TestEnv::new();
    let server = env.serve();
    set_up(&server);
    let session = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let out = env.rampart(&["admin", "user", "reset-password", "--email", ADMIN_EMAIL]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let url = stdout(&out).trim().to_owned();
    assert!(
        url.starts_with(&format!("https://{}/reset/", server.addr)),
        "{url}"
    );
    let token = url.rsplit('/').next().unwrap().to_owned();
    assert_eq!(server.get(&format!("/reset/{token}")).status(), 200);
    // A second link, issued before the first is used: setting the password spends it too.
    let out = env.rampart(&["admin", "user", "reset-password", "--email", ADMIN_EMAIL]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let earlier = stdout(&out).trim().rsplit('/').next().unwrap().to_owned();
    assert_eq!(server.get(&format!("/reset/{earlier}")).status(), 200);

    let weak = post_json(
        &server,
        "/api/v1/auth/reset",
        &json!({"token": token, "password": "password"}),
    );
    assert_eq!(weak.status(), 422);
    let new_password = "amber falcon ledger 62 prism";
    let done = post_json(
        &server,
        "/api/v1/auth/reset",
        &json!({"token": token, "password": new_password}),
    );
    assert_eq!(done.status(), 204);
    assert_eq!(
        session.get(&server, "/api/v1/me").status(),
        401,
        "sessions end on password change"
    );
    assert_eq!(
        Session::try_login(&server, ADMIN_EMAIL, ADMIN_PASSWORD).status(),
        401
    );
    Session::login(&server, ADMIN_EMAIL, new_password);

    let reuse = post_json(
        &server,
        "/api/v1/auth/reset",
        &json!({"token": token, "password": "another fine password 77"}),
    );
    assert_eq!(reuse.status(), 410);
    assert_eq!(server.get(&format!("/reset/{token}")).status(), 410);
    let other = post_json(
        &server,
        "/api/v1/auth/reset",
        &json!({"token": earlier, "password": "another fine password 77"}),
    );
    assert_eq!(
        other.status(),
        410,
        "a link issued before the reset still works"
    );
    Session::login(&server, ADMIN_EMAIL, new_password);
}

#[test]
fn a_user_created_without_a_password_gets_a_link_to_set_one() {
    let env = TestEnv::new();
    let server = env.serve();
    let org = set_up(&server);
    let out = env.rampart(&[
        "admin",
        "user",
        "create",
        "--email",
        " New.Analyst@Acme.example ",
        "--org",
        &org,
        "--role",
        "viewer",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let created: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(created["email"], "new.analyst@acme.example");
    let url = created["password_link"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with(&format!("https://{}/reset/", server.addr)),
        "{url}"
    );
    // No password yet: nothing signs in until the link is used.
    let password = "walnut harbor signal 35 quill";
    assert_eq!(
        Session::try_login(&server, "new.analyst@acme.example", password).status(),
        401
    );
    let token = url.rsplit('/').next().unwrap().to_owned();
    let done = post_json(
        &server,
        "/api/v1/auth/reset",
        &json!({"token": token, "password": password}),
    );
    assert_eq!(done.status(), 204);
    let session = Session::login(&server, "new.analyst@acme.example", password);
    let me: serde_json::Value = session.get(&server, "/api/v1/me").json().unwrap();
    assert_eq!(me["organizations"][0]["role"], "viewer");
    assert_eq!(
        post_json(
            &server,
            "/api/v1/auth/reset",
            &json!({"token": token, "password": "a different fine pass 12"}),
        )
        .status(),
        410,
        "the link works once"
    );

    // With --password-stdin there is no link.
    let with_password =
        crate::identity::create_user(&env, "second@acme.example", password, &org, "member");
    assert!(!with_password.is_empty());
}

/// Sends one raw line to the daemon's control socket and returns its answer.
fn control_line(env: &TestEnv, line: &str) -> serde_json::Value {
    use std::io::{BufRead, BufReader, Write};
    let mut stream =
        BufReader::new(std::os::unix::net::UnixStream::connect(env.socket_path()).unwrap());
    stream
        .get_mut()
        .write_all(format!("{line}\n").as_bytes())
        .unwrap();
    let mut answer = String::new();
    stream.read_line(&mut answer).unwrap();
    serde_json::from_str(&answer).unwrap()
}

#[test]
fn each_kind_of_failure_in_the_daemon_exits_as_documented() {
    let mut env = TestEnv::new();
    env.env.push((
        "RAMPART_BACKUP_PASSPHRASE".into(),
        "correct horse battery staple".into(),
    ));
    let server = env.serve();
    set_up(&server);
    // While the daemon runs the store is its own: every answer below comes from it.
    let blocker = env.path().join("a-file");
    std::fs::write(&blocker, "not a directory").unwrap();
    let under_the_file = format!("{}/backups/", blocker.display());

    // (arguments, exit status, what the message says)
    let cases: [(&[&str], i32, &str); 6] = [
        // A value Rampart does not accept.
        (&["admin", "org", "create", "   "], 2, "organization name"),
        // Something named that does not exist.
        (
            &["admin", "user", "unlock", "--email", "nobody@example.com"],
            2,
            "no account",
        ),
        // A request the appliance refuses as it stands.
        (&["admin", "setup-link"], 2, "already has an administrator"),
        // An existing file is never written over: the argument is wrong.
        (
            &["backup", "create", "--to", blocker.to_str().unwrap()],
            2,
            "exists already",
        ),
        // Targets that cannot be written: runtime failures, not bad usage.
        (
            &["backup", "create", "--to", &under_the_file],
            1,
            "a-file/backups",
        ),
        (
            &["audit", "archive", "--to", &under_the_file],
            1,
            "a-file/backups",
        ),
    ];
    for (args, status, said) in cases {
        let out = env.rampart(args);
        assert_eq!(
            out.status.code(),
            Some(status),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(stderr(&out).contains(said), "{args:?}: {}", stderr(&out));
    }
    assert_eq!(
        std::fs::read_to_string(&blocker).unwrap(),
        "not a directory"
    );

    // The protocol itself carries the kind.
    for (line, kind) in [
        (r#"{"op":"org_create","name":"  "}"#, "input"),
        (r#"{"op":"no_such_operation"}"#, "input"),
        (
            r#"{"op":"user_action","email":"nobody@example.com","action":"unlock"}"#,
            "not_found",
        ),
        (r#"{"op":"setup_link"}"#, "refused"),
        (
            &format!(r#"{{"op":"backup_create","to":"{under_the_file}"}}"#),
            "runtime",
        ),
    ] {
        let answer = control_line(&env, line);
        assert_eq!(answer["error"]["kind"], kind, "{line}: {answer}");
        assert!(answer["error"]["message"].is_string(), "{answer}");
    }
    assert!(control_line(&env, r#"{"op":"org_list"}"#)["ok"].is_array());
}
