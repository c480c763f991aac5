//! DOCX (WordprocessingML) rendering of a [`Document`], editable in Word and LibreOffice:
//! real heading styles (so the navigation pane and a refreshed table of contents work), a
//! contents field pre-filled with the headings, tables with repeating header rows, and the
//! marking and "Page N of M" in header and footer. Output is deterministic: the same
//! document gives the same bytes.

use std::io::{Cursor, Write};

use zip::write::SimpleFileOptions;

use super::DocsError;
use super::model::{Block, Document};

fn fail(message: impl ToString) -> DocsError {
    DocsError::Render {
        format: "DOCX",
        message: message.to_string(),
    }
}

/// Text as XML character data: escaped, and without the characters XML 1.0 forbids (nor
/// the other control characters, which mean nothing in a document).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' => out.push(c),
            '\u{FFFE}' | '\u{FFFF}' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A run of text; `\n` becomes a line break and a tab a tab, since Word reads both in
/// `w:t` as plain spaces.
fn runs(text: &str, bold: bool) -> String {
    let properties = if bold { "<w:rPr><w:b/></w:rPr>" } else { "" };
    text.split('\n')
        .map(|line| {
            let text = line
                .split('\t')
                .map(|piece| format!("<w:t xml:space=\"preserve\">{}</w:t>", escape(piece)))
                .collect::<Vec<_>>()
                .join("<w:tab/>");
            format!("<w:r>{properties}{text}</w:r>")
        })
        .collect::<Vec<_>>()
        .join("<w:r><w:br/></w:r>")
}

fn paragraph(style: Option<&str>, text: &str, bold: bool) -> String {
    let properties = style.map_or_else(String::new, |s| {
        format!("<w:pPr><w:pStyle w:val=\"{s}\"/></w:pPr>")
    });
    format!("<w:p>{properties}{}</w:p>", runs(text, bold))
}

/// Every margin, in twips: ¾ inch.
const MARGIN: u32 = 1080;

fn page_size(document: &Document) -> (u32, u32) {
    if document.landscape {
        (15840, 12240)
    } else {
        (12240, 15840)
    }
}

fn text_width(document: &Document) -> u32 {
    page_size(document).0 - 2 * MARGIN
}

fn table(
    header: Option<&[String]>,
    widths: &[u16],
    rows: &[Vec<String>],
    label_bold: bool,
    text_width: u32,
) -> String {
    // A width or a heading missing from either list still gets its column.
    let columns = widths.len().max(header.map_or(0, <[String]>::len)).max(1);
    let widths: Vec<u32> = (0..columns)
        .map(|n| u32::from(widths.get(n).copied().unwrap_or(1).max(1)))
        .collect();
    let total = widths.iter().sum::<u32>().max(1);
    // Word sizes cells by percent (in fiftieths); LibreOffice by the grid (in twips).
    let percent: Vec<u32> = widths.iter().map(|w| w * 5000 / total).collect();
    let cell = |n: usize, text: &str, heading: bool, bold: bool| {
        let shade = if heading {
            "<w:shd w:val=\"clear\" w:color=\"auto\" w:fill=\"E8E8E8\"/>"
        } else {
            ""
        };
        format!(
            "<w:tc><w:tcPr><w:tcW w:w=\"{}\" w:type=\"pct\"/>{shade}</w:tcPr>{}</w:tc>",
            percent.get(n).copied().unwrap_or(0),
            paragraph(Some("TableText"), text, bold)
        )
    };
    let mut xml = String::from(
        "<w:tbl><w:tblPr><w:tblStyle w:val=\"Grid\"/><w:tblW w:w=\"5000\" w:type=\"pct\"/><w:tblLayout w:type=\"fixed\"/></w:tblPr><w:tblGrid>",
    );
    for width in &widths {
        xml.push_str(&format!(
            "<w:gridCol w:w=\"{}\"/>",
            width * text_width / total
        ));
    }
    xml.push_str("</w:tblGrid>");
    if let Some(header) = header {
        xml.push_str("<w:tr><w:trPr><w:tblHeader/></w:trPr>");
        for n in 0..percent.len() {
            let text = header.get(n).map_or("", String::as_str);
            xml.push_str(&cell(n, text, true, true));
        }
        xml.push_str("</w:tr>");
    }
    for row in rows {
        xml.push_str("<w:tr>");
        for n in 0..percent.len() {
            let text = row.get(n).map_or("", String::as_str);
            xml.push_str(&cell(n, text, false, label_bold && n == 0));
        }
        xml.push_str("</w:tr>");
    }
    xml.push_str("</w:tbl><w:p/>");
    xml
}

/// The contents field, its cached result listing the headings so a reader that does not
/// update fields still shows them; Word refreshes the page numbers on opening. As Word
/// writes it: the field opens in the first entry's paragraph and closes after the last.
fn contents(document: &Document) -> String {
    let mut xml = paragraph(Some("TOCHeading"), "Contents", false);
    let mut field = String::from(
        "<w:r><w:fldChar w:fldCharType=\"begin\" w:dirty=\"true\"/></w:r><w:r><w:instrText xml:space=\"preserve\"> TOC \\o \"1-2\" \\h \\z \\u </w:instrText></w:r><w:r><w:fldChar w:fldCharType=\"separate\"/></w:r>",
    );
    for block in &document.blocks {
        if let Block::Heading { level, text } = block
            && *level <= 2
        {
            let level = (*level).max(1);
            xml.push_str(&format!(
                "<w:p><w:pPr><w:pStyle w:val=\"TOC{level}\"/></w:pPr>{}{}</w:p>",
                std::mem::take(&mut field),
                runs(text, false)
            ));
        }
    }
    xml.push_str(&format!(
        "<w:p>{field}<w:r><w:fldChar w:fldCharType=\"end\"/></w:r></w:p>"
    ));
    xml
}

fn body(document: &Document) -> String {
    let mut xml = String::new();
    xml.push_str(&paragraph(Some("Title"), &document.title, false));
    if !document.subtitle.is_empty() {
        xml.push_str(&paragraph(Some("Subtitle"), &document.subtitle, false));
    }
    for block in &document.blocks {
        match block {
            Block::Heading { level, text } => {
                let level = (*level).clamp(1, 3);
                xml.push_str(&paragraph(Some(&format!("Heading{level}")), text, false));
            }
            Block::Paragraph(text) => xml.push_str(&paragraph(None, text, false)),
            Block::Fields(fields) => {
                let rows: Vec<Vec<String>> = fields
                    .iter()
                    .map(|(label, value)| vec![label.clone(), value.clone()])
                    .collect();
                xml.push_str(&table(None, &[3, 7], &rows, true, text_width(document)));
            }
            Block::Table {
                header,
                widths,
                rows,
            } => xml.push_str(&table(
                Some(header),
                widths,
                rows,
                false,
                text_width(document),
            )),
            Block::Contents => xml.push_str(&contents(document)),
            Block::PageBreak => xml.push_str("<w:p><w:r><w:br w:type=\"page\"/></w:r></w:p>"),
        }
    }
    let (w, h) = page_size(document);
    let orient = if document.landscape {
        " w:orient=\"landscape\""
    } else {
        ""
    };
    format!(
        "{xml}<w:sectPr><w:headerReference w:type=\"default\" r:id=\"rIdHeader\"/><w:footerReference w:type=\"default\" r:id=\"rIdFooter\"/><w:pgSz w:w=\"{w}\" w:h=\"{h}\"{orient}/><w:pgMar w:top=\"{MARGIN}\" w:right=\"{MARGIN}\" w:bottom=\"{MARGIN}\" w:left=\"{MARGIN}\" w:header=\"540\" w:footer=\"540\" w:gutter=\"0\"/></w:sectPr>"
    )
}

const NS: &str = "xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\" xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"";

fn field(instruction: &str, cached: &str) -> String {
    format!(
        "<w:r><w:fldChar w:fldCharType=\"begin\"/></w:r><w:r><w:instrText xml:space=\"preserve\"> {instruction} </w:instrText></w:r><w:r><w:fldChar w:fldCharType=\"separate\"/></w:r><w:r><w:t>{cached}</w:t></w:r><w:r><w:fldChar w:fldCharType=\"end\"/></w:r>"
    )
}

fn marking(document: &Document) -> String {
    document
        .marking
        .as_deref()
        .map_or_else(String::new, |m| runs(m, true))
}

fn header(document: &Document) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><w:hdr {NS}><w:p><w:pPr><w:pStyle w:val=\"Header\"/><w:jc w:val=\"center\"/></w:pPr>{}</w:p></w:hdr>",
        marking(document)
    )
}

/// One line, as in the PDF: the marking on a centre tab, the page number on a right tab.
fn footer(document: &Document) -> String {
    let width = text_width(document);
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><w:ftr {NS}><w:p><w:pPr><w:pStyle w:val=\"Footer\"/><w:tabs><w:tab w:val=\"center\" w:pos=\"{}\"/><w:tab w:val=\"right\" w:pos=\"{width}\"/></w:tabs></w:pPr><w:r><w:tab/></w:r>{}<w:r><w:tab/><w:t xml:space=\"preserve\">Page </w:t></w:r>{}<w:r><w:t xml:space=\"preserve\"> of </w:t></w:r>{}</w:p></w:ftr>",
        width / 2,
        marking(document),
        field("PAGE", "1"),
        field("NUMPAGES", "1")
    )
}

const STYLES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">
<w:docDefaults><w:rPrDefault><w:rPr><w:rFonts w:ascii="DejaVu Sans" w:hAnsi="DejaVu Sans" w:cs="DejaVu Sans" w:eastAsia="DejaVu Sans"/><w:sz w:val="20"/><w:szCs w:val="20"/><w:lang w:val="en-US"/></w:rPr></w:rPrDefault><w:pPrDefault><w:pPr><w:spacing w:after="120" w:line="264" w:lineRule="auto"/></w:pPr></w:pPrDefault></w:docDefaults>
<w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/><w:qFormat/></w:style>
<w:style w:type="paragraph" w:styleId="Title"><w:name w:val="Title"/><w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:qFormat/><w:pPr><w:spacing w:after="120"/></w:pPr><w:rPr><w:b/><w:sz w:val="44"/></w:rPr></w:style>
<w:style w:type="paragraph" w:styleId="Subtitle"><w:name w:val="Subtitle"/><w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:qFormat/><w:pPr><w:spacing w:after="360"/></w:pPr><w:rPr><w:sz w:val="24"/></w:rPr></w:style>
<w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/><w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:qFormat/><w:pPr><w:keepNext/><w:spacing w:before="360" w:after="120"/><w:outlineLvl w:val="0"/></w:pPr><w:rPr><w:b/><w:sz w:val="30"/></w:rPr></w:style>
<w:style w:type="paragraph" w:styleId="Heading2"><w:name w:val="heading 2"/><w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:qFormat/><w:pPr><w:keepNext/><w:spacing w:before="240" w:after="120"/><w:outlineLvl w:val="1"/></w:pPr><w:rPr><w:b/><w:sz w:val="25"/></w:rPr></w:style>
<w:style w:type="paragraph" w:styleId="Heading3"><w:name w:val="heading 3"/><w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:qFormat/><w:pPr><w:keepNext/><w:spacing w:before="200" w:after="80"/><w:outlineLvl w:val="2"/></w:pPr><w:rPr><w:b/><w:sz w:val="22"/></w:rPr></w:style>
<w:style w:type="paragraph" w:styleId="TOCHeading"><w:name w:val="TOC Heading"/><w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:rPr><w:b/><w:sz w:val="30"/></w:rPr></w:style>
<w:style w:type="paragraph" w:styleId="TOC1"><w:name w:val="toc 1"/><w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:pPr><w:spacing w:after="60"/></w:pPr></w:style>
<w:style w:type="paragraph" w:styleId="TOC2"><w:name w:val="toc 2"/><w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:pPr><w:spacing w:after="60"/><w:ind w:left="240"/></w:pPr></w:style>
<w:style w:type="paragraph" w:styleId="Header"><w:name w:val="header"/><w:basedOn w:val="Normal"/><w:pPr><w:spacing w:after="0"/></w:pPr><w:rPr><w:sz w:val="17"/></w:rPr></w:style>
<w:style w:type="paragraph" w:styleId="Footer"><w:name w:val="footer"/><w:basedOn w:val="Normal"/><w:pPr><w:spacing w:after="0"/></w:pPr><w:rPr><w:sz w:val="17"/></w:rPr></w:style>
<w:style w:type="paragraph" w:styleId="TableText"><w:name w:val="Table Text"/><w:basedOn w:val="Normal"/><w:pPr><w:spacing w:after="0"/></w:pPr><w:rPr><w:sz w:val="17"/></w:rPr></w:style>
<w:style w:type="table" w:styleId="Grid"><w:name w:val="Table Grid"/><w:tblPr><w:tblBorders><w:top w:val="single" w:sz="4" w:space="0" w:color="8C8C8C"/><w:left w:val="single" w:sz="4" w:space="0" w:color="8C8C8C"/><w:bottom w:val="single" w:sz="4" w:space="0" w:color="8C8C8C"/><w:right w:val="single" w:sz="4" w:space="0" w:color="8C8C8C"/><w:insideH w:val="single" w:sz="4" w:space="0" w:color="8C8C8C"/><w:insideV w:val="single" w:sz="4" w:space="0" w:color="8C8C8C"/></w:tblBorders><w:tblCellMar><w:top w:w="30" w:type="dxa"/><w:left w:w="80" w:type="dxa"/><w:bottom w:w="30" w:type="dxa"/><w:right w:w="80" w:type="dxa"/></w:tblCellMar></w:tblPr></w:style>
</w:styles>"#;

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/><Override PartName="/word/settings.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.settings+xml"/><Override PartName="/word/header1.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.header+xml"/><Override PartName="/word/footer1.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.footer+xml"/><Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/></Types>"#;

const PACKAGE_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/></Relationships>"#;

const DOCUMENT_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rIdStyles" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/><Relationship Id="rIdSettings" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/settings" Target="settings.xml"/><Relationship Id="rIdHeader" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/header" Target="header1.xml"/><Relationship Id="rIdFooter" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/footer" Target="footer1.xml"/></Relationships>"#;

/// `updateFields`: Word offers to refresh the contents' page numbers on opening. Children
/// in schema order, which Word enforces.
const SETTINGS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:settings xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:defaultTabStop w:val="720"/><w:updateFields w:val="true"/><w:compat><w:compatSetting w:name="compatibilityMode" w:uri="http://schemas.microsoft.com/office/word" w:val="15"/></w:compat></w:settings>"#;

/// The document as a `.docx` file.
pub fn render(document: &Document) -> Result<Vec<u8>, DocsError> {
    let core = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><cp:coreProperties xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:title>{}</dc:title><dc:creator>Rampart</dc:creator></cp:coreProperties>",
        escape(&document.title)
    );
    let main = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><w:document {NS}><w:body>{}</w:body></w:document>",
        body(document)
    );
    let parts: [(&str, &str); 8] = [
        ("[Content_Types].xml", CONTENT_TYPES),
        ("_rels/.rels", PACKAGE_RELS),
        ("docProps/core.xml", &core),
        ("word/_rels/document.xml.rels", DOCUMENT_RELS),
        ("word/document.xml", &main),
        ("word/styles.xml", STYLES),
        ("word/settings.xml", SETTINGS),
        ("word/header1.xml", &header(document)),
    ];
    let footer = footer(document);
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    // A fixed timestamp: the same document gives the same bytes.
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    for (name, text) in parts
        .iter()
        .chain(std::iter::once(&("word/footer1.xml", footer.as_str())))
    {
        zip.start_file(*name, options).map_err(fail)?;
        zip.write_all(text.as_bytes()).map_err(fail)?;
    }
    Ok(zip.finish().map_err(fail)?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn sample(landscape: bool) -> Document {
        Document {
            title: "System Security Plan".into(),
            subtitle: "Acme & Co — 2026".into(),
            marking: Some("CUI//SP-CTI".into()),
            landscape,
            blocks: vec![
                Block::Paragraph("Introduction".into()),
                Block::Contents,
                Block::PageBreak,
                Block::Heading {
                    level: 1,
                    text: "1. Identification".into(),
                },
                Block::Paragraph("<script> & \"quotes\"\nsecond\tline\u{7}\u{FFFF}".into()),
                Block::Heading {
                    level: 2,
                    text: "1.1 Roles — café".into(),
                },
                Block::Fields(vec![("Status".into(), "Met".into())]),
                Block::Heading {
                    level: 3,
                    text: "Objectives".into(),
                },
                Block::Table {
                    header: vec!["Id".into(), "Text".into()],
                    widths: vec![1, 3],
                    rows: (0..200)
                        .map(|n| vec![n.to_string(), "café".into()])
                        .collect(),
                },
            ],
        }
    }

    fn part(bytes: &[u8], name: &str) -> String {
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let mut text = String::new();
        zip.by_name(name)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    /// Every element closed in order, every `&` an entity: enough of well-formedness to
    /// catch a broken template or an unescaped value.
    fn assert_well_formed(xml: &str) {
        let mut open: Vec<&str> = Vec::new();
        for tag in xml.split('<').skip(1) {
            let tag = tag.split('>').next().unwrap();
            if tag.starts_with('?') || tag.ends_with('/') {
                continue;
            }
            let name = tag.split_whitespace().next().unwrap();
            match name.strip_prefix('/') {
                Some(closing) => assert_eq!(open.pop(), Some(closing), "in {xml:.200}"),
                None => open.push(name),
            }
        }
        assert!(open.is_empty(), "unclosed {open:?}");
        for entity in xml.split('&').skip(1) {
            assert!(
                ["amp;", "lt;", "gt;", "quot;"]
                    .iter()
                    .any(|e| entity.starts_with(e))
            );
        }
    }

    #[test]
    fn a_docx_holds_escaped_text_marking_and_repeating_headers() {
        let bytes = render(&sample(false)).unwrap();
        assert_eq!(bytes, render(&sample(false)).unwrap(), "deterministic");
        let names: Vec<String> = zip::ZipArchive::new(Cursor::new(&bytes))
            .unwrap()
            .file_names()
            .map(|name| name.unwrap().into_owned())
            .collect();
        for name in &names {
            assert_well_formed(&part(&bytes, name));
        }
        assert!(names.contains(&"[Content_Types].xml".to_owned()));
        let main = part(&bytes, "word/document.xml");
        assert!(main.contains("&lt;script&gt; &amp; &quot;quotes&quot;"));
        assert!(main.contains("<w:br/>") && main.contains("<w:tab/>"));
        assert!(!main.contains('\u{7}') && !main.contains('\u{FFFF}'));
        assert!(main.contains("<w:tblHeader/>"));
        assert_eq!(main.matches("<w:tblHeader/>").count(), 1);
        assert!(main.contains(">199<") && main.contains("café"));
        assert!(main.contains("<w:pStyle w:val=\"Heading3\"/>"));
        // The contents field, its cached entries the level 1 and 2 headings only.
        assert!(main.contains("TOC \\o \"1-2\" \\h"));
        assert!(main.contains(
            "<w:pStyle w:val=\"TOC2\"/></w:pPr><w:r><w:t xml:space=\"preserve\">1.1 Roles — café<"
        ));
        assert!(!main.contains("<w:pStyle w:val=\"TOC3\"/>"));
        assert!(main.contains("<w:pgSz w:w=\"12240\" w:h=\"15840\"/>"));
        assert!(part(&bytes, "word/header1.xml").contains(">CUI//SP-CTI<"));
        let footer = part(&bytes, "word/footer1.xml");
        assert!(footer.contains(">CUI//SP-CTI<") && footer.contains(" NUMPAGES "));
        assert!(part(&bytes, "word/settings.xml").contains("<w:updateFields w:val=\"true\"/>"));
        assert!(part(&bytes, "docProps/core.xml").contains(">System Security Plan<"));
        assert!(part(&bytes, "word/styles.xml").contains("w:styleId=\"TOC1\""));
    }

    #[test]
    fn landscape_swaps_the_page() {
        let bytes = render(&sample(true)).unwrap();
        let main = part(&bytes, "word/document.xml");
        assert!(main.contains("<w:pgSz w:w=\"15840\" w:h=\"12240\" w:orient=\"landscape\"/>"));
    }
}
