//! Identity through the real server: first-time setup, sign-in and lockout, sessions and
//! CSRF, and tenant isolation between organizations.

use std::io::Write;
use std::process::Stdio;

use reqwest::blocking::Response;
use serde_json::{Value, json};

use crate::harness::{TestEnv, TestServer, stderr, stdout};

pub const ADMIN_EMAIL: &str = "Admin@Example.com";
pub const ADMIN_PASSWORD: &str = "quartz lantern mosaic 47 harbor";

/// The setup token the server printed at start.
pub fn printed_setup_token(server: &TestServer) -> String {
    let log = server.log();
    let line = log
        .lines()
        .find(|l| l.contains("/setup/"))
        .unwrap_or_else(|| panic!("no setup link printed:\n{log}"));
    line.rsplit("/setup/").next().unwrap().trim().to_owned()
}

pub fn post_json(server: &TestServer, path: &str, body: &Value) -> Response {
    server
        .client
        .post(server.url(path))
        .header("origin", origin(server))
        .json(body)
        .send()
        .unwrap()
}

pub fn origin(server: &TestServer) -> String {
    format!("https://{}", server.addr)
}

/// Runs setup through the API; returns the first organization's id.
pub fn set_up(server: &TestServer) -> String {
    let token = printed_setup_token(server);
    let response = post_json(
        server,
        "/api/v1/setup",
        &json!({"token": token, "email": ADMIN_EMAIL, "display_name": "Ada Admin",
                "password": ADMIN_PASSWORD, "organization": "Acme Defense"}),
    );
    assert_eq!(response.status(), 201, "{}", response.text().unwrap());
    let me = Session::login(server, ADMIN_EMAIL, ADMIN_PASSWORD).get(server, "/api/v1/me");
    let me: Value = me.json().unwrap();
    me["organizations"][0]["id"].as_str().unwrap().to_owned()
}

/// Sends `body` as JSON with the session's cookie and CSRF token.
pub fn send(
    server: &TestServer,
    session: &Session,
    method: &str,
    path: &str,
    body: &Value,
) -> Response {
    server
        .client
        .request(method.parse().unwrap(), server.url(path))
        .header("origin", origin(server))
        .header("cookie", &session.cookie)
        .header("x-csrf-token", &session.csrf)
        .json(body)
        .send()
        .unwrap()
}

/// A signed-in API client: the session cookie and its CSRF token.
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

impl Session {
    pub fn try_login(server: &TestServer, email: &str, password: &str) -> Response {
        post_json(
            server,
            "/api/v1/auth/login",
            &json!({"email": email, "password": password}),
        )
    }

    pub fn login(server: &TestServer, email: &str, password: &str) -> Session {
        let response = Session::try_login(server, email, password);
        assert_eq!(response.status(), 200);
        let set_cookie = response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .to_owned();
        for attribute in [
            "__Host-rampart_session=",
            "HttpOnly",
            "Secure",
            "SameSite=Strict",
            "Path=/",
        ] {
            assert!(set_cookie.contains(attribute), "{set_cookie}");
        }
        let cookie = set_cookie.split(';').next().unwrap().to_owned();
        let body: Value = response.json().unwrap();
        assert_eq!(body["mfa_required"], false);
        Session {
            cookie,
            csrf: body["csrf_token"].as_str().unwrap().to_owned(),
        }
    }

    pub fn get(&self, server: &TestServer, path: &str) -> Response {
        server
            .client
            .get(server.url(path))
            .header("cookie", &self.cookie)
            .send()
            .unwrap()
    }

    pub fn post(&self, server: &TestServer, path: &str, csrf: Option<&str>) -> Response {
        let mut request = server
            .client
            .post(server.url(path))
            .header("cookie", &self.cookie)
            .header("origin", origin(server));
        if let Some(token) = csrf {
            request = request.header("x-csrf-token", token);
        }
        request.send().unwrap()
    }
}

fn error_code(response: Response) -> String {
    let body: Value = response.json().unwrap();
    body["error"]["code"].as_str().unwrap().to_owned()
}

fn audit_actions(env: &TestEnv) -> Vec<(String, String)> {
    let out = env.rampart(&["audit", "export"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    stdout(&out)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["action"].as_str().unwrap().to_owned(),
                v["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Creates an account through the operator CLI; returns its id.
pub fn create_user(env: &TestEnv, email: &str, password: &str, org: &str, role: &str) -> String {
    let mut child = env
        .command(&[
            "admin",
            "user",
            "create",
            "--email",
            email,
            "--org",
            org,
            "--role",
            role,
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let created: Value = serde_json::from_str(&stdout(&out)).unwrap();
    created["id"].as_str().unwrap().to_owned()
}

#[test]
fn setup_link_is_printed_single_use_and_replaceable() {
    let env = TestEnv::new();
    let server = env.serve();
    let first = printed_setup_token(&server);
    assert_eq!(first.len(), 43, "256-bit token, base64url");
    assert_eq!(server.get(&format!("/setup/{first}")).status(), 200);
    assert!(
        !server.log().contains(&format!("\"{first}")),
        "token in a log line"
    );

    // A fresh link replaces the printed one.
    let out = env.rampart(&["admin", "setup-link"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let second = stdout(&out)
        .trim()
        .rsplit("/setup/")
        .next()
        .unwrap()
        .to_owned();
    assert_ne!(first, second);
    assert_eq!(server.get(&format!("/setup/{first}")).status(), 410);
    assert_eq!(server.get("/setup/not-a-token").status(), 410);

    let body = json!({"token": second, "email": ADMIN_EMAIL, "display_name": "Ada",
                      "password": ADMIN_PASSWORD, "organization": "Acme"});
    assert_eq!(post_json(&server, "/api/v1/setup", &body).status(), 201);
    let reuse = post_json(&server, "/api/v1/setup", &body);
    assert_eq!(reuse.status(), 410);
    assert_eq!(error_code(reuse), "link_invalid");
    let out = env.rampart(&["admin", "setup-link"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("already has an administrator"));
}

#[test]
fn setup_refuses_bad_input_and_changes_nothing() {
    let env = TestEnv::new();
    let server = env.serve();
    let token = printed_setup_token(&server);
    let base = json!({"token": token, "email": "a@example.com", "display_name": "Ada",
                      "password": ADMIN_PASSWORD, "organization": "Acme"});
    let cases = [
        ("password", json!("password1234")),
        ("password", json!("short")),
        ("email", json!("not-an-address")),
        ("display_name", json!("   ")),
        ("organization", json!("")),
    ];
    for (field, value) in cases {
        let mut body = base.clone();
        body[field] = value;
        let response = post_json(&server, "/api/v1/setup", &body);
        assert_eq!(response.status(), 422, "{field}");
        let message = response.json::<Value>().unwrap()["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(!message.is_empty());
    }
    let mut huge = base.clone();
    huge["email"] = json!(format!("{}@example.com", "a".repeat(1024 * 1024)));
    let response = post_json(&server, "/api/v1/setup", &huge);
    assert_eq!(response.status(), 413);
    // Nothing was created: the link still works.
    assert_eq!(post_json(&server, "/api/v1/setup", &base).status(), 201);
}

#[test]
fn login_logout_csrf_and_lockout() {
    let env = TestEnv::new();
    let server = env.serve();
    set_up(&server);

    let wrong = Session::try_login(&server, ADMIN_EMAIL, "not the password at all");
    assert_eq!(wrong.status(), 401);
    let wrong_body: Value = wrong.json().unwrap();
    let unknown = Session::try_login(&server, "nobody@example.com", "not the password at all");
    assert_eq!(unknown.status(), 401);
    let unknown_body: Value = unknown.json().unwrap();
    assert_eq!(wrong_body["error"]["code"], "invalid_credentials");
    assert_eq!(
        wrong_body["error"]["message"],
        unknown_body["error"]["message"]
    );

    // Address variants reach the same account.
    let session = Session::login(&server, "  admin@EXAMPLE.com ", ADMIN_PASSWORD);
    let me: Value = session.get(&server, "/api/v1/me").json().unwrap();
    assert_eq!(me["account"]["email"], "admin@example.com");
    assert_eq!(me["organizations"][0]["role"], "owner");

    // Logout needs the CSRF token tied to this session.
    assert_eq!(
        session.post(&server, "/api/v1/auth/logout", None).status(),
        403
    );
    assert_eq!(
        session
            .post(&server, "/api/v1/auth/logout", Some("forged-token"))
            .status(),
        403
    );
    let other = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    assert_eq!(
        session
            .post(&server, "/api/v1/auth/logout", Some(&other.csrf))
            .status(),
        403
    );
    assert_eq!(
        session
            .post(&server, "/api/v1/auth/logout", Some(&session.csrf))
            .status(),
        204
    );
    assert_eq!(
        session.get(&server, "/api/v1/me").status(),
        401,
        "cookie after logout"
    );
    assert_eq!(
        other.get(&server, "/api/v1/me").status(),
        200,
        "other sessions live on"
    );

    // Five consecutive failures lock the account; then even the right password fails alike.
    for _ in 0..5 {
        assert_eq!(
            Session::try_login(&server, "ADMIN@example.com", "still not the password").status(),
            401
        );
    }
    let locked = Session::try_login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    assert_eq!(locked.status(), 401);
    assert_eq!(error_code(locked), "invalid_credentials");

    let actions = audit_actions(&env);
    let count = |action: &str, outcome: &str| {
        actions
            .iter()
            .filter(|(a, o)| a == action && o == outcome)
            .count()
    };
    assert_eq!(count("auth.login", "failure"), 8);
    assert_eq!(count("auth.lockout", "success"), 1);
    assert_eq!(count("auth.login", "success"), 3);
    assert_eq!(count("auth.logout", "success"), 1);
    assert_eq!(count("setup.complete", "success"), 1);
    let out = env.rampart(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn cross_origin_and_cookie_without_origin_are_refused() {
    let env = TestEnv::new();
    let server = env.serve();
    set_up(&server);
    let session = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let foreign = server
        .client
        .post(server.url("/api/v1/auth/logout"))
        .header("cookie", &session.cookie)
        .header("origin", "https://evil.example")
        .header("x-csrf-token", &session.csrf)
        .send()
        .unwrap();
    assert_eq!(foreign.status(), 403);
    let no_origin = server
        .client
        .post(server.url("/api/v1/auth/logout"))
        .header("cookie", &session.cookie)
        .header("x-csrf-token", &session.csrf)
        .send()
        .unwrap();
    assert_eq!(no_origin.status(), 403);
    // No proxy is trusted, so a forwarded host is the client's own word and changes nothing.
    for (name, value) in [
        ("x-forwarded-host", "evil.example"),
        ("forwarded", "host=evil.example"),
        ("forwarded", "for=192.0.2.1;host=evil.example;proto=https"),
    ] {
        let forwarded = server
            .client
            .post(server.url("/api/v1/auth/logout"))
            .header("cookie", &session.cookie)
            .header("origin", "https://evil.example")
            .header(name, value)
            .header("x-csrf-token", &session.csrf)
            .send()
            .unwrap();
        assert_eq!(forwarded.status(), 403, "{name}: {value}");
    }
    assert_eq!(
        session.get(&server, "/api/v1/me").status(),
        200,
        "session survived"
    );
}

#[test]
fn the_public_urls_origin_is_accepted_and_forwarded_hosts_only_from_proxies() {
    let env = TestEnv::with_config(
        "public_url = \"https://rampart.example.test\"\ntrusted_proxies = [\"127.0.0.1\"]",
    );
    let server = env.serve();
    set_up(&server);
    let session = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let attempt = |origin: &str, forwarded_host: Option<&str>| {
        let mut request = server
            .client
            .put(server.url("/api/v1/me/mail-preferences"))
            .header("cookie", &session.cookie)
            .header("origin", origin)
            .header("x-csrf-token", &session.csrf)
            .json(&json!({"reminders": true, "drift_alerts": true, "weekly_digest": true}));
        if let Some(host) = forwarded_host {
            request = request.header("x-forwarded-host", host);
        }
        request.send().unwrap().status().as_u16()
    };
    assert_eq!(attempt("https://rampart.example.test", None), 200);
    assert_eq!(attempt("https://RAMPART.example.test", None), 200);
    assert_eq!(attempt("https://rampart.example.test:8443", None), 403);
    assert_eq!(attempt("http://rampart.example.test", None), 403);
    // The loopback peer is a trusted proxy here, so the host it forwards is believed.
    assert_eq!(
        attempt("https://proxy.example.test", Some("proxy.example.test")),
        200
    );
    assert_eq!(attempt("https://evil.example", None), 403);
}

#[test]
fn another_organizations_ids_answer_404_like_unknown_ids() {
    let env = TestEnv::new();
    let server = env.serve();
    let acme = set_up(&server);
    let out = env.rampart(&["admin", "org", "create", "Globex"]);
    let globex: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let globex = globex["id"].as_str().unwrap().to_owned();
    create_user(
        &env,
        "viewer@globex.example",
        "velvet orbit canyon 93 drift",
        &globex,
        "viewer",
    );

    create_user(
        &env,
        "member@acme.example",
        "velvet orbit canyon 93 drift",
        &acme,
        "member",
    );
    // Not the appliance administrator: that one may read any organization, audited.
    let admin = Session::login(
        &server,
        "member@acme.example",
        "velvet orbit canyon 93 drift",
    );
    let viewer = Session::login(
        &server,
        "viewer@globex.example",
        "velvet orbit canyon 93 drift",
    );
    assert_eq!(
        admin.get(&server, &format!("/api/v1/orgs/{acme}")).status(),
        200
    );
    assert_eq!(
        viewer
            .get(&server, &format!("/api/v1/orgs/{globex}"))
            .status(),
        200
    );

    let unknown = uuid_like();
    for (session, foreign) in [(&admin, &globex), (&viewer, &acme)] {
        let response = session.get(&server, &format!("/api/v1/orgs/{foreign}"));
        assert_eq!(response.status(), 404);
        let foreign_body: Value = response.json().unwrap();
        let response = session.get(&server, &format!("/api/v1/orgs/{unknown}"));
        assert_eq!(response.status(), 404);
        let unknown_body: Value = response.json().unwrap();
        assert_eq!(foreign_body["error"]["code"], unknown_body["error"]["code"]);
        assert_eq!(
            foreign_body["error"]["message"],
            unknown_body["error"]["message"]
        );
    }
    assert_eq!(server.get(&format!("/api/v1/orgs/{acme}")).status(), 401);
    let me: Value = viewer.get(&server, "/api/v1/me").json().unwrap();
    assert_eq!(me["organizations"].as_array().unwrap().len(), 1);
    assert_eq!(me["organizations"][0]["role"], "viewer");
}

fn uuid_like() -> String {
    "3f0b8a52-9c1e-4d7a-b5e2-6a8c0d4f1e27".to_owned()
}

#[test]
fn setup_and_sign_in_through_html_forms() {
    let env = TestEnv::new();
    let server = env.serve();
    let token = printed_setup_token(&server);
    let no_redirect = reqwest::blocking::Client::builder()
        .use_preconfigured_tls(crate::harness::client_tls(&env.cert_path()))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = |fields: &[(&str, &str)]| -> Response {
        no_redirect
            .post(server.url(&format!("/setup/{token}")))
            .header("origin", origin(&server))
            .form(fields)
            .send()
            .unwrap()
    };
    let weak = form(&[
        ("email", "ada@example.com"),
        ("display_name", "Ada"),
        ("password", "password"),
        ("organization", "Acme"),
    ]);
    assert_eq!(weak.status(), 422);
    let page = weak.text().unwrap();
    assert!(
        page.contains("id=\"password-error\""),
        "error not next to the field: {page}"
    );
    assert!(
        page.contains("value=\"ada@example.com\""),
        "typed values lost"
    );

    let done = form(&[
        ("email", "ada@example.com"),
        ("display_name", "Ada Lovelace"),
        ("password", ADMIN_PASSWORD),
        ("organization", "Acme"),
    ]);
    // Setup signs the new administrator in and opens Rampart.
    assert_eq!(done.status(), 303);
    assert_eq!(done.headers()["location"], "/");
    let first = done.headers()["set-cookie"].to_str().unwrap();
    assert!(first.starts_with("__Host-rampart_session="), "{first}");

    let bad = no_redirect
        .post(server.url("/signin"))
        .header("origin", origin(&server))
        .form(&[
            ("email", "ada@example.com"),
            ("password", "wrong password here"),
        ])
        .send()
        .unwrap();
    assert_eq!(bad.status(), 401);
    assert!(bad.text().unwrap().contains("not right"));

    let signed = no_redirect
        .post(server.url("/signin"))
        .header("origin", origin(&server))
        .form(&[("email", "ada@example.com"), ("password", ADMIN_PASSWORD)])
        .send()
        .unwrap();
    assert_eq!(signed.status(), 303);
    let cookie = signed.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    // One organization: its overview is home.
    let home = no_redirect
        .get(server.url("/"))
        .header("cookie", &cookie)
        .send()
        .unwrap();
    assert_eq!(home.status(), 303);
    let overview = home.headers()["location"].to_str().unwrap().to_owned();
    assert!(overview.starts_with("/orgs/"), "{overview}");
    let home = no_redirect
        .get(server.url(&overview))
        .header("cookie", &cookie)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        home.contains("<span id=\"account-name\">Ada Lovelace</span>"),
        "{home}"
    );
    let csrf = home
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();

    let out = no_redirect
        .post(server.url("/signout"))
        .header("origin", origin(&server))
        .header("cookie", &cookie)
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .unwrap();
    assert_eq!(out.status(), 303);
    let home = no_redirect
        .get(server.url("/"))
        .header("cookie", &cookie)
        .send()
        .unwrap();
    assert_eq!(home.status(), 303, "still signed in after sign-out");
    assert_eq!(home.headers()["location"], "/signin");
}

#[test]
fn auth_routes_are_rate_limited_per_client_with_retry_after() {
    let env = TestEnv::with_config("rate_limit_auth_per_minute = 3");
    let server = env.serve();
    let attempt = |xff: Option<&str>| {
        let mut request = server
            .client
            .post(server.url("/api/v1/auth/login"))
            .json(&json!({"email": "x@example.com", "password": "whatever whatever"}));
        if let Some(forged) = xff {
            request = request.header("x-forwarded-for", forged);
        }
        request.send().unwrap()
    };
    for _ in 0..3 {
        assert_eq!(attempt(None).status(), 401);
    }
    // A forged X-Forwarded-For from an untrusted peer changes nothing.
    let limited = attempt(Some("203.0.113.9"));
    assert_eq!(limited.status(), 429);
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(error_code(limited), "rate_limited");
    // Percent-encoded letters reach the same handlers, and count against the same limit.
    for disguised in ["/api/v1/%61uth/login", "/%73ignin"] {
        let status = server
            .client
            .post(server.url(disguised))
            .json(&json!({"email": "x@example.com", "password": "whatever whatever"}))
            .send()
            .unwrap()
            .status();
        assert_eq!(status, 429, "{disguised}");
    }
    // Other route classes keep working.
    assert_eq!(server.get("/api/v1/version").status(), 200);
    assert_eq!(server.get("/healthz").status(), 200);
}

#[test]
fn forwarded_address_is_believed_only_from_trusted_proxies() {
    let env =
        TestEnv::with_config("rate_limit_auth_per_minute = 2\ntrusted_proxies = [\"127.0.0.1\"]");
    let server = env.serve();
    let attempt = |client: &str| {
        server
            .client
            .post(server.url("/api/v1/auth/login"))
            .header("x-forwarded-for", client)
            .json(&json!({"email": "x@example.com", "password": "whatever whatever"}))
            .send()
            .unwrap()
            .status()
    };
    // Through the trusted proxy, each client has its own bucket.
    for client in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        assert_eq!(attempt(client), 401);
        assert_eq!(attempt(client), 401);
    }
    assert_eq!(attempt("198.51.100.1"), 429);
    // A proxy that writes the port too: the address is still the client's own.
    assert_eq!(attempt("192.0.2.66, 198.51.100.4:52211"), 401);
    assert_eq!(attempt("192.0.2.67, 198.51.100.4:52212"), 401);
    assert_eq!(attempt("192.0.2.68, 198.51.100.4:52213"), 429);
    // An entry that is no address ends the walk at the proxy: what a client wrote to the
    // left of it is never believed, so changing it does not give a fresh bucket.
    assert_eq!(attempt("198.51.100.21, unknown"), 401);
    assert_eq!(attempt("198.51.100.22, unknown"), 401);
    assert_eq!(attempt("198.51.100.23, unknown"), 429);
    let out = env.rampart(&["audit", "export"]);
    assert!(
        stdout(&out).contains("\"ip\":\"198.51.100.2\""),
        "client address not audited"
    );
}

#[test]
fn owners_see_the_appliance_administrators_reads_in_their_log() {
    let env = TestEnv::new();
    let server = env.serve();
    set_up(&server);
    let out = env.rampart(&["admin", "org", "create", "Globex"]);
    let globex: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let globex = globex["id"].as_str().unwrap().to_owned();
    create_user(
        &env,
        "owner@globex.example",
        "velvet orbit canyon 93 drift",
        &globex,
        "owner",
    );

    let admin = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    assert_eq!(
        admin
            .get(&server, &format!("/api/v1/orgs/{globex}"))
            .status(),
        200
    );
    let owner = Session::login(
        &server,
        "owner@globex.example",
        "velvet orbit canyon 93 drift",
    );
    let log: Value = owner
        .get(
            &server,
            &format!("/api/v1/orgs/{globex}/audit?action=admin."),
        )
        .json()
        .unwrap();
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec!["admin.org_read", "admin.user_create"],
        "newest first"
    );
    let all: Value = admin
        .get(&server, "/api/v1/admin/audit?limit=3")
        .json()
        .unwrap();
    assert_eq!(all.as_array().unwrap().len(), 3);
    assert_eq!(owner.get(&server, "/api/v1/admin/audit").status(), 403);
}

#[test]
fn owner_edits_profile_with_cage_uei_and_contracts_checked() {
    let env = TestEnv::new();
    let server = env.serve();
    let acme = set_up(&server);
    let owner = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let put = |body: &Value| {
        server
            .client
            .put(server.url(&format!("/api/v1/orgs/{acme}")))
            .header("origin", origin(&server))
            .header("cookie", &owner.cookie)
            .header("x-csrf-token", &owner.csrf)
            .json(body)
            .send()
            .unwrap()
    };
    let cases = [
        (json!({"name": "Acme", "cage": "1A2B"}), "cage", "exactly 5"),
        (
            json!({"name": "Acme", "uei": "ABCDEFGHI234"}),
            "uei",
            "letter I",
        ),
        (
            json!({"name": "Acme", "uei": "ABCDEFGH234"}),
            "uei",
            "exactly 12",
        ),
        (json!({"name": "", "cage": "1A2B3"}), "name", "1 to 200"),
        (
            json!({"name": "Acme", "contracts": [{"number": "W1", "agency": "Army", "cui": true, "start": "2026-02-30", "end": null}]}),
            "contracts.start",
            "YYYY-MM-DD",
        ),
    ];
    for (body, field, words) in cases {
        let response = put(&body);
        assert_eq!(response.status(), 422, "{field}");
        let message = response.json::<Value>().unwrap()["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(message.contains(words), "{field}: {message}");
    }
    let good = json!({"name": "Acme Defense Systems", "cage": "1a2b3", "uei": "abcdefgh2345",
        "contracts": [{"number": "W56KGU-25-C-0001", "agency": "Army", "cui": true, "start": "2025-10-01", "end": "2027-09-30"}]});
    let response = put(&good);
    assert_eq!(response.status(), 200);
    let profile: Value = owner
        .get(&server, &format!("/api/v1/orgs/{acme}"))
        .json()
        .unwrap();
    assert_eq!(profile["cage"], "1A2B3");
    assert_eq!(profile["uei"], "ABCDEFGH2345");
    assert_eq!(profile["contracts"][0]["cui"], true);
    assert_eq!(profile["name"], "Acme Defense Systems");
    let log: Value = owner
        .get(
            &server,
            &format!("/api/v1/orgs/{acme}/audit?action=org.update"),
        )
        .json()
        .unwrap();
    assert_eq!(log.as_array().unwrap().len(), 1);
}

#[test]
fn reauthentication_checks_the_password_and_is_audited() {
    let env = TestEnv::with_config("reauthentication_secs = 1");
    let server = env.serve();
    let acme = set_up(&server);
    let session = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let invite = |email: &str| {
        send(
            &server,
            &session,
            "POST",
            &format!("/api/v1/orgs/{acme}/invitations"),
            &json!({"email": email, "role": "admin"}),
        )
    };
    // Past the window, an invitation (which grants a role) asks for the password again,
    // as a role change does.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let stale = invite("late@acme.example");
    assert_eq!(stale.status(), 403);
    assert_eq!(error_code(stale), "reauthentication_required");
    let reauth = |password: &str| {
        server
            .client
            .post(server.url("/api/v1/auth/reauthenticate"))
            .header("origin", origin(&server))
            .header("cookie", &session.cookie)
            .header("x-csrf-token", &session.csrf)
            .json(&json!({ "password": password }))
            .send()
            .unwrap()
    };
    let stale_session = Session {
        cookie: session.cookie.clone(),
        csrf: session.csrf.clone(),
    };
    let wrong = reauth("not my password at all");
    assert_eq!(wrong.status(), 401);
    assert_eq!(error_code(wrong), "invalid_credentials");
    let confirmed = reauth(ADMIN_PASSWORD);
    assert_eq!(confirmed.status(), 204);
    // A re-authentication renews the session's token; the old one ends with it.
    let session = crate::mfa::renewed(&confirmed, &session);
    assert_eq!(stale_session.get(&server, "/api/v1/me").status(), 401);
    assert_eq!(session.get(&server, "/api/v1/me").status(), 200);
    let invite = |email: &str| {
        send(
            &server,
            &session,
            "POST",
            &format!("/api/v1/orgs/{acme}/invitations"),
            &json!({"email": email, "role": "admin"}),
        )
    };
    assert_eq!(invite("late@acme.example").status(), 201);
    let actions = audit_actions(&env);
    assert!(actions.contains(&("auth.reauthenticate".to_owned(), "failure".to_owned())));
    assert!(actions.contains(&("auth.reauthenticate".to_owned(), "success".to_owned())));
}

#[test]
fn members_roles_change_under_the_owner_rules() {
    let env = TestEnv::new();
    let server = env.serve();
    let acme = set_up(&server);
    let pw = "velvet orbit canyon 93 drift";
    create_user(&env, "admin@acme.example", pw, &acme, "admin");
    create_user(&env, "member@acme.example", pw, &acme, "member");
    let owner = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let admin = Session::login(&server, "admin@acme.example", pw);
    let member = Session::login(&server, "member@acme.example", pw);
    let listed: Value = member
        .get(&server, &format!("/api/v1/orgs/{acme}/members"))
        .json()
        .unwrap();
    let id_of = |email: &str| -> String {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["email"] == email)
            .unwrap()["account"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (owner_id, member_id) = (id_of("admin@example.com"), id_of("member@acme.example"));
    assert_eq!(listed[0]["role"], "owner", "owners first");

    let send = |session: &Session, method: &str, target: &str, body: Option<Value>| {
        let mut request = server
            .client
            .request(
                method.parse().unwrap(),
                server.url(&format!("/api/v1/orgs/{acme}/members/{target}")),
            )
            .header("origin", origin(&server))
            .header("cookie", &session.cookie)
            .header("x-csrf-token", &session.csrf);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().unwrap()
    };
    // Only owners make owners; the last owner cannot leave.
    assert_eq!(
        send(&admin, "PUT", &member_id, Some(json!({"role": "owner"}))).status(),
        403
    );
    let last = send(&owner, "PUT", &owner_id, Some(json!({"role": "admin"})));
    assert_eq!(last.status(), 422);
    assert!(last.text().unwrap().contains("at least one owner"));
    assert_eq!(send(&owner, "DELETE", &owner_id, None).status(), 422);

    // A demotion ends the member's sessions; a removal takes the organization away.
    assert_eq!(
        send(&admin, "PUT", &member_id, Some(json!({"role": "viewer"}))).status(),
        204
    );
    assert_eq!(member.get(&server, "/api/v1/me").status(), 401);
    let member = Session::login(&server, "member@acme.example", pw);
    let me: Value = member.get(&server, "/api/v1/me").json().unwrap();
    assert_eq!(me["organizations"][0]["role"], "viewer");
    assert_eq!(send(&admin, "DELETE", &member_id, None).status(), 204);
    let member = Session::login(&server, "member@acme.example", pw);
    assert_eq!(
        member
            .get(&server, &format!("/api/v1/orgs/{acme}"))
            .status(),
        404
    );

    let log: Value = owner
        .get(
            &server,
            &format!("/api/v1/orgs/{acme}/audit?action=member."),
        )
        .json()
        .unwrap();
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["member.remove", "member.role_change"]);
}

#[test]
fn invitations_are_single_use_and_bind_the_address() {
    let env = TestEnv::new();
    let server = env.serve();
    let acme = set_up(&server);
    let pw = "velvet orbit canyon 93 drift";
    create_user(&env, "admin@acme.example", pw, &acme, "admin");
    let owner = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let admin = Session::login(&server, "admin@acme.example", pw);
    let invite = |session: &Session, email: &str, role: &str| {
        server
            .client
            .post(server.url(&format!("/api/v1/orgs/{acme}/invitations")))
            .header("origin", origin(&server))
            .header("cookie", &session.cookie)
            .header("x-csrf-token", &session.csrf)
            .json(&json!({"email": email, "role": role}))
            .send()
            .unwrap()
    };
    assert_eq!(
        invite(&admin, "boss@acme.example", "owner").status(),
        403,
        "only owners invite owners"
    );
    assert_eq!(invite(&owner, "not an address", "member").status(), 422);
    assert_eq!(
        invite(&owner, ADMIN_EMAIL, "member").status(),
        422,
        "already a member"
    );

    let created = invite(&admin, "New.Person@Acme.example", "member");
    assert_eq!(created.status(), 201);
    let created: Value = created.json().unwrap();
    let url = created["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("https://{}/invite/", server.addr)),
        "{url}"
    );
    assert_eq!(created["email"], "new.person@acme.example");
    let token = url.rsplit('/').next().unwrap().to_owned();

    let accept = |body: Value| post_json(&server, "/api/v1/invitations/accept", &body);
    let weak = accept(json!({"token": token, "display_name": "New", "password": "password"}));
    assert_eq!(weak.status(), 422);
    let joined = accept(json!({"token": token, "display_name": "New Person", "password": pw}));
    assert_eq!(joined.status(), 200, "{}", joined.text().unwrap());
    assert_eq!(
        accept(json!({"token": token, "display_name": "Again", "password": pw})).status(),
        410
    );
    let newcomer = Session::login(&server, "new.person@acme.example", pw);
    let me: Value = newcomer.get(&server, "/api/v1/me").json().unwrap();
    assert_eq!(me["organizations"][0]["role"], "member");

    // An existing account accepts by being signed in to the invited address.
    let out = env.rampart(&["admin", "org", "create", "Globex"]);
    let globex: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let globex = globex["id"].as_str().unwrap().to_owned();
    create_user(&env, "someone@globex.example", pw, &globex, "member");
    let token = invite(&owner, "someone@globex.example", "viewer")
        .json::<Value>()
        .unwrap()["url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        accept(json!({"token": token, "display_name": "X", "password": pw})).status(),
        422
    );
    let wrong_person = newcomer.post(&server, "/api/v1/invitations/accept", Some(&newcomer.csrf));
    assert_eq!(wrong_person.status(), 400, "no body");
    let someone = Session::login(&server, "someone@globex.example", pw);
    let accepted = server
        .client
        .post(server.url("/api/v1/invitations/accept"))
        .header("origin", origin(&server))
        .header("cookie", &someone.cookie)
        .header("x-csrf-token", &someone.csrf)
        .json(&json!({"token": token}))
        .send()
        .unwrap();
    assert_eq!(accepted.status(), 200);
    let me: Value = someone.get(&server, "/api/v1/me").json().unwrap();
    assert_eq!(me["organizations"].as_array().unwrap().len(), 2);
}

#[test]
fn invitations_can_be_withdrawn_end_with_their_senders_authority_and_change_no_role() {
    let env = TestEnv::new();
    let server = env.serve();
    let acme = set_up(&server);
    let pw = "velvet orbit canyon 93 drift";
    let admin_id = create_user(&env, "admin@acme.example", pw, &acme, "admin");
    let owner = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let admin = Session::login(&server, "admin@acme.example", pw);
    let invite = |session: &Session, email: &str, role: &str| -> (String, String) {
        let created = send(
            &server,
            session,
            "POST",
            &format!("/api/v1/orgs/{acme}/invitations"),
            &json!({"email": email, "role": role}),
        );
        assert_eq!(created.status(), 201);
        let created: Value = created.json().unwrap();
        let token = created["url"].as_str().unwrap().rsplit('/').next().unwrap();
        (created["id"].as_str().unwrap().to_owned(), token.to_owned())
    };
    let accept_new = |token: &str| {
        post_json(
            &server,
            "/api/v1/invitations/accept",
            &json!({"token": token, "display_name": "Newcomer", "password": pw}),
        )
    };

    // Withdrawn: the link works no more, and withdrawing it again finds nothing.
    let (id, token) = invite(&owner, "withdrawn@acme.example", "viewer");
    let path = format!("/api/v1/orgs/{acme}/invitations/{id}");
    let as_admin = send(&server, &admin, "DELETE", &path, &json!({}));
    assert_eq!(as_admin.status(), 204);
    assert_eq!(accept_new(&token).status(), 410);
    assert_eq!(
        send(&server, &owner, "DELETE", &path, &json!({})).status(),
        404
    );
    let members_page = owner
        .get(&server, &format!("/orgs/{acme}/members"))
        .text()
        .unwrap();
    assert!(
        !members_page.contains("withdrawn@acme.example"),
        "still listed"
    );

    // Sent by an admin who is then removed: it ends with their authority.
    let (_, token) = invite(&admin, "from-admin@acme.example", "member");
    let removed = send(
        &server,
        &owner,
        "DELETE",
        &format!("/api/v1/orgs/{acme}/members/{admin_id}"),
        &json!({}),
    );
    assert_eq!(removed.status(), 204);
    assert_eq!(accept_new(&token).status(), 410);

    // Two invitations to one address: the second to arrive finds a member, and changes
    // nothing (or an old viewer invitation could demote the last owner).
    let (_, as_viewer) = invite(&owner, "twice@acme.example", "viewer");
    let (_, as_admin) = invite(&owner, "twice@acme.example", "admin");
    assert_eq!(accept_new(&as_admin).status(), 200);
    let twice = Session::login(&server, "twice@acme.example", pw);
    let again = send(
        &server,
        &twice,
        "POST",
        "/api/v1/invitations/accept",
        &json!({"token": as_viewer}),
    );
    assert_eq!(again.status(), 422);
    let me: Value = twice.get(&server, "/api/v1/me").json().unwrap();
    assert_eq!(me["organizations"][0]["role"], "admin");

    let actions = audit_actions(&env);
    assert!(actions.contains(&("member.invite_revoke".to_owned(), "success".to_owned())));
}

#[test]
fn invitation_page_creates_the_account() {
    let env = TestEnv::new();
    let server = env.serve();
    let acme = set_up(&server);
    let owner = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let created: Value = server
        .client
        .post(server.url(&format!("/api/v1/orgs/{acme}/invitations")))
        .header("origin", origin(&server))
        .header("cookie", &owner.cookie)
        .header("x-csrf-token", &owner.csrf)
        .json(&json!({"email": "page@acme.example", "role": "viewer"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let path = format!(
        "/invite/{}",
        created["url"].as_str().unwrap().rsplit('/').next().unwrap()
    );
    let page = server.get(&path).text().unwrap();
    assert!(
        page.contains("page@acme.example") && page.contains("<strong>viewer</strong>"),
        "{page}"
    );
    let no_redirect = reqwest::blocking::Client::builder()
        .use_preconfigured_tls(crate::harness::client_tls(&env.cert_path()))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let submit = |password: &str| {
        no_redirect
            .post(server.url(&path))
            .header("origin", origin(&server))
            .form(&[("display_name", "Page Person"), ("password", password)])
            .send()
            .unwrap()
    };
    let weak = submit("password");
    assert_eq!(weak.status(), 422);
    assert!(weak.text().unwrap().contains("id=\"invite-error\""));
    let done = submit("velvet orbit canyon 93 drift");
    assert_eq!(done.status(), 303);
    assert_eq!(server.get(&path).status(), 410);
    Session::login(&server, "page@acme.example", "velvet orbit canyon 93 drift");
}

#[test]
fn a_person_sees_and_ends_their_sessions() {
    let env = TestEnv::new();
    let server = env.serve();
    set_up(&server);
    let laptop = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let phone = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let list: Value = laptop.get(&server, "/api/v1/me/sessions").json().unwrap();
    let list = list.as_array().unwrap().clone();
    assert_eq!(list.len(), 3, "setup's sign-in, laptop, phone");
    assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1);
    assert_eq!(list[0]["ip"], "127.0.0.1");
    assert!(
        !serde_json::to_string(&list)
            .unwrap()
            .contains(phone.cookie.split('=').nth(1).unwrap())
    );
    // The phone's id is the entry its own list marks current. Asking also puts the phone's
    // session in the server's cache, which ending it must not outlive.
    let from_phone: Value = phone.get(&server, "/api/v1/me/sessions").json().unwrap();
    let id = from_phone
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let end = |session: &Session, id: &str| {
        server
            .client
            .delete(server.url(&format!("/api/v1/me/sessions/{id}")))
            .header("origin", origin(&server))
            .header("cookie", &session.cookie)
            .header("x-csrf-token", &session.csrf)
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(end(&laptop, &id), 204);
    assert_eq!(end(&laptop, &id), 404);
    assert_eq!(
        phone.get(&server, "/api/v1/me").status(),
        401,
        "the phone's session ended"
    );
    assert_eq!(laptop.get(&server, "/api/v1/me").status(), 200);
}

#[test]
fn changing_the_password_needs_the_current_one_and_ends_other_sessions() {
    let env = TestEnv::new();
    let server = env.serve();
    set_up(&server);
    let other = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let session = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let change = |current: &str, new: &str| {
        server
            .client
            .post(server.url("/api/v1/me/password"))
            .header("origin", origin(&server))
            .header("cookie", &session.cookie)
            .header("x-csrf-token", &session.csrf)
            .json(&json!({"current_password": current, "new_password": new}))
            .send()
            .unwrap()
    };
    let new_password = "copper meadow signal 58 tide";
    assert_eq!(change("wrong wrong wrong", new_password).status(), 401);
    assert_eq!(change(ADMIN_PASSWORD, "password1234").status(), 422);
    let changed = change(ADMIN_PASSWORD, new_password);
    assert_eq!(changed.status(), 204);
    assert_eq!(other.get(&server, "/api/v1/me").status(), 401);
    // The password was proven again, so this session lives on under a new token.
    let renewed = crate::mfa::renewed(&changed, &session);
    assert_eq!(renewed.get(&server, "/api/v1/me").status(), 200);
    assert_eq!(session.get(&server, "/api/v1/me").status(), 401);
    assert_eq!(
        Session::try_login(&server, ADMIN_EMAIL, ADMIN_PASSWORD).status(),
        401
    );
    Session::login(&server, ADMIN_EMAIL, new_password);
}

#[test]
fn a_person_exports_what_rampart_holds_about_them_and_nobody_else() {
    let env = TestEnv::new();
    let server = env.serve();
    let org = set_up(&server);
    let owner = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let member = create_user(
        &env,
        "member@acme.example",
        "slate harbor violin 28 moss",
        &org,
        "member",
    );
    let other = Session::login(
        &server,
        "member@acme.example",
        "slate harbor violin 28 moss",
    );
    // The member acts too: the owner's export must not carry it.
    let _ = send(
        &server,
        &other,
        "PUT",
        "/api/v1/me/mail-preferences",
        &json!({"reminders": false, "drift_alerts": true, "weekly_digest": true}),
    );

    let response = owner.get(&server, "/api/v1/me/export");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/zip");
    let bytes = response.bytes().unwrap().to_vec();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let read = |zip: &mut zip::ZipArchive<std::io::Cursor<Vec<u8>>>, name: &str| {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut zip.by_name(name).unwrap(), &mut text).unwrap();
        text
    };
    let data: Value = serde_json::from_str(&read(&mut zip, "personal-data.json")).unwrap();
    assert_eq!(data["account"]["email"], ADMIN_EMAIL.to_lowercase());
    assert_eq!(data["account"]["password_set"], true);
    assert_eq!(data["memberships"][0]["organization_id"], org);
    assert!(!data["sessions"].as_array().unwrap().is_empty());
    let everything = format!("{data}");
    assert!(
        !everything.contains("pbkdf2") && !everything.contains("password_hash"),
        "no secret is copied"
    );
    let audit = read(&mut zip, "audit.jsonl");
    let lines: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.len(),
        data["audit_entries"].as_u64().unwrap() as usize
    );
    assert!(lines.iter().any(|e| e["action"] == "auth.login"));
    assert!(
        lines.iter().all(|e| e["actor"]["id"] != member.as_str()),
        "only the person's own entries"
    );
    assert!(
        !audit.contains("account.mail_preferences"),
        "the member's change is not in the owner's export"
    );
    assert!(zip.by_name("README.txt").is_ok());

    // Anonymous: 401. The export itself is audited.
    assert_eq!(server.get("/api/v1/me/export").status(), 401);
    let out = env.rampart(&["audit", "export"]);
    assert!(stdout(&out).contains("privacy.export"));
}

/// The status, field and message of a refused request.
fn refusal(response: Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().unwrap();
    (
        status,
        body["error"]["field"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// Every way an address gets in (setup, the operator's CLI, invitations, address changes,
/// `mail test`) takes a plain mailbox and nothing else, saying what is wrong: no second
/// account for one mailbox behind angle brackets or a name, and no address the mailer
/// cannot send to.
#[test]
fn every_entry_point_takes_one_mailbox_per_account_and_says_what_is_wrong() {
    let env = TestEnv::new();
    let server = env.serve();
    let token = printed_setup_token(&server);
    let (status, field, message) = refusal(post_json(
        &server,
        "/api/v1/setup",
        &json!({"token": token, "email": "Ada <admin@example.com>", "display_name": "Ada",
                "password": ADMIN_PASSWORD, "organization": "Acme"}),
    ));
    assert_eq!((status, field.as_str()), (422, "email"), "{message}");
    assert!(message.contains("angle brackets"), "{message}");
    let acme = set_up(&server);
    let pw = "velvet orbit canyon 93 drift";

    // The operator's CLI: exit 2 and the reason; the one mailbox keeps one account.
    create_user(&env, "o@example.test", pw, &acme, "member");
    for (raw, words) in [
        ("<o@example.test>", "angle brackets"),
        ("x<o@example.test>", "angle brackets"),
        ("Ops <o@example.test>", "angle brackets"),
        ("O@Example.TEST", "already exists"),
        ("v6@[127.0.0.1]", "not an IP address"),
        ("o@example", "needs a dot"),
    ] {
        let out = env.rampart(&["admin", "user", "create", "--email", raw]);
        assert_eq!(out.status.code(), Some(2), "{raw}: {}", stdout(&out));
        assert!(stderr(&out).contains(words), "{raw}: {}", stderr(&out));
    }
    let listed: Value =
        serde_json::from_str(&stdout(&env.rampart(&["admin", "user", "list"]))).unwrap();
    let addresses: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        addresses
            .iter()
            .filter(|a| a.contains("o@example.test"))
            .count(),
        1,
        "{addresses:?}"
    );
    Session::login(&server, " O@Example.TEST ", pw);

    // Invitations: refused before anything is stored or queued.
    let owner = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    for (raw, words) in [
        ("v6@[127.0.0.1]", "not an IP address"),
        ("<img/src=x/onerror=alert(1)>@example.com", "angle brackets"),
        ("<o@example.test>", "angle brackets"),
        ("a(comment)@example.com", "( cannot be"),
        ("\"quoted\"@example.com", "\" cannot be"),
        ("a@-bad-.example", "not valid"),
    ] {
        let (status, field, message) = refusal(send(
            &server,
            &owner,
            "POST",
            &format!("/api/v1/orgs/{acme}/invitations"),
            &json!({"email": raw, "role": "member"}),
        ));
        assert_eq!((status, field.as_str()), (422, "email"), "{raw}: {message}");
        assert!(message.contains(words), "{raw}: {message}");
    }
    assert!(
        !audit_actions(&env)
            .iter()
            .any(|(action, _)| action == "member.invite"),
        "nothing was invited"
    );

    // An address change is checked before anything else (mail is off here).
    let (status, field, message) = refusal(send(
        &server,
        &owner,
        "POST",
        "/api/v1/me/email",
        &json!({"email": "x<o@example.test>"}),
    ));
    assert_eq!((status, field.as_str()), (422, "email"), "{message}");

    // `mail test` refuses before it looks at the mail settings.
    let out = env.rampart(&["mail", "test", "v6@[127.0.0.1]"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not an IP address"),
        "{}",
        stderr(&out)
    );
}

/// A name with a line break is refused because of the line break, wherever a name is
/// given, as `admin org create` says it.
#[test]
fn a_name_with_a_line_break_is_refused_for_its_control_characters() {
    let env = TestEnv::new();
    let server = env.serve();
    let acme = set_up(&server);
    let out = env.rampart(&["admin", "org", "create", "Acme\r\nDefense"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("control characters"),
        "{}",
        stderr(&out)
    );

    let owner = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let org_path = format!("/api/v1/orgs/{acme}");
    let assessments = format!("/api/v1/orgs/{acme}/assessments");
    let tokens = format!("/api/v1/orgs/{acme}/tokens");
    let cases = [
        (
            "PUT",
            org_path.as_str(),
            json!({"name": "Acme\r\nDefense"}),
            "name",
        ),
        (
            "PUT",
            org_path.as_str(),
            json!({"name": "Acme", "contracts": [{"number": "W1\nW2", "agency": "Army", "cui": true, "start": null, "end": null}]}),
            "contracts.number",
        ),
        (
            "POST",
            assessments.as_str(),
            json!({"name": "2026\rself-assessment", "framework": "cmmc-l2"}),
            "name",
        ),
        (
            "POST",
            tokens.as_str(),
            json!({"name": "export\r\nall", "scope": "read", "expires_in_days": 3}),
            "name",
        ),
    ];
    for (method, path, body, want) in cases {
        let (status, field, message) = refusal(send(&server, &owner, method, path, &body));
        assert_eq!((status, field.as_str()), (422, want), "{message}");
        assert!(message.contains("control characters"), "{want}: {message}");
    }

    let invited: Value = send(
        &server,
        &owner,
        "POST",
        &format!("/api/v1/orgs/{acme}/invitations"),
        &json!({"email": "eve@acme.example", "role": "member"}),
    )
    .json()
    .unwrap();
    let token = invited["url"].as_str().unwrap().rsplit('/').next().unwrap();
    let (status, field, message) = refusal(post_json(
        &server,
        "/api/v1/invitations/accept",
        &json!({"token": token, "display_name": "Eve\r\nBcc: spy@elsewhere.example",
                "password": "velvet orbit canyon 93 drift"}),
    ));
    assert_eq!((status, field.as_str()), (422, "display_name"), "{message}");
    assert!(message.contains("control characters"), "{message}");
    // Too long is still said as before.
    let (_, _, message) = refusal(send(
        &server,
        &owner,
        "PUT",
        &org_path,
        &json!({"name": "a".repeat(201)}),
    ));
    assert!(message.contains("1 to 200"), "{message}");
}
