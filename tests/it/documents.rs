//! Documents through the real server: the system description, OSCAL exports checked by our
//! validator (in the server) and by an independent one (check-jsonschema), and what other
//! tenants, viewers and bad input get.

use std::path::Path;
use std::process::Command;

use reqwest::blocking::Response;
use serde_json::{Value, json};

use crate::compliance::create_assessment;
use crate::harness::{TestEnv, TestServer};
use crate::identity::{ADMIN_EMAIL, ADMIN_PASSWORD, Session, send, set_up};

fn ok_json(response: Response) -> Value {
    let status = response.status();
    let text = response.text().unwrap();
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// Runs check-jsonschema (PyPI; `scripts/test` installs it) on `files` against one of the
/// OSCAL schemas NIST publishes, as shipped in `controls/oscal/`.
pub fn check_jsonschema(schema: &str, files: &[&Path]) {
    let schema = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("controls/oscal")
        .join(schema);
    let out = Command::new("check-jsonschema")
        .arg("--schemafile")
        .arg(&schema)
        .args(files)
        .output()
        .expect("check-jsonschema is installed by scripts/test");
    assert!(
        out.status.success(),
        "check-jsonschema refused {files:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An assessment with decisions of every kind, a POA&M item, details and a system
/// description.
fn assessed(server: &TestServer, owner: &Session, org: &str) -> String {
    let id = create_assessment(server, owner, org, "cmmc-l2");
    let base = format!("/api/v1/orgs/{org}/assessments/{id}");
    ok_json(send(
        server,
        owner,
        "PATCH",
        &format!("{base}/objectives"),
        &json!({"updates": [
            {"objective": "3.1.1[a]", "status": "met", "note": "Accounts listed in the directory"},
            {"objective": "3.1.1[b]", "status": "met"},
            {"objective": "3.1.3[a]", "status": "not_met", "note": "No flow control yet"},
            {"objective": "3.1.22[a]", "status": "not_applicable"},
        ]}),
    ));
    ok_json(send(
        server,
        owner,
        "PUT",
        &format!("{base}/requirements/3.1.1"),
        &json!({"implementation": "Accounts are provisioned through the directory <with approval> & reviewed.",
                "inheritance": {"kind": "partial", "provider": "Acme Cloud", "customer_share": "Account reviews"}}),
    ));
    ok_json(send(
        server,
        owner,
        "PUT",
        &format!("{base}/poam/3.1.3"),
        &json!({"weakness": "CUI flow is not controlled", "remediation": "Deploy a DLP gateway",
                "milestones": [{"title": "Gateway installed", "due": "2027-03-01"}], "status": "open"}),
    ));
    ok_json(send(
        server,
        owner,
        "PUT",
        &format!("/api/v1/orgs/{org}/system"),
        &json!({"system_name": "Acme CUI enclave", "system_id": "ACME-ENC-1",
                "description": "Engineering workstations handling CUI drawings.",
                "boundary": "Building 2, VLAN 40.", "environment": "Windows 11, on premises.",
                "interconnections": "None.",
                "roles": [{"title": "System owner", "name": "Ada Lovelace", "contact": "ada@acme.example"}]}),
    ));
    id
}

/// Another organization, Initech, and its owner signed in.
fn stranger(env: &TestEnv, server: &TestServer) -> (String, Session) {
    const PASSWORD: &str = "velvet orbit canyon 93 drift";
    let other = crate::matrix::create_org(env, "Initech");
    crate::identity::create_user(env, "owner@initech.example", PASSWORD, &other, "owner");
    (
        other,
        Session::login(server, "owner@initech.example", PASSWORD),
    )
}

/// A viewer of `org`, signed in.
fn viewer(env: &TestEnv, server: &TestServer, org: &str) -> Session {
    const PASSWORD: &str = "quiet lantern meadow 57 ridge";
    crate::identity::create_user(env, "viewer@acme.example", PASSWORD, org, "viewer");
    Session::login(server, "viewer@acme.example", PASSWORD)
}

#[test]
fn oscal_exports_validate_with_both_validators_and_say_what_was_decided() {
    let env = TestEnv::new();
    let server = env.serve();
    let org = set_up(&server);
    let owner = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let id = assessed(&server, &owner, &org);
    let oscal = format!("/api/v1/orgs/{org}/assessments/{id}/oscal");

    let response = owner.get(&server, &format!("{oscal}/ssp"));
    assert!(
        response
            .headers()
            .get("content-disposition")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let ssp = ok_json(response);
    let plan = &ssp["system-security-plan"];
    assert_eq!(
        plan["system-characteristics"]["system-name"],
        "Acme CUI enclave"
    );
    assert_eq!(plan["metadata"]["oscal-version"], "1.1.3");
    let implemented = plan["control-implementation"]["implemented-requirements"]
        .as_array()
        .unwrap();
    assert_eq!(implemented.len(), 110);
    let first = implemented
        .iter()
        .find(|r| r["control-id"] == "AC.L2-3.1.1")
        .unwrap();
    assert_eq!(
        first["by-components"][0]["description"],
        "Accounts are provisioned through the directory <with approval> & reviewed."
    );
    assert!(
        first["remarks"]
            .as_str()
            .unwrap()
            .contains("Inherited partly from Acme Cloud")
    );
    // 3.1.1 has objectives not yet decided: no implementation state is claimed for it.
    assert!(first["by-components"][0]["implementation-status"].is_null());
    assert!(
        first["remarks"]
            .as_str()
            .unwrap()
            .contains("Status: not_assessed.")
    );
    let flow = implemented
        .iter()
        .find(|r| r["control-id"] == "AC.L2-3.1.3")
        .unwrap();
    assert_eq!(
        flow["by-components"][0]["implementation-status"]["state"],
        "planned"
    );
    // The same export twice names everything with the same UUIDs.
    let again = ok_json(owner.get(&server, &format!("{oscal}/ssp")));
    assert_eq!(
        again["system-security-plan"]["uuid"], plan["uuid"],
        "UUIDs are per subject"
    );

    let results = ok_json(owner.get(&server, &format!("{oscal}/assessment-results")));
    let findings = results["assessment-results"]["results"][0]["findings"]
        .as_array()
        .unwrap();
    assert_eq!(findings.len(), 4, "one finding per decided objective");
    let flow = findings
        .iter()
        .find(|f| f["target"]["target-id"] == "AC.L2-3.1.3_obj.a")
        .unwrap();
    assert_eq!(flow["target"]["status"]["state"], "not-satisfied");
    assert_eq!(flow["remarks"], "No flow control yet");

    let poam = ok_json(owner.get(&server, &format!("{oscal}/poam")));
    let items = poam["plan-of-action-and-milestones"]["poam-items"]
        .as_array()
        .unwrap();
    let item = items
        .iter()
        .find(|i| i["description"] == "CUI flow is not controlled")
        .unwrap();
    assert!(item["title"].as_str().unwrap().starts_with("AC.L2-3.1.3"));
    let risks = poam["plan-of-action-and-milestones"]["risks"]
        .as_array()
        .unwrap();
    assert!(risks.iter().any(|r| r["deadline"] == "2027-03-01T00:00:00Z"
        && r["remediations"][0]["tasks"][0]["title"] == "Gateway installed"));

    let catalog = ok_json(owner.get(&server, "/api/v1/oscal/catalogs/nist-800-171r2"));
    let level1 = ok_json(owner.get(&server, "/api/v1/oscal/profiles/cmmc-l1"));
    let level2 = ok_json(owner.get(&server, "/api/v1/oscal/profiles/cmmc-l2"));
    assert_eq!(
        level1["profile"]["imports"][0]["include-controls"][0]["with-ids"]
            .as_array()
            .unwrap()
            .len(),
        17
    );
    assert_eq!(
        level2["profile"]["imports"][0]["include-controls"][0]["with-ids"]
            .as_array()
            .unwrap()
            .len(),
        110
    );
    // Every control a profile selects is in the catalog it imports.
    let controls: Vec<&str> = catalog["catalog"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["controls"].as_array().unwrap())
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    for id in level2["profile"]["imports"][0]["include-controls"][0]["with-ids"]
        .as_array()
        .unwrap()
    {
        assert!(controls.contains(&id.as_str().unwrap()), "{id}");
    }

    let dir = env.path();
    let write = |name: &str, value: &Value| {
        let path = dir.join(name);
        std::fs::write(&path, serde_json::to_vec(value).unwrap()).unwrap();
        path
    };
    let files = [
        ("oscal_ssp_schema.json", write("ssp.json", &ssp)),
        (
            "oscal_assessment-results_schema.json",
            write("ar.json", &results),
        ),
        ("oscal_poam_schema.json", write("poam.json", &poam)),
        ("oscal_catalog_schema.json", write("catalog.json", &catalog)),
    ];
    for (schema, file) in &files {
        check_jsonschema(schema, &[file]);
    }
    check_jsonschema(
        "oscal_profile_schema.json",
        &[&write("l1.json", &level1), &write("l2.json", &level2)],
    );

    // Rev 3 and CSF assessments export valid documents too (the server checks each
    // against the schema before answering); their profiles name their own catalogs.
    for framework in ["nist-800-171r3", "nist-csf-2.0", "cmmc-l1"] {
        let other = create_assessment(&server, &owner, &org, framework);
        for kind in ["ssp", "poam", "assessment-results"] {
            ok_json(owner.get(
                &server,
                &format!("/api/v1/orgs/{org}/assessments/{other}/oscal/{kind}"),
            ));
        }
        let profile = ok_json(owner.get(&server, &format!("/api/v1/oscal/profiles/{framework}")));
        assert!(
            profile["profile"]["imports"][0]["include-controls"][0]["with-ids"]
                .as_array()
                .unwrap()
                .len()
                > 10
        );
    }

    let audit = ok_json(owner.get(
        &server,
        &format!("/api/v1/orgs/{org}/audit?action=document.export"),
    ));
    let targets: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["target"].as_str().unwrap())
        .collect();
    for kind in ["ssp", "poam", "assessment-results"] {
        assert!(
            targets.contains(&format!("oscal-{kind} {id}").as_str()),
            "{targets:?}"
        );
    }
}

#[test]
fn documents_refuse_strangers_viewers_and_bad_input() {
    let env = TestEnv::new();
    let server = env.serve();
    let org = set_up(&server);
    let owner = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let id = assessed(&server, &owner, &org);

    // Another organization's owner: our assessment and system are unknown to them.
    let (other, stranger) = stranger(&env, &server);
    for path in [
        format!("/api/v1/orgs/{org}/assessments/{id}/oscal/ssp"),
        format!("/api/v1/orgs/{other}/assessments/{id}/oscal/ssp"),
        format!("/api/v1/orgs/{org}/system"),
    ] {
        assert_eq!(stranger.get(&server, &path).status(), 404, "{path}");
    }
    for path in [
        format!("/api/v1/orgs/{org}/assessments/{id}/oscal/catalog"),
        "/api/v1/oscal/profiles/not-a-framework".to_owned(),
        "/api/v1/oscal/catalogs/cmmc-l9".to_owned(),
    ] {
        assert_eq!(owner.get(&server, &path).status(), 404, "{path}");
    }

    // A viewer reads the description and exports, and cannot change the description.
    let viewer = viewer(&env, &server, &org);
    let described = ok_json(viewer.get(&server, &format!("/api/v1/orgs/{org}/system")));
    assert_eq!(described["boundary"], "Building 2, VLAN 40.");
    ok_json(viewer.get(
        &server,
        &format!("/api/v1/orgs/{org}/assessments/{id}/oscal/assessment-results"),
    ));
    let refused = send(
        &server,
        &viewer,
        "PUT",
        &format!("/api/v1/orgs/{org}/system"),
        &json!({"system_name": "Renamed"}),
    );
    assert_eq!(refused.status(), 403);

    // Bad fields are named, and nothing is lost.
    for (body, field) in [
        (json!({"system_name": "two\nlines"}), "system_name"),
        (json!({"boundary": "x".repeat(20_001)}), "boundary"),
        (
            json!({"roles": [{"title": "Owner", "name": ""}]}),
            "roles[0]",
        ),
    ] {
        let response = send(
            &server,
            &owner,
            "PUT",
            &format!("/api/v1/orgs/{org}/system"),
            &body,
        );
        let status = response.status();
        let error: Value = response.json().unwrap();
        assert_eq!(status, 422, "{error}");
        assert_eq!(error["error"]["field"], field, "{error}");
    }
    let kept = ok_json(owner.get(&server, &format!("/api/v1/orgs/{org}/system")));
    assert_eq!(kept["system_name"], "Acme CUI enclave");
}

fn bytes_of(response: Response) -> Vec<u8> {
    let status = response.status();
    let bytes = response.bytes().unwrap().to_vec();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    bytes
}

fn import(
    server: &TestServer,
    session: &Session,
    org: &str,
    id: &str,
    source: &str,
    apply: bool,
    bytes: &[u8],
) -> Response {
    crate::evidence::post_file(
        server,
        session,
        &format!("/api/v1/orgs/{org}/assessments/{id}/import/{source}"),
        &[("apply", if apply { "true" } else { "false" })],
        bytes,
    )
}

fn refused(response: Response, status: u16) -> Value {
    let got = response.status().as_u16();
    let body: Value = response.json().unwrap();
    assert_eq!(got, status, "{body}");
    body["error"].clone()
}

fn status_of(
    server: &TestServer,
    session: &Session,
    org: &str,
    id: &str,
    objective: &str,
) -> Value {
    let list = ok_json(session.get(
        server,
        &format!("/api/v1/orgs/{org}/assessments/{id}/objectives"),
    ));
    list["objectives"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == objective)
        .unwrap()
        .clone()
}

#[test]
fn spreadsheets_round_trip_and_imports_preview_before_they_apply() {
    let env = TestEnv::new();
    let server = env.serve();
    let org = set_up(&server);
    let owner = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let id = assessed(&server, &owner, &org);
    let export = |sheet: &str, format: &str| {
        bytes_of(owner.get(
            &server,
            &format!("/api/v1/orgs/{org}/assessments/{id}/export/{sheet}?format={format}"),
        ))
    };

    // Export then import changes nothing, in both formats.
    let csv = export("objectives", "csv");
    let xlsx = export("objectives", "xlsx");
    assert!(xlsx.starts_with(b"PK"));
    for file in [&csv, &xlsx] {
        let outcome = ok_json(import(&server, &owner, &org, &id, "objectives", true, file));
        assert_eq!(outcome["changes"].as_array().unwrap().len(), 0, "{outcome}");
        assert_eq!(outcome["unchanged"], 320);
    }
    let text = String::from_utf8(csv.clone()).unwrap();
    // Every field quoted, so no reader's separator can cut a cell in two.
    assert!(text.starts_with("\"id\",\"requirement\",\"text\",\"status\",\"note\",\"owner\"\n"));
    assert!(text.contains("\"3.1.1[a]\",\"AC.L2-3.1.1\","));
    assert!(text.contains(",\"met\",\"Accounts listed in the directory\","));

    // A changed row is previewed, not applied, until asked.
    let edited: String = text
        .lines()
        .map(|line| {
            if line.starts_with("\"3.1.2[a]\",") {
                line.replace(
                    ",\"not_assessed\",\"\",",
                    ",\"met\",\"Checked in the spreadsheet\",",
                )
            } else {
                line.to_owned()
            }
        })
        .map(|line| line + "\n")
        .collect();
    assert!(edited != text, "the row to edit is in the export");
    let preview = ok_json(import(
        &server,
        &owner,
        &org,
        &id,
        "objectives",
        false,
        edited.as_bytes(),
    ));
    assert_eq!(preview["applied"], false);
    assert_eq!(preview["changes"][0]["objective"], "3.1.2[a]");
    assert_eq!(preview["changes"][0]["status_after"], "met");
    assert_eq!(
        status_of(&server, &owner, &org, &id, "3.1.2[a]")["status"],
        "not_assessed"
    );
    let applied = ok_json(import(
        &server,
        &owner,
        &org,
        &id,
        "objectives",
        true,
        edited.as_bytes(),
    ));
    assert_eq!(applied["applied"], true);
    let now = status_of(&server, &owner, &org, &id, "3.1.2[a]");
    assert_eq!(now["status"], "met");
    assert_eq!(now["note"], "Checked in the spreadsheet");
    assert_eq!(now["source"], "import");

    // The POA&M and gap report in both formats.
    let poam = String::from_utf8(export("poam", "csv")).unwrap();
    assert!(poam.starts_with("\"Item\",\"Requirement\",\"Title\",\"Weakness or deficiency\","));
    assert!(poam.contains("CUI flow is not controlled"));
    assert!(poam.contains("Gateway installed (due 2027-03-01)"));
    assert!(export("poam", "xlsx").starts_with(b"PK"));
    let gaps = String::from_utf8(export("gaps", "csv")).unwrap();
    assert!(gaps.contains("AC.L2-3.1.3"));
    assert!(export("gaps", "xlsx").starts_with(b"PK"));

    // Assessment results move determinations between assessments of one organization.
    let results = bytes_of(owner.get(
        &server,
        &format!("/api/v1/orgs/{org}/assessments/{id}/oscal/assessment-results"),
    ));
    let second = create_assessment(&server, &owner, &org, "cmmc-l2");
    let preview = ok_json(import(
        &server,
        &owner,
        &org,
        &second,
        "assessment-results",
        false,
        &results,
    ));
    assert_eq!(preview["changes"].as_array().unwrap().len(), 5, "{preview}");
    assert_eq!(
        status_of(&server, &owner, &org, &second, "3.1.3[a]")["status"],
        "not_assessed"
    );
    ok_json(import(
        &server,
        &owner,
        &org,
        &second,
        "assessment-results",
        true,
        &results,
    ));
    let moved = status_of(&server, &owner, &org, &second, "3.1.3[a]");
    assert_eq!(moved["status"], "not_met");
    assert_eq!(moved["note"], "No flow control yet");
    assert_eq!(
        status_of(&server, &owner, &org, &second, "3.1.22[a]")["status"],
        "not_applicable"
    );
    // Imported again: nothing left to change.
    let again = ok_json(import(
        &server,
        &owner,
        &org,
        &second,
        "assessment-results",
        true,
        &results,
    ));
    assert_eq!(again["changes"].as_array().unwrap().len(), 0);
}

#[test]
fn bad_imports_are_refused_by_place_and_change_nothing() {
    let env = TestEnv::new();
    let server = env.serve();
    let org = set_up(&server);
    let owner = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let id = assessed(&server, &owner, &org);
    let csv = String::from_utf8(bytes_of(owner.get(
        &server,
        &format!("/api/v1/orgs/{org}/assessments/{id}/export/objectives?format=csv"),
    )))
    .unwrap();
    let header = "id,requirement,text,status,note,owner\n";

    // A good row and an unknown id: the error names the row, and neither lands.
    let unknown = format!("{header}3.1.2[a],,,met,,\n3.1.99[z],,,met,,\n");
    let error = refused(
        import(
            &server,
            &owner,
            &org,
            &id,
            "objectives",
            true,
            unknown.as_bytes(),
        ),
        422,
    );
    assert_eq!(error["field"], "row 3, column id");
    assert_eq!(
        status_of(&server, &owner, &org, &id, "3.1.2[a]")["status"],
        "not_assessed"
    );

    let wrong_columns = csv.replacen("status", "state", 1);
    let error = refused(
        import(
            &server,
            &owner,
            &org,
            &id,
            "objectives",
            true,
            wrong_columns.as_bytes(),
        ),
        422,
    );
    assert_eq!(error["field"], "row 1, column status");

    // A cell a spreadsheet would run, and notes that applying would refuse: the preview
    // refuses them as applying does, naming the cell.
    let long_note = "n".repeat(10_001);
    for (note, says) in [
        (
            "\"=HYPERLINK(\"\"http://evil.test\"\",\"\"x\"\")\"",
            "formula",
        ),
        ("\"bell \u{7} rings\"", "control characters"),
        ("\"nul \u{0} byte\"", "control characters"),
        (long_note.as_str(), "at most 10000 characters"),
    ] {
        let file = format!("{header}3.1.2[a],,,met,{note},\n");
        for apply in [false, true] {
            let error = refused(
                import(
                    &server,
                    &owner,
                    &org,
                    &id,
                    "objectives",
                    apply,
                    file.as_bytes(),
                ),
                422,
            );
            let message = error["message"].as_str().unwrap();
            assert!(message.contains(says), "{says}: {error}");
            assert_eq!(error["field"], "row 2, column note", "{error}");
        }
    }
    assert_eq!(
        status_of(&server, &owner, &org, &id, "3.1.2[a]")["status"],
        "not_assessed"
    );

    let mut latin1 = format!("{header}3.1.2[a],,,met,").into_bytes();
    latin1.extend_from_slice(b"r\xe9sum\xe9,\n");
    let error = refused(
        import(&server, &owner, &org, &id, "objectives", true, &latin1),
        422,
    );
    assert_eq!(error["field"], "row 2, column note");

    // A workbook with a formula, and one with a million rows.
    let workbook = |rows: u32, formula: bool, id: &str| {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.set_name("Objectives").unwrap();
        for (col, name) in (0u16..).zip(["id", "requirement", "text", "status", "note", "owner"]) {
            sheet.write_string(0, col, name).unwrap();
        }
        for row in 1..=rows {
            sheet.write_string(row, 0, id).unwrap();
            if formula {
                sheet.write_formula(row, 3, "=LOWER(\"MET\")").unwrap();
            } else {
                sheet.write_string(row, 3, "met").unwrap();
            }
        }
        book.save_to_buffer().unwrap()
    };
    let error = refused(
        import(
            &server,
            &owner,
            &org,
            &id,
            "objectives",
            true,
            &workbook(1, true, "3.1.2[a]"),
        ),
        422,
    );
    assert_eq!(error["field"], "Objectives!D2");
    assert!(error["message"].as_str().unwrap().contains("formula"));
    let error = refused(
        import(
            &server,
            &owner,
            &org,
            &id,
            "objectives",
            true,
            &workbook(1, false, "3.1.99[z]"),
        ),
        422,
    );
    assert_eq!(
        error["field"], "Objectives!A2",
        "an unknown id in a workbook"
    );
    let error = refused(
        import(
            &server,
            &owner,
            &org,
            &id,
            "objectives",
            true,
            &workbook(1_000_000, false, "3.1.2[a]"),
        ),
        422,
    );
    assert!(
        error["message"].as_str().unwrap().contains("rows"),
        "{error}"
    );
    assert_eq!(
        status_of(&server, &owner, &org, &id, "3.1.2[a]")["status"],
        "not_assessed"
    );

    // OSCAL: schema-invalid, not JSON, an unknown objective, another organization's.
    let results: Value = ok_json(owner.get(
        &server,
        &format!("/api/v1/orgs/{org}/assessments/{id}/oscal/assessment-results"),
    ));
    let mut broken = results.clone();
    broken["assessment-results"]
        .as_object_mut()
        .unwrap()
        .remove("results");
    let error = refused(
        import(
            &server,
            &owner,
            &org,
            &id,
            "assessment-results",
            true,
            broken.to_string().as_bytes(),
        ),
        422,
    );
    assert!(!error["problems"].as_array().unwrap().is_empty(), "{error}");
    // The message names the kind of document the import takes, whatever was sent.
    for wrong in [broken.clone(), json!({"catalog": {}})] {
        let error = refused(
            import(
                &server,
                &owner,
                &org,
                &id,
                "assessment-results",
                true,
                wrong.to_string().as_bytes(),
            ),
            422,
        );
        let message = error["message"].as_str().unwrap();
        assert!(
            message.starts_with("not a valid OSCAL 1.1.3 assessment results ("),
            "{error}"
        );
        assert!(!message.contains("catalog ("), "{error}");
    }
    refused(
        import(
            &server,
            &owner,
            &org,
            &id,
            "assessment-results",
            true,
            b"{not json",
        ),
        422,
    );
    let mut unknown = results.clone();
    unknown["assessment-results"]["results"][0]["findings"][0]["target"]["target-id"] =
        json!("AC.L2-3.1.99_obj.z");
    let error = refused(
        import(
            &server,
            &owner,
            &org,
            &id,
            "assessment-results",
            true,
            unknown.to_string().as_bytes(),
        ),
        422,
    );
    assert_eq!(
        error["field"],
        "/assessment-results/results/0/findings/0/target/target-id"
    );

    let (other, stranger) = stranger(&env, &server);
    let theirs = create_assessment(&server, &stranger, &other, "cmmc-l2");
    let error = refused(
        import(
            &server,
            &stranger,
            &other,
            &theirs,
            "assessment-results",
            true,
            results.to_string().as_bytes(),
        ),
        422,
    );
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("another organization"),
        "{error}"
    );
    // Our assessment through their organization, or theirs through ours: unknown.
    assert_eq!(
        import(
            &server,
            &stranger,
            &other,
            &id,
            "objectives",
            false,
            csv.as_bytes()
        )
        .status(),
        404
    );
    assert_eq!(
        import(
            &server,
            &owner,
            &org,
            &theirs,
            "objectives",
            false,
            csv.as_bytes()
        )
        .status(),
        404
    );

    // A viewer may not import, not even to preview.
    let viewer = viewer(&env, &server, &org);
    assert_eq!(
        import(
            &server,
            &viewer,
            &org,
            &id,
            "objectives",
            false,
            csv.as_bytes()
        )
        .status(),
        403
    );

    // An unknown format or sheet.
    assert_eq!(
        owner
            .get(
                &server,
                &format!("/api/v1/orgs/{org}/assessments/{id}/export/objectives?format=ods")
            )
            .status(),
        422
    );
    assert_eq!(
        owner
            .get(
                &server,
                &format!("/api/v1/orgs/{org}/assessments/{id}/export/everything")
            )
            .status(),
        404
    );
}

/// Waits for a document to leave `building`; returns its version.
fn ready(server: &TestServer, session: &Session, org: &str, id: &str) -> Value {
    for _ in 0..600 {
        let version = ok_json(session.get(server, &format!("/api/v1/orgs/{org}/documents/{id}")));
        if version["state"] != "building" {
            assert_eq!(version["state"], "ready", "{version}");
            return version;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("document {id} still building after a minute");
}

fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    digest.as_ref().iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// The tar's entries as (path, bytes), in order.
fn entries(tar_bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    use std::io::Read;
    let mut archive = tar::Archive::new(tar_bytes);
    archive
        .entries()
        .unwrap()
        .map(|entry| {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            (path, bytes)
        })
        .collect()
}

fn tar_of(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, bytes) in files {
        let mut header = tar::Header::new_ustar();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        builder
            .append_data(&mut header, path, bytes.as_slice())
            .unwrap();
    }
    builder.into_inner().unwrap()
}

#[test]
fn a_proofpack_verifies_and_every_tampering_is_named() {
    let env = TestEnv::new();
    let server = env.serve();
    let org = set_up(&server);
    let owner = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let id = assessed(&server, &owner, &org);
    let evidence = crate::evidence::created(crate::evidence::post_file(
        &server,
        &owner,
        &format!("/api/v1/orgs/{org}/evidence"),
        &[
            ("filename", "access-policy.pdf"),
            ("title", "Access policy"),
            ("requirements", "3.1.1"),
        ],
        &crate::evidence::pdf("proofpack evidence marker"),
    ));
    let evidence_id = evidence["id"].as_str().unwrap().to_owned();

    let started = send(
        &server,
        &owner,
        "POST",
        &format!("/api/v1/orgs/{org}/assessments/{id}/proofpack"),
        &json!({"marking": "CUI"}),
    );
    assert_eq!(started.status(), 202);
    let started: Value = started.json().unwrap();
    assert_eq!(started["kind"], "proofpack");
    let version = ready(&server, &owner, &org, started["id"].as_str().unwrap());
    let pack = bytes_of(owner.get(
        &server,
        &format!(
            "/api/v1/orgs/{org}/documents/{}/download",
            version["id"].as_str().unwrap()
        ),
    ));
    assert_eq!(
        sha256_hex(&pack),
        version["sha256"],
        "the recorded SHA-256 is the file's"
    );
    assert_eq!(version["size"], pack.len());

    let files = entries(&pack);
    let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    for expected in [
        "documents/ssp.pdf",
        "documents/score-summary.pdf",
        "documents/poam.xlsx",
        "documents/poam.csv",
        "oscal/ssp.json",
        "oscal/poam.json",
        "oscal/assessment-results.json",
        "oscal/cmmc-l2.profile.json",
        "oscal/nist-800-171r2.oscal.json",
        "manifest.json",
        "manifest.sig",
    ] {
        assert!(paths.contains(&expected), "{expected} in {paths:?}");
    }
    let evidence_path = format!("evidence/{evidence_id}/v1-access-policy.pdf");
    assert!(paths.contains(&evidence_path.as_str()), "{paths:?}");
    assert_eq!(paths.last(), Some(&"manifest.sig"));

    // The key: from the API and from the CLI (through the daemon) alike.
    let key = ok_json(owner.get(&server, "/api/v1/proofpack/key"))["key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(key.starts_with("ed25519:"));
    let out = env.rampart(&["proofpack", "key"]);
    assert_eq!(crate::harness::stdout(&out).trim(), key);

    let dir = env.path();
    let verify = |name: &str, bytes: &[u8], key: Option<&str>| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let mut args = vec!["proofpack", "verify", path.to_str().unwrap()];
        if let Some(key) = key {
            args.extend(["--key", key]);
        }
        let out = env.rampart(&args);
        (
            out.status.code(),
            crate::harness::stdout(&out),
            crate::harness::stderr(&out),
        )
    };
    let (code, stdout, _) = verify("pack.tar", &pack, Some(&key));
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("intact"));

    // One byte of the evidence changed.
    let mut altered = pack.clone();
    let marker = b"proofpack evidence marker";
    let at = altered
        .windows(marker.len())
        .position(|w| w == marker)
        .unwrap();
    altered[at] ^= 0x01;
    let (code, stdout, _) = verify("altered.tar", &altered, Some(&key));
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!("altered: {evidence_path}")),
        "{stdout}"
    );

    // A file removed, and one added.
    let without: Vec<_> = files
        .iter()
        .filter(|(p, _)| p != "oscal/poam.json")
        .cloned()
        .collect();
    let (code, stdout, _) = verify("removed.tar", &tar_of(&without), Some(&key));
    assert_eq!(code, Some(1));
    assert!(stdout.contains("missing: oscal/poam.json"), "{stdout}");
    let mut with_extra = files.clone();
    with_extra.insert(
        0,
        (
            "evidence/planted.txt".to_owned(),
            b"not from the appliance".to_vec(),
        ),
    );
    let (code, stdout, _) = verify("added.tar", &tar_of(&with_extra), Some(&key));
    assert_eq!(code, Some(1));
    assert!(stdout.contains("added: evidence/planted.txt"), "{stdout}");

    // A manifest edited to match an altered file no longer carries a valid signature.
    let mut forged = files.clone();
    for (path, bytes) in &mut forged {
        if path == "documents/poam.csv" {
            bytes.extend_from_slice(b"forged,row\n");
        }
    }
    let new_hash = sha256_hex(
        &forged
            .iter()
            .find(|(p, _)| p == "documents/poam.csv")
            .unwrap()
            .1,
    );
    let new_size = forged
        .iter()
        .find(|(p, _)| p == "documents/poam.csv")
        .unwrap()
        .1
        .len();
    for (path, bytes) in &mut forged {
        if path == "manifest.json" {
            let mut manifest: Value = serde_json::from_slice(bytes).unwrap();
            for file in manifest["files"].as_array_mut().unwrap() {
                if file["path"] == "documents/poam.csv" {
                    file["sha256"] = json!(new_hash);
                    file["size"] = json!(new_size);
                }
            }
            *bytes = serde_json::to_vec_pretty(&manifest).unwrap();
        }
    }
    let (code, stdout, _) = verify("forged.tar", &tar_of(&forged), Some(&key));
    assert_eq!(code, Some(1));
    assert!(stdout.contains("signature does not verify"), "{stdout}");

    // The right pack against another key.
    let other = aws_lc_rs::signature::Ed25519KeyPair::generate().unwrap();
    use aws_lc_rs::signature::KeyPair;
    use base64::Engine;
    let other = format!(
        "ed25519:{}",
        base64::engine::general_purpose::STANDARD.encode(other.public_key().as_ref())
    );
    let (code, stdout, _) = verify("pack.tar", &pack, Some(&other));
    assert_eq!(code, Some(1));
    assert!(stdout.contains("different signing key"), "{stdout}");

    // Not a proofpack at all.
    let (code, _, stderr) = verify("junk.tar", b"this is not a tar file at all", Some(&key));
    assert_eq!(code, Some(2), "{stderr}");

    // Encrypted to an assessor's age recipient: their identity opens it.
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let started: Value = send(
        &server,
        &owner,
        "POST",
        &format!("/api/v1/orgs/{org}/assessments/{id}/proofpack"),
        &json!({"recipient": recipient, "evidence": [evidence_id]}),
    )
    .json()
    .unwrap();
    let version = ready(&server, &owner, &org, started["id"].as_str().unwrap());
    assert!(version["filename"].as_str().unwrap().ends_with(".tar.age"));
    let sealed = bytes_of(owner.get(
        &server,
        &format!(
            "/api/v1/orgs/{org}/documents/{}/download",
            version["id"].as_str().unwrap()
        ),
    ));
    assert!(sealed.starts_with(b"age-encryption.org/v1"));
    let (code, _, stderr) = verify("sealed.tar.age", &sealed, Some(&key));
    assert_eq!(code, Some(2));
    assert!(stderr.contains("age-encrypted"), "{stderr}");
    let identity_file = dir.join("assessor.key");
    {
        use age::secrecy::ExposeSecret;
        std::fs::write(
            &identity_file,
            format!("{}\n", identity.to_string().expose_secret()),
        )
        .unwrap();
    }
    let path = dir.join("sealed.tar.age");
    let out = env.rampart(&[
        "proofpack",
        "verify",
        path.to_str().unwrap(),
        "--key",
        &key,
        "--identity",
        identity_file.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        crate::harness::stdout(&out)
    );

    // Mistakes: a viewer, a bad recipient, another organization's evidence id.
    let viewer = viewer(&env, &server, &org);
    let path = format!("/api/v1/orgs/{org}/assessments/{id}/proofpack");
    assert_eq!(
        send(&server, &viewer, "POST", &path, &json!({})).status(),
        403
    );
    let error = refused(
        send(
            &server,
            &owner,
            "POST",
            &path,
            &json!({"recipient": "age1nope"}),
        ),
        422,
    );
    assert_eq!(error["field"], "recipient");
    let error = refused(
        send(
            &server,
            &owner,
            "POST",
            &path,
            &json!({"evidence": ["00000000-0000-4000-8000-000000000000"]}),
        ),
        422,
    );
    assert_eq!(error["field"], "evidence[0]");
    // The audit log names the generations and downloads.
    let audit = ok_json(owner.get(
        &server,
        &format!("/api/v1/orgs/{org}/audit?action=document.download"),
    ));
    assert_eq!(audit.as_array().unwrap().len(), 2);
}

/// Runs `program` with `args`, asserting it succeeds; its stdout.
fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("{program} (installed by scripts/test): {err}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// pdftotext's reading of a PDF, after pdftoppm has rendered its first page.
fn pdf_text(dir: &Path, name: &str, pdf: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, pdf).unwrap();
    let png = dir.join(format!("{name}-page"));
    run(
        "pdftoppm",
        &[
            "-r",
            "40",
            "-png",
            "-f",
            "1",
            "-l",
            "1",
            path.to_str().unwrap(),
            png.to_str().unwrap(),
        ],
    );
    assert!(
        std::fs::read_dir(dir).unwrap().flatten().any(|e| e
            .file_name()
            .to_string_lossy()
            .starts_with(&format!("{name}-page"))),
        "pdftoppm rendered no page of {name}"
    );
    run("pdftotext", &["-layout", path.to_str().unwrap(), "-"])
}

#[test]
fn the_ssp_and_reports_are_generated_versioned_and_render() {
    let env = TestEnv::new();
    let server = env.serve();
    let org = set_up(&server);
    let owner = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let id = assessed(&server, &owner, &org);
    let base = format!("/api/v1/orgs/{org}/assessments/{id}");
    let generate = |path: &str| {
        let response = send(
            &server,
            &owner,
            "POST",
            &format!("{base}/{path}"),
            &json!({}),
        );
        let status = response.status();
        let body: Value = response.json().unwrap();
        assert_eq!(status, 201, "{path}: {body}");
        body
    };
    let pdf = generate("ssp?format=pdf&marking=CUI");
    let docx = generate("ssp?format=docx&marking=CUI");
    let summary = generate("reports/score-summary");
    let gaps = generate("reports/gap-report");
    assert_eq!(pdf["kind"], "ssp_pdf");
    assert_eq!(docx["kind"], "ssp_docx");

    let listed = ok_json(owner.get(
        &server,
        &format!("/api/v1/orgs/{org}/documents?assessment={id}"),
    ));
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 4);
    let download = |version: &Value| {
        let bytes = bytes_of(owner.get(
            &server,
            &format!(
                "/api/v1/orgs/{org}/documents/{}/download",
                version["id"].as_str().unwrap()
            ),
        ));
        let kept = listed.iter().find(|v| v["id"] == version["id"]).unwrap();
        assert_eq!(
            kept["sha256"],
            sha256_hex(&bytes),
            "the version's SHA-256 is the file's"
        );
        assert_eq!(kept["state"], "ready");
        assert!(!kept["created_by"].as_str().unwrap().is_empty());
        bytes
    };

    let dir = env.path();
    let text = pdf_text(dir, "ssp.pdf", &download(&pdf));
    for expected in [
        "System Security Plan",
        "Acme CUI enclave",
        "AC.L2-3.1.1",
        "SI.L2-3.14.7",
        "CUI",
        "Page 1 of",
        "Ada Lovelace",
        "Acme Cloud",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from the SSP PDF"
        );
    }
    let text = pdf_text(dir, "summary.pdf", &download(&summary));
    assert!(
        text.contains("SPRS score") && text.contains("CMMC Level 2 status"),
        "{text}"
    );
    assert!(
        text.contains("Page 1 of 1"),
        "the score summary is one page: {text}"
    );
    let text = pdf_text(dir, "gaps.pdf", &download(&gaps));
    assert!(text.contains("AC.L2-3.1.3"), "{text}");

    // The DOCX reads back as WordprocessingML and LibreOffice renders it.
    let docx_bytes = download(&docx);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(docx_bytes.clone())).unwrap();
    let mut xml = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("word/document.xml").unwrap(), &mut xml)
        .unwrap();
    assert!(xml.contains("AC.L2-3.1.1"));
    assert!(
        xml.contains("&lt;with approval&gt; &amp; reviewed"),
        "text is escaped"
    );
    let docx_path = dir.join("ssp.docx");
    std::fs::write(&docx_path, &docx_bytes).unwrap();
    let out_dir = dir.join("converted");
    run(
        "soffice",
        &[
            &format!(
                "-env:UserInstallation=file://{}",
                dir.join("lo-profile").display()
            ),
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            out_dir.to_str().unwrap(),
            docx_path.to_str().unwrap(),
        ],
    );
    let converted = std::fs::read(out_dir.join("ssp.pdf")).unwrap();
    let text = pdf_text(dir, "converted.pdf", &converted);
    assert!(
        text.contains("AC.L2-3.1.1") && text.contains("Acme CUI enclave"),
        "LibreOffice's rendering"
    );

    // Mistakes: a viewer may read but not generate; a bad format or marking is named.
    let viewer = viewer(&env, &server, &org);
    assert_eq!(
        send(&server, &viewer, "POST", &format!("{base}/ssp"), &json!({})).status(),
        403
    );
    assert_eq!(
        ok_json(viewer.get(&server, &format!("/api/v1/orgs/{org}/documents")))
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let error = refused(
        send(
            &server,
            &owner,
            "POST",
            &format!("{base}/ssp?format=rtf"),
            &json!({}),
        ),
        422,
    );
    assert_eq!(error["field"], "format");
    let error = refused(
        send(
            &server,
            &owner,
            "POST",
            &format!("{base}/ssp?marking={}", "X".repeat(61)),
            &json!({}),
        ),
        422,
    );
    assert_eq!(error["field"], "marking");
    assert_eq!(
        owner
            .get(
                &server,
                &format!("/api/v1/orgs/{org}/documents/00000000-0000-4000-8000-000000000000")
            )
            .status(),
        404
    );
    let audit = ok_json(owner.get(
        &server,
        &format!("/api/v1/orgs/{org}/audit?action=document.generate"),
    ));
    assert_eq!(audit.as_array().unwrap().len(), 4);
}
