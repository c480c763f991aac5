//! NIST's OSCAL 1.1.3 JSON schemas, embedded (copied into `controls/oscal/` by
//! `scripts/build-controls`) and each compiled once, on first use. All their references are
//! internal, so the validator never resolves anything over the network or from disk.

use std::sync::LazyLock;

use jsonschema::error::ValidationErrorKind;
use jsonschema::{ValidationError, Validator};
use serde_json::Value;

use super::{CatalogError, Problem};

/// How many problems an error keeps: a broken file can have thousands, and a person fixes
/// the first ones first.
pub const MAX_PROBLEMS: usize = 50;
/// Longest message kept per problem; a message may quote the offending value.
const MAX_MESSAGE_CHARS: usize = 300;

/// The OSCAL document kinds whose schemas are built in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OscalSchema {
    Catalog,
    Profile,
    Ssp,
    Poam,
    AssessmentResults,
}

impl OscalSchema {
    pub fn name(self) -> &'static str {
        match self {
            OscalSchema::Catalog => "catalog",
            OscalSchema::Profile => "profile",
            OscalSchema::Ssp => "system security plan",
            OscalSchema::Poam => "plan of action and milestones",
            OscalSchema::AssessmentResults => "assessment results",
        }
    }

    fn validator(self) -> &'static Result<Validator, String> {
        match self {
            OscalSchema::Catalog => &CATALOG,
            OscalSchema::Profile => &PROFILE,
            OscalSchema::Ssp => &SSP,
            OscalSchema::Poam => &POAM,
            OscalSchema::AssessmentResults => &ASSESSMENT_RESULTS,
        }
    }
}

type Compiled = LazyLock<Result<Validator, String>>;

static CATALOG: Compiled = LazyLock::new(|| {
    compile(include_str!(
        "../../controls/oscal/oscal_catalog_schema.json"
    ))
});
static PROFILE: Compiled = LazyLock::new(|| {
    compile(include_str!(
        "../../controls/oscal/oscal_profile_schema.json"
    ))
});
static SSP: Compiled =
    LazyLock::new(|| compile(include_str!("../../controls/oscal/oscal_ssp_schema.json")));
static POAM: Compiled =
    LazyLock::new(|| compile(include_str!("../../controls/oscal/oscal_poam_schema.json")));
static ASSESSMENT_RESULTS: Compiled = LazyLock::new(|| {
    compile(include_str!(
        "../../controls/oscal/oscal_assessment-results_schema.json"
    ))
});

fn compile(text: &str) -> Result<Validator, String> {
    let schema: Value = serde_json::from_str(text).map_err(|err| err.to_string())?;
    // OSCAL's schemas are draft-07 and rely on `format` (date-time, uri, email) as much as
    // on patterns, so formats are checked, as NIST's own tooling does.
    jsonschema::draft7::options()
        .should_validate_formats(true)
        .build(&schema)
        .map_err(|err| err.to_string())
}

/// Checks `value` against the OSCAL 1.1.3 schema of its kind. A failure is
/// [`CatalogError::Invalid`] with the first [`MAX_PROBLEMS`] problems, each at a JSON
/// Pointer.
pub fn validate_oscal(schema: OscalSchema, value: &Value) -> Result<(), CatalogError> {
    let validator = schema
        .validator()
        .as_ref()
        .map_err(|message| CatalogError::Schema {
            kind: schema.name(),
            message: message.clone(),
        })?;
    let mut problems = Vec::new();
    let mut total = 0;
    for error in validator.iter_errors(value) {
        total += 1;
        if problems.len() < MAX_PROBLEMS {
            problems.push(problem(&error));
        }
    }
    if total == 0 {
        Ok(())
    } else {
        Err(CatalogError::Invalid {
            kind: schema.name(),
            problems,
            total,
        })
    }
}

/// OSCAL's pattern for ids (a "token"), which its schemas spell as a regex.
const TOKEN_PATTERN: &str = r"^(\p{L}|_)(\p{L}|\p{N}|[.\-_])*$";

fn problem(error: &ValidationError<'_>) -> Problem {
    let message = match (error.kind(), error.instance().as_ref()) {
        // The commonest mistake (an id like 3.1.1), said in words rather than a regex.
        (ValidationErrorKind::Pattern { pattern }, value) if pattern == TOKEN_PATTERN => format!(
            "{value} is not an OSCAL token: it must start with a letter or _ and hold only \
             letters, digits, '.', '-' and '_'"
        ),
        // An object or array in the message would repeat a whole subtree of the upload.
        (_, Value::Object(_) | Value::Array(_)) => error.masked_with("the value").to_string(),
        _ => error.to_string(),
    };
    let message = match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", message.get(..cut).unwrap_or_default()),
        None => message,
    };
    Problem {
        path: error.instance_path().as_str().to_owned(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_schema_compiles() {
        for schema in [
            OscalSchema::Catalog,
            OscalSchema::Profile,
            OscalSchema::Ssp,
            OscalSchema::Poam,
            OscalSchema::AssessmentResults,
        ] {
            assert!(schema.validator().is_ok(), "{schema:?}");
        }
    }

    #[test]
    fn a_document_of_another_kind_is_refused() {
        let catalog: Value =
            serde_json::from_str(include_str!("../../controls/nist-800-171r2.oscal.json")).unwrap();
        validate_oscal(OscalSchema::Catalog, &catalog).unwrap();
        let err = validate_oscal(OscalSchema::Ssp, &catalog).unwrap_err();
        assert!(err.to_string().contains("system-security-plan"), "{err}");
    }
}
