//! The organization's catalogs page: the built-in frameworks and the catalogs it imported,
//! what the imports hold of the organization's quota, and (for admins and owners) deleting
//! an imported catalog no assessment uses, through the JSON API from `account.js`.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::AppState;
use super::account_pages::when;
use super::assess_pages::{Frame, People, page_data};
use super::assets;
use super::error::WebError;
use super::pages::{Layout, html, render};
use crate::access::Permission;
use crate::catalog::imported;
use crate::sizes::in_words as size_in_words;

/// One catalog as the page shows it.
struct CatalogRow {
    id: String,
    title: String,
    version: String,
    requirements: usize,
    /// "Built in", or when, by whom and how large the import was.
    source: String,
    used_by: usize,
    imported: bool,
    /// An imported catalog no assessment uses.
    deletable: bool,
}

#[derive(Template)]
#[template(path = "catalogs.html")]
struct CatalogsPage {
    layout: Layout,
    frame: Frame,
    script: String,
    catalogs: Vec<CatalogRow>,
    imported: usize,
    manages: bool,
    used_size: String,
    quota_size: String,
    used_controls: String,
    quota_controls: String,
}

pub async fn catalogs(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let (mut frame, overview) = match page_data(
        &req,
        &state,
        &path,
        People::Named,
        |store, requester, org, client, now| {
            Ok(imported::overview(store, requester, org, client, now)?)
        },
    )
    .await?
    {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    let quota = state.catalog_quota;
    let catalogs: Vec<CatalogRow> = overview
        .catalogs
        .into_iter()
        .map(|(c, used_by)| CatalogRow {
            source: match (c.imported_at, &c.imported_by, c.bytes) {
                (Some(at), Some(by), Some(bytes)) => format!(
                    "Imported {} by {} ({})",
                    when(at),
                    frame.name_of(by),
                    size_in_words(bytes)
                ),
                _ => "Built in".to_owned(),
            },
            deletable: c.imported && used_by == 0,
            imported: c.imported,
            id: c.id,
            title: c.title,
            version: c.version,
            requirements: c.requirements,
            used_by,
        })
        .collect();
    Ok(html(render(&CatalogsPage {
        layout: frame.layout(),
        manages: frame
            .role
            .is_some_and(|role| role.allows(Permission::ManageCatalogs)),
        frame,
        script: assets::url("js/account.js"),
        imported: catalogs.iter().filter(|c| c.imported).count(),
        catalogs,
        used_size: size_in_words(overview.usage.bytes),
        quota_size: size_in_words(quota.bytes),
        used_controls: super::pages::grouped(overview.usage.controls),
        quota_controls: super::pages::grouped(quota.controls),
    })?))
}
