//! PDF rendering of a [`Document`]: Letter pages, DejaVu Sans embedded (subset, as CID
//! fonts with a ToUnicode map so text extracts and searches), a table of contents with
//! page numbers, "Page N of M" and an optional marking in every header and footer, tables
//! whose header row repeats on each page.
//!
//! Layout is one pass: the contents list needs only the number of headings to reserve its
//! lines, and its page numbers are filled in once every heading has a page.

use std::collections::BTreeMap;
use std::io::Write;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use ttf_parser::{Face, GlyphId};

use super::DocsError;
use super::model::{Block, Document};

static REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

const PAGE_W: f32 = 612.0;
const PAGE_H: f32 = 792.0;
const MARGIN: f32 = 60.0;
const BODY: f32 = 10.0;
const SMALL: f32 = 8.5;
const CELL_PAD: f32 = 3.0;

fn fail(message: impl ToString) -> DocsError {
    DocsError::Render {
        format: "PDF",
        message: message.to_string(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Weight {
    Regular,
    Bold,
}

/// The two faces, parsed once per document.
struct Fonts<'f> {
    regular: Face<'f>,
    bold: Face<'f>,
}

impl Fonts<'_> {
    fn face(&self, weight: Weight) -> &Face<'_> {
        match weight {
            Weight::Regular => &self.regular,
            Weight::Bold => &self.bold,
        }
    }

    /// The glyph for `c`, or the face's `?` when it has none.
    fn glyph(&self, weight: Weight, c: char) -> u16 {
        let face = self.face(weight);
        face.glyph_index(c)
            .or_else(|| face.glyph_index('?'))
            .map_or(0, |g| g.0)
    }

    fn width(&self, weight: Weight, size: f32, text: &str) -> f32 {
        let face = self.face(weight);
        let units = f32::from(face.units_per_em());
        text.chars()
            .map(|c| {
                f32::from(
                    face.glyph_hor_advance(GlyphId(self.glyph(weight, c)))
                        .unwrap_or(0),
                )
            })
            .sum::<f32>()
            * size
            / units
    }

    /// `text` broken into lines no wider than `width`, at spaces where possible.
    fn wrap(&self, weight: Weight, size: f32, text: &str, width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for paragraph in text.split('\n') {
            let mut line = String::new();
            for word in paragraph.split(' ') {
                let candidate = if line.is_empty() {
                    word.to_owned()
                } else {
                    format!("{line} {word}")
                };
                if self.width(weight, size, &candidate) <= width {
                    line = candidate;
                    continue;
                }
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                // A word wider than the line is cut where it must be.
                let mut piece = String::new();
                for c in word.chars() {
                    piece.push(c);
                    if self.width(weight, size, &piece) > width && piece.chars().count() > 1 {
                        piece.pop();
                        lines.push(std::mem::take(&mut piece));
                        piece.push(c);
                    }
                }
                line = piece;
            }
            lines.push(line);
        }
        lines
    }
}

/// One thing drawn on a page.
enum Mark {
    Text {
        weight: Weight,
        size: f32,
        x: f32,
        y: f32,
        text: String,
    },
    Line {
        x1: f32,
        y1: f32,
        x2: f32,
        y2: f32,
    },
}

/// A contents entry whose page number is known only at the end.
struct ContentsLine {
    page: usize,
    y: f32,
    heading: usize,
}

struct Layout<'f> {
    fonts: &'f Fonts<'f>,
    width: f32,
    height: f32,
    /// Finished pages; the one being filled is `current`.
    pages: Vec<Vec<Mark>>,
    current: Vec<Mark>,
    /// Baseline of the next line, from the bottom.
    y: f32,
    /// Page of each level 1 and 2 heading, in order.
    heading_pages: Vec<usize>,
    contents: Vec<ContentsLine>,
}

impl<'f> Layout<'f> {
    fn new(fonts: &'f Fonts<'f>, landscape: bool) -> Self {
        let (width, height) = if landscape {
            (PAGE_H, PAGE_W)
        } else {
            (PAGE_W, PAGE_H)
        };
        let mut layout = Layout {
            fonts,
            width,
            height,
            pages: Vec::new(),
            current: Vec::new(),
            y: 0.0,
            heading_pages: Vec::new(),
            contents: Vec::new(),
        };
        layout.y = layout.top();
        layout
    }

    /// The number (from 1) of the page being filled.
    fn page_number(&self) -> usize {
        self.pages.len() + 1
    }

    /// Every page, the last one included.
    fn finish(mut self) -> (Vec<Vec<Mark>>, Vec<usize>, Vec<ContentsLine>) {
        self.pages.push(std::mem::take(&mut self.current));
        (self.pages, self.heading_pages, self.contents)
    }

    fn top(&self) -> f32 {
        self.height - MARGIN
    }

    fn bottom(&self) -> f32 {
        MARGIN
    }

    fn text_width(&self) -> f32 {
        self.width - 2.0 * MARGIN
    }

    fn new_page(&mut self) {
        self.pages.push(std::mem::take(&mut self.current));
        self.y = self.top();
    }

    fn page(&mut self) -> &mut Vec<Mark> {
        &mut self.current
    }

    /// Makes room for `height` below the current line, starting a page when needed.
    fn room(&mut self, height: f32) {
        if self.y - height < self.bottom() && self.y < self.top() {
            self.new_page();
        }
    }

    fn text(&mut self, weight: Weight, size: f32, x: f32, text: String) {
        let y = self.y;
        self.page().push(Mark::Text {
            weight,
            size,
            x,
            y,
            text,
        });
    }

    fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32) {
        self.page().push(Mark::Line { x1, y1, x2, y2 });
    }

    fn paragraph(&mut self, weight: Weight, size: f32, text: &str) {
        let leading = size * 1.35;
        for line in self.fonts.wrap(weight, size, text, self.text_width()) {
            self.room(leading);
            self.y -= leading;
            self.text(weight, size, MARGIN, line);
        }
        self.y -= size * 0.6;
    }

    fn heading(&mut self, level: u8, text: &str) {
        let size = match level {
            1 => 15.0,
            2 => 12.5,
            _ => 11.0,
        };
        // Keep a heading with a few lines of what follows it.
        self.room(size * 1.6 + 4.0 * BODY * 1.35);
        self.y -= size * 0.5;
        if level <= 2 {
            self.heading_pages.push(self.page_number());
        }
        self.paragraph(Weight::Bold, size, text);
    }

    fn contents(&mut self, entries: usize) {
        self.paragraph(Weight::Bold, 15.0, "Contents");
        let leading = BODY * 1.4;
        for heading in 0..entries {
            self.room(leading);
            self.y -= leading;
            let page = self.page_number();
            self.contents.push(ContentsLine {
                page,
                y: self.y,
                heading,
            });
        }
        self.y -= BODY;
    }

    /// A table: each row's cells wrapped to their columns; the header repeats on each page;
    /// a row taller than the room left moves to the next page, and one taller than a page
    /// is split between lines.
    fn table(
        &mut self,
        header: Option<&[String]>,
        widths: &[u16],
        rows: &[Vec<String>],
        label_bold: bool,
    ) {
        let columns = widths.len().max(1);
        let total: f32 = widths
            .iter()
            .map(|w| f32::from((*w).max(1)))
            .sum::<f32>()
            .max(1.0);
        let column_widths: Vec<f32> = (0..columns)
            .map(|n| {
                f32::from(widths.get(n).copied().unwrap_or(1).max(1)) / total * self.text_width()
            })
            .collect();
        let leading = SMALL * 1.3;
        let wrap_row =
            |cells: &[String], bold_first: bool, all_bold: bool| -> Vec<(Weight, Vec<String>)> {
                column_widths
                    .iter()
                    .enumerate()
                    .map(|(n, width)| {
                        let weight = if all_bold || (bold_first && n == 0) {
                            Weight::Bold
                        } else {
                            Weight::Regular
                        };
                        let text = cells.get(n).map_or("", String::as_str);
                        (
                            weight,
                            self.fonts.wrap(weight, SMALL, text, width - 2.0 * CELL_PAD),
                        )
                    })
                    .collect()
            };
        let header_cells = header.map(|h| wrap_row(h, false, true));
        let header_height = header_cells
            .as_ref()
            .map_or(0.0, |cells| row_height(cells, leading));
        let mut first_on_page = true;
        for row in rows {
            let cells = wrap_row(row, label_bold, false);
            let mut from = 0;
            let lines = cells.iter().map(|(_, l)| l.len()).max().unwrap_or(1).max(1);
            while from < lines {
                let room = self.y - self.bottom() - header_height - 2.0 * CELL_PAD;
                let fit = ((room / leading).floor().max(0.0) as usize).min(lines - from);
                let whole_row_fits = fit == lines - from;
                let page_is_fresh = (self.y - self.top()).abs() < 0.5 && self.current.is_empty();
                if !whole_row_fits
                    && (from == 0
                        && !page_is_fresh
                        && (lines as f32) * leading < self.top() - self.bottom() - header_height)
                    || fit == 0
                {
                    self.new_page();
                    first_on_page = true;
                    continue;
                }
                if first_on_page {
                    if let Some(cells) = &header_cells {
                        self.draw_row(cells, 0, usize::MAX, &column_widths, leading);
                    }
                    first_on_page = false;
                }
                let to = from + fit;
                self.draw_row(&cells, from, to, &column_widths, leading);
                from = to;
                if from < lines {
                    self.new_page();
                    first_on_page = true;
                }
            }
        }
        self.y -= BODY * 0.8;
    }

    /// Draws lines `from..to` of a row's cells with their borders; moves down past them.
    fn draw_row(
        &mut self,
        cells: &[(Weight, Vec<String>)],
        from: usize,
        to: usize,
        widths: &[f32],
        leading: f32,
    ) {
        let count = cells
            .iter()
            .map(|(_, lines)| lines.len().min(to).saturating_sub(from))
            .max()
            .unwrap_or(0)
            .max(1);
        let height = count as f32 * leading + 2.0 * CELL_PAD;
        let top = self.y;
        let mut x = MARGIN;
        for ((weight, lines), width) in cells.iter().zip(widths) {
            let mut y = top - CELL_PAD;
            for line in lines.iter().skip(from).take(to.saturating_sub(from)) {
                y -= leading;
                let baseline = y + SMALL * 0.25;
                self.page().push(Mark::Text {
                    weight: *weight,
                    size: SMALL,
                    x: x + CELL_PAD,
                    y: baseline,
                    text: line.clone(),
                });
            }
            self.line(x, top, x, top - height);
            x += width;
        }
        self.line(x, top, x, top - height);
        self.line(MARGIN, top, x, top);
        self.line(MARGIN, top - height, x, top - height);
        self.y = top - height;
    }
}

fn row_height(cells: &[(Weight, Vec<String>)], leading: f32) -> f32 {
    let lines = cells.iter().map(|(_, l)| l.len()).max().unwrap_or(1).max(1);
    lines as f32 * leading + 2.0 * CELL_PAD
}

fn headings(document: &Document) -> Vec<String> {
    document
        .blocks
        .iter()
        .filter_map(|b| match b {
            Block::Heading { level, text } if *level <= 2 => Some(text.clone()),
            _ => None,
        })
        .collect()
}

/// The document as a PDF file.
pub fn render(document: &Document) -> Result<Vec<u8>, DocsError> {
    let fonts = Fonts {
        regular: Face::parse(REGULAR, 0).map_err(fail)?,
        bold: Face::parse(BOLD, 0).map_err(fail)?,
    };
    let mut layout = Layout::new(&fonts, document.landscape);
    layout.paragraph(Weight::Bold, 22.0, &document.title);
    if !document.subtitle.is_empty() {
        layout.paragraph(Weight::Regular, 12.0, &document.subtitle);
    }
    layout.y -= BODY;
    let titles = headings(document);
    for block in &document.blocks {
        match block {
            Block::Heading { level, text } => layout.heading(*level, text),
            Block::Paragraph(text) => layout.paragraph(Weight::Regular, BODY, text),
            Block::Fields(fields) => {
                let rows: Vec<Vec<String>> = fields
                    .iter()
                    .map(|(label, value)| vec![label.clone(), value.clone()])
                    .collect();
                layout.table(None, &[3, 7], &rows, true);
            }
            Block::Table {
                header,
                widths,
                rows,
            } => layout.table(Some(header), widths, rows, false),
            Block::Contents => layout.contents(titles.len()),
            Block::PageBreak => {
                if (layout.y - layout.top()).abs() > 0.5 {
                    layout.new_page();
                }
            }
        }
    }
    // The contents, now that every heading has a page.
    let (width, height) = (layout.width, layout.height);
    let (mut pages, heading_pages, contents) = layout.finish();
    let right = width - MARGIN;
    for line in contents {
        let (Some(title), Some(number)) =
            (titles.get(line.heading), heading_pages.get(line.heading))
        else {
            continue;
        };
        let number = number.to_string();
        let number_width = fonts.width(Weight::Regular, BODY, &number);
        let room = right - MARGIN - number_width - 12.0;
        let title = fonts
            .wrap(Weight::Regular, BODY, title, room)
            .into_iter()
            .next()
            .unwrap_or_default();
        if let Some(marks) = pages.get_mut(line.page.saturating_sub(1)) {
            marks.push(Mark::Text {
                weight: Weight::Regular,
                size: BODY,
                x: MARGIN,
                y: line.y,
                text: title,
            });
            marks.push(Mark::Text {
                weight: Weight::Regular,
                size: BODY,
                x: right - number_width,
                y: line.y,
                text: number,
            });
        }
    }
    // Header, footer, page numbers.
    let total = pages.len();
    for (n, marks) in pages.iter_mut().enumerate() {
        let footer = format!("Page {} of {total}", n + 1);
        let footer_width = fonts.width(Weight::Regular, SMALL, &footer);
        marks.push(Mark::Text {
            weight: Weight::Regular,
            size: SMALL,
            x: width - MARGIN - footer_width,
            y: MARGIN / 2.0,
            text: footer,
        });
        if let Some(marking) = &document.marking {
            let marking_width = fonts.width(Weight::Bold, BODY, marking);
            for y in [height - MARGIN / 2.0, MARGIN / 2.0] {
                marks.push(Mark::Text {
                    weight: Weight::Bold,
                    size: BODY,
                    x: (width - marking_width) / 2.0,
                    y,
                    text: marking.clone(),
                });
            }
        }
    }
    write(document, &fonts, &pages, width, height)
}

/// A font's glyphs as used: old glyph id -> (new glyph id, the text it shows).
struct Used {
    remapper: subsetter::GlyphRemapper,
    chars: BTreeMap<u16, char>,
}

impl Used {
    fn new() -> Self {
        Used {
            remapper: subsetter::GlyphRemapper::new(),
            chars: BTreeMap::new(),
        }
    }
}

fn deflate(data: &[u8]) -> Result<Vec<u8>, DocsError> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).map_err(fail)?;
    encoder.finish().map_err(fail)
}

fn write(
    document: &Document,
    fonts: &Fonts<'_>,
    pages: &[Vec<Mark>],
    width: f32,
    height: f32,
) -> Result<Vec<u8>, DocsError> {
    let mut pdf = Pdf::new();
    let mut next = 1;
    let mut alloc = || {
        let id = Ref::new(next);
        next += 1;
        id
    };
    let catalog_id = alloc();
    let tree_id = alloc();
    let info_id = alloc();
    let font_ids = [(alloc(), Weight::Regular), (alloc(), Weight::Bold)];

    let mut used = [Used::new(), Used::new()];
    let mut page_ids = Vec::new();
    for marks in pages {
        let page_id = alloc();
        let content_id = alloc();
        let mut content = Content::new();
        content.set_line_width(0.5);
        content.set_stroke_gray(0.55);
        for mark in marks {
            match mark {
                Mark::Text {
                    weight,
                    size,
                    x,
                    y,
                    text,
                } => {
                    let index = usize::from(*weight == Weight::Bold);
                    let Some(font) = used.get_mut(index) else {
                        continue;
                    };
                    let mut encoded = Vec::with_capacity(text.len() * 2);
                    for c in text.chars() {
                        let old = fonts.glyph(*weight, c);
                        let new = font.remapper.remap(old);
                        font.chars.entry(new).or_insert(c);
                        encoded.extend_from_slice(&new.to_be_bytes());
                    }
                    content.begin_text();
                    content.set_font(Name(if index == 0 { b"F1" } else { b"F2" }), *size);
                    content.set_text_matrix([1.0, 0.0, 0.0, 1.0, *x, *y]);
                    content.show(Str(&encoded));
                    content.end_text();
                }
                Mark::Line { x1, y1, x2, y2 } => {
                    content.move_to(*x1, *y1);
                    content.line_to(*x2, *y2);
                    content.stroke();
                }
            }
        }
        let stream = deflate(&content.finish().into_vec())?;
        pdf.stream(content_id, &stream).filter(Filter::FlateDecode);
        let mut page = pdf.page(page_id);
        page.parent(tree_id)
            .media_box(Rect::new(0.0, 0.0, width, height))
            .contents(content_id);
        let mut resources = page.resources();
        let mut font_dict = resources.fonts();
        font_dict.pair(Name(b"F1"), font_ids[0].0);
        font_dict.pair(Name(b"F2"), font_ids[1].0);
        font_dict.finish();
        resources.finish();
        page.finish();
        page_ids.push(page_id);
    }

    for ((font_id, weight), font) in font_ids.iter().zip(&used) {
        let face = fonts.face(*weight);
        let data = match weight {
            Weight::Regular => REGULAR,
            Weight::Bold => BOLD,
        };
        let subset =
            subsetter::subset(data, 0, &font.remapper).map_err(|e| fail(format!("{e:?}")))?;
        let cid_id = alloc();
        let descriptor_id = alloc();
        let file_id = alloc();
        let cmap_id = alloc();
        let base = match weight {
            Weight::Regular => "RAMPRT+DejaVuSans",
            Weight::Bold => "RAMPRT+DejaVuSans-Bold",
        };
        let system = SystemInfo {
            registry: Str(b"Adobe"),
            ordering: Str(b"Identity"),
            supplement: 0,
        };
        pdf.type0_font(*font_id)
            .base_font(Name(base.as_bytes()))
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(cid_id)
            .to_unicode(cmap_id);
        let units = f32::from(face.units_per_em());
        let scale = |v: f32| v * 1000.0 / units;
        // In new-id order: the CIDs the content streams show.
        let widths: Vec<f32> = font
            .remapper
            .remapped_gids()
            .map(|old| scale(f32::from(face.glyph_hor_advance(GlyphId(old)).unwrap_or(0))))
            .collect();
        let mut cid = pdf.cid_font(cid_id);
        cid.subtype(CidFontType::Type2)
            .base_font(Name(base.as_bytes()))
            .system_info(system)
            .font_descriptor(descriptor_id)
            .default_width(0.0)
            .cid_to_gid_map_predefined(Name(b"Identity"));
        cid.widths().consecutive(0, widths);
        cid.finish();
        let bbox = face.global_bounding_box();
        pdf.font_descriptor(descriptor_id)
            .name(Name(base.as_bytes()))
            .flags(FontFlags::NON_SYMBOLIC)
            .bbox(Rect::new(
                scale(f32::from(bbox.x_min)),
                scale(f32::from(bbox.y_min)),
                scale(f32::from(bbox.x_max)),
                scale(f32::from(bbox.y_max)),
            ))
            .italic_angle(0.0)
            .ascent(scale(f32::from(face.ascender())))
            .descent(scale(f32::from(face.descender())))
            .cap_height(scale(f32::from(
                face.capital_height().unwrap_or(face.ascender()),
            )))
            .stem_v(if *weight == Weight::Bold { 120.0 } else { 80.0 })
            .font_file2(file_id);
        let compressed = deflate(&subset)?;
        pdf.stream(file_id, &compressed)
            .filter(Filter::FlateDecode)
            .pair(
                Name(b"Length1"),
                i32::try_from(subset.len()).unwrap_or(i32::MAX),
            );
        let mut cmap = UnicodeCmap::new(Name(b"Rampart-UTF16"), system);
        for (glyph, c) in &font.chars {
            cmap.pair(*glyph, *c);
        }
        pdf.cmap(cmap_id, &cmap.finish());
    }

    pdf.pages(tree_id)
        .kids(page_ids.iter().copied())
        .count(i32::try_from(page_ids.len()).unwrap_or(i32::MAX));
    pdf.catalog(catalog_id).pages(tree_id);
    pdf.document_info(info_id)
        .title(TextStr(&document.title))
        .producer(TextStr("Rampart"));
    Ok(pdf.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Document {
        let mut blocks = vec![Block::Contents, Block::PageBreak];
        for n in 1..=3 {
            blocks.push(Block::Heading {
                level: 1,
                text: format!("Section {n} — café"),
            });
            blocks.push(Block::Paragraph("Lorem ipsum dolor sit amet. ".repeat(40)));
            blocks.push(Block::Fields(vec![
                ("Status".into(), "Met".into()),
                ("Implementation".into(), "Line one\nLine two".into()),
            ]));
        }
        blocks.push(Block::Table {
            header: vec!["Id".into(), "Text".into()],
            widths: vec![1, 4],
            rows: (0..200)
                .map(|n| {
                    vec![
                        format!("row {n}"),
                        "cell text that wraps ".repeat(n % 7 + 1),
                    ]
                })
                .collect(),
        });
        Document {
            title: "System Security Plan".into(),
            subtitle: "Acme — 2026".into(),
            marking: Some("CUI".into()),
            landscape: false,
            blocks,
        }
    }

    #[test]
    fn renders_a_small_pdf_whose_text_extracts() {
        let bytes = render(&sample()).unwrap();
        assert!(bytes.starts_with(b"%PDF-"));
        assert!(bytes.len() < 400_000, "{} bytes", bytes.len());
        let pdftotext = std::path::Path::new("/usr/bin/pdftotext");
        if !pdftotext.exists() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sample.pdf");
        std::fs::write(&path, &bytes).unwrap();
        let out = std::process::Command::new(pdftotext)
            .args([path.to_str().unwrap(), "-"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        for expected in [
            "System Security Plan",
            "Section 2 — café",
            "Page 1 of",
            "CUI",
            "row 199",
            "Contents",
        ] {
            assert!(text.contains(expected), "{expected:?} not in the text");
        }
    }
}
