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
