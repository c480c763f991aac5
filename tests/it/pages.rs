//! The signed-in pages through the real server: the second-factor step of a sign-in,
//! account settings, and an organization's members and invitations.

use reqwest::blocking::{Client, Response};
use serde_json::{Value, json};

use crate::harness::{TestEnv, TestServer, client_tls};
use crate::identity::{ADMIN_EMAIL, ADMIN_PASSWORD, Session, create_user, origin, set_up};
use crate::matrix::create_org;
use crate::mfa::{code, now, post};

const PASSWORD: &str = "copper violin meadow 82 orbit";

/// A client that shows redirects instead of following them.
pub fn no_redirect(env: &TestEnv) -> Client {
    Client::builder()
        .use_preconfigured_tls(client_tls(&env.cert_path()))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn location(response: &Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

fn cookie_of(response: &Response) -> String {
    response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

fn page(client: &Client, server: &TestServer, cookie: &str, path: &str) -> Response {
    client
        .get(server.url(path))
        .header("cookie", cookie)
        .send()
        .unwrap()
}

fn form(
    client: &Client,
    server: &TestServer,
    cookie: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> Response {
    client
        .post(server.url(path))
        .header("cookie", cookie)
        .header("origin", origin(server))
        .form(fields)
        .send()
        .unwrap()
}

fn hidden_csrf(html: &str) -> String {
    html.split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("csrf field")
        .to_owned()
}

/// Turns TOTP on for the admin through the API; returns the secret.
pub fn enrol_totp(server: &TestServer) -> String {
    let session = Session::login(server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let enrol: Value = post(server, &session, "/api/v1/me/totp", &json!({}))
        .json()
        .unwrap();
    let secret = enrol["secret"].as_str().unwrap().to_owned();
    let confirmed = post(
        server,
        &session,
        "/api/v1/me/totp/confirm",
        &json!({"code": code(&secret, now())}),
    );
    assert_eq!(confirmed.status(), 200);
    secret
}

#[test]
fn mfa_page_takes_a_code_once_and_says_what_is_wrong_next_to_the_field() {
    let env = TestEnv::new();
    let server = env.serve();
    set_up(&server);
    let secret = enrol_totp(&server);
    let client = no_redirect(&env);

    let signed = form(
        &client,
        &server,
        "",
        "/signin",
        &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)],
    );
    assert_eq!(signed.status(), 303);
    assert_eq!(location(&signed), "/signin/mfa");
    let cookie = cookie_of(&signed);

    // The pending session reaches nothing else: pages send it back to the MFA step.
    let account = page(&client, &server, &cookie, "/account");
    assert_eq!(account.status(), 303);
    assert_eq!(location(&account), "/signin/mfa");

    let challenge = page(&client, &server, &cookie, "/signin/mfa");
    assert_eq!(challenge.status(), 200);
    let html = challenge.text().unwrap();
    assert!(html.contains("id=\"code\""), "{html}");
    assert!(
        !html.contains("id=\"use-security-key\""),
        "no key registered, no key button"
    );
    let csrf = hidden_csrf(&html);

    let forged = form(
        &client,
        &server,
        &cookie,
        "/signin/mfa",
        &[("csrf_token", "forged"), ("code", "123456")],
    );
    assert_eq!(forged.status(), 403);

    let wrong = form(
        &client,
        &server,
        &cookie,
        "/signin/mfa",
        &[("csrf_token", &csrf), ("code", "000000")],
    );
    assert_eq!(wrong.status(), 401);
    let html = wrong.text().unwrap();
    assert!(html.contains("id=\"code-error\""), "{html}");
    assert!(html.contains("aria-invalid=\"true\""), "{html}");

    let good = code(&secret, now() + 30);
    let right = form(
        &client,
        &server,
        &cookie,
        "/signin/mfa",
        &[("csrf_token", &csrf), ("code", &good)],
    );
    assert_eq!(right.status(), 303);
    assert_eq!(location(&right), "/");
    // The second factor renews the session's token: the page-held cookie is replaced.
    let signed_in = cookie_of(&right);
    assert_ne!(signed_in, cookie);
    assert_eq!(
        location(&page(&client, &server, &cookie, "/account")),
        "/signin"
    );
    let home = page(&client, &server, &signed_in, "/account")
        .text()
        .unwrap();
    assert!(home.contains("id=\"account-name\">Ada Admin<"), "{home}");

    // The same code in a second sign-in is refused: its time step is spent.
    let again = form(
        &client,
        &server,
        "",
        "/signin",
        &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)],
    );
    let second = cookie_of(&again);
    let csrf = hidden_csrf(
        &page(&client, &server, &second, "/signin/mfa")
            .text()
            .unwrap(),
    );
    let replay = form(
        &client,
        &server,
        &second,
        "/signin/mfa",
        &[("csrf_token", &csrf), ("code", &good)],
    );
    assert_eq!(replay.status(), 401);
    assert_eq!(
        page(&client, &server, &second, "/account").status(),
        303,
        "still pending after a replayed code"
    );
}

#[test]
fn account_page_needs_a_sign_in_and_shows_sessions_keys_and_tokens() {
    let env = TestEnv::new();
    let server = env.serve();
    let org = set_up(&server);
    let client = no_redirect(&env);

    let anonymous = page(&client, &server, "", "/account");
    assert_eq!(anonymous.status(), 303);
    assert_eq!(location(&anonymous), "/signin");

    let session = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let _other = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let created = post(
        &server,
        &session,
        &format!("/api/v1/orgs/{org}/tokens"),
        &json!({"name": "SIEM <export>", "scope": "read", "expires_in_days": 30}),
    );
    assert_eq!(created.status(), 201, "{}", created.text().unwrap());

    let html = page(&client, &server, &session.cookie, "/account")
        .text()
        .unwrap();
    assert!(html.contains("id=\"account-name\">Ada Admin<"), "{html}");
    assert_eq!(
        html.matches("this session").count(),
        1,
        "exactly one row is the current session"
    );
    assert!(
        html.contains("data-api-call=\"DELETE /api/v1/me/sessions/"),
        "the other session can be ended"
    );
    assert!(
        html.contains("SIEM &lt;export&gt;") || html.contains("SIEM &#60;export&#62;"),
        "names are escaped: {html}"
    );
    assert!(!html.contains("SIEM <export>"));
    assert!(html.contains("id=\"totp-begin\""));
    assert!(html.contains("id=\"add-key\""));
    assert!(html.contains(&format!("href=\"/orgs/{org}/members\"")));
    assert!(
        !html.contains("rmp_"),
        "a token's secret is never shown again"
    );
}

#[test]
fn members_page_is_for_members_and_shows_management_only_to_managers() {
    let env = TestEnv::new();
    let server = env.serve();
    let org = set_up(&server);
    let other = create_org(&env, "Initech");
    create_user(&env, "viewer@acme.example", PASSWORD, &org, "viewer");
    create_user(&env, "owner@initech.example", PASSWORD, &other, "owner");
    let client = no_redirect(&env);
    let owner = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);

    let invited = post(
        &server,
        &owner,
        &format!("/api/v1/orgs/{org}/invitations"),
        &json!({"email": "New.Person@acme.example", "role": "member"}),
    );
    assert_eq!(invited.status(), 201);

    let path = format!("/orgs/{org}/members");
    let html = page(&client, &server, &owner.cookie, &path).text().unwrap();
    assert!(html.contains("viewer@acme.example"), "{html}");
    assert!(
        html.contains("new.person@acme.example"),
        "pending invitation listed"
    );
    assert!(html.contains(&format!("data-api=\"POST /api/v1/orgs/{org}/invitations\"")));
    assert!(
        html.contains(
            "<option value=\"owner\">Owner: everything, including the audit log</option>"
        ),
        "owners may invite owners"
    );

    let viewer = Session::login(&server, "viewer@acme.example", PASSWORD);
    let seen = page(&client, &server, &viewer.cookie, &path);
    assert_eq!(seen.status(), 200);
    let html = seen.text().unwrap();
    assert!(html.contains("Ada Admin"));
    assert!(
        !html.contains("invitations\""),
        "viewers cannot invite: {html}"
    );
    assert!(
        !html.contains("new.person@acme.example"),
        "nor see invitations"
    );
    assert!(!html.contains("data-role-of"), "nor change roles");

    let stranger = Session::login(&server, "owner@initech.example", PASSWORD);
    let refused = page(&client, &server, &stranger.cookie, &path);
    assert_eq!(
        refused.status(),
        404,
        "another organization's id is unknown"
    );
    let unknown = page(
        &client,
        &server,
        &stranger.cookie,
        "/orgs/5b0c8f1e-2d4a-4e7b-9c3f-1a2b3c4d5e6f/members",
    );
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        page(
            &client,
            &server,
            &stranger.cookie,
            "/orgs/not-an-id/members"
        )
        .status(),
        404
    );
    let anonymous = page(&client, &server, "", &path);
    assert_eq!(anonymous.status(), 303);
}

#[test]
fn a_required_second_factor_sends_every_page_to_enrolment() {
    let env = TestEnv::new();
    let server = env.serve();
    let org = set_up(&server);
    create_user(&env, "member@acme.example", PASSWORD, &org, "member");
    let owner = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let required = server
        .client
        .put(server.url(&format!("/api/v1/orgs/{org}")))
        .header("origin", origin(&server))
        .header("cookie", &owner.cookie)
        .header("x-csrf-token", &owner.csrf)
        .json(&json!({"name": "Acme Defense", "require_mfa": true}))
        .send()
        .unwrap();
    assert_eq!(required.status(), 200, "{}", required.text().unwrap());

    let client = no_redirect(&env);
    let signed = form(
        &client,
        &server,
        "",
        "/signin",
        &[("email", "member@acme.example"), ("password", PASSWORD)],
    );
    assert_eq!(signed.status(), 303);
    assert_eq!(location(&signed), "/account");
    let cookie = cookie_of(&signed);
    let members = page(&client, &server, &cookie, &format!("/orgs/{org}/members"));
    assert_eq!(members.status(), 303);
    assert_eq!(location(&members), "/account");
    let account = page(&client, &server, &cookie, "/account");
    assert_eq!(account.status(), 200);
    assert!(
        account
            .text()
            .unwrap()
            .contains("id=\"enrolment-required\"")
    );
}

#[test]
fn the_privacy_notice_is_public_and_the_session_cookie_is_the_only_cookie() {
    let env = TestEnv::new();
    let server = env.serve();
    let org = set_up(&server);
    let response = server.get("/privacy");
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("set-cookie").is_none());
    let text = response.text().unwrap();
    assert!(text.contains("__Host-rampart_session") && text.contains("no tracking"));

    // Signing in and walking the pages sets no cookie but the session's.
    let client = no_redirect(&env);
    let login = client
        .post(server.url("/signin"))
        .header("origin", origin(&server))
        .form(&[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)])
        .send()
        .unwrap();
    let cookie = cookie_of(&login);
    let mut names = std::collections::BTreeSet::new();
    for header in login.headers().get_all("set-cookie") {
        names.insert(
            header
                .to_str()
                .unwrap()
                .split('=')
                .next()
                .unwrap()
                .to_owned(),
        );
    }
    for path in [
        format!("/orgs/{org}"),
        format!("/orgs/{org}/assessments"),
        format!("/orgs/{org}/evidence"),
        format!("/orgs/{org}/documents"),
        "/account".to_owned(),
        "/privacy".to_owned(),
    ] {
        let response = page(&client, &server, &cookie, &path);
        assert_eq!(response.status(), 200, "{path}");
        for header in response.headers().get_all("set-cookie") {
            names.insert(
                header
                    .to_str()
                    .unwrap()
                    .split('=')
                    .next()
                    .unwrap()
                    .to_owned(),
            );
        }
        let body = response.text().unwrap();
        assert!(
            !body.contains("src=\"http"),
            "{path} loads nothing from elsewhere"
        );
    }
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        vec!["__Host-rampart_session".to_owned()]
    );
}
