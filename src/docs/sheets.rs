//! Spreadsheets: an assessment's objectives as XLSX or CSV (and back), the POA&M and the
//! gap report as tables assessors ask for.
//!
//! Reading is defensive: the file comes from a person's desktop. Cells with formulas are
//! refused (their value is whatever the last program to save them computed); a workbook
//! that unpacks to more than [`MAX_UNPACKED_BYTES`] or holds more than [`MAX_ROWS`] rows
//! is refused before it is read whole; every error names the sheet, row and column.

use std::collections::BTreeSet;
use std::io::{Cursor, Read, Seek};

use rust_xlsxwriter::{Format as CellFormat, Workbook};

use super::snapshot::Snapshot;
use super::{DocsError, invalid};
use crate::scoring::Status;

/// Largest spreadsheet accepted for import.
pub const MAX_IMPORT_BYTES: usize = 16 * 1024 * 1024;
/// Largest total of a workbook's parts once unpacked: a few thousand rows need a few MB;
/// more is a mistake or a decompression bomb.
const MAX_UNPACKED_BYTES: u64 = 64 * 1024 * 1024;
/// More rows than any catalog has objectives.
pub const MAX_ROWS: usize = 10_000;
/// The objectives sheet of an exported workbook, and the only one an import reads.
pub const OBJECTIVES_SHEET: &str = "Objectives";
/// The columns of an objectives export, in order; an import wants exactly these.
pub const OBJECTIVE_COLUMNS: [&str; 6] = ["id", "requirement", "text", "status", "note", "owner"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xlsx,
    Csv,
}

impl Format {
    pub fn parse(text: &str) -> Option<Format> {
        match text {
            "xlsx" => Some(Format::Xlsx),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Xlsx => "xlsx",
            Format::Csv => "csv",
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }
}

/// A table to write: a sheet name, its columns with widths (in characters) and rows.
pub struct Table {
    pub sheet: &'static str,
    pub columns: Vec<(&'static str, u16)>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn render(&self, format: Format) -> Result<Vec<u8>, DocsError> {
        match format {
            Format::Xlsx => self.xlsx(),
            Format::Csv => self.csv(),
        }
    }

    fn xlsx(&self) -> Result<Vec<u8>, DocsError> {
        let fail = |err: rust_xlsxwriter::XlsxError| DocsError::Render {
            format: "XLSX",
            message: err.to_string(),
        };
        let mut workbook = Workbook::new();
        let sheet = workbook.add_worksheet();
        sheet.set_name(self.sheet).map_err(fail)?;
        let bold = CellFormat::new().set_bold();
        let wrap = CellFormat::new().set_text_wrap();
        for (col, (name, width)) in (0u16..).zip(&self.columns) {
            sheet
                .write_string_with_format(0, col, *name, &bold)
                .map_err(fail)?;
            sheet.set_column_width(col, *width).map_err(fail)?;
        }
        for (row, cells) in (1u32..).zip(&self.rows) {
            for (col, cell) in (0u16..).zip(cells) {
                // Strings stay strings: a note that starts with `=` is never a formula.
                sheet
                    .write_string_with_format(row, col, clean_cell(cell), &wrap)
                    .map_err(fail)?;
            }
        }
        sheet.set_freeze_panes(1, 0).map_err(fail)?;
        let last_row = u32::try_from(self.rows.len()).unwrap_or(u32::MAX);
        let last_col = u16::try_from(self.columns.len().saturating_sub(1)).unwrap_or(0);
        sheet.autofilter(0, 0, last_row, last_col).map_err(fail)?;
        workbook.save_to_buffer().map_err(fail)
    }

    fn csv(&self) -> Result<Vec<u8>, DocsError> {
        let fail = |err: csv::Error| DocsError::Render {
            format: "CSV",
            message: err.to_string(),
        };
        // Every field quoted: a reader that splits on another separator (`;` in many
        // locales) then sees one cell where an unquoted one could be cut in two.
        let mut writer = csv::WriterBuilder::new()
            .quote_style(csv::QuoteStyle::Always)
            .from_writer(Vec::new());
        writer
            .write_record(self.columns.iter().map(|(name, _)| *name))
            .map_err(fail)?;
        for row in &self.rows {
            writer
                .write_record(row.iter().map(|cell| guard_csv(cell)))
                .map_err(fail)?;
        }
        writer.into_inner().map_err(|err| DocsError::Render {
            format: "CSV",
            message: err.to_string(),
        })
    }
}

/// XLSX cells cannot hold most control characters; notes never contain them (they are
/// refused on input), so this only guards against data from older versions.
fn clean_cell(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect()
}

/// What a spreadsheet program may run as a formula when a cell starts with it, and `'`,
/// the mark that keeps such a cell text (guarded too, so that guarding can be undone).
const FORMULA_STARTS: [char; 7] = ['=', '+', '-', '@', '\t', '\r', '\''];
/// Where a reader may start a new cell: its own separator, whichever the locale makes it,
/// or a line break.
const SEPARATORS: [char; 6] = [',', ';', '\t', '|', '\n', '\r'];

/// Spreadsheet programs run a cell that starts with `=`, `+`, `-` or `@` as a formula (CSV
/// injection). A reader that splits cells on another separator than ours starts a cell
/// after any of [`SEPARATORS`], so a formula start is guarded there too: a `'` goes before
/// it, which they show as text and [`unguard_csv`] removes on import.
fn guard_csv(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 1);
    let mut cell_start = true;
    for c in text.chars() {
        if cell_start && FORMULA_STARTS.contains(&c) {
            out.push('\'');
        }
        out.push(c);
        cell_start = SEPARATORS.contains(&c);
    }
    out
}

/// Undoes [`guard_csv`]: a `'` at a cell start is dropped when a formula start follows.
fn unguard_csv(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut cell_start = true;
    while let Some(c) = chars.next() {
        let guard =
            cell_start && c == '\'' && chars.peek().is_some_and(|n| FORMULA_STARTS.contains(n));
        if guard {
            // The guarded character itself is text, whatever it is.
            if let Some(next) = chars.next() {
                out.push(next);
                cell_start = SEPARATORS.contains(&next);
            }
            continue;
        }
        out.push(c);
        cell_start = SEPARATORS.contains(&c);
    }
    out
}

/// A CSV cell a spreadsheet program would run as a formula: refused on import, as an XLSX
/// formula cell is. Our own exports guard such cells with `'`, so they come back as text.
fn formula_in_csv(raw: &str) -> bool {
    raw.starts_with(['=', '+', '-', '@'])
}

/// One row per objective, in catalog order: what an assessor fills in.
pub fn objectives(snapshot: &Snapshot) -> Table {
    let records = &snapshot.records;
    let mut rows = Vec::new();
    for requirement in records.catalog.current_requirements() {
        let owner = records
            .details
            .get(&requirement.id)
            .map(|d| {
                d.responsible
                    .iter()
                    .map(|a| snapshot.person(a))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default();
        for objective in &requirement.objectives {
            let decided = records.decided.get(&objective.id);
            rows.push(vec![
                objective.id.clone(),
                requirement.label.clone(),
                objective.text.clone(),
                decided
                    .map_or(Status::NotAssessed, |d| d.status)
                    .as_str()
                    .to_owned(),
                decided.map(|d| d.note.clone()).unwrap_or_default(),
                owner.clone(),
            ]);
        }
    }
    let widths = [16, 16, 60, 16, 50, 30];
    Table {
        sheet: OBJECTIVES_SHEET,
        columns: OBJECTIVE_COLUMNS.into_iter().zip(widths).collect(),
        rows,
    }
}

/// The POA&M in the column layout assessors and primes ask for: one row per unmet
/// requirement, planned or not.
pub fn poam(snapshot: &Snapshot) -> Table {
    let records = &snapshot.records;
    let mut rows = Vec::new();
    for (n, gap) in snapshot.gaps.unmet.iter().enumerate() {
        let item = records
            .poam
            .iter()
            .find(|i| i.requirement == gap.requirement);
        let milestones = item
            .map(|i| {
                i.milestones
                    .iter()
                    .map(|m| match &m.done_on {
                        Some(done) => format!("{} (due {}, done {done})", m.title, m.due),
                        None => format!("{} (due {})", m.title, m.due),
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default();
        let completion = item
            .and_then(|i| i.milestones.iter().map(|m| m.due.clone()).max())
            .unwrap_or_default();
        rows.push(vec![
            (n + 1).to_string(),
            gap.label.clone(),
            gap.title.clone(),
            item.map(|i| i.weakness.clone()).unwrap_or_default(),
            gap.points.map(|p| p.to_string()).unwrap_or_default(),
            match gap.eligible {
                Some(true) => "yes".to_owned(),
                Some(false) => "no".to_owned(),
                None => String::new(),
            },
            gap.why.clone().unwrap_or_default(),
            item.map(|i| {
                i.responsible
                    .iter()
                    .map(|a| snapshot.person(a))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default(),
            item.map(|i| i.resources.clone()).unwrap_or_default(),
            item.map(|i| i.remediation.clone()).unwrap_or_default(),
            milestones,
            completion,
            item.map_or("not planned", |i| i.status.as_str()).to_owned(),
            item.map(|i| i.closing_evidence.clone()).unwrap_or_default(),
        ]);
    }
    Table {
        sheet: "POA&M",
        columns: vec![
            ("Item", 6),
            ("Requirement", 16),
            ("Title", 30),
            ("Weakness or deficiency", 40),
            ("Points", 8),
            ("POA&M eligible", 10),
            ("Eligibility", 40),
            ("Point of contact", 30),
            ("Resources required", 30),
            ("Planned remediation", 40),
            ("Milestones", 40),
            ("Scheduled completion", 14),
            ("Status", 12),
            ("Closing evidence", 30),
        ],
        rows,
    }
}

/// The gap report: unmet requirements by points, and the fixes that reach each status.
pub fn gaps(snapshot: &Snapshot) -> Table {
    let gaps = &snapshot.gaps;
    let in_plan = |plan: &Option<crate::assess::GapPlan>, id: &str| {
        plan.as_ref()
            .is_some_and(|p| p.fixes.iter().any(|f| f == id))
    };
    let rows = gaps
        .unmet
        .iter()
        .map(|gap| {
            vec![
                gap.label.clone(),
                gap.title.clone(),
                gap.status.as_str().to_owned(),
                gap.points.map(|p| p.to_string()).unwrap_or_default(),
                match gap.eligible {
                    Some(true) => "yes".to_owned(),
                    Some(false) => "no".to_owned(),
                    None => String::new(),
                },
                gap.poam.map_or("none", |p| p.as_str()).to_owned(),
                yes_no(in_plan(&gaps.to_conditional, &gap.requirement)),
                yes_no(in_plan(&gaps.to_final, &gap.requirement)),
            ]
        })
        .collect();
    Table {
        sheet: "Gaps",
        columns: vec![
            ("Requirement", 16),
            ("Title", 40),
            ("Status", 14),
            ("Points", 8),
            ("POA&M eligible", 10),
            ("POA&M", 10),
            ("Fix for conditional status", 14),
            ("Fix for final status", 14),
        ],
        rows,
    }
}

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_owned()
}

/// One objective row read from an import, with where it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    /// `Objectives!A7` or `row 7` (CSV): where the row's id is, for messages.
    pub place: String,
    pub objective: String,
    pub status: Status,
    pub note: String,
}

/// Reads an objectives export (XLSX by its zip signature, CSV otherwise). Rows are checked
/// for shape, status values and duplicates here; ids against the catalog by the caller.
pub fn read_objectives(bytes: &[u8]) -> Result<Vec<ImportRow>, DocsError> {
    if bytes.len() > MAX_IMPORT_BYTES {
        return Err(invalid(
            "file",
            format!(
                "the file is {} bytes; a spreadsheet import may be at most {MAX_IMPORT_BYTES}",
                bytes.len()
            ),
        ));
    }
    let cells = if bytes.starts_with(b"PK\x03\x04") {
        xlsx_rows(bytes)?
    } else {
        csv_rows(bytes)?
    };
    rows_of(cells)
}

/// A row of cells and how to name a cell of it.
struct RawRow {
    /// 1-based, as spreadsheet programs number rows.
    number: usize,
    cells: Vec<String>,
    xlsx: bool,
}

impl RawRow {
    fn place(&self, column: usize) -> String {
        if self.xlsx {
            format!(
                "{OBJECTIVES_SHEET}!{}{}",
                column_letter(column),
                self.number
            )
        } else {
            let name = OBJECTIVE_COLUMNS.get(column).copied().unwrap_or("?");
            format!("row {}, column {name}", self.number)
        }
    }

    fn cell(&self, column: usize) -> &str {
        self.cells.get(column).map_or("", |c| c.trim())
    }
}

fn column_letter(column: usize) -> String {
    let mut n = column + 1;
    let mut out = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        out.push(char::from(b'A' + u8::try_from(rem).unwrap_or(0)));
        n = (n - 1) / 26;
    }
    out.iter().rev().collect()
}

fn rows_of(rows: Vec<RawRow>) -> Result<Vec<ImportRow>, DocsError> {
    let mut rows = rows.into_iter();
    let header = rows.next().ok_or_else(|| {
        invalid(
            "file",
            "the file is empty; export the assessment to start from",
        )
    })?;
    for (n, expected) in OBJECTIVE_COLUMNS.iter().enumerate() {
        let got = header.cell(n);
        if !got.eq_ignore_ascii_case(expected) {
            return Err(invalid(
                header.place(n),
                format!(
                    "the first row must name the columns {}; this column says {got:?} where {expected:?} belongs",
                    OBJECTIVE_COLUMNS.join(", ")
                ),
            ));
        }
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for row in rows {
        if row.cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let objective = row.cell(0);
        if objective.is_empty() {
            return Err(invalid(row.place(0), "the objective id is missing"));
        }
        if !seen.insert(objective.to_owned()) {
            return Err(invalid(
                row.place(0),
                format!("objective {objective} is listed more than once"),
            ));
        }
        let status = parse_status(row.cell(3)).ok_or_else(|| {
            invalid(
                row.place(3),
                format!(
                    "status {:?} is not one of met, not_met, not_applicable, not_assessed",
                    row.cell(3)
                ),
            )
        })?;
        out.push(ImportRow {
            place: row.place(0),
            objective: objective.to_owned(),
            status,
            note: crate::assess::clean_note(&row.place(4), row.cell(4))?,
        });
    }
    Ok(out)
}

fn parse_status(text: &str) -> Option<Status> {
    let key = text.trim().to_ascii_lowercase().replace([' ', '-'], "_");
    match key.as_str() {
        "met" => Some(Status::Met),
        "not_met" => Some(Status::NotMet),
        "not_applicable" | "n/a" | "na" => Some(Status::NotApplicable),
        "not_assessed" | "" => Some(Status::NotAssessed),
        _ => None,
    }
}

fn csv_rows(bytes: &[u8]) -> Result<Vec<RawRow>, DocsError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut out = Vec::new();
    for (n, record) in reader.byte_records().enumerate() {
        let number = n + 1;
        if number > MAX_ROWS + 1 {
            return Err(invalid(
                format!("row {number}"),
                format!(
                    "the file has more than {MAX_ROWS} rows; no assessment has that many objectives"
                ),
            ));
        }
        let record = record.map_err(|err| {
            invalid(
                format!("row {number}"),
                format!("not readable as CSV: {err}"),
            )
        })?;
        let mut cells = Vec::with_capacity(record.len());
        for (column, field) in record.iter().enumerate() {
            let text = std::str::from_utf8(field).map_err(|_| {
                let name = OBJECTIVE_COLUMNS.get(column).copied().unwrap_or("?");
                invalid(
                    format!("row {number}, column {name}"),
                    "this cell is not UTF-8 text; save the file as \"CSV UTF-8\"",
                )
            })?;
            if formula_in_csv(text) {
                let name = OBJECTIVE_COLUMNS.get(column).copied().unwrap_or("?");
                return Err(invalid(
                    format!("row {number}, column {name}"),
                    "this cell starts like a formula (=, +, - or @), which spreadsheets run; \
                     put a ' before it to keep it as text",
                ));
            }
            cells.push(unguard_csv(text));
        }
        out.push(RawRow {
            number,
            cells,
            xlsx: false,
        });
    }
    Ok(out)
}

/// Checks the unpacked size from the zip's central directory, which holds every part's
/// size whatever the local headers say, before any part is inflated.
fn check_unpacked<R: Read + Seek>(reader: R) -> Result<(), DocsError> {
    let unreadable = |err: zip::result::ZipError| {
        invalid("file", format!("not a readable XLSX workbook: {err}"))
    };
    let mut archive = zip::ZipArchive::new(reader).map_err(unreadable)?;
    let mut total = 0u64;
    for index in 0..archive.len() {
        total = total.saturating_add(archive.by_index_raw(index).map_err(unreadable)?.size());
    }
    if total > MAX_UNPACKED_BYTES {
        return Err(invalid(
            "file",
            format!(
                "the workbook unpacks to more than {} MB: far more rows than any assessment has objectives",
                MAX_UNPACKED_BYTES / 1024 / 1024
            ),
        ));
    }
    Ok(())
}

fn xlsx_rows(bytes: &[u8]) -> Result<Vec<RawRow>, DocsError> {
    use calamine::{DataRef, Reader, Xlsx};

    check_unpacked(Cursor::new(bytes))?;
    let unreadable =
        |err: calamine::XlsxError| invalid("file", format!("not a readable XLSX workbook: {err}"));
    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(unreadable)?;
    let sheets = workbook.sheet_names();
    if !sheets.iter().any(|s| s == OBJECTIVES_SHEET) {
        return Err(invalid(
            "file",
            format!(
                "the workbook has no sheet named {OBJECTIVES_SHEET} (it has {}); export the assessment to start from",
                sheets.join(", ")
            ),
        ));
    }
    let mut reader = workbook
        .worksheet_cells_reader(OBJECTIVES_SHEET)
        .map_err(unreadable)?;
    let mut rows: Vec<RawRow> = Vec::new();
    while let Some(cell) = reader.next_cell_with_formula().map_err(unreadable)? {
        let (row, column) = cell.pos;
        let number = usize::try_from(row).unwrap_or(usize::MAX).saturating_add(1);
        let column = usize::try_from(column).unwrap_or(usize::MAX);
        let place = format!("{OBJECTIVES_SHEET}!{}{number}", column_letter(column));
        if number > MAX_ROWS + 1 {
            return Err(invalid(
                place,
                format!(
                    "the sheet has more than {MAX_ROWS} rows; no assessment has that many objectives"
                ),
            ));
        }
        if column >= OBJECTIVE_COLUMNS.len() {
            if cell.value != DataRef::Empty || cell.formula.is_some() {
                return Err(invalid(
                    place,
                    format!(
                        "the sheet has more columns than {}; remove the extra ones",
                        OBJECTIVE_COLUMNS.join(", ")
                    ),
                ));
            }
            continue;
        }
        if cell.formula.is_some() {
            return Err(invalid(
                place,
                "this cell holds a formula; enter its value as text instead",
            ));
        }
        let text = match cell.value {
            DataRef::String(s) => s,
            DataRef::SharedString(s) => s.to_owned(),
            DataRef::Empty => String::new(),
            DataRef::Int(n) => n.to_string(),
            DataRef::Float(f) => f.to_string(),
            DataRef::Bool(b) => b.to_string(),
            DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s,
            DataRef::DateTime(d) => d.to_string(),
            DataRef::Error(e) => {
                return Err(invalid(place, format!("this cell holds an error ({e})")));
            }
        };
        if rows.last().is_none_or(|r| r.number != number) {
            rows.push(RawRow {
                number,
                cells: vec![String::new(); OBJECTIVE_COLUMNS.len()],
                xlsx: true,
            });
        }
        if let Some(slot) = rows.last_mut().and_then(|r| r.cells.get_mut(column)) {
            *slot = text;
        }
    }
    // Rows before the first cell seen are empty; the header must be row 1.
    if rows.first().is_some_and(|r| r.number != 1) {
        return Err(invalid(
            format!("{OBJECTIVES_SHEET}!A1"),
            format!(
                "the first row must name the columns {}",
                OBJECTIVE_COLUMNS.join(", ")
            ),
        ));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: Vec<Vec<&str>>) -> Table {
        Table {
            sheet: OBJECTIVES_SHEET,
            columns: OBJECTIVE_COLUMNS.into_iter().map(|c| (c, 10)).collect(),
            rows: rows
                .into_iter()
                .map(|r| r.into_iter().map(str::to_owned).collect())
                .collect(),
        }
    }

    #[test]
    fn both_formats_read_back_what_they_wrote() {
        let sample = table(vec![
            vec![
                "3.1.1[a]",
                "AC.L2-3.1.1",
                "users",
                "met",
                "=SUM(A1) is a note, not a formula",
                "Ada",
            ],
            vec![
                "3.1.1[b]",
                "AC.L2-3.1.1",
                "processes",
                "not_met",
                "line one\nline two, \"quoted\"",
                "",
            ],
            vec!["3.1.1[c]", "AC.L2-3.1.1", "devices", "not_assessed", "", ""],
        ]);
        for format in [Format::Xlsx, Format::Csv] {
            let bytes = sample.render(format).unwrap();
            let rows = read_objectives(&bytes).unwrap();
            assert_eq!(rows.len(), 3, "{format:?}");
            assert_eq!(
                rows[0].note, "=SUM(A1) is a note, not a formula",
                "{format:?}"
            );
            assert_eq!(rows[1].status, Status::NotMet);
            assert_eq!(rows[1].note, "line one\nline two, \"quoted\"");
            assert_eq!(rows[2].status, Status::NotAssessed);
        }
        let csv = String::from_utf8(sample.render(Format::Csv).unwrap()).unwrap();
        assert!(csv.contains("'=SUM(A1)"), "CSV injection guard: {csv}");
    }

    #[test]
    fn a_csv_export_runs_no_formula_whichever_separator_the_reader_splits_on() {
        let hostile = [
            ";=1+1",
            "|=1+1",
            "a,=HYPERLINK(\"http://evil.test\",\"x\")",
            "tab\t@SUM(A1)",
            "line\n+1+1",
            "'=quoted already",
            "plain - with a dash; and a semicolon",
        ];
        let sample = table(
            hostile
                .iter()
                .map(|note| vec!["3.1.1[a]", "AC.L2-3.1.1", "users", "met", note, ""])
                .collect(),
        );
        let bytes = sample.render(Format::Csv).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        let first = text.lines().nth(1).unwrap();
        assert_eq!(
            first, "\"3.1.1[a]\",\"AC.L2-3.1.1\",\"users\",\"met\",\";'=1+1\",\"\"",
            "every field quoted, the formula after the separator guarded"
        );
        // As a spreadsheet in a locale with another separator reads it: cells are cut at
        // every separator, quotes or not; no cell may then start a formula.
        for separator in [b';', b'|', b'\t', b','] {
            for quoting in [true, false] {
                let mut reader = csv::ReaderBuilder::new()
                    .delimiter(separator)
                    .quoting(quoting)
                    .flexible(true)
                    .has_headers(false)
                    .from_reader(bytes.as_slice());
                for record in reader.records() {
                    for cell in record.unwrap().iter() {
                        let cell = cell.trim_start_matches(['"', ' ']);
                        assert!(
                            !cell.starts_with(['=', '+', '-', '@']),
                            "{:?} {quoting}: {cell:?}",
                            char::from(separator)
                        );
                    }
                }
            }
        }
        // And every note comes back exactly as it was.
        for note in hostile {
            let one = table(vec![vec![
                "3.1.1[a]",
                "AC.L2-3.1.1",
                "users",
                "met",
                note,
                "",
            ]]);
            let rows = read_objectives(&one.render(Format::Csv).unwrap()).unwrap();
            assert_eq!(rows[0].note, note);
        }
    }

    #[test]
    fn a_csv_import_refuses_a_cell_a_spreadsheet_would_run() {
        for cell in [
            "=HYPERLINK(\"http://evil.test\",\"x\")",
            "+1+1",
            "-1+1",
            "@SUM(A1)",
        ] {
            let file = format!(
                "id,requirement,text,status,note,owner\n\
                 3.1.1[a],AC.L2-3.1.1,users,met,\"{}\",\n",
                cell.replace('"', "\"\"")
            );
            let err = read_objectives(file.as_bytes()).unwrap_err();
            assert!(
                matches!(&err, DocsError::Invalid { field, message }
                    if field == "row 2, column note" && message.contains("formula")),
                "{cell}: {err:?}"
            );
        }
    }

    #[test]
    fn errors_name_the_cell() {
        let wrong_header = table(vec![]).render(Format::Csv).unwrap();
        let wrong_header = String::from_utf8(wrong_header)
            .unwrap()
            .replace("status", "state");
        let err = read_objectives(wrong_header.as_bytes()).unwrap_err();
        assert!(
            matches!(&err, DocsError::Invalid { field, .. } if field == "row 1, column status"),
            "{err:?}"
        );

        let bad_status = table(vec![vec!["3.1.1[a]", "x", "y", "done", "", ""]])
            .render(Format::Xlsx)
            .unwrap();
        let err = read_objectives(&bad_status).unwrap_err();
        assert!(
            matches!(&err, DocsError::Invalid { field, .. } if field == "Objectives!D2"),
            "{err:?}"
        );

        let twice = table(vec![
            vec!["3.1.1[a]", "", "", "met", "", ""],
            vec!["3.1.1[a]", "", "", "met", "", ""],
        ])
        .render(Format::Csv)
        .unwrap();
        let err = read_objectives(&twice).unwrap_err();
        assert!(
            matches!(&err, DocsError::Invalid { field, .. } if field == "row 3, column id"),
            "{err:?}"
        );

        let mut latin1 = b"id,requirement,text,status,note,owner\n3.1.1[a],x,y,met,".to_vec();
        latin1.extend_from_slice(b"caf\xe9,\n");
        let err = read_objectives(&latin1).unwrap_err();
        assert!(
            matches!(&err, DocsError::Invalid { field, message } if field == "row 2, column note" && message.contains("UTF-8")),
            "{err:?}"
        );
    }

    #[test]
    fn formulas_and_huge_sheets_are_refused() {
        let mut workbook = Workbook::new();
        let sheet = workbook.add_worksheet();
        sheet.set_name(OBJECTIVES_SHEET).unwrap();
        for (col, name) in (0u16..).zip(OBJECTIVE_COLUMNS) {
            sheet.write_string(0, col, name).unwrap();
        }
        sheet.write_string(1, 0, "3.1.1[a]").unwrap();
        sheet.write_formula(1, 3, "=\"met\"").unwrap();
        let bytes = workbook.save_to_buffer().unwrap();
        let err = read_objectives(&bytes).unwrap_err();
        assert!(
            matches!(&err, DocsError::Invalid { field, message } if field == "Objectives!D2" && message.contains("formula")),
            "{err:?}"
        );

        let mut csv = b"id,requirement,text,status,note,owner\n".to_vec();
        for n in 0..=MAX_ROWS {
            csv.extend_from_slice(format!("x{n},,,met,,\n").as_bytes());
        }
        let err = read_objectives(&csv).unwrap_err();
        assert!(
            matches!(&err, DocsError::Invalid { message, .. } if message.contains("more than")),
            "{err:?}"
        );

        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
    }
}
