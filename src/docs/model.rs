//! A small, format-neutral document: what the SSP and the reports say, before it is laid
//! out as DOCX or PDF. The renderers own layout; builders here own content, so the two
//! formats of one document always say the same thing.

/// A whole document, in reading order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    /// Shown on the title block and in the file's metadata.
    pub title: String,
    /// A line under the title: organization, assessment, date.
    pub subtitle: String,
    /// A handling marking (for example `CUI`) printed centred in every page's header and
    /// footer; `None` prints none.
    pub marking: Option<String>,
    /// Landscape pages, for wide tables (the POA&M).
    pub landscape: bool,
    pub blocks: Vec<Block>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// Levels 1 to 3. Level 1 and 2 headings are listed in the table of contents.
    Heading {
        level: u8,
        text: String,
    },
    /// Plain text; a `\n` starts a new line within the paragraph.
    Paragraph(String),
    /// A two-column list of labels and values (a requirement's details).
    Fields(Vec<(String, String)>),
    /// A table with a header row repeated on each page. `widths` are relative column
    /// widths (any positive numbers; one per column).
    Table {
        header: Vec<String>,
        widths: Vec<u16>,
        rows: Vec<Vec<String>>,
    },
    /// The table of contents: every level 1 and 2 heading with its page number.
    Contents,
    PageBreak,
}
