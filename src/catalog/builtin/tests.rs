//! The built-in catalogs against their sources in `controls/source` (a copy of the team's
//! controls-src, read at test time independently of the reader) and against the counts
//! its README states.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::*;
use crate::catalog::{OscalSchema, validate_oscal};

fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("controls/source")
}

fn source(rel: &str) -> Value {
    let path = source_dir().join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| {
        panic!(
            "{}: {err} (controls/source holds the NIST and DoD sources)",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap()
}

fn array<'a>(value: &'a Value, key: &str) -> &'a Vec<Value> {
    value[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is not an array"))
}

fn get(id: &str) -> &'static Catalog {
    builtin(id).unwrap_or_else(|| panic!("{id}: {:?}", check_builtins()))
}

fn ids<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    items.collect()
}

#[test]
fn every_built_in_parses() {
    check_builtins().unwrap();
    let found: Vec<&str> = builtins().map(|c| c.id.as_str()).collect();
    assert_eq!(
        found,
        [
            "cmmc-l2",
            "cmmc-l1",
            "nist-800-171r2",
            "nist-800-171r3",
            "nist-csf-2.0"
        ]
    );
    assert!(builtin("nist-800-53r5").is_none());
    assert!(scored("cmmc-l1") && scored("cmmc-l2") && scored("nist-800-171r2"));
    assert!(!scored("nist-800-171r3") && !scored("nist-csf-2.0"));
}

#[test]
fn rev2_matches_its_sources_and_the_readme() {
    let catalog = get("nist-800-171r2");
    assert_eq!(catalog.title, "NIST SP 800-171 Rev 2");
    let reqs = source("nist-800-171r2/800-171r2-requirements.cprt.json");
    let objectives = source("nist-800-171r2/800-171a-objectives.cprt.json");
    let counts = catalog.counts();
    // The README's numbers, then the sources' own.
    assert_eq!(
        (counts.families, counts.requirements, counts.objectives),
        (14, 110, 320)
    );
    assert_eq!(counts.withdrawn, 0);
    assert_eq!(counts.families, array(&reqs, "families").len());
    assert_eq!(counts.requirements, array(&reqs, "requirements").len());
    let source_objectives: usize = array(&objectives, "requirements")
        .iter()
        .map(|r| array(r, "objectives").len())
        .sum();
    assert_eq!(counts.objectives, source_objectives);

    for src in array(&reqs, "requirements") {
        let id = src["id"].as_str().unwrap();
        let (family, req) = catalog.requirement_in_family(id).unwrap();
        assert_eq!(family.id, src["family"].as_str().unwrap());
        assert_eq!(req.title, src["title"].as_str().unwrap());
        assert_eq!(req.statement, src["text"].as_str().unwrap());
        assert_eq!(req.label, format!("{}.L2-{id}", family.label));
        // The discussion is NIST's wherever the source carries one.
        assert_eq!(
            req.discussion,
            src["discussion"].as_str().unwrap_or_default()
        );
    }
    for src in array(&objectives, "requirements") {
        let req = catalog.requirement(src["id"].as_str().unwrap()).unwrap();
        let expected: Vec<(&str, &str)> = array(src, "objectives")
            .iter()
            .map(|o| (o["id"].as_str().unwrap(), o["statement"].as_str().unwrap()))
            .collect();
        let found: Vec<(&str, &str)> = req
            .objectives
            .iter()
            .map(|o| (o.id.as_str(), o.text.as_str()))
            .collect();
        assert_eq!(found, expected, "{}", req.id);
    }
    let (family, req, objective) = catalog.objective("3.1.1[a]").unwrap();
    assert_eq!(
        (family.label.as_str(), req.label.as_str()),
        ("AC", "AC.L2-3.1.1")
    );
    assert_eq!(objective.text, "authorized users are identified.");
    assert_eq!(
        ids(catalog
            .requirement("3.13.11")
            .unwrap()
            .objectives
            .iter()
            .map(|o| o.id.as_str())),
        ["3.13.11"]
    );
}

/// The Rev 2 CPRT export in controls-src has no discussion text (see controls/README.md);
/// this passes once a source with NIST's discussion is added.
#[test]
#[ignore = "controls-src's Rev 2 export carries no discussion text yet"]
fn every_rev2_requirement_has_its_discussion() {
    let missing: Vec<&str> = get("nist-800-171r2")
        .requirements()
        .filter(|r| r.discussion.is_empty())
        .map(|r| r.id.as_str())
        .collect();
    assert!(missing.is_empty(), "no discussion for {missing:?}");
}

#[test]
fn rev2_agrees_with_the_scoring_table() {
    let catalog = get("nist-800-171r2");
    let scoring = crate::scoring::catalog().unwrap();
    let ours: Vec<(&str, &str, Vec<&str>)> = catalog
        .families
        .iter()
        .flat_map(|f| {
            f.requirements.iter().map(move |r| {
                (
                    r.id.as_str(),
                    f.id.as_str(),
                    r.objectives.iter().map(|o| o.id.as_str()).collect(),
                )
            })
        })
        .collect();
    let theirs: Vec<(&str, &str, Vec<&str>)> = scoring
        .requirements
        .iter()
        .map(|r| {
            (
                r.id.as_str(),
                r.family.as_str(),
                r.objectives.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(ours, theirs);
}

#[test]
fn cmmc_level2_is_rev2_under_its_own_name() {
    let l2 = get("cmmc-l2");
    let rev2 = get("nist-800-171r2");
    assert_eq!(l2.title, "CMMC 2.0 Level 2");
    assert_eq!(l2.families, rev2.families);
    assert_eq!(l2.requirement("3.1.1").unwrap().label, "AC.L2-3.1.1");
    assert!(l2.objective("3.14.7[b]").is_some());
}

#[test]
fn cmmc_level1_is_the_far_mapping() {
    let l1 = get("cmmc-l1");
    let crosswalk = source("cmmc/cmmc-l1-crosswalk-32cfr170.15.json");
    let far = source("cmmc/far-52.204-21-b1.json");
    // README: 15 requirements -> 17 Rev 2 requirements.
    assert_eq!(far_mapping().len(), 15);
    assert_eq!(far_mapping().len(), array(&crosswalk, "controls").len());
    let mapped: Vec<&str> = far_mapping()
        .iter()
        .flat_map(|f| f.requirements.iter().map(String::as_str))
        .collect();
    assert_eq!(mapped.len(), 17);
    assert_eq!(l1.counts().requirements, 17);
    for (ours, src) in far_mapping().iter().zip(array(&crosswalk, "controls")) {
        assert_eq!(ours.id, src["id"].as_str().unwrap());
        let text = array(&far, "clauses")
            .iter()
            .find(|c| c["paragraph"] == src["paragraph"])
            .unwrap()["text"]
            .as_str()
            .unwrap();
        assert_eq!(ours.text, text);
        let r2: Vec<&str> = array(src, "r2")
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(ours.requirements, r2);
    }
    let ours: BTreeSet<&str> = l1.requirements().map(|r| r.id.as_str()).collect();
    let scoring: BTreeSet<&str> = crate::scoring::catalog()
        .unwrap()
        .level1
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(ours, scoring);
    assert_eq!(ours, mapped.into_iter().collect());
    let req = l1.requirement("3.10.4").unwrap();
    assert_eq!(req.label, "PE.L1-3.10.4");
    assert_eq!(
        req.objectives,
        get("nist-800-171r2")
            .requirement("3.10.4")
            .unwrap()
            .objectives
    );
    assert_eq!(l1.counts().families, 6);
}

fn oscal_controls(catalog: &Value) -> Vec<&Value> {
    array(&catalog["catalog"], "groups")
        .iter()
        .flat_map(|g| array(g, "controls").iter())
        .collect()
}

fn is_withdrawn(control: &Value) -> bool {
    control["props"].as_array().is_some_and(|props| {
        props
            .iter()
            .any(|p| p["name"] == "status" && p["value"] == "withdrawn")
    })
}

#[test]
fn rev3_matches_its_source_and_the_readme() {
    let catalog = get("nist-800-171r3");
    let src = source("nist-800-171r3/NIST_SP800-171_rev3_catalog.json");
    let controls = oscal_controls(&src);
    let withdrawn = controls.iter().filter(|c| is_withdrawn(c)).count();
    let counts = catalog.counts();
    assert_eq!((counts.families, counts.requirements), (17, 97));
    assert_eq!(counts.families, array(&src["catalog"], "groups").len());
    assert_eq!(counts.requirements, controls.len() - withdrawn);
    assert_eq!(counts.withdrawn, withdrawn);
    assert!(withdrawn > 0);
    let source_objectives = controls
        .iter()
        .filter(|c| !is_withdrawn(c))
        .flat_map(|c| array(c, "parts").iter())
        .filter(|p| p["name"] == "assessment-objective")
        .count();
    assert_eq!(counts.objectives, source_objectives);

    // NIST's file leaves the statement of some current requirements empty; they stay
    // current, assessed through their objectives.
    let unstated: Vec<&str> = catalog
        .current_requirements()
        .filter(|r| r.statement.is_empty())
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(unstated.len(), 29, "{unstated:?}");
    let enforcement = catalog.requirement("03.01.02").unwrap();
    assert!(!enforcement.withdrawn && !enforcement.objectives.is_empty());
    let gone = catalog.requirement("03.01.13").unwrap();
    assert!(gone.withdrawn && gone.objectives.is_empty());
    let req = catalog.requirement("03.01.01").unwrap();
    assert_eq!(
        (req.label.as_str(), req.title.as_str()),
        ("03.01.01", "Account Management")
    );
    assert!(
        req.statement
            .contains("\nc. Specify:\n  01. Authorized users of the system,"),
        "{}",
        req.statement
    );
    assert!(
        req.discussion
            .starts_with("This requirement focuses on account management")
    );
    let first: Vec<&str> = req
        .objectives
        .iter()
        .take(3)
        .map(|o| o.id.as_str())
        .collect();
    assert_eq!(
        first,
        ["A.03.01.01.a.01", "A.03.01.01.a.02", "A.03.01.01.b.01"]
    );
    let parameter = &req.parameters[0];
    assert_eq!(
        (
            parameter.id.as_str(),
            parameter.label.as_str(),
            parameter.usage.as_str()
        ),
        (
            "A.03.01.01.ODP.01",
            "A.03.01.01.ODP[01]",
            "organization-defined time period"
        )
    );
    let (family, _, objective) = catalog.objective("A.03.01.01.f.02").unwrap();
    assert_eq!(family.id, "03.01");
    assert!(
        objective
            .text
            .contains("{{ insert: param, A.03.01.01.ODP.01 }}")
    );
    let parameters: usize = catalog.requirements().map(|r| r.parameters.len()).sum();
    let source_parameters: usize = controls
        .iter()
        .map(|c| c["params"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(parameters, source_parameters);
}

fn has_prose(control: &Value) -> bool {
    array(control, "parts")
        .iter()
        .any(|p| p["name"] == "statement" && p["prose"].as_str().is_some_and(|s| !s.is_empty()))
}

#[test]
fn csf_matches_its_source_and_the_readme() {
    let catalog = get("nist-csf-2.0");
    let src = source("nist-csf-2.0/NIST_CSF_v2.0_catalog.json");
    let categories = oscal_controls(&src);
    let subcategories: Vec<&Value> = categories
        .iter()
        .flat_map(|c| array(c, "controls").iter())
        .collect();
    // README: 34 category and 185 subcategory entries, 22 and 106 of them current.
    assert_eq!((categories.len(), subcategories.len()), (34, 185));
    let counts = catalog.counts();
    assert_eq!(
        (counts.families, counts.requirements, counts.objectives),
        (6, 22, 106)
    );
    assert_eq!(counts.withdrawn, 12);
    assert_eq!(
        counts.requirements,
        categories.iter().filter(|c| has_prose(c)).count()
    );
    // Current subcategories are those with implementation examples (see controls/README.md).
    let current: Vec<&str> = categories
        .iter()
        .filter(|c| has_prose(c))
        .flat_map(|c| array(c, "controls").iter())
        .filter(|s| array(s, "parts").iter().any(|p| p["name"] == "example"))
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids(catalog.objectives().map(|o| o.id.as_str())), current);

    let (family, req, objective) = catalog.objective("GV.OC-01").unwrap();
    assert_eq!(
        (family.id.as_str(), family.title.as_str()),
        ("GV", "GOVERN")
    );
    assert_eq!((req.id.as_str(), req.label.as_str()), ("GV.OC", "GV.OC"));
    assert_eq!(
        objective.text,
        "The organizational mission is understood and informs cybersecurity risk management"
    );
    assert!(catalog.requirement("ID.BE").unwrap().withdrawn);
    assert!(
        catalog.objective("PR.DS-03").is_none(),
        "a CSF 1.1 subcategory"
    );
}

#[test]
fn the_shipped_oscal_files_are_valid_oscal() {
    for (name, json) in [
        (
            "nist-800-171r2",
            include_str!("../../../controls/nist-800-171r2.oscal.json"),
        ),
        (
            "nist-800-171r3",
            include_str!("../../../controls/nist-800-171r3.oscal.json"),
        ),
        (
            "nist-csf-2.0",
            include_str!("../../../controls/nist-csf-2.0.oscal.json"),
        ),
    ] {
        let value: Value = serde_json::from_str(json).unwrap();
        if let Err(err) = validate_oscal(OscalSchema::Catalog, &value) {
            panic!("{name}: {err}");
        }
    }
}

#[test]
fn parsing_every_built_in_is_quick() {
    let started = std::time::Instant::now();
    for (id, json, dialect) in [
        (
            REV2,
            include_str!("../../../controls/nist-800-171r2.oscal.json"),
            Dialect::Rev2,
        ),
        (
            REV3,
            include_str!("../../../controls/nist-800-171r3.oscal.json"),
            Dialect::Rev3,
        ),
        (
            CSF,
            include_str!("../../../controls/nist-csf-2.0.oscal.json"),
            Dialect::Csf,
        ),
    ] {
        load(id, json, dialect, id).unwrap();
    }
    level1().unwrap();
    let elapsed = started.elapsed();
    eprintln!("parsed every built-in catalog in {elapsed:?}");
    // Generous for a debug build on a busy machine; it is milliseconds in practice.
    assert!(elapsed < std::time::Duration::from_secs(5), "{elapsed:?}");
}

/// controls/ is exactly what scripts/build-controls makes from controls-src.
#[test]
fn controls_are_what_the_script_builds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().unwrap();
    let run = std::process::Command::new("python3")
        .arg(root.join("scripts/build-controls"))
        .arg(source_dir())
        .arg("--out")
        .arg(out.path())
        .output();
    let run = match run {
        Ok(run) => run,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("python3 is not installed: skipping the rebuild check");
            return;
        }
        Err(err) => panic!("python3: {err}"),
    };
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let mut built = Vec::new();
    collect_files(out.path(), out.path(), &mut built);
    assert!(built.len() >= 11, "{built:?}");
    for rel in &built {
        let fresh = std::fs::read(out.path().join(rel)).unwrap();
        let shipped = std::fs::read(root.join("controls").join(rel))
            .unwrap_or_else(|err| panic!("controls/{}: {err}", rel.display()));
        assert!(
            fresh == shipped,
            "controls/{} differs from what the script builds; run scripts/build-controls",
            rel.display()
        );
    }
}

fn collect_files(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_files(base, &path, out);
        } else {
            out.push(path.strip_prefix(base).unwrap().to_owned());
        }
    }
}
