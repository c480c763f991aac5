//! Scheduled jobs through the real daemon: deadline reminders at 30, 7 and 1 days to a real
//! SMTP sink, drift alerts, retention, a schedule missed while the daemon was down, bad
//! schedules, and who may see and run jobs. Due dates are set relative to today, which is
//! the clock the domain functions are given.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{TestEnv, TestServer, stderr, stdout};
use crate::identity::{ADMIN_EMAIL, ADMIN_PASSWORD, Session, create_user, send, set_up};
use crate::mail::{Certs, Mail, Security, Sink, SmtpSink, mail_config};

const PASSWORD: &str = "velvet orbit canyon 93 drift";

fn date_in(days: i64) -> String {
    (time::OffsetDateTime::now_utc().date() + time::Duration::days(days)).to_string()
}

/// Runs `rampart jobs run NAME`; returns what it printed.
fn run_job(env: &TestEnv, name: &str) -> String {
    let out = env.rampart(&["jobs", "run", name]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    stdout(&out)
}

/// `rampart jobs list --json`, as a map by job name.
fn jobs(env: &TestEnv) -> Value {
    let out = env.rampart(&["jobs", "list", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let list: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let mut by_name = serde_json::Map::new();
    for job in list.as_array().unwrap() {
        by_name.insert(job["name"].as_str().unwrap().to_owned(), job.clone());
    }
    Value::Object(by_name)
}

fn ok(response: reqwest::blocking::Response) -> Value {
    let status = response.status();
    let text = response.text().unwrap();
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

struct Mailing {
    _certs: Certs,
    sink: SmtpSink,
    env: TestEnv,
    server: TestServer,
    org: String,
    owner: Session,
}

fn mailing() -> Mailing {
    let certs = Certs::new();
    let sink = Sink::new(Security::StartTls, Some(&certs)).start();
    let env = TestEnv::with_config(&mail_config(sink.port, "starttls", Some(&certs.ca)));
    let server = env.serve();
    let org = set_up(&server);
    let owner = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    Mailing {
        _certs: certs,
        sink,
        env,
        server,
        org,
        owner,
    }
}

fn to<'a>(mails: &'a [Mail], address: &str) -> Vec<&'a Mail> {
    mails
        .iter()
        .filter(|m| m.rcpt_tos.iter().any(|r| r == address))
        .collect()
}

#[test]
fn reminders_go_out_at_30_7_and_1_days_once_each_to_who_wants_them() {
    let Mailing {
        sink,
        env,
        server,
        org,
        owner,
        ..
    } = mailing();
    let pat = create_user(&env, "pat@acme.example", PASSWORD, &org, "member");
    create_user(&env, "val@acme.example", PASSWORD, &org, "viewer");
    let assessment = crate::compliance::create_assessment(&server, &owner, &org, "cmmc-l2");
    let poam = format!("/api/v1/orgs/{org}/assessments/{assessment}/poam/3.1.1");
    let mut milestones = vec![
        json!({"title": "Order the security keys", "due": date_in(30)}),
        json!({"title": "Enrol the remote staff", "due": date_in(5)}),
        json!({"title": "Retire the shared passwords", "due": date_in(40)}),
        json!({"title": "Pilot", "due": date_in(1), "done_on": date_in(0)}),
    ];
    let put_poam = |milestones: &[Value]| {
        ok(send(
            &server,
            &owner,
            "PUT",
            &poam,
            &json!({"weakness": "No MFA for remote staff", "remediation": "Roll out keys",
                    "status": "open", "responsible": [pat], "milestones": milestones}),
        ));
    };
    put_poam(&milestones);
    // Final status granted a year ago less a week: the yearly affirmation is due in about 7
    // days. It is the owners' to make, not Pat's.
    let today = time::OffsetDateTime::now_utc().date();
    let granted = today.replace_year(today.year() - 1).unwrap() + time::Duration::days(7);
    ok(send(
        &server,
        &owner,
        "PUT",
        &format!("/api/v1/orgs/{org}/assessments/{assessment}"),
        &json!({"name": "2026 self-assessment", "dates": {"final_status_date": granted.to_string()}}),
    ));

    // The 30-day and the 5-day milestones are due a reminder (thresholds 30 and 7); the
    // 40-day one not yet, the done one never. The owner and the responsible member hear of
    // them, the viewer not; the owner also of the affirmation.
    let printed = run_job(&env, "reminders");
    assert!(
        printed.contains("3 reminder(s) due, 2 message(s) queued"),
        "{printed}"
    );
    let mails = sink.wait_for(2, Duration::from_secs(20));
    assert_eq!(mails.len(), 2, "{mails:?}");
    assert!(to(&mails, "val@acme.example").is_empty());
    let link = format!(
        "https://{}/orgs/{org}/assessments/{assessment}/poam",
        server.addr
    );
    let admin = ADMIN_EMAIL.to_lowercase();
    for address in [admin.as_str(), "pat@acme.example"] {
        let mail = to(&mails, address);
        assert_eq!(mail.len(), 1, "{address}: {mails:?}");
        let text = mail[0].text.as_deref().unwrap();
        let (count, affirmation) = if address == admin {
            (3, true)
        } else {
            (2, false)
        };
        assert!(
            mail[0].subject.contains(&format!("{count} deadlines")),
            "{}",
            mail[0].subject
        );
        assert_eq!(
            text.contains("Yearly Level 2 affirmation: due"),
            affirmation,
            "{address}:\n{text}"
        );
        assert!(
            text.contains(&format!("due {} (in 5 days)", date_in(5))),
            "{text}"
        );
        assert!(
            text.contains(&format!("due {} (in 30 days)", date_in(30))),
            "{text}"
        );
        assert!(text.contains(&link), "{text}");
        assert!(mail[0].links.contains(&link), "{:?}", mail[0].links);
        // No controlled content unless the organization allows it.
        for secret in ["Enrol the remote staff", "No MFA", "3.1.1", "Retire"] {
            assert!(!text.contains(secret), "{secret} in:\n{text}");
            assert!(!mail[0].html.as_deref().unwrap().contains(secret));
        }
    }

    // Again: each item and threshold is reminded once.
    let printed = run_job(&env, "reminders");
    assert!(printed.contains("0 reminder(s) due"), "{printed}");

    // Pat turns reminders off (a malformed choice is refused and changes nothing); the
    // organization allows detail; a milestone falls due tomorrow.
    let pat_session = Session::login(&server, "pat@acme.example", PASSWORD);
    let prefs = "/api/v1/me/mail-preferences";
    let bad = send(
        &server,
        &pat_session,
        "PUT",
        prefs,
        &json!({"reminders": "no"}),
    );
    assert!(bad.status().is_client_error(), "{}", bad.status());
    assert_eq!(ok(pat_session.get(&server, prefs))["reminders"], true);
    let saved = ok(send(
        &server,
        &pat_session,
        "PUT",
        prefs,
        &json!({"reminders": false, "drift_alerts": true, "weekly_digest": true}),
    ));
    assert_eq!(saved["reminders"], false);
    assert_eq!(ok(pat_session.get(&server, prefs))["reminders"], false);
    ok(send(
        &server,
        &owner,
        "PUT",
        &format!("/api/v1/orgs/{org}"),
        &json!({"name": "Acme Defense", "mail_detail": true}),
    ));
    milestones.push(json!({"title": "Rotate the VPN keys", "due": date_in(1)}));
    put_poam(&milestones);
    let printed = run_job(&env, "reminders");
    assert!(
        printed.contains("1 reminder(s) due, 1 message(s) queued"),
        "{printed}"
    );
    let mails = sink.wait_for(3, Duration::from_secs(20));
    let latest = to(&mails, &admin);
    assert_eq!(latest.len(), 2, "{mails:?}");
    let text = latest
        .iter()
        .map(|m| m.text.as_deref().unwrap())
        .find(|t| t.contains("tomorrow"))
        .unwrap_or_else(|| panic!("no reminder for tomorrow: {mails:?}"));
    assert!(
        text.contains("Rotate the VPN keys"),
        "detail allowed:\n{text}"
    );
    assert!(text.contains("3.1.1"), "{text}");
    assert_eq!(to(&mails, "pat@acme.example").len(), 1, "Pat opted out");

    // The weekly digest goes to every member who wants it, figures only.
    let printed = run_job(&env, "digest");
    assert!(printed.contains("3 digest(s) queued"), "{printed}");
    let mails = sink.wait_for(6, Duration::from_secs(20));
    let digests: Vec<&Mail> = mails
        .iter()
        .filter(|m| m.subject.contains("this week"))
        .collect();
    assert_eq!(digests.len(), 3, "{mails:?}");
    let text = digests[0].text.as_deref().unwrap();
    assert!(
        text.contains("1 open POA&M item\r\n") || text.contains("1 open POA&M item\n"),
        "{text}"
    );
    assert!(text.contains("deadlines in the next 30 days"), "{text}");
    assert!(!text.contains("Rotate the VPN keys"), "{text}");

    // The runs are in the audit log, as the operator's.
    let log = stdout(&env.rampart(&["audit", "export"]));
    let runs: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["action"] == "job.run")
        .collect();
    assert_eq!(runs.len(), 4, "{runs:?}");
    assert!(
        runs.iter()
            .all(|e| e["target"] == "reminders" || e["target"] == "digest"),
        "{runs:?}"
    );
    assert!(
        runs.iter()
            .all(|e| e["actor"].to_string().contains("operator")),
        "{runs:?}"
    );
    assert!(
        log.contains("account.mail_preferences"),
        "preference change audited"
    );
}

#[test]
fn new_drift_is_mailed_once_to_administrators() {
    let Mailing {
        sink,
        env,
        server,
        org,
        owner,
        ..
    } = mailing();
    create_user(&env, "mo@acme.example", PASSWORD, &org, "member");
    let assessment = crate::compliance::create_assessment(&server, &owner, &org, "cmmc-l2");
    ok(send(
        &server,
        &owner,
        "PUT",
        &format!("/api/v1/orgs/{org}/assessments/{assessment}/poam/3.1.3"),
        &json!({"weakness": "Flow control", "remediation": "Deploy the proxy", "status": "open",
                "milestones": [{"title": "Proxy deployed", "due": "2020-01-01"}]}),
    ));

    let printed = run_job(&env, "drift");
    assert!(
        printed.contains("1 drift item(s), 1 new, 1 message(s) queued"),
        "{printed}"
    );
    let mails = sink.wait_for(1, Duration::from_secs(20));
    assert_eq!(
        mails[0].rcpt_tos,
        [ADMIN_EMAIL.to_lowercase()],
        "owners and admins only"
    );
    assert!(
        mails[0].subject.contains("new drift"),
        "{}",
        mails[0].subject
    );
    let text = mails[0].text.as_deref().unwrap();
    assert!(text.contains("A POA&M milestone is overdue"), "{text}");
    assert!(text.contains(&format!("https://{}/orgs/{org}/drift", server.addr)));
    for secret in ["Proxy deployed", "Flow control", "3.1.3"] {
        assert!(!text.contains(secret), "{secret} in:\n{text}");
    }

    // Known drift is not alerted again.
    let printed = run_job(&env, "drift");
    assert!(printed.contains("1 drift item(s), 0 new"), "{printed}");
    let deadline = Instant::now() + Duration::from_secs(7);
    while Instant::now() < deadline {
        assert_eq!(sink.messages().len(), 1, "alerted once");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn a_schedule_missed_while_stopped_runs_once_at_start() {
    let mut env = TestEnv::with_config("jobs_retention_schedule = \"*/1 * * * * *\"\n");
    let server = env.serve();
    set_up(&server);
    let deadline = Instant::now() + Duration::from_secs(20);
    while jobs(&env)["retention"]["runs"].as_u64().unwrap() < 2 {
        assert!(Instant::now() < deadline, "retention never ran on schedule");
        std::thread::sleep(Duration::from_millis(300));
    }
    server.kill();
    let before = jobs(&env)["retention"].clone();
    assert_eq!(before["last_run"]["trigger"], "schedule");
    let runs_before = before["runs"].as_u64().unwrap();

    // Three slots pass while the daemon is down; afterwards the schedule has none until
    // tomorrow. At start the job runs once, not three times.
    let mut now = time::OffsetDateTime::now_utc();
    if now.second() > 50 {
        std::thread::sleep(Duration::from_secs(u64::from(61 - now.second())));
        now = time::OffsetDateTime::now_utc();
    }
    let slots: Vec<String> = (1..=3).map(|s| (now.second() + s).to_string()).collect();
    env.extra_config = format!(
        "jobs_retention_schedule = \"{} {} {} * * *\"\n",
        slots.join(","),
        now.minute(),
        now.hour()
    );
    env.write_config();
    std::thread::sleep(Duration::from_secs(5));
    let server = env.serve();
    let deadline = Instant::now() + Duration::from_secs(20);
    let caught_up = loop {
        let job = jobs(&env)["retention"].clone();
        if job["runs"].as_u64().unwrap() > runs_before {
            break job;
        }
        assert!(Instant::now() < deadline, "no catch-up run: {job}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(caught_up["last_run"]["trigger"], "catch_up", "{caught_up}");
    assert_eq!(caught_up["last_run"]["ok"], true, "{caught_up}");
    std::thread::sleep(Duration::from_secs(3));
    let later = jobs(&env)["retention"].clone();
    assert_eq!(later["runs"].as_u64().unwrap(), runs_before + 1, "{later}");
    let next = later["next_run"].as_i64().unwrap();
    assert!(
        next - now.unix_timestamp() > 20 * 3600,
        "next run is tomorrow: {later}"
    );
    drop(server);
}

#[test]
fn bad_schedules_are_refused_at_start_naming_the_setting() {
    for (setting, value) in [
        ("jobs_drift_schedule", "\"0 25 * * *\""),
        ("jobs_digest_schedule", "\"every monday\""),
        ("jobs_time_zone", "\"Mars/Olympus_Mons\""),
    ] {
        let env = TestEnv::with_config(&format!("{setting} = {value}\n"));
        let err = match env.try_serve() {
            Ok(_) => panic!("{setting} = {value} was accepted"),
            Err(err) => err,
        };
        assert!(err.contains(setting), "{setting}: {err}");
        let check = env.rampart(&["config", "check"]);
        assert!(!check.status.success());
        assert!(stderr(&check).contains(setting), "{}", stderr(&check));
    }
}

#[test]
fn jobs_are_the_appliance_administrators_to_see_and_run() {
    let env = TestEnv::new();
    let server = env.serve();
    let org = set_up(&server);
    create_user(&env, "owner@acme.example", PASSWORD, &org, "owner");
    let admin = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let owner = Session::login(&server, "owner@acme.example", PASSWORD);

    // The CLI: an unknown job is named with the ones there are; retention says what it did.
    let out = env.rampart(&["jobs", "run", "backups"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("reminders, drift, digest, retention and backup"),
        "{}",
        stderr(&out)
    );
    let printed = run_job(&env, "retention");
    assert!(printed.contains("retention: ok"), "{printed}");
    assert!(
        printed.contains("sealed the audit log through entry"),
        "{printed}"
    );
    let listed = stdout(&env.rampart(&["jobs", "list"]));
    for name in ["reminders", "drift", "digest", "retention", "backup"] {
        assert!(listed.contains(name), "{listed}");
    }
    assert!(
        listed.contains("0 7 * * *"),
        "default schedule shown: {listed}"
    );

    // The API and the page: the administrator only; running needs the CSRF token.
    let list = ok(admin.get(&server, "/api/v1/admin/jobs"));
    assert_eq!(list.as_array().unwrap().len(), 5);
    assert_eq!(owner.get(&server, "/api/v1/admin/jobs").status(), 403);
    assert_eq!(
        admin
            .post(&server, "/api/v1/admin/jobs/drift/run", None)
            .status(),
        403,
        "no CSRF token"
    );
    let run = ok(admin.post(&server, "/api/v1/admin/jobs/drift/run", Some(&admin.csrf)));
    assert_eq!(run["ok"], true, "{run}");
    assert_eq!(run["trigger"], "manual");
    assert_eq!(
        owner
            .post(&server, "/api/v1/admin/jobs/drift/run", Some(&owner.csrf))
            .status(),
        403
    );
    let page = admin.get(&server, "/admin/jobs");
    assert_eq!(page.status(), 200);
    let html = page.text().unwrap();
    assert!(html.contains("data-run=\"retention\""), "{html}");
    assert!(html.contains("sealed the audit log"), "last outcome shown");
    assert_eq!(owner.get(&server, "/admin/jobs").status(), 403);

    // With the daemon stopped, the list still reads from the store.
    server.stop();
    let listed = stdout(&env.rampart(&["jobs", "list"]));
    assert!(listed.contains("retention"), "{listed}");
}
