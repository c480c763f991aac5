//! Sign-in in a real headless Chromium through chromedriver: the page form, TOTP, and
//! security keys through the WebDriver virtual authenticator, including an assertion made
//! for another origin.
//!
//! The browser reaches Rampart at `https://localhost:PORT`: WebAuthn needs a host name,
//! and `localhost` is the relying party Rampart uses when no `public_url` is set.

mod webdriver;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use crate::harness::{TestEnv, TestServer};
use crate::identity::{ADMIN_EMAIL, ADMIN_PASSWORD, set_up};
use webdriver::Browser;

const PAGE_LOAD: Duration = Duration::from_secs(20);

/// Where the browser opens Rampart.
fn rampart(server: &TestServer) -> String {
    format!("https://localhost:{}", server.addr.port())
}

/// Signs in through the page form, as a person would, and waits for the home page.
fn sign_in(browser: &Browser, server: &TestServer) {
    browser.goto(&format!("{}/signin", rampart(server)));
    browser.type_into("#email", ADMIN_EMAIL);
    browser.type_into("#password", ADMIN_PASSWORD);
    browser.click("form.form button[type=submit]");
    browser.wait_for("#account-name", PAGE_LOAD);
}

/// Signs out from the account menu, as a person would.
fn sign_out(browser: &Browser, server: &TestServer) {
    browser.goto(&format!("{}/", rampart(server)));
    browser.click(".account-menu summary");
    browser.click("form[action='/signout'] button");
    browser.wait_for("#password", PAGE_LOAD);
    let (status, _) = api(browser, "GET", "/api/v1/me", None, Value::Null);
    assert_eq!(status, 401, "signed out");
}

/// The CSRF token the home page carries for its sign-out form.
fn page_csrf(browser: &Browser) -> String {
    let token = browser.execute(
        "return document.querySelector('input[name=csrf_token]').value;",
        &[],
    );
    token.as_str().unwrap().to_owned()
}

/// Calls Rampart's API from the current page, as its own script would: the browser adds
/// the origin and the HttpOnly session cookie. Returns the status and the JSON body.
fn api(
    browser: &Browser,
    method: &str,
    path: &str,
    csrf: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let answer = browser.execute(
        r#"const [method, path, csrf, body] = arguments;
        return (async () => {
            const init = {method, headers: {}};
            if (csrf !== null) init.headers["X-CSRF-Token"] = csrf;
            if (body !== null) {
                init.headers["Content-Type"] = "application/json";
                init.body = JSON.stringify(body);
            }
            const response = await fetch(path, init);
            const text = await response.text();
            let parsed = text;
            try { parsed = text === "" ? null : JSON.parse(text); } catch (_) {}
            return {status: response.status, body: parsed};
        })();"#,
        &[json!(method), json!(path), json!(csrf), body],
    );
    let status = u16::try_from(answer["status"].as_u64().unwrap()).unwrap();
    (status, answer["body"].clone())
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

/// The browser's answer to creation options: `navigator.credentials.create`, then
/// `toJSON()`, the form Rampart takes.
fn create_credential(browser: &Browser, options: &Value) -> Value {
    browser.execute(
        "const options = PublicKeyCredential.parseCreationOptionsFromJSON(arguments[0]);
         return navigator.credentials.create({publicKey: options}).then((c) => c.toJSON());",
        &[options["publicKey"].clone()],
    )
}

/// The browser's answer to request options, signed for the page's own origin.
fn get_assertion(browser: &Browser, options: &Value) -> Value {
    browser.execute(
        "const options = PublicKeyCredential.parseRequestOptionsFromJSON(arguments[0]);
         return navigator.credentials.get({publicKey: options}).then((c) => c.toJSON());",
        &[options["publicKey"].clone()],
    )
}

/// Adds a security key to the signed-in account from the page; returns Rampart's answer.
fn enrol_key(browser: &Browser, name: &str) -> Value {
    let csrf = page_csrf(browser);
    let (status, options) = api(
        browser,
        "POST",
        "/api/v1/me/security-keys",
        Some(&csrf),
        json!({"name": name}),
    );
    assert_eq!(status, 200, "{options}");
    let credential = create_credential(browser, &options);
    let (status, enrolled) = api(
        browser,
        "POST",
        "/api/v1/me/security-keys/confirm",
        Some(&csrf),
        json!({"credential": credential}),
    );
    assert_eq!(status, 200, "{enrolled}");
    enrolled
}

/// Signs in with the password through the API from the page; the session then owes its
/// second factor. Returns the session's CSRF token.
fn pending_sign_in(browser: &Browser) -> String {
    let (status, body) = api(
        browser,
        "POST",
        "/api/v1/auth/login",
        None,
        json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["mfa_required"], true, "{body}");
    let (status, me) = api(browser, "GET", "/api/v1/me", None, Value::Null);
    assert_eq!(status, 401, "a pending sign-in opens nothing: {me}");
    assert_eq!(error_code(&me), "mfa_required");
    body["csrf_token"].as_str().unwrap().to_owned()
}

/// A security-key challenge for the pending sign-in.
fn challenge(browser: &Browser, csrf: &str) -> Value {
    let (status, options) = api(
        browser,
        "POST",
        "/api/v1/auth/mfa/webauthn",
        Some(csrf),
        json!({}),
    );
    assert_eq!(status, 200, "{options}");
    options
}

fn send_assertion(browser: &Browser, csrf: &str, assertion: &Value) -> (u16, Value) {
    api(
        browser,
        "POST",
        "/api/v1/auth/mfa",
        Some(csrf),
        json!({"webauthn": assertion}),
    )
}

fn audit(env: &TestEnv) -> Vec<Value> {
    let out = env.rampart(&["audit", "export"]);
    assert_eq!(out.status.code(), Some(0));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn count(entries: &[Value], action: &str, outcome: &str, target: Option<&str>) -> usize {
    entries
        .iter()
        .filter(|e| e["action"] == action && e["outcome"] == outcome)
        .filter(|e| target.is_none_or(|t| e["target"] == t))
        .count()
}

/// Another web site on `http://localhost:PORT`: a different origin under the same host
/// name, so the authenticator still signs for RP id `localhost` there (and
/// `http://localhost` counts as a secure context). Serves one page to every request.
fn serve_elsewhere() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            // One thread each: Chromium may open a connection and send nothing on it.
            std::thread::spawn(move || {
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let page =
                    "<!doctype html><title>Elsewhere</title><p id=\"elsewhere\">Not Rampart.</p>";
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{page}",
                    page.len()
                );
            });
        }
    });
    format!("http://localhost:{port}/")
}

#[test]
fn password_sign_in_through_the_page() {
    let env = TestEnv::new();
    let server = env.serve();
    set_up(&server);
    let browser = Browser::start(&env.cert_path());

    browser.goto(&format!("{}/signin", rampart(&server)));
    browser.type_into("#email", ADMIN_EMAIL);
    browser.type_into("#password", "not the password at all");
    browser.click("form.form button[type=submit]");
    browser.wait_for(".form-error", PAGE_LOAD);
    assert_eq!(
        browser.text(".form-error"),
        "the e-mail address or password is not right"
    );
    assert_eq!(
        browser.current_url(),
        format!("{}/signin", rampart(&server))
    );
    let kept = browser.execute("return document.getElementById('email').value;", &[]);
    assert_eq!(kept, ADMIN_EMAIL, "the address is kept for the next try");
    assert!(browser.cookie("__Host-rampart_session").is_none());

    sign_in(&browser, &server);
    // One organization: its overview is where a sign-in lands.
    assert!(
        browser
            .current_url()
            .starts_with(&format!("{}/orgs/", rampart(&server))),
        "{}",
        browser.current_url()
    );
    assert_eq!(browser.text("#account-name"), "Ada Admin");
    assert!(browser.cookie("__Host-rampart_session").is_some());
    let (status, me) = api(&browser, "GET", "/api/v1/me", None, Value::Null);
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["account"]["display_name"], "Ada Admin");
}

fn totp_code(secret: &str, at: u64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret).unwrap();
    totp_rs::Builder::new()
        .with_secret(secret)
        .build()
        .unwrap()
        .generate(at)
        .to_string()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn security_key_enrols_and_signs_in() {
    let env = TestEnv::new();
    let server = env.serve();
    set_up(&server);
    let browser = Browser::start(&env.cert_path());
    let authenticator = browser.add_virtual_authenticator();
    sign_in(&browser, &server);

    let enrolled = enrol_key(&browser, "virtual key");
    assert_eq!(enrolled["security_key"]["name"], "virtual key");
    let codes = enrolled["recovery_codes"].as_array().unwrap();
    assert_eq!(
        codes.len(),
        10,
        "the first second factor brings recovery codes"
    );
    let held = browser.credentials(&authenticator);
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0]["rpId"], "localhost");
    let (status, keys) = api(
        &browser,
        "GET",
        "/api/v1/me/security-keys",
        None,
        Value::Null,
    );
    assert_eq!(status, 200);
    assert_eq!(keys.as_array().unwrap().len(), 1, "{keys}");
    assert_eq!(keys[0]["name"], "virtual key");
    assert_eq!(keys[0]["id"], enrolled["security_key"]["id"]);
    assert_eq!(keys[0]["last_used_at"], Value::Null);

    sign_out(&browser, &server);

    let csrf = pending_sign_in(&browser);
    let options = challenge(&browser, &csrf);
    let assertion = get_assertion(&browser, &options);
    let (status, body) = send_assertion(&browser, &csrf, &assertion);
    assert_eq!(status, 204, "{body}");
    let (status, me) = api(&browser, "GET", "/api/v1/me", None, Value::Null);
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["account"]["display_name"], "Ada Admin");
    let (_, keys) = api(
        &browser,
        "GET",
        "/api/v1/me/security-keys",
        None,
        Value::Null,
    );
    assert!(
        keys[0]["last_used_at"].is_i64(),
        "the use is recorded: {keys}"
    );

    // The same assertion again, against a fresh challenge: refused, still pending.
    let csrf = pending_sign_in(&browser);
    challenge(&browser, &csrf);
    let (status, body) = send_assertion(&browser, &csrf, &assertion);
    assert_eq!(status, 401, "{body}");
    assert_eq!(error_code(&body), "invalid_second_factor");
    let (status, _) = api(&browser, "GET", "/api/v1/me", None, Value::Null);
    assert_eq!(status, 401, "a replayed assertion signs no one in");

    let entries = audit(&env);
    assert_eq!(count(&entries, "mfa.security_key_add", "success", None), 1);
    let key_id = enrolled["security_key"]["id"].as_str().unwrap();
    assert_eq!(
        count(&entries, "mfa.security_key_add", "success", Some(key_id)),
        1
    );
    assert_eq!(
        count(&entries, "auth.mfa", "success", Some("security_key")),
        1
    );
    assert_eq!(count(&entries, "auth.mfa", "failure", None), 1);
}

#[test]
fn assertion_from_another_origin_is_refused() {
    let env = TestEnv::new();
    let server = env.serve();
    set_up(&server);
    let browser = Browser::start(&env.cert_path());
    browser.add_virtual_authenticator();
    sign_in(&browser, &server);
    enrol_key(&browser, "virtual key");
    let (status, _) = api(
        &browser,
        "POST",
        "/api/v1/auth/logout",
        Some(&page_csrf(&browser)),
        Value::Null,
    );
    assert_eq!(status, 204);

    let csrf = pending_sign_in(&browser);
    let options = challenge(&browser, &csrf);

    // A phishing page relays Rampart's challenge and gets the key to answer it.
    let elsewhere = serve_elsewhere();
    browser.goto(&elsewhere);
    browser.wait_for("#elsewhere", PAGE_LOAD);
    let assertion = get_assertion(&browser, &options);
    let client_data = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(assertion["response"]["clientDataJSON"].as_str().unwrap())
        .unwrap();
    let client_data: Value = serde_json::from_slice(&client_data).unwrap();
    assert_eq!(
        format!("{}/", client_data["origin"].as_str().unwrap()),
        elsewhere,
        "the key signed for the other origin"
    );

    browser.goto(&format!("{}/signin", rampart(&server)));
    let (status, body) = send_assertion(&browser, &csrf, &assertion);
    assert_eq!(status, 401, "{body}");
    assert_eq!(error_code(&body), "invalid_second_factor");
    let (status, me) = api(&browser, "GET", "/api/v1/me", None, Value::Null);
    assert_eq!(status, 401, "still pending: {me}");
    assert_eq!(error_code(&me), "mfa_required");

    // The same key on Rampart's own origin signs in: the origin was what failed.
    let options = challenge(&browser, &csrf);
    let assertion = get_assertion(&browser, &options);
    let (status, body) = send_assertion(&browser, &csrf, &assertion);
    assert_eq!(status, 204, "{body}");

    let entries = audit(&env);
    assert_eq!(count(&entries, "auth.mfa", "failure", None), 1);
    assert_eq!(
        count(&entries, "auth.mfa", "success", Some("security_key")),
        1
    );
}

/// The password step through the page form, for an account with a second factor: lands on
/// the second-factor page.
fn password_step(browser: &Browser, server: &TestServer, factor_field: &str) {
    browser.goto(&format!("{}/signin", rampart(server)));
    browser.type_into("#email", ADMIN_EMAIL);
    browser.type_into("#password", ADMIN_PASSWORD);
    browser.click("form.form button[type=submit]");
    browser.wait_for(factor_field, PAGE_LOAD);
    assert_eq!(
        browser.current_url(),
        format!("{}/signin/mfa", rampart(server))
    );
    // Nothing else opens before the second factor: home sends the person back here.
    browser.goto(&format!("{}/", rampart(server)));
    browser.wait_for(factor_field, PAGE_LOAD);
}

fn recovery_codes_shown(browser: &Browser) -> usize {
    browser.wait_for("#recovery-codes li", PAGE_LOAD);
    browser
        .execute(
            "return document.querySelectorAll('#recovery-codes li').length;",
            &[],
        )
        .as_u64()
        .unwrap() as usize
}

#[test]
fn totp_through_the_account_page_and_the_second_factor_page() {
    let env = TestEnv::new();
    let server = env.serve();
    set_up(&server);
    let browser = Browser::start(&env.cert_path());
    sign_in(&browser, &server);

    browser.goto(&format!("{}/account", rampart(&server)));
    browser.click("#totp-begin");
    browser.wait_for("#totp-enrol:not([hidden])", PAGE_LOAD);
    let secret = browser.text("#totp-secret");
    assert_eq!(secret.len(), 32, "a 160-bit base32 secret: {secret}");
    // The QR code is an SVG the server drew, shown as an image the browser could decode.
    let qr = browser.execute(
        "const img = document.getElementById('totp-qr');
         return img.decode().then(() => [img.src.slice(0, 26), img.naturalWidth]);",
        &[],
    );
    assert_eq!(qr[0], "data:image/svg+xml;base64,");
    assert!(qr[1].as_u64().unwrap() >= 200, "{qr}");
    browser.type_into("#totp-code", "000000");
    browser.click("#totp-confirm button[type=submit]");
    browser.wait_for("#totp-code[aria-invalid=true] + .field-error", PAGE_LOAD);
    browser.execute("document.getElementById('totp-code').value = '';", &[]);
    browser.type_into("#totp-code", &totp_code(&secret, unix_now()));
    browser.click("#totp-confirm button[type=submit]");
    assert_eq!(recovery_codes_shown(&browser), 10);
    // The codes are saved before leaving: Done waits for the acknowledgement.
    let done_disabled = "return document.getElementById('recovery-done').disabled;";
    assert_eq!(browser.execute(done_disabled, &[]), true);
    let download = browser.execute(
        "return document.getElementById('recovery-download').href;",
        &[],
    );
    assert!(
        download.as_str().unwrap().starts_with("blob:"),
        "{download}"
    );
    browser.click("#recovery-saved");
    assert_eq!(browser.execute(done_disabled, &[]), false);
    browser.click("#recovery-done");
    browser.wait_for("#recovery-regenerate", PAGE_LOAD);
    sign_out(&browser, &server);

    password_step(&browser, &server, "#code");
    browser.type_into("#code", "000000");
    browser.click("#verify-code");
    browser.wait_for("#code-error", PAGE_LOAD);
    assert_eq!(
        browser.text("#code-error"),
        "that code is not right, or was already used"
    );
    // The enrolment spent the current step; the next one is within the window.
    browser.type_into("#code", &totp_code(&secret, unix_now() + 30));
    browser.click("#verify-code");
    browser.wait_for("#account-name", PAGE_LOAD);
    assert_eq!(browser.text("#account-name"), "Ada Admin");

    let entries = audit(&env);
    assert_eq!(count(&entries, "mfa.totp_enable", "success", None), 1);
    assert_eq!(count(&entries, "auth.mfa", "success", Some("totp")), 1);
    assert_eq!(count(&entries, "auth.mfa", "failure", None), 1);
}

#[test]
fn security_key_added_on_the_account_page_signs_in_with_one_press() {
    let env = TestEnv::new();
    let server = env.serve();
    set_up(&server);
    let browser = Browser::start(&env.cert_path());
    let authenticator = browser.add_virtual_authenticator();

    // At the IP address browsers refuse WebAuthn; the page says what to do instead.
    let by_ip = format!("https://127.0.0.1:{}", server.addr.port());
    browser.goto(&format!("{by_ip}/signin"));
    browser.type_into("#email", ADMIN_EMAIL);
    browser.type_into("#password", ADMIN_PASSWORD);
    browser.click("form.form button[type=submit]");
    browser.wait_for("#account-name", PAGE_LOAD);
    browser.goto(&format!("{by_ip}/account"));
    browser.type_into("#key-name", "desk key");
    browser.click("#add-key button[type=submit]");
    browser.wait_for("#key-name[aria-invalid=true] + .field-error", PAGE_LOAD);
    assert!(
        browser
            .text("#key-name + .field-error")
            .contains(&format!("https://localhost:{}", server.addr.port())),
        "the message names the address that works"
    );
    assert!(browser.credentials(&authenticator).is_empty());

    sign_in(&browser, &server);
    browser.goto(&format!("{}/account", rampart(&server)));
    browser.click("#add-key button[type=submit]");
    browser.wait_for("#key-name[aria-invalid=true]", PAGE_LOAD);
    assert!(
        browser.credentials(&authenticator).is_empty(),
        "an unnamed key is refused first"
    );
    browser.type_into("#key-name", "desk key");
    browser.click("#add-key button[type=submit]");
    assert_eq!(
        recovery_codes_shown(&browser),
        10,
        "first factor: recovery codes"
    );
    assert_eq!(browser.credentials(&authenticator).len(), 1);
    browser.goto(&format!("{}/account", rampart(&server)));
    assert!(browser.text("#security-keys").contains("desk key"));
    sign_out(&browser, &server);

    password_step(&browser, &server, "#use-security-key");
    browser.click("#use-security-key");
    browser.wait_for("#account-name", PAGE_LOAD);
    assert_eq!(browser.text("#account-name"), "Ada Admin");
    let entries = audit(&env);
    assert_eq!(count(&entries, "mfa.security_key_add", "success", None), 1);
    assert_eq!(
        count(&entries, "auth.mfa", "success", Some("security_key")),
        1
    );
}

/// The objectives of `assessment` as the API holds them: id -> status.
fn statuses(
    browser: &Browser,
    org: &str,
    assessment: &str,
) -> std::collections::BTreeMap<String, String> {
    let (status, body) = api(
        browser,
        "GET",
        &format!("/api/v1/orgs/{org}/assessments/{assessment}/objectives"),
        None,
        Value::Null,
    );
    assert_eq!(status, 200, "{body}");
    body["objectives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["id"].as_str().unwrap().to_owned(),
                o["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Waits until the page shows `row` with `status` (the save went through).
fn wait_for_row(browser: &Browser, objective: &str, status: &str) {
    browser.wait_for(
        &format!("tr.objective[data-objective='{objective}'][data-status='{status}']"),
        PAGE_LOAD,
    );
}

#[test]
fn assessment_page_updates_objectives_by_keyboard_and_in_bulk() {
    let env = TestEnv::new();
    let server = env.serve();
    let org = set_up(&server);
    let browser = Browser::start(&env.cert_path());
    sign_in(&browser, &server);

    // Start an assessment from the list page, as a person would.
    browser.goto(&format!("{}/orgs/{org}/assessments", rampart(&server)));
    browser.type_into("#assessment-name", "2026 self-assessment");
    browser.execute(
        "document.getElementById('assessment-framework').value = 'cmmc-l2';",
        &[],
    );
    browser.click("#new-assessment button[type=submit]");
    browser.wait_for("#family-chart", PAGE_LOAD);
    let url = browser.current_url();
    let assessment = url.rsplit('/').next().unwrap().to_owned();
    browser.goto(&format!("{url}/objectives"));
    browser.wait_for("#objectives[data-editable]", PAGE_LOAD);

    // Keyboard: j moves to the first objective, m marks it met; j, n marks the next not met.
    browser.execute("document.activeElement.blur();", &[]);
    let key = |k: &str| {
        browser.execute(
            "(document.activeElement || document.body).dispatchEvent(new KeyboardEvent('keydown', {key: arguments[0], bubbles: true}));",
            &[json!(k)],
        );
    };
    key("j");
    let focused = browser.execute("return document.activeElement.dataset.objective;", &[]);
    assert_eq!(focused, "3.1.1[a]");
    key("m");
    wait_for_row(&browser, "3.1.1[a]", "met");
    key("j");
    key("n");
    wait_for_row(&browser, "3.1.1[b]", "not_met");
    assert_eq!(
        browser.text(".requirement[data-requirement='3.1.1'] [data-requirement-status]"),
        "Not met"
    );

    // A status changed with the select, and a note, save without reloading the page.
    browser.execute(
        "const s = document.getElementById('status-3.1.2[a]'); s.value = 'not_applicable'; s.dispatchEvent(new Event('change', {bubbles: true}));",
        &[],
    );
    wait_for_row(&browser, "3.1.2[a]", "not_applicable");
    browser.type_into("textarea[id='note-3.1.1[b]']", "Two shared logins remain");
    browser.execute(
        "document.getElementById('note-3.1.1[b]').dispatchEvent(new Event('change', {bubbles: true}));",
        &[],
    );
    browser.wait_for("tr[data-objective='3.1.1[b]'] .decided", PAGE_LOAD);

    // Bulk: select three objectives with x and the boxes, set them all met at once.
    key("Escape"); // from the note back to its row, 3.1.1[b]
    key("j"); // 3.1.1[c]
    key("x");
    browser.click("tr[data-objective='3.1.1[d]'] input.pick");
    browser.click("tr[data-objective='3.1.1[e]'] input.pick");
    browser.execute("document.getElementById('bulk-status').value = 'met';", &[]);
    browser.click("#bulk-apply");
    for objective in ["3.1.1[c]", "3.1.1[d]", "3.1.1[e]"] {
        wait_for_row(&browser, objective, "met");
    }

    let saved = statuses(&browser, &org, &assessment);
    for (objective, status) in [
        ("3.1.1[a]", "met"),
        ("3.1.1[b]", "not_met"),
        ("3.1.1[c]", "met"),
        ("3.1.1[d]", "met"),
        ("3.1.1[e]", "met"),
        ("3.1.1[f]", "not_assessed"),
        ("3.1.2[a]", "not_applicable"),
    ] {
        assert_eq!(saved[objective], status, "{objective}");
    }
    let (_, requirement) = api(
        &browser,
        "GET",
        &format!("/api/v1/orgs/{org}/assessments/{assessment}/requirements/3.1.1"),
        None,
        Value::Null,
    );
    assert_eq!(
        requirement["objectives"][1]["note"],
        "Two shared logins remain"
    );
    assert_eq!(requirement["history"][0]["source"], "page");

    // The status filter shows only what matches.
    browser.execute(
        "const f = document.getElementById('filter-status'); f.value = 'not_met'; f.dispatchEvent(new Event('change'));",
        &[],
    );
    let shown = browser.execute(
        "return [...document.querySelectorAll('tr.objective')].filter(r => !r.hidden && !r.closest('.requirement').hidden).map(r => r.dataset.objective);",
        &[],
    );
    assert_eq!(shown, json!(["3.1.1[b]"]));

    // The dashboard and the requirement page reflect it.
    browser.goto(&format!(
        "{}/orgs/{org}/assessments/{assessment}/requirements/3.1.1",
        rampart(&server)
    ));
    browser.wait_for("#history", PAGE_LOAD);
    assert_eq!(browser.text("#requirement-status"), "Not met");
}

/// Waits until the page's visible text includes `text`.
fn wait_for_text(browser: &Browser, text: &str) {
    let deadline = Instant::now() + PAGE_LOAD;
    loop {
        let shown = browser.execute(
            "return document.body !== null && document.body.innerText.includes(arguments[0]);",
            &[json!(text)],
        );
        if shown == true {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{text:?} did not appear within {PAGE_LOAD:?} at {}",
            browser.current_url()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn evidence_library_uploads_a_file_from_the_page() {
    let env = TestEnv::new();
    let server = env.serve();
    let org = set_up(&server);
    let browser = Browser::start(&env.cert_path());
    sign_in(&browser, &server);

    let content = "account,role,reviewed\nada,owner,2026-01-15\nbob,member,2026-01-15\n";
    let file = env.path().join("access-review.csv");
    std::fs::write(&file, content).unwrap();
    let title = "Quarterly access review, first quarter";

    browser.goto(&format!("{}/orgs/{org}/evidence", rampart(&server)));
    browser.wait_for("#evidence-file", PAGE_LOAD);
    browser.find("#upload-progress");
    // WebDriver sets a file input's file from a path typed into it.
    browser.type_into("#evidence-file", file.to_str().unwrap());
    // The page may suggest a title from the file name; replace it.
    browser.execute("document.getElementById('evidence-title').value = '';", &[]);
    browser.type_into("#evidence-title", title);
    browser.click("#evidence-upload");
    wait_for_text(&browser, title);

    let (status, listed) = api(
        &browser,
        "GET",
        &format!("/api/v1/orgs/{org}/evidence"),
        None,
        Value::Null,
    );
    assert_eq!(status, 200, "{listed}");
    let evidence = listed["evidence"].as_array().unwrap();
    assert_eq!(evidence.len(), 1, "{listed}");
    assert_eq!(evidence[0]["title"], title);
    assert_eq!(evidence[0]["current"]["filename"], "access-review.csv");
    assert_eq!(evidence[0]["current"]["size"], content.len() as u64);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, content.as_bytes());
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(evidence[0]["current"]["sha256"], hex.as_str());
}

#[test]
fn jobs_page_runs_a_job_and_account_page_keeps_mail_choices() {
    let env = TestEnv::new();
    let server = env.serve();
    set_up(&server);
    let browser = Browser::start(&env.cert_path());
    sign_in(&browser, &server);

    // Run now: the page comes back with the outcome of the run.
    browser.goto(&format!("{}/admin/jobs", rampart(&server)));
    browser.wait_for("button[data-run='retention']", PAGE_LOAD);
    assert!(browser.text("tr[data-job='retention']").contains("never"));
    browser.click("button[data-run='retention']");
    wait_for_text(&browser, "sealed the audit log");
    assert!(
        browser
            .text("tr[data-job='retention'] .outcome")
            .starts_with("ok")
    );

    // Mail choices: unticking the digest is saved and shown again after a reload.
    browser.goto(&format!("{}/account", rampart(&server)));
    browser.wait_for("#mail input[name='weekly_digest']", PAGE_LOAD);
    browser.click("#mail input[name='weekly_digest']");
    browser.click("#mail button[type=submit]");
    wait_for_text(&browser, "Saved.");
    let (status, saved) = api(
        &browser,
        "GET",
        "/api/v1/me/mail-preferences",
        None,
        Value::Null,
    );
    assert_eq!(status, 200);
    assert_eq!(
        saved,
        json!({"reminders": true, "drift_alerts": true, "weekly_digest": false})
    );
    browser.goto(&format!("{}/account", rampart(&server)));
    browser.wait_for("#mail input[name='weekly_digest']", PAGE_LOAD);
    let ticked = browser.execute(
        "return [...document.querySelectorAll('#mail input')].map(i => i.checked);",
        &[],
    );
    assert_eq!(ticked, json!([true, true, false]));
}

#[test]
fn documents_page_describes_the_system_makes_an_ssp_and_builds_a_proofpack() {
    let env = TestEnv::new();
    let server = env.serve();
    let org = set_up(&server);
    let browser = Browser::start(&env.cert_path());
    sign_in(&browser, &server);
    let owner = crate::identity::Session::login(
        &server,
        crate::identity::ADMIN_EMAIL,
        crate::identity::ADMIN_PASSWORD,
    );
    let id = crate::compliance::create_assessment(&server, &owner, &org, "cmmc-l2");

    // The owner describes the system on the page; it is kept.
    browser.goto(&format!("{}/orgs/{org}/documents", rampart(&server)));
    browser.wait_for("#system textarea[name='boundary']", PAGE_LOAD);
    browser.type_into("#system input[name='system_name']", "Engineering enclave");
    browser.type_into("#system textarea[name='boundary']", "Building 2, VLAN 40.");
    browser.type_into(
        "#system textarea[name='roles']",
        "System owner | Ada Lovelace | ada@acme.example",
    );
    browser.click("#system button[type=submit]");
    wait_for_text(&browser, "Saved.");
    let (_, system) = api(
        &browser,
        "GET",
        &format!("/api/v1/orgs/{org}/system"),
        None,
        Value::Null,
    );
    assert_eq!(system["system_name"], "Engineering enclave");
    assert_eq!(system["roles"][0]["name"], "Ada Lovelace");

    // Generate the SSP as PDF: the page lists the version, ready, with its SHA-256.
    browser.type_into("#marking", "CUI");
    browser.click("button[data-make='ssp?format=pdf']");
    browser.wait_for("#versions tr[data-state='ready']", PAGE_LOAD);
    assert!(
        browser
            .text("#versions")
            .contains("System Security Plan (PDF)")
    );

    // A proofpack builds off the page, and the list shows it ready when done.
    browser.click("#build-proofpack");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, versions) = api(
            &browser,
            "GET",
            &format!("/api/v1/orgs/{org}/documents"),
            None,
            Value::Null,
        );
        let pack = versions
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["kind"] == "proofpack")
            .cloned();
        if pack.as_ref().is_some_and(|p| p["state"] == "ready") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the proofpack did not finish: {pack:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The page polls while something builds, and shows both versions ready.
    browser.wait_for("#versions tr[data-state='ready']:nth-child(2)", PAGE_LOAD);
    assert!(browser.text("#versions").contains("Proofpack"));
    assert!(browser.text("#signing-key").starts_with("ed25519:"));

    // The export links point at the chosen assessment.
    let href = browser.execute(
        "return document.querySelector(\"a[data-export='oscal/ssp']\").href;",
        &[],
    );
    assert!(
        href.as_str()
            .unwrap()
            .ends_with(&format!("/assessments/{id}/oscal/ssp")),
        "{href}"
    );
}

/// axe-core's script, installed by `./scripts/test` from the npm registry.
fn axe_source() -> String {
    let path = std::env::var("TEST_AXE_JS").unwrap_or_else(|_| {
        format!(
            "{}/target/axe/node_modules/axe-core/axe.min.js",
            env!("CARGO_MANIFEST_DIR")
        )
    });
    std::fs::read_to_string(&path).unwrap_or_else(|err| {
        panic!("cannot read axe-core at {path} ({err}): run ./scripts/test, which installs it")
    })
}

/// What a person must never see on a page: the API's enum tokens and ids.
const RAW_TOKENS: &[&str] = &["not_met", "not_assessed", "not_applicable", "poam_overdue"];

/// Checks the current page as a person at this width meets it: no sideways scrolling, the
/// organization's navigation present, no token or id in the visible text, and axe-core
/// finds no violation. Returns what failed, so one run lists every page's faults.
fn page_faults(browser: &Browser, axe: &str, path: &str, width: u32) -> Vec<String> {
    let mut faults = Vec::new();
    let checked = browser.execute(
        r#"const text = document.body.innerText;
        return {
            scroll: document.documentElement.scrollWidth,
            inner: document.documentElement.clientWidth,
            nav: document.querySelectorAll('nav[aria-label]').length,
            main: document.querySelectorAll('main').length,
            wide: [...document.querySelectorAll('main *')]
                .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1 && e.children.length === 0)
                .slice(0, 4)
                .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : '') + ' ' + Math.round(e.getBoundingClientRect().right)),
            ids: (text.match(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi) || []),
            text,
        };"#,
        &[],
    );
    let (scroll, inner) = (
        checked["scroll"].as_i64().unwrap(),
        checked["inner"].as_i64().unwrap(),
    );
    if scroll > inner {
        faults.push(format!(
            "{path} at {width}px: the page is {scroll}px wide, past the edge: {}",
            checked["wide"]
        ));
    }
    if checked["nav"].as_u64() == Some(0) {
        faults.push(format!("{path}: no labelled navigation"));
    }
    if checked["main"].as_u64() != Some(1) {
        faults.push(format!("{path}: not exactly one main"));
    }
    if let Some(ids) = checked["ids"].as_array().filter(|ids| !ids.is_empty()) {
        faults.push(format!("{path}: ids shown: {ids:?}"));
    }
    let text = checked["text"].as_str().unwrap_or_default();
    for token in RAW_TOKENS {
        if text.contains(token) {
            faults.push(format!("{path}: shows the token {token}"));
        }
    }
    if width > 1000 {
        let violations = browser.execute(
            &format!(
                "{axe}\nreturn axe.run(document, {{resultTypes: ['violations']}}).then(r => r.violations.map(v => v.id + ' (' + v.impact + '): ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')));"
            ),
            &[],
        );
        for violation in violations.as_array().unwrap() {
            faults.push(format!("{path}: axe: {}", violation.as_str().unwrap()));
        }
    }
    faults
}

/// An organization with some of everything: an assessment with statuses and a note, a
/// POA&M item with two milestones, an evidence file. Returns the organization's id, the
/// assessment's and the file's.
fn populated(server: &TestServer) -> (String, String, String) {
    let org = set_up(server);
    let owner = crate::identity::Session::login(server, ADMIN_EMAIL, ADMIN_PASSWORD);
    // An assessment with some of everything: statuses, a plan with milestones, evidence.
    let created: Value = crate::identity::send(
        server,
        &owner,
        "POST",
        &format!("/api/v1/orgs/{org}/assessments"),
        &json!({"name": "2026 self-assessment", "framework": "cmmc-l2"}),
    )
    .json()
    .unwrap();
    let assessment = created["id"].as_str().unwrap().to_owned();
    let base = format!("/api/v1/orgs/{org}/assessments/{assessment}");
    let marked = crate::identity::send(
        server,
        &owner,
        "PATCH",
        &format!("{base}/objectives"),
        &json!({"updates": [
            {"objective": "3.1.1[a]", "status": "met"},
            {"objective": "3.1.1[b]", "status": "not_met", "note": "Two shared logins remain on the shop-floor terminals, which every shift uses"},
            {"objective": "3.1.2[a]", "status": "not_applicable"},
        ]}),
    );
    assert_eq!(marked.status(), 200, "{}", marked.text().unwrap());
    let planned = crate::identity::send(
        server,
        &owner,
        "PUT",
        &format!("{base}/poam/3.1.1"),
        &json!({"weakness": "Shared logins", "remediation": "Named accounts for every operator",
                "milestones": [{"title": "Accounts made", "due": "2099-01-01"},
                               {"title": "Shared logins removed", "due": "2099-02-01"}],
                "status": "open"}),
    );
    assert_eq!(planned.status(), 200, "{}", planned.text().unwrap());
    let file = crate::evidence::upload(server, &owner, &org, "access-policy.txt", b"policy");
    let evidence = file["id"].as_str().unwrap().to_owned();
    (org, assessment, evidence)
}

/// The main pages a person works in, by path.
fn main_pages(org: &str, assessment: &str, evidence: &str) -> Vec<(&'static str, String)> {
    let a = format!("/orgs/{org}/assessments/{assessment}");
    vec![
        ("overview", format!("/orgs/{org}")),
        ("assessments", format!("/orgs/{org}/assessments")),
        ("dashboard", a.clone()),
        ("objectives", format!("{a}/objectives")),
        ("requirement", format!("{a}/requirements/3.1.1")),
        ("poam", format!("{a}/poam")),
        ("poam-item", format!("{a}/poam/3.1.1")),
        ("gaps", format!("{a}/gaps")),
        ("org-poam", format!("/orgs/{org}/poam")),
        ("evidence", format!("/orgs/{org}/evidence")),
        ("evidence-file", format!("/orgs/{org}/evidence/{evidence}")),
        ("documents", format!("/orgs/{org}/documents")),
        ("team", format!("/orgs/{org}/members")),
        ("settings", format!("/orgs/{org}/settings")),
        ("drift", format!("/orgs/{org}/drift")),
        ("catalogs", format!("/orgs/{org}/catalogs")),
        ("audit", format!("/orgs/{org}/audit")),
        ("security", format!("/orgs/{org}/security")),
        ("account", "/account".to_owned()),
        ("admin", "/admin".to_owned()),
        ("jobs", "/admin/jobs".to_owned()),
        ("mail", "/admin/mail".to_owned()),
        ("admin-audit", "/admin/audit".to_owned()),
        ("admin-security", "/admin/security".to_owned()),
    ]
}

#[test]
fn main_pages_fit_a_phone_name_things_in_words_and_pass_axe() {
    let env = TestEnv::new();
    let server = env.serve();
    let (org, assessment, evidence) = populated(&server);
    let browser = Browser::start(&env.cert_path());
    sign_in(&browser, &server);
    let axe = axe_source();
    let pages = main_pages(&org, &assessment, &evidence);
    let mut faults = Vec::new();
    for width in [1280, 390] {
        browser.set_viewport(width, 900);
        for (_, path) in &pages {
            browser.goto(&format!("{}{path}", rampart(&server)));
            browser.wait_for("main", PAGE_LOAD);
            faults.extend(page_faults(&browser, &axe, path, width));
        }
    }
    assert!(faults.is_empty(), "{}", faults.join("\n"));

    // On a phone the sections fold into the menu, which opens them.
    browser.set_viewport(390, 900);
    browser.goto(&format!("{}/orgs/{org}", rampart(&server)));
    let shown = "return getComputedStyle(document.getElementById('sections-menu')).display;";
    assert_eq!(browser.execute(shown, &[]), "none");
    browser.click("#menu-toggle");
    assert_eq!(browser.execute(shown, &[]), "block");
    browser.click("nav[aria-label='Organization'] a[href$='/evidence']");
    browser.wait_for("#evidence-upload, main h1", PAGE_LOAD);
    assert!(browser.current_url().ends_with("/evidence"));
}

/// The pages the README shows.
const TOUR: [&str; 6] = [
    "overview",
    "dashboard",
    "objectives",
    "poam-item",
    "evidence",
    "team",
];

/// The README's tour: screenshots of the main pages at desktop and phone widths, from a
/// real server. Run by `./scripts/screenshots`, which sets `RAMPART_SCREENSHOTS`.
#[test]
#[ignore = "makes the README's screenshots: ./scripts/screenshots"]
fn tour_screenshots() {
    let Ok(dir) = std::env::var("RAMPART_SCREENSHOTS") else {
        panic!("set RAMPART_SCREENSHOTS to the folder for the pictures");
    };
    std::fs::create_dir_all(&dir).unwrap();
    let env = TestEnv::new();
    let server = env.serve();
    let (org, assessment, evidence) = populated(&server);
    let browser = Browser::start(&env.cert_path());
    sign_in(&browser, &server);
    for (width, suffix) in [(1280, "desktop"), (390, "phone")] {
        browser.set_viewport(width, if width > 1000 { 900 } else { 844 });
        for (name, path) in main_pages(&org, &assessment, &evidence)
            .into_iter()
            .filter(|(name, _)| TOUR.contains(name))
        {
            browser.goto(&format!("{}{path}", rampart(&server)));
            browser.wait_for("main", PAGE_LOAD);
            std::fs::write(format!("{dir}/{name}-{suffix}.png"), browser.screenshot()).unwrap();
        }
    }
}

#[test]
fn first_setup_signs_the_administrator_in_on_the_overview() {
    let env = TestEnv::new();
    let server = env.serve();
    let token = crate::identity::printed_setup_token(&server);
    let browser = Browser::start(&env.cert_path());
    browser.goto(&format!("{}/setup/{token}", rampart(&server)));
    browser.type_into("#email", ADMIN_EMAIL);
    browser.type_into("#display_name", "Ada Admin");
    browser.type_into("#password", ADMIN_PASSWORD);
    browser.type_into("#organization", "Acme Defense");
    browser.click("form button[type=submit]");
    browser.wait_for("#first-steps", PAGE_LOAD);
    assert!(
        browser
            .current_url()
            .starts_with(&format!("{}/orgs/", rampart(&server)))
    );
    assert_eq!(browser.text("main h1"), "Acme Defense");
    assert_eq!(browser.text("#account-name"), "Ada Admin");
    // The first step leads to starting an assessment.
    browser.click("#first-steps a[href$='#new-assessment']");
    browser.wait_for("#assessment-name", PAGE_LOAD);
}

#[test]
fn a_poam_item_keeps_every_milestone_through_edits() {
    let env = TestEnv::new();
    let server = env.serve();
    let (org, assessment, _) = populated(&server);
    let browser = Browser::start(&env.cert_path());
    sign_in(&browser, &server);
    let item_page = format!(
        "{}/orgs/{org}/assessments/{assessment}/poam/AC.L2-3.1.1",
        rampart(&server)
    );
    browser.goto(&item_page);
    browser.wait_for("#poam-item", PAGE_LOAD);
    // Pre-filled with what was saved, and warned about: 3.1.1 is worth 5 points.
    assert_eq!(
        browser.execute(
            "return document.getElementById('poam-weakness').value;",
            &[]
        ),
        "Shared logins"
    );
    browser.find("#not-eligible");
    let titles = "return [...document.querySelectorAll('input[name=ms_title]')].map(i => i.value);";
    assert_eq!(
        browser.execute(titles, &[]),
        json!(["Accounts made", "Shared logins removed"])
    );

    // Edit the first, complete the second, add a third: one save keeps all three.
    browser.execute(
        "document.querySelector('input[name=ms_title]').value = '';",
        &[],
    );
    browser.type_into("input[name=ms_title]", "Named accounts made");
    browser.click("li.milestone:nth-child(2) [data-complete-milestone]");
    browser.click("#add-milestone");
    browser.type_into(
        "li.milestone:nth-child(3) input[name=ms_title]",
        "Audit the logins",
    );
    browser.execute(
        "document.querySelector('li.milestone:nth-child(3) input[name=ms_due]').value = '2099-03-01';",
        &[],
    );
    browser.click("#poam-item button[type=submit]");
    wait_for_text(&browser, "Saved: the plan with 3 milestones.");
    let saved = |browser: &Browser| -> Value {
        let (status, view) = api(
            browser,
            "GET",
            &format!("/api/v1/orgs/{org}/assessments/{assessment}/poam"),
            None,
            Value::Null,
        );
        assert_eq!(status, 200, "{view}");
        let entry = view["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["requirement"] == "3.1.1")
            .unwrap()
            .clone();
        entry["item"]["milestones"].clone()
    };
    let milestones = saved(&browser);
    assert_eq!(milestones.as_array().unwrap().len(), 3, "{milestones}");
    assert_eq!(milestones[0]["title"], "Named accounts made");
    assert!(milestones[1]["done_on"].is_string(), "{milestones}");
    assert_eq!(milestones[2]["due"], "2099-03-01");

    // A bad date is refused next to its field, and nothing saved is lost.
    browser.goto(&item_page);
    browser.wait_for("#poam-item", PAGE_LOAD);
    browser.execute(
        "document.querySelector('li.milestone:nth-child(3) input[name=ms_due]').value = '';",
        &[],
    );
    browser.click("#poam-item button[type=submit]");
    browser.wait_for(
        "li.milestone:nth-child(3) input[aria-invalid=true] + .field-error",
        PAGE_LOAD,
    );
    assert_eq!(saved(&browser).as_array().unwrap().len(), 3);

    // Removing asks first; the removal counts once saved.
    browser.goto(&item_page);
    browser.wait_for("#poam-item", PAGE_LOAD);
    browser.click("li.milestone:nth-child(3) [data-remove-milestone]");
    browser.accept_alert();
    browser.click("#poam-item button[type=submit]");
    wait_for_text(&browser, "Saved: the plan with 2 milestones.");
    let milestones = saved(&browser);
    assert_eq!(milestones.as_array().unwrap().len(), 2, "{milestones}");
    assert_eq!(milestones[1]["title"], "Shared logins removed");
}

#[test]
fn evidence_added_from_a_requirement_page_is_linked_to_it() {
    let env = TestEnv::new();
    let server = env.serve();
    let (org, assessment, _) = populated(&server);
    let browser = Browser::start(&env.cert_path());
    sign_in(&browser, &server);
    browser.goto(&format!(
        "{}/orgs/{org}/assessments/{assessment}/requirements/3.1.2",
        rampart(&server)
    ));
    browser.wait_for("#upload", PAGE_LOAD);
    let file = env.path().join("account-list.csv");
    std::fs::write(&file, "account,owner\nada,Ada\n").unwrap();
    browser.type_into("#evidence-file", file.to_str().unwrap());
    browser.type_into("#evidence-title", "Account list");
    browser.click("#evidence-upload");
    browser.wait_for("#evidence a", PAGE_LOAD);
    assert_eq!(browser.text("#evidence a"), "Account list");
    let (status, listed) = api(
        &browser,
        "GET",
        &format!("/api/v1/orgs/{org}/evidence?requirement=3.1.2"),
        None,
        Value::Null,
    );
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["evidence"][0]["requirements"], json!(["3.1.2"]));
}

#[test]
fn an_invitation_after_the_reauthentication_window_asks_for_the_password_and_shows_at_once() {
    let env = TestEnv::with_config("reauthentication_secs = 2");
    let server = env.serve();
    let org = set_up(&server);
    let browser = Browser::start(&env.cert_path());
    sign_in(&browser, &server);
    // Past the window by more than a whole second.
    std::thread::sleep(Duration::from_millis(3200));
    browser.goto(&format!("{}/orgs/{org}/members", rampart(&server)));
    browser.type_into("#invite-email", "new.person@acme.example");
    browser.click("form[data-api*='/invitations'] button[type=submit]");
    browser.wait_for("dialog#reauth[open]", PAGE_LOAD);
    // A wrong password is said in the dialog, which stays open.
    browser.type_into("#reauth-password", "not the password at all");
    browser.click("#reauth-form button[type=submit]");
    wait_for_text(&browser, "not right");
    browser.execute(
        "document.getElementById('reauth-password').value = '';",
        &[],
    );
    browser.type_into("#reauth-password", ADMIN_PASSWORD);
    browser.click("#reauth-form button[type=submit]");
    browser.wait_for("#new-invite:not([hidden])", PAGE_LOAD);
    assert!(browser.text("#new-invite-link").contains("/invite/"));
    assert!(
        browser
            .text("#invitations")
            .contains("new.person@acme.example")
    );
    assert!(browser.text("#invitations").contains("Member"));

    // The invited person (mail is off: the link is handed over) joins as a new account and
    // lands signed in on the organization's overview.
    let link = browser.text("#new-invite-link");
    sign_out(&browser, &server);
    let path = link.split_once("/invite/").unwrap().1;
    browser.goto(&format!("{}/invite/{path}", rampart(&server)));
    browser.type_into("#display_name", "New Person");
    browser.type_into("#password", "violet harbour lantern 93 quill");
    browser.click("form:has(#display_name) button[type=submit]");
    browser.wait_for("#account-name", PAGE_LOAD);
    assert_eq!(browser.text("#account-name"), "New Person");
    assert!(
        browser.current_url().ends_with(&format!("/orgs/{org}")),
        "{}",
        browser.current_url()
    );
}
