//! TOTP and recovery codes through the real server: enrolment, the second sign-in step,
//! replayed codes and spent recovery codes.

use serde_json::{Value, json};
use totp_rs::{Builder, Secret};

use crate::harness::{TestEnv, TestServer};
use crate::identity::{ADMIN_EMAIL, ADMIN_PASSWORD, Session, origin, set_up};

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn code(secret: &str, at: u64) -> String {
    let secret = Secret::try_from_base32(secret).unwrap();
    Builder::new()
        .with_secret(secret)
        .build()
        .unwrap()
        .generate(at)
        .to_string()
}

pub fn post(
    server: &TestServer,
    session: &Session,
    path: &str,
    body: &Value,
) -> reqwest::blocking::Response {
    crate::identity::send(server, session, "POST", path, body)
}

fn code_of(response: reqwest::blocking::Response) -> String {
    let body: Value = response.json().unwrap();
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Logs in with the password; the session owes its second factor.
fn half_login(server: &TestServer) -> Session {
    let response = Session::try_login(server, ADMIN_EMAIL, ADMIN_PASSWORD);
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let body: Value = response.json().unwrap();
    assert_eq!(body["mfa_required"], true);
    Session {
        cookie,
        csrf: body["csrf_token"].as_str().unwrap().to_owned(),
    }
}

/// The session a step that raised its trust moved to: the new cookie, the same CSRF token.
pub fn renewed(response: &reqwest::blocking::Response, before: &Session) -> Session {
    let cookie = response
        .headers()
        .get("set-cookie")
        .expect("a renewed session cookie")
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("__Host-rampart_session="), "{cookie}");
    Session {
        cookie,
        csrf: before.csrf.clone(),
    }
}

/// Adds an authenticator app to `session`'s account; returns its secret.
fn enrol_totp(server: &TestServer, session: &Session) -> String {
    let enrol: Value = post(server, session, "/api/v1/me/totp", &json!({}))
        .json()
        .unwrap();
    let secret = enrol["secret"].as_str().unwrap().to_owned();
    let confirmed = post(
        server,
        session,
        "/api/v1/me/totp/confirm",
        &json!({"code": code(&secret, now())}),
    );
    assert_eq!(confirmed.status(), 200);
    secret
}

#[test]
fn totp_enrolment_second_step_replay_and_recovery_codes() {
    let env = TestEnv::new();
    let server = env.serve();
    set_up(&server);
    let older = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let session = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);

    let enrol: Value = post(&server, &session, "/api/v1/me/totp", &json!({}))
        .json()
        .unwrap();
    let secret = enrol["secret"].as_str().unwrap().to_owned();
    assert!(
        enrol["otpauth_url"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/Rampart:admin@example.com?secret=")
    );

    let wrong = post(
        &server,
        &session,
        "/api/v1/me/totp/confirm",
        &json!({"code": "000000"}),
    );
    assert_eq!(wrong.status(), 422);
    let confirmed = post(
        &server,
        &session,
        "/api/v1/me/totp/confirm",
        &json!({"code": code(&secret, now())}),
    );
    assert_eq!(confirmed.status(), 200);
    let recovery: Vec<String> =
        serde_json::from_value(confirmed.json::<Value>().unwrap()["recovery_codes"].clone())
            .unwrap();
    assert_eq!(recovery.len(), 10);
    assert_eq!(
        older.get(&server, "/api/v1/me").status(),
        401,
        "other sessions end when MFA changes"
    );
    assert_eq!(
        session.get(&server, "/api/v1/me").status(),
        200,
        "this session stays"
    );

    // The password alone is not enough now.
    let pending = half_login(&server);
    let blocked = pending.get(&server, "/api/v1/me");
    assert_eq!(blocked.status(), 401);
    assert_eq!(code_of(blocked), "mfa_required");
    let bad = post(
        &server,
        &pending,
        "/api/v1/auth/mfa",
        &json!({"code": "123456"}),
    );
    assert_eq!(bad.status(), 401);
    assert_eq!(code_of(bad), "invalid_second_factor");
    let next_code = code(&secret, now() + 30);
    let given = post(
        &server,
        &pending,
        "/api/v1/auth/mfa",
        &json!({"code": next_code}),
    );
    assert_eq!(given.status(), 204);
    // The second factor raises the session's trust, so it moves to a new token: the one
    // that only knew the password is dead.
    let signed_in = renewed(&given, &pending);
    assert_ne!(signed_in.cookie, pending.cookie);
    assert_eq!(signed_in.get(&server, "/api/v1/me").status(), 200);
    assert_eq!(pending.get(&server, "/api/v1/me").status(), 401);

    // The same code again, on a new sign-in: refused as a replay.
    let replay = half_login(&server);
    let refused = post(
        &server,
        &replay,
        "/api/v1/auth/mfa",
        &json!({"code": next_code}),
    );
    assert_eq!(refused.status(), 401);
    assert_eq!(replay.get(&server, "/api/v1/me").status(), 401);

    // A recovery code works once.
    let first = half_login(&server);
    assert_eq!(
        post(
            &server,
            &first,
            "/api/v1/auth/mfa",
            &json!({"recovery_code": recovery[0]})
        )
        .status(),
        204
    );
    let second = half_login(&server);
    assert_eq!(
        post(
            &server,
            &second,
            "/api/v1/auth/mfa",
            &json!({"recovery_code": recovery[0]})
        )
        .status(),
        401
    );
    assert_eq!(
        post(
            &server,
            &second,
            "/api/v1/auth/mfa",
            &json!({"recovery_code": recovery[1]})
        )
        .status(),
        204
    );

    let out = env.rampart(&["audit", "export"]);
    let log = String::from_utf8_lossy(&out.stdout).into_owned();
    let entries: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let count = |action: &str, outcome: &str| {
        entries
            .iter()
            .filter(|e| e["action"] == action && e["outcome"] == outcome)
            .count()
    };
    assert_eq!(count("mfa.totp_enable", "success"), 1);
    assert_eq!(count("auth.mfa", "failure"), 3);
    assert_eq!(count("auth.mfa", "success"), 3);
    assert!(!log.contains(&secret), "secret in the audit log");
}

#[test]
fn wrong_codes_lock_the_account_however_often_the_password_is_given_again() {
    let env = TestEnv::with_config("rate_limit_auth_per_minute = 100");
    let server = env.serve();
    set_up(&server);
    let session = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let secret = enrol_totp(&server, &session);
    let right = code(&secret, now());
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };

    // Someone with the password, one wrong code per sign-in: four go by...
    for _ in 0..4 {
        let pending = half_login(&server);
        let refused = post(
            &server,
            &pending,
            "/api/v1/auth/mfa",
            &json!({"code": wrong}),
        );
        assert_eq!(refused.status(), 401);
    }
    // ...and the fifth locks the account, for the password too.
    let pending = half_login(&server);
    let refused = post(
        &server,
        &pending,
        "/api/v1/auth/mfa",
        &json!({"code": wrong}),
    );
    assert_eq!(refused.status(), 401);
    assert_eq!(
        Session::try_login(&server, ADMIN_EMAIL, ADMIN_PASSWORD).status(),
        401,
        "locked after five wrong second factors"
    );
    let out = env.rampart(&["audit", "export"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("\"action\":\"auth.lockout\""),
        "no lockout in the audit log"
    );
}

#[test]
fn a_sign_in_owing_its_second_factor_can_be_cancelled() {
    let env = TestEnv::new();
    let server = env.serve();
    set_up(&server);
    let session = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let secret = enrol_totp(&server, &session);

    // "Cancel sign-in" on the second-factor page: the session ends there and then.
    let pending = half_login(&server);
    let cancelled = server
        .client
        .post(server.url("/signout"))
        .header("origin", origin(&server))
        .header("cookie", &pending.cookie)
        .form(&[("csrf_token", pending.csrf.as_str())])
        .send()
        .unwrap();
    // (The client follows the 303.)
    assert_eq!(cancelled.status(), 200);
    assert_eq!(cancelled.url().path(), "/signin");
    let late = post(
        &server,
        &pending,
        "/api/v1/auth/mfa",
        &json!({"code": code(&secret, now())}),
    );
    assert_eq!(
        late.status(),
        401,
        "a cancelled sign-in took its second factor"
    );

    // The same through the API, and still only with the session's CSRF token.
    let pending = half_login(&server);
    let forged = server
        .client
        .post(server.url("/api/v1/auth/logout"))
        .header("origin", origin(&server))
        .header("cookie", &pending.cookie)
        .send()
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert_eq!(
        post(&server, &pending, "/api/v1/auth/logout", &json!({})).status(),
        204
    );
    let late = post(
        &server,
        &pending,
        "/api/v1/auth/mfa",
        &json!({"code": code(&secret, now())}),
    );
    assert_eq!(late.status(), 401);
}

#[test]
fn requiring_mfa_stops_sessions_and_tokens_already_in_use_until_a_factor_is_added() {
    let env = TestEnv::new();
    let server = env.serve();
    let acme = set_up(&server);
    let owner = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let other = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let created: Value = post(
        &server,
        &owner,
        &format!("/api/v1/orgs/{acme}/tokens"),
        &json!({"name": "ci", "scope": "read", "expires_in_days": 30}),
    )
    .json()
    .unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    let with_token = || {
        server
            .client
            .get(server.url(&format!("/api/v1/orgs/{acme}")))
            .header("authorization", format!("Bearer {token}"))
            .send()
            .unwrap()
    };
    assert_eq!(with_token().status(), 200);
    assert_eq!(other.get(&server, "/api/v1/me").status(), 200);

    let put = crate::identity::send(
        &server,
        &owner,
        "PUT",
        &format!("/api/v1/orgs/{acme}"),
        &json!({"name": "Acme", "require_mfa": true}),
    );
    assert_eq!(put.status(), 200);

    // Sessions signed in before, and tokens made before, must enrol first too.
    let blocked = other.get(&server, "/api/v1/me");
    assert_eq!(blocked.status(), 403);
    assert_eq!(code_of(blocked), "mfa_enrolment_required");
    let blocked = with_token();
    assert_eq!(blocked.status(), 403);
    assert_eq!(code_of(blocked), "mfa_enrolment_required");

    enrol_totp(&server, &other);
    assert_eq!(other.get(&server, "/api/v1/me").status(), 200);
    assert_eq!(
        with_token().status(),
        200,
        "enrolled: the token works again"
    );
}

#[test]
fn weakening_an_organizations_security_settings_needs_a_recent_sign_in() {
    // A window long enough for enrolment on a loaded machine (sign-in hashes the password
    // in a debug build), short enough to wait out.
    let env = TestEnv::with_config("reauthentication_secs = 4");
    let server = env.serve();
    let acme = set_up(&server);
    let owner = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    enrol_totp(&server, &owner);
    let profile = |require_mfa: bool, mail_detail: bool| json!({"name": "Acme", "require_mfa": require_mfa, "mail_detail": mail_detail});
    let put = |session: &Session, body: &Value| {
        crate::identity::send(
            &server,
            session,
            "PUT",
            &format!("/api/v1/orgs/{acme}"),
            body,
        )
    };
    // Making it stronger needs nothing more.
    assert_eq!(put(&owner, &profile(true, false)).status(), 200);

    // Sign-in times are whole seconds: past the window by more than one, whatever the
    // fraction the sign-in fell on.
    std::thread::sleep(std::time::Duration::from_millis(5200));
    for weaker in [profile(false, false), profile(true, true)] {
        let refused = put(&owner, &weaker);
        assert_eq!(refused.status(), 403, "{weaker}");
        assert_eq!(code_of(refused), "reauthentication_required");
    }
    let kept: Value = owner
        .get(&server, &format!("/api/v1/orgs/{acme}"))
        .json()
        .unwrap();
    assert_eq!(
        kept["require_mfa"], true,
        "a refused change changed nothing"
    );
    assert_eq!(kept["mail_detail"], false);
    // Still stronger-or-equal changes go through on a stale session.
    assert_eq!(put(&owner, &profile(true, false)).status(), 200);

    let confirmed = post(
        &server,
        &owner,
        "/api/v1/auth/reauthenticate",
        &json!({"password": ADMIN_PASSWORD}),
    );
    assert_eq!(confirmed.status(), 204);
    let owner = renewed(&confirmed, &owner);
    assert_eq!(put(&owner, &profile(false, true)).status(), 200);

    let out = env.rampart(&["audit", "export"]);
    let log = String::from_utf8_lossy(&out.stdout).into_owned();
    let count = |action: &str| {
        log.lines()
            .filter(|l| l.contains(&format!("\"action\":\"{action}\"")))
            .count()
    };
    assert_eq!(count("mfa.org_requirement_off"), 1);
    assert_eq!(count("org.mail_detail_on"), 1);
}

#[test]
fn operator_reset_mfa_lets_the_person_enrol_again() {
    let env = TestEnv::new();
    let server = env.serve();
    set_up(&server);
    let session = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    enrol_totp(&server, &session);
    half_login(&server);

    let out = env.rampart(&["admin", "user", "reset-mfa", "--email", ADMIN_EMAIL]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        session.get(&server, "/api/v1/me").status(),
        401,
        "sessions end on MFA reset"
    );
    let fresh = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    assert_eq!(fresh.get(&server, "/api/v1/me").status(), 200);
}

#[test]
fn organization_requiring_mfa_makes_members_enrol_first() {
    let env = TestEnv::new();
    let server = env.serve();
    let acme = set_up(&server);
    let owner = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let put = server
        .client
        .put(server.url(&format!("/api/v1/orgs/{acme}")))
        .header("origin", origin(&server))
        .header("cookie", &owner.cookie)
        .header("x-csrf-token", &owner.csrf)
        .json(&json!({"name": "Acme", "require_mfa": true}))
        .send()
        .unwrap();
    assert_eq!(put.status(), 200);

    let response = Session::try_login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let body: Value = response.json().unwrap();
    assert_eq!(body["mfa_enrolment_required"], true);
    let session = Session {
        cookie,
        csrf: body["csrf_token"].as_str().unwrap().to_owned(),
    };
    let blocked = session.get(&server, "/api/v1/me");
    assert_eq!(blocked.status(), 403);
    assert_eq!(code_of(blocked), "mfa_enrolment_required");
    assert_eq!(
        session
            .get(&server, &format!("/api/v1/orgs/{acme}"))
            .status(),
        403
    );

    enrol_totp(&server, &session);
    assert_eq!(
        session.get(&server, "/api/v1/me").status(),
        200,
        "enrolled: everything opens"
    );
}
