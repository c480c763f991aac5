//! PDF rendering of a [`Document`], with embedded fonts.

use super::DocsError;
use super::model::Document;

/// The document as a PDF file.
pub fn render(document: &Document) -> Result<Vec<u8>, DocsError> {
    let _ = document;
    Err(DocsError::Render {
        format: "PDF",
        message: "not built yet".into(),
    })
}
