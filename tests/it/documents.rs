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
