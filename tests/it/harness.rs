//! Starts the real `rampart` binary on a loopback port in a temp data dir, and talks TLS to it
//! trusting only the certificate that server generated.
//!
//! Adding a test: `let server = TestServer::start();` then `server.get("/path")`,
//! `server.rampart(&["admin", "org", "list"])`, `server.stop()`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

pub const BIN: &str = env!("CARGO_BIN_EXE_rampart");
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A data dir and config file for one test, reusable across server restarts.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub extra_config: String,
    pub env: Vec<(String, String)>,
    /// The umask `rampart` is started with, when a test sets one (octal, as `sh` takes it).
    pub umask: Option<&'static str>,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        TestEnv::with_config("")
    }

    pub fn with_config(extra: &str) -> TestEnv {
        let env = TestEnv {
            dir: tempfile::tempdir().expect("temp dir"),
            extra_config: extra.to_owned(),
            env: Vec::new(),
            umask: None,
        };
        env.write_config();
        env
    }

    pub fn write_config(&self) {
        let mut text = format!(
            "data_dir = \"{}\"\nlog_format = \"json\"\nworkers = 2\n",
            self.data_dir().display()
        );
        // Defaults for tests, unless the test sets its own: any port, and limits high enough
        // that only the rate-limit tests meet them.
        for (key, value) in [
            ("listen", "\"127.0.0.1:0\""),
            ("metrics_listen", "\"127.0.0.1:0\""),
            ("rate_limit_auth_per_minute", "10000"),
            ("rate_limit_api_per_minute", "10000"),
            ("rate_limit_admin_per_minute", "10000"),
        ] {
            if !self.extra_config.contains(key) {
                text.push_str(&format!("{key} = {value}\n"));
            }
        }
        text.push_str(&self.extra_config);
        text.push('\n');
        std::fs::write(self.config_path(), text).expect("write config");
    }

    /// The 1-based line of the config file holding `needle`.
    pub fn config_line(&self, needle: &str) -> usize {
        let text = std::fs::read_to_string(self.config_path()).expect("config");
        text.lines()
            .position(|l| l.contains(needle))
            .expect("line in config")
            + 1
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("rampart.toml")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn store_path(&self) -> PathBuf {
        self.data_dir().join("rampart.redb")
    }

    pub fn cert_path(&self) -> PathBuf {
        self.data_dir().join("tls").join("cert.pem")
    }

    pub fn socket_path(&self) -> PathBuf {
        self.data_dir().join("rampart.sock")
    }

    /// A `rampart` command with this env's config and a clean `RAMPART_*` environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = match self.umask {
            Some(mask) => {
                let mut shell = Command::new("sh");
                shell.args(["-c", &format!("umask {mask} && exec \"$0\" \"$@\""), BIN]);
                shell
            }
            None => Command::new(BIN),
        };
        cmd.args(args).arg("--config").arg(self.config_path());
        for (name, _) in std::env::vars() {
            if name.starts_with("RAMPART_") || name == "NOTIFY_SOCKET" {
                cmd.env_remove(name);
            }
        }
        for (name, value) in &self.env {
            cmd.env(name, value);
        }
        cmd.current_dir(self.path());
        cmd
    }

    /// Runs a CLI verb to completion.
    pub fn rampart(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run rampart")
    }

    /// Starts `rampart serve`; panics if it does not become ready.
    pub fn serve(&self) -> TestServer {
        match self.try_serve() {
            Ok(server) => server,
            Err(failure) => panic!("server did not start: {failure}"),
        }
    }

    /// Starts `rampart serve`; on failure returns its exit status and output.
    pub fn try_serve(&self) -> Result<TestServer, String> {
        let mut child = self
            .command(&["serve"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rampart serve");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let out_log = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on https://").nth(1) {
                    let _ = tx.send(rest.trim().to_owned());
                }
                out_log.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        let err_log = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                err_log.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });

        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(addr) = rx.recv_timeout(Duration::from_millis(20)) {
                let addr: SocketAddr = addr.parse().expect("address in banner");
                return Ok(TestServer {
                    addr,
                    client: pinned_client(&self.cert_path()),
                    child: Some(child),
                    log,
                });
            }
            if let Some(status) = child.try_wait().expect("try_wait") {
                // Give the reader threads a moment to drain the pipes.
                std::thread::sleep(Duration::from_millis(50));
                let text = log.lock().unwrap().clone();
                return Err(format!("exit {:?}\n{text}", status.code()));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let text = log.lock().unwrap().clone();
                return Err(format!("timed out\n{text}"));
            }
        }
    }
}

/// A rustls client config that trusts only `cert_path`, with the aws-lc-rs provider.
pub fn client_tls(cert_path: &Path) -> rustls::ClientConfig {
    client_tls_versions(
        cert_path,
        &[&rustls::version::TLS13, &rustls::version::TLS12],
    )
}

pub fn client_tls_versions(
    cert_path: &Path,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> rustls::ClientConfig {
    let pem = std::fs::read(cert_path).expect("read generated certificate");
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        roots.add(cert.expect("pem")).expect("add root");
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(versions)
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth()
}

pub fn pinned_client(cert_path: &Path) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .use_preconfigured_tls(client_tls(cert_path))
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

/// A running `rampart serve`; killed when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub client: reqwest::blocking::Client,
    child: Option<Child>,
    log: Arc<Mutex<String>>,
}

impl TestServer {
    /// `https://127.0.0.1:PORT/path`: the certificate names 127.0.0.1.
    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    pub fn get(&self, path: &str) -> reqwest::blocking::Response {
        self.client.get(self.url(path)).send().expect("GET")
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).expect("running")
    }

    /// Everything the server printed so far (stdout and stderr).
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits (up to 10 s) until the server's output satisfies `ready`, then returns it. Log
    /// lines arrive through a pipe, a moment after the response they describe.
    pub fn log_until(&self, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log();
            if ready(&log) || Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// SIGTERM, then wait for exit.
    pub fn stop(mut self) -> ExitStatus {
        self.signal("TERM");
        self.wait(Duration::from_secs(20))
    }

    /// SIGKILL, then reap.
    pub fn kill(mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn wait(&mut self, limit: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("server did not exit within {limit:?}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
