//! The compliance core through the real server: assessments to the objective, requirement
//! details with history, the score (which must equal `rampart score`), POA&M, gaps, drift,
//! and what mistakes and other tenants get.

use reqwest::blocking::Response;
use serde_json::{Value, json};

use crate::harness::{TestEnv, TestServer, stderr, stdout};
use crate::identity::{ADMIN_EMAIL, ADMIN_PASSWORD, Session, origin, send, set_up};

fn ok_json(response: Response) -> Value {
    let status = response.status();
    let text = response.text().unwrap();
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// Creates an assessment of `framework` in `org`; returns its id.
pub fn create_assessment(
    server: &TestServer,
    session: &Session,
    org: &str,
    framework: &str,
) -> String {
    let created = ok_json(send(
        server,
        session,
        "POST",
        &format!("/api/v1/orgs/{org}/assessments"),
        &json!({"name": format!("2026 self-assessment, {framework}"), "framework": framework}),
    ));
    assert_eq!(created["framework"], framework);
    created["id"].as_str().unwrap().to_owned()
}

/// The Rev 2 objective ids in catalog order, from the shipped scoring table.
fn rev2_objectives() -> Vec<String> {
    let catalog: Value =
        serde_json::from_str(include_str!("../../controls/nist-800-171r2-scoring.json")).unwrap();
    catalog["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["objectives"].as_array().unwrap().clone())
        .map(|o| o.as_str().unwrap().to_owned())
        .collect()
}

fn error_of(response: Response, status: u16) -> Value {
    let got = response.status().as_u16();
    let body: Value = response.json().unwrap();
    assert_eq!(got, status, "{body}");
    body["error"].clone()
}

/// Another organization, Initech, and its owner signed in.
fn stranger(env: &TestEnv, server: &TestServer) -> (String, Session) {
    const PASSWORD: &str = "velvet orbit canyon 93 drift";
    let org = crate::matrix::create_org(env, "Initech");
    crate::identity::create_user(env, "owner@initech.example", PASSWORD, &org, "owner");
    (
        org,
        Session::login(server, "owner@initech.example", PASSWORD),
    )
}

fn signed_in() -> (TestEnv, TestServer, Session, String) {
    let env = TestEnv::new();
    let server = env.serve();
    let org = set_up(&server);
    let session = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    (env, server, session, org)
}

#[test]
fn an_assessment_scores_exactly_as_rampart_score_does() {
    let (env, server, owner, org) = signed_in();
    let id = create_assessment(&server, &owner, &org, "cmmc-l2");
    let base = format!("/api/v1/orgs/{org}/assessments/{id}");

    // Everything met but 3.1.5[a] (3 points, not eligible), 3.4.9[b] (1 point) and 3.13.11
    // (encryption employed, not FIPS-validated: 3 points, eligible).
    let unmet = ["3.1.5[a]", "3.4.9[b]", "3.13.11"];
    let updates: Vec<Value> = rev2_objectives()
        .iter()
        .map(|o| {
            let status = if unmet.contains(&o.as_str()) {
                "not_met"
            } else {
                "met"
            };
            json!({"objective": o, "status": status})
        })
        .collect();
    let result = ok_json(send(
        &server,
        &owner,
        "PATCH",
        &format!("{base}/objectives"),
        &json!({"updates": updates}),
    ));
    assert_eq!(result["changed"], 320);

    ok_json(send(
        &server,
        &owner,
        "PUT",
        &format!("{base}/requirements/3.13.11"),
        &json!({"implementation": "TLS 1.3 everywhere; the module is not yet validated.",
                "encryption_partial": true}),
    ));
    ok_json(send(
        &server,
        &owner,
        "PUT",
        &format!("{base}/requirements/3.4.9"),
        &json!({"temporary_deficiency": "SSP section 4.9"}),
    ));
    for requirement in ["3.1.5", "3.4.9", "3.13.11"] {
        ok_json(send(
            &server,
            &owner,
            "PUT",
            &format!("{base}/poam/{requirement}"),
            &json!({"weakness": "Not yet in place", "remediation": "Put it in place",
                    "milestones": [{"title": "Done", "due": "2099-01-01"}], "status": "open"}),
        ));
    }

    let api = ok_json(owner.get(&server, &format!("{base}/score")));
    let input = json!({
        "objectives": updates.iter().map(|u| (u["objective"].as_str().unwrap().to_owned(), u["status"].clone())).collect::<serde_json::Map<_, _>>(),
        "encryption": "not_fips_validated",
        "temporary_deficiencies": ["3.4.9"],
        "plan_of_action": ["3.1.5", "3.4.9", "3.13.11"],
    });
    let file = env.path().join("assessment.json");
    std::fs::write(&file, input.to_string()).unwrap();
    let out = env.rampart(&["score", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let cli: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(api, cli, "the API and `rampart score` disagree");
    assert_eq!(api["score"], 103);
    assert_eq!(api["level2"]["score"], 104);
    assert_eq!(api["level2"]["not_eligible"], json!(["3.1.5"]));

    // The dashboard shows the same outcome, and today's point on the trend.
    let dashboard = ok_json(owner.get(&server, &format!("{base}/dashboard")));
    assert_eq!(dashboard["outcome"], api);
    assert_eq!(dashboard["families"].as_array().unwrap().len(), 14);
    assert_eq!(
        dashboard["trend"].as_array().unwrap().last().unwrap()["score"],
        103
    );

    // Gaps: 3.1.5 must be fixed for conditional status; final needs both.
    let gaps_before = ok_json(owner.get(&server, &format!("{base}/gaps")));
    let gaps = ok_json(owner.get(&server, &format!("{base}/gaps")));
    assert_eq!(gaps["to_conditional"]["fixes"], json!(["3.1.5"]));
    assert_eq!(gaps["to_conditional"]["score_after"], 107);
    assert_eq!(gaps["to_final"]["fixes"], json!(["3.1.5", "3.13.11"]));

    // The POA&M says why each item may or may not be there.
    let poam = ok_json(owner.get(&server, &format!("{base}/poam")));
    let entry = |id: &str| {
        poam["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["requirement"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(entry("3.1.5")["eligible"], false);
    assert!(entry("3.1.5")["why"].as_str().unwrap().contains("3 points"));
    assert_eq!(entry("3.13.11")["eligible"], true);
    assert_eq!(entry("3.13.11")["next_due"], "2099-01-01");
    assert_eq!(gaps_before["to_conditional"]["fixes"], json!(["3.1.5"]));

    // A change shows on the next dashboard read (dashboards are cached between changes).
    ok_json(send(
        &server,
        &owner,
        "PATCH",
        &format!("{base}/objectives"),
        &json!({"updates": [{"objective": "3.1.5[a]", "status": "met"}]}),
    ));
    let dashboard = ok_json(owner.get(&server, &format!("{base}/dashboard")));
    assert_eq!(dashboard["outcome"]["score"], 106);
    assert_eq!(dashboard["outcome"]["level2"]["status"], "conditional");
}

#[test]
fn every_decision_is_kept_with_who_when_where_and_what_changed() {
    let (env, server, owner, org) = signed_in();
    let id = create_assessment(&server, &owner, &org, "nist-800-171r2");
    let base = format!("/api/v1/orgs/{org}/assessments/{id}");
    let set = |status: &str, note: &str| {
        ok_json(send(
            &server,
            &owner,
            "PATCH",
            &format!("{base}/objectives"),
            &json!({"updates": [
                {"objective": "3.1.1[a]", "status": status, "note": note},
                {"objective": "3.1.1[b]", "status": "met"}, {"objective": "3.1.1[c]", "status": "met"},
                {"objective": "3.1.1[d]", "status": "met"}, {"objective": "3.1.1[e]", "status": "met"},
                {"objective": "3.1.1[f]", "status": "met"}]}),
        ))
    };
    set("met", "Directory lists every user");
    // Setting the same again changes nothing and records nothing.
    assert_eq!(set("met", "Directory lists every user")["changed"], 0);
    set("not_met", "Two shared accounts found");

    let view = ok_json(owner.get(&server, &format!("{base}/requirements/3.1.1")));
    assert_eq!(view["status"], "not_met");
    let history = view["history"].as_array().unwrap();
    assert_eq!(history.len(), 7, "{history:?}");
    let latest = &history[0];
    assert_eq!(latest["subject"], "3.1.1[a]");
    assert_eq!(latest["source"], "page");
    assert_eq!(
        latest["before"],
        json!({"status": "met", "note": "Directory lists every user"})
    );
    assert_eq!(
        latest["after"],
        json!({"status": "not_met", "note": "Two shared accounts found"})
    );
    assert!(latest["actor"].as_str().unwrap().len() > 10);

    // Met, then not met: drift, linking to the requirement.
    let drift = ok_json(owner.get(&server, &format!("/api/v1/orgs/{org}/drift")));
    let regression = drift
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "regression")
        .unwrap_or_else(|| panic!("no regression in {drift}"));
    assert_eq!(regression["requirement"], "3.1.1");
    assert_eq!(
        regression["link"],
        format!("/orgs/{org}/assessments/{id}/requirements/3.1.1")
    );
    // The drift message carries no notes.
    assert!(!drift.to_string().contains("shared accounts"));

    // Met again: the regression is gone.
    set("met", "Shared accounts removed");
    let drift = ok_json(owner.get(&server, &format!("/api/v1/orgs/{org}/drift")));
    assert!(
        drift
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["kind"] != "regression")
    );

    // Overdue milestones and status dates coming due are drift too.
    ok_json(send(
        &server,
        &owner,
        "PUT",
        &format!("{base}/poam/3.1.3"),
        &json!({"weakness": "Flow control", "remediation": "Deploy the proxy", "status": "open",
                "milestones": [{"title": "Proxy deployed", "due": "2020-01-01"}]}),
    ));
    ok_json(send(
        &server,
        &owner,
        "PUT",
        &base,
        &json!({"name": "Renamed", "dates": {"conditional_status_date": "2020-01-01"}}),
    ));
    let drift = ok_json(owner.get(&server, &format!("/api/v1/orgs/{org}/drift")));
    let kinds: Vec<&str> = drift
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"milestone_overdue"), "{kinds:?}");
    assert!(kinds.contains(&"closeout"), "{kinds:?}");
    let closeout = drift
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "closeout")
        .unwrap();
    assert_eq!(closeout["date"], "2020-06-29");
    assert!(closeout["days"].as_i64().unwrap() < 0);

    // Each change is audited.
    let out = env.rampart(&["audit", "export"]);
    let log = stdout(&out);
    for action in [
        "assessment.create",
        "assessment.objectives_update",
        "assessment.update",
        "poam.update",
    ] {
        assert!(log.contains(action), "{action} not audited");
    }
}

#[test]
fn bad_input_is_refused_by_name_and_changes_nothing() {
    let (_env, server, owner, org) = signed_in();
    let id = create_assessment(&server, &owner, &org, "cmmc-l2");
    let base = format!("/api/v1/orgs/{org}/assessments/{id}");
    let patch = |updates: Value| {
        send(
            &server,
            &owner,
            "PATCH",
            &format!("{base}/objectives"),
            &json!({ "updates": updates }),
        )
    };

    // A good first update and a bad second one: neither lands.
    let error = error_of(
        patch(json!([{"objective": "3.1.1[a]", "status": "met"},
                     {"objective": "3.1.99[a]", "status": "met"}])),
        422,
    );
    assert_eq!(error["field"], "updates[1].objective");
    assert!(error["message"].as_str().unwrap().contains("3.1.99[a]"));
    let error = error_of(
        patch(json!([{"objective": "3.1.1[a]", "status": "done"}])),
        422,
    );
    assert_eq!(error["field"], "updates[0].status");
    assert!(error["message"].as_str().unwrap().contains("\"done\""));
    let error = error_of(
        patch(json!([{"objective": "3.1.1[a]", "status": "met"},
                     {"objective": "3.1.1[a]", "status": "not_met"}])),
        422,
    );
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("more than once")
    );
    let error = error_of(patch(json!([])), 422);
    assert_eq!(error["field"], "updates");

    // A 10 MB note is refused before it is read.
    let huge = "x".repeat(10 * 1024 * 1024);
    let response = patch(json!([{"objective": "3.1.1[a]", "status": "met", "note": huge}]));
    assert_eq!(response.status(), 413);
    // A note just over the limit gets a clear message naming the field.
    let long = "x".repeat(10_001);
    let error = error_of(
        patch(json!([{"objective": "3.1.1[a]", "status": "met", "note": long}])),
        422,
    );
    assert_eq!(error["field"], "updates[0].note");

    let objectives = ok_json(owner.get(&server, &format!("{base}/objectives")));
    let first = &objectives["objectives"][0];
    assert_eq!(first["id"], "3.1.1[a]");
    assert_eq!(first["status"], "not_assessed", "a refused change landed");
    assert_eq!(objectives["objectives"].as_array().unwrap().len(), 320);

    // Requirement details: unknown requirement, partial credit on the wrong requirement,
    // a marker without its SSP reference, a responsible person who is not a member.
    let put = |requirement: &str, body: Value| {
        send(
            &server,
            &owner,
            "PUT",
            &format!("{base}/requirements/{requirement}"),
            &body,
        )
    };
    assert_eq!(
        error_of(put("3.99.1", json!({})), 422)["field"],
        "requirement_id"
    );
    assert_eq!(
        error_of(put("3.1.1", json!({"mfa_partial": true})), 422)["field"],
        "mfa_partial"
    );
    assert_eq!(
        error_of(put("3.1.1", json!({"enduring_exception": " "})), 422)["field"],
        "enduring_exception"
    );
    assert_eq!(
        error_of(
            put(
                "3.1.1",
                json!({"responsible": ["00000000-0000-4000-8000-000000000000"]})
            ),
            422
        )["field"],
        "responsible[0]"
    );
    assert_eq!(
        error_of(put("3.1.1", json!({"review_date": "next week"})), 422)["field"],
        "review_date"
    );
    let view = ok_json(owner.get(&server, &format!("{base}/requirements/3.1.1")));
    assert!(view["history"].as_array().unwrap().is_empty());

    // Unknown frameworks and malformed POA&M items.
    let error = error_of(
        send(
            &server,
            &owner,
            "POST",
            &format!("/api/v1/orgs/{org}/assessments"),
            &json!({"name": "x", "framework": "iso-27001"}),
        ),
        422,
    );
    assert!(error["message"].as_str().unwrap().contains("cmmc-l2"));
    let error = error_of(
        send(
            &server,
            &owner,
            "PUT",
            &format!("{base}/poam/3.1.3"),
            &json!({"weakness": "w", "remediation": "r", "status": "closed"}),
        ),
        422,
    );
    assert_eq!(error["field"], "closing_evidence");
    let error = error_of(
        send(
            &server,
            &owner,
            "PUT",
            &format!("{base}/poam/3.1.3"),
            &json!({"weakness": "w", "remediation": "r", "status": "open",
                    "milestones": [{"title": "t", "due": "2026-02-30"}]}),
        ),
        422,
    );
    assert_eq!(error["field"], "milestones[0].due");

    // Malformed JSON and a malformed assessment id.
    let response = server
        .client
        .patch(server.url(&format!("{base}/objectives")))
        .header("origin", origin(&server))
        .header("cookie", &owner.cookie)
        .header("x-csrf-token", &owner.csrf)
        .header("content-type", "application/json")
        .body("{\"updates\": [")
        .send()
        .unwrap();
    assert_eq!(response.status(), 400);
    let response = owner.get(
        &server,
        &format!("/api/v1/orgs/{org}/assessments/not-a-uuid"),
    );
    assert_eq!(response.status(), 404);
}

#[test]
fn another_organizations_assessment_is_not_found_anywhere() {
    let (env, server, owner, org) = signed_in();
    let (other, stranger) = stranger(&env, &server);
    let theirs = create_assessment(&server, &stranger, &other, "cmmc-l2");
    let ours = create_assessment(&server, &owner, &org, "cmmc-l2");

    // Their id under our organization, and our id under theirs: both unknown.
    for path in [
        format!("/api/v1/orgs/{org}/assessments/{theirs}"),
        format!("/api/v1/orgs/{org}/assessments/{theirs}/score"),
        format!("/api/v1/orgs/{org}/assessments/{theirs}/requirements/3.1.1"),
        format!("/api/v1/orgs/{other}/assessments/{ours}"),
    ] {
        let response = owner.get(&server, &path);
        assert_eq!(response.status(), 404, "{path}");
    }
    for path in [
        format!("/api/v1/orgs/{org}/assessments/{theirs}/objectives"),
        format!("/api/v1/orgs/{other}/assessments/{theirs}/objectives"),
    ] {
        let response = send(
            &server,
            &owner,
            "PATCH",
            &path,
            &json!({"updates": [{"objective": "3.1.1[a]", "status": "met"}]}),
        );
        assert_eq!(response.status(), 404, "{path}");
    }
    let listed = ok_json(owner.get(&server, &format!("/api/v1/orgs/{org}/assessments")));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], ours);
}

#[test]
fn pages_show_the_assessment_to_readers_and_edit_controls_to_writers() {
    let (env, server, owner, org) = signed_in();
    let id = create_assessment(&server, &owner, &org, "cmmc-l2");
    let base = format!("/api/v1/orgs/{org}/assessments/{id}");
    ok_json(send(
        &server,
        &owner,
        "PATCH",
        &format!("{base}/objectives"),
        &json!({"updates": [{"objective": "3.12.4[a]", "status": "met"},
                            {"objective": "3.1.1[a]", "status": "not_met", "note": "Shared logins"}]}),
    ));
    let page = |session: &Session, path: &str| {
        let response = session.get(&server, path);
        let status = response.status().as_u16();
        (status, response.text().unwrap())
    };
    let pages = format!("/orgs/{org}/assessments/{id}");
    let (status, dashboard) = page(&owner, &pages);
    assert_eq!(status, 200);
    assert!(dashboard.contains(r#"id="family-chart""#), "{dashboard}");
    assert!(dashboard.contains("<rect class=\"seg-not_met\""));
    assert!(dashboard.contains(r#"id="level2-status""#));
    // All but 3.12.4 and 3.1.1's other objectives unassessed: the score is far below 88.
    let api = ok_json(owner.get(&server, &format!("{base}/score")));
    let score = api["score"].as_i64().unwrap();
    assert!(dashboard.contains(&format!("<span class=\"tile-value\">{score}</span>")));

    let (status, objectives) = page(&owner, &format!("{pages}/objectives"));
    assert_eq!(status, 200);
    assert!(objectives.contains(r#"data-objective="3.1.1[a]" data-status="not_met""#));
    assert!(
        objectives.contains(r#"class="status""#),
        "owners get the status controls"
    );
    assert!(objectives.contains("Shared logins"));
    let (status, requirement) = page(&owner, &format!("{pages}/requirements/3.1.1"));
    assert_eq!(status, 200);
    assert!(requirement.contains(r#"id="history""#));
    assert!(requirement.contains("Shared logins"));
    for sub in ["poam?show=unplanned", "gaps"] {
        let (status, body) = page(&owner, &format!("{pages}/{sub}"));
        assert_eq!(status, 200, "{sub}: {body}");
        assert!(body.contains("3.1.1"), "{sub}");
    }
    let (status, drift) = page(&owner, &format!("/orgs/{org}/drift"));
    assert_eq!(status, 200);
    assert!(drift.contains(r#"id="drift""#));
    let (status, list) = page(&owner, &format!("/orgs/{org}/assessments"));
    assert_eq!(status, 200);
    assert!(list.contains(&id) && list.contains("new-assessment"));

    // A viewer reads without controls.
    crate::identity::create_user(
        &env,
        "viewer@example.com",
        "velvet orbit canyon 93 drift",
        &org,
        "viewer",
    );
    let viewer = Session::login(
        &server,
        "viewer@example.com",
        "velvet orbit canyon 93 drift",
    );
    let (status, objectives) = page(&viewer, &format!("{pages}/objectives"));
    assert_eq!(status, 200);
    assert!(!objectives.contains(r#"class="status""#));
    assert!(!objectives.contains("bulk-apply"));
    assert!(objectives.contains(r#"data-status="not_met""#));
    let (_, list) = page(&viewer, &format!("/orgs/{org}/assessments"));
    assert!(!list.contains("new-assessment"));

    // Someone else's organization is not found; no session is sent to sign in.
    let (other, stranger) = stranger(&env, &server);
    assert_eq!(page(&stranger, &pages).0, 404);
    assert_eq!(
        page(&stranger, &format!("/orgs/{other}/assessments/{id}")).0,
        404
    );
    let response = crate::pages::no_redirect(&env)
        .get(server.url(&pages))
        .send()
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/signin");
}

/// A small OSCAL 1.1.3 catalog: one group, two controls, one with two objectives.
fn small_catalog(uuid: &str) -> Value {
    json!({"catalog": {
        "uuid": uuid,
        "metadata": {"title": "Acme internal controls", "last-modified": "2026-01-01T00:00:00Z",
                     "version": "1.0", "oscal-version": "1.1.3"},
        "groups": [{"id": "acc", "title": "Access", "controls": [
            {"id": "acc-1", "title": "Badges", "parts": [
                {"id": "acc-1_smt", "name": "statement", "prose": "Staff wear badges."},
                {"id": "acc-1_obj.a", "name": "assessment-objective", "prose": "badges are issued"},
                {"id": "acc-1_obj.b", "name": "assessment-objective", "prose": "badges are worn"}]},
            {"id": "acc-2", "title": "Visitors", "parts": [
                {"id": "acc-2_smt", "name": "statement", "prose": "Visitors are escorted."}]}
        ]}]
    }})
}

#[test]
fn imported_catalogs_are_validated_and_can_be_assessed() {
    let (env, server, owner, org) = signed_in();
    let import = |body: String| {
        server
            .client
            .post(server.url(&format!("/api/v1/orgs/{org}/catalogs")))
            .header("origin", origin(&server))
            .header("cookie", &owner.cookie)
            .header("x-csrf-token", &owner.csrf)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .unwrap()
    };

    // Not JSON; JSON that breaks the schema (a control id that is no token, no metadata
    // title): each problem is named by its JSON path; too large.
    let error = error_of(import("{\"catalog\": [".into()), 422);
    assert_eq!(error["code"], "invalid_document");
    assert!(
        error["message"].as_str().unwrap().contains("line 1"),
        "{error}"
    );
    let mut bad = small_catalog("9b1c4f5e-0000-4000-8000-000000000001");
    bad["catalog"]["groups"][0]["controls"][0]["id"] = json!("1.1");
    bad["catalog"]["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("title");
    let error = error_of(import(bad.to_string()), 422);
    let paths: Vec<&str> = error["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"/catalog/groups/0/controls/0/id"),
        "{error}"
    );
    assert!(
        paths.iter().any(|p| p.starts_with("/catalog/metadata")),
        "{error}"
    );
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("not a valid OSCAL 1.1.3 catalog ("),
        "{error}"
    );
    let response = import(format!("{{\"pad\": \"{}\"}}", "x".repeat(11 * 1024 * 1024)));
    assert_eq!(response.status(), 413);
    let listed = ok_json(owner.get(&server, &format!("/api/v1/orgs/{org}/catalogs")));
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["imported"] == false)
    );

    // A good one imports once; the same uuid again is a conflict.
    let uuid = "9b1c4f5e-0000-4000-8000-000000000002";
    let response = import(small_catalog(uuid).to_string());
    assert_eq!(response.status(), 201);
    let summary: Value = response.json().unwrap();
    assert_eq!(summary["requirements"], 2);
    assert_eq!(summary["objectives"], 3);
    assert_eq!(import(small_catalog(uuid).to_string()).status(), 409);
    let framework = summary["id"].as_str().unwrap().to_owned();

    // Assessed like any framework, without an SPRS score.
    let id = create_assessment(&server, &owner, &org, &framework);
    let base = format!("/api/v1/orgs/{org}/assessments/{id}");
    let objectives = ok_json(owner.get(&server, &format!("{base}/objectives")));
    let ids: Vec<&str> = objectives["objectives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    let updates: Vec<Value> = ids
        .iter()
        .map(|o| json!({"objective": o, "status": "met"}))
        .collect();
    ok_json(send(
        &server,
        &owner,
        "PATCH",
        &format!("{base}/objectives"),
        &json!({"updates": updates}),
    ));
    let dashboard = ok_json(owner.get(&server, &format!("{base}/dashboard")));
    assert_eq!(dashboard["scored"], false);
    assert_eq!(dashboard["requirements"]["met"], 2);
    assert_eq!(
        error_of(owner.get(&server, &format!("{base}/score")), 409)["code"],
        "conflict"
    );
    let out = env.rampart(&["audit", "export"]);
    assert!(stdout(&out).contains("catalog.import"));
}

#[test]
fn rev3_and_csf_assessments_show_status_per_family() {
    let (_env, server, owner, org) = signed_in();
    for (framework, families, first) in [
        ("nist-800-171r3", 17, "03.01.01"),
        ("nist-csf-2.0", 6, "GV.OC"),
        ("cmmc-l1", 6, "3.1.1"),
    ] {
        let id = create_assessment(&server, &owner, &org, framework);
        let base = format!("/api/v1/orgs/{org}/assessments/{id}");
        let objectives = ok_json(owner.get(&server, &format!("{base}/objectives")));
        let first_objective = objectives["objectives"][0].clone();
        assert_eq!(first_objective["requirement"], first, "{framework}");
        ok_json(send(
            &server,
            &owner,
            "PATCH",
            &format!("{base}/objectives"),
            &json!({"updates": [{"objective": first_objective["id"], "status": "not_met"}]}),
        ));
        let dashboard = ok_json(owner.get(&server, &format!("{base}/dashboard")));
        assert_eq!(
            dashboard["families"].as_array().unwrap().len(),
            families,
            "{framework}"
        );
        assert_eq!(dashboard["requirements"]["not_met"], 1, "{framework}");
        if framework == "cmmc-l1" {
            assert_eq!(dashboard["outcome"]["level1"]["status"], "not_met");
        } else {
            assert_eq!(dashboard["scored"], false, "{framework}");
            assert_eq!(owner.get(&server, &format!("{base}/score")).status(), 409);
        }
        // A Rev 2 objective id is not an objective of Rev 3 or CSF.
        if framework != "cmmc-l1" {
            let response = send(
                &server,
                &owner,
                "PATCH",
                &format!("{base}/objectives"),
                &json!({"updates": [{"objective": "3.1.1[a]", "status": "met"}]}),
            );
            assert_eq!(response.status(), 422, "{framework}");
        }
    }
    let catalogs = ok_json(owner.get(&server, "/api/v1/catalogs"));
    let rev3 = catalogs
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "nist-800-171r3")
        .unwrap();
    assert_eq!(rev3["requirements"], 97);
    assert!(rev3["withdrawn"].as_u64().unwrap() > 0);
}

#[test]
fn organization_defined_parameters_are_kept_per_organization() {
    let (env, server, owner, org) = signed_in();
    let path = format!("/api/v1/orgs/{org}/parameters/nist-800-171r3");
    let listed = ok_json(owner.get(&server, &path));
    let first = &listed[0];
    assert_eq!(first["id"], "A.03.01.01.ODP.01");
    assert_eq!(first["requirement"], "03.01.01");
    assert!(first["value"].is_null());

    let changed = ok_json(send(
        &server,
        &owner,
        "PUT",
        &path,
        &json!({"values": {"A.03.01.01.ODP.01": "90 days", "A.03.01.01.ODP.02": "24 hours"}}),
    ));
    assert_eq!(changed["changed"], 2);
    // An unknown id refuses the whole change.
    let error = error_of(
        send(
            &server,
            &owner,
            "PUT",
            &path,
            &json!({"values": {"A.03.01.01.ODP.01": "30 days", "A.99.ODP.01": "x"}}),
        ),
        422,
    );
    assert_eq!(error["field"], "values.A.99.ODP.01");
    let listed = ok_json(owner.get(&server, &path));
    assert_eq!(listed[0]["value"]["value"], "90 days");
    assert_eq!(listed[1]["value"]["value"], "24 hours");

    // The requirement view of a Rev 3 assessment carries them.
    let id = create_assessment(&server, &owner, &org, "nist-800-171r3");
    let view = ok_json(owner.get(
        &server,
        &format!("/api/v1/orgs/{org}/assessments/{id}/requirements/03.01.01"),
    ));
    assert_eq!(view["parameters"][0]["value"]["value"], "90 days");

    // Another organization has its own values.
    let (other, stranger) = stranger(&env, &server);
    let theirs = ok_json(stranger.get(
        &server,
        &format!("/api/v1/orgs/{other}/parameters/nist-800-171r3"),
    ));
    assert!(theirs[0]["value"].is_null());
    assert_eq!(stranger.get(&server, &path).status(), 404);
    assert_eq!(
        error_of(
            owner.get(&server, &format!("/api/v1/orgs/{org}/parameters/iso-27001")),
            422
        )["field"],
        "framework"
    );
}

/// Pages viewed again with nothing changed are answered from what was kept (memberships,
/// organization names, the dashboard); every change must show on the very next view, and
/// above all a removed member must lose the organization at once.
#[test]
fn kept_pages_follow_every_change_at_once() {
    const PASSWORD: &str = "amber quiver tundra 58 sail";
    let (env, server, owner, org) = signed_in();
    let id = create_assessment(&server, &owner, &org, "cmmc-l2");
    let member_id =
        crate::identity::create_user(&env, "member@example.com", PASSWORD, &org, "member");
    let member = Session::login(&server, "member@example.com", PASSWORD);
    let name = ok_json(owner.get(&server, &format!("/api/v1/orgs/{org}")))["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let dashboard = format!("/orgs/{org}/assessments/{id}");
    let view = |session: &Session, path: &str| {
        let response = session.get(&server, path);
        (response.status().as_u16(), response.text().unwrap())
    };
    for round in 0..3 {
        let (status, body) = view(&member, &dashboard);
        assert_eq!(status, 200, "round {round}");
        assert!(body.contains(&name), "round {round}");
        // No SSP yet (3.12.4[a] not met): no score.
        assert!(
            body.contains("<span class=\"tile-value\">—</span>"),
            "round {round}"
        );
        assert!(view(&member, "/").1.contains(&name), "round {round}");
    }

    // Decisions: the next dashboard view shows the new score.
    let updates: Vec<Value> = rev2_objectives()
        .into_iter()
        .map(|objective| json!({"objective": objective, "status": "met"}))
        .collect();
    ok_json(send(
        &server,
        &owner,
        "PATCH",
        &format!("/api/v1/orgs/{org}/assessments/{id}/objectives"),
        &json!({"updates": updates}),
    ));
    let (_, body) = view(&member, &dashboard);
    assert!(
        body.contains("<span class=\"tile-value\">110</span>"),
        "{body}"
    );

    // A new name: the next views show it.
    ok_json(send(
        &server,
        &owner,
        "PUT",
        &format!("/api/v1/orgs/{org}"),
        &json!({"name": "Renamed Widgets"}),
    ));
    assert!(view(&member, &dashboard).1.contains("Renamed Widgets"));
    assert!(view(&member, "/").1.contains("Renamed Widgets"));
    assert!(view(&member, &dashboard).1.contains("Renamed Widgets"));

    // Removed (which also ends their sessions): the very next view shows nothing of it.
    let response = send(
        &server,
        &owner,
        "DELETE",
        &format!("/api/v1/orgs/{org}/members/{member_id}"),
        &json!({}),
    );
    assert_eq!(response.status(), 204);
    for path in [dashboard.as_str(), "/"] {
        let (_, body) = view(&member, path);
        assert!(!body.contains("Renamed Widgets"), "{path}: {body}");
        assert!(!body.contains("tile-value"), "{path}");
    }

    // The appliance administrator looking into an organization it is not a member of is
    // never answered from what was kept: each view is read, and audited, again.
    let (other, stranger) = stranger(&env, &server);
    let theirs = create_assessment(&server, &stranger, &other, "cmmc-l2");
    let foreign = format!("/orgs/{other}/assessments/{theirs}");
    let audited_reads = || {
        stdout(&env.rampart(&["audit", "export"]))
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap())
            .filter(|e| e["action"] == "admin.org_read" && e["org"] == other.as_str())
            .count()
    };
    let before = audited_reads();
    for _ in 0..3 {
        let (status, body) = view(&owner, &foreign);
        assert_eq!(status, 200);
        assert!(body.contains("tile-value"));
    }
    assert_eq!(audited_reads(), before + 3);
}

#[test]
fn the_overview_follows_every_change_and_stays_inside_its_organization() {
    let (env, server, owner, org) = signed_in();
    let overview = format!("/orgs/{org}");
    let view = |session: &Session, path: &str| {
        let response = session.get(&server, path);
        (response.status().as_u16(), response.text().unwrap())
    };
    // Twice, so the second view is the one kept since the last commit.
    for _ in 0..2 {
        let (status, body) = view(&owner, &overview);
        assert_eq!(status, 200);
        assert!(body.contains("No assessment yet"), "{body}");
        assert!(body.contains("id=\"first-steps\""));
    }
    let id = create_assessment(&server, &owner, &org, "cmmc-l2");
    let (_, body) = view(&owner, &overview);
    assert!(
        body.contains(&format!("/orgs/{org}/assessments/{id}\"")),
        "a commit makes the kept overview stale: {body}"
    );
    assert!(body.contains("1 of 5 done"), "{body}");

    // Another organization's owner reads it as if it did not exist, kept or not.
    let (_, other) = stranger(&env, &server);
    let (status, _) = view(&other, &overview);
    assert_eq!(status, 404);
}
