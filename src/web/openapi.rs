//! What the OpenAPI document says of every operation beyond its own entry. The answers
//! that come from shared code rather than from a handler (a body that is not JSON, no
//! sign-in, a refused role or origin, an unknown id, a body too large or of another type,
//! invalid input, too many requests) are added here from what the entry declares (its
//! parameters and body) instead of being repeated in each one; every error answer gets the
//! `Error` body; and an operation marked with [`RECENT_SIGN_IN`] says so in words.
//!
//! Statuses only a handler knows (409, 410, 507, …) stay in the handler's entry, and a
//! test walks every operation and fails on an answer its entry does not list.

use std::borrow::Cow;

use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, Response};
use utoipa::{Modify, PartialSchema, ToSchema};

use super::error::ErrorBody;

/// The extension an operation's `utoipa::path` sets (`extensions(("x-rampart-recent-sign-in"
/// = json!(true)))`) when it needs a sign-in from the last `reauthentication_secs`.
pub const RECENT_SIGN_IN: &str = "x-rampart-recent-sign-in";

/// Operations anyone may call; every other one needs a session or an API token.
const PUBLIC: &[&str] = &[
    "/api/v1/version",
    "/api/v1/openapi.json",
    "/api/v1/setup",
    "/api/v1/auth/login",
    "/api/v1/auth/mfa",
    "/api/v1/auth/mfa/webauthn",
    "/api/v1/auth/reset",
    "/api/v1/auth/reset/request",
    "/api/v1/auth/email/confirm",
    "/api/v1/invitations/confirm",
];

const RECENT_SENTENCE: &str = "Needs a recent sign-in: the password (and second factor) \
    given within `reauthentication_secs` (5 minutes unless the administrator set otherwise), \
    else 403 `reauthentication_required`; `POST /api/v1/auth/reauthenticate` renews it.";

/// Adds the shared answers and the `Error` schema; see the module comment.
pub struct StandardAnswers;

impl Modify for StandardAnswers {
    fn modify(&self, doc: &mut OpenApi) {
        for (path, item) in doc.paths.paths.iter_mut() {
            let public = PUBLIC.contains(&path.as_str());
            for (operation, safe) in operations(item) {
                complete(operation, public, safe);
            }
        }
        let components = doc.components.get_or_insert_with(Default::default);
        let mut nested = Vec::new();
        ErrorBody::schemas(&mut nested);
        components.schemas.extend(nested);
        components
            .schemas
            .insert(ErrorBody::name().into_owned(), ErrorBody::schema());
    }
}

/// Each operation of a path, with whether its method is safe (changes nothing, so the edge
/// does not check where it came from).
fn operations(item: &mut PathItem) -> impl Iterator<Item = (&mut Operation, bool)> {
    [
        (item.get.as_mut(), true),
        (item.head.as_mut(), true),
        (item.put.as_mut(), false),
        (item.post.as_mut(), false),
        (item.delete.as_mut(), false),
        (item.patch.as_mut(), false),
    ]
    .into_iter()
    .filter_map(|(operation, safe)| operation.map(|operation| (operation, safe)))
}

fn complete(operation: &mut Operation, public: bool, safe: bool) {
    let parameters: Vec<_> = operation
        .parameters
        .iter()
        .flatten()
        .filter_map(|parameter| match parameter {
            RefOr::T(parameter) => Some(parameter),
            RefOr::Ref(_) => None,
        })
        .collect();
    let in_path = parameters
        .iter()
        .any(|p| p.parameter_in == ParameterIn::Path);
    let in_query = parameters
        .iter()
        .any(|p| p.parameter_in == ParameterIn::Query);
    // actix reads a path segment into a number and answers 400 when it is none.
    let typed_path = parameters.iter().any(|p| {
        p.parameter_in == ParameterIn::Path
            && p.schema
                .as_ref()
                .and_then(|schema| serde_json::to_value(schema).ok())
                .is_some_and(|schema| {
                    schema.get("type").and_then(serde_json::Value::as_str) != Some("string")
                })
    });
    let (body, json_body) = match &operation.request_body {
        Some(RefOr::T(body)) => (true, body.content.contains_key("application/json")),
        Some(RefOr::Ref(_)) => (true, true),
        None => (false, false),
    };
    let recent = operation
        .extensions
        .as_ref()
        .and_then(|extensions| extensions.get(RECENT_SIGN_IN))
        .is_some_and(|value| value == &serde_json::Value::Bool(true));

    let mut shared = Vec::new();
    if json_body || in_query || typed_path {
        shared.push("400");
    }
    if !public {
        shared.push("401");
    }
    if !public || !safe {
        shared.push("403");
    }
    if in_path {
        shared.push("404");
    }
    if body {
        shared.extend(["413", "415", "422"]);
    } else if in_query {
        shared.push("422");
    }
    shared.push("429");

    let responses = &mut operation.responses.responses;
    for status in shared {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(Response::new("")));
    }
    for (status, response) in responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        if !(status.starts_with('4') || status.starts_with('5')) {
            continue;
        }
        if response.description.is_empty() {
            response.description = describe(status, recent).into_owned();
        }
        if response.content.is_empty() {
            response.content.insert(
                "application/json".to_owned(),
                RefOr::T(Content::new(Some(Ref::from_schema_name(ErrorBody::name())))),
            );
        }
    }
    if recent {
        let description = operation.description.get_or_insert_with(String::new);
        if !description.is_empty() {
            description.push_str("\n\n");
        }
        description.push_str(RECENT_SENTENCE);
    }
}

/// Words for an error answer its entry lists without any; `code` values in backticks.
fn describe(status: &str, recent: bool) -> Cow<'static, str> {
    Cow::Borrowed(match status {
        "400" => {
            "`bad_request`: the body is not JSON of the shape this operation takes, or a \
             parameter cannot be read"
        }
        "401" => "`unauthenticated`: not signed in, or the session or API token has ended",
        "403" if recent => {
            "`reauthentication_required`: the sign-in is not recent enough; or `forbidden`: the \
             role does not allow this, a change came without its CSRF token or from another \
             origin; or `mfa_enrolment_required`"
        }
        "403" => {
            "`forbidden`: the role does not allow this, or a change came without its CSRF token \
             or from another origin; or `mfa_enrolment_required`: the organization requires a \
             second factor first"
        }
        "404" => "`not_found`: nothing with that id, or nothing the caller may see",
        "408" => "`request_timeout`: the body stopped arriving",
        "409" => "`conflict`: the present state does not allow this",
        "410" => "`link_invalid`: the link or token was used or has expired",
        "413" => "`payload_too_large`: the body is larger than allowed",
        "415" => "`unsupported_type`: the body is not of a type this operation takes",
        "422" => "`invalid_input`: a value is not valid; `field` names it",
        "429" => {
            "`rate_limited`: too many requests from this address; `Retry-After` says when to try again"
        }
        "507" => "`quota_exceeded`: the organization's storage quota is used up",
        _ => return Cow::Owned(format!("error `{status}`")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::api::ApiDoc;
    use utoipa::OpenApi as _;

    fn operation(doc: &OpenApi, path: &str, method: &str) -> serde_json::Value {
        let doc = serde_json::to_value(doc).unwrap();
        doc["paths"][path][method].clone()
    }

    #[test]
    fn shared_answers_follow_what_an_entry_declares() {
        let doc = ApiDoc::openapi();
        let statuses = |path: &str, method: &str| -> Vec<String> {
            let op = operation(&doc, path, method);
            op["responses"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect()
        };
        // A JSON body and a path parameter, signed in.
        let patch = statuses(
            "/api/v1/orgs/{org_id}/assessments/{assessment_id}/objectives",
            "patch",
        );
        for status in [
            "200", "400", "401", "403", "404", "413", "415", "422", "429",
        ] {
            assert!(patch.contains(&status.to_owned()), "{status}: {patch:?}");
        }
        // Public, safe, nothing to name: only the rate limit.
        assert_eq!(statuses("/api/v1/version", "get"), ["200", "429"]);
        // Public but a change: another origin is refused, no sign-in is asked.
        let login = statuses("/api/v1/auth/login", "post");
        assert!(login.contains(&"403".to_owned()), "{login:?}");
        let reset = statuses("/api/v1/auth/reset", "post");
        assert!(!reset.contains(&"401".to_owned()), "{reset:?}");
        assert!(reset.contains(&"400".to_owned()), "{reset:?}");
    }

    #[test]
    fn every_error_answer_has_the_error_body_and_words() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        assert!(doc["components"]["schemas"]["Error"].is_object(), "{doc}");
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for (status, response) in op["responses"].as_object().unwrap() {
                    if status.starts_with('4') || status.starts_with('5') {
                        assert_eq!(
                            response["content"]["application/json"]["schema"]["$ref"],
                            "#/components/schemas/Error",
                            "{method} {path} {status}"
                        );
                        assert_ne!(response["description"], "", "{method} {path} {status}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_recent_sign_in_is_said_in_words() {
        let doc = ApiDoc::openapi();
        let op = operation(&doc, "/api/v1/orgs/{org_id}/tokens", "post");
        assert_eq!(op[RECENT_SIGN_IN], true, "{op}");
        assert!(
            op["description"]
                .as_str()
                .unwrap()
                .contains("Needs a recent sign-in"),
            "{op}"
        );
        let list = operation(&doc, "/api/v1/orgs/{org_id}/tokens", "get");
        assert!(list.get(RECENT_SIGN_IN).is_none(), "{list}");
    }
}
