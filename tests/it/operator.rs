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
