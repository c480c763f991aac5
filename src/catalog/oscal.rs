//! The part of the OSCAL catalog model Rampart reads, and the reader that turns a catalog
//! into families, requirements and objectives.
//!
//! The rules, for any catalog: groups are families (nested groups become families of their
//! own); controls are requirements; a requirement's objectives are its leaf
//! `assessment-objective` parts, else its sub-controls, else the control itself. A control
//! is withdrawn when it has the prop `status` = `withdrawn`, or a statement with no prose
//! and no items and no objectives (how NIST's CSF 2.0 catalog marks the CSF 1.1 categories
//! it dropped).
//! [`Dialect`] adds what each built-in source needs on top: which ids people use, and the
//! marks a source leaves implicit.

use serde::Deserialize;

use super::{Catalog, CatalogError, Family, Objective, Parameter, Requirement};

#[derive(Debug, Deserialize)]
pub(super) struct Document {
    catalog: OscalCatalog,
}

#[derive(Debug, Deserialize)]
struct OscalCatalog {
    uuid: String,
    metadata: Metadata,
    #[serde(default)]
    groups: Vec<Group>,
    #[serde(default)]
    controls: Vec<Control>,
}

#[derive(Debug, Deserialize)]
struct Metadata {
    title: String,
    version: String,
}

#[derive(Debug, Deserialize)]
struct Group {
    id: Option<String>,
    title: String,
    #[serde(default)]
    props: Vec<Prop>,
    #[serde(default)]
    groups: Vec<Group>,
    #[serde(default)]
    controls: Vec<Control>,
}

#[derive(Debug, Deserialize)]
struct Control {
    id: String,
    title: String,
    #[serde(default)]
    props: Vec<Prop>,
    #[serde(default)]
    params: Vec<Param>,
    #[serde(default)]
    parts: Vec<Part>,
    #[serde(default)]
    controls: Vec<Control>,
}

#[derive(Debug, Deserialize)]
struct Part {
    id: Option<String>,
    name: String,
    #[serde(default)]
    props: Vec<Prop>,
    prose: Option<String>,
    #[serde(default)]
    parts: Vec<Part>,
}

#[derive(Debug, Deserialize)]
struct Param {
    id: String,
    #[serde(default)]
    props: Vec<Prop>,
    label: Option<String>,
    usage: Option<String>,
    #[serde(default)]
    guidelines: Vec<Guideline>,
    select: Option<Select>,
}

#[derive(Debug, Deserialize)]
struct Guideline {
    prose: String,
}

#[derive(Debug, Deserialize)]
struct Select {
    #[serde(default)]
    choice: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Prop {
    name: String,
    value: String,
}

fn prop<'a>(props: &'a [Prop], name: &str) -> Option<&'a str> {
    props
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.value.as_str())
}

/// What a source needs beyond the generic rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    /// Any imported catalog: OSCAL ids as they are.
    Generic,
    /// Our Rev 2 catalog: ids are the NIST numbers in the `label` props (`3.1`, `3.1.1`,
    /// `3.1.1[a]`), labels the CMMC forms (`AC`, `AC.L2-3.1.1`).
    Rev2,
    /// NIST's Rev 3 catalog: ids from the `sort-id` props (`03.01`, `03.01.01`); objectives
    /// without their `assessment-objective_DS-` prefix and in id order.
    Rev3,
    /// NIST's CSF 2.0 catalog: a subcategory with no implementation examples is a CSF 1.1 id
    /// that 2.0 withdrew (the file marks them no other way).
    Csf,
}

/// Reads `document` as a catalog with the given id and title.
pub(super) fn read(
    document: Document,
    dialect: Dialect,
    id: String,
    title: String,
) -> Result<Catalog, CatalogError> {
    let OscalCatalog {
        metadata,
        groups,
        controls,
        ..
    } = document.catalog;
    let mut families = Vec::new();
    for group in &groups {
        read_group(group, dialect, &mut families);
    }
    if !controls.is_empty() {
        // Controls outside any group: one family named after the catalog.
        families.push(Family {
            id: "catalog".to_owned(),
            label: String::new(),
            title: metadata.title.clone(),
            requirements: requirements(&controls, dialect),
        });
    }
    Catalog::new(id, title, metadata.version, families)
}

/// The id and title an imported catalog gets: its uuid and its metadata title.
pub(super) fn identity(document: &Document) -> (String, String) {
    (
        document.catalog.uuid.clone(),
        document.catalog.metadata.title.clone(),
    )
}

fn read_group(group: &Group, dialect: Dialect, families: &mut Vec<Family>) {
    if !group.controls.is_empty() {
        let oscal_id = group.id.clone().unwrap_or_else(|| group.title.clone());
        let (id, label) = match dialect {
            Dialect::Generic | Dialect::Csf => (oscal_id.clone(), oscal_id),
            Dialect::Rev2 => (
                prop(&group.props, "label").map_or_else(|| oscal_id.clone(), str::to_owned),
                oscal_id.to_uppercase(),
            ),
            Dialect::Rev3 => {
                let id = prop(&group.props, "sort-id").map_or(oscal_id, str::to_owned);
                (id.clone(), id)
            }
        };
        families.push(Family {
            id,
            label,
            title: group.title.clone(),
            requirements: requirements(&group.controls, dialect),
        });
    }
    for inner in &group.groups {
        read_group(inner, dialect, families);
    }
}

fn requirements(controls: &[Control], dialect: Dialect) -> Vec<Requirement> {
    let mut out = Vec::new();
    for control in controls {
        out.push(requirement(control, dialect));
        // Enhancements of a control assessed through its own objectives (800-53 style)
        // are requirements of their own; otherwise they were its objectives.
        if has_objective_parts(&control.parts) {
            out.extend(requirements(&control.controls, dialect));
        }
    }
    out
}

fn requirement(control: &Control, dialect: Dialect) -> Requirement {
    let (id, label) = match dialect {
        Dialect::Generic | Dialect::Csf => (control.id.clone(), control.id.clone()),
        Dialect::Rev2 => (
            prop(&control.props, "label").map_or_else(|| control.id.clone(), str::to_owned),
            control.id.clone(),
        ),
        Dialect::Rev3 => {
            let id =
                prop(&control.props, "sort-id").map_or_else(|| control.id.clone(), str::to_owned);
            (id.clone(), id)
        }
    };
    let withdrawn = is_withdrawn(control);
    let statement = statement_text(&control.parts, dialect);
    let objectives = if withdrawn {
        Vec::new()
    } else {
        objectives(control, &id, &statement, dialect)
    };
    Requirement {
        label,
        oscal_id: control.id.clone(),
        title: control.title.clone(),
        discussion: prose_of(&control.parts, "guidance"),
        withdrawn,
        objectives,
        parameters: control.params.iter().map(parameter).collect(),
        statement,
        id,
    }
}

/// Withdrawn: marked so, or left with nothing to state or assess. The second test needs the
/// missing objectives too: NIST's Rev 3 catalog has current requirements whose statement is
/// empty but whose objectives are all there.
fn is_withdrawn(control: &Control) -> bool {
    let empty_statement = control.parts.iter().any(|p| {
        p.name == "statement" && p.prose.as_deref().is_none_or(str::is_empty) && p.parts.is_empty()
    });
    prop(&control.props, "status") == Some("withdrawn")
        || (empty_statement && !has_objective_parts(&control.parts))
}

fn objectives(control: &Control, id: &str, statement: &str, dialect: Dialect) -> Vec<Objective> {
    let mut out = Vec::new();
    objective_leaves(&control.parts, dialect, id, &mut out);
    if dialect == Dialect::Rev3 {
        out.sort_by_cached_key(|o| natural_key(&o.id));
    }
    if out.is_empty() {
        out = control
            .controls
            .iter()
            .filter(|sub| !is_withdrawn(sub))
            .filter(|sub| dialect != Dialect::Csf || sub.parts.iter().any(|p| p.name == "example"))
            .map(|sub| {
                let text = statement_or_title(statement_text(&sub.parts, dialect), &sub.title);
                Objective {
                    id: sub.id.clone(),
                    label: prop(&sub.props, "label").unwrap_or(&sub.id).to_owned(),
                    oscal_id: sub.id.clone(),
                    text,
                }
            })
            .collect();
    }
    if out.is_empty() {
        out.push(Objective {
            id: id.to_owned(),
            label: id.to_owned(),
            oscal_id: String::new(),
            text: statement_or_title(statement.to_owned(), &control.title),
        });
    }
    out
}

fn has_objective_parts(parts: &[Part]) -> bool {
    parts.iter().any(|p| p.name == "assessment-objective")
}

/// The leaf `assessment-objective` parts: 800-53A nests them (an objective for `a.` holding
/// `a.1`, `a.2`), and only the leaves are assessed.
fn objective_leaves(parts: &[Part], dialect: Dialect, requirement: &str, out: &mut Vec<Objective>) {
    for part in parts.iter().filter(|p| p.name == "assessment-objective") {
        if has_objective_parts(&part.parts) {
            objective_leaves(&part.parts, dialect, requirement, out);
            continue;
        }
        let label = prop(&part.props, "label");
        let id = match (dialect, label, &part.id) {
            (Dialect::Rev2, Some(label), _) => label.to_owned(),
            (Dialect::Rev3, _, Some(id)) => id
                .strip_prefix("assessment-objective_DS-")
                .unwrap_or(id)
                .to_owned(),
            (_, _, Some(id)) => id.clone(),
            (_, Some(label), None) => label.to_owned(),
            // An objective with neither id nor label: numbered within its requirement.
            (_, None, None) => format!("{requirement}[{}]", out.len() + 1),
        };
        out.push(Objective {
            label: match dialect {
                Dialect::Generic => label.map_or_else(|| id.clone(), str::to_owned),
                _ => id.clone(),
            },
            id,
            oscal_id: part.id.clone().unwrap_or_default(),
            text: part.prose.clone().unwrap_or_default(),
        });
    }
}

/// The statement: its prose, then each item on a line of its own, indented by depth.
fn statement_text(parts: &[Part], dialect: Dialect) -> String {
    let mut lines = Vec::new();
    for part in parts.iter().filter(|p| p.name == "statement") {
        if let Some(prose) = part.prose.as_deref().filter(|p| !p.is_empty()) {
            lines.push(prose.to_owned());
        }
        items(&part.parts, dialect, 0, &mut lines);
    }
    lines.join("\n")
}

fn items(parts: &[Part], dialect: Dialect, depth: usize, lines: &mut Vec<String>) {
    for part in parts.iter().filter(|p| p.name == "item") {
        let label = prop(&part.props, "label").map(|label| match dialect {
            // Rev 3 labels items like SR-03.01.01.c.01; the last step is what a reader
            // of the publication sees.
            Dialect::Rev3 => format!("{}.", label.rsplit('.').next().unwrap_or(label)),
            _ => label.to_owned(),
        });
        let prose = part.prose.as_deref().unwrap_or_default();
        let line = match label {
            Some(label) => format!("{label} {prose}"),
            None => prose.to_owned(),
        };
        lines.push(format!("{}{}", "  ".repeat(depth), line.trim_end()));
        items(&part.parts, dialect, depth + 1, lines);
    }
}

fn statement_or_title(statement: String, title: &str) -> String {
    if statement.is_empty() {
        title.to_owned()
    } else {
        statement
    }
}

/// All prose of the parts named `name`, sub-parts included, as paragraphs.
fn prose_of(parts: &[Part], name: &str) -> String {
    fn collect(part: &Part, out: &mut Vec<String>) {
        if let Some(prose) = part.prose.as_deref().filter(|p| !p.is_empty()) {
            out.push(prose.to_owned());
        }
        for inner in &part.parts {
            collect(inner, out);
        }
    }
    let mut out = Vec::new();
    for part in parts.iter().filter(|p| p.name == name) {
        collect(part, &mut out);
    }
    out.join("\n\n")
}

fn parameter(param: &Param) -> Parameter {
    Parameter {
        id: param.id.clone(),
        label: prop(&param.props, "label").unwrap_or(&param.id).to_owned(),
        usage: param
            .usage
            .clone()
            .or_else(|| param.label.clone())
            .unwrap_or_default(),
        guideline: param
            .guidelines
            .iter()
            .map(|g| g.prose.as_str())
            .collect::<Vec<_>>()
            .join("\n\n"),
        choices: param
            .select
            .as_ref()
            .map(|s| s.choice.clone())
            .unwrap_or_default(),
    }
}

/// Orders ids like `A.03.01.01.b.02` < `A.03.01.01.b.10` < `A.03.01.01.c`: digit runs by
/// value, everything else as text.
fn natural_key(id: &str) -> Vec<(u64, String)> {
    id.split('.')
        .map(|step| match step.parse::<u64>() {
            Ok(n) => (n, String::new()),
            Err(_) => (u64::MAX, step.to_owned()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_puts_numbers_by_value() {
        let mut ids = vec!["A.1.b", "A.1.a.10", "A.1.a.02", "A.1.c"];
        ids.sort_by_key(|id| natural_key(id));
        assert_eq!(ids, ["A.1.a.02", "A.1.a.10", "A.1.b", "A.1.c"]);
    }
}
