//! Errors at the HTTP edge. Handlers return [`WebError`]; the edge middleware turns every
//! error response (ours, or actix's own such as 404, 405 and 413) into the JSON shape for
//! `/api/` and an HTML page elsewhere, both carrying the request id.

use std::borrow::Cow;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;
use serde::Serialize;

use super::pages::{Layout, render};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebError {
    #[error("not found")]
    NotFound,
    #[error("sign in first")]
    Unauthenticated,
    #[error("give your second factor first (POST /api/v1/auth/mfa)")]
    MfaRequired,
    #[error("that code is not right, or was already used")]
    InvalidSecondFactor,
    #[error(
        "sign in again to do this: it needs a recent sign-in (5 minutes unless your administrator set otherwise)"
    )]
    StepUpRequired,
    #[error(
        "your organization requires a second factor: add one (POST /api/v1/me/totp) before anything else"
    )]
    MfaEnrolmentRequired,
    #[error("the e-mail address or password is not right")]
    InvalidCredentials,
    #[error("{0}")]
    Forbidden(String),
    #[error("{message}")]
    Invalid {
        field: Cow<'static, str>,
        message: String,
    },
    /// An uploaded document breaks its schema: one problem per JSON path.
    #[error("{message}")]
    InvalidDocument {
        message: String,
        problems: Vec<ErrorProblem>,
    },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Gone(String),
    #[error("the request body is larger than the {limit} bytes allowed")]
    PayloadTooLarge { limit: u64 },
    #[error("the service is shutting down")]
    Unavailable,
    /// The client stopped sending a request body it had started.
    #[error("{0}")]
    Timeout(String),
    /// An upload's content is not a type Rampart keeps.
    #[error("{0}")]
    UnsupportedType(String),
    #[error("{0}")]
    QuotaExceeded(String),
    /// A stored file failed its integrity check: never served as if it were good.
    #[error("{0}")]
    Damaged(String),
    /// Details go to the log with the request id, never to the client.
    #[error("internal error; quote the request id to your administrator")]
    Internal(String),
}

impl ResponseError for WebError {
    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::new(self.status_code());
        let field = match self {
            WebError::Invalid { field, .. } => Some(field.clone()),
            _ => None,
        };
        let problems = match self {
            WebError::InvalidDocument { problems, .. } => problems.clone(),
            _ => Vec::new(),
        };
        response.extensions_mut().insert(ErrorMeta {
            code: self.code(),
            field,
            problems,
        });
        response
    }

    fn status_code(&self) -> StatusCode {
        match self {
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::Unauthenticated
            | WebError::InvalidCredentials
            | WebError::MfaRequired
            | WebError::InvalidSecondFactor => StatusCode::UNAUTHORIZED,
            WebError::StepUpRequired | WebError::MfaEnrolmentRequired => StatusCode::FORBIDDEN,
            WebError::Forbidden(_) => StatusCode::FORBIDDEN,
            WebError::Invalid { .. } | WebError::InvalidDocument { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            WebError::Conflict(_) => StatusCode::CONFLICT,
            WebError::Gone(_) => StatusCode::GONE,
            WebError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            WebError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            WebError::UnsupportedType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            WebError::QuotaExceeded(_) => StatusCode::INSUFFICIENT_STORAGE,
            WebError::Internal(_) | WebError::Damaged(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// What a handler's error knows beyond its status and message, carried to the edge that
/// renders the body: a code more precise than the status, and the input field at fault
/// (so a page can show the message next to it).
#[derive(Debug, Clone, Default)]
pub struct ErrorMeta {
    pub code: Option<&'static str>,
    pub field: Option<Cow<'static, str>>,
    /// Each place an uploaded document breaks its schema.
    pub problems: Vec<ErrorProblem>,
}

/// Where a document is wrong (a JSON Pointer) and how.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErrorProblem {
    pub path: String,
    pub message: String,
}

impl WebError {
    fn code(&self) -> Option<&'static str> {
        match self {
            WebError::InvalidCredentials => Some("invalid_credentials"),
            WebError::MfaRequired => Some("mfa_required"),
            WebError::InvalidSecondFactor => Some("invalid_second_factor"),
            WebError::StepUpRequired => Some("reauthentication_required"),
            WebError::MfaEnrolmentRequired => Some("mfa_enrolment_required"),
            WebError::Gone(_) => Some("link_invalid"),
            WebError::InvalidDocument { .. } => Some("invalid_document"),
            WebError::UnsupportedType(_) => Some("unsupported_type"),
            WebError::QuotaExceeded(_) => Some("quota_exceeded"),
            WebError::Damaged(_) => Some("evidence_damaged"),
            _ => None,
        }
    }
}

impl From<crate::auth::AuthError> for WebError {
    fn from(err: crate::auth::AuthError) -> Self {
        use crate::auth::AuthError;
        match err {
            AuthError::InvalidCredentials => WebError::InvalidCredentials,
            AuthError::InvalidInput { field, message } => WebError::Invalid {
                field: field.into(),
                message,
            },
            AuthError::WeakPassword(message) => WebError::Invalid {
                field: "password".into(),
                message,
            },
            AuthError::EmailTaken
            | AuthError::MailUnavailable
            | AuthError::ResetMailUnavailable => WebError::Conflict(err.to_string()),
            AuthError::InvalidSecondFactor => WebError::InvalidSecondFactor,
            AuthError::StepUpRequired => WebError::StepUpRequired,
            AuthError::MfaEnrolmentRequired => WebError::MfaEnrolmentRequired,
            AuthError::SetupLinkInvalid | AuthError::AlreadySetUp | AuthError::LinkInvalid => {
                WebError::Gone(err.to_string())
            }
            AuthError::Access(access) => access.into(),
            other => WebError::Internal(other.to_string()),
        }
    }
}

impl From<crate::access::AccessError> for WebError {
    fn from(err: crate::access::AccessError) -> Self {
        use crate::access::AccessError;
        match err {
            AccessError::NotFound => WebError::NotFound,
            AccessError::Forbidden | AccessError::NotApplianceAdmin => {
                WebError::Forbidden(err.to_string())
            }
            other => WebError::Internal(other.to_string()),
        }
    }
}

impl From<crate::org::OrgError> for WebError {
    fn from(err: crate::org::OrgError) -> Self {
        match err {
            crate::org::OrgError::InvalidName => WebError::Invalid {
                field: "name".into(),
                message: err.to_string(),
            },
            crate::org::OrgError::Access(access) => access.into(),
            crate::org::OrgError::RecentSignInRequired(_) => WebError::StepUpRequired,
            crate::org::OrgError::Audit(audit) => audit.into(),
            crate::org::OrgError::InvalidField { field, message } => WebError::Invalid {
                field: field.into(),
                message,
            },
            other => WebError::Internal(other.to_string()),
        }
    }
}

impl From<crate::assess::AssessError> for WebError {
    fn from(err: crate::assess::AssessError) -> Self {
        use crate::assess::AssessError;
        match err {
            AssessError::Invalid { field, message } => WebError::Invalid {
                field: field.into(),
                message,
            },
            AssessError::NotFound => WebError::NotFound,
            AssessError::Conflict(message) => WebError::Conflict(message),
            AssessError::Access(access) => access.into(),
            AssessError::Audit(audit) => audit.into(),
            AssessError::Catalog(catalog) => catalog.into(),
            other => WebError::Internal(other.to_string()),
        }
    }
}

impl From<crate::mail::MailError> for WebError {
    fn from(err: crate::mail::MailError) -> Self {
        use crate::mail::MailError;
        match err {
            MailError::NotFailed(_) => WebError::NotFound,
            MailError::Access(access) => access.into(),
            MailError::Audit(audit) => audit.into(),
            other => WebError::Internal(other.to_string()),
        }
    }
}

impl From<crate::jobs::JobError> for WebError {
    fn from(err: crate::jobs::JobError) -> Self {
        use crate::jobs::JobError;
        match err {
            JobError::Unknown(_) => WebError::NotFound,
            JobError::Access(access) => access.into(),
            other => WebError::Internal(other.to_string()),
        }
    }
}

impl From<crate::erasure::ErasureError> for WebError {
    fn from(err: crate::erasure::ErasureError) -> Self {
        use crate::erasure::ErasureError;
        match err {
            ErasureError::NotConfirmed(_) => WebError::Invalid {
                field: "confirm".into(),
                message: err.to_string(),
            },
            ErasureError::Refused(message) => WebError::Conflict(message),
            ErasureError::Access(access) => access.into(),
            ErasureError::Audit(audit) => audit.into(),
            ErasureError::Org(org) => org.into(),
            other => WebError::Internal(other.to_string()),
        }
    }
}

impl From<crate::privacy::PrivacyError> for WebError {
    fn from(err: crate::privacy::PrivacyError) -> Self {
        use crate::privacy::PrivacyError;
        match err {
            PrivacyError::NotFound => WebError::NotFound,
            PrivacyError::Auth(auth) => auth.into(),
            PrivacyError::Access(access) => access.into(),
            PrivacyError::Audit(audit) => audit.into(),
            other => WebError::Internal(other.to_string()),
        }
    }
}

impl From<crate::docs::DocsError> for WebError {
    fn from(err: crate::docs::DocsError) -> Self {
        use crate::docs::DocsError;
        match err {
            DocsError::Invalid { field, message } => WebError::Invalid {
                field: field.into(),
                message,
            },
            DocsError::NotFound => WebError::NotFound,
            DocsError::Document(document) => crate::catalog::ImportError::Catalog(document).into(),
            DocsError::Access(access) => access.into(),
            DocsError::Audit(audit) => audit.into(),
            DocsError::Assess(assess) => assess.into(),
            DocsError::Org(org) => org.into(),
            DocsError::Auth(auth) => auth.into(),
            DocsError::Evidence(evidence) => evidence.into(),
            other => WebError::Internal(other.to_string()),
        }
    }
}

impl From<crate::evidence::EvidenceError> for WebError {
    fn from(err: crate::evidence::EvidenceError) -> Self {
        use crate::evidence::EvidenceError;
        match err {
            EvidenceError::NotFound => WebError::NotFound,
            EvidenceError::Invalid { field, message } => WebError::Invalid {
                field: field.into(),
                message,
            },
            EvidenceError::TooLarge { limit } => WebError::PayloadTooLarge { limit },
            EvidenceError::QuotaExceeded { .. } => WebError::QuotaExceeded(err.to_string()),
            EvidenceError::UnsupportedType(message) => WebError::UnsupportedType(message),
            EvidenceError::Damaged(_) => WebError::Damaged(err.to_string()),
            EvidenceError::Gone(message) => WebError::Gone(message),
            EvidenceError::Incomplete => WebError::Invalid {
                field: "body".into(),
                message: err.to_string(),
            },
            EvidenceError::Access(access) => access.into(),
            EvidenceError::Audit(audit) => audit.into(),
            EvidenceError::Store(store) => store.into(),
            other => WebError::Internal(other.to_string()),
        }
    }
}

impl From<crate::catalog::ImportError> for WebError {
    fn from(err: crate::catalog::ImportError) -> Self {
        use crate::catalog::{CatalogError, ImportError};
        match err {
            ImportError::Catalog(CatalogError::Invalid {
                kind,
                problems,
                total,
            }) => {
                let message = invalid_document_message(kind, &problems, total);
                WebError::InvalidDocument {
                    message,
                    problems: problems
                        .into_iter()
                        .map(|p| ErrorProblem {
                            path: p.path,
                            message: p.message,
                        })
                        .collect(),
                }
            }
            ImportError::Catalog(CatalogError::TooLarge { max, .. }) => {
                WebError::PayloadTooLarge { limit: max as u64 }
            }
            ImportError::Catalog(
                catalog @ (CatalogError::NotJson { .. }
                | CatalogError::Empty
                | CatalogError::Duplicate { .. }
                | CatalogError::Refused(_)),
            ) => WebError::InvalidDocument {
                message: catalog.to_string(),
                problems: Vec::new(),
            },
            ImportError::Conflict(message) => WebError::Conflict(message),
            ImportError::QuotaExceeded(message) => WebError::QuotaExceeded(message),
            ImportError::NotFound => WebError::NotFound,
            ImportError::Assess(assess) => (*assess).into(),
            ImportError::Access(access) => access.into(),
            ImportError::Audit(audit) => audit.into(),
            other => WebError::Internal(other.to_string()),
        }
    }
}

/// One line for a document that breaks its schema: the kind of document it was taken for,
/// how many problems it has, and the first.
fn invalid_document_message(
    kind: &str,
    problems: &[crate::catalog::Problem],
    total: usize,
) -> String {
    let first = problems
        .first()
        .map(|p| {
            format!(
                ": {} at {}",
                p.message,
                if p.path.is_empty() { "/" } else { &p.path }
            )
        })
        .unwrap_or_default();
    format!(
        "not a valid OSCAL 1.1.3 {kind} ({total} problem{}){first}",
        if total == 1 { "" } else { "s" }
    )
}

impl From<crate::audit::AuditError> for WebError {
    fn from(err: crate::audit::AuditError) -> Self {
        match err {
            crate::audit::AuditError::Access(access) => access.into(),
            other => WebError::Internal(other.to_string()),
        }
    }
}

impl From<crate::security::SecurityError> for WebError {
    fn from(err: crate::security::SecurityError) -> Self {
        match err {
            crate::security::SecurityError::Access(access) => access.into(),
            other => WebError::Internal(other.to_string()),
        }
    }
}

impl From<actix_web::error::BlockingError> for WebError {
    fn from(_: actix_web::error::BlockingError) -> Self {
        WebError::Internal("blocking task failed".into())
    }
}

impl From<crate::store::StoreError> for WebError {
    fn from(err: crate::store::StoreError) -> Self {
        match err {
            // An organization erased after a link or a page named it: gone, like any other
            // object that no longer exists, not a fault of the server.
            crate::store::StoreError::UnknownOrganization(_) => WebError::NotFound,
            other => WebError::Internal(other.to_string()),
        }
    }
}

/// A JSON body that cannot be read: one declared as another type is 415, like any body of
/// a type an operation does not take; none at all, or not JSON of the expected shape, is
/// 400 (too large, 413).
pub(super) fn json_body_error(
    err: actix_web::error::JsonPayloadError,
    req: &actix_web::HttpRequest,
) -> actix_web::Error {
    use actix_web::error::JsonPayloadError;
    match err {
        JsonPayloadError::ContentType
            if req
                .headers()
                .contains_key(actix_web::http::header::CONTENT_TYPE) =>
        {
            WebError::UnsupportedType(
                "the body must be JSON, sent as Content-Type: application/json".into(),
            )
            .into()
        }
        JsonPayloadError::ContentType => actix_web::error::ErrorBadRequest(
            "the body is missing: send JSON as Content-Type: application/json",
        ),
        other => other.into(),
    }
}

/// A stable, machine-readable code for a status.
fn code_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthenticated",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "request_timeout",
        409 => "conflict",
        411 => "length_required",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "invalid_input",
        429 => "rate_limited",
        431 => "headers_too_large",
        503 => "unavailable",
        s if s >= 500 => "internal",
        _ => "error",
    }
}

/// The body of every error answer of the API (`Error` in its OpenAPI document).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub(super) struct ErrorBody<'a> {
    #[schema(inline)]
    error: ErrorDetail<'a>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ErrorDetail<'a> {
    /// Stable and machine-readable: `invalid_input`, `not_found`,
    /// `reauthentication_required`, …
    code: &'static str,
    /// What went wrong, in words a person can act on.
    message: &'a str,
    /// The input field the message is about, when it is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = false)]
    field: Option<Cow<'static, str>>,
    /// Each place an uploaded document breaks its schema.
    #[serde(skip_serializing_if = "<[ErrorProblem]>::is_empty")]
    #[schema(value_type = Vec<ErrorProblem>, required = false)]
    problems: &'a [ErrorProblem],
    /// Names the log line with the details, for the administrator.
    request_id: &'a str,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    status: u16,
    message: &'a str,
    request_id: &'a str,
}

/// Whether an error's message is for the log only: a server error without a code of its
/// own (a failure's detail, which the client gets a request id for). A server error with
/// a code (a full quota, a damaged file) was written for the user, as was 503.
pub fn is_unexplained(status: StatusCode, meta: &ErrorMeta) -> bool {
    status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE && meta.code.is_none()
}

/// The body for an error response in the form the client asked for.
pub fn render_error(
    status: StatusCode,
    meta: ErrorMeta,
    message: &str,
    request_id: &str,
    api: bool,
) -> HttpResponse {
    let message = if is_unexplained(status, &meta) {
        "internal error; quote the request id to your administrator"
    } else {
        message
    };
    if api {
        let body = ErrorBody {
            error: ErrorDetail {
                code: meta.code.unwrap_or_else(|| code_for(status)),
                message,
                field: meta.field,
                problems: &meta.problems,
                request_id,
            },
        };
        return HttpResponse::build(status).json(body);
    }
    let page = ErrorPage {
        layout: Layout::new(),
        status: status.as_u16(),
        message,
        request_id,
    };
    match render(&page) {
        Ok(html) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(html),
        Err(_) => HttpResponse::build(status)
            .content_type("text/plain; charset=utf-8")
            .body(format!("{status} (request id {request_id})")),
    }
}
