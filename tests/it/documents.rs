//! Documents through the real server: the system description, OSCAL exports checked by our
//! validator (in the server) and by an independent one (check-jsonschema), and what other
//! tenants, viewers and bad input get.

use std::path::Path;
use std::process::Command;

use reqwest::blocking::Response;
use serde_json::{Value, json};

use crate::compliance::create_assessment;
use crate::harness::TestServer;
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

#[test]
fn oscal_exports_validate_with_both_validators_and_say_what_was_decided() {
    let env = crate::harness::TestEnv::new();
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
    let env = crate::harness::TestEnv::new();
    let server = env.serve();
    let org = set_up(&server);
    let owner = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let id = assessed(&server, &owner, &org);

    // Another organization's owner: our assessment and system are unknown to them.
    const PASSWORD: &str = "velvet orbit canyon 93 drift";
    let other = crate::matrix::create_org(&env, "Initech");
    crate::identity::create_user(&env, "owner@initech.example", PASSWORD, &other, "owner");
    let stranger = Session::login(&server, "owner@initech.example", PASSWORD);
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
    const VIEWER_PASSWORD: &str = "quiet lantern meadow 57 ridge";
    crate::identity::create_user(&env, "viewer@acme.example", VIEWER_PASSWORD, &org, "viewer");
    let viewer = Session::login(&server, "viewer@acme.example", VIEWER_PASSWORD);
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
    let env = crate::harness::TestEnv::new();
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
    assert!(text.starts_with("id,requirement,text,status,note,owner\n"));
    assert!(text.contains("3.1.1[a],AC.L2-3.1.1,"));
    assert!(text.contains(",met,Accounts listed in the directory,"));

    // A changed row is previewed, not applied, until asked.
    let edited: String = text
        .lines()
        .map(|line| {
            if line.starts_with("3.1.2[a],") {
                line.replace(",not_assessed,,", ",met,Checked in the spreadsheet,")
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
    assert!(poam.starts_with("Item,Requirement,Title,Weakness or deficiency,"));
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
    let env = crate::harness::TestEnv::new();
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

    let mut latin1 = format!("{header}3.1.2[a],,,met,").into_bytes();
    latin1.extend_from_slice(b"r\xe9sum\xe9,\n");
    let error = refused(
        import(&server, &owner, &org, &id, "objectives", true, &latin1),
        422,
    );
    assert_eq!(error["field"], "row 2, column note");

    // A workbook with a formula, and one with a million rows.
    let workbook = |rows: u32, formula: bool| {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.set_name("Objectives").unwrap();
        for (col, name) in (0u16..).zip(["id", "requirement", "text", "status", "note", "owner"]) {
            sheet.write_string(0, col, name).unwrap();
        }
        for row in 1..=rows {
            sheet.write_string(row, 0, "3.1.2[a]").unwrap();
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
            &workbook(1, true),
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
            &workbook(1_000_000, false),
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

    const PASSWORD: &str = "velvet orbit canyon 93 drift";
    let other = crate::matrix::create_org(&env, "Initech");
    crate::identity::create_user(&env, "owner@initech.example", PASSWORD, &other, "owner");
    let stranger = Session::login(&server, "owner@initech.example", PASSWORD);
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
    const VIEWER_PASSWORD: &str = "quiet lantern meadow 57 ridge";
    crate::identity::create_user(&env, "viewer@acme.example", VIEWER_PASSWORD, &org, "viewer");
    let viewer = Session::login(&server, "viewer@acme.example", VIEWER_PASSWORD);
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
