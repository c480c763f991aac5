//! API tokens through the real server: creation, bearer use, scope, other organizations,
//! revocation.

use serde_json::{Value, json};

use crate::harness::{TestEnv, TestServer, stdout};
use crate::identity::{ADMIN_EMAIL, ADMIN_PASSWORD, Session, origin, set_up};

fn create(
    server: &TestServer,
    session: &Session,
    org: &str,
    body: &Value,
) -> reqwest::blocking::Response {
    server
        .client
        .post(server.url(&format!("/api/v1/orgs/{org}/tokens")))
        .header("origin", origin(server))
        .header("cookie", &session.cookie)
        .header("x-csrf-token", &session.csrf)
        .json(body)
        .send()
        .unwrap()
}

fn bearer_get(server: &TestServer, token: &str, path: &str) -> reqwest::blocking::Response {
    server
        .client
        .get(server.url(path))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .unwrap()
}

#[test]
fn tokens_are_scoped_shown_once_and_revocable() {
    let env = TestEnv::new();
    let server = env.serve();
    let acme = set_up(&server);
    let out = env.rampart(&["admin", "org", "create", "Globex"]);
    let globex: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let globex = globex["id"].as_str().unwrap().to_owned();
    let session = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);

    for (body, field) in [
        (
            json!({"name": "x", "scope": "read", "expires_in_days": 0}),
            "expires_in_days",
        ),
        (
            json!({"name": "x", "scope": "read", "expires_in_days": 366}),
            "expires_in_days",
        ),
        (
            json!({"name": "", "scope": "read", "expires_in_days": 30}),
            "name",
        ),
    ] {
        let response = create(&server, &session, &acme, &body);
        assert_eq!(response.status(), 422, "{field}");
    }
    assert_eq!(
        create(
            &server,
            &session,
            &acme,
            &json!({"name": "x", "scope": "admin", "expires_in_days": 3})
        )
        .status(),
        400
    );
    // The appliance administrator may read Globex but not mint tokens for it.
    assert_eq!(
        create(
            &server,
            &session,
            &globex,
            &json!({"name": "x", "scope": "read", "expires_in_days": 3})
        )
        .status(),
        404
    );

    let created = create(
        &server,
        &session,
        &acme,
        &json!({"name": "SIEM export", "scope": "read", "expires_in_days": 30}),
    );
    assert_eq!(created.status(), 201);
    let created: Value = created.json().unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("rmp_") && token.len() == 47, "{token}");
    let id = created["id"].as_str().unwrap().to_owned();

    assert_eq!(
        bearer_get(&server, &token, &format!("/api/v1/orgs/{acme}")).status(),
        200
    );
    let me: Value = bearer_get(&server, &token, "/api/v1/me").json().unwrap();
    assert_eq!(
        me["organizations"].as_array().unwrap().len(),
        1,
        "a token sees one organization"
    );
    assert_eq!(
        bearer_get(&server, &token, &format!("/api/v1/orgs/{globex}")).status(),
        404
    );
    assert_eq!(
        bearer_get(&server, &token, &format!("/api/v1/orgs/{acme}/tokens")).status(),
        401,
        "tokens cannot manage tokens"
    );
    assert_eq!(
        bearer_get(
            &server,
            "rmp_not-a-real-token-at-all-not-at-all-xxxxxxxx",
            "/api/v1/me"
        )
        .status(),
        401
    );

    let listed: Value = session
        .get(&server, &format!("/api/v1/orgs/{acme}/tokens"))
        .json()
        .unwrap();
    assert_eq!(listed[0]["name"], "SIEM export");
    assert!(
        listed[0]["last_used_at"].is_i64(),
        "last use recorded: {listed}"
    );
    assert!(!listed.to_string().contains(&token), "secret listed");

    let revoke = |csrf: &str| {
        server
            .client
            .delete(server.url(&format!("/api/v1/orgs/{acme}/tokens/{id}")))
            .header("origin", origin(&server))
            .header("cookie", &session.cookie)
            .header("x-csrf-token", csrf)
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(revoke("wrong"), 403);
    assert_eq!(revoke(&session.csrf), 204);
    assert_eq!(
        bearer_get(&server, &token, &format!("/api/v1/orgs/{acme}")).status(),
        401
    );
    assert_eq!(revoke(&session.csrf), 404);

    let log = stdout(&env.rampart(&["audit", "export"]));
    assert!(
        log.contains("\"action\":\"token.create\"") && log.contains("\"action\":\"token.revoke\"")
    );
    assert!(!log.contains(&token), "secret in the audit log");
}
