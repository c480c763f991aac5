//! OSCAL 1.1.3 exports: system security plan, plan of action and milestones, assessment
//! results, and the catalogs and profiles they reference. Every document is checked against
//! NIST's schema before it leaves; one that fails is a defect and is never handed out.
//!
//! UUIDs are derived from what they name (organization, assessment, requirement), so two
//! exports of the same assessment name the same things with the same UUIDs, as OSCAL asks
//! ("assigned per-subject … consistently used across revisions").

use serde_json::{Value, json};

use super::DocsError;
use super::snapshot::Snapshot;
use crate::assess::PoamStatus;
use crate::catalog::{self, Catalog, OscalSchema, Requirement, validate_oscal};
use crate::scoring::Status;

pub const OSCAL_VERSION: &str = "1.1.3";
/// The namespace of the properties only Rampart defines.
pub const NS: &str = "urn:rampart:oscal";
/// Names every UUID Rampart derives (a random v4, fixed forever).
const NAMESPACE: uuid::Uuid = uuid::uuid!("6f4f3c0e-8a0e-4c51-9a43-5a0d7c1b2e90");

/// The documents made per assessment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ssp,
    Poam,
    AssessmentResults,
}

impl Kind {
    /// As the API path spells it.
    pub fn parse(text: &str) -> Option<Kind> {
        match text {
            "ssp" => Some(Kind::Ssp),
            "poam" => Some(Kind::Poam),
            "assessment-results" => Some(Kind::AssessmentResults),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Ssp => "ssp",
            Kind::Poam => "poam",
            Kind::AssessmentResults => "assessment-results",
        }
    }

    fn schema(self) -> OscalSchema {
        match self {
            Kind::Ssp => OscalSchema::Ssp,
            Kind::Poam => OscalSchema::Poam,
            Kind::AssessmentResults => OscalSchema::AssessmentResults,
        }
    }
}

/// The document of `kind` for the snapshot's assessment, schema-checked.
pub fn export(kind: Kind, snapshot: &Snapshot) -> Result<Value, DocsError> {
    let document = match kind {
        Kind::Ssp => ssp(snapshot),
        Kind::Poam => poam(snapshot),
        Kind::AssessmentResults => assessment_results(snapshot),
    };
    checked(kind.schema(), document)
}

/// A built-in framework's OSCAL catalog, as shipped (CMMC levels are Rev 2's).
pub fn catalog(framework: &str) -> Option<&'static str> {
    catalog::oscal_source(framework).map(|(_, json)| json)
}

/// The profile selecting `catalog`'s current requirements from its OSCAL catalog: for CMMC
/// Level 1, the 17 Rev 2 requirements; for the others, all of them.
pub fn profile(framework: &Catalog, now: i64) -> Result<Value, DocsError> {
    let (file, catalog_uuid) = source_of(framework);
    let resource = derived(&["catalog", &catalog_uuid]);
    let ids: Vec<String> = framework.current_requirements().map(control_id).collect();
    let document = json!({
        "profile": {
            "uuid": derived(&["profile", &framework.id]),
            "metadata": {
                "title": format!("{} profile", framework.title),
                "last-modified": timestamp(now),
                "version": framework.version,
                "oscal-version": OSCAL_VERSION,
            },
            "imports": [{
                "href": format!("#{resource}"),
                "include-controls": [{ "with-ids": ids }],
            }],
            "merge": { "as-is": true },
            "back-matter": { "resources": [{
                "uuid": resource,
                "title": framework.title,
                "rlinks": [{ "href": file, "media-type": "application/oscal.catalog+json" }],
            }]},
        }
    });
    checked(OscalSchema::Profile, document)
}

/// The file a framework's profile is published as.
pub fn profile_file(framework: &str) -> String {
    format!("{}.profile.json", token(framework))
}

/// The catalog file and its OSCAL uuid: shipped for built-ins, the document's own for imports.
fn source_of(framework: &Catalog) -> (String, String) {
    match catalog::oscal_source(&framework.id) {
        Some((file, json)) => {
            let uuid = serde_json::from_str::<Value>(json)
                .ok()
                .and_then(|v| {
                    v.pointer("/catalog/uuid")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .unwrap_or_else(|| derived(&["catalog", file]));
            (file.to_owned(), uuid)
        }
        None => (
            format!("{}.catalog.json", token(&framework.id)),
            framework.id.clone(),
        ),
    }
}

fn checked(schema: OscalSchema, document: Value) -> Result<Value, DocsError> {
    validate_oscal(schema, &document).map_err(DocsError::OscalOutput)?;
    Ok(document)
}

/// A UUID (version 5) derived from `parts`.
fn derived(parts: &[&str]) -> String {
    uuid::Uuid::new_v5(&NAMESPACE, parts.join("\u{1f}").as_bytes()).to_string()
}

/// RFC 3339 in UTC, as OSCAL's `date-time-with-timezone` wants it.
fn timestamp(unix: i64) -> String {
    super::rfc3339(unix)
}

/// Midnight UTC of a `YYYY-MM-DD` date.
fn date_time(date: &str) -> Option<String> {
    crate::dates::parse(date)
        .ok()
        .map(|d| format!("{d}T00:00:00Z"))
}

/// An OSCAL token (`^(\p{L}|_)(\p{L}|\p{N}|[.\-_])*$`) made of `text`.
pub fn token(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !out
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
    {
        out.insert(0, '_');
    }
    out
}

/// The control id OSCAL documents name a requirement by.
pub fn control_id(requirement: &Requirement) -> String {
    if requirement.oscal_id.is_empty() {
        token(&requirement.id)
    } else {
        requirement.oscal_id.clone()
    }
}

/// The part id a finding targets for an objective.
pub fn objective_target(objective: &catalog::Objective) -> String {
    if objective.oscal_id.is_empty() {
        token(&objective.id)
    } else {
        objective.oscal_id.clone()
    }
}

fn prop(name: &str, value: impl ToString) -> Value {
    json!({ "name": name, "ns": NS, "value": value.to_string() })
}

/// The metadata every document carries, with the properties an import checks: which
/// organization, assessment and framework it is about.
fn metadata(snapshot: &Snapshot, title: String) -> Value {
    let assessment = &snapshot.records.assessment;
    json!({
        "title": title,
        "last-modified": timestamp(snapshot.taken_at),
        "version": format!("revision {}", assessment.revision),
        "oscal-version": OSCAL_VERSION,
        "props": [
            prop("organization", snapshot.org.id),
            prop("assessment", &assessment.id),
            prop("framework", &assessment.framework),
        ],
        "roles": [
            { "id": "responsible", "title": "Responsible for the requirement" },
            { "id": "system-role", "title": "Holds a role named in the system description" },
        ],
        "parties": parties(snapshot),
    })
}

fn org_party(snapshot: &Snapshot) -> String {
    derived(&["party", &snapshot.org.id.to_string()])
}

fn person_party(snapshot: &Snapshot, account: &str) -> String {
    derived(&["party", &snapshot.org.id.to_string(), account])
}

fn parties(snapshot: &Snapshot) -> Vec<Value> {
    let mut out = vec![json!({
        "uuid": org_party(snapshot),
        "type": "organization",
        "name": snapshot.org.name,
    })];
    for (account, person) in &snapshot.people {
        let name = if person.name.is_empty() {
            &person.email
        } else {
            &person.name
        };
        out.push(json!({
            "uuid": person_party(snapshot, account),
            "type": "person",
            "name": name,
            "email-addresses": [person.email],
            "member-of-organizations": [org_party(snapshot)],
        }));
    }
    for (n, role) in snapshot.system.roles.iter().enumerate() {
        let mut party = json!({
            "uuid": derived(&["system-role", &snapshot.org.id.to_string(), &n.to_string()]),
            "type": "person",
            "name": role.name,
            "props": [prop("system-role", &role.title)],
        });
        if !role.contact.is_empty()
            && let Some(object) = party.as_object_mut()
        {
            object.insert(
                "remarks".into(),
                json!(format!("Contact: {}", role.contact)),
            );
        }
        out.push(party);
    }
    out
}

fn or_placeholder(text: &str) -> &str {
    if text.trim().is_empty() {
        "Not yet described."
    } else {
        text
    }
}

fn ssp(snapshot: &Snapshot) -> Value {
    let records = &snapshot.records;
    let assessment = &records.assessment;
    let org = snapshot.org.id.to_string();
    let this_system = derived(&["component", &org, "this-system"]);
    let profile_resource = derived(&["profile-resource", &assessment.framework]);
    let system = &snapshot.system;

    let mut components = vec![json!({
        "uuid": this_system,
        "type": "this-system",
        "title": snapshot.system_name(),
        "description": or_placeholder(&system.description),
        "status": { "state": "operational" },
    })];
    let mut providers: Vec<&str> = records
        .details
        .values()
        .filter_map(|d| d.inheritance.as_ref())
        .map(|i| i.provider.as_str())
        .collect();
    providers.sort_unstable();
    providers.dedup();
    for provider in &providers {
        components.push(json!({
            "uuid": derived(&["component", &org, "provider", provider]),
            "type": "service",
            "title": provider,
            "description": format!("External service provider {provider}, from which requirements are inherited."),
            "status": { "state": "operational" },
        }));
    }

    let implemented: Vec<Value> = records
        .catalog
        .current_requirements()
        .map(|req| implemented_requirement(snapshot, req, &this_system))
        .collect();

    let mut characteristics = json!({
        "system-ids": [{
            "identifier-type": "https://ietf.org/rfc/rfc4122",
            "id": derived(&["system", &org]),
        }],
        "system-name": snapshot.system_name(),
        "description": or_placeholder(&system.description),
        "props": [prop("system-id", if system.system_id.is_empty() { &org } else { &system.system_id })],
        "security-sensitivity-level": "moderate",
        "system-information": { "information-types": [{
            "uuid": derived(&["information-type", &org, "cui"]),
            "title": "Controlled Unclassified Information",
            "description": "CUI the organization receives, stores, processes or transmits under its contracts.",
        }]},
        "status": { "state": "operational" },
        "authorization-boundary": { "description": or_placeholder(&system.boundary) },
    });
    if let Some(object) = characteristics.as_object_mut() {
        if !system.environment.is_empty() {
            object.insert(
                "network-architecture".into(),
                json!({ "description": system.environment }),
            );
        }
        if !system.interconnections.is_empty() {
            object.insert(
                "data-flow".into(),
                json!({ "description": system.interconnections }),
            );
        }
        if !system.roles.is_empty() {
            let holders: Vec<String> = (0..system.roles.len())
                .map(|n| derived(&["system-role", &org, &n.to_string()]))
                .collect();
            object.insert(
                "responsible-parties".into(),
                json!([{ "role-id": "system-role", "party-uuids": holders }]),
            );
        }
    }

    json!({ "system-security-plan": {
        "uuid": derived(&["ssp", &org, &assessment.id]),
        "metadata": metadata(snapshot, format!("System Security Plan: {}", snapshot.system_name())),
        "import-profile": { "href": format!("#{profile_resource}") },
        "system-characteristics": characteristics,
        "system-implementation": {
            "users": [{
                "uuid": derived(&["user", &org, "members"]),
                "title": "Organization members",
                "description": "People with an account in the organization, by role: owners, administrators, members and viewers.",
            }],
            "components": components,
        },
        "control-implementation": {
            "description": format!("How {} meets each requirement of {}.", snapshot.system_name(), records.catalog.title),
            "implemented-requirements": implemented,
        },
        "back-matter": { "resources": [{
            "uuid": profile_resource,
            "title": format!("{} profile", records.catalog.title),
            "rlinks": [{
                "href": profile_file(&assessment.framework),
                "media-type": "application/oscal.profile+json",
            }],
        }]},
    }})
}

fn implemented_requirement(snapshot: &Snapshot, req: &Requirement, this_system: &str) -> Value {
    let records = &snapshot.records;
    let org = snapshot.org.id.to_string();
    let detail = records.details.get(&req.id).cloned().unwrap_or_default();
    let status = records.status_of(req);
    let any_met = req.objectives.iter().any(|o| {
        records
            .decided
            .get(&o.id)
            .is_some_and(|d| d.status == Status::Met)
    });
    let state = match status {
        Status::Met => Some("implemented"),
        Status::NotApplicable => Some("not-applicable"),
        Status::NotMet if any_met => Some("partial"),
        Status::NotMet => Some("planned"),
        Status::NotAssessed => None,
    };
    let mut by_component = json!({
        "component-uuid": this_system,
        "uuid": derived(&["by-component", &org, &records.assessment.id, &req.id]),
        "description": or_placeholder(&detail.implementation),
    });
    let mut remarks = vec![format!("Status: {}.", status.as_str())];
    if let Some(object) = by_component.as_object_mut()
        && let Some(state) = state
    {
        object.insert("implementation-status".into(), json!({ "state": state }));
    }
    if let Some(inheritance) = &detail.inheritance {
        remarks.push(format!(
            "Inherited {} from {}. Customer's share: {}",
            match inheritance.kind {
                crate::assess::InheritanceKind::Full => "fully",
                crate::assess::InheritanceKind::Partial => "partly",
            },
            inheritance.provider,
            or_placeholder(&inheritance.customer_share)
        ));
    }
    for (label, marker) in [
        ("Equally effective alternative", &detail.equally_effective),
        ("Enduring exception", &detail.enduring_exception),
        ("Temporary deficiency", &detail.temporary_deficiency),
    ] {
        if let Some(reference) = marker {
            remarks.push(format!("{label}: {reference}."));
        }
    }
    if let Some(review) = &detail.review_date {
        remarks.push(format!("Review by {review}."));
    }
    let evidence: Vec<String> = snapshot
        .evidence_for(req)
        .map(|e| {
            format!(
                "{} ({}, version {}, SHA-256 {})",
                e.meta.title, e.current.filename, e.current.number, e.current.sha256
            )
        })
        .collect();
    if !evidence.is_empty() {
        remarks.push(format!("Evidence: {}.", evidence.join("; ")));
    }
    let mut out = json!({
        "uuid": derived(&["implemented-requirement", &org, &records.assessment.id, &req.id]),
        "control-id": control_id(req),
        "props": [prop("requirement", &req.label)],
        "by-components": [by_component],
        "remarks": remarks.join("\n"),
    });
    let responsible: Vec<String> = detail
        .responsible
        .iter()
        .filter(|a| snapshot.people.contains_key(*a))
        .map(|a| person_party(snapshot, a))
        .collect();
    if !responsible.is_empty()
        && let Some(object) = out.as_object_mut()
    {
        object.insert(
            "responsible-roles".into(),
            json!([{ "role-id": "responsible", "party-uuids": responsible }]),
        );
    }
    out
}

fn poam(snapshot: &Snapshot) -> Value {
    let records = &snapshot.records;
    let assessment = &records.assessment;
    let org = snapshot.org.id.to_string();
    let mut items = Vec::new();
    let mut risks = Vec::new();
    for gap in &snapshot.gaps.unmet {
        let item = records
            .poam
            .iter()
            .find(|i| i.requirement == gap.requirement);
        let risk_uuid = derived(&["risk", &org, &assessment.id, &gap.requirement]);
        let Some(req) = records.catalog.requirement(&gap.requirement) else {
            continue;
        };
        let mut props = vec![prop("requirement", &gap.label)];
        if let Some(points) = gap.points {
            props.push(prop("points", points));
        }
        if let Some(eligible) = gap.eligible {
            props.push(prop("poam-eligible", eligible));
        }
        let weakness = item
            .map(|i| i.weakness.as_str())
            .filter(|w| !w.is_empty())
            .unwrap_or(&req.title);
        let mut risk = json!({
            "uuid": risk_uuid,
            "title": format!("{} {}", gap.label, gap.title),
            "description": weakness,
            "statement": gap.why.clone().unwrap_or_else(|| format!("{} is not met.", gap.label)),
            "status": match item.map(|i| i.status) {
                Some(PoamStatus::Closed) => "closed",
                _ => "open",
            },
        });
        if let Some(item) = item
            && let Some(object) = risk.as_object_mut()
        {
            let tasks: Vec<Value> = item
                .milestones
                .iter()
                .enumerate()
                .filter_map(|(n, m)| {
                    Some(json!({
                        "uuid": derived(&["milestone", &org, &assessment.id, &gap.requirement, &n.to_string()]),
                        "type": "milestone",
                        "title": m.title,
                        "timing": { "on-date": { "date": date_time(&m.due)? } },
                        "props": [prop("done", m.done_on.is_some())],
                    }))
                })
                .collect();
            let mut response = json!({
                "uuid": derived(&["response", &org, &assessment.id, &gap.requirement]),
                "lifecycle": "planned",
                "title": "Planned remediation",
                "description": or_placeholder(&item.remediation),
            });
            if !tasks.is_empty()
                && let Some(r) = response.as_object_mut()
            {
                r.insert("tasks".into(), json!(tasks));
            }
            object.insert("remediations".into(), json!([response]));
            if let Some(deadline) = item
                .milestones
                .iter()
                .filter_map(|m| crate::dates::parse(&m.due).ok())
                .max()
                .and_then(|d| date_time(&d.to_string()))
            {
                object.insert("deadline".into(), json!(deadline));
            }
        }
        risks.push(risk);
        let mut poam_item = json!({
            "uuid": derived(&["poam-item", &org, &assessment.id, &gap.requirement]),
            "title": format!("{} {}", gap.label, gap.title),
            "description": weakness,
            "props": props,
            "related-risks": [{ "risk-uuid": risk_uuid }],
        });
        if let Some(item) = item
            && let Some(object) = poam_item.as_object_mut()
        {
            let mut remarks = vec![format!("Status: {}.", item.status.as_str())];
            if !item.resources.is_empty() {
                remarks.push(format!("Resources: {}", item.resources));
            }
            let people: Vec<String> = item
                .responsible
                .iter()
                .map(|a| snapshot.person(a))
                .collect();
            if !people.is_empty() {
                remarks.push(format!("Responsible: {}.", people.join(", ")));
            }
            if !item.closing_evidence.is_empty() {
                remarks.push(format!("Closing evidence: {}", item.closing_evidence));
            }
            object.insert("remarks".into(), json!(remarks.join("\n")));
        }
        items.push(poam_item);
    }
    let mut document = json!({
        "uuid": derived(&["poam", &org, &assessment.id]),
        "metadata": metadata(snapshot, format!("Plan of Action and Milestones: {}", snapshot.system_name())),
        "system-id": {
            "identifier-type": "https://ietf.org/rfc/rfc4122",
            "id": derived(&["system", &org]),
        },
        "poam-items": items,
    });
    if !risks.is_empty()
        && let Some(object) = document.as_object_mut()
    {
        object.insert("risks".into(), json!(risks));
    }
    json!({ "plan-of-action-and-milestones": document })
}

fn assessment_results(snapshot: &Snapshot) -> Value {
    let records = &snapshot.records;
    let assessment = &records.assessment;
    let org = snapshot.org.id.to_string();
    let plan_resource = derived(&["assessment-plan", &org, &assessment.id]);
    let mut findings = Vec::new();
    for req in records.catalog.current_requirements() {
        for objective in &req.objectives {
            let Some(decided) = records.decided.get(&objective.id) else {
                continue;
            };
            let (state, reason) = match decided.status {
                Status::Met => ("satisfied", "pass"),
                Status::NotMet => ("not-satisfied", "fail"),
                Status::NotApplicable => ("satisfied", "other"),
                Status::NotAssessed => continue,
            };
            let mut finding = json!({
                "uuid": derived(&["finding", &org, &assessment.id, &objective.id]),
                "title": format!("{} {}", req.label, objective.label),
                "description": objective.text,
                "props": [
                    prop("objective", &objective.id),
                    prop("determination", decided.status.as_str()),
                ],
                "target": {
                    "type": "objective-id",
                    "target-id": objective_target(objective),
                    "status": { "state": state, "reason": reason },
                },
            });
            if !decided.note.is_empty()
                && let Some(object) = finding.as_object_mut()
            {
                object.insert("remarks".into(), json!(decided.note));
            }
            findings.push(finding);
        }
    }
    let mut props = Vec::new();
    if let Some(score) = snapshot.outcome.as_ref().and_then(|o| o.score) {
        props.push(prop("sprs-score", score));
    }
    if let Some(score) = snapshot.gaps.cmmc_score {
        props.push(prop("cmmc-score", score));
    }
    let mut result = json!({
        "uuid": derived(&["result", &org, &assessment.id]),
        "title": assessment.name,
        "description": format!("{} against {}, as recorded in Rampart.", assessment.name, records.catalog.title),
        "start": timestamp(assessment.created_at),
        "end": timestamp(snapshot.taken_at),
        "reviewed-controls": { "control-selections": [{ "include-all": {} }] },
    });
    if let Some(object) = result.as_object_mut() {
        if !props.is_empty() {
            object.insert("props".into(), json!(props));
        }
        if !findings.is_empty() {
            object.insert("findings".into(), json!(findings));
        }
    }
    json!({ "assessment-results": {
        "uuid": derived(&["assessment-results", &org, &assessment.id]),
        "metadata": metadata(snapshot, format!("Assessment Results: {}", assessment.name)),
        "import-ap": { "href": format!("#{plan_resource}") },
        "results": [result],
        "back-matter": { "resources": [{
            "uuid": plan_resource,
            "title": "Assessment plan",
            "description": format!("The organization's self-assessment of {} in Rampart; no separate OSCAL assessment plan was made.", records.catalog.title),
        }]},
    }})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_oscal_tokens() {
        assert_eq!(token("3.1.1[a]"), "_3.1.1_a_");
        assert_eq!(token("AC.L2-3.1.1"), "AC.L2-3.1.1");
        assert_eq!(token("cmmc-l2"), "cmmc-l2");
    }

    #[test]
    fn derived_uuids_are_stable_and_distinct() {
        assert_eq!(derived(&["a", "b"]), derived(&["a", "b"]));
        assert_ne!(derived(&["a", "b"]), derived(&["ab"]));
        assert_eq!(derived(&["a"]).as_bytes().get(14), Some(&b'5'));
    }

    #[test]
    fn every_builtin_profile_validates() {
        for framework in crate::catalog::builtins() {
            let profile = profile(framework, 1_700_000_000).unwrap();
            let ids = profile
                .pointer("/profile/imports/0/include-controls/0/with-ids")
                .and_then(Value::as_array)
                .unwrap();
            assert_eq!(
                ids.len(),
                framework.counts().requirements,
                "{}",
                framework.id
            );
        }
        let level1 = crate::catalog::builtin("cmmc-l1").unwrap();
        let profile = profile(level1, 0).unwrap();
        let text = profile.to_string();
        assert!(text.contains("\"AC.L2-3.1.1\"") && !text.contains("\"AC.L2-3.1.3\""));
    }
}
