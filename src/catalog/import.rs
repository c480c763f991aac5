//! Reading an OSCAL catalog that a person uploads: bounded in size, checked against NIST's
//! schema before anything else looks at it, and refused with every problem named.

use std::sync::{LazyLock, mpsc};

use serde_json::Value;

use super::oscal::{self, Dialect, Document};
use super::schema::{OscalSchema, validate_oscal};
use super::{Catalog, CatalogError};

/// NIST's largest catalog (800-53 Rev 5 with 800-53A) is about 9 MB as compact JSON.
pub const MAX_IMPORT_BYTES: usize = 10 * 1024 * 1024;

/// Work for the [`READER`] thread.
type Job = Box<dyn FnOnce() + Send>;

/// Uploads are read one at a time, on one thread of their own. Reading goes through a JSON
/// tree of the whole document, up to some twenty times its size, while the schema is
/// checked. The allocator keeps the pages of such a peak with the thread's arena: read on
/// whichever blocking thread took the request, each import could leave another peak
/// behind; read here, every import reuses the same pages.
static READER: LazyLock<Option<mpsc::Sender<Job>>> = LazyLock::new(|| {
    let (jobs, queue) = mpsc::channel::<Job>();
    let spawned = std::thread::Builder::new()
        .name("catalog-reader".into())
        .spawn(move || {
            for job in queue {
                job();
            }
        });
    match spawned {
        Ok(_) => Some(jobs),
        Err(err) => {
            tracing::warn!(error = %err, "no thread for reading catalogs; each import reads its own");
            None
        }
    }
});

/// Reads an OSCAL 1.1.3 catalog (JSON). The catalog's id is its OSCAL uuid and its title
/// the metadata title; requirement ids are the control ids.
pub fn parse_oscal(bytes: &[u8]) -> Result<Catalog, CatalogError> {
    let value = json_tree(bytes)?;
    read_tree(value)
}

/// [`parse_oscal`] for an upload, on the [`READER`] thread, which also hands the catalog to
/// `then`: the catalog is made, used and let go there, and only what `then` keeps leaves.
pub(super) fn parse_upload<T: Send + 'static>(
    bytes: Vec<u8>,
    then: impl FnOnce(Catalog) -> T + Send + 'static,
) -> Result<T, CatalogError> {
    let (reply, answer) = mpsc::sync_channel(1);
    let job: Job = Box::new(move || {
        // The asker may have gone (its request broke off): nothing to answer then.
        let _ = reply.send(read_upload(bytes).map(then));
    });
    match READER.as_ref() {
        Some(reader) => {
            // The reader is gone: read here.
            if let Err(mpsc::SendError(job)) = reader.send(job) {
                job();
            }
        }
        None => job(),
    }
    answer.recv().unwrap_or(Err(CatalogError::ReaderStopped))
}

/// An upload, let go as soon as its JSON tree is built.
fn read_upload(bytes: Vec<u8>) -> Result<Catalog, CatalogError> {
    let value = json_tree(&bytes)?;
    drop(bytes);
    read_tree(value)
}

fn json_tree(bytes: &[u8]) -> Result<Value, CatalogError> {
    if bytes.len() > MAX_IMPORT_BYTES {
        return Err(CatalogError::TooLarge {
            kind: OscalSchema::Catalog.name(),
            size: bytes.len(),
            max: MAX_IMPORT_BYTES,
        });
    }
    serde_json::from_slice(bytes).map_err(|err| CatalogError::NotJson {
        line: err.line(),
        column: err.column(),
        message: not_json_message(&err),
    })
}

/// The catalog in `value`, checked against the schema first.
fn read_tree(value: Value) -> Result<Catalog, CatalogError> {
    validate_oscal(OscalSchema::Catalog, &value)?;
    // The schema has held, so the shape below is there; a failure here is a field the
    // schema allows and the model does not, reported as a problem like the others.
    let document: Document =
        serde_json::from_value(value).map_err(|err| CatalogError::Invalid {
            kind: OscalSchema::Catalog.name(),
            problems: vec![super::Problem {
                path: String::new(),
                message: err.to_string(),
            }],
            total: 1,
        })?;
    let (id, title) = oscal::identity(&document);
    oscal::read(document, Dialect::Generic, id, title)
}

/// serde_json's message without its trailing position, which the error carries apart.
fn not_json_message(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(cut) => text.get(..cut).unwrap_or(&text).to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::catalog::MAX_PROBLEMS;

    fn minimal() -> Value {
        json!({"catalog": {
            "uuid": "9f3c5a0e-1d2b-4c3d-8e4f-5a6b7c8d9e0f",
            "metadata": {
                "title": "Acme baseline",
                "last-modified": "2026-01-01T00:00:00Z",
                "version": "1.0",
                "oscal-version": "1.1.3"
            },
            "groups": [{
                "id": "net",
                "title": "Network",
                "controls": [
                    {"id": "net-1", "title": "Firewall", "parts": [
                        {"id": "net-1_smt", "name": "statement", "prose": "Run a firewall."},
                        {"id": "net-1_obj.a", "name": "assessment-objective",
                         "props": [{"name": "label", "value": "NET-1[a]"}],
                         "prose": "a firewall is running."},
                        {"id": "net-1_obj.b", "name": "assessment-objective",
                         "prose": "its rules are reviewed."}
                    ]},
                    {"id": "net-2", "title": "Segments", "parts": [
                        {"id": "net-2_smt", "name": "statement", "prose": "Segment the network."}
                    ]}
                ]
            }]
        }})
    }

    fn import(value: &Value) -> Result<Catalog, CatalogError> {
        parse_oscal(&serde_json::to_vec(value).unwrap())
    }

    fn problems(err: CatalogError) -> Vec<super::super::Problem> {
        match err {
            CatalogError::Invalid { problems, .. } => problems,
            other => panic!("expected Invalid, got {other}"),
        }
    }

    #[test]
    fn a_minimal_catalog_imports() {
        let catalog = import(&minimal()).unwrap();
        assert_eq!(catalog.id, "9f3c5a0e-1d2b-4c3d-8e4f-5a6b7c8d9e0f");
        assert_eq!(
            (catalog.title.as_str(), catalog.version.as_str()),
            ("Acme baseline", "1.0")
        );
        let (family, req, objective) = catalog.objective("net-1_obj.a").unwrap();
        assert_eq!((family.id.as_str(), req.id.as_str()), ("net", "net-1"));
        assert_eq!(objective.label, "NET-1[a]");
        assert_eq!(objective.text, "a firewall is running.");
        // A control with no objectives of its own is its single objective.
        let net2 = catalog.requirement("net-2").unwrap();
        assert_eq!(net2.objectives.len(), 1);
        assert_eq!(net2.objectives[0].id, "net-2");
        assert_eq!(net2.objectives[0].text, "Segment the network.");
        assert_eq!(catalog.counts().objectives, 3);
    }

    #[test]
    fn the_built_in_rev2_file_imports_as_a_catalog() {
        let catalog =
            parse_oscal(include_bytes!("../../controls/nist-800-171r2.oscal.json")).unwrap();
        assert_eq!(catalog.counts().requirements, 110);
        assert_eq!(catalog.counts().objectives, 320);
        // Imports keep the OSCAL ids.
        assert!(catalog.requirement("AC.L2-3.1.1").is_some());
    }

    #[test]
    fn a_bad_id_token_is_refused_at_its_path() {
        let mut doc = minimal();
        doc["catalog"]["groups"][0]["controls"][1]["id"] = json!("3.1.1");
        let found = problems(import(&doc).unwrap_err());
        assert!(
            found
                .iter()
                .any(|p| p.path == "/catalog/groups/0/controls/1/id"
                    && p.message.starts_with("\"3.1.1\" is not an OSCAL token")),
            "{found:?}"
        );
    }

    #[test]
    fn a_missing_metadata_is_refused() {
        let mut doc = minimal();
        doc["catalog"].as_object_mut().unwrap().remove("metadata");
        let err = import(&doc).unwrap_err();
        assert!(err.to_string().contains("metadata"), "{err}");
        let found = problems(err);
        assert!(
            found
                .iter()
                .any(|p| p.path == "/catalog" && p.message.contains("\"metadata\"")),
            "{found:?}"
        );
    }

    #[test]
    fn a_wrong_type_is_refused_at_its_path() {
        let mut doc = minimal();
        doc["catalog"]["groups"][0]["controls"][0]["title"] = json!(42);
        let found = problems(import(&doc).unwrap_err());
        assert!(
            found
                .iter()
                .any(|p| p.path == "/catalog/groups/0/controls/0/title"
                    && p.message.contains("string")),
            "{found:?}"
        );
    }

    #[test]
    fn problems_are_capped_and_counted() {
        let mut doc = minimal();
        let controls: Vec<Value> = (0..80)
            .map(|n| json!({"id": format!("{n}"), "title": "x"}))
            .collect();
        doc["catalog"]["groups"][0]["controls"] = json!(controls);
        match import(&doc).unwrap_err() {
            CatalogError::Invalid {
                problems, total, ..
            } => {
                assert_eq!(problems.len(), MAX_PROBLEMS);
                assert!(total >= 80, "{total}");
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn not_json_names_line_and_column() {
        let err = parse_oscal(b"{\n  \"catalog\": {\n    \"uuid\": oops\n}").unwrap_err();
        assert!(
            matches!(
                err,
                CatalogError::NotJson {
                    line: 3,
                    column: 13,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("line 3, column 13"), "{err}");
    }

    #[test]
    fn too_large_and_empty_and_duplicate_catalogs_are_refused() {
        let big = vec![b' '; MAX_IMPORT_BYTES + 1];
        assert!(matches!(
            parse_oscal(&big),
            Err(CatalogError::TooLarge { .. })
        ));

        let mut doc = minimal();
        doc["catalog"]["groups"] = json!([{"id": "net", "title": "Network"}]);
        assert!(matches!(import(&doc), Err(CatalogError::Empty)));

        let mut doc = minimal();
        doc["catalog"]["groups"][0]["controls"][1]["id"] = json!("net-1");
        let err = import(&doc).unwrap_err();
        assert!(
            err.to_string().contains("requirement id \"net-1\""),
            "{err}"
        );
    }

    #[test]
    fn nested_objectives_and_enhancements_read_as_800_53_does() {
        let mut doc = minimal();
        doc["catalog"]["groups"][0]["controls"] = json!([{
            "id": "ac-2", "title": "Account Management",
            "parts": [
                {"id": "ac-2_smt", "name": "statement", "prose": "Manage accounts."},
                {"id": "ac-2_obj", "name": "assessment-objective", "parts": [
                    {"id": "ac-2_obj.a", "name": "assessment-objective", "parts": [
                        {"id": "ac-2_obj.a-1", "name": "assessment-objective", "prose": "one"},
                        {"id": "ac-2_obj.a-2", "name": "assessment-objective", "prose": "two"}
                    ]},
                    {"id": "ac-2_obj.b", "name": "assessment-objective", "prose": "three"}
                ]}
            ],
            "controls": [{"id": "ac-2.1", "title": "Automated Account Management", "parts": [
                {"id": "ac-2.1_smt", "name": "statement", "prose": "Automate it."}
            ]}]
        }]);
        let catalog = import(&doc).unwrap();
        let ids: Vec<&str> = catalog
            .requirement("ac-2")
            .unwrap()
            .objectives
            .iter()
            .map(|o| o.id.as_str())
            .collect();
        assert_eq!(ids, ["ac-2_obj.a-1", "ac-2_obj.a-2", "ac-2_obj.b"]);
        assert_eq!(
            catalog.requirement("ac-2.1").unwrap().objectives[0].id,
            "ac-2.1"
        );
    }
}
