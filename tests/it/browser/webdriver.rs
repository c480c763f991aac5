//! A small W3C WebDriver client over `reqwest::blocking`: chromedriver driving a headless
//! Chromium, with the WebAuthn virtual authenticator. Only what the browser tests use.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::Method;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// The key W3C WebDriver names element references with.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A WebDriver error answer: `error` is the W3C code, such as "no such element".
#[derive(Debug)]
pub struct DriverError {
    pub error: String,
    pub message: String,
}

/// chromedriver and one Chromium session; both end when dropped.
pub struct Browser {
    http: reqwest::blocking::Client,
    /// `http://127.0.0.1:PORT/session/ID`
    session: String,
    driver: Child,
    profile: tempfile::TempDir,
}

impl Browser {
    /// Starts a headless Chromium that accepts the certificate in `cert_path` (Rampart's
    /// self-signed one) as valid: with a certificate error the page is not a secure
    /// context and WebAuthn is refused.
    pub fn start(cert_path: &Path) -> Browser {
        let profile = tempfile::tempdir().expect("profile dir");
        // chromedriver speaks plain HTTP, but reqwest (built without a TLS provider) wants
        // a TLS configuration all the same. Built before chromedriver starts, so that
        // nothing can panic between its start and the `Browser` whose drop ends it.
        let http = reqwest::blocking::Client::builder()
            .use_preconfigured_tls(crate::harness::client_tls(cert_path))
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let port = free_port();
        let log = std::fs::File::create(profile.path().join("chromedriver.log")).unwrap();
        let driver = match Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
        {
            Ok(child) => child,
            Err(err) => panic!(
                "cannot run chromedriver ({err}): run ./scripts/test, which installs the \
                 Debian packages chromium and chromium-driver"
            ),
        };
        let mut browser = Browser {
            http,
            session: format!("http://127.0.0.1:{port}"),
            driver,
            profile,
        };
        browser.wait_until_ready();

        let args = vec![
            "--headless=new".to_owned(),
            // CI runs as root, where Chromium's sandbox cannot start.
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            // The SPKI list is honoured only with an explicit profile directory.
            format!(
                "--user-data-dir={}",
                browser.profile.path().join("chromium").display()
            ),
            format!(
                "--ignore-certificate-errors-spki-list={}",
                spki_sha256(cert_path)
            ),
        ];
        let created = browser.call(
            Method::POST,
            "/session",
            json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
                "timeouts": {"script": 30_000, "pageLoad": 30_000},
            }}}),
        );
        let id = created["sessionId"].as_str().expect("session id");
        browser.session = format!("{}/session/{id}", browser.session);
        browser
    }

    fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let status = self
                .http
                .get(format!("{}/status", self.session))
                .send()
                .ok()
                .and_then(|r| r.json::<Value>().ok());
            if status.is_some_and(|s| s["value"]["ready"] == true) {
                return;
            }
            let exited = self.driver.try_wait().unwrap();
            if exited.is_some() || Instant::now() > deadline {
                let log = std::fs::read_to_string(self.profile.path().join("chromedriver.log"))
                    .unwrap_or_default();
                panic!("chromedriver did not become ready ({exited:?}):\n{log}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// One WebDriver command under the session; the answer's `value`.
    fn try_call(&self, method: Method, path: &str, body: Value) -> Result<Value, DriverError> {
        let url = format!("{}{path}", self.session);
        let mut request = self.http.request(method.clone(), &url);
        if method == Method::POST {
            request = request.json(&body);
        }
        let response = request
            .send()
            .unwrap_or_else(|err| panic!("{method} {url}: {err}"));
        let ok = response.status().is_success();
        let mut answer: Value = response.json().expect("WebDriver answers JSON");
        let value = answer["value"].take();
        if ok {
            return Ok(value);
        }
        Err(DriverError {
            error: value["error"].as_str().unwrap_or_default().to_owned(),
            message: value["message"].as_str().unwrap_or_default().to_owned(),
        })
    }

    fn call(&self, method: Method, path: &str, body: Value) -> Value {
        self.try_call(method.clone(), path, body)
            .unwrap_or_else(|err| panic!("{method} {path}: {}: {}", err.error, err.message))
    }

    pub fn goto(&self, url: &str) {
        self.call(Method::POST, "/url", json!({"url": url}));
    }

    /// Makes the viewport `width` CSS pixels wide (and `height` tall).
    pub fn set_viewport(&self, width: u32, height: u32) {
        self.call(
            Method::POST,
            "/window/rect",
            json!({"width": width, "height": height}),
        );
        // The window's frame is outside the viewport: grow it by the difference.
        let inner = self.execute("return [window.innerWidth, window.innerHeight];", &[]);
        let (w, h) = (inner[0].as_i64().unwrap(), inner[1].as_i64().unwrap());
        if w != i64::from(width) || h != i64::from(height) {
            self.call(
                Method::POST,
                "/window/rect",
                json!({"width": 2 * i64::from(width) - w, "height": 2 * i64::from(height) - h}),
            );
        }
    }

    /// Accepts the open `confirm()` dialog.
    pub fn accept_alert(&self) {
        self.call(Method::POST, "/alert/accept", json!({}));
    }

    /// The viewport as a PNG.
    pub fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let shot = self.call(Method::GET, "/screenshot", json!({}));
        base64::engine::general_purpose::STANDARD
            .decode(shot.as_str().unwrap())
            .unwrap()
    }

    pub fn current_url(&self) -> String {
        let url = self.call(Method::GET, "/url", json!({}));
        url.as_str().unwrap().to_owned()
    }

    fn source(&self) -> String {
        self.try_call(Method::GET, "/source", json!({}))
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    fn try_find(&self, css: &str) -> Result<String, DriverError> {
        let found = self.try_call(
            Method::POST,
            "/element",
            json!({"using": "css selector", "value": css}),
        )?;
        Ok(found[ELEMENT].as_str().unwrap().to_owned())
    }

    /// The element matching `css` now; panics, showing the page, when there is none.
    pub fn find(&self, css: &str) -> String {
        self.try_find(css)
            .unwrap_or_else(|err| self.fail(&format!("no {css}: {}", err.message)))
    }

    /// Waits for an element to appear, such as after a form submit navigates.
    pub fn wait_for(&self, css: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            match self.try_find(css) {
                Ok(element) => return element,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(err) => self.fail(&format!("{css} did not appear in {timeout:?}: {err:?}")),
            }
        }
    }

    /// Panics with where the browser is and what it shows, so a failure explains itself.
    fn fail(&self, what: &str) -> ! {
        let source = self.source();
        let start = source.find("<main").unwrap_or(0);
        let excerpt: String = source[start..].chars().take(1500).collect();
        panic!("{what}\nat {}\n{excerpt}", self.current_url())
    }

    pub fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css);
        self.call(
            Method::POST,
            &format!("/element/{element}/value"),
            json!({"text": text}),
        );
    }

    pub fn click(&self, css: &str) {
        let element = self.find(css);
        self.call(
            Method::POST,
            &format!("/element/{element}/click"),
            json!({}),
        );
    }

    pub fn text(&self, css: &str) -> String {
        let element = self.find(css);
        let text = self.call(Method::GET, &format!("/element/{element}/text"), json!({}));
        text.as_str().unwrap().to_owned()
    }

    /// Runs `script` as a function body in the page, `arguments` holding `args`. A returned
    /// promise is awaited (W3C "execute script"), so `fetch` and `navigator.credentials`
    /// need no callback-style async script.
    pub fn execute(&self, script: &str, args: &[Value]) -> Value {
        self.try_call(
            Method::POST,
            "/execute/sync",
            json!({"script": script, "args": args}),
        )
        .unwrap_or_else(|err| self.fail(&format!("script failed: {}", err.message)))
    }

    /// Adds a CTAP2 USB security key that holds passkeys and always verifies its user;
    /// returns its id. It answers `navigator.credentials` calls in this session's pages.
    pub fn add_virtual_authenticator(&self) -> String {
        let id = self.call(
            Method::POST,
            "/webauthn/authenticator",
            json!({"protocol": "ctap2", "transport": "usb", "hasResidentKey": true,
                   "hasUserVerification": true, "isUserVerified": true}),
        );
        id.as_str().unwrap().to_owned()
    }

    /// The credentials an authenticator holds.
    pub fn credentials(&self, authenticator: &str) -> Vec<Value> {
        let found = self.call(
            Method::GET,
            &format!("/webauthn/authenticator/{authenticator}/credentials"),
            json!({}),
        );
        found.as_array().unwrap().clone()
    }

    /// A cookie of the current page by name, HttpOnly ones included.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.try_call(Method::GET, &format!("/cookie/{name}"), json!({}))
            .ok()
            .and_then(|c| c["value"].as_str().map(str::to_owned))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if self.session.contains("/session/") {
            let _ = self.http.delete(&self.session).send();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// base64 of SHA-256 of the certificate's SubjectPublicKeyInfo: the form Chromium's
/// `--ignore-certificate-errors-spki-list` takes.
fn spki_sha256(cert_path: &Path) -> String {
    let pem = std::fs::read(cert_path).expect("server certificate");
    let der = CertificateDer::from_pem_slice(&pem).expect("certificate PEM");
    let (_, cert) = x509_parser::parse_x509_certificate(&der).expect("certificate DER");
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, cert.public_key().raw);
    base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
}

/// A port nothing listens on now. chromedriver binds it a moment later; another process
/// taking it first makes chromedriver exit, which `wait_until_ready` reports.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
