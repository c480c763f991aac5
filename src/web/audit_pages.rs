//! The audit log pages: an organization's log for its owners (and the appliance
//! administrator, audited), and the whole log for the appliance administrator. Filters are
//! GET fields, so a filtered view is a link that can be bookmarked or shared.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::AppState;
use super::error::WebError;
use super::identity::{self, now};
use super::pages::{Layout, html_status, render, require_org_page, require_page};
use crate::audit::{Actor, Entry, Filter, Outcome};
use crate::auth::{self, AccountId};
use crate::store::OrgId;

/// Entries per page.
const PAGE: usize = 100;
/// Characters of a user agent shown in the table; the whole string is in its tooltip.
const AGENT_CHARS: usize = 40;
const ACTION_MAX_CHARS: usize = 100;

/// The filter form as typed: every field a string, so a wrong value is shown again with its
/// message instead of failing the whole request.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct AuditForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    /// The paging cursor from an "Older entries" link.
    #[serde(default)]
    before: String,
}

/// A message about one form field.
struct FieldError {
    field: &'static str,
    message: String,
}

/// Midnight UTC starting `text` (`YYYY-MM-DD`), in Unix seconds.
fn day_start(text: &str) -> Option<i64> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &format)
        .ok()
        .map(|date| date.midnight().assume_utc().unix_timestamp())
}

/// Turns the form into a filter, or says what is wrong with which field. An e-mail address
/// in `actor` becomes that account's id; one that names no account matches nothing.
fn parse(
    form: &AuditForm,
    email_to_id: impl Fn(&str) -> Result<Option<AccountId>, WebError>,
) -> Result<(Filter, Vec<FieldError>), WebError> {
    let mut errors = Vec::new();
    let mut error = |field, message: String| errors.push(FieldError { field, message });
    let mut filter = Filter {
        limit: Some(PAGE + 1),
        before: form.before.trim().parse().ok(),
        ..Filter::default()
    };
    let action = form.action.trim();
    if action.chars().count() > ACTION_MAX_CHARS || action.chars().any(char::is_control) {
        error(
            "action",
            format!(
                "an action has at most {ACTION_MAX_CHARS} characters, such as auth. or auth.login"
            ),
        );
    } else if !action.is_empty() {
        filter.action = Some(action.to_owned());
    }
    filter.outcome = match form.outcome.trim() {
        "" => None,
        "success" => Some(Outcome::Success),
        "failure" => Some(Outcome::Failure),
        "denied" => Some(Outcome::Denied),
        _ => {
            error("outcome", "choose success, failure or denied".into());
            None
        }
    };
    let actor = form.actor.trim();
    if actor.contains('@') {
        filter.actor = Some(match email_to_id(actor)? {
            Some(id) => id.to_string(),
            None => actor.to_owned(),
        });
    } else if let Ok(id) = uuid::Uuid::parse_str(actor) {
        filter.actor = Some(id.to_string());
    } else if ["operator", "system", "anonymous"].contains(&actor.to_lowercase().as_str()) {
        filter.actor = Some(actor.to_lowercase());
    } else if !actor.is_empty() {
        error(
            "actor",
            "enter an e-mail address, an account id, or operator, system or anonymous".into(),
        );
    }
    let mut date = |field: &'static str, text: &str| -> Option<i64> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        let parsed = day_start(text);
        if parsed.is_none() {
            let shown: String = text.chars().take(40).collect();
            error(
                field,
                format!("\u{201c}{shown}\u{201d} is not a date in the form YYYY-MM-DD"),
            );
        }
        parsed
    };
    filter.since = date("from", &form.from);
    filter.until = date("to", &form.to).map(|start| start + 86_400);
    if let (Some(since), Some(until)) = (filter.since, filter.until)
        && until <= since
    {
        error("to", "the last day is before the first".into());
    }
    Ok((filter, errors))
}

/// `2026-11-23 14:05:09 UTC`, and the same moment for a `datetime` attribute.
pub(super) fn utc(time: i64) -> (String, String) {
    let Ok(at) = time::OffsetDateTime::from_unix_timestamp(time) else {
        return (time.to_string(), String::new());
    };
    let shown =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    let machine =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    (
        at.format(&shown).unwrap_or_default(),
        at.format(&machine).unwrap_or_default(),
    )
}

/// Who acted, as a person reads it: an account's e-mail address while it exists.
pub(super) fn actor_label(actor: &Actor, emails: &HashMap<AccountId, String>) -> String {
    match actor {
        Actor::Account(id) => uuid::Uuid::parse_str(id)
            .ok()
            .and_then(|uuid| emails.get(&AccountId(uuid)).cloned())
            .unwrap_or_else(|| {
                format!("account {}\u{2026}", id.chars().take(8).collect::<String>())
            }),
        Actor::Operator => "operator (command line)".into(),
        Actor::Anonymous => "anonymous".into(),
        Actor::System => "Rampart".into(),
    }
}

/// The first `chars` characters of `text`, marked when cut.
pub(super) fn shorten(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(chars).collect();
    short.push('\u{2026}');
    short
}

/// What an entry acted on, as a person reads it: an account by its e-mail address, another
/// id by its first 8 characters (the whole id is in the tooltip), anything else as it is.
fn target_label(target: Option<&str>, emails: &HashMap<AccountId, String>) -> String {
    let Some(target) = target else {
        return String::new();
    };
    // A target may be compound (`assessment/requirement`, `file@version`): each id in it is
    // shown as the account's address, or cut to its first eight characters, which is
    // enough to find it; the whole target is in the cell's title.
    let mut out = String::with_capacity(target.len());
    let mut rest = target;
    while !rest.is_empty() {
        let id = rest
            .get(..36)
            .and_then(|head| uuid::Uuid::parse_str(head).ok().map(|id| (head, id)));
        match id {
            Some((head, id)) => {
                match emails.get(&AccountId(id)) {
                    Some(email) => out.push_str(email),
                    None => {
                        out.extend(head.chars().take(8));
                        out.push('\u{2026}');
                    }
                }
                rest = rest.get(36..).unwrap_or_default();
            }
            None => {
                let mut chars = rest.chars();
                if let Some(c) = chars.next() {
                    out.push(c);
                }
                rest = chars.as_str();
            }
        }
    }
    out
}

pub(super) fn outcome_text(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Success => "success",
        Outcome::Failure => "failure",
        Outcome::Denied => "denied",
    }
}

/// Percent-encodes a query value: everything but the unreserved characters.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The link to the same filters, older than entry `before` (or from the newest).
fn page_link(form: &AuditForm, before: Option<u64>) -> String {
    let mut query: Vec<String> = [
        ("action", &form.action),
        ("outcome", &form.outcome),
        ("actor", &form.actor),
        ("from", &form.from),
        ("to", &form.to),
    ]
    .iter()
    .filter(|(_, value)| !value.trim().is_empty())
    .map(|(name, value)| format!("{name}={}", encode(value.trim())))
    .collect();
    if let Some(seq) = before {
        query.push(format!("before={seq}"));
    }
    format!("?{}", query.join("&"))
}

struct Row {
    seq: u64,
    time: String,
    datetime: String,
    actor: String,
    action: String,
    target: String,
    target_full: String,
    outcome: &'static str,
    ip: String,
    agent: String,
    agent_full: String,
    org: String,
    org_full: String,
}

impl Row {
    fn of(entry: &Entry, emails: &HashMap<AccountId, String>) -> Row {
        let (time, datetime) = utc(entry.time);
        let event = &entry.event;
        let agent_full = event.user_agent.clone().unwrap_or_default();
        let org_full = event.org.clone().unwrap_or_default();
        Row {
            seq: entry.seq,
            time,
            datetime,
            actor: actor_label(&event.actor, emails),
            action: event.action.clone(),
            target: target_label(event.target.as_deref(), emails),
            target_full: event.target.clone().unwrap_or_default(),
            outcome: outcome_text(event.outcome),
            ip: event.ip.clone().unwrap_or_default(),
            agent: shorten(&agent_full, AGENT_CHARS),
            agent_full,
            org: org_full.chars().take(8).collect(),
            org_full,
        }
    }
}

/// The oversight pages' navigation (`oversight_nav.html`): an organization's log and
/// dashboard, or the appliance's, which add the jobs and mail pages.
pub(super) struct Nav {
    pub audit: String,
    pub security: String,
    pub appliance: bool,
    /// The page showing: `audit`, `security`, `jobs` or `mail`.
    pub current: &'static str,
}

impl Nav {
    pub(super) fn of(org: Option<OrgId>, current: &'static str) -> Nav {
        match org {
            Some(org) => Nav {
                audit: format!("/orgs/{org}/audit"),
                security: format!("/orgs/{org}/security"),
                appliance: false,
                current,
            },
            None => Nav {
                audit: "/admin/audit".into(),
                security: "/admin/security".into(),
                appliance: true,
                current,
            },
        }
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    layout: Layout,
    nav: Nav,
    heading: &'static str,
    scope: String,
    form: AuditForm,
    errors: Vec<FieldError>,
    rows: Vec<Row>,
    older: Option<String>,
    newest: Option<String>,
}

impl AuditPage {
    fn error(&self, field: &str) -> &str {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map_or("", |e| e.message.as_str())
    }
}

/// Runs `search` with the parsed form and renders the page. `search` is the domain call that
/// decides access, so a refusal is the same whether or not the form is valid.
async fn audit_page(
    layout: Layout,
    state: &web::Data<AppState>,
    org: Option<OrgId>,
    form: AuditForm,
    search: impl FnOnce(&Filter) -> Result<Vec<Entry>, WebError> + Send + 'static,
) -> Result<HttpResponse, WebError> {
    let store = state.store.clone();
    let query = form.clone();
    let (entries, errors, emails) = web::block(move || -> Result<_, WebError> {
        let (filter, errors) = parse(&query, |email| {
            auth::account_id_by_email(&store, email).map_err(WebError::from)
        })?;
        let entries = search(&filter)?;
        let emails = auth::account_emails(&store)?;
        Ok((entries, errors, emails))
    })
    .await??;
    let valid = errors.is_empty();
    let mut rows: Vec<Row> = if valid {
        entries.iter().map(|e| Row::of(e, &emails)).collect()
    } else {
        Vec::new()
    };
    let older = (rows.len() > PAGE).then(|| {
        rows.truncate(PAGE);
        page_link(&form, rows.last().map(|r| r.seq))
    });
    let newest = (valid && !form.before.trim().is_empty()).then(|| page_link(&form, None));
    let page = AuditPage {
        layout,
        nav: Nav::of(org, "audit"),
        heading: if org.is_some() {
            "Organization audit log"
        } else {
            "Appliance audit log"
        },
        scope: match org {
            Some(_) => "This organization: its records and its members\u{2019} actions".into(),
            None => "Every organization, and the appliance itself".into(),
        },
        form,
        errors,
        rows,
        older,
        newest,
    };
    let status = if valid {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(html_status(status, render(&page)?))
}

pub async fn org_audit(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Query<AuditForm>,
) -> Result<HttpResponse, WebError> {
    let (signed_in, org) = match require_org_page(&req, &state, &path).await? {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    let requester = identity::requester(&signed_in);
    let client = identity::client(&req, &state);
    let store = state.store.clone();
    let layout = Layout::signed_in(&req, &state, &signed_in).await?;
    audit_page(
        layout,
        &state,
        Some(org),
        form.into_inner(),
        move |filter| {
            Ok(crate::audit::org_search(
                &store,
                requester,
                org,
                filter,
                &client,
                now(),
            )?)
        },
    )
    .await
}

pub async fn admin_audit(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Query<AuditForm>,
) -> Result<HttpResponse, WebError> {
    let signed_in = match require_page(&req, &state).await? {
        Ok(signed_in) => signed_in,
        Err(redirect) => return Ok(redirect),
    };
    let requester = identity::requester(&signed_in);
    let store = state.store.clone();
    let layout = Layout::signed_in(&req, &state, &signed_in).await?;
    audit_page(layout, &state, None, form.into_inner(), move |filter| {
        Ok(crate::audit::appliance_search(&store, requester, filter)?)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_show_addresses_and_short_ids_never_a_whole_id() {
        let known = uuid::Uuid::new_v4();
        let emails = HashMap::from([(AccountId(known), "ada@example.com".to_owned())]);
        let other = "7fc7aa95-d9d2-4be5-90b9-1f6ec7af41fa";
        assert_eq!(
            target_label(Some(&known.to_string()), &emails),
            "ada@example.com"
        );
        assert_eq!(
            target_label(Some(&format!("{other}/3.1.1")), &emails),
            "7fc7aa95\u{2026}/3.1.1"
        );
        assert_eq!(
            target_label(Some(&format!("file-{other}@2")), &emails),
            "file-7fc7aa95\u{2026}@2"
        );
        assert_eq!(target_label(Some("retention"), &emails), "retention");
        assert_eq!(target_label(None, &emails), "");
    }

    fn parsed(form: AuditForm) -> (Filter, Vec<FieldError>) {
        parse(&form, |_| Ok(None)).unwrap()
    }

    #[test]
    fn dates_are_utc_days_and_wrong_ones_are_named() {
        let (filter, errors) = parsed(AuditForm {
            from: "2026-01-02".into(),
            to: "2026-01-02".into(),
            ..AuditForm::default()
        });
        assert!(errors.is_empty());
        assert_eq!(filter.since, Some(1_767_312_000));
        assert_eq!(filter.until, Some(1_767_312_000 + 86_400));
        let (_, errors) = parsed(AuditForm {
            from: "2026-13-01".into(),
            to: "2026-01-01".into(),
            ..AuditForm::default()
        });
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "from");
        assert!(errors[0].message.contains("YYYY-MM-DD"));
        let (_, errors) = parsed(AuditForm {
            from: "2026-01-05".into(),
            to: "2026-01-01".into(),
            ..AuditForm::default()
        });
        assert_eq!(errors[0].field, "to");
    }

    #[test]
    fn actor_and_outcome_are_checked() {
        let (filter, errors) = parsed(AuditForm {
            actor: "Operator".into(),
            outcome: "failure".into(),
            ..AuditForm::default()
        });
        assert!(errors.is_empty());
        assert_eq!(filter.actor.as_deref(), Some("operator"));
        assert_eq!(filter.outcome, Some(Outcome::Failure));
        let (filter, _) = parsed(AuditForm {
            actor: "nobody@example.com".into(),
            ..AuditForm::default()
        });
        assert_eq!(filter.actor.as_deref(), Some("nobody@example.com"));
        let (_, errors) = parsed(AuditForm {
            actor: "bob".into(),
            outcome: "maybe".into(),
            ..AuditForm::default()
        });
        let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, vec!["outcome", "actor"]);
    }

    #[test]
    fn paging_links_keep_the_filters() {
        let form = AuditForm {
            action: "auth.".into(),
            actor: "a b@x.example".into(),
            ..AuditForm::default()
        };
        assert_eq!(
            page_link(&form, Some(42)),
            "?action=auth.&actor=a%20b%40x.example&before=42"
        );
        assert_eq!(shorten("abcdef", 3), "abc\u{2026}");
        assert_eq!(shorten("abc", 3), "abc");
    }
}
