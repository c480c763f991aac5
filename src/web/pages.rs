//! HTML pages: one askama template struct per page, all extending `base.html`.

use actix_web::{HttpResponse, web};
use askama::Template;

use super::AppState;
use super::assets;
use super::error::WebError;

pub const PRODUCT: &str = "Rampart";

/// What the base layout needs on every page.
pub struct Layout {
    pub product: &'static str,
    pub version: &'static str,
    pub css: String,
    pub js: String,
}

impl Layout {
    pub fn new() -> Layout {
        Layout {
            product: PRODUCT,
            version: env!("CARGO_PKG_VERSION"),
            css: assets::url("css/app.css"),
            js: assets::url("js/app.js"),
        }
    }
}

impl Default for Layout {
    fn default() -> Self {
        Layout::new()
    }
}

pub fn render(page: &impl Template) -> Result<String, WebError> {
    page.render()
        .map_err(|err| WebError::Internal(format!("template: {err}")))
}

fn html(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(body)
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    layout: Layout,
    schema_version: u64,
}

pub async fn index(state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    let page = IndexPage {
        layout: Layout::new(),
        schema_version: state.store.schema_version(),
    };
    Ok(html(render(&page)?))
}
