//! Static assets embedded in the binary, served under content-hash names so they can be
//! cached for a year and still change the moment a release changes them.

use std::collections::HashMap;
use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use rust_embed::RustEmbed;

use super::error::WebError;

#[derive(RustEmbed)]
#[folder = "assets/static/"]
struct Static;

struct Asset {
    path: String,
    content_type: &'static str,
}

/// Hashed name -> asset, and original path -> hashed URL.
struct AssetMap {
    by_hashed: HashMap<String, Asset>,
    url_of: HashMap<String, String>,
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// `css/app.css` with hash `0123abcd` becomes `app.0123abcd.css`.
fn hashed_name(path: &str, data: &[u8]) -> String {
    let digest = crate::crypto::sha256(data);
    let hash: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
    let file = path.rsplit('/').next().unwrap_or(path);
    match file.rsplit_once('.') {
        Some((stem, ext)) => format!("{stem}.{hash}.{ext}"),
        None => format!("{file}.{hash}"),
    }
}

static ASSETS: LazyLock<AssetMap> = LazyLock::new(|| {
    let mut by_hashed = HashMap::new();
    let mut url_of = HashMap::new();
    for path in Static::iter() {
        if let Some(file) = Static::get(&path) {
            let hashed = hashed_name(&path, &file.data);
            url_of.insert(path.to_string(), format!("/assets/{hashed}"));
            by_hashed.insert(
                hashed,
                Asset {
                    path: path.to_string(),
                    content_type: content_type(&path),
                },
            );
        }
    }
    AssetMap { by_hashed, url_of }
});

/// The URL pages use for an asset, such as `url("css/app.css")`.
pub fn url(path: &str) -> String {
    ASSETS
        .url_of
        .get(path)
        .cloned()
        .unwrap_or_else(|| format!("/assets/missing/{path}"))
}

pub async fn serve(name: web::Path<String>) -> Result<HttpResponse, WebError> {
    let asset = ASSETS
        .by_hashed
        .get(name.as_str())
        .ok_or(WebError::NotFound)?;
    let file = Static::get(&asset.path).ok_or(WebError::NotFound)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, asset.content_type))
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(file.data.into_owned()))
}

/// Browsers ask for `/favicon.ico` on their own: the app icon answers.
pub async fn favicon() -> HttpResponse {
    HttpResponse::MovedPermanently()
        .insert_header((header::LOCATION, url("img/icon.svg")))
        .finish()
}
