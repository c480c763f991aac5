//! Oversight through the real server: sign-ins from new devices, the audit log pages and the
//! security dashboard (JSON and pages), for owners and the appliance administrator.

use reqwest::blocking::Response;
use serde_json::{Value, json};

use crate::harness::{TestEnv, TestServer, stderr, stdout};
use crate::identity::{ADMIN_EMAIL, ADMIN_PASSWORD, Session, create_user, origin, set_up};

const PASSWORD: &str = "velvet orbit canyon 93 drift";

/// Every audit entry, oldest first, through the operator CLI.
fn audit_log(env: &TestEnv) -> Vec<Value> {
    let out = env.rampart(&["audit", "export"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn by_account<'a>(log: &'a [Value], action: &str, account: &str) -> Vec<&'a Value> {
    log.iter()
        .filter(|e| e["action"] == action && e["actor"]["id"] == account)
        .collect()
}

/// Signs in through the API with a given browser; returns the response.
fn login_as(server: &TestServer, email: &str, password: &str, agent: &str) -> Response {
    server
        .client
        .post(server.url("/api/v1/auth/login"))
        .header("origin", origin(server))
        .header("user-agent", agent)
        .json(&json!({"email": email, "password": password}))
        .send()
        .unwrap()
}

fn session_of(response: Response) -> Session {
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let body: Value = response.json().unwrap();
    Session {
        cookie,
        csrf: body["csrf_token"].as_str().unwrap().to_owned(),
    }
}

#[test]
fn a_sign_in_from_a_new_device_is_audited_once() {
    let env = TestEnv::new();
    let server = env.serve();
    let acme = set_up(&server);
    let dana = create_user(&env, "dana@acme.example", PASSWORD, &acme, "member");
    let sign_in = |agent: &str| {
        let response = login_as(&server, "dana@acme.example", PASSWORD, agent);
        assert_eq!(response.status(), 200);
    };
    let new_devices = || by_account(&audit_log(&env), "auth.new_device", &dana).len();

    sign_in("Firefox/140.0");
    assert_eq!(new_devices(), 1, "the first sign-in is from a new device");
    sign_in("Firefox/140.0");
    assert_eq!(new_devices(), 1, "same browser, same network");
    sign_in("Chrome/138.0");
    assert_eq!(new_devices(), 2, "another browser");
    sign_in("Firefox/140.0");
    assert_eq!(new_devices(), 2, "still remembered");

    let log = audit_log(&env);
    let event = by_account(&log, "auth.new_device", &dana)[1];
    assert_eq!(event["outcome"], "success");
    assert_eq!(event["user_agent"], "Chrome/138.0");
    assert_eq!(event["ip"], "127.0.0.1");
    assert_eq!(event["target"], dana.as_str());
}

#[test]
fn with_a_second_factor_the_new_device_counts_once_it_is_given() {
    let env = TestEnv::new();
    let server = env.serve();
    set_up(&server);
    let session = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let post = |session: &Session, path: &str, agent: &str, body: &Value| {
        server
            .client
            .post(server.url(path))
            .header("origin", origin(&server))
            .header("cookie", &session.cookie)
            .header("x-csrf-token", &session.csrf)
            .header("user-agent", agent)
            .json(body)
            .send()
            .unwrap()
    };
    let enrol: Value = post(&session, "/api/v1/me/totp", "", &json!({}))
        .json()
        .unwrap();
    let secret = enrol["secret"].as_str().unwrap();
    let code = crate::mfa::code(secret, crate::mfa::now());
    let confirmed: Value = post(
        &session,
        "/api/v1/me/totp/confirm",
        "",
        &json!({ "code": code }),
    )
    .json()
    .unwrap();
    let recovery = confirmed["recovery_codes"][0].as_str().unwrap().to_owned();
    let me: Value = session.get(&server, "/api/v1/me").json().unwrap();
    let admin = me["account"]["id"].as_str().unwrap().to_owned();
    let from_safari = || {
        by_account(&audit_log(&env), "auth.new_device", &admin)
            .iter()
            .filter(|e| e["user_agent"] == "Safari/18")
            .count()
    };

    let pending = session_of(login_as(&server, ADMIN_EMAIL, ADMIN_PASSWORD, "Safari/18"));
    assert_eq!(from_safari(), 0, "the password alone is not a sign-in yet");
    let done = post(
        &pending,
        "/api/v1/auth/mfa",
        "Safari/18",
        &json!({ "recovery_code": recovery }),
    );
    assert_eq!(done.status(), 204);
    assert_eq!(from_safari(), 1);
}
