//! The API's contract with its clients. Every operation in the served
//! `/api/v1/openapi.json` is called as an owner (who is also the appliance administrator)
//! and anonymously, with a few representative requests: ids that exist and ids that do
//! not, a body that is not JSON, an empty body, a body of another type, parameters that
//! cannot be read, and the smallest body its schema allows. Each answer must be a status the
//! operation's entry lists, never a 5xx, with a JSON body that matches the schema listed
//! for that status. And the operations marked as needing a recent sign-in are the ones
//! that refuse a stale one.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{TestEnv, TestServer};
use crate::identity::{ADMIN_EMAIL, ADMIN_PASSWORD, Session, origin, set_up};

const RECENT_SIGN_IN: &str = "x-rampart-recent-sign-in";

struct Operation {
    method: String,
    path: String,
    entry: Value,
}

impl Operation {
    fn name(&self) -> String {
        format!("{} {}", self.method.to_uppercase(), self.path)
    }

    fn parameters(&self, place: &str) -> Vec<&Value> {
        self.entry["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == place)
            .collect()
    }

    /// The media type of its body, when it takes one.
    fn body_type(&self) -> Option<&str> {
        self.entry["requestBody"]["content"]
            .as_object()
            .and_then(|content| content.keys().next())
            .map(String::as_str)
    }

    fn safe(&self) -> bool {
        self.method == "get"
    }

    fn needs_recent_sign_in(&self) -> bool {
        self.entry[RECENT_SIGN_IN] == true
    }
}

fn operations(doc: &Value) -> Vec<Operation> {
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, entry) in item.as_object().unwrap() {
            operations.push(Operation {
                method: method.clone(),
                path: path.clone(),
                entry: entry.clone(),
            });
        }
    }
    operations
}

static WORDS: AtomicUsize = AtomicUsize::new(1);

/// The smallest JSON value `schema` allows: required properties only, first enum value.
fn smallest(schema: &Value, doc: &Value, depth: usize) -> Value {
    if depth > 12 {
        return Value::Null;
    }
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap();
        return smallest(&doc["components"]["schemas"][name], doc, depth + 1);
    }
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    for combined in ["oneOf", "anyOf", "allOf"] {
        if let Some(first) = schema[combined]
            .as_array()
            .and_then(|variants| variants.iter().find(|v| v["type"] != "null"))
        {
            return smallest(first, doc, depth + 1);
        }
    }
    let kind = match &schema["type"] {
        Value::Array(kinds) => kinds
            .iter()
            .find(|k| *k != "null")
            .and_then(Value::as_str)
            .unwrap_or("null"),
        Value::String(kind) => kind.as_str(),
        _ => "object",
    };
    match kind {
        "object" => {
            let mut object = serde_json::Map::new();
            for name in schema["required"].as_array().into_iter().flatten() {
                let name = name.as_str().unwrap();
                object.insert(
                    name.to_owned(),
                    smallest(&schema["properties"][name], doc, depth + 1),
                );
            }
            Value::Object(object)
        }
        "array" => json!([]),
        "string" => match schema["format"].as_str() {
            Some("uuid") => json!(uuid::Uuid::new_v4().to_string()),
            Some("date") => json!("2030-01-31"),
            Some("date-time") => json!("2030-01-31T00:00:00Z"),
            Some("email") => json!("someone@example.com"),
            // Never the same twice: a name given by one call must not be the confirmation
            // another asks for (renaming the organization, then erasing it).
            _ => json!(format!("walk {}", WORDS.fetch_add(1, Ordering::Relaxed))),
        },
        "integer" | "number" => json!(1),
        "boolean" => json!(false),
        _ => Value::Null,
    }
}

/// One answer, as the walk saw it.
struct Answer {
    status: u16,
    code: Option<String>,
}

/// Sends requests and judges each answer against the operation's entry; collects every
/// breach rather than stopping at the first.
struct Walk<'a> {
    server: &'a TestServer,
    doc: &'a Value,
    validators: HashMap<String, jsonschema::Validator>,
    breaches: Vec<String>,
    /// Operations that answered `reauthentication_required`.
    demanded_recent: BTreeSet<String>,
    requests: usize,
}

impl<'a> Walk<'a> {
    fn new(server: &'a TestServer, doc: &'a Value) -> Walk<'a> {
        Walk {
            server,
            doc,
            validators: HashMap::new(),
            breaches: Vec::new(),
            demanded_recent: BTreeSet::new(),
            requests: 0,
        }
    }

    /// Sends one request for `op` to `url` (path and query), as `who`, with `body`.
    fn call(
        &mut self,
        op: &Operation,
        what: &str,
        who: Option<&Session>,
        url: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Answer {
        let mut request = self
            .server
            .client
            .request(
                op.method.to_uppercase().parse().unwrap(),
                self.server.url(url),
            )
            .header("origin", origin(self.server));
        if let Some(session) = who {
            request = request
                .header("cookie", &session.cookie)
                .header("x-csrf-token", &session.csrf);
        }
        if let Some((content_type, bytes)) = body {
            request = request.header("content-type", content_type).body(bytes);
        }
        let response = request.send().unwrap();
        self.requests += 1;
        let status = response.status().as_u16();
        let json = response
            .headers()
            .get("content-type")
            .is_some_and(|t| t.to_str().unwrap().starts_with("application/json"));
        let text = response.text().unwrap_or_default();
        let body: Option<Value> = if json {
            serde_json::from_str(&text).ok()
        } else {
            None
        };
        let code = body
            .as_ref()
            .and_then(|b| b["error"]["code"].as_str())
            .map(str::to_owned);
        if code.as_deref() == Some("reauthentication_required") {
            self.demanded_recent.insert(op.name());
        }
        let listed = &op.entry["responses"][status.to_string()];
        if status >= 500 {
            self.breaches
                .push(format!("{} ({what}): {status} {text}", op.name()));
        } else if !listed.is_object() {
            self.breaches.push(format!(
                "{} ({what}): {status}, which its entry does not list: {text}",
                op.name()
            ));
        } else if status >= 400 && body.is_none() {
            self.breaches.push(format!(
                "{} ({what}): a {status} without the JSON error body: {text}",
                op.name()
            ));
        } else if let Some(schema) = listed["content"]["application/json"]["schema"]
            .as_object()
            .filter(|_| json)
        {
            match &body {
                None => self.breaches.push(format!(
                    "{} ({what}): {status} says JSON but is not: {text}",
                    op.name()
                )),
                Some(body) => {
                    let key = format!("{} {status}", op.name());
                    let doc = self.doc;
                    let validator = self.validators.entry(key).or_insert_with(|| {
                        let root = json!({
                            "allOf": [Value::Object(schema.clone())],
                            "components": doc["components"],
                        });
                        jsonschema::draft202012::new(&root).unwrap()
                    });
                    if let Err(error) = validator.validate(body) {
                        self.breaches.push(format!(
                            "{} ({what}): the {status} body does not match its schema ({error}): {text}",
                            op.name()
                        ));
                    }
                }
            }
        }
        Answer { status, code }
    }
}

/// `op`'s path with each parameter from `value`, and `query` appended.
fn url(op: &Operation, value: &dyn Fn(&Value) -> String, query: &str) -> String {
    let mut path = op.path.clone();
    for parameter in op.parameters("path") {
        let name = parameter["name"].as_str().unwrap();
        path = path.replace(&format!("{{{name}}}"), &value(parameter));
    }
    if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    }
}

/// The smallest body `op` takes: JSON from its schema, a few bytes for a file.
fn smallest_body(op: &Operation, doc: &Value) -> Option<(&'static str, Vec<u8>)> {
    match op.body_type()? {
        "application/json" => {
            let schema = &op.entry["requestBody"]["content"]["application/json"]["schema"];
            Some((
                "application/json",
                smallest(schema, doc, 0).to_string().into_bytes(),
            ))
        }
        _ => Some(("application/octet-stream", b"a few plain words".to_vec())),
    }
}

/// A server with an owner, an assessment, an evidence file and a document, and the value of
/// each path parameter that names something that exists.
struct World {
    // Stopped before its directory goes.
    server: TestServer,
    _env: TestEnv,
    owner: Session,
    doc: Value,
    known: HashMap<&'static str, String>,
}

fn world(config: &str) -> World {
    let env = TestEnv::with_config(config);
    let server = env.serve();
    let org = set_up(&server);
    let owner = Session::login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let doc: Value = server.get("/api/v1/openapi.json").json().unwrap();
    let assessment = crate::compliance::create_assessment(&server, &owner, &org, "cmmc-l2");
    let evidence: Value = crate::evidence::post_file(
        &server,
        &owner,
        &format!("/api/v1/orgs/{org}/evidence"),
        &[("filename", "policy.txt"), ("title", "Access policy")],
        b"Only named people reach CUI.",
    )
    .json()
    .unwrap();
    let me: Value = owner.get(&server, "/api/v1/me").json().unwrap();
    let sessions: Value = owner.get(&server, "/api/v1/me/sessions").json().unwrap();
    let catalogs: Value = owner
        .get(&server, &format!("/api/v1/orgs/{org}/catalogs"))
        .json()
        .unwrap();
    let document: Value = crate::identity::send(
        &server,
        &owner,
        "POST",
        &format!("/api/v1/orgs/{org}/assessments/{assessment}/reports/score-summary"),
        &json!({}),
    )
    .json()
    .unwrap();
    let known = HashMap::from([
        ("org_id", org),
        ("assessment_id", assessment),
        ("evidence_id", evidence["id"].as_str().unwrap().to_owned()),
        (
            "account_id",
            me["account"]["id"].as_str().unwrap().to_owned(),
        ),
        ("session_id", sessions[0]["id"].as_str().unwrap().to_owned()),
        ("catalog_id", catalogs[0]["id"].as_str().unwrap().to_owned()),
        ("document_id", document["id"].as_str().unwrap().to_owned()),
        ("requirement_id", "3.1.1".to_owned()),
        ("framework", "cmmc-l2".to_owned()),
        ("document", "ssp".to_owned()),
        ("sheet", "objectives".to_owned()),
        ("source", "objectives".to_owned()),
        ("report", "gap-report".to_owned()),
        ("name", "drift".to_owned()),
        ("number", "1".to_owned()),
    ]);
    World {
        server,
        _env: env,
        owner,
        doc,
        known,
    }
}

impl World {
    fn known_value(&self, parameter: &Value) -> String {
        let name = parameter["name"].as_str().unwrap();
        self.known
            .get(name)
            .cloned()
            // Nothing of this kind exists yet (a token, a link, a key): any id is unknown.
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
    }
}

fn unknown_value(parameter: &Value) -> String {
    if parameter["schema"]["type"] == "integer" {
        "999999".to_owned()
    } else {
        uuid::Uuid::new_v4().to_string()
    }
}

/// Every parameter given twice (which no reader accepts), and a path number that is none.
fn unreadable(op: &Operation) -> Option<String> {
    let query: Vec<String> = op
        .parameters("query")
        .iter()
        .map(|p| {
            let name = p["name"].as_str().unwrap();
            format!("{name}=x&{name}=y")
        })
        .collect();
    let typed_path = op
        .parameters("path")
        .iter()
        .any(|p| p["schema"]["type"] != "string");
    (!query.is_empty() || typed_path).then(|| query.join("&"))
}

/// Whether calling `op` with ids that exist ends the caller's session or changes what the
/// rest of the walk relies on; such calls are made last.
fn ends_the_walk(op: &Operation) -> bool {
    op.path == "/api/v1/auth/logout" || op.path == "/api/v1/me/sessions/{session_id}"
}

#[test]
fn every_answer_of_every_operation_is_in_its_entry() {
    let started = std::time::Instant::now();
    let world = world("");
    let doc = world.doc.clone();
    let ops = operations(&doc);
    assert!(ops.len() >= 90, "{} operations", ops.len());
    // A parameter is where its entry says: each `{name}` of the path is a path parameter,
    // and every other parameter is not in the path.
    for op in &ops {
        let declared: BTreeSet<&str> = op
            .parameters("path")
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        let in_template: BTreeSet<&str> = op
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        assert_eq!(declared, in_template, "{}", op.name());
    }
    let known = |p: &Value| world.known_value(p);
    let owner = Some(&world.owner);
    let mut walk = Walk::new(&world.server, &doc);

    for op in &ops {
        let here = url(op, &known, "");
        let body = smallest_body(op, &doc);
        walk.call(op, "anonymous", None, &here, body.clone());
        if !op.parameters("path").is_empty() {
            walk.call(
                op,
                "unknown ids",
                owner,
                &url(op, &unknown_value, ""),
                body.clone(),
            );
        }
        if let Some(query) = unreadable(op) {
            let broken = url(
                op,
                &|p: &Value| {
                    if p["schema"]["type"] == "string" {
                        known(p)
                    } else {
                        "not-a-number".to_owned()
                    }
                },
                &query,
            );
            walk.call(op, "unreadable parameters", owner, &broken, body.clone());
        }
        if op.body_type().is_some() {
            let json = "application/json";
            walk.call(
                op,
                "not JSON",
                owner,
                &here,
                Some((json, b"{\"objectives\": [".to_vec())),
            );
            walk.call(op, "empty body", owner, &here, Some((json, Vec::new())));
            walk.call(op, "no body", owner, &here, None);
            walk.call(
                op,
                "another type",
                owner,
                &here,
                Some(("text/plain", b"{}".to_vec())),
            );
            walk.call(op, "smallest body", owner, &here, body.clone());
        } else if op.safe() {
            walk.call(op, "ids that exist", owner, &here, None);
        }
    }
    // Changes without a body, on things that exist: deletions, runs, generated documents.
    // The two that end the owner's session come last.
    let (last, changes): (Vec<&Operation>, Vec<&Operation>) = ops
        .iter()
        .filter(|op| !op.safe() && op.body_type().is_none())
        .partition(|op| ends_the_walk(op));
    for op in changes.into_iter().chain(last) {
        walk.call(op, "ids that exist", owner, &url(op, &known, ""), None);
    }

    let requests = walk.requests;
    assert!(
        walk.breaches.is_empty(),
        "{} of {requests} answers break the contract:\n{}",
        walk.breaches.len(),
        walk.breaches.join("\n")
    );
    eprintln!(
        "{requests} requests to {} operations in {:?}",
        ops.len(),
        started.elapsed()
    );
}

#[test]
fn the_operations_marked_as_needing_a_recent_sign_in_are_those_that_refuse_a_stale_one() {
    let world = world("reauthentication_secs = 1\n");
    let doc = world.doc.clone();
    let ops = operations(&doc);
    let known = |p: &Value| world.known_value(p);
    // The sign-in is now older than the window, in the whole seconds the server counts.
    std::thread::sleep(Duration::from_millis(2_100));
    let mut walk = Walk::new(&world.server, &doc);
    let mut marked = BTreeSet::new();
    for op in ops.iter().filter(|op| !ends_the_walk(op)) {
        let answer = walk.call(
            op,
            "a stale sign-in",
            Some(&world.owner),
            &url(op, &known, ""),
            smallest_body(op, &doc),
        );
        // A body refused before the handler runs never reaches the check.
        if op.needs_recent_sign_in() && answer.status != 400 {
            marked.insert(op.name());
        }
        if answer.code.as_deref() == Some("reauthentication_required") {
            assert_eq!(answer.status, 403, "{}", op.name());
        }
    }
    assert!(walk.breaches.is_empty(), "{}", walk.breaches.join("\n"));
    assert!(marked.len() >= 10, "{marked:?}");
    assert_eq!(
        walk.demanded_recent, marked,
        "operations that refused a stale sign-in (left) against those marked (right)"
    );
}
