//! Organization-defined parameter values (Rev 3 ODPs and any imported catalog's
//! parameters): one value per organization, framework and parameter.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{AssessError, Author, audit_change, clean_text, invalid, read_grant, write_grant};
use crate::access::Requester;
use crate::auth::Client;
use crate::catalog;
use crate::store::{OrgId, Store, Tenant, TenantGet, TenantTable};

/// Framework id || 0 || parameter id -> [`ParameterValue`].
const VALUES: TenantTable = TenantTable::new("t.parameter_values");
const VALUE_MAX_CHARS: usize = 2_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ParameterValue {
    pub value: String,
    /// Account id.
    pub by: String,
    pub at: i64,
}

/// A parameter with what the organization set it to.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ParameterView {
    pub id: String,
    pub label: String,
    pub requirement: String,
    pub usage: String,
    pub guideline: String,
    pub choices: Vec<String>,
    pub value: Option<ParameterValue>,
}

/// New values by parameter id; an empty value clears one.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ParameterUpdate {
    pub values: BTreeMap<String, String>,
}

fn key(framework: &str, parameter: &str) -> Vec<u8> {
    let mut key = framework.as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(parameter.as_bytes());
    key
}

fn prefix(framework: &str) -> Vec<u8> {
    let mut key = framework.as_bytes().to_vec();
    key.push(0);
    key
}

fn unknown_framework(framework: &str) -> AssessError {
    invalid(
        "framework",
        format!("{framework:?} is not a framework of this organization"),
    )
}

/// Every parameter of `framework` with the organization's values, in catalog order.
pub fn parameters(
    store: &Store,
    requester: Requester,
    org: OrgId,
    framework: &str,
    client: &Client,
    now: i64,
) -> Result<Vec<ParameterView>, AssessError> {
    let grant = read_grant(store, requester, org, client, now)?;
    let read = store.read()?;
    let tenant = read.tenant(&grant)?;
    let catalog =
        catalog::resolve(&tenant, framework)?.ok_or_else(|| unknown_framework(framework))?;
    let mut values: BTreeMap<String, ParameterValue> = BTreeMap::new();
    let start = prefix(framework);
    for (row, bytes) in tenant.list_prefix(VALUES, &start)? {
        let id = String::from_utf8_lossy(row.get(start.len()..).unwrap_or_default()).into_owned();
        values.insert(id, serde_json::from_slice(&bytes)?);
    }
    Ok(catalog
        .current_requirements()
        .flat_map(|r| r.parameters.iter().map(move |p| (r, p)))
        .map(|(requirement, p)| ParameterView {
            id: p.id.clone(),
            label: p.label.clone(),
            requirement: requirement.id.clone(),
            usage: p.usage.clone(),
            guideline: p.guideline.clone(),
            choices: p.choices.clone(),
            value: values.remove(&p.id),
        })
        .collect())
}

/// The parameters of one requirement with the organization's values.
pub(crate) fn of_requirement(
    tenant: &impl TenantGet,
    framework: &str,
    requirement: &catalog::Requirement,
) -> Result<Vec<ParameterView>, AssessError> {
    requirement
        .parameters
        .iter()
        .map(|p| {
            Ok(ParameterView {
                id: p.id.clone(),
                label: p.label.clone(),
                requirement: requirement.id.clone(),
                usage: p.usage.clone(),
                guideline: p.guideline.clone(),
                choices: p.choices.clone(),
                value: match tenant.get(VALUES, &key(framework, &p.id))? {
                    Some(bytes) => Some(serde_json::from_slice(&bytes)?),
                    None => None,
                },
            })
        })
        .collect()
}

/// Removes the organization's values of `framework`'s parameters, when the framework goes;
/// returns how many went.
pub(crate) fn forget(tenant: &Tenant<'_>, framework: &str) -> Result<usize, AssessError> {
    let rows = tenant.list_prefix(VALUES, &prefix(framework))?;
    for (row, _) in &rows {
        tenant.delete(VALUES, row)?;
    }
    Ok(rows.len())
}

/// Sets parameter values for the organization (members and up); audited as
/// `parameters.update`. Every id must be a parameter of `framework`; all land or none.
pub fn set_parameters(
    store: &Store,
    author: &Author,
    org: OrgId,
    framework: &str,
    update: &ParameterUpdate,
    now: i64,
) -> Result<usize, AssessError> {
    if update.values.is_empty() {
        return Err(invalid("values", "give at least one parameter value"));
    }
    if update.values.len() > 2_000 {
        return Err(invalid("values", "at most 2000 values per change"));
    }
    let txn = store.write()?;
    let grant = write_grant(store, &txn, author.requester, org)?;
    let tenant = txn.tenant(&grant)?;
    let catalog =
        catalog::resolve(&tenant, framework)?.ok_or_else(|| unknown_framework(framework))?;
    let known: BTreeMap<&str, &catalog::Parameter> = catalog
        .current_requirements()
        .flat_map(|r| r.parameters.iter())
        .map(|p| (p.id.as_str(), p))
        .collect();
    let mut changed = 0;
    for (id, value) in &update.values {
        if !known.contains_key(id.as_str()) {
            return Err(invalid(
                format!("values.{id}"),
                format!("{id:?} is not a parameter of {}", catalog.title),
            ));
        }
        let value = clean_text(&format!("values.{id}"), value, VALUE_MAX_CHARS)?;
        let row = key(framework, id);
        let old: Option<ParameterValue> = match tenant.get(VALUES, &row)? {
            Some(bytes) => Some(serde_json::from_slice(&bytes)?),
            None => None,
        };
        if value.is_empty() {
            changed += usize::from(tenant.delete(VALUES, &row)?);
        } else if old.as_ref().is_none_or(|o| o.value != value) {
            let set = ParameterValue {
                value,
                by: author.requester.account.to_string(),
                at: now,
            };
            tenant.put(VALUES, &row, &serde_json::to_vec(&set)?)?;
            changed += 1;
        }
    }
    drop(tenant);
    if changed > 0 {
        audit_change(&txn, author, "parameters.update", org, framework, now)?;
        txn.commit()?;
    }
    Ok(changed)
}
