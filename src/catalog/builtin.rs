//! The frameworks built into the binary, each parsed from `controls/` on first use.
//!
//! CMMC 2.0 Level 2 is NIST SP 800-171 Rev 2 under CMMC labels; Level 1 is the 17 Rev 2
//! requirements that FAR 52.204-21(b)(1) maps to, with their 800-171A objectives, as 32 CFR
//! 170.15 assesses them. All three are scored by [`crate::scoring`].

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use super::oscal::{self, Dialect, Document};
use super::{Catalog, CatalogError, Family};

const REV2: &str = "nist-800-171r2";
const CMMC_L2: &str = "cmmc-l2";
const CMMC_L1: &str = "cmmc-l1";
const REV3: &str = "nist-800-171r3";
const CSF: &str = "nist-csf-2.0";
/// In the order a person picking a framework would want them.
const IDS: [&str; 5] = [CMMC_L2, CMMC_L1, REV2, REV3, CSF];

/// One FAR 52.204-21(b)(1) requirement and the Rev 2 requirements it maps to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FarRequirement {
    /// As 32 CFR 170 names it: `AC.L1-b.1.i`.
    pub id: String,
    pub domain: String,
    /// The FAR paragraph: `i` … `xv`.
    pub paragraph: String,
    pub text: String,
    /// Rev 2 requirement ids, e.g. `3.10.3`, `3.10.4`, `3.10.5` for paragraph ix.
    #[serde(rename = "r2")]
    pub requirements: Vec<String>,
}

#[derive(Deserialize)]
struct Level1File {
    requirements: Vec<FarRequirement>,
}

const REV2_JSON: &str = include_str!("../../controls/nist-800-171r2.oscal.json");
const REV3_JSON: &str = include_str!("../../controls/nist-800-171r3.oscal.json");
const CSF_JSON: &str = include_str!("../../controls/nist-csf-2.0.oscal.json");

type Loaded<T> = LazyLock<Result<T, CatalogError>>;

static REV2_CATALOG: Loaded<Catalog> =
    LazyLock::new(|| load(REV2, REV2_JSON, Dialect::Rev2, "NIST SP 800-171 Rev 2"));
static CMMC_L2_CATALOG: Loaded<Catalog> = LazyLock::new(|| {
    let rev2 = rev2()?;
    Ok(Catalog {
        id: CMMC_L2.to_owned(),
        title: "CMMC 2.0 Level 2".to_owned(),
        ..rev2.clone()
    })
});
static FAR_MAPPING: Loaded<Vec<FarRequirement>> = LazyLock::new(|| {
    serde_json::from_str::<Level1File>(include_str!("../../controls/cmmc-level1.json"))
        .map(|file| file.requirements)
        .map_err(|err| unreadable(CMMC_L1, &err))
});
static CMMC_L1_CATALOG: Loaded<Catalog> = LazyLock::new(level1);
static REV3_CATALOG: Loaded<Catalog> =
    LazyLock::new(|| load(REV3, REV3_JSON, Dialect::Rev3, "NIST SP 800-171 Rev 3"));
static CSF_CATALOG: Loaded<Catalog> =
    LazyLock::new(|| load(CSF, CSF_JSON, Dialect::Csf, "NIST CSF 2.0"));

fn unreadable(id: &'static str, err: &dyn std::fmt::Display) -> CatalogError {
    CatalogError::Builtin {
        id,
        message: err.to_string(),
    }
}

fn load(
    id: &'static str,
    json: &str,
    dialect: Dialect,
    title: &str,
) -> Result<Catalog, CatalogError> {
    // The files are checked against the schema by the tests, not at every start.
    let document: Document = serde_json::from_str(json).map_err(|err| unreadable(id, &err))?;
    oscal::read(document, dialect, id.to_owned(), title.to_owned())
        .map_err(|err| unreadable(id, &err))
}

fn rev2() -> Result<&'static Catalog, CatalogError> {
    REV2_CATALOG.as_ref().map_err(Clone::clone)
}

fn level1() -> Result<Catalog, CatalogError> {
    let rev2 = rev2()?;
    let mapping = FAR_MAPPING.as_ref().map_err(Clone::clone)?;
    let at_level1 = |id: &str| {
        mapping
            .iter()
            .any(|far| far.requirements.iter().any(|r| r == id))
    };
    let families: Vec<Family> = rev2
        .families
        .iter()
        .map(|family| Family {
            requirements: family
                .requirements
                .iter()
                .filter(|req| at_level1(&req.id))
                .map(|req| super::Requirement {
                    label: format!("{}.L1-{}", family.label, req.id),
                    ..req.clone()
                })
                .collect(),
            ..family.clone()
        })
        .filter(|family| !family.requirements.is_empty())
        .collect();
    let catalog = Catalog::new(
        CMMC_L1.to_owned(),
        "CMMC 2.0 Level 1".to_owned(),
        rev2.version.clone(),
        families,
    )?;
    // Every mapped id must be a Rev 2 requirement, or Level 1 would silently shrink.
    for far in mapping {
        for id in &far.requirements {
            if catalog.requirement(id).is_none() {
                return Err(unreadable(
                    CMMC_L1,
                    &format!("{} maps to {id}, which is not a Rev 2 requirement", far.id),
                ));
            }
        }
    }
    Ok(catalog)
}

fn cell(id: &str) -> Option<&'static Loaded<Catalog>> {
    match id {
        REV2 => Some(&REV2_CATALOG),
        CMMC_L2 => Some(&CMMC_L2_CATALOG),
        CMMC_L1 => Some(&CMMC_L1_CATALOG),
        REV3 => Some(&REV3_CATALOG),
        CSF => Some(&CSF_CATALOG),
        _ => None,
    }
}

/// A built-in framework by id: `nist-800-171r2`, `cmmc-l2`, `cmmc-l1`, `nist-800-171r3`,
/// `nist-csf-2.0`. `None` for any other id, and for one whose data is unreadable (a build
/// fault the tests catch; [`check_builtins`] reports it at start).
pub fn builtin(id: &str) -> Option<&'static Catalog> {
    match cell(id)?.as_ref() {
        Ok(catalog) => Some(catalog),
        Err(err) => {
            tracing::error!(catalog = id, error = %err, "a built-in catalog is unreadable");
            None
        }
    }
}

/// The OSCAL catalog a built-in framework is read from, as shipped (file name, JSON):
/// CMMC Level 1 and Level 2 are read from Rev 2.
pub fn oscal_source(id: &str) -> Option<(&'static str, &'static str)> {
    match id {
        REV2 | CMMC_L2 | CMMC_L1 => Some(("nist-800-171r2.oscal.json", REV2_JSON)),
        REV3 => Some(("nist-800-171r3.oscal.json", REV3_JSON)),
        CSF => Some(("nist-csf-2.0.oscal.json", CSF_JSON)),
        _ => None,
    }
}

/// Every built-in framework, CMMC first.
pub fn builtins() -> impl Iterator<Item = &'static Catalog> {
    IDS.into_iter().filter_map(builtin)
}

/// Parses every built-in framework now, so a damaged build fails at start, not on the
/// first page that needs a catalog.
pub fn check_builtins() -> Result<(), CatalogError> {
    for id in IDS {
        if let Some(Err(err)) = cell(id).map(|c| c.as_ref()) {
            return Err(err.clone());
        }
    }
    FAR_MAPPING.as_ref().map(|_| ()).map_err(Clone::clone)
}

/// The 15 FAR 52.204-21(b)(1) requirements behind CMMC Level 1; empty if the built-in data
/// is unreadable (see [`check_builtins`]).
pub fn far_mapping() -> &'static [FarRequirement] {
    FAR_MAPPING.as_ref().map(Vec::as_slice).unwrap_or(&[])
}

/// Whether a framework is scored by the DoD Assessment Methodology ([`crate::scoring`]).
pub fn scored(id: &str) -> bool {
    matches!(id, REV2 | CMMC_L2 | CMMC_L1)
}

#[cfg(test)]
mod tests;
