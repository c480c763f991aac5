//! Control catalogs: the frameworks built into the binary (NIST SP 800-171 Rev 2 and Rev 3,
//! CMMC 2.0 Level 1 and Level 2, NIST CSF 2.0) and any OSCAL catalog an organization
//! imports, all read into one model that assessments key on: families of requirements,
//! each assessed through its objectives.
//!
//! The data lives in `controls/` (see its README); [`builtin`] parses a framework on first
//! use. [`parse_oscal`] reads an uploaded OSCAL 1.1.3 catalog after checking it against
//! NIST's schema, and [`validate_oscal`] checks any document we write against the schema of
//! its kind. Pure: no store, no clock.

mod builtin;
mod import;
pub mod imported;
mod oscal;
pub mod reader;
mod schema;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

pub use builtin::{
    FarRequirement, builtin, builtins, check_builtins, far_mapping, oscal_source, scored,
};
pub use import::{MAX_IMPORT_BYTES, parse_oscal};
pub use imported::{CatalogRef, CatalogSummary, ImportError, Quota, resolve};
pub use schema::{MAX_PROBLEMS, OscalSchema, validate_oscal};

#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    #[error("the file is {size} bytes; an OSCAL {kind} may be at most {max} bytes")]
    TooLarge {
        kind: &'static str,
        size: usize,
        max: usize,
    },
    #[error("the file is not JSON: {message} (line {line}, column {column})")]
    NotJson {
        line: usize,
        column: usize,
        message: String,
    },
    /// The document breaks its OSCAL schema. `problems` holds the first [`MAX_PROBLEMS`] of
    /// `total`.
    #[error("not a valid OSCAL 1.1.3 {kind}: {}", summary(problems, *total))]
    Invalid {
        kind: &'static str,
        problems: Vec<Problem>,
        total: usize,
    },
    #[error("the catalog has no requirements that are not withdrawn")]
    Empty,
    #[error("{what} id {id:?} is used more than once")]
    Duplicate { what: &'static str, id: String },
    #[error("the built-in catalog {id} is unreadable: {message}")]
    Builtin { id: &'static str, message: String },
    #[error("the built-in OSCAL {kind} schema is unusable: {message}")]
    Schema { kind: &'static str, message: String },
    #[error("the catalog could not be read: the thread reading catalogs stopped")]
    ReaderStopped,
    /// Refused by the child process that read it, which says why.
    #[error("{0}")]
    Refused(String),
    /// The child process reading a catalog failed.
    #[error("the catalog could not be read: {0}")]
    Reader(String),
}

/// One way a document breaks its schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Problem {
    /// A JSON Pointer to the offending value, e.g. `/catalog/groups/0/controls/3/id`; empty
    /// for the document itself.
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = if self.path.is_empty() {
            "/"
        } else {
            &self.path
        };
        write!(f, "{path}: {}", self.message)
    }
}

/// The first few problems, for a one-line message; the list itself stays in the error.
fn summary(problems: &[Problem], total: usize) -> String {
    const SHOWN: usize = 3;
    let mut text = problems
        .iter()
        .take(SHOWN)
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    if total > SHOWN {
        text.push_str(&format!(" (and {} more)", total - SHOWN));
    }
    text
}

/// A framework: families of requirements. Build one with [`Catalog::new`], which indexes
/// it; call [`Catalog::reindex`] after changing `families`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "CatalogParts")]
pub struct Catalog {
    /// `nist-800-171r2`, `cmmc-l2`, … for the built-ins; the OSCAL uuid for imports.
    pub id: String,
    pub title: String,
    pub version: String,
    pub families: Vec<Family>,
    #[serde(skip)]
    index: Index,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Family {
    /// `3.1` (Rev 2, CMMC), `03.01` (Rev 3), `GV` (CSF), the group id for imports.
    pub id: String,
    /// What people see: `AC` (Rev 2, CMMC), `03.01`, `GV`.
    pub label: String,
    pub title: String,
    pub requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirement {
    /// The id assessments use: `3.1.1` (Rev 2, CMMC), `03.01.01` (Rev 3), `GV.OC` (CSF),
    /// the control id for imports.
    pub id: String,
    /// What people see: `AC.L2-3.1.1` (Rev 2, CMMC Level 2), `AC.L1-3.1.1`, `03.01.01`.
    pub label: String,
    /// The OSCAL control id (`AC.L2-3.1.1`, `SP_800_171_03.01.01`, `GV.OC`): what OSCAL
    /// documents that reference the catalog name it by. Empty in catalogs imported before
    /// it was kept.
    #[serde(default)]
    pub oscal_id: String,
    pub title: String,
    /// The statement's prose, with its items on lines of their own.
    pub statement: String,
    /// NIST's discussion (OSCAL guidance); empty when the source has none.
    pub discussion: String,
    pub withdrawn: bool,
    /// Empty when withdrawn.
    pub objectives: Vec<Objective>,
    /// Organization-defined parameters (Rev 3 ODPs), which statements and objectives name
    /// as `{{ insert: param, ID }}`.
    pub parameters: Vec<Parameter>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Objective {
    /// `3.1.1[a]` (Rev 2, CMMC; the bare `3.13.11` where 800-171A has one objective),
    /// `A.03.01.01.b.01` (Rev 3), `GV.OC-01` (CSF).
    pub id: String,
    /// What people see; the id, except for imports whose objectives carry a label.
    pub label: String,
    /// The OSCAL part (or sub-control) id that states it, when the source gives one.
    #[serde(default)]
    pub oscal_id: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parameter {
    /// e.g. `A.03.01.01.ODP.01`.
    pub id: String,
    /// e.g. `A.03.01.01.ODP[01]`.
    pub label: String,
    /// What the organization defines, e.g. `organization-defined time period`.
    pub usage: String,
    /// How an assessor reads it, e.g. `the time period for account inactivity … is defined.`
    pub guideline: String,
    /// The values to select from, for a selection parameter.
    pub choices: Vec<String>,
}

/// How big a catalog is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub families: usize,
    /// Current requirements, not counting withdrawn ones.
    pub requirements: usize,
    pub withdrawn: usize,
    pub objectives: usize,
}

/// Positions in `families`, so lookups by id do not walk the catalog.
#[derive(Debug, Clone, Default)]
struct Index {
    requirements: HashMap<String, (usize, usize)>,
    objectives: HashMap<String, (usize, usize, usize)>,
}

#[derive(Deserialize)]
struct CatalogParts {
    id: String,
    title: String,
    version: String,
    families: Vec<Family>,
}

impl TryFrom<CatalogParts> for Catalog {
    type Error = CatalogError;
    fn try_from(parts: CatalogParts) -> Result<Catalog, CatalogError> {
        Catalog::new(parts.id, parts.title, parts.version, parts.families)
    }
}

impl Catalog {
    /// Checks that ids are unique and that some requirement is current, and indexes.
    pub fn new(
        id: String,
        title: String,
        version: String,
        families: Vec<Family>,
    ) -> Result<Catalog, CatalogError> {
        let mut catalog = Catalog {
            id,
            title,
            version,
            families,
            index: Index::default(),
        };
        catalog.reindex()?;
        if catalog.current_requirements().next().is_none() {
            return Err(CatalogError::Empty);
        }
        Ok(catalog)
    }

    /// Rebuilds the lookup index from `families`.
    pub fn reindex(&mut self) -> Result<(), CatalogError> {
        let mut index = Index::default();
        let mut families = std::collections::HashSet::new();
        for (f, family) in self.families.iter().enumerate() {
            if !families.insert(family.id.as_str()) {
                return Err(duplicate("family", &family.id));
            }
            for (r, req) in family.requirements.iter().enumerate() {
                if index.requirements.insert(req.id.clone(), (f, r)).is_some() {
                    return Err(duplicate("requirement", &req.id));
                }
                for (o, objective) in req.objectives.iter().enumerate() {
                    if index
                        .objectives
                        .insert(objective.id.clone(), (f, r, o))
                        .is_some()
                    {
                        return Err(duplicate("objective", &objective.id));
                    }
                }
            }
        }
        self.index = index;
        Ok(())
    }

    pub fn requirement(&self, id: &str) -> Option<&Requirement> {
        // Ids reach here as the API spells them; pages pass people's forms through
        // [`parse_requirement_ref`] first.
        self.requirement_in_family(id).map(|(_, req)| req)
    }

    /// A requirement with the family it belongs to.
    pub fn requirement_in_family(&self, id: &str) -> Option<(&Family, &Requirement)> {
        let &(f, r) = self.index.requirements.get(id)?;
        let family = self.families.get(f)?;
        let req = family.requirements.get(r)?;
        // A stale index (families changed without reindex) must not answer wrongly.
        (req.id == id).then_some((family, req))
    }

    /// An objective with its requirement and family.
    pub fn objective(&self, id: &str) -> Option<(&Family, &Requirement, &Objective)> {
        let &(f, r, o) = self.index.objectives.get(id)?;
        let family = self.families.get(f)?;
        let req = family.requirements.get(r)?;
        let objective = req.objectives.get(o)?;
        (objective.id == id).then_some((family, req, objective))
    }

    /// Every requirement, withdrawn ones included, in catalog order.
    pub fn requirements(&self) -> impl Iterator<Item = &Requirement> {
        self.families.iter().flat_map(|f| f.requirements.iter())
    }

    /// The requirements that are not withdrawn, in catalog order.
    pub fn current_requirements(&self) -> impl Iterator<Item = &Requirement> {
        self.requirements().filter(|r| !r.withdrawn)
    }

    /// Every objective of the current requirements, in catalog order.
    pub fn objectives(&self) -> impl Iterator<Item = &Objective> {
        self.current_requirements()
            .flat_map(|r| r.objectives.iter())
    }

    pub fn counts(&self) -> Counts {
        let requirements = self.current_requirements().count();
        Counts {
            families: self.families.len(),
            requirements,
            withdrawn: self.requirements().count() - requirements,
            objectives: self.objectives().count(),
        }
    }
}

fn duplicate(what: &'static str, id: &str) -> CatalogError {
    CatalogError::Duplicate {
        what,
        id: id.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn requirement(id: &str, objectives: &[&str]) -> Requirement {
        Requirement {
            id: id.into(),
            label: id.into(),
            oscal_id: id.into(),
            title: String::new(),
            statement: String::new(),
            discussion: String::new(),
            withdrawn: false,
            objectives: objectives
                .iter()
                .map(|o| Objective {
                    id: (*o).into(),
                    label: (*o).into(),
                    oscal_id: String::new(),
                    text: String::new(),
                })
                .collect(),
            parameters: Vec::new(),
        }
    }

    fn family(id: &str, requirements: Vec<Requirement>) -> Family {
        Family {
            id: id.into(),
            label: id.into(),
            title: id.into(),
            requirements,
        }
    }

    #[test]
    fn new_refuses_duplicates_and_empty_catalogs() {
        let new = |families| Catalog::new("x".into(), "x".into(), "1".into(), families);
        let err = new(vec![family(
            "a",
            vec![requirement("1", &["1a"]), requirement("1", &[])],
        )])
        .unwrap_err();
        assert!(err.to_string().contains("requirement id \"1\""), "{err}");
        let err = new(vec![
            family("a", vec![requirement("1", &["o"])]),
            family("b", vec![requirement("2", &["o"])]),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("objective id \"o\""), "{err}");
        assert!(matches!(new(vec![]), Err(CatalogError::Empty)));
        let mut withdrawn = requirement("1", &[]);
        withdrawn.withdrawn = true;
        assert!(matches!(
            new(vec![family("a", vec![withdrawn])]),
            Err(CatalogError::Empty)
        ));
    }

    #[test]
    fn lookups_survive_a_round_trip_and_notice_a_stale_index() {
        let catalog = Catalog::new(
            "x".into(),
            "x".into(),
            "1".into(),
            vec![family("a", vec![requirement("1", &["1a", "1b"])])],
        )
        .unwrap();
        let json = serde_json::to_string(&catalog).unwrap();
        let mut back: Catalog = serde_json::from_str(&json).unwrap();
        let (fam, req, obj) = back.objective("1b").unwrap();
        assert_eq!(
            (fam.id.as_str(), req.id.as_str(), obj.id.as_str()),
            ("a", "1", "1b")
        );
        back.families[0].requirements[0].objectives.remove(0);
        assert!(back.objective("1b").is_none());
        back.reindex().unwrap();
        assert!(back.objective("1b").is_some());
    }
}

/// A requirement or objective as people write it, in the form the catalogs use: the CMMC
/// form `AC.L2-3.1.1` (any family, Level 1 or 2) becomes `3.1.1`, with any objective
/// suffix (`AC.L2-3.1.1[a]` becomes `3.1.1[a]`); `3.1.1`, `3.1.1[a]` and Rev 3's `03.01.01`
/// are already in that form. Surrounding spaces go; anything else is returned as typed,
/// for the caller to refuse by name.
pub fn parse_requirement_ref(text: &str) -> String {
    let text = text.trim();
    match text.split_at_checked(6) {
        Some((prefix, rest)) if !rest.is_empty() && is_cmmc_prefix(prefix.as_bytes()) => {
            rest.to_owned()
        }
        _ => text.to_owned(),
    }
}

/// `AC.L2-`: a family's two letters, a dot, the level and a dash.
fn is_cmmc_prefix(prefix: &[u8]) -> bool {
    matches!(prefix, [a, b, b'.', b'L' | b'l', b'1' | b'2' | b'3', b'-']
        if a.is_ascii_alphabetic() && b.is_ascii_alphabetic())
}

#[cfg(test)]
mod reference_tests {
    use super::parse_requirement_ref;

    #[test]
    fn the_forms_people_type_name_the_same_requirement() {
        assert_eq!(parse_requirement_ref("AC.L2-3.1.1"), "3.1.1");
        assert_eq!(parse_requirement_ref(" ac.l1-3.1.1[a] "), "3.1.1[a]");
        assert_eq!(parse_requirement_ref("3.1.1"), "3.1.1");
        assert_eq!(parse_requirement_ref("03.01.01"), "03.01.01");
        assert_eq!(parse_requirement_ref("SC.L2-3.13.11"), "3.13.11");
        assert_eq!(parse_requirement_ref("AC.L2-"), "AC.L2-");
        assert_eq!(parse_requirement_ref("nonsense"), "nonsense");
    }
}
