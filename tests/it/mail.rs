//! Mail through a real SMTP server: `tests/smtp_sink.py` (aiosmtpd) with STARTTLS, implicit
//! TLS or plain SMTP, optional authentication and refused recipients, and certificates from
//! a throwaway CA made with the `openssl` CLI. Rampart is the real binary throughout.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use reqwest::blocking::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::harness::{TestEnv, TestServer, stderr, stdout};
use crate::identity::{ADMIN_EMAIL, ADMIN_PASSWORD, Session, create_user, origin, set_up};
use crate::mfa::post;

const SINK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_sink.py");
const FROM: &str = "Rampart <rampart@acme.example>";
/// The outbox worker looks for due messages this often; a duplicate would come within it.
const POLL: Duration = Duration::from_secs(5);

/// A CA and a certificate it signed for `localhost` and 127.0.0.1.
pub struct Certs {
    _dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl (scripts/test installs it)");
    assert!(out.status.success(), "openssl {args:?}: {}", stderr(&out));
}

impl Certs {
    pub fn new() -> Certs {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::write(
            p.join("server.ext"),
            "basicConstraints=critical,CA:FALSE\n\
             keyUsage=critical,digitalSignature\n\
             extendedKeyUsage=serverAuth\n\
             subjectAltName=DNS:localhost,IP:127.0.0.1\n",
        )
        .unwrap();
        let key = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        let ca = [
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-subj",
            "/CN=Rampart test mail CA",
            "-days",
            "2",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ];
        openssl(p, &[&["req", "-x509"][..], &key, &ca].concat());
        let csr = ["-keyout", "server.key", "-out", "server.csr"];
        let subject = ["-subj", "/CN=localhost"];
        openssl(p, &[&["req"][..], &key, &csr, &subject].concat());
        openssl(
            p,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "server.ext",
                "-out",
                "server.pem",
            ],
        );
        Certs {
            ca: p.join("ca.pem"),
            cert: p.join("server.pem"),
            key: p.join("server.key"),
            _dir: dir,
        }
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Security {
    Plain,
    StartTls,
    Tls,
}

/// How to start the sink.
pub struct Sink<'a> {
    pub security: Security,
    pub certs: Option<&'a Certs>,
    pub port: u16,
    pub auth: Option<&'a str>,
    pub reject_rcpt: Option<&'a str>,
    pub defer: bool,
}

impl<'a> Sink<'a> {
    pub fn new(security: Security, certs: Option<&'a Certs>) -> Sink<'a> {
        Sink {
            security,
            certs,
            port: 0,
            auth: None,
            reject_rcpt: None,
            defer: false,
        }
    }

    pub fn start(&self) -> SmtpSink {
        let dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(dir.path().join("sink.log")).unwrap();
        let mut cmd = Command::new("python3");
        cmd.arg(SINK)
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--dir")
            .arg(dir.path().join("mail"));
        let flag = match self.security {
            Security::Plain => None,
            Security::StartTls => Some("--starttls"),
            Security::Tls => Some("--tls"),
        };
        if let Some(flag) = flag {
            let certs = self.certs.expect("certificates for a TLS sink");
            cmd.arg(flag).arg(&certs.cert).arg(&certs.key);
        }
        if let Some(auth) = self.auth {
            cmd.args(["--auth", auth]);
        }
        if let Some(reject) = self.reject_rcpt {
            cmd.args(["--reject-rcpt", reject]);
        }
        if self.defer {
            cmd.arg("--defer");
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("python3 with aiosmtpd (scripts/test installs it)");
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(15);
        let port = loop {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(50))
                && let Some(port) = line.strip_prefix("READY ")
            {
                break port.trim().parse().unwrap();
            }
            let exited = child.try_wait().unwrap();
            if exited.is_some() || Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                let log = std::fs::read_to_string(dir.path().join("sink.log")).unwrap();
                panic!("SMTP sink did not start ({exited:?}):\n{log}");
            }
        };
        SmtpSink { child, port, dir }
    }
}

/// A running SMTP sink; killed when dropped.
pub struct SmtpSink {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

/// What the sink recorded of one message.
#[derive(Debug, Clone, Deserialize)]
pub struct Mail {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub message_id: String,
    pub content_type: String,
    pub text: Option<String>,
    pub html: Option<String>,
    pub links: Vec<String>,
    pub tls: bool,
    pub authenticated: bool,
}

impl SmtpSink {
    fn read(&self, suffix: &str) -> Vec<Mail> {
        let Ok(entries) = std::fs::read_dir(self.dir.path().join("mail")) else {
            return Vec::new();
        };
        let mut names: Vec<PathBuf> = entries
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                name.ends_with(suffix) && (suffix != ".json" || !name.ends_with(".deferred.json"))
            })
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
            .collect()
    }

    /// Every message accepted so far, oldest first.
    pub fn messages(&self) -> Vec<Mail> {
        self.read(".json")
    }

    /// Every message answered "451" so far (a `defer` sink).
    fn deferred(&self) -> Vec<Mail> {
        self.read(".deferred.json")
    }

    /// The raw `.eml` files accepted so far.
    fn eml_count(&self) -> usize {
        std::fs::read_dir(self.dir.path().join("mail"))
            .map(|d| {
                d.filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .path()
                        .extension()
                        .is_some_and(|x| x == "eml")
                })
                .count()
            })
            .unwrap_or(0)
    }

    /// Waits until `read` has at least `count` entries; returns them, or panics after `limit`.
    fn wait(&self, read: impl Fn(&Self) -> Vec<Mail>, count: usize, limit: Duration) -> Vec<Mail> {
        let deadline = Instant::now() + limit;
        loop {
            let found = read(self);
            if found.len() >= count {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "{} message(s) after {limit:?}, wanted {count}; sink log:\n{}",
                found.len(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn wait_for(&self, count: usize, limit: Duration) -> Vec<Mail> {
        self.wait(Self::messages, count, limit)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sink.log")).unwrap_or_default()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Rampart's mail settings for a sink on `port`.
pub fn mail_config(port: u16, security: &str, ca: Option<&Path>) -> String {
    let mut text = format!(
        "mail_transport = \"smtp\"\nmail_from = \"{FROM}\"\nsmtp_host = \"localhost\"\n\
         smtp_port = {port}\nsmtp_security = \"{security}\"\nsmtp_timeout_secs = 5\n"
    );
    if let Some(ca) = ca {
        text.push_str(&format!("smtp_ca_file = \"{}\"\n", ca.display()));
    }
    text
}

/// Invites `email` to `org` as a member, signed in as the administrator; returns the link
/// the API answered with.
fn invite(server: &TestServer, org: &str, email: &str) -> String {
    let admin = Session::login(server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let response = post(
        server,
        &admin,
        &format!("/api/v1/orgs/{org}/invitations"),
        &json!({"email": email, "role": "member"}),
    );
    assert_eq!(response.status(), 201);
    let body: Value = response.json().unwrap();
    body["url"].as_str().unwrap().to_owned()
}

/// `<UUID@acme.example>`: the outbox id at the sender's domain.
fn assert_rampart_message_id(id: &str) {
    let inner = id
        .strip_prefix('<')
        .and_then(|i| i.strip_suffix("@acme.example>"))
        .unwrap_or_else(|| panic!("Message-ID {id:?}"));
    assert!(uuid::Uuid::parse_str(inner).is_ok(), "Message-ID {id:?}");
}

#[test]
fn invitation_is_mailed_with_a_link_that_works() {
    let certs = Certs::new();
    let sink = Sink::new(Security::StartTls, Some(&certs)).start();
    let env = TestEnv::with_config(&mail_config(sink.port, "starttls", Some(&certs.ca)));
    let server = env.serve();
    let acme = set_up(&server);
    assert!(sink.messages().is_empty(), "nothing is mailed at setup");

    let url = invite(&server, &acme, "New.Person@Acme.example");
    let mail = sink.wait_for(1, Duration::from_secs(15));
    let arrived = Instant::now();
    assert_eq!(mail.len(), 1);
    let mail = &mail[0];
    assert_eq!(mail.rcpt_tos, ["new.person@acme.example"]);
    assert!(mail.to.contains("new.person@acme.example"), "{}", mail.to);
    assert_eq!(mail.mail_from, "rampart@acme.example");
    assert!(mail.from.contains("rampart@acme.example"), "{}", mail.from);
    assert!(mail.subject.contains("Acme Defense"), "{}", mail.subject);
    assert_rampart_message_id(&mail.message_id);
    assert_eq!(mail.content_type, "multipart/alternative");
    assert!(mail.tls, "STARTTLS was required");
    let text = mail.text.as_deref().expect("a text part");
    let html = mail.html.as_deref().expect("an HTML part");
    assert!(text.contains(&url), "{url} not in text part:\n{text}");
    assert!(text.contains("Ada Admin"), "the inviter is named:\n{text}");
    assert!(html.contains("Acme Defense"), "{html}");
    assert_eq!(mail.links, [url.as_str()], "the HTML part links to {url}");

    // The link from the mail works, and no second copy follows on the next poll.
    let token = url.rsplit('/').next().unwrap();
    assert_eq!(server.get(&format!("/invite/{token}")).status(), 200);
    std::thread::sleep((POLL + Duration::from_millis(700)).saturating_sub(arrived.elapsed()));
    assert_eq!(sink.messages().len(), 1, "delivered once");
    assert_eq!(sink.eml_count(), 1);
}

#[test]
fn lockout_is_mailed_once() {
    let certs = Certs::new();
    let sink = Sink::new(Security::StartTls, Some(&certs)).start();
    let env = TestEnv::with_config(&mail_config(sink.port, "starttls", Some(&certs.ca)));
    let server = env.serve();
    let acme = set_up(&server);
    let password = "velvet orbit canyon 93 drift";
    create_user(&env, "locked@acme.example", password, &acme, "member");

    // Five failures lock the account (the count at the end shows the first four mailed
    // nothing).
    for _ in 0..5 {
        assert_eq!(
            Session::try_login(&server, "locked@acme.example", "not the password").status(),
            401
        );
    }
    let mail = sink.wait_for(1, Duration::from_secs(15));
    assert_eq!(mail[0].rcpt_tos, ["locked@acme.example"]);
    assert!(mail[0].subject.contains("locked"), "{}", mail[0].subject);
    let text = mail[0].text.as_deref().unwrap();
    assert!(
        text.contains(&format!("https://{}/signin", server.addr)),
        "{text}"
    );
    assert!(!text.contains("not the password"), "{text}");
    assert_rampart_message_id(&mail[0].message_id);

    // Locked: the right password fails too, and failing again mails nothing more.
    assert_eq!(
        Session::try_login(&server, "locked@acme.example", password).status(),
        401
    );
    assert_eq!(
        Session::try_login(&server, "locked@acme.example", "not the password").status(),
        401
    );
    std::thread::sleep(POLL + Duration::from_millis(700));
    let all = sink.messages();
    assert_eq!(all.len(), 1, "one lockout, one message: {all:?}");
}

#[test]
fn the_outbox_survives_a_dead_mail_server_and_a_kill() {
    let certs = Certs::new();
    let smtp_port = free_port();
    let listen = free_port();
    // A fixed address, so the link in the mail points at the restarted server too.
    let env = TestEnv::with_config(&format!(
        "listen = \"127.0.0.1:{listen}\"\n{}",
        mail_config(smtp_port, "starttls", Some(&certs.ca))
    ));
    let server = env.serve();
    let acme = set_up(&server);
    let url = invite(&server, &acme, "late@acme.example");

    // No mail server: the first attempt fails at connecting, and the message stays queued.
    let log = server.log_until(|log| log.contains("mail not delivered"));
    let line = log
        .lines()
        .find(|l| l.contains("mail not delivered"))
        .unwrap_or_else(|| panic!("no failed attempt logged:\n{log}"));
    assert!(line.contains("connection"), "{line}");
    assert!(!line.contains("late@acme.example"), "no recipient in logs");

    // A server that answers 451 shows the Message-ID of the next attempt.
    let deferring = Sink {
        port: smtp_port,
        defer: true,
        ..Sink::new(Security::StartTls, Some(&certs))
    }
    .start();
    let deferred = deferring.wait(SmtpSink::deferred, 1, Duration::from_secs(15));
    let message_id = deferred[0].message_id.clone();
    assert_rampart_message_id(&message_id);
    assert_eq!(deferred[0].rcpt_tos, ["late@acme.example"]);

    server.kill();
    drop(deferring);
    let sink = Sink {
        port: smtp_port,
        ..Sink::new(Security::StartTls, Some(&certs))
    }
    .start();
    let server = env.serve();
    let mail = sink.wait_for(1, Duration::from_secs(20));
    let arrived = Instant::now();
    assert_eq!(mail[0].rcpt_tos, ["late@acme.example"]);
    assert_eq!(mail[0].message_id, message_id, "the same message, retried");
    assert!(mail[0].text.as_deref().unwrap().contains(&url));
    let token = url.rsplit('/').next().unwrap();
    assert_eq!(server.get(&format!("/invite/{token}")).status(), 200);

    std::thread::sleep((POLL + Duration::from_secs(2)).saturating_sub(arrived.elapsed()));
    assert_eq!(sink.messages().len(), 1, "delivered once");
}

/// Runs `rampart mail test ADDRESS` with `config`; fails the test if it hangs.
fn mail_test(env: &mut TestEnv, config: &str, address: &str) -> Output {
    env.extra_config = config.to_owned();
    env.write_config();
    let mut child = env
        .command(&["mail", "test", address])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("`mail test` still running after 20 s: {}", stderr(&out));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn assert_fails_at(output: &Output, stage: &str) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("not sent: {stage}: ")),
        "wanted stage {stage:?}: {err}"
    );
}

#[test]
fn mail_test_reports_success_and_each_kind_of_failure() {
    let certs = Certs::new();
    let sink = Sink {
        auth: Some("rampart:correct horse"),
        reject_rcpt: Some("refused"),
        ..Sink::new(Security::StartTls, Some(&certs))
    }
    .start();
    let mut env = TestEnv::new();
    let good = format!(
        "{}smtp_username = \"rampart\"\n",
        mail_config(sink.port, "starttls", Some(&certs.ca))
    );
    let password_file = env.path().join("smtp-password");
    std::fs::write(&password_file, "correct horse\n").unwrap();
    env.env.push((
        "RAMPART_SMTP_PASSWORD_FILE".into(),
        password_file.display().to_string(),
    ));

    let sent = mail_test(&mut env, &good, "ops@acme.example");
    assert_eq!(sent.status.code(), Some(0), "{}", stderr(&sent));
    let mail = sink.wait_for(1, Duration::from_secs(5));
    assert_eq!(mail[0].rcpt_tos, ["ops@acme.example"]);
    assert_eq!(mail[0].subject, "Rampart test message");
    assert!(mail[0].tls && mail[0].authenticated);
    // The printed answer is the sink's own: "250 2.0.0 Ok: queued as <its file name>".
    let printed = stdout(&sent);
    let queued = std::fs::read_dir(sink.dir.path().join("mail"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "eml"))
        .unwrap();
    let queued = queued.file_stem().unwrap().to_string_lossy();
    assert!(
        printed.contains("250") && printed.contains(&*queued),
        "{printed}"
    );

    // Rejected recipient.
    let refused = mail_test(&mut env, &good, "refused@acme.example");
    assert_fails_at(&refused, "rejected by the server");
    assert!(stderr(&refused).contains("550"), "{}", stderr(&refused));

    // Wrong password (from the config file this time).
    env.env.clear();
    let wrong = format!("{good}smtp_password = \"battery staple\"\n");
    let out = mail_test(&mut env, &wrong, "ops@acme.example");
    assert_fails_at(&out, "authentication");
    assert!(stderr(&out).contains("535"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("battery staple"));

    // Implicit TLS (port-465 style) to a server that speaks it.
    let wrapped = Sink::new(Security::Tls, Some(&certs)).start();
    let implicit = mail_config(wrapped.port, "tls", Some(&certs.ca));
    let out = mail_test(&mut env, &implicit, "ops@acme.example");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mail = wrapped.wait_for(1, Duration::from_secs(5));
    assert!(mail[0].tls && !mail[0].authenticated);

    // No CA: the sink's certificate is not trusted.
    let untrusted = mail_config(sink.port, "starttls", None);
    assert_fails_at(&mail_test(&mut env, &untrusted, "ops@acme.example"), "TLS");
    // Implicit TLS against a STARTTLS server.
    let implicit = mail_config(sink.port, "tls", Some(&certs.ca));
    assert_fails_at(&mail_test(&mut env, &implicit, "ops@acme.example"), "TLS");
    // Nothing listening.
    let nobody = mail_config(free_port(), "starttls", Some(&certs.ca));
    assert_fails_at(
        &mail_test(&mut env, &nobody, "ops@acme.example"),
        "connection",
    );
    // A name that does not resolve (.invalid never does).
    let unknown = mail_config(sink.port, "starttls", Some(&certs.ca))
        .replace("\"localhost\"", "\"mail.rampart-test.invalid\"");
    assert_fails_at(&mail_test(&mut env, &unknown, "ops@acme.example"), "DNS");
    // A server that takes the connection (the kernel does, into the backlog) and never
    // answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let started = Instant::now();
    let stalled = mail_config(silent_port, "starttls", Some(&certs.ca))
        .replace("smtp_timeout_secs = 5", "smtp_timeout_secs = 2");
    assert_fails_at(
        &mail_test(&mut env, &stalled, "ops@acme.example"),
        "timeout",
    );
    assert!(started.elapsed() < Duration::from_secs(6), "gave up late");
    drop(silent);

    assert_eq!(
        sink.messages().len(),
        1,
        "only the first test was delivered"
    );
}

#[test]
fn plain_smtp_needs_explicit_permission() {
    let sink = Sink::new(Security::Plain, None).start();
    let plain = mail_config(sink.port, "none", None);
    let env = TestEnv::with_config(&plain);
    let refused = env.try_serve().err().expect("plain SMTP refused");
    assert!(!refused.starts_with("exit Some(0)"), "{refused}");
    assert!(refused.contains("smtp_allow_plain"), "{refused}");

    let env = TestEnv::with_config(&format!("{plain}smtp_allow_plain = true\n"));
    let server = env.serve();
    let acme = set_up(&server);
    let url = invite(&server, &acme, "plain@acme.example");
    let mail = sink.wait_for(1, Duration::from_secs(15));
    assert_eq!(mail[0].rcpt_tos, ["plain@acme.example"]);
    assert!(!mail[0].tls);
    assert!(mail[0].text.as_deref().unwrap().contains(&url));
}

#[test]
fn bad_mail_settings_are_refused_at_start() {
    let certs = Certs::new();
    let good = mail_config(free_port(), "starttls", Some(&certs.ca));
    let cases = [
        (good.replace(FROM, "Rampart at acme.example"), "mail_from"),
        (
            good.replace(&format!("mail_from = \"{FROM}\"\n"), ""),
            "mail_from",
        ),
        (good.replace("smtp_host = \"localhost\"\n", ""), "smtp_host"),
        (
            format!("{good}smtp_username = \"rampart\"\n"),
            "smtp_password",
        ),
        (
            good.replace(&certs.ca.display().to_string(), "/nonexistent/ca.pem"),
            "smtp_ca_file",
        ),
    ];
    for (config, setting) in cases {
        let env = TestEnv::with_config(&config);
        let refused = env
            .try_serve()
            .err()
            .unwrap_or_else(|| panic!("started with {config}"));
        assert!(!refused.starts_with("exit Some(0)"), "{refused}");
        assert!(refused.contains(setting), "wanted {setting}: {refused}");
    }
}

#[test]
fn an_address_change_is_confirmed_from_the_new_address() {
    let certs = Certs::new();
    let sink = Sink::new(Security::StartTls, Some(&certs)).start();
    let env = TestEnv::with_config(&mail_config(sink.port, "starttls", Some(&certs.ca)));
    let server = env.serve();
    let acme = set_up(&server);
    let password = "velvet orbit canyon 93 drift";
    create_user(&env, "taken@acme.example", password, &acme, "member");
    let admin = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);

    let bad = post(
        &server,
        &admin,
        "/api/v1/me/email",
        &json!({"email": "not an address"}),
    );
    assert_eq!(bad.status(), 422);
    let asked = post(
        &server,
        &admin,
        "/api/v1/me/email",
        &json!({"email": " Ada.New@Acme.example "}),
    );
    assert_eq!(asked.status(), 202);
    assert_eq!(
        asked.json::<Value>().unwrap()["pending_email"],
        "ada.new@acme.example"
    );
    // Asking for an address another account holds looks the same: no probing.
    let probe = post(
        &server,
        &admin,
        "/api/v1/me/email",
        &json!({"email": "taken@acme.example"}),
    );
    assert_eq!(probe.status(), 202);

    let mail = sink.wait_for(2, Duration::from_secs(15));
    let to_new = mail
        .iter()
        .find(|m| m.rcpt_tos == ["ada.new@acme.example"])
        .expect("the confirmation goes to the new address");
    let link = to_new.links.first().expect("a link").clone();
    assert!(
        link.starts_with(&format!("https://{}/email/confirm/", server.addr)),
        "{link}"
    );
    let token = link.rsplit('/').next().unwrap().to_owned();
    let to_taken = mail
        .iter()
        .find(|m| m.rcpt_tos == ["taken@acme.example"])
        .unwrap();
    let taken_token = to_taken.links[0].rsplit('/').next().unwrap().to_owned();

    // Nothing changes until the link is confirmed; the page alone changes nothing either.
    assert_eq!(server.get(&format!("/email/confirm/{token}")).status(), 200);
    Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let confirm = |token: &str| {
        crate::identity::post_json(
            &server,
            "/api/v1/auth/email/confirm",
            &json!({"token": token}),
        )
        .status()
    };
    assert_eq!(
        confirm(&taken_token),
        409,
        "another account holds that address"
    );
    assert_eq!(confirm(&token), 204);
    assert_eq!(confirm(&token), 410, "each link works once");
    assert_eq!(server.get(&format!("/email/confirm/{token}")).status(), 410);

    assert_eq!(
        Session::try_login(&server, ADMIN_EMAIL, ADMIN_PASSWORD).status(),
        401
    );
    let moved = Session::login(&server, "ada.new@acme.example", ADMIN_PASSWORD);
    let me: Value = moved.get(&server, "/api/v1/me").json().unwrap();
    assert_eq!(me["account"]["email"], "ada.new@acme.example");

    // The old address is told.
    let told = sink.wait_for(3, Duration::from_secs(15));
    assert!(
        told.iter()
            .any(|m| m.rcpt_tos == ["admin@example.com"] && m.subject.contains("changed")),
        "{told:?}"
    );
}

#[test]
fn without_mail_an_address_cannot_be_changed() {
    let env = TestEnv::new();
    let server = env.serve();
    set_up(&server);
    let admin = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let refused = post(
        &server,
        &admin,
        "/api/v1/me/email",
        &json!({"email": "ada.new@acme.example"}),
    );
    assert_eq!(refused.status(), 409);
    let body: Value = refused.json().unwrap();
    assert!(
        body["error"]["message"].as_str().unwrap().contains("mail"),
        "{body}"
    );
}

#[test]
fn a_sign_in_from_a_new_device_is_mailed_but_the_first_is_not() {
    let certs = Certs::new();
    let sink = Sink::new(Security::StartTls, Some(&certs)).start();
    let env = TestEnv::with_config(&mail_config(sink.port, "starttls", Some(&certs.ca)));
    let server = env.serve();
    set_up(&server);
    Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let other_browser = server
        .client
        .post(server.url("/api/v1/auth/login"))
        .header("origin", origin(&server))
        .header(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
        )
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .unwrap();
    assert_eq!(other_browser.status(), 200);
    let mail = sink.wait_for(1, Duration::from_secs(15));
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0].rcpt_tos, ["admin@example.com"]);
    assert!(
        mail[0].subject.contains("New sign-in"),
        "{}",
        mail[0].subject
    );
    assert!(mail[0].text.as_deref().unwrap().contains("Firefox/140.0"));
}

/// A recipient the server refuses for good fails at once (no 24 hours of retries), is
/// listed with the server's answer, and can be queued again.
#[test]
fn a_refused_recipient_fails_at_once_and_can_be_retried() {
    let certs = Certs::new();
    let sink = Sink {
        reject_rcpt: Some("bounce"),
        ..Sink::new(Security::StartTls, Some(&certs))
    }
    .start();
    let env = TestEnv::with_config(&mail_config(sink.port, "starttls", Some(&certs.ca)));
    let server = env.serve();
    let acme = set_up(&server);
    invite(&server, &acme, "bounce@acme.example");

    let failed = {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let out = env.rampart(&["mail", "outbox"]);
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
            let list: Value = serde_json::from_str(&stdout(&out)).unwrap();
            let found = list
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["to"] == "bounce@acme.example" && m["state"] == "failed")
                .cloned();
            if let Some(found) = found {
                break found;
            }
            assert!(Instant::now() < deadline, "never failed: {list}");
            std::thread::sleep(Duration::from_millis(300));
        }
    };
    assert_eq!(failed["attempts"], 1, "refused for good: not retried");
    assert_eq!(failed["kind"], "invitation");
    assert!(
        failed["last_answer"].as_str().unwrap().contains("550"),
        "{failed}"
    );
    assert!(
        !stdout(&env.rampart(&["mail", "outbox"])).contains("/invite/"),
        "the listing never shows a message's content"
    );

    let id = failed["id"].as_str().unwrap().to_owned();
    let retried = env.rampart(&["mail", "retry", &id]);
    assert_eq!(retried.status.code(), Some(0), "{}", stderr(&retried));
    assert!(stdout(&retried).contains("pending"));
    // Queued again, it is tried again (and refused again, by this server).
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let list: Value = serde_json::from_str(&stdout(&env.rampart(&["mail", "outbox"]))).unwrap();
        let entry = list
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id.as_str())
            .cloned()
            .unwrap();
        if entry["attempts"] == 2 && entry["state"] == "failed" {
            break;
        }
        assert!(Instant::now() < deadline, "not tried again: {entry}");
        std::thread::sleep(Duration::from_millis(300));
    }
    let unknown = env.rampart(&["mail", "retry", &uuid::Uuid::new_v4().to_string()]);
    assert_eq!(unknown.status.code(), Some(2), "no such failed message");
    assert!(
        stderr(&unknown).contains("no failed message"),
        "{}",
        stderr(&unknown)
    );

    // The administrator's page lists it with the server's answer; the API retries it once
    // more, and says so in the audit log. An owner who is not the administrator cannot.
    let admin = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let page = admin.get(&server, "/admin/mail");
    assert_eq!(page.status(), 200);
    let html = page.text().unwrap();
    assert!(html.contains(&format!("data-retry=\"{id}\"")), "{html}");
    assert!(html.contains("550"), "the server's answer is shown");
    assert!(!html.contains("/invite/"), "never the content");
    create_user(
        &env,
        "owner2@acme.example",
        "velvet orbit canyon 93 drift",
        &acme,
        "owner",
    );
    let owner = Session::login(
        &server,
        "owner2@acme.example",
        "velvet orbit canyon 93 drift",
    );
    let retry_path = format!("/api/v1/admin/mail/outbox/{id}/retry");
    assert_eq!(
        owner.post(&server, &retry_path, Some(&owner.csrf)).status(),
        403
    );
    assert_eq!(owner.get(&server, "/admin/mail").status(), 403);
    assert_eq!(
        admin.post(&server, &retry_path, None).status(),
        403,
        "no CSRF token"
    );
    assert_eq!(
        admin.post(&server, &retry_path, Some(&admin.csrf)).status(),
        204
    );
    let listed: Value = admin
        .get(&server, "/api/v1/admin/mail/outbox")
        .json()
        .unwrap();
    let entry = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id.as_str())
        .unwrap();
    assert!(
        entry["state"] == "pending" || entry["attempts"] == 3,
        "{entry}"
    );
    assert!(stdout(&env.rampart(&["audit", "export"])).contains("mail.retry"));
    let garbage = admin.post(
        &server,
        "/api/v1/admin/mail/outbox/not-an-id/retry",
        Some(&admin.csrf),
    );
    assert_eq!(garbage.status(), 404);
}

#[test]
fn a_new_second_factor_is_mailed_to_the_account() {
    let certs = Certs::new();
    let sink = Sink::new(Security::StartTls, Some(&certs)).start();
    let env = TestEnv::with_config(&mail_config(sink.port, "starttls", Some(&certs.ca)));
    let server = env.serve();
    set_up(&server);
    let secret = crate::pages::enrol_totp(&server);
    let mail = sink.wait_for(1, Duration::from_secs(15));
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0].rcpt_tos, [ADMIN_EMAIL.to_lowercase()]);
    assert!(
        mail[0].subject.contains("sign-in factors changed"),
        "{}",
        mail[0].subject
    );
    let text = mail[0].text.as_deref().unwrap();
    assert!(text.contains("an authenticator app was added"), "{text}");
    assert!(
        text.contains(&format!("https://{}/account", server.addr)),
        "{text}"
    );
    assert!(!text.contains(&secret), "the secret is never mailed");
}

#[test]
fn a_header_injection_in_a_display_name_reaches_no_header() {
    let certs = Certs::new();
    let sink = Sink::new(Security::StartTls, Some(&certs)).start();
    let env = TestEnv::with_config(&mail_config(sink.port, "starttls", Some(&certs.ca)));
    let server = env.serve();
    let acme = set_up(&server);
    let url = invite(&server, &acme, "eve@acme.example");
    sink.wait_for(1, Duration::from_secs(15));
    let token = url.rsplit('/').next().unwrap();
    let accept = |name: &str| {
        server
            .client
            .post(server.url("/api/v1/invitations/accept"))
            .header("origin", origin(&server))
            .json(&json!({"token": token, "display_name": name,
                          "password": "velvet orbit canyon 93 drift"}))
            .send()
            .unwrap()
    };

    // A line break cannot become a header: the name is refused and nothing is created.
    let refused = accept("Eve\r\nBcc: spy@elsewhere.example");
    assert_eq!(refused.status(), 422);
    let body: Value = refused.json().unwrap();
    assert_eq!(body["error"]["field"], "display_name", "{body}");

    // A name that looks like an address is only a name: when Eve invites someone, the
    // message goes to the invitee alone, from the configured sender, and her name is text.
    assert_eq!(accept("Eve <spy@elsewhere.example>").status(), 202);
    let confirmation = sink.wait_for(2, Duration::from_secs(15))[1].clone();
    assert_eq!(confirmation.rcpt_tos, ["eve@acme.example"]);
    assert!(
        !confirmation.to.contains("elsewhere"),
        "{}",
        confirmation.to
    );
    assert_eq!(
        confirm_join(
            &server,
            &confirmation.links[0],
            "velvet orbit canyon 93 drift"
        )
        .status(),
        200
    );
    let admin = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let promoted = crate::identity::send(
        &server,
        &admin,
        "PUT",
        &format!("/api/v1/orgs/{acme}/members/{}", eve_id(&env)),
        &json!({"role": "admin"}),
    );
    assert!(promoted.status().is_success(), "{}", promoted.status());
    let eve = Session::login(&server, "eve@acme.example", "velvet orbit canyon 93 drift");
    let response = post(
        &server,
        &eve,
        &format!("/api/v1/orgs/{acme}/invitations"),
        &json!({"email": "new@acme.example", "role": "member"}),
    );
    assert_eq!(response.status(), 201);
    let mail = sink.wait_for(3, Duration::from_secs(15));
    let sent = &mail[2];
    assert_eq!(sent.rcpt_tos, ["new@acme.example"]);
    assert!(!sent.to.contains("elsewhere"), "{}", sent.to);
    assert!(!sent.from.contains("elsewhere"), "{}", sent.from);
    assert!(sent.from.contains("rampart@acme.example"), "{}", sent.from);
    assert!(
        sent.html
            .as_deref()
            .unwrap()
            .contains("Eve &#60;spy@elsewhere.example&#62;")
            || sent
                .html
                .as_deref()
                .unwrap()
                .contains("Eve &lt;spy@elsewhere.example&gt;"),
        "escaped in HTML: {:?}",
        sent.html
    );
}

/// Eve's account id, from the operator's account list.
fn eve_id(env: &TestEnv) -> String {
    let listed: Value =
        serde_json::from_str(&stdout(&env.rampart(&["admin", "user", "list"]))).unwrap();
    listed
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["email"] == "eve@acme.example")
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .unwrap()
}

#[test]
fn a_forgotten_password_is_reset_through_a_mailed_link() {
    let certs = Certs::new();
    let sink = Sink::new(Security::StartTls, Some(&certs)).start();
    let env = TestEnv::with_config(&mail_config(sink.port, "starttls", Some(&certs.ca)));
    let server = env.serve();
    let acme = set_up(&server);
    let old = "velvet orbit canyon 93 drift";
    create_user(&env, "pat@acme.example", old, &acme, "member");
    let ask = |email: &str| {
        server
            .client
            .post(server.url("/api/v1/auth/reset/request"))
            .header("origin", origin(&server))
            .json(&json!({ "email": email }))
            .send()
            .unwrap()
    };

    // Known and unknown addresses get the same answer; only the account is mailed.
    let unknown = ask("nobody@acme.example");
    assert_eq!(unknown.status(), 202);
    let unknown = unknown.text().unwrap();
    let known = ask("Pat@Acme.example");
    assert_eq!(known.status(), 202);
    assert_eq!(known.text().unwrap(), unknown, "answers alike");
    assert_eq!(ask("not an address").status(), 422);
    assert_eq!(
        ask("<pat@acme.example>").status(),
        422,
        "one spelling per mailbox"
    );
    let mail = sink.wait_for(1, Duration::from_secs(15));
    assert_eq!(mail[0].rcpt_tos, ["pat@acme.example"]);
    let text = mail[0].text.as_deref().unwrap();
    let link = mail[0].links[0].clone();
    assert!(
        link.starts_with(&format!("https://{}/reset/", server.addr)),
        "{link}"
    );
    assert!(
        text.contains(&link) && text.contains("60 minutes"),
        "{text}"
    );

    // The link sets a new password once.
    let token = link.rsplit('/').next().unwrap();
    let new = "harbor quartz lantern 58 mosaic";
    let reset = |token: &str| {
        server
            .client
            .post(server.url("/api/v1/auth/reset"))
            .header("origin", origin(&server))
            .json(&json!({ "token": token, "password": new }))
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(reset(token), 204);
    assert_eq!(reset(token), 410, "spent");
    assert_eq!(
        Session::try_login(&server, "pat@acme.example", old).status(),
        401
    );
    Session::login(&server, "pat@acme.example", new);

    // The page asks the same way; nobody but Pat was ever mailed.
    let page = server.get("/reset");
    assert_eq!(page.status(), 200);
    assert!(page.text().unwrap().contains("action=\"/reset\""));
    let sent = server
        .client
        .post(server.url("/reset"))
        .header("origin", origin(&server))
        .form(&[("email", "nobody@acme.example")])
        .send()
        .unwrap();
    assert_eq!(sent.status(), 200);
    assert!(sent.text().unwrap().contains("on its way"));
    std::thread::sleep(POLL + Duration::from_millis(700));
    assert!(
        sink.messages()
            .iter()
            .all(|m| m.rcpt_tos == ["pat@acme.example"]),
        "{:?}",
        sink.messages()
    );
    let log = stdout(&env.rampart(&["audit", "export"]));
    let requests: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["action"] == "auth.reset_request")
        .collect();
    assert_eq!(requests.len(), 3, "{requests:?}");
    assert!(!log.contains(token), "no token in the audit log");
}

/// The token at the end of a link.
fn token_of(link: &str) -> &str {
    link.rsplit('/').next().unwrap()
}

/// Accepts the invitation `token` as a new account, signed in as nobody.
fn accept_new(server: &TestServer, token: &str, name: &str, password: &str) -> Response {
    crate::identity::post_json(
        server,
        "/api/v1/invitations/accept",
        &json!({"token": token, "display_name": name, "password": password}),
    )
}

/// Confirms a new account with the link mailed to its address.
fn confirm_join(server: &TestServer, link: &str, password: &str) -> Response {
    crate::identity::post_json(
        server,
        "/api/v1/invitations/confirm",
        &json!({"token": token_of(link), "password": password}),
    )
}

/// Every message the sink accepted for `to` whose subject contains `subject`.
fn mailed(sink: &SmtpSink, to: &str, subject: &str) -> Vec<Mail> {
    sink.messages()
        .into_iter()
        .filter(|m| m.rcpt_tos == [to] && m.subject.contains(subject))
        .collect()
}

fn audit_export(env: &TestEnv) -> Vec<Value> {
    stdout(&env.rampart(&["audit", "export"]))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// With mail on, the link shown to the inviter makes no account by itself: the account
/// works once the invitee opens the link mailed to the address and gives the password
/// chosen when accepting.
#[test]
fn an_invited_account_works_only_once_its_address_is_confirmed() {
    let certs = Certs::new();
    let sink = Sink::new(Security::StartTls, Some(&certs)).start();
    let env = TestEnv::with_config(&mail_config(sink.port, "starttls", Some(&certs.ca)));
    let server = env.serve();
    let acme = set_up(&server);
    let pw = "velvet orbit canyon 93 drift";
    let url = invite(&server, &acme, "new@acme.example");
    let token = token_of(&url);
    let page = server.get(&format!("/invite/{token}")).text().unwrap();
    assert!(
        page.contains("We then mail a link to new@acme.example"),
        "{page}"
    );

    let answer = accept_new(&server, token, "New Person", pw);
    assert_eq!(answer.status(), 202);
    let body: Value = answer.json().unwrap();
    assert_eq!(body["email"], "new@acme.example");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Check your mail at new@acme.example"),
        "{body}"
    );
    assert_eq!(
        Session::try_login(&server, "new@acme.example", pw).status(),
        401,
        "not usable before the address is confirmed"
    );

    sink.wait_for(2, Duration::from_secs(15));
    let confirmation = mailed(&sink, "new@acme.example", "Confirm your address");
    assert_eq!(confirmation.len(), 1, "{:?}", sink.messages());
    let link = confirmation[0].links[0].clone();
    assert!(
        link.starts_with(&format!("https://{}/invite/confirm/", server.addr)),
        "{link}"
    );
    let text = confirmation[0].text.as_deref().unwrap();
    assert!(text.contains(&link) && text.contains("Ada Admin"), "{text}");
    assert!(!text.contains(pw), "{text}");
    assert_ne!(token_of(&link), token, "a link the inviter never saw");

    // Following the link (as a mail scanner does) makes nothing; it asks for the password.
    let page = server.get(&format!("/invite/confirm/{}", token_of(&link)));
    assert_eq!(page.status(), 200);
    let page = page.text().unwrap();
    assert!(
        page.contains("new@acme.example") && page.contains("<strong>member</strong>"),
        "{page}"
    );
    assert_eq!(
        Session::try_login(&server, "new@acme.example", pw).status(),
        401
    );
    let wrong = confirm_join(&server, &link, "harbor quartz lantern 58 mosaic");
    assert_eq!(wrong.status(), 422);
    let wrong: Value = wrong.json().unwrap();
    assert_eq!(wrong["error"]["field"], "password", "{wrong}");
    assert_eq!(
        confirm_join(&server, "/invite/confirm/not-a-token", pw).status(),
        410
    );
    assert_eq!(
        Session::try_login(&server, "new@acme.example", pw).status(),
        401
    );

    let confirmed = confirm_join(&server, &link, pw);
    assert_eq!(confirmed.status(), 200);
    let confirmed: Value = confirmed.json().unwrap();
    assert_eq!(confirmed["email"], "new@acme.example");
    assert_eq!(confirm_join(&server, &link, pw).status(), 410, "once");
    let newcomer = Session::login(&server, "new@acme.example", pw);
    let me: Value = newcomer.get(&server, "/api/v1/me").json().unwrap();
    assert_eq!(me["organizations"][0]["role"], "member");
    assert_eq!(server.get(&format!("/invite/{token}")).status(), 410);
    assert_eq!(accept_new(&server, token, "Again", pw).status(), 410);

    // Through the pages: the answer says to check the mail; the confirmation signs in.
    let url = invite(&server, &acme, "page@acme.example");
    let no_redirect = reqwest::blocking::Client::builder()
        .use_preconfigured_tls(crate::harness::client_tls(&env.cert_path()))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let sent = no_redirect
        .post(server.url(&format!("/invite/{}", token_of(&url))))
        .header("origin", origin(&server))
        .form(&[("display_name", "Page Person"), ("password", pw)])
        .send()
        .unwrap();
    assert_eq!(sent.status(), 200);
    let html = sent.text().unwrap();
    assert!(
        html.contains("Check your mail at page@acme.example"),
        "{html}"
    );
    sink.wait_for(4, Duration::from_secs(15));
    let link = mailed(&sink, "page@acme.example", "Confirm your address")[0].links[0].clone();
    let path = format!("/invite/confirm/{}", token_of(&link));
    let wrong = no_redirect
        .post(server.url(&path))
        .header("origin", origin(&server))
        .form(&[("password", "harbor quartz lantern 58 mosaic")])
        .send()
        .unwrap();
    assert_eq!(wrong.status(), 422);
    assert!(wrong.text().unwrap().contains("id=\"confirm-error\""));
    let done = no_redirect
        .post(server.url(&path))
        .header("origin", origin(&server))
        .form(&[("password", pw)])
        .send()
        .unwrap();
    assert_eq!(done.status(), 303);
    assert_eq!(done.headers()["location"], "/");
    assert!(
        done.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("__Host-rampart_session="),
        "signed in"
    );

    let events = audit_export(&env);
    let count = |action: &str, outcome: &str| {
        events
            .iter()
            .filter(|e| e["action"] == action && e["outcome"] == outcome)
            .count()
    };
    assert_eq!(count("member.accept_request", "success"), 2);
    assert_eq!(count("member.join", "failure"), 2, "the wrong passwords");
    assert_eq!(count("member.join", "success"), 2);
}

/// Accepting an invitation as a new account answers alike (status and body) whether or not
/// the address has an account anywhere on the appliance; an existing account is left
/// alone, and its owner is mailed how to join with it.
#[test]
fn accepting_tells_nobody_whether_the_address_has_an_account() {
    let certs = Certs::new();
    let sink = Sink::new(Security::StartTls, Some(&certs)).start();
    let env = TestEnv::with_config(&mail_config(sink.port, "starttls", Some(&certs.ca)));
    let server = env.serve();
    let acme = set_up(&server);
    let out = env.rampart(&["admin", "org", "create", "Globex"]);
    let globex: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let globex = globex["id"].as_str().unwrap().to_owned();
    let chosen = "inviter picked this 77 for them";
    let own = "velvet orbit canyon 93 drift";

    let url = invite(&server, &acme, "known@globex.example");
    let token = token_of(&url);
    let answer = |token: &str| {
        let response = accept_new(&server, token, "Known Person", chosen);
        (response.status().as_u16(), response.text().unwrap())
    };
    // While the address has no account, then once it has one (in another organization).
    let unused = answer(token);
    assert_eq!(unused.0, 202, "{}", unused.1);
    let known_id = create_user(&env, "known@globex.example", own, &globex, "member");
    let used = answer(token);
    assert_eq!(used, unused, "the same status and body");
    // And for another address that has none.
    let other = invite(&server, &acme, "unused@acme.example");
    let (status, body) = answer(token_of(&other));
    assert_eq!(
        (
            status,
            body.replace("unused@acme.example", "known@globex.example")
        ),
        unused
    );

    // The account is untouched: its own password works, the chosen one does not.
    assert_eq!(
        Session::try_login(&server, "known@globex.example", chosen).status(),
        401
    );
    let known = Session::login(&server, "known@globex.example", own);

    // Its owner is told how to join; the link mailed before the account existed makes
    // nothing now.
    sink.wait_for(5, Duration::from_secs(15));
    let told = mailed(
        &sink,
        "known@globex.example",
        "Join with your Rampart account",
    );
    assert_eq!(told.len(), 1, "{:?}", sink.messages());
    assert_eq!(told[0].links, [url.as_str()]);
    let text = told[0].text.as_deref().unwrap();
    assert!(
        text.contains("already has a Rampart account") && text.contains("sign in"),
        "{text}"
    );
    let early = mailed(&sink, "known@globex.example", "Confirm your address");
    assert_eq!(early.len(), 1);
    assert_eq!(
        confirm_join(&server, &early[0].links[0], chosen).status(),
        410
    );
    assert_eq!(
        Session::try_login(&server, "known@globex.example", chosen).status(),
        401
    );

    // Signed in, the owner joins with the same invitation.
    let joined = post(
        &server,
        &known,
        "/api/v1/invitations/accept",
        &json!({ "token": token }),
    );
    assert_eq!(joined.status(), 200);
    let me: Value = known.get(&server, "/api/v1/me").json().unwrap();
    assert_eq!(me["organizations"].as_array().unwrap().len(), 2);

    // Acme's log records the acceptances alike and never names the other account.
    let owner = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let log: Value = owner
        .get(
            &server,
            &format!("/api/v1/orgs/{acme}/audit?action=member.accept_request"),
        )
        .json()
        .unwrap();
    let entries = log.as_array().unwrap();
    assert_eq!(entries.len(), 3, "{log}");
    let shape = |e: &Value| {
        let mut keys: Vec<String> = e.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        (keys, e["actor"].clone(), e["outcome"].clone())
    };
    assert!(
        entries.iter().all(|e| shape(e) == shape(&entries[0])),
        "{log}"
    );
    assert!(!log.to_string().contains(&known_id), "{log}");
}
