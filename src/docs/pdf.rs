//! PDF rendering of a [`Document`]: Letter pages, DejaVu Sans embedded (subset, as CID
//! fonts with a ToUnicode map so text extracts and searches), a table of contents with
//! page numbers, "Page N of M" and an optional marking in every header and footer, tables
//! whose header row repeats on each page, and bookmarks for the headings.
//!
//! Layout is one pass: the contents are laid out where they stand (their text is known),
//! and their page numbers are filled in once every heading has a page.

use std::collections::BTreeMap;
use std::io::Write;

use pdf_writer::types::{CidFontType, FontFlags, LineCapStyle, PageMode, SystemInfo, UnicodeCmap};
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

    /// The glyph for `c` and the character it shows: the face's `?` when it has none.
    fn glyph(&self, weight: Weight, c: char) -> (u16, char) {
        let face = self.face(weight);
        match face.glyph_index(c) {
            Some(glyph) => (glyph.0, c),
            None => (face.glyph_index('?').map_or(0, |g| g.0), '?'),
        }
    }

    fn width(&self, weight: Weight, size: f32, text: &str) -> f32 {
        let face = self.face(weight);
        let units = f32::from(face.units_per_em());
        text.chars()
            .map(|c| {
                let (glyph, _) = self.glyph(weight, c);
                f32::from(face.glyph_hor_advance(GlyphId(glyph)).unwrap_or(0))
            })
            .sum::<f32>()
            * size
            / units
    }

    /// `text` broken into lines no wider than `width`, at spaces where possible.
    fn wrap(&self, weight: Weight, size: f32, text: &str, width: f32) -> Vec<String> {
        // Tabs read as spaces; other control characters have no glyph and no meaning here.
        let text: String = text
            .chars()
            .filter_map(|c| match c {
                '\t' => Some(' '),
                '\n' => Some(c),
                c if c.is_control() => None,
                c => Some(c),
            })
            .collect();
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
    /// A light grey box behind a table's header row.
    Shade {
        x: f32,
        y: f32,
        width: f32,
        height: f32,
    },
}

/// A contents entry, whose page number is known only at the end: where its last line is
/// and where that line's text ends.
struct ContentsLine {
    heading: usize,
    page: usize,
    y: f32,
    end: f32,
}

/// Where a level 1 or 2 heading landed: its page (from 1) and the top of its first line.
#[derive(Clone, Copy)]
struct Anchor {
    page: usize,
    top: f32,
}

/// A table's cells, each wrapped to its column.
type Cells = Vec<(Weight, Vec<String>)>;

struct Layout<'f> {
    fonts: &'f Fonts<'f>,
    width: f32,
    height: f32,
    /// Finished pages; the one being filled is `current`.
    pages: Vec<Vec<Mark>>,
    current: Vec<Mark>,
    /// Baseline of the next line, from the bottom.
    y: f32,
    /// One per level 1 and 2 heading, in order.
    anchors: Vec<Anchor>,
    contents: Vec<ContentsLine>,
}

impl<'f> Layout<'f> {
    fn new(fonts: &'f Fonts<'f>, landscape: bool) -> Self {
        let (width, height) = if landscape {
            (PAGE_H, PAGE_W)
        } else {
            (PAGE_W, PAGE_H)
        };
        Layout {
            fonts,
            width,
            height,
            pages: Vec::new(),
            current: Vec::new(),
            y: height - MARGIN,
            anchors: Vec::new(),
            contents: Vec::new(),
        }
    }

    /// The number (from 1) of the page being filled.
    fn page_number(&self) -> usize {
        self.pages.len() + 1
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

    /// Nothing is on the page being filled yet.
    fn fresh(&self) -> bool {
        self.y >= self.top() - 0.5
    }

    fn new_page(&mut self) {
        self.pages.push(std::mem::take(&mut self.current));
        self.y = self.top();
    }

    /// Makes room for `height` below the current line, starting a page when needed.
    fn room(&mut self, height: f32) {
        if self.y - height < self.bottom() && !self.fresh() {
            self.new_page();
        }
    }

    fn text(&mut self, weight: Weight, size: f32, x: f32, y: f32, text: String) {
        if !text.is_empty() {
            self.current.push(Mark::Text {
                weight,
                size,
                x,
                y,
                text,
            });
        }
    }

    fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32) {
        self.current.push(Mark::Line { x1, y1, x2, y2 });
    }

    fn paragraph(&mut self, weight: Weight, size: f32, text: &str) {
        let leading = size * 1.35;
        for line in self.fonts.wrap(weight, size, text, self.text_width()) {
            self.room(leading);
            self.y -= leading;
            self.text(weight, size, MARGIN, self.y, line);
        }
        self.y -= size * 0.6;
    }

    fn heading(&mut self, level: u8, text: &str) {
        let size = match level {
            0 | 1 => 15.0,
            2 => 12.5,
            _ => 11.0,
        };
        // Keep a heading with a few lines of what follows it.
        self.room(size * 1.6 + 4.0 * BODY * 1.35);
        self.y -= size * 0.5;
        if level <= 2 {
            self.anchors.push(Anchor {
                page: self.page_number(),
                top: self.y,
            });
        }
        self.paragraph(Weight::Bold, size, text);
    }

    /// The entries' text, wrapped short of the page numbers to come.
    fn contents(&mut self, headings: &[(u8, String)]) {
        self.paragraph(Weight::Bold, 15.0, "Contents");
        let leading = BODY * 1.4;
        let number_room = self.fonts.width(Weight::Regular, BODY, "0000") + 16.0;
        for (heading, (level, title)) in headings.iter().enumerate() {
            let (weight, x) = if *level <= 1 {
                (Weight::Bold, MARGIN)
            } else {
                (Weight::Regular, MARGIN + 14.0)
            };
            let width = MARGIN + self.text_width() - x - number_room;
            let mut end = x;
            for line in self.fonts.wrap(weight, BODY, title, width) {
                self.room(leading);
                self.y -= leading;
                end = x + self.fonts.width(weight, BODY, &line);
                self.text(weight, BODY, x, self.y, line);
            }
            self.contents.push(ContentsLine {
                heading,
                page: self.page_number(),
                y: self.y,
                end,
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
        // A width or a heading missing from either list still gets its column.
        let columns = widths.len().max(header.map_or(0, <[String]>::len)).max(1);
        let widths: Vec<f32> = (0..columns)
            .map(|n| f32::from(widths.get(n).copied().unwrap_or(1).max(1)))
            .collect();
        let total: f32 = widths.iter().sum();
        let column_widths: Vec<f32> = widths
            .iter()
            .map(|w| w / total * self.text_width())
            .collect();
        let leading = SMALL * 1.3;
        let wrap_row = |cells: &[String], bold_first: bool, all_bold: bool| -> Cells {
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
        let header = header.map(|h| wrap_row(h, false, true));
        let header_height = header.as_ref().map_or(0.0, |cells| {
            line_count(cells) as f32 * leading + 2.0 * CELL_PAD
        });
        let page_room = self.top() - self.bottom() - header_height - 2.0 * CELL_PAD;
        // Whether the page being filled shows the header yet.
        let mut headed = false;
        let draw_header = |layout: &mut Self, headed: &mut bool| {
            if let Some(cells) = header.as_ref().filter(|_| !*headed) {
                layout.draw_row(cells, 0, usize::MAX, &column_widths, leading, true);
            }
            *headed = true;
        };
        if rows.is_empty() {
            self.room(header_height);
            draw_header(self, &mut headed);
        }
        for row in rows {
            let cells = wrap_row(row, label_bold, false);
            let lines = line_count(&cells);
            let mut from = 0;
            while from < lines {
                let header_cost = if headed { 0.0 } else { header_height };
                let room = self.y - self.bottom() - header_cost - 2.0 * CELL_PAD;
                let fit = ((room / leading).floor().max(0.0) as usize).min(lines - from);
                let fits_a_page = (lines - from) as f32 * leading <= page_room;
                if fit < lines - from && !self.fresh() && (fit == 0 || fits_a_page) {
                    self.new_page();
                    headed = false;
                    continue;
                }
                draw_header(self, &mut headed);
                // At least a line, so that even a page too small for one still moves on.
                let to = from + fit.max(1);
                self.draw_row(&cells, from, to, &column_widths, leading, false);
                from = to;
                if from < lines {
                    self.new_page();
                    headed = false;
                }
            }
        }
        self.y -= BODY * 0.8;
    }

    /// Draws lines `from..to` of a row's cells with their borders; moves down past them.
    fn draw_row(
        &mut self,
        cells: &Cells,
        from: usize,
        to: usize,
        widths: &[f32],
        leading: f32,
        shaded: bool,
    ) {
        let count = cells
            .iter()
            .map(|(_, lines)| lines.len().min(to).saturating_sub(from))
            .max()
            .unwrap_or(0)
            .max(1);
        let height = count as f32 * leading + 2.0 * CELL_PAD;
        let top = self.y;
        let right = MARGIN + widths.iter().sum::<f32>();
        if shaded {
            self.current.push(Mark::Shade {
                x: MARGIN,
                y: top - height,
                width: right - MARGIN,
                height,
            });
        }
        let mut x = MARGIN;
        for ((weight, lines), width) in cells.iter().zip(widths) {
            let mut y = top - CELL_PAD;
            for line in lines.iter().skip(from).take(to.saturating_sub(from)) {
                y -= leading;
                self.text(*weight, SMALL, x + CELL_PAD, y + SMALL * 0.25, line.clone());
            }
            self.line(x, top, x, top - height);
            x += width;
        }
        self.line(right, top, right, top - height);
        self.line(MARGIN, top, right, top);
        self.line(MARGIN, top - height, right, top - height);
        self.y = top - height;
    }
}

fn line_count(cells: &Cells) -> usize {
    cells.iter().map(|(_, l)| l.len()).max().unwrap_or(1).max(1)
}

/// The level 1 and 2 headings, as the contents and the bookmarks list them.
fn headings(document: &Document) -> Vec<(u8, String)> {
    document
        .blocks
        .iter()
        .filter_map(|b| match b {
            Block::Heading { level, text } if *level <= 2 => Some((*level, text.clone())),
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
    let headings = headings(document);
    let mut layout = Layout::new(&fonts, document.landscape);
    layout.paragraph(Weight::Bold, 22.0, &document.title);
    if !document.subtitle.is_empty() {
        layout.paragraph(Weight::Regular, 12.0, &document.subtitle);
    }
    layout.y -= BODY;
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
            Block::Contents => layout.contents(&headings),
            Block::PageBreak => {
                if !layout.fresh() {
                    layout.new_page();
                }
            }
        }
    }
    let Layout {
        width,
        height,
        mut pages,
        current,
        anchors,
        contents,
        ..
    } = layout;
    pages.push(current);

    // The contents' page numbers, with dot leaders, now that every heading has a page.
    let right = width - MARGIN;
    let dot = fonts.width(Weight::Regular, BODY, " .");
    for line in contents {
        let (Some(anchor), Some(marks)) = (
            anchors.get(line.heading),
            pages.get_mut(line.page.saturating_sub(1)),
        ) else {
            continue;
        };
        let number = anchor.page.to_string();
        let x = right - fonts.width(Weight::Regular, BODY, &number);
        let dots = ((x - line.end - 6.0) / dot).floor().max(0.0) as usize;
        for (x, text) in [
            (x - 3.0 - dots as f32 * dot, " .".repeat(dots)),
            (x, number),
        ] {
            marks.push(Mark::Text {
                weight: Weight::Regular,
                size: BODY,
                x,
                y: line.y,
                text,
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
    let bookmarks: Vec<Bookmark<'_>> = headings
        .iter()
        .zip(&anchors)
        .map(|((level, title), anchor)| Bookmark {
            level: *level,
            title,
            anchor: *anchor,
        })
        .collect();
    write(document, &fonts, &pages, &bookmarks, width, height)
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

struct Bookmark<'a> {
    level: u8,
    title: &'a str,
    anchor: Anchor,
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
    bookmarks: &[Bookmark<'_>],
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
        // Square caps close the corners where a cell's borders meet.
        content.set_line_cap(LineCapStyle::ProjectingSquareCap);
        content.set_stroke_gray(0.55);
        for mark in marks {
            match mark {
                Mark::Text { text, .. } if text.is_empty() => {}
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
                        let (old, shown) = fonts.glyph(*weight, c);
                        let new = font.remapper.remap(old);
                        font.chars.entry(new).or_insert(shown);
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
                Mark::Shade {
                    x,
                    y,
                    width,
                    height,
                } => {
                    content.set_fill_gray(0.91);
                    content.rect(*x, *y, *width, *height);
                    content.fill_nonzero();
                    content.set_fill_gray(0.0);
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
        let (data, base) = match weight {
            Weight::Regular => (REGULAR, "RMPRTA+DejaVuSans"),
            Weight::Bold => (BOLD, "RMPRTB+DejaVuSans-Bold"),
        };
        let subset =
            subsetter::subset(data, 0, &font.remapper).map_err(|e| fail(format!("{e:?}")))?;
        let cid_id = alloc();
        let descriptor_id = alloc();
        let file_id = alloc();
        let cmap_id = alloc();
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
        // In new-id order: the CIDs the content streams show, which the subset's glyph ids
        // are (CIDToGIDMap Identity).
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

    let outline_id = outline(&mut pdf, &mut alloc, bookmarks, &page_ids);
    pdf.pages(tree_id)
        .kids(page_ids.iter().copied())
        .count(i32::try_from(page_ids.len()).unwrap_or(i32::MAX));
    let mut catalog = pdf.catalog(catalog_id);
    catalog.pages(tree_id);
    if let Some(outline_id) = outline_id {
        catalog
            .outlines(outline_id)
            .page_mode(PageMode::UseOutlines);
    }
    catalog.viewer_preferences().display_doc_title(true);
    catalog.finish();
    pdf.document_info(info_id)
        .title(TextStr(&document.title))
        .producer(TextStr("Rampart"));
    Ok(pdf.finish())
}

/// Bookmarks for the headings: level 1 at the top, each level 2 under the level 1 before
/// it (closed, so a long list of requirements stays one line until opened).
fn outline(
    pdf: &mut Pdf,
    alloc: &mut impl FnMut() -> Ref,
    bookmarks: &[Bookmark<'_>],
    page_ids: &[Ref],
) -> Option<Ref> {
    if bookmarks.is_empty() {
        return None;
    }
    let mut tops: Vec<(usize, Vec<usize>)> = Vec::new();
    for (n, bookmark) in bookmarks.iter().enumerate() {
        match tops.last_mut() {
            Some((_, children)) if bookmark.level == 2 => children.push(n),
            _ => tops.push((n, Vec::new())),
        }
    }
    let root = alloc();
    let ids: Vec<Ref> = bookmarks.iter().map(|_| alloc()).collect();
    let id = |n: Option<&usize>| n.and_then(|n| ids.get(*n)).copied();
    let mut item =
        |n: usize, parent: Ref, prev: Option<Ref>, next: Option<Ref>, children: &[usize]| {
            let (Some(own), Some(bookmark)) = (ids.get(n), bookmarks.get(n)) else {
                return;
            };
            let Some(page) = page_ids.get(bookmark.anchor.page.saturating_sub(1)) else {
                return;
            };
            let mut entry = pdf.outline_item(*own);
            entry.title(TextStr(bookmark.title)).parent(parent);
            if let Some(prev) = prev {
                entry.prev(prev);
            }
            if let Some(next) = next {
                entry.next(next);
            }
            if let (Some(first), Some(last)) = (id(children.first()), id(children.last())) {
                let count = i32::try_from(children.len()).unwrap_or(i32::MAX);
                entry.first(first).last(last).count(-count);
            }
            entry.dest().page(*page).xyz(0.0, bookmark.anchor.top, None);
        };
    for (t, (top, children)) in tops.iter().enumerate() {
        let prev = t.checked_sub(1).and_then(|p| tops.get(p)).map(|p| &p.0);
        item(
            *top,
            root,
            id(prev),
            id(tops.get(t + 1).map(|n| &n.0)),
            children,
        );
        let Some(parent) = id(Some(top)) else {
            continue;
        };
        for (c, child) in children.iter().enumerate() {
            let prev = c.checked_sub(1).and_then(|p| children.get(p));
            item(*child, parent, id(prev), id(children.get(c + 1)), &[]);
        }
    }
    let (first, last) = (
        id(tops.first().map(|t| &t.0)),
        id(tops.last().map(|t| &t.0)),
    );
    let (Some(first), Some(last)) = (first, last) else {
        return None;
    };
    pdf.outline(root)
        .first(first)
        .last(last)
        .count(i32::try_from(tops.len()).unwrap_or(i32::MAX));
    Some(root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::process::Command;

    fn sample(landscape: bool) -> Document {
        let mut blocks = vec![
            Block::Paragraph("Introduction.".into()),
            Block::Contents,
            Block::PageBreak,
        ];
        for n in 1..=3 {
            blocks.push(Block::Heading {
                level: 1,
                text: format!("Section {n} — café"),
            });
            blocks.push(Block::Paragraph(
                "Lorem ipsum dolor sit amet. ".repeat(40) + "\nA second line\twith a tab.",
            ));
            blocks.push(Block::Heading {
                level: 2,
                text: format!("Part {n}.1 of a section whose heading is long enough to wrap onto a second line in the contents"),
            });
            blocks.push(Block::Fields(vec![
                ("Status".into(), "Met".into()),
                ("Implementation".into(), "Line one\nLine two".into()),
            ]));
            blocks.push(Block::Heading {
                level: 3,
                text: format!("Detail {n}"),
            });
        }
        blocks.push(Block::Heading {
            level: 1,
            text: "Objectives".into(),
        });
        blocks.push(Block::Table {
            header: vec!["Identifier".into(), "Text".into(), "Status".into()],
            widths: vec![1, 4, 1],
            rows: (0..200)
                .map(|n| {
                    // One row taller than a page, split across pages.
                    let words = if n == 100 { 900 } else { n % 7 + 1 };
                    vec![
                        format!("row {n}"),
                        "cell text that wraps ".repeat(words),
                        "Met".into(),
                    ]
                })
                .collect(),
        });
        blocks.push(Block::Paragraph(
            "A glyph the font lacks: 中; a bell: \u{7}.".into(),
        ));
        blocks.push(Block::PageBreak);
        blocks.push(Block::PageBreak);
        blocks.push(Block::Heading {
            level: 1,
            text: "The end".into(),
        });
        Document {
            title: "System Security Plan".into(),
            subtitle: "Acme — 2026".into(),
            marking: Some("CUI".into()),
            landscape,
            blocks,
        }
    }

    /// The text of each page, if pdftotext is installed.
    fn pdftotext(bytes: &[u8]) -> Option<Vec<String>> {
        let tool = Path::new("/usr/bin/pdftotext");
        if !tool.exists() {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sample.pdf");
        std::fs::write(&path, bytes).unwrap();
        let out = Command::new(tool).arg(&path).arg("-").output().unwrap();
        assert!(out.status.success() && out.stderr.is_empty(), "{out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        Some(text.split('\u{c}').map(str::to_owned).collect())
    }

    #[test]
    fn renders_a_small_pdf_whose_text_extracts() {
        let bytes = render(&sample(false)).unwrap();
        assert!(bytes.starts_with(b"%PDF-"));
        assert!(bytes.trim_ascii_end().ends_with(b"%%EOF"));
        assert!(bytes.len() < 400_000, "{} bytes", bytes.len());
        assert_eq!(bytes, render(&sample(false)).unwrap(), "deterministic");
        let raw = String::from_utf8_lossy(&bytes);
        assert!(raw.contains("/Type /Outlines") && raw.contains("/ToUnicode"));
        let Some(pages) = pdftotext(&bytes) else {
            return;
        };
        let text = pages.concat();
        for expected in [
            "System Security Plan",
            "Section 2 — café",
            "Page 1 of",
            "CUI",
            "row 199",
            "Contents",
            "A second line with a tab.",
            "A glyph the font lacks: ?; a bell: .",
        ] {
            assert!(text.contains(expected), "{expected:?} not in the text");
        }
        // Every page of the table starts with its header.
        for page in pages.iter().filter(|p| p.contains("cell text")) {
            assert!(page.contains("Identifier"), "no header on {page}");
        }
        // The contents send each heading to its page.
        let contents = pages.first().unwrap();
        for title in ["Section 3 — café", "Objectives", "The end"] {
            let entry = contents.lines().find(|l| l.starts_with(title)).unwrap();
            let page: usize = entry.split(' ').next_back().unwrap().parse().unwrap();
            let lines = pages.get(page - 1).unwrap().lines();
            assert!(
                lines.clone().any(|l| l == title),
                "{title} not on page {page}"
            );
        }
        let last = pages.iter().rfind(|p| !p.trim().is_empty()).unwrap();
        assert!(
            last.contains("The end") && last.contains(&format!("Page {0} of {0}", pages.len() - 1))
        );
    }

    #[test]
    fn landscape_pages_render() {
        let bytes = render(&sample(true)).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("/MediaBox [0 0 792 612]"));
        let tool = Path::new("/usr/bin/pdftoppm");
        if !tool.exists() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sample.pdf");
        std::fs::write(&path, &bytes).unwrap();
        let out = Command::new(tool)
            .args(["-r", "50", "-png", "-f", "1", "-l", "3"])
            .arg(&path)
            .arg(dir.path().join("page"))
            .output()
            .unwrap();
        assert!(out.status.success() && out.stderr.is_empty(), "{out:?}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 4);
    }

    #[test]
    fn wrapping_keeps_every_word_within_the_width() {
        let fonts = Fonts {
            regular: Face::parse(REGULAR, 0).unwrap(),
            bold: Face::parse(BOLD, 0).unwrap(),
        };
        let text = "a few words and an unbreakablewordthatislongerthantheline\nnext";
        let lines = fonts.wrap(Weight::Regular, BODY, text, 80.0);
        assert!(
            lines
                .iter()
                .all(|l| fonts.width(Weight::Regular, BODY, l) <= 80.0)
        );
        assert_eq!(
            lines.concat().replace(' ', ""),
            text.replace([' ', '\n'], "")
        );
        assert_eq!(lines.last().map(String::as_str), Some("next"));
    }
}
