//! DOCX (WordprocessingML) rendering of a [`Document`].

use super::DocsError;
use super::model::Document;

/// The document as a `.docx` file.
pub fn render(document: &Document) -> Result<Vec<u8>, DocsError> {
    let _ = document;
    Err(DocsError::Render {
        format: "DOCX",
        message: "not built yet".into(),
    })
}
