//! JSON routes for documents: the system description, OSCAL exports and the catalogs and
//! profiles they reference.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::AppState;
use super::error::WebError;
use super::handle::{self, read};
use super::identity;
use futures_util::StreamExt;

use crate::assess::{Author, Source};
use crate::docs::{self, archive, imports, oscal, proofpack, sheets, system};

/// The system description the SSP is written from.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/system", tag = "documents",
    params(("org_id" = String, Path)),
    responses((status = 200, body = system::SystemDescription), (status = 401), (status = 404)))]
pub async fn system_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    read(&req, &state, &path, system::get).await
}

/// Replaces the system description (owners); audited as `system.update`.
#[utoipa::path(put, path = "/api/v1/orgs/{org_id}/system", tag = "documents",
    request_body = system::SystemUpdate, params(("org_id" = String, Path)),
    responses((status = 200, body = system::SystemDescription), (status = 401), (status = 403),
        (status = 404), (status = 422, description = "`field` names what is wrong")))]
pub async fn system_put(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<system::SystemUpdate>,
) -> Result<HttpResponse, WebError> {
    let update = body.into_inner();
    handle::change(
        &req,
        &state,
        &path,
        actix_web::http::StatusCode::OK,
        move |store, changer, org, now| {
            system::update(store, changer.requester, org, &update, &changer.client, now)
        },
    )
    .await
}

/// An OSCAL 1.1.3 document for an assessment: `ssp` (system security plan), `poam` (plan of
/// action and milestones) or `assessment-results` (the objective determinations). Checked
/// against NIST's schema before it is sent; audited as `document.export`.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/assessments/{assessment_id}/oscal/{document}",
    tag = "documents",
    params(("org_id" = String, Path), ("assessment_id" = String, Path),
        ("document" = String, Path, description = "`ssp`, `poam` or `assessment-results`")),
    responses((status = 200, description = "the OSCAL JSON document"), (status = 401),
        (status = 404)))]
pub async fn oscal_export(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, WebError> {
    let (org, assessment, document) = path.into_inner();
    let caller = identity::require_caller(&req, &state).await?;
    let kind = oscal::Kind::parse(&document).ok_or(WebError::NotFound)?;
    let org = identity::parse_org(&org)?;
    let client = identity::client(&req, &state);
    let store = state.store.clone();
    let value = web::block(move || {
        docs::oscal_export(
            &store,
            caller.requester,
            org,
            &assessment,
            kind,
            &client,
            identity::now(),
        )
    })
    .await??;
    Ok(oscal_response(&value, &format!("{}.json", kind.as_str())))
}

/// A built-in framework's OSCAL catalog (`nist-800-171r2`, `nist-800-171r3`,
/// `nist-csf-2.0`; the CMMC levels are Rev 2's catalog).
#[utoipa::path(get, path = "/api/v1/oscal/catalogs/{framework}", tag = "documents",
    params(("framework" = String, Path)),
    responses((status = 200, description = "the OSCAL catalog"), (status = 401), (status = 404)))]
pub async fn oscal_catalog(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    identity::require_caller(&req, &state).await?;
    let json = oscal::catalog(&path).ok_or(WebError::NotFound)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(disposition(&format!("{}.oscal.json", oscal::token(&path))))
        .body(json))
}

/// The OSCAL profile of a built-in framework (`cmmc-l1`, `cmmc-l2`, …): which controls of
/// its catalog it assesses. SSPs made here import it.
#[utoipa::path(get, path = "/api/v1/oscal/profiles/{framework}", tag = "documents",
    params(("framework" = String, Path)),
    responses((status = 200, description = "the OSCAL profile"), (status = 401), (status = 404)))]
pub async fn oscal_profile(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    identity::require_caller(&req, &state).await?;
    let framework = crate::catalog::builtin(&path).ok_or(WebError::NotFound)?;
    let value = oscal::profile(framework, identity::now())?;
    Ok(oscal_response(&value, &oscal::profile_file(&framework.id)))
}

fn oscal_response(value: &serde_json::Value, filename: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(disposition(filename))
        .json(value)
}

/// `attachment` with a name made only of token characters, so it needs no quoting rules.
fn disposition(filename: &str) -> (header::HeaderName, String) {
    (
        header::CONTENT_DISPOSITION,
        format!("attachment; filename=\"{}\"", oscal::token(filename)),
    )
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatQuery {
    /// `xlsx` (the default) or `csv`.
    format: Option<String>,
}

/// An assessment as a spreadsheet: `objectives` (one row per objective: id, requirement,
/// text, status, note, owner; imports back), `poam` (the POA&M in the columns assessors
/// ask for) or `gaps` (the gap report). Audited as `document.export`.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/assessments/{assessment_id}/export/{sheet}",
    tag = "documents",
    params(("org_id" = String, Path), ("assessment_id" = String, Path),
        ("sheet" = String, Path, description = "`objectives`, `poam` or `gaps`"), FormatQuery),
    responses((status = 200, description = "the XLSX or CSV file"), (status = 401),
        (status = 404), (status = 422, description = "an unknown format")))]
pub async fn table_export(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
    query: web::Query<FormatQuery>,
) -> Result<HttpResponse, WebError> {
    let (org, assessment, sheet) = path.into_inner();
    let caller = identity::require_caller(&req, &state).await?;
    let sheet = docs::Sheet::parse(&sheet).ok_or(WebError::NotFound)?;
    let format = match query.format.as_deref() {
        None => sheets::Format::Xlsx,
        Some(text) => sheets::Format::parse(text).ok_or_else(|| WebError::Invalid {
            field: "format".into(),
            message: "format is xlsx or csv".into(),
        })?,
    };
    let org = identity::parse_org(&org)?;
    let client = identity::client(&req, &state);
    let store = state.store.clone();
    let bytes = web::block(move || {
        docs::table_export(
            &store,
            caller.requester,
            org,
            &assessment,
            sheet,
            format,
            &client,
            identity::now(),
        )
    })
    .await??;
    Ok(HttpResponse::Ok()
        .content_type(format.media_type())
        .insert_header(disposition(&format!(
            "{}.{}",
            sheet.as_str(),
            format.extension()
        )))
        .body(bytes))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApplyQuery {
    /// `true` applies the changes; otherwise only what would change is shown.
    #[serde(default)]
    apply: bool,
}

/// Whether `path` is an import route, whose body may be larger than the general limit.
pub fn is_import(method: &actix_web::http::Method, path: &str) -> bool {
    method == actix_web::http::Method::POST
        && path.starts_with("/api/v1/orgs/")
        && path.contains("/assessments/")
        && (path.ends_with("/import/objectives") || path.ends_with("/import/assessment-results"))
}

/// Sets objective statuses from a file: `objectives` (an objectives spreadsheet, XLSX or
/// CSV, as exported) or `assessment-results` (an OSCAL 1.1.3 assessment results document).
/// Without `apply=true` it only shows what would change; with it, the changes land in one
/// transaction with source `import`. Errors name the sheet, row and column, or the JSON
/// path.
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/assessments/{assessment_id}/import/{source}",
    tag = "documents",
    params(("org_id" = String, Path), ("assessment_id" = String, Path),
        ("source" = String, Path, description = "`objectives` or `assessment-results`"), ApplyQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = imports::ImportOutcome), (status = 401), (status = 403),
        (status = 404), (status = 413),
        (status = 422, description = "the file is wrong; `field` names the cell or JSON path")))]
pub async fn import(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
    query: web::Query<ApplyQuery>,
    mut body: web::Payload,
) -> Result<HttpResponse, WebError> {
    let (org, assessment, source) = path.into_inner();
    let changer = handle::changer(&req, &state).await?;
    let spreadsheet = match source.as_str() {
        "objectives" => true,
        "assessment-results" => false,
        _ => return Err(WebError::NotFound),
    };
    let org = identity::parse_org(&org)?;
    let mut bytes = web::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|err| WebError::Invalid {
            field: "body".into(),
            message: format!("the upload broke off: {err}"),
        })?;
        if bytes.len() + chunk.len() > sheets::MAX_IMPORT_BYTES {
            return Err(WebError::PayloadTooLarge {
                limit: sheets::MAX_IMPORT_BYTES as u64,
            });
        }
        bytes.extend_from_slice(&chunk);
    }
    let apply = query.apply;
    let store = state.store.clone();
    let outcome = web::block(move || {
        let author = Author {
            requester: changer.requester,
            client: changer.client,
            source: Source::Import,
        };
        let now = identity::now();
        if spreadsheet {
            imports::spreadsheet(&store, &author, org, &assessment, &bytes, apply, now)
        } else {
            imports::assessment_results(&store, &author, org, &assessment, &bytes, apply, now)
        }
    })
    .await??;
    Ok(HttpResponse::Ok().json(outcome))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GenerateQuery {
    /// `docx` or `pdf` (the SSP); reports are PDF.
    format: Option<String>,
    /// A handling marking printed in every header and footer, such as `CUI`.
    marking: Option<String>,
}

async fn generate(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    org: &str,
    assessment: String,
    kind: archive::DocumentKind,
    marking: Option<String>,
) -> Result<HttpResponse, WebError> {
    let archive_dir = archive::Archive::new(state.vault.data_dir());
    handle::change(
        req,
        state,
        org,
        actix_web::http::StatusCode::CREATED,
        move |store, changer, org, now| {
            docs::generate(
                store,
                &archive_dir,
                changer.requester,
                org,
                &assessment,
                kind,
                marking.as_deref(),
                &changer.client,
                now,
            )
        },
    )
    .await
}

/// Generates the System Security Plan as DOCX or PDF (members and up) and keeps it as a
/// version with its date, author and SHA-256; audited as `document.generate`.
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/assessments/{assessment_id}/ssp",
    tag = "documents",
    params(("org_id" = String, Path), ("assessment_id" = String, Path), GenerateQuery),
    responses((status = 201, body = archive::DocumentVersion), (status = 401), (status = 403),
        (status = 404), (status = 422)))]
pub async fn ssp(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    query: web::Query<GenerateQuery>,
) -> Result<HttpResponse, WebError> {
    let (org, assessment) = path.into_inner();
    let query = query.into_inner();
    let kind = match query.format.as_deref().unwrap_or("pdf") {
        "pdf" => archive::DocumentKind::SspPdf,
        "docx" => archive::DocumentKind::SspDocx,
        _ => {
            return Err(WebError::Invalid {
                field: "format".into(),
                message: "format is docx or pdf".into(),
            });
        }
    };
    generate(&req, &state, &org, assessment, kind, query.marking).await
}

/// Generates a report as PDF (members and up): `score-summary` (one page: both scores,
/// statuses and dates, for SPRS) or `gap-report`. Kept as a version; audited.
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/assessments/{assessment_id}/reports/{report}",
    tag = "documents",
    params(("org_id" = String, Path), ("assessment_id" = String, Path),
        ("report" = String, Path, description = "`score-summary` or `gap-report`"), GenerateQuery),
    responses((status = 201, body = archive::DocumentVersion), (status = 401), (status = 403),
        (status = 404), (status = 422)))]
pub async fn report(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
    query: web::Query<GenerateQuery>,
) -> Result<HttpResponse, WebError> {
    let (org, assessment, report) = path.into_inner();
    identity::require_caller(&req, &state).await?;
    let kind = match report.as_str() {
        "score-summary" => archive::DocumentKind::ScoreSummaryPdf,
        "gap-report" => archive::DocumentKind::GapReportPdf,
        _ => return Err(WebError::NotFound),
    };
    generate(
        &req,
        &state,
        &org,
        assessment,
        kind,
        query.into_inner().marking,
    )
    .await
}

/// Starts building a proofpack for an assessor (members and up): the SSP, score summary,
/// POA&M, OSCAL documents and the chosen evidence, with a manifest signed by the
/// appliance's Ed25519 key; optionally age-encrypted. Answers at once with the version
/// (`building`); its `progress` shows how far it is.
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/assessments/{assessment_id}/proofpack",
    tag = "documents", request_body = proofpack::ProofpackRequest,
    params(("org_id" = String, Path), ("assessment_id" = String, Path)),
    responses((status = 202, body = archive::DocumentVersion), (status = 401), (status = 403),
        (status = 404), (status = 422)))]
pub async fn proofpack(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Json<proofpack::ProofpackRequest>,
) -> Result<HttpResponse, WebError> {
    let (org, assessment) = path.into_inner();
    let changer = handle::changer(&req, &state).await?;
    let org = identity::parse_org(&org)?;
    let request = body.into_inner();
    let store = state.store.clone();
    let vault = state.vault.clone();
    let archive_dir = archive::Archive::new(vault.data_dir());
    let version = web::block(move || {
        let now = identity::now();
        let plan = proofpack::plan(
            &store,
            &archive_dir,
            changer.requester,
            org,
            &assessment,
            &request,
            &changer.client,
            now,
        )?;
        let version = plan.version.clone();
        // Built off the request: a large pack takes minutes, and the page shows progress.
        std::thread::Builder::new()
            .name("proofpack".into())
            .spawn(move || {
                if let Err(err) = proofpack::build(
                    &store,
                    &archive_dir,
                    &vault,
                    changer.requester,
                    org,
                    plan,
                    &changer.client,
                    now,
                ) {
                    tracing::warn!(error = %err, "a proofpack build failed");
                }
            })
            .map_err(|err| docs::DocsError::Render {
                format: "proofpack",
                message: err.to_string(),
            })?;
        Ok::<_, docs::DocsError>(version)
    })
    .await??;
    Ok(HttpResponse::Accepted().json(version))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DocumentsQuery {
    /// Only this assessment's documents.
    assessment: Option<String>,
}

/// The organization's generated documents, newest first: SSP versions, reports and
/// proofpacks, with date, author, size and SHA-256.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/documents", tag = "documents",
    params(("org_id" = String, Path), DocumentsQuery),
    responses((status = 200, body = [archive::DocumentVersion]), (status = 401), (status = 404)))]
pub async fn documents(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<DocumentsQuery>,
) -> Result<HttpResponse, WebError> {
    let assessment = query.into_inner().assessment;
    read(
        &req,
        &state,
        &path,
        move |store, requester, org, client, now| {
            archive::list(store, requester, org, assessment.as_deref(), client, now)
        },
    )
    .await
}

/// One generated document version (with `progress` while a proofpack builds).
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/documents/{document_id}", tag = "documents",
    params(("org_id" = String, Path), ("document_id" = String, Path)),
    responses((status = 200, body = archive::DocumentVersion), (status = 401), (status = 404)))]
pub async fn document(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let (org, id) = path.into_inner();
    read(
        &req,
        &state,
        &org,
        move |store, requester, org, client, now| {
            archive::get(store, requester, org, &id, client, now)
        },
    )
    .await
}

/// A generated document's file; audited as `document.download`.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/documents/{document_id}/download",
    tag = "documents", params(("org_id" = String, Path), ("document_id" = String, Path)),
    responses((status = 200, description = "the file"), (status = 401), (status = 404),
        (status = 422, description = "still being built, or failed")))]
pub async fn download(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let (org, id) = path.into_inner();
    let caller = identity::require_caller(&req, &state).await?;
    let org = identity::parse_org(&org)?;
    let client = identity::client(&req, &state);
    let store = state.store.clone();
    let archive_dir = archive::Archive::new(state.vault.data_dir());
    let download = web::block(move || {
        archive::open(
            &store,
            &archive_dir,
            caller.requester,
            org,
            &id,
            &client,
            identity::now(),
        )
    })
    .await??;
    Ok(super::evidence_api::serve(download, false))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct SigningKey {
    /// `ed25519:` and the base64 public key, as `rampart proofpack verify --key` takes it.
    key: String,
}

/// The appliance's proofpack signing key, for assessors to check proofpacks against.
#[utoipa::path(get, path = "/api/v1/proofpack/key", tag = "documents",
    responses((status = 200, body = SigningKey), (status = 401)))]
pub async fn signing_key(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    identity::require_caller(&req, &state).await?;
    let store = state.store.clone();
    let key = web::block(move || proofpack::public_key(&store)).await??;
    Ok(HttpResponse::Ok().json(SigningKey { key }))
}
