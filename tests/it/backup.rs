//! Backups through the real binary: made while the daemon serves, opened with the standard
//! `age` tool, checked, restored on a fresh data dir with identical records and blobs; and
//! what goes wrong: damaged, cut or wrong-key files, a live or occupied target, a full disk,
//! and the scheduled job's retention and failure notice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::evidence::{pdf, upload};
use crate::harness::{TestEnv, stderr, stdout};
use crate::identity::{ADMIN_EMAIL, ADMIN_PASSWORD, Session, set_up};
use crate::mail::{Certs, Security, Sink, mail_config};

/// A fresh age identity file in `dir`; returns its path and its recipient.
pub(crate) fn age_identity(dir: &Path) -> (PathBuf, String) {
    let path = dir.join("backup-identity.txt");
    let out = Command::new("age-keygen")
        .arg("-o")
        .arg(&path)
        .output()
        .expect("age-keygen (the age package) is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let recipient = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_owned();
    (path, recipient)
}

/// Every file under `dir/evidence` and `dir/documents`, by relative path, with its bytes.
fn stored_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for top in ["evidence", "documents"] {
        let Ok(orgs) = std::fs::read_dir(dir.join(top)) else {
            continue;
        };
        for org in orgs.flatten() {
            if org.file_name() == "tmp" || !org.path().is_dir() {
                continue;
            }
            for file in std::fs::read_dir(org.path()).unwrap().flatten() {
                out.insert(
                    format!(
                        "{top}/{}/{}",
                        org.file_name().to_string_lossy(),
                        file.file_name().to_string_lossy()
                    ),
                    std::fs::read(file.path()).unwrap(),
                );
            }
        }
    }
    out
}

fn audit_lines(env: &TestEnv) -> Vec<String> {
    let out = env.rampart(&["audit", "export"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    stdout(&out).lines().map(str::to_owned).collect()
}

fn backup_file(dir: &Path) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "age"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

#[test]
fn a_backup_made_while_serving_restores_elsewhere_with_identical_records_and_blobs() {
    let keys = tempfile::tempdir().unwrap();
    let (identity, recipient) = age_identity(keys.path());
    let env = TestEnv::with_config(&format!("backup_recipients = [\"{recipient}\"]\n"));
    let server = env.serve();
    let org = set_up(&server);
    let owner = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let first = upload(&server, &owner, &org, "policy.pdf", &pdf("access policy"));
    let second = upload(&server, &owner, &org, "plan.pdf", &pdf("incident plan"));
    let listed = owner
        .get(&server, &format!("/api/v1/orgs/{org}/evidence"))
        .text()
        .unwrap();
    let before_files = stored_files(&env.data_dir());
    assert_eq!(before_files.len(), 2, "{:?}", before_files.keys());
    let before_audit = audit_lines(&env);

    // Through the daemon, which keeps serving.
    let out_dir = env.path().join("backups");
    let out = env.rampart(&[
        "backup",
        "create",
        "--to",
        &format!("{}/", out_dir.display()),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("2 file(s)"), "{}", stdout(&out));
    assert_eq!(server.get("/healthz").status(), 200);
    let file = backup_file(&out_dir);
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);

    // The standard age tool opens it: a tar of the store copy, key, files and manifest.
    let listing = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "age -d -i '{}' '{}' | tar -t",
            identity.display(),
            file.display()
        ))
        .output()
        .unwrap();
    assert!(
        listing.status.success(),
        "{}",
        String::from_utf8_lossy(&listing.stderr)
    );
    let names = String::from_utf8(listing.stdout).unwrap();
    let names: Vec<&str> = names.lines().collect();
    assert_eq!(names.first(), Some(&"backup.json"));
    assert_eq!(names.last(), Some(&"manifest.json"));
    for name in ["master.key", "store.dump"]
        .iter()
        .map(|s| s.to_string())
        .chain(before_files.keys().cloned())
    {
        assert!(names.contains(&name.as_str()), "{name} in {names:?}");
    }

    let out = env.rampart(&[
        "backup",
        "verify",
        file.to_str().unwrap(),
        "--identity",
        identity.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("intact: "), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("1 organization(s)"),
        "{}",
        stdout(&out)
    );

    // Restored on "another machine": a fresh environment with nothing in its data dir.
    let elsewhere = TestEnv::new();
    let out = elsewhere.rampart(&[
        "restore",
        file.to_str().unwrap(),
        "--data-dir",
        elsewhere.data_dir().to_str().unwrap(),
        "--identity",
        identity.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stored_files(&elsewhere.data_dir()),
        before_files,
        "blobs byte for byte"
    );
    let after_audit = audit_lines(&elsewhere);
    assert_eq!(
        after_audit[..before_audit.len()],
        before_audit[..],
        "the audit log up to the backup, entry for entry"
    );
    let out = elsewhere.rampart(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    // The restored appliance serves the same records and files to the same people.
    drop(server);
    let restored = elsewhere.serve();
    let owner = Session::login(&restored, ADMIN_EMAIL, ADMIN_PASSWORD);
    let relisted = owner
        .get(&restored, &format!("/api/v1/orgs/{org}/evidence"))
        .text()
        .unwrap();
    assert_eq!(relisted, listed);
    for (evidence, content) in [
        (&first, pdf("access policy")),
        (&second, pdf("incident plan")),
    ] {
        let id = evidence["id"].as_str().unwrap();
        let got = owner
            .get(
                &restored,
                &format!("/api/v1/orgs/{org}/evidence/{id}/download"),
            )
            .bytes()
            .unwrap();
        assert_eq!(got.as_ref(), content.as_slice());
    }
}

#[test]
fn damaged_cut_and_wrong_key_backups_are_refused_naming_the_problem() {
    let keys = tempfile::tempdir().unwrap();
    let (identity, recipient) = age_identity(keys.path());
    let other_keys = tempfile::tempdir().unwrap();
    let (other_identity, _) = age_identity(other_keys.path());
    let env = TestEnv::with_config(&format!("backup_recipients = [\"{recipient}\"]\n"));
    assert_eq!(env.rampart(&["init"]).status.code(), Some(0));
    crate::matrix::create_org(&env, "Acme");
    let out_dir = env.path().join("out");
    let out = env.rampart(&[
        "backup",
        "create",
        "--to",
        &format!("{}/", out_dir.display()),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let good = backup_file(&out_dir);
    let bytes = std::fs::read(&good).unwrap();

    let check = |file: &Path, identity: &Path| {
        env.rampart(&[
            "backup",
            "verify",
            file.to_str().unwrap(),
            "--identity",
            identity.to_str().unwrap(),
        ])
    };
    let cut = env.path().join("cut.age");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let altered = env.path().join("altered.age");
    let mut flipped = bytes.clone();
    let at = flipped.len() / 2;
    flipped[at] ^= 0x40;
    std::fs::write(&altered, &flipped).unwrap();
    for (file, key, expected) in [
        (&cut, &identity, "damaged or truncated"),
        (&altered, &identity, "damaged or truncated"),
        (&good, &other_identity, "wrong key"),
    ] {
        let out = check(file, key);
        assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
        assert!(
            stderr(&out).contains(expected),
            "{file:?}: {}",
            stderr(&out)
        );
    }

    // A refused restore leaves nothing behind.
    let target = env.path().join("restored");
    for file in [&cut, &altered] {
        let out = env.rampart(&[
            "restore",
            file.to_str().unwrap(),
            "--data-dir",
            target.to_str().unwrap(),
            "--identity",
            identity.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(1));
        assert!(!target.exists(), "nothing half-written");
    }

    // Never over an occupied or live data dir.
    let restore_here = || {
        env.rampart(&[
            "restore",
            good.to_str().unwrap(),
            "--data-dir",
            env.data_dir().to_str().unwrap(),
            "--identity",
            identity.to_str().unwrap(),
        ])
    };
    let out = restore_here();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not empty"), "{}", stderr(&out));
    let server = env.serve();
    let out = restore_here();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("in use"), "{}", stderr(&out));
    assert_eq!(server.get("/healthz").status(), 200);

    // An existing file is never overwritten.
    let out = env.rampart(&["backup", "create", "--to", good.to_str().unwrap()]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("exists already"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&good).unwrap(), bytes);
}

#[test]
fn a_passphrase_backup_opens_only_with_its_passphrase_and_none_is_made_unconfigured() {
    let env = TestEnv::new();
    assert_eq!(env.rampart(&["init"]).status.code(), Some(0));
    let out = env.rampart(&["backup", "create", "--to", env.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("backups are not configured"),
        "{}",
        stderr(&out)
    );

    let mut env = env;
    env.env.push((
        "RAMPART_BACKUP_PASSPHRASE".into(),
        "correct horse battery staple".into(),
    ));
    let out = env.rampart(&[
        "backup",
        "create",
        "--to",
        &format!("{}/out/", env.path().display()),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let file = backup_file(&env.path().join("out"));
    let wrong = env.path().join("wrong.txt");
    std::fs::write(&wrong, "incorrect horse\n").unwrap();
    let out = env.rampart(&[
        "backup",
        "verify",
        file.to_str().unwrap(),
        "--passphrase-file",
        wrong.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("wrong key"), "{}", stderr(&out));
    // The configured passphrase is used when none is given.
    let out = env.rampart(&["backup", "verify", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// A tmpfs of `kib` KiB at `dir`, for a disk that fills up; `None` where this process may
/// not mount (not root).
fn small_disk(dir: &Path, kib: u32) -> Option<Mounted> {
    std::fs::create_dir_all(dir).unwrap();
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
        .arg(dir)
        .status()
        .ok()?;
    status.success().then(|| Mounted(dir.to_owned()))
}

struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_disk_filling_up_removes_the_partial_backup_and_the_daemon_serves_on_and_says_so() {
    let keys = tempfile::tempdir().unwrap();
    let (_, recipient) = age_identity(keys.path());
    let certs = Certs::new();
    let sink = Sink::new(Security::StartTls, Some(&certs)).start();
    let env = TestEnv::with_config(&format!(
        "backup_recipients = [\"{recipient}\"]\n{}",
        mail_config(sink.port, "starttls", Some(&certs.ca))
    ));
    let server = env.serve();
    let org = set_up(&server);
    let owner = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    // Incompressible content, so the backup outgrows the small disk whatever age does.
    let noise: Vec<u8> = (0..600_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut text = b"log line\n".to_vec();
    text.extend(noise.iter().map(|b| b'a' + b % 26));
    upload(&server, &owner, &org, "system.log", &text);

    let full = env.path().join("full");
    let Some(_mounted) = small_disk(&full, 256) else {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    };
    let out = env.rampart(&["backup", "create", "--to", full.to_str().unwrap()]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("No space left"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_dir(&full).unwrap().count(),
        0,
        "the partial file is removed"
    );
    assert_eq!(server.get("/healthz").status(), 200);

    // Recorded as a failed run, shown to the administrator, mailed to them.
    let page = owner.get(&server, "/").text().unwrap();
    assert!(page.contains("id=\"backup-warning\""), "{page}");
    assert!(page.contains("The last backup failed"), "{page}");
    let mails = sink.wait_for(1, Duration::from_secs(20));
    let notice = mails.iter().find(|m| m.subject == "Rampart backup failed");
    assert!(notice.is_some(), "{mails:?}");
    assert!(
        notice
            .unwrap()
            .to
            .to_lowercase()
            .contains(&ADMIN_EMAIL.to_lowercase())
    );

    // The next good backup clears the warning.
    let out = env.rampart(&["backup", "create"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let page = owner.get(&server, "/").text().unwrap();
    assert!(!page.contains("id=\"backup-warning\""), "{page}");
}

#[test]
fn the_scheduled_backup_keeps_the_configured_count_and_age() {
    let keys = tempfile::tempdir().unwrap();
    let (identity, recipient) = age_identity(keys.path());
    let env = TestEnv::with_config(&format!(
        "backup_recipients = [\"{recipient}\"]\nbackup_keep_count = 3\nbackup_keep_days = 10\n"
    ));
    assert_eq!(env.rampart(&["init"]).status.code(), Some(0));
    let dir = env.data_dir().join("backups");
    std::fs::create_dir_all(&dir).unwrap();
    // Earlier backups: two recent, two older than the kept count allows, one too old.
    let made = |name: &str, days_ago: u32| {
        let path = dir.join(name);
        std::fs::write(&path, b"earlier").unwrap();
        let status = Command::new("touch")
            .arg("-d")
            .arg(format!("{days_ago} days ago"))
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success());
    };
    made("rampart-backup-20260101T024500Z.age", 40);
    made("rampart-backup-20260201T024500Z.age", 5);
    made("rampart-backup-20260202T024500Z.age", 4);
    made("rampart-backup-20260203T024500Z.age", 3);
    made("rampart-backup-20260204T024500Z.age", 2);
    made("unrelated.txt", 400);

    let out = env.rampart(&["jobs", "run", "backup"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("removed 3 old backup(s)"),
        "{}",
        stdout(&out)
    );
    let mut left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left.len(), 4, "{left:?}");
    assert_eq!(left[0], "rampart-backup-20260203T024500Z.age");
    assert_eq!(left[1], "rampart-backup-20260204T024500Z.age");
    assert!(left[2].starts_with("rampart-backup-2026"), "{left:?}");
    assert_eq!(left[3], "unrelated.txt");
    let newest = dir.join(&left[2]);
    let out = env.rampart(&[
        "backup",
        "verify",
        newest.to_str().unwrap(),
        "--identity",
        identity.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // doctor now sees a good backup; jobs list shows the run.
    let out = env.rampart(&["doctor"]);
    assert!(
        stdout(&out).contains("ok   backups: last good backup"),
        "{}",
        stdout(&out)
    );
    let listed: Value =
        serde_json::from_str(&stdout(&env.rampart(&["jobs", "list", "--json"]))).unwrap();
    let backup = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "backup")
        .unwrap();
    assert!(backup["last_success"].is_i64(), "{backup}");
}

#[test]
fn doctor_warns_without_backups() {
    let env = TestEnv::new();
    assert_eq!(env.rampart(&["init"]).status.code(), Some(0));
    let out = env.rampart(&["doctor"]);
    assert!(
        stdout(&out).contains("warn backups: not configured"),
        "{}",
        stdout(&out)
    );
    let env = TestEnv::with_config("backup_passphrase = \"a long passphrase\"\n");
    assert_eq!(env.rampart(&["init"]).status.code(), Some(0));
    let out = env.rampart(&["doctor"]);
    assert!(
        stdout(&out).contains("warn backups: no backup has succeeded yet"),
        "{}",
        stdout(&out)
    );
}
