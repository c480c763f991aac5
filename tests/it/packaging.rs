//! The .deb and the systemd unit. `scripts/test` builds the package and release binary and
//! names them in TEST_RAMPART_DEB and TEST_RAMPART_RELEASE_BIN.

use std::path::PathBuf;
use std::process::Command;

fn from_env(name: &str) -> PathBuf {
    let path = std::env::var_os(name)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!("{name} is not set: run ./scripts/test, which builds the package")
        });
    assert!(path.exists(), "{} does not exist", path.display());
    path
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn deb_holds_binary_config_unit_and_users() {
    let deb = from_env("TEST_RAMPART_DEB");
    let out = Command::new("dpkg-deb")
        .arg("--contents")
        .arg(&deb)
        .output()
        .unwrap();
    assert!(out.status.success());
    let listing = String::from_utf8_lossy(&out.stdout);
    for (path, mode) in [
        ("./usr/bin/rampart", "-rwxr-xr-x"),
        ("./etc/rampart/rampart.toml", "-rw-r-----"),
        ("./usr/lib/systemd/system/rampart.service", "-rw-r--r--"),
        ("./usr/lib/sysusers.d/rampart.conf", "-rw-r--r--"),
        ("./usr/lib/tmpfiles.d/rampart.conf", "-rw-r--r--"),
    ] {
        let line = listing
            .lines()
            .find(|l| l.ends_with(path))
            .unwrap_or_else(|| panic!("{path} missing:\n{listing}"));
        assert!(line.starts_with(mode), "{line}");
    }

    let out = Command::new("dpkg-deb")
        .arg("--info")
        .arg(&deb)
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&out.stdout);
    assert!(info.contains("Package: rampart"), "{info}");
    assert!(
        info.contains("postinst") && info.contains("conffiles"),
        "{info}"
    );
    // A binary linked with packed relocations (build.rs) loads only on glibc 2.36 or later,
    // which dpkg-shlibdeps does not see: the package must say so itself.
    let packaged = std::fs::read(from_env("TEST_RAMPART_RELEASE_BIN")).unwrap();
    let needs_relr = packaged
        .windows(b"GLIBC_ABI_DT_RELR".len())
        .any(|w| w == b"GLIBC_ABI_DT_RELR");
    assert!(
        !needs_relr || info.contains("libc6 (>= 2.36)"),
        "the binary needs GLIBC_ABI_DT_RELR; the package's Depends must name libc6 (>= 2.36):\n{info}"
    );

    // The packaged default config is valid for this binary.
    let dir = tempfile::tempdir().unwrap();
    let extract = Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(extract.success());
    let out = Command::new(dir.path().join("usr/bin/rampart"))
        .args(["config", "check", "--config"])
        .arg(dir.path().join("etc/rampart/rampart.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "warnings: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn unit_verifies_and_exposure_is_below_two() {
    let binary = from_env("TEST_RAMPART_RELEASE_BIN");
    let out = Command::new(repo().join("scripts/check-unit"))
        .arg(repo().join("systemd/rampart.service"))
        .arg(&binary)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    let exposure: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("exposure: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no exposure figure in: {text}"));
    assert!(exposure < 2.0, "{exposure}");
}

#[test]
fn unit_has_the_hardening_the_design_requires() {
    let unit = std::fs::read_to_string(repo().join("systemd/rampart.service")).unwrap();
    for line in [
        "Type=notify",
        "User=rampart",
        "StateDirectory=rampart",
        "ConfigurationDirectory=rampart",
        "RuntimeDirectory=rampart",
        "LoadCredential=master.key:",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=\n",
        "RestrictAddressFamilies=",
        "SystemCallFilter=@system-service",
        "MemoryDenyWriteExecute=yes",
    ] {
        assert!(unit.contains(line), "unit lacks {line:?}");
    }
}

/// A throwaway root: this machine's `/` under an overlay, so installing a package changes
/// only the overlay's upper layer, which goes when the test ends.
struct FreshRoot {
    root: PathBuf,
    _dir: tempfile::TempDir,
}

impl FreshRoot {
    /// `None` where this process may not mount (not root).
    fn new() -> Option<FreshRoot> {
        let dir = tempfile::tempdir().unwrap();
        let (upper, work, root) = (
            dir.path().join("upper"),
            dir.path().join("work"),
            dir.path().join("root"),
        );
        for d in [&upper, &work, &root] {
            std::fs::create_dir_all(d).unwrap();
        }
        let options = format!(
            "lowerdir=/,upperdir={},workdir={}",
            upper.display(),
            work.display()
        );
        let mounted = Command::new("mount")
            .args(["-t", "overlay", "overlay", "-o", &options])
            .arg(&root)
            .status()
            .ok()?;
        if !mounted.success() {
            return None;
        }
        let fresh = FreshRoot { root, _dir: dir };
        // What maintainer scripts expect of a running system: /proc, /dev and /sys.
        for (kind, source, target) in [
            ("proc", "proc", "proc"),
            ("sysfs", "sysfs", "sys"),
            ("--bind", "/dev", "dev"),
        ] {
            let args: Vec<&str> = if kind == "--bind" {
                vec!["--bind", source]
            } else {
                vec!["-t", kind, source]
            };
            let status = Command::new("mount")
                .args(&args)
                .arg(fresh.root.join(target))
                .status()
                .unwrap();
            assert!(status.success(), "mount {target} in the fresh root");
        }
        Some(fresh)
    }

    fn path(&self, inside: &str) -> PathBuf {
        self.root.join(inside.trim_start_matches('/'))
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new("chroot")
            .arg(&self.root)
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .unwrap()
    }

    /// Runs `args` in the root and insists it succeeded.
    fn ok(&self, args: &[&str]) -> std::process::Output {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// The id of `name` in the root's `/etc/passwd` or `/etc/group`.
    fn id_of(&self, file: &str, name: &str) -> u32 {
        let text = std::fs::read_to_string(self.path(file)).unwrap();
        text.lines()
            .find_map(|l| {
                let mut fields = l.split(':');
                (fields.next() == Some(name)).then(|| fields.nth(1).unwrap().parse().unwrap())
            })
            .unwrap_or_else(|| panic!("{name} not in {file}"))
    }
}

impl Drop for FreshRoot {
    fn drop(&mut self) {
        for inner in ["dev", "sys", "proc"] {
            let _ = Command::new("umount")
                .arg("-l")
                .arg(self.root.join(inner))
                .status();
        }
        let _ = Command::new("umount").arg("-l").arg(&self.root).status();
    }
}

#[test]
fn the_deb_installs_into_a_fresh_root_with_its_user_modes_key_and_enabled_unit() {
    use std::os::unix::fs::MetadataExt;
    let deb = from_env("TEST_RAMPART_DEB");
    let Some(root) = FreshRoot::new() else {
        eprintln!("skipped: mounting an overlay root needs root");
        return;
    };
    assert!(
        !root.path("/etc/passwd").exists()
            || !std::fs::read_to_string(root.path("/etc/passwd"))
                .unwrap()
                .contains("\nrampart:"),
        "this machine already has a rampart user; the test needs a root without one"
    );
    std::fs::copy(&deb, root.path("/tmp/rampart.deb")).unwrap();
    root.ok(&["dpkg", "-i", "/tmp/rampart.deb"]);

    let uid = root.id_of("/etc/passwd", "rampart");
    let gid = root.id_of("/etc/group", "rampart");
    assert!(uid < 1000, "a system user: {uid}");
    for (path, mode, owner, group) in [
        ("/usr/bin/rampart", 0o755, 0, 0),
        ("/etc/rampart", 0o750, 0, gid),
        ("/etc/rampart/rampart.toml", 0o640, 0, gid),
        ("/var/lib/rampart", 0o700, uid, gid),
        ("/var/lib/rampart/rampart.redb", 0o600, uid, gid),
        ("/usr/lib/systemd/system/rampart.service", 0o644, 0, 0),
        (
            "/usr/share/man/man1/rampart-backup-create.1.gz",
            0o644,
            0,
            0,
        ),
        (
            "/usr/share/bash-completion/completions/rampart",
            0o644,
            0,
            0,
        ),
    ] {
        let meta = std::fs::metadata(root.path(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(meta.mode() & 0o7777, mode, "{path} mode {:o}", meta.mode());
        assert_eq!((meta.uid(), meta.gid()), (owner, group), "{path} owner");
    }
    // The master key: sealed with systemd-creds where it works here (then only root on
    // this machine opens it, as the offline CLI shows), else a root-only file.
    let sealed = root.path("/etc/rampart/master.key.cred");
    let key = if sealed.exists() {
        assert!(
            !root.path("/etc/rampart/master.key").exists(),
            "no plaintext key left"
        );
        let dropin = std::fs::read_to_string(
            root.path("/etc/systemd/system/rampart.service.d/10-sealed-master-key.conf"),
        )
        .unwrap();
        assert!(
            dropin.contains("LoadCredentialEncrypted=master.key:/etc/rampart/master.key.cred"),
            "{dropin}"
        );
        root.ok(&[
            "rampart",
            "admin",
            "org",
            "list",
            "--config",
            "/etc/rampart/rampart.toml",
        ]);
        sealed
    } else {
        root.path("/etc/rampart/master.key")
    };
    eprintln!("master key as installed: {}", key.display());
    let meta = std::fs::metadata(&key).unwrap();
    assert_eq!(
        (meta.mode() & 0o7777, meta.uid(), meta.gid()),
        (0o600, 0, 0),
        "{}",
        key.display()
    );

    // Enabled: the unit's symlink is in place, and the unit verifies in this root.
    let wants = root.path("/etc/systemd/system/multi-user.target.wants/rampart.service");
    assert!(wants.is_symlink(), "{} is not a symlink", wants.display());
    root.ok(&[
        "rampart",
        "config",
        "check",
        "--config",
        "/etc/rampart/rampart.toml",
    ]);

    // Purging asks first (debconf, default no): a non-interactive purge keeps the key and
    // the data, which outlive a mistyped command.
    let out = root.run(&["debconf-show", "rampart"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("rampart/purge_data: false"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = root.ok(&["dpkg", "--purge", "rampart"]);
    assert!(!root.path("/usr/bin/rampart").exists());
    assert!(key.exists(), "the key outlives a purge");
    assert!(root.path("/var/lib/rampart/rampart.redb").exists());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("kept /etc/rampart/master.key"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Reinstalled, it carries on with the kept key and data; answered yes, purge deletes.
    root.ok(&["dpkg", "-i", "/tmp/rampart.deb"]);
    root.ok(&[
        "rampart",
        "admin",
        "org",
        "list",
        "--config",
        "/etc/rampart/rampart.toml",
    ]);
    root.ok(&[
        "sh",
        "-c",
        "echo 'rampart rampart/purge_data boolean true' | debconf-set-selections",
    ]);
    root.ok(&["dpkg", "--purge", "rampart"]);
    assert!(!key.exists() && !root.path("/var/lib/rampart").exists());
}

#[test]
fn rpm_holds_the_same_files_with_their_modes_scripts_and_config() {
    let rpm = from_env("TEST_RAMPART_RPM");
    let out = Command::new("rpm")
        .args(["-qlvp"])
        .arg(&rpm)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = String::from_utf8_lossy(&out.stdout);
    for (path, mode, group) in [
        ("/usr/bin/rampart", "-rwxr-xr-x", "root"),
        ("/etc/rampart/rampart.toml", "-rw-r-----", "rampart"),
        (
            "/usr/lib/systemd/system/rampart.service",
            "-rw-r--r--",
            "root",
        ),
        ("/usr/lib/sysusers.d/rampart.conf", "-rw-r--r--", "root"),
        ("/usr/lib/tmpfiles.d/rampart.conf", "-rw-r--r--", "root"),
        (
            "/usr/share/man/man1/rampart-backup-create.1.gz",
            "-rw-r--r--",
            "root",
        ),
        (
            "/usr/share/bash-completion/completions/rampart",
            "-rw-r--r--",
            "root",
        ),
    ] {
        let line = listing
            .lines()
            .find(|l| l.ends_with(&format!(" {path}")))
            .unwrap_or_else(|| panic!("{path} missing:\n{listing}"));
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!((fields[0], fields[3]), (mode, group), "{line}");
    }
    let out = Command::new("rpm")
        .args(["-qcp"])
        .arg(&rpm)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "/etc/rampart/rampart.toml",
        "the config is %config"
    );
    let out = Command::new("rpm")
        .args(["-qp", "--scripts"])
        .arg(&rpm)
        .output()
        .unwrap();
    let scripts = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "preinstall scriptlet",
        "postinstall scriptlet",
        "rampart init",
        "systemd-creds encrypt",
    ] {
        assert!(scripts.contains(needle), "{needle} missing:\n{scripts}");
    }
}
