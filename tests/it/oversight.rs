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

fn create_org(env: &TestEnv, name: &str) -> String {
    let out = env.rampart(&["admin", "org", "create", name]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let org: Value = serde_json::from_str(&stdout(&out)).unwrap();
    org["id"].as_str().unwrap().to_owned()
}

/// GET as `session`, or anonymously; redirects are followed.
fn get(server: &TestServer, session: Option<&Session>, path: &str) -> Response {
    match session {
        Some(session) => session.get(server, path),
        None => server.get(path),
    }
}

fn account_id(server: &TestServer, session: &Session) -> String {
    let me: Value = session.get(server, "/api/v1/me").json().unwrap();
    me["account"]["id"].as_str().unwrap().to_owned()
}

/// Rows of an audit page's table.
fn audit_rows(html: &str) -> usize {
    html.matches("<tr data-seq=").count()
}

/// The `href` of the link with this text, unescaped.
fn link(html: &str, text: &str) -> Option<String> {
    let anchor = html.find(&format!(">{text}</a>"))?;
    let start = html[..anchor].rfind("href=\"")? + 6;
    let end = start + html[start..].find('"')?;
    Some(html[start..end].replace("&amp;", "&").replace("&#38;", "&"))
}

/// The figures of one category: (last 24 h, last 14 days, sum of the hourly counts).
fn figures(dashboard: &Value, category: &str) -> (u64, u64, u64) {
    let series = dashboard["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["category"] == category)
        .unwrap_or_else(|| panic!("no {category} in {dashboard}"));
    let hourly: u64 = series["hourly"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .sum();
    (
        series["last_24h"].as_u64().unwrap(),
        series["last_14d"].as_u64().unwrap(),
        hourly,
    )
}

/// Globex with an owner, admin, member and viewer; Initech with an owner. The appliance
/// administrator (set up with Acme) belongs to neither.
struct World {
    env: TestEnv,
    server: TestServer,
    globex: String,
    initech: String,
}

impl World {
    fn new() -> World {
        let env = TestEnv::new();
        let server = env.serve();
        set_up(&server);
        let globex = create_org(&env, "Globex");
        let initech = create_org(&env, "Initech");
        for role in ["owner", "admin", "member", "viewer"] {
            create_user(
                &env,
                &format!("{role}@globex.example"),
                PASSWORD,
                &globex,
                role,
            );
        }
        create_user(&env, "owner@initech.example", PASSWORD, &initech, "owner");
        World {
            env,
            server,
            globex,
            initech,
        }
    }

    fn login(&self, email: &str) -> Session {
        Session::login(&self.server, email, PASSWORD)
    }

    fn admin(&self) -> Session {
        Session::login(&self.server, ADMIN_EMAIL, ADMIN_PASSWORD)
    }
}

#[test]
fn oversight_pages_answer_owners_and_the_appliance_administrator_only() {
    let world = World::new();
    let server = &world.server;
    let globex = &world.globex;
    let sessions: Vec<(&str, Option<Session>)> = vec![
        ("anonymous", None),
        ("viewer", Some(world.login("viewer@globex.example"))),
        ("member", Some(world.login("member@globex.example"))),
        ("admin", Some(world.login("admin@globex.example"))),
        ("owner", Some(world.login("owner@globex.example"))),
        ("other_owner", Some(world.login("owner@initech.example"))),
        ("appliance_admin", Some(world.admin())),
    ];
    // 0 stands for "sent to the sign-in page".
    let table: [(String, [u16; 7]); 4] = [
        (
            format!("/orgs/{globex}/audit"),
            [0, 403, 403, 403, 200, 404, 200],
        ),
        (
            format!("/orgs/{globex}/security"),
            [0, 403, 403, 403, 200, 404, 200],
        ),
        ("/admin/audit".into(), [0, 403, 403, 403, 403, 403, 200]),
        ("/admin/security".into(), [0, 403, 403, 403, 403, 403, 200]),
    ];
    let mut failures = Vec::new();
    for (path, expected) in &table {
        for ((actor, session), want) in sessions.iter().zip(expected) {
            let response = get(server, session.as_ref(), path);
            let got = if response.url().path() == "/signin" {
                0
            } else {
                response.status().as_u16()
            };
            if got != *want {
                failures.push(format!("{path} as {actor}: expected {want}, got {got}"));
            }
            if got == 200 {
                let html = response.text().unwrap();
                assert!(html.contains("<h1>"), "{path}");
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Another organization's id answers exactly like an unknown one.
    let other = world.login("owner@initech.example");
    for page in ["audit", "security"] {
        let foreign = get(server, Some(&other), &format!("/orgs/{globex}/{page}"));
        let unknown = get(
            server,
            Some(&other),
            &format!("/orgs/7d0c8f1e-2d4a-4e7b-9c3f-1a2b3c4d5e6f/{page}"),
        );
        let garbage = get(server, Some(&other), &format!("/orgs/not-an-id/{page}"));
        assert_eq!(foreign.status(), 404);
        assert_eq!(unknown.status(), 404);
        assert_eq!(garbage.status(), 404);
        let scrub = |r: Response| {
            let text = r.text().unwrap();
            let cut = text.find("request-id").unwrap_or(text.len());
            text[..cut].to_owned()
        };
        assert_eq!(scrub(foreign), scrub(unknown), "{page}");
    }
}

#[test]
fn audit_page_filters_and_shows_a_wrong_date_next_to_its_field() {
    let world = World::new();
    let server = &world.server;
    for _ in 0..3 {
        let failed = Session::try_login(server, "member@globex.example", "not the password!");
        assert_eq!(failed.status(), 401);
    }
    let member = world.login("member@globex.example");
    let member_id = account_id(server, &member);
    let admin = world.admin();

    let html = get(
        server,
        Some(&admin),
        "/admin/audit?action=auth.login&outcome=failure",
    )
    .text()
    .unwrap();
    assert_eq!(audit_rows(&html), 3, "only the failures:\n{html}");
    assert!(!html.contains("outcome-success"), "{html}");
    assert!(html.contains(r#"<option value="failure" selected>"#));

    let html = get(
        server,
        Some(&admin),
        "/admin/audit?action=auth.login&actor=Member%40Globex.example",
    )
    .text()
    .unwrap();
    assert_eq!(audit_rows(&html), 4, "three failures and a success");
    assert!(html.contains("member@globex.example"), "actors are named");
    let html = get(
        server,
        Some(&admin),
        &format!("/admin/audit?action=auth.&actor={member_id}&outcome=success"),
    )
    .text()
    .unwrap();
    // The sign-in, and its new device.
    assert_eq!(audit_rows(&html), 2, "{html}");

    let wrong = get(
        server,
        Some(&admin),
        "/admin/audit?from=2026-02-30&to=2026-03-01",
    );
    assert_eq!(wrong.status(), 422);
    let html = wrong.text().unwrap();
    let input = html.find(r#"id="from""#).unwrap();
    let message = html
        .find(r#"<p class="field-error" id="from-error">"#)
        .unwrap();
    let next_field = html.find(r#"id="to""#).unwrap();
    assert!(
        input < message && message < next_field,
        "the message sits with its field"
    );
    assert!(html.contains("2026-02-30\u{201d} is not a date in the form YYYY-MM-DD"));
    assert!(html.contains(r#"aria-invalid="true""#));
    assert!(html.contains(r#"value="2026-02-30""#), "the value is kept");
    assert!(!html.contains("to-error"), "the other date is fine");
    assert_eq!(audit_rows(&html), 0);

    let backwards = get(
        server,
        Some(&admin),
        "/admin/audit?from=2026-03-02&to=2026-03-01",
    );
    assert_eq!(backwards.status(), 422);
    assert!(backwards.text().unwrap().contains(r#"id="to-error""#));
}

#[test]
fn audit_page_pages_back_a_hundred_entries_at_a_time() {
    let world = World::new();
    let server = &world.server;
    let admin = world.admin();
    // Each read of the profile by the appliance administrator is an entry.
    for _ in 0..101 {
        let response = admin.get(server, &format!("/api/v1/orgs/{}", world.globex));
        assert_eq!(response.status(), 200);
    }
    let owner = world.login("owner@globex.example");
    let first = get(
        server,
        Some(&owner),
        &format!("/orgs/{}/audit?action=admin.org_read", world.globex),
    )
    .text()
    .unwrap();
    assert_eq!(audit_rows(&first), 100);
    assert!(link(&first, "Newest entries").is_none());
    let older = link(&first, "Older entries").expect("a link to older entries");
    assert!(older.contains("action=admin.org_read"), "{older}");
    let second = get(
        server,
        Some(&owner),
        &format!("/orgs/{}/audit{older}", world.globex),
    )
    .text()
    .unwrap();
    assert_eq!(audit_rows(&second), 1);
    assert!(link(&second, "Older entries").is_none());
    assert!(link(&second, "Newest entries").is_some());
}

#[test]
fn dashboard_counts_exactly_the_events_caused() {
    let world = World::new();
    let server = &world.server;
    let globex = &world.globex;
    let owner = world.login("owner@globex.example");
    let org_figures = || -> Value {
        let response = owner.get(server, &format!("/api/v1/orgs/{globex}/security"));
        assert_eq!(response.status(), 200);
        response.json().unwrap()
    };
    let before = org_figures();
    assert_eq!(figures(&before, "failed_sign_in"), (0, 0, 0));
    assert_eq!(figures(&before, "lockout"), (0, 0, 0));
    assert_eq!(before["hours"].as_array().unwrap().len(), 24);
    assert_eq!(before["days"].as_array().unwrap().len(), 14);

    // Globex: 3 failures for the member, 5 for the viewer (locked out).
    for (email, times) in [("member@globex.example", 3), ("viewer@globex.example", 5)] {
        for _ in 0..times {
            let failed = Session::try_login(server, email, "not the password!");
            assert_eq!(failed.status(), 401);
        }
    }
    // Not Globex's: an unknown address, and Initech's owner.
    assert_eq!(
        Session::try_login(server, "nobody@globex.example", "not the password!").status(),
        401
    );
    for _ in 0..2 {
        let failed = Session::try_login(server, "owner@initech.example", "not the password!");
        assert_eq!(failed.status(), 401);
    }
    // One API token, used twice within a minute: one recorded use.
    let created: Value = crate::mfa::post(
        server,
        &owner,
        &format!("/api/v1/orgs/{globex}/tokens"),
        &json!({"name": "SIEM", "scope": "read", "expires_in_days": 1}),
    )
    .json()
    .unwrap();
    let token = created["token"].as_str().unwrap();
    for _ in 0..2 {
        let used = server
            .client
            .get(server.url(&format!("/api/v1/orgs/{globex}")))
            .header("authorization", format!("Bearer {token}"))
            .send()
            .unwrap();
        assert_eq!(used.status(), 200);
    }
    // The member adds TOTP: one MFA change.
    let member = world.login("member@globex.example");
    let enrol: Value = crate::mfa::post(server, &member, "/api/v1/me/totp", &json!({}))
        .json()
        .unwrap();
    let code = crate::mfa::code(enrol["secret"].as_str().unwrap(), crate::mfa::now());
    let confirmed = crate::mfa::post(
        server,
        &member,
        "/api/v1/me/totp/confirm",
        &json!({ "code": code }),
    );
    assert_eq!(confirmed.status(), 200);

    let after = org_figures();
    assert_eq!(figures(&after, "failed_sign_in"), (8, 8, 8));
    assert_eq!(figures(&after, "lockout"), (1, 1, 1));
    assert_eq!(figures(&after, "token_use"), (1, 1, 1));
    assert_eq!(figures(&after, "mfa_change"), (1, 1, 1));
    // First sign-ins of the owner and the member.
    assert_eq!(figures(&after, "new_device"), (2, 2, 2));
    let recent = after["recent"].as_array().unwrap();
    assert_eq!(recent[0]["action"], "mfa.totp_enable", "newest first");
    assert_eq!(recent[0]["actor_email"], "member@globex.example");
    let initech_owner = world.login("owner@initech.example");
    let initech_id = account_id(server, &initech_owner);
    assert!(
        recent
            .iter()
            .all(|e| e["actor"]["id"] != initech_id.as_str() && e["actor"]["kind"] != "anonymous"),
        "only Globex's members' events: {recent:?}"
    );

    let admin = world.admin();
    let response = admin.get(server, "/api/v1/admin/security");
    assert_eq!(response.status(), 200);
    let whole: Value = response.json().unwrap();
    assert_eq!(figures(&whole, "failed_sign_in").0, 11, "all organizations");
    assert_eq!(figures(&whole, "lockout").0, 1);
}

#[test]
fn owners_see_the_appliance_administrators_reads_of_their_figures() {
    let world = World::new();
    let server = &world.server;
    let globex = &world.globex;
    let admin = world.admin();
    let admin_id = account_id(server, &admin);
    let page = admin.get(server, &format!("/orgs/{globex}/security"));
    assert_eq!(page.status(), 200);
    let html = page.text().unwrap();
    assert!(html.contains(r#"aria-live="polite""#));
    assert!(html.contains(&format!(r#"data-source="/api/v1/orgs/{globex}/security""#)));
    // The page's script is served from our origin under its content-hash name.
    let script = html
        .split("<script src=\"")
        .filter_map(|s| s.split('"').next())
        .find(|src| src.starts_with("/assets/security."))
        .expect("the dashboard script")
        .to_owned();
    let js = server.get(&script);
    assert_eq!(js.status(), 200);
    assert!(js.text().unwrap().contains("setInterval"));
    // The page refreshes itself: those reads are covered by the first entry.
    for _ in 0..3 {
        let poll = admin.get(server, &format!("/api/v1/orgs/{globex}/security"));
        assert_eq!(poll.status(), 200);
    }

    let owner = world.login("owner@globex.example");
    let log: Value = owner
        .get(
            server,
            &format!("/api/v1/orgs/{globex}/audit?action=admin.security_read"),
        )
        .json()
        .unwrap();
    let reads = log.as_array().unwrap();
    assert_eq!(reads.len(), 1, "{log}");
    assert_eq!(reads[0]["actor"]["id"], admin_id.as_str());
    assert_eq!(reads[0]["org"], globex.as_str());
    let html = owner
        .get(server, &format!("/orgs/{globex}/audit"))
        .text()
        .unwrap();
    assert!(html.contains("admin.security_read"));
    assert!(
        html.contains(&ADMIN_EMAIL.to_lowercase()),
        "named by address"
    );

    // Reading the organization's log is audited too, and listed in what it returns.
    let html = admin
        .get(
            server,
            &format!("/orgs/{globex}/audit?action=admin.audit_read"),
        )
        .text()
        .unwrap();
    assert_eq!(audit_rows(&html), 1);
    let log: Value = owner
        .get(
            server,
            &format!("/api/v1/orgs/{globex}/audit?action=admin.audit_read"),
        )
        .json()
        .unwrap();
    assert_eq!(log.as_array().unwrap().len(), 1);
}

#[test]
fn an_organizations_pages_never_show_another_organizations_events() {
    let world = World::new();
    let server = &world.server;
    let (globex, initech) = (&world.globex, &world.initech);
    // Someone who owns Initech joins Globex, and makes and uses a token in Initech.
    let both = create_user(&world.env, "both@example.com", PASSWORD, initech, "owner");
    let initech_owner = world.login("owner@initech.example");
    let invite: Value = crate::mfa::post(
        server,
        &initech_owner,
        &format!("/api/v1/orgs/{initech}/invitations"),
        &json!({"email": "outsider@initech.example", "role": "viewer"}),
    )
    .json()
    .unwrap();
    assert!(invite["url"].is_string(), "{invite}");
    let globex_owner = world.login("owner@globex.example");
    let add = server
        .client
        .post(server.url(&format!("/api/v1/orgs/{globex}/invitations")))
        .header("origin", origin(server))
        .header("cookie", &globex_owner.cookie)
        .header("x-csrf-token", &globex_owner.csrf)
        .json(&json!({"email": "both@example.com", "role": "member"}))
        .send()
        .unwrap();
    assert_eq!(add.status(), 201);
    let link: Value = add.json().unwrap();
    let invitation = link["url"].as_str().unwrap().rsplit('/').next().unwrap();
    let person = Session::login(server, "both@example.com", PASSWORD);
    assert_eq!(
        crate::mfa::post(
            server,
            &person,
            "/api/v1/invitations/accept",
            &json!({ "token": invitation }),
        )
        .status(),
        200
    );
    let token: Value = crate::mfa::post(
        server,
        &person,
        &format!("/api/v1/orgs/{initech}/tokens"),
        &json!({"name": "Initech export", "scope": "read", "expires_in_days": 1}),
    )
    .json()
    .unwrap();
    let token_id = token["id"].as_str().unwrap().to_owned();
    let secret = token["token"].as_str().unwrap();
    let used = server
        .client
        .get(server.url(&format!("/api/v1/orgs/{initech}")))
        .header("authorization", format!("Bearer {secret}"))
        .send()
        .unwrap();
    assert_eq!(used.status(), 200);

    // The whole log has them, tagged with Initech.
    let log = audit_log(&world.env);
    assert!(
        log.iter()
            .any(|e| e["action"] == "token.use" && e["org"] == initech.as_str())
    );
    let admin_view = world.admin().get(server, "/admin/audit").text().unwrap();
    assert!(admin_view.contains(&token_id[..]));

    for page in ["audit", "security"] {
        let html = globex_owner
            .get(server, &format!("/orgs/{globex}/{page}"))
            .text()
            .unwrap();
        for foreign in [
            initech.as_str(),
            &initech[..8],
            &token_id,
            "outsider@initech",
        ] {
            assert!(
                !html.contains(foreign),
                "Globex's {page} page shows {foreign}"
            );
        }
        assert!(!html.contains("token.use"), "{page}: Initech's token use");
    }
    // The shared member's own sign-in is Globex's business (an identity event of a member).
    let figures_now: Value = globex_owner
        .get(server, &format!("/api/v1/orgs/{globex}/security"))
        .json()
        .unwrap();
    assert_eq!(figures(&figures_now, "token_use"), (0, 0, 0));
    assert!(
        figures_now["recent"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "auth.new_device" && e["actor"]["id"] == both.as_str())
    );
}
