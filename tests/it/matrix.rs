//! The route × role matrix: every API route, called by every kind of actor against one
//! organization, answers exactly as this table says. A route without a row fails the test,
//! so a new route cannot ship without its access decision being written down here.

use serde_json::Value;

use crate::harness::{TestEnv, TestServer, stderr, stdout};
use crate::identity::{ADMIN_EMAIL, ADMIN_PASSWORD, Session, origin, set_up};

/// Columns of the table, in order.
const ACTORS: [&str; 7] = [
    "anonymous",
    "viewer",
    "member",
    "admin",
    "owner",
    "other_owner",
    "appliance_admin",
];

/// (method, path, JSON body, expected status per actor). `{org_id}` is the target
/// organization. Bodies are valid where the access decision is what is being tested, so an
/// allowed actor gets past validation; `{}` where any body will do.
const MATRIX: &[(&str, &str, &str, [u16; 7])] = &[
    (
        "get",
        "/api/v1/version",
        "",
        [200, 200, 200, 200, 200, 200, 200],
    ),
    (
        "get",
        "/api/v1/openapi.json",
        "",
        [200, 200, 200, 200, 200, 200, 200],
    ),
    (
        "post",
        "/api/v1/setup",
        "{}",
        [400, 400, 400, 400, 400, 400, 400],
    ),
    (
        "post",
        "/api/v1/auth/login",
        "{}",
        [400, 400, 400, 400, 400, 400, 400],
    ),
    (
        "post",
        "/api/v1/auth/reset",
        "{}",
        [400, 400, 400, 400, 400, 400, 400],
    ),
    // Anyone may ask; with mail off (as here) the answer says to ask the administrator.
    (
        "post",
        "/api/v1/auth/reset/request",
        r#"{"email":"viewer@globex.example"}"#,
        [409, 409, 409, 409, 409, 409, 409],
    ),
    // Only a sign-in that still owes its second factor may use this; none here does.
    (
        "post",
        "/api/v1/auth/mfa",
        r#"{"code":"123456"}"#,
        [401, 401, 401, 401, 401, 401, 401],
    ),
    (
        "post",
        "/api/v1/auth/reauthenticate",
        r#"{"password":"wrong password here"}"#,
        [401, 401, 401, 401, 401, 401, 401],
    ),
    ("get", "/api/v1/me", "", [401, 200, 200, 200, 200, 200, 200]),
    (
        "post",
        "/api/v1/me/totp",
        "{}",
        [401, 200, 200, 200, 200, 200, 200],
    ),
    (
        "post",
        "/api/v1/me/totp/confirm",
        r#"{"code":"000000"}"#,
        [401, 422, 422, 422, 422, 422, 422],
    ),
    // Nobody here has a second factor, so there are no recovery codes to replace.
    (
        "post",
        "/api/v1/me/recovery-codes",
        "{}",
        [401, 422, 422, 422, 422, 422, 422],
    ),
    // Mail is off here: the new address could not be confirmed, so the request is refused.
    (
        "post",
        "/api/v1/me/email",
        r#"{"email":"moved@globex.example"}"#,
        [401, 409, 409, 409, 409, 409, 409],
    ),
    // The token is the proof; nobody's session matters.
    (
        "post",
        "/api/v1/auth/email/confirm",
        r#"{"token":"not-a-token"}"#,
        [410, 410, 410, 410, 410, 410, 410],
    ),
    // Only a sign-in that still owes its second factor may ask for a key challenge.
    (
        "post",
        "/api/v1/auth/mfa/webauthn",
        "{}",
        [401, 401, 401, 401, 401, 401, 401],
    ),
    (
        "get",
        "/api/v1/me/security-keys",
        "",
        [401, 200, 200, 200, 200, 200, 200],
    ),
    (
        "post",
        "/api/v1/me/security-keys",
        r#"{"name":"matrix key"}"#,
        [401, 200, 200, 200, 200, 200, 200],
    ),
    // A well-formed answer no key gave: refused, and the waiting request is spent.
    (
        "post",
        "/api/v1/me/security-keys/confirm",
        r#"{"credential":{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"attestationObject":"AAAA","clientDataJSON":"AAAA"}}}"#,
        [401, 422, 422, 422, 422, 422, 422],
    ),
    (
        "delete",
        "/api/v1/me/security-keys/{key_id}",
        "",
        [401, 404, 404, 404, 404, 404, 404],
    ),
    (
        "get",
        "/api/v1/orgs/{org_id}",
        "",
        [401, 200, 200, 200, 200, 404, 200],
    ),
    (
        "put",
        "/api/v1/orgs/{org_id}",
        r#"{"name":"Globex"}"#,
        [401, 403, 403, 403, 200, 404, 404],
    ),
    // Each person erases themselves; the wrong address stops them (nothing is erased here).
    (
        "delete",
        "/api/v1/me",
        r#"{"confirm":"not-my-address@example.com"}"#,
        [401, 422, 422, 422, 422, 422, 422],
    ),
    (
        "post",
        "/api/v1/admin/accounts/{account_id}/erase",
        r#"{"confirm":"not-the-address@example.com"}"#,
        [401, 403, 403, 403, 403, 403, 422],
    ),
    // Owners only; a bad recipient stops even them.
    (
        "post",
        "/api/v1/orgs/{org_id}/export",
        r#"{"recipient":"not-a-recipient"}"#,
        [401, 403, 403, 403, 422, 404, 404],
    ),
    // Owners only; the wrong name stops even them (nothing is erased here).
    (
        "post",
        "/api/v1/orgs/{org_id}/erase",
        r#"{"confirm":"not its name"}"#,
        [401, 403, 403, 403, 422, 404, 404],
    ),
    // Owners, and the appliance administrator (its read is audited in the organization's log).
    (
        "get",
        "/api/v1/orgs/{org_id}/audit",
        "",
        [401, 403, 403, 403, 200, 404, 200],
    ),
    (
        "get",
        "/api/v1/admin/audit",
        "",
        [401, 403, 403, 403, 403, 403, 200],
    ),
    // Like the audit log: owners, and the appliance administrator (audited).
    (
        "get",
        "/api/v1/orgs/{org_id}/security",
        "",
        [401, 403, 403, 403, 200, 404, 200],
    ),
    (
        "get",
        "/api/v1/admin/security",
        "",
        [401, 403, 403, 403, 403, 403, 200],
    ),
    // The scheduled jobs are the appliance's: its administrator only.
    (
        "get",
        "/api/v1/admin/jobs",
        "",
        [401, 403, 403, 403, 403, 403, 200],
    ),
    (
        "post",
        "/api/v1/admin/jobs/{name}/run",
        "",
        [401, 403, 403, 403, 403, 403, 200],
    ),
    (
        "get",
        "/api/v1/admin/mail/outbox",
        "",
        [401, 403, 403, 403, 403, 403, 200],
    ),
    // Nothing has failed: the administrator is told there is no such failed message.
    (
        "post",
        "/api/v1/admin/mail/outbox/{message_id}/retry",
        "",
        [401, 403, 403, 403, 403, 403, 404],
    ),
    // Everyone signed in chooses their own mail.
    (
        "get",
        "/api/v1/me/mail-preferences",
        "",
        [401, 200, 200, 200, 200, 200, 200],
    ),
    (
        "put",
        "/api/v1/me/mail-preferences",
        r#"{"reminders":true,"drift_alerts":true,"weekly_digest":true}"#,
        [401, 200, 200, 200, 200, 200, 200],
    ),
    (
        "post",
        "/api/v1/orgs/{org_id}/tokens",
        r#"{"name":"t","scope":"write","expires_in_days":1}"#,
        [401, 403, 201, 201, 201, 404, 404],
    ),
    // Assessments: everyone in the organization reads, members and up change; the appliance
    // administrator reads (audited) but changes nothing it is not a member of.
    (
        "get",
        "/api/v1/orgs/{org_id}/assessments",
        "",
        [401, 200, 200, 200, 200, 404, 200],
    ),
    (
        "post",
        "/api/v1/orgs/{org_id}/assessments",
        r#"{"name":"Matrix","framework":"cmmc-l2"}"#,
        [401, 403, 200, 200, 200, 404, 404],
    ),
    (
        "get",
        "/api/v1/orgs/{org_id}/assessments/{assessment_id}",
        "",
        [401, 200, 200, 200, 200, 404, 200],
    ),
    (
        "put",
        "/api/v1/orgs/{org_id}/assessments/{assessment_id}",
        r#"{"name":"Matrix assessment"}"#,
        [401, 403, 200, 200, 200, 404, 404],
    ),
    (
        "get",
        "/api/v1/orgs/{org_id}/assessments/{assessment_id}/objectives",
        "",
        [401, 200, 200, 200, 200, 404, 200],
    ),
    (
        "patch",
        "/api/v1/orgs/{org_id}/assessments/{assessment_id}/objectives",
        r#"{"updates":[{"objective":"3.1.1[a]","status":"met"}]}"#,
        [401, 403, 200, 200, 200, 404, 404],
    ),
    (
        "get",
        "/api/v1/orgs/{org_id}/assessments/{assessment_id}/requirements/{requirement_id}",
        "",
        [401, 200, 200, 200, 200, 404, 200],
    ),
    (
        "put",
        "/api/v1/orgs/{org_id}/assessments/{assessment_id}/requirements/{requirement_id}",
        r#"{"implementation":"Accounts are provisioned through the directory."}"#,
        [401, 403, 200, 200, 200, 404, 404],
    ),
    (
        "get",
        "/api/v1/orgs/{org_id}/assessments/{assessment_id}/score",
        "",
        [401, 200, 200, 200, 200, 404, 200],
    ),
    (
        "get",
        "/api/v1/orgs/{org_id}/assessments/{assessment_id}/dashboard",
        "",
        [401, 200, 200, 200, 200, 404, 200],
    ),
    (
        "get",
        "/api/v1/orgs/{org_id}/assessments/{assessment_id}/poam",
        "",
        [401, 200, 200, 200, 200, 404, 200],
    ),
    (
        "put",
        "/api/v1/orgs/{org_id}/assessments/{assessment_id}/poam/{requirement_id}",
        r#"{"weakness":"Shared accounts remain","remediation":"Retire them","status":"open"}"#,
        [401, 403, 200, 200, 200, 404, 404],
    ),
    (
        "get",
        "/api/v1/orgs/{org_id}/assessments/{assessment_id}/gaps",
        "",
        [401, 200, 200, 200, 200, 404, 200],
    ),
    (
        "get",
        "/api/v1/orgs/{org_id}/drift",
        "",
        [401, 200, 200, 200, 200, 404, 200],
    ),
    (
        "get",
        "/api/v1/orgs/{org_id}/parameters/{framework}",
        "",
        [401, 200, 200, 200, 200, 404, 200],
    ),
    (
        "put",
        "/api/v1/orgs/{org_id}/parameters/{framework}",
        r#"{"values":{"A.03.01.01.ODP.01":"90 days"}}"#,
        [401, 403, 200, 200, 200, 404, 404],
    ),
    // Catalogs: the built-ins for anyone signed in; imports and deletes for admins and owners.
    (
        "get",
        "/api/v1/catalogs",
        "",
        [401, 200, 200, 200, 200, 200, 200],
    ),
    (
        "get",
        "/api/v1/orgs/{org_id}/catalogs",
        "",
        [401, 200, 200, 200, 200, 404, 200],
    ),
    (
        "get",
        "/api/v1/orgs/{org_id}/catalogs/{catalog_id}",
        "",
        [401, 200, 200, 200, 200, 404, 200],
    ),
    (
        "get",
        "/api/v1/orgs/{org_id}/evidence",
        "",
        [401, 200, 200, 200, 200, 404, 200],
    ),
    // No `?filename=`: those allowed to upload get past access to the check of the name.
    (
        "post",
        "/api/v1/orgs/{org_id}/evidence",
        "{}",
        [401, 403, 422, 422, 422, 404, 404],
    ),
    (
        "get",
        "/api/v1/orgs/{org_id}/evidence/{evidence_id}",
        "",
        [401, 200, 200, 200, 200, 404, 200],
    ),
    (
        "put",
        "/api/v1/orgs/{org_id}/evidence/{evidence_id}",
        r#"{"title":"Access control policy"}"#,
        [401, 403, 200, 200, 200, 404, 404],
    ),
    (
        "get",
        "/api/v1/orgs/{org_id}/evidence/{evidence_id}/versions",
        "",
        [401, 200, 200, 200, 200, 404, 200],
    ),
    (
        "post",
        "/api/v1/orgs/{org_id}/evidence/{evidence_id}/versions",
        "{}",
        [401, 403, 422, 422, 422, 404, 404],
    ),
    (
        "get",
        "/api/v1/orgs/{org_id}/evidence/{evidence_id}/download",
        "",
        [401, 200, 200, 200, 200, 404, 200],
    ),
    (
        "get",
        "/api/v1/orgs/{org_id}/evidence/{evidence_id}/versions/{number}/download",
        "",
        [401, 200, 200, 200, 200, 404, 200],
    ),
    // Sharing with someone without an account: admins and owners only.
    (
        "post",
        "/api/v1/orgs/{org_id}/evidence/{evidence_id}/links",
        "{}",
        [401, 403, 403, 201, 201, 404, 404],
    ),
    (
        "get",
        "/api/v1/orgs/{org_id}/evidence/{evidence_id}/links",
        "",
        [401, 200, 200, 200, 200, 404, 200],
    ),
    // No such link: those allowed to revoke get past access to the lookup.
    (
        "delete",
        "/api/v1/orgs/{org_id}/evidence/{evidence_id}/links/{link_id}",
        "",
        [401, 403, 403, 404, 404, 404, 404],
    ),
    // The member moves the file to the bin; after that it is no longer there to delete.
    (
        "delete",
        "/api/v1/orgs/{org_id}/evidence/{evidence_id}",
        "",
        [401, 403, 200, 404, 404, 404, 404],
    ),
    // The member takes it back out; after that it is not in the bin.
    (
        "post",
        "/api/v1/orgs/{org_id}/evidence/{evidence_id}/restore",
        "",
        [401, 403, 200, 422, 422, 404, 404],
    ),
    // `{}` is no OSCAL catalog: those allowed to import get past access to the validation.
    (
        "post",
        "/api/v1/orgs/{org_id}/catalogs",
        "{}",
        [401, 403, 403, 422, 422, 404, 404],
    ),
    // {catalog_id} is a built-in, which no one deletes: those allowed get past access to 404.
    (
        "delete",
        "/api/v1/orgs/{org_id}/catalogs/{catalog_id}",
        "",
        [401, 403, 403, 404, 404, 404, 404],
    ),
    // Tokens are for members: the appliance administrator's read access is not handed on.
    (
        "get",
        "/api/v1/orgs/{org_id}/tokens",
        "",
        [401, 200, 200, 200, 200, 404, 404],
    ),
    (
        "delete",
        "/api/v1/orgs/{org_id}/tokens/{token_id}",
        "",
        [401, 404, 404, 404, 404, 404, 404],
    ),
    (
        "get",
        "/api/v1/orgs/{org_id}/members",
        "",
        [401, 200, 200, 200, 200, 404, 404],
    ),
    // {account_id} is a plain member; setting the role it has changes nothing for later rows.
    (
        "put",
        "/api/v1/orgs/{org_id}/members/{account_id}",
        r#"{"role":"member"}"#,
        [401, 403, 403, 204, 204, 404, 404],
    ),
    // Columns run left to right: the admin removes {account_id}, so the owner then finds no one.
    (
        "delete",
        "/api/v1/orgs/{org_id}/members/{account_id}",
        "",
        [401, 403, 403, 204, 404, 404, 404],
    ),
    (
        "post",
        "/api/v1/orgs/{org_id}/invitations",
        r#"{"email":"new@globex.example","role":"viewer"}"#,
        [401, 403, 403, 201, 201, 404, 404],
    ),
    // No invitation has this id: those who manage members get past access to 404.
    (
        "delete",
        "/api/v1/orgs/{org_id}/invitations/{invitation_id}",
        "",
        [401, 403, 403, 404, 404, 404, 404],
    ),
    (
        "post",
        "/api/v1/invitations/accept",
        r#"{"token":"nope"}"#,
        [401, 410, 410, 410, 410, 410, 410],
    ),
    // The mailed link is the proof; nobody's session matters.
    (
        "post",
        "/api/v1/invitations/confirm",
        r#"{"token":"nope","password":"not the password"}"#,
        [410, 410, 410, 410, 410, 410, 410],
    ),
    (
        "get",
        "/api/v1/me/sessions",
        "",
        [401, 200, 200, 200, 200, 200, 200],
    ),
    (
        "delete",
        "/api/v1/me/sessions/{session_id}",
        "",
        [401, 404, 404, 404, 404, 404, 404],
    ),
    (
        "post",
        "/api/v1/me/password",
        r#"{"current_password":"not it at all","new_password":"another strong pass 42 words"}"#,
        [401, 401, 401, 401, 401, 401, 401],
    ),
    // Ends the session: runs last.
    // Everyone signed in exports what Rampart holds about them.
    (
        "get",
        "/api/v1/me/export",
        "",
        [401, 200, 200, 200, 200, 200, 200],
    ),
    // The system description: readers read it, owners write it, like the profile.
    (
        "get",
        "/api/v1/orgs/{org_id}/system",
        "",
        [401, 200, 200, 200, 200, 404, 200],
    ),
    (
        "put",
        "/api/v1/orgs/{org_id}/system",
        r#"{"system_name":"Enclave"}"#,
        [401, 403, 403, 403, 200, 404, 404],
    ),
    // Exports are reads: every member, and the appliance administrator (audited).
    (
        "get",
        "/api/v1/orgs/{org_id}/assessments/{assessment_id}/oscal/{document}",
        "",
        [401, 200, 200, 200, 200, 404, 200],
    ),
    (
        "get",
        "/api/v1/orgs/{org_id}/assessments/{assessment_id}/export/{sheet}",
        "",
        [401, 200, 200, 200, 200, 404, 200],
    ),
    // Imports change statuses: members and up. An empty file is refused after the check.
    (
        "post",
        "/api/v1/orgs/{org_id}/assessments/{assessment_id}/import/{source}",
        "{}",
        [401, 403, 422, 422, 422, 404, 404],
    ),
    // Generated documents: members and up make them, every member reads them.
    (
        "post",
        "/api/v1/orgs/{org_id}/assessments/{assessment_id}/ssp",
        "",
        [401, 403, 201, 201, 201, 404, 404],
    ),
    (
        "post",
        "/api/v1/orgs/{org_id}/assessments/{assessment_id}/reports/{report}",
        "",
        [401, 403, 201, 201, 201, 404, 404],
    ),
    (
        "post",
        "/api/v1/orgs/{org_id}/assessments/{assessment_id}/proofpack",
        r#"{"evidence":[]}"#,
        [401, 403, 202, 202, 202, 404, 404],
    ),
    (
        "get",
        "/api/v1/orgs/{org_id}/documents",
        "",
        [401, 200, 200, 200, 200, 404, 200],
    ),
    (
        "get",
        "/api/v1/orgs/{org_id}/documents/{document_id}",
        "",
        [401, 200, 200, 200, 200, 404, 200],
    ),
    (
        "get",
        "/api/v1/orgs/{org_id}/documents/{document_id}/download",
        "",
        [401, 200, 200, 200, 200, 404, 200],
    ),
    (
        "get",
        "/api/v1/proofpack/key",
        "",
        [401, 200, 200, 200, 200, 200, 200],
    ),
    // Published data, for anyone signed in.
    (
        "get",
        "/api/v1/oscal/catalogs/{framework}",
        "",
        [401, 200, 200, 200, 200, 200, 200],
    ),
    (
        "get",
        "/api/v1/oscal/profiles/{framework}",
        "",
        [401, 200, 200, 200, 200, 200, 200],
    ),
    (
        "post",
        "/api/v1/auth/logout",
        "",
        [401, 204, 204, 204, 204, 204, 204],
    ),
];

const PASSWORD: &str = "velvet orbit canyon 93 drift";

pub fn create_org(env: &TestEnv, name: &str) -> String {
    let out = env.rampart(&["admin", "org", "create", name]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let org: Value = serde_json::from_str(&stdout(&out)).unwrap();
    org["id"].as_str().unwrap().to_owned()
}

fn create_user(env: &TestEnv, email: &str, org: &str, role: &str) -> String {
    crate::identity::create_user(env, email, PASSWORD, org, role)
}

fn call(
    server: &TestServer,
    session: Option<&Session>,
    method: &str,
    path: &str,
    body: &str,
) -> u16 {
    let mut request = server
        .client
        .request(method.to_uppercase().parse().unwrap(), server.url(path))
        .header("origin", origin(server));
    if !body.is_empty() {
        request = request
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    if let Some(session) = session {
        request = request
            .header("cookie", &session.cookie)
            .header("x-csrf-token", &session.csrf);
    }
    request.send().unwrap().status().as_u16()
}

#[test]
fn every_route_answers_every_actor_as_the_table_says() {
    for route in rampart::web::api::ROUTES {
        assert!(
            MATRIX
                .iter()
                .any(|(m, p, _, _)| *m == route.method && *p == route.path),
            "{} {} has no row in the access matrix (tests/it/matrix.rs)",
            route.method,
            route.path
        );
    }

    let env = TestEnv::new();
    let server = env.serve();
    set_up(&server);
    let target = create_org(&env, "Globex");
    let other = create_org(&env, "Initech");
    for role in ["viewer", "member", "admin", "owner"] {
        create_user(&env, &format!("{role}@globex.example"), &target, role);
    }
    create_user(&env, "owner@initech.example", &other, "owner");
    let plain_member = create_user(&env, "target@globex.example", &target, "member");

    let sessions: Vec<Option<Session>> = vec![
        None,
        Some(Session::login(&server, "viewer@globex.example", PASSWORD)),
        Some(Session::login(&server, "member@globex.example", PASSWORD)),
        Some(Session::login(&server, "admin@globex.example", PASSWORD)),
        Some(Session::login(&server, "owner@globex.example", PASSWORD)),
        Some(Session::login(&server, "owner@initech.example", PASSWORD)),
        Some(Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD)),
    ];

    let assessment = crate::compliance::create_assessment(
        &server,
        sessions[4].as_ref().unwrap(),
        &target,
        "cmmc-l2",
    );

    let document = send_json(
        &server,
        sessions[4].as_ref().unwrap(),
        "POST",
        &format!("/api/v1/orgs/{target}/assessments/{assessment}/reports/score-summary"),
    );
    let document = document["id"].as_str().unwrap().to_owned();

    let evidence = crate::evidence::upload(
        &server,
        sessions[4].as_ref().unwrap(),
        &target,
        "policy.pdf",
        &crate::evidence::pdf("matrix"),
    );
    let evidence = evidence["id"].as_str().unwrap().to_owned();

    let mut failures = Vec::new();
    for (method, path, body, expected) in MATRIX {
        let path = path
            .replace("{org_id}", &target)
            .replace("{assessment_id}", &assessment)
            .replace("{evidence_id}", &evidence)
            .replace("{number}", "1")
            .replace("{name}", "drift")
            .replace("{message_id}", "00000000-0000-4000-8000-000000000002")
            .replace("{link_id}", "00000000-0000-4000-8000-000000000001")
            .replace("{invitation_id}", "00000000-0000-4000-8000-000000000003")
            .replace("{requirement_id}", "3.1.1")
            .replace("{catalog_id}", "cmmc-l2")
            .replace("{framework}", "nist-800-171r3")
            .replace("{document}", "ssp")
            .replace("{sheet}", "poam")
            .replace("{report}", "score-summary")
            .replace("{document_id}", &document)
            .replace("{source}", "objectives")
            .replace("{token_id}", "5b0c8f1e-2d4a-4e7b-9c3f-1a2b3c4d5e6f")
            .replace("{account_id}", &plain_member)
            .replace("{session_id}", &"ab".repeat(32))
            .replace("{key_id}", "00000000-0000-4000-8000-000000000000");
        for (i, session) in sessions.iter().enumerate() {
            let got = call(&server, session.as_ref(), method, &path, body);
            if got != expected[i] {
                failures.push(format!(
                    "{method} {path} as {}: expected {}, got {got}",
                    ACTORS[i], expected[i]
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "access matrix mismatches:\n{}",
        failures.join("\n")
    );

    // The appliance administrator's read of a foreign organization is in the audit log.
    let out = env.rampart(&["audit", "export"]);
    let reads: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["action"] == "admin.org_read")
        .collect();
    // One per read: the profile, nine reads of assessment records, two of catalogs, one of
    // parameter values, six of evidence (list, file, versions, two downloads, links), the
    // system description, an OSCAL export, a spreadsheet export, and the documents list,
    // one document and its download.
    assert_eq!(reads.len(), 25);
    assert!(reads.iter().all(|r| r["org"] == target.as_str()));
    // So are its reads of the organization's audit log and security figures.
    for action in ["admin.audit_read", "admin.security_read"] {
        let reads: Vec<Value> = stdout(&out)
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|e| e["action"] == action)
            .collect();
        assert_eq!(reads.len(), 1, "{action}");
        assert_eq!(reads[0]["org"], target.as_str(), "{action}");
    }
}

/// A change with no body, as the caller; its JSON answer (any 2xx).
fn send_json(server: &TestServer, session: &Session, method: &str, path: &str) -> Value {
    let response = crate::identity::send(server, session, method, path, &serde_json::json!({}));
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().unwrap()
}
