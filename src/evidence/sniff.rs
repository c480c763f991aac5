//! What an upload is, from its first bytes rather than its name or header: an allow-list of
//! document, image, text, spreadsheet, archive and log types. Executables are refused by
//! name, and so is a file whose name claims another type than its content.

/// How many leading bytes [`sniff`] wants (fewer when the file is shorter).
pub const SNIFF_LEN: usize = 64 * 1024;

/// An accepted type: its media type and the file name extensions it may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub media_type: &'static str,
    pub label: &'static str,
    extensions: &'static [&'static str],
}

const fn kind(
    media_type: &'static str,
    label: &'static str,
    extensions: &'static [&'static str],
) -> Kind {
    Kind {
        media_type,
        label,
        extensions,
    }
}

const PDF: Kind = kind("application/pdf", "a PDF document", &["pdf"]);
const PNG: Kind = kind("image/png", "a PNG image", &["png"]);
const JPEG: Kind = kind("image/jpeg", "a JPEG image", &["jpg", "jpeg"]);
const GIF: Kind = kind("image/gif", "a GIF image", &["gif"]);
const WEBP: Kind = kind("image/webp", "a WebP image", &["webp"]);
const DOCX: Kind = kind(
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "a Word document",
    &["docx", "docm"],
);
const XLSX: Kind = kind(
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "an Excel workbook",
    &["xlsx", "xlsm"],
);
const PPTX: Kind = kind(
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "a PowerPoint presentation",
    &["pptx"],
);
const ODT: Kind = kind(
    "application/vnd.oasis.opendocument.text",
    "an OpenDocument text",
    &["odt"],
);
const ODS: Kind = kind(
    "application/vnd.oasis.opendocument.spreadsheet",
    "an OpenDocument spreadsheet",
    &["ods"],
);
const OLE: Kind = kind(
    "application/x-ole-storage",
    "a legacy Office document",
    &["doc", "xls", "ppt", "msg"],
);
const ZIP: Kind = kind("application/zip", "a ZIP archive", &["zip"]);
const GZIP: Kind = kind("application/gzip", "a gzip archive", &["gz", "tgz"]);
const SEVEN_ZIP: Kind = kind("application/x-7z-compressed", "a 7-Zip archive", &["7z"]);
const TAR: Kind = kind("application/x-tar", "a tar archive", &["tar"]);

/// Text, told apart by name only: the bytes say no more than "UTF-8 text".
const TEXT_KINDS: &[(&str, Kind)] = &[
    ("csv", kind("text/csv", "CSV text", &["csv"])),
    ("json", kind("application/json", "JSON text", &["json"])),
    ("xml", kind("application/xml", "XML text", &["xml"])),
    ("md", kind("text/markdown", "Markdown text", &["md"])),
    (
        "yaml",
        kind("application/yaml", "YAML text", &["yaml", "yml"]),
    ),
    (
        "yml",
        kind("application/yaml", "YAML text", &["yaml", "yml"]),
    ),
];
const PLAIN_TEXT: Kind = kind(
    "text/plain",
    "plain text",
    &["txt", "log", "conf", "cfg", "ini", "text"],
);

/// Executables and other content never kept: (magic at offset 0, what it is).
const REFUSED: &[(&[u8], &str)] = &[
    (b"\x7fELF", "an ELF executable"),
    (b"MZ", "a Windows executable"),
    (b"\xfe\xed\xfa\xce", "a Mach-O executable"),
    (b"\xfe\xed\xfa\xcf", "a Mach-O executable"),
    (b"\xce\xfa\xed\xfe", "a Mach-O executable"),
    (b"\xcf\xfa\xed\xfe", "a Mach-O executable"),
    (b"\xca\xfe\xba\xbe", "a Mach-O or Java executable"),
    (b"#!", "a script with an interpreter line"),
    (b"\0asm", "a WebAssembly module"),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// The kind of a file named `name` whose content starts with `head` (all of it when the
/// file is shorter than [`SNIFF_LEN`]; `complete` says which).
pub fn sniff(name: &str, head: &[u8], complete: bool) -> Result<Kind, Refused> {
    if let Some((_, what)) = REFUSED.iter().find(|(magic, _)| head.starts_with(magic)) {
        return Err(Refused(format!(
            "{name:?} is {what}; executables are not kept as evidence"
        )));
    }
    let extension = extension(name);
    let found = binary_kind(head).or_else(|| text_kind(head, complete, extension.as_deref()));
    let Some(found) = found else {
        return Err(Refused(format!(
            "{name:?} is not a type kept as evidence (documents, images, text, spreadsheets, archives and logs)"
        )));
    };
    match extension.as_deref() {
        None => Ok(found),
        Some(ext) if found.extensions.contains(&ext) => Ok(found),
        // Rotated logs: `syslog.1`.
        Some(ext) if found == PLAIN_TEXT && ext.bytes().all(|b| b.is_ascii_digit()) => Ok(found),
        Some(ext) => Err(Refused(format!(
            "{name:?} is named .{ext} but its content is {}; rename it to match",
            found.label
        ))),
    }
}

fn extension(name: &str) -> Option<String> {
    let (stem, ext) = name.rsplit_once('.')?;
    (!stem.is_empty() && !ext.is_empty()).then(|| ext.to_ascii_lowercase())
}

fn binary_kind(head: &[u8]) -> Option<Kind> {
    let at = |offset: usize, magic: &[u8]| {
        head.get(offset..offset + magic.len())
            .is_some_and(|b| b == magic)
    };
    if at(0, b"%PDF-") {
        Some(PDF)
    } else if at(0, b"\x89PNG\r\n\x1a\n") {
        Some(PNG)
    } else if at(0, b"\xff\xd8\xff") {
        Some(JPEG)
    } else if at(0, b"GIF87a") || at(0, b"GIF89a") {
        Some(GIF)
    } else if at(0, b"RIFF") && at(8, b"WEBP") {
        Some(WEBP)
    } else if at(0, b"PK\x03\x04") {
        Some(zip_kind(head))
    } else if at(0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1") {
        Some(OLE)
    } else if at(0, b"\x1f\x8b") {
        Some(GZIP)
    } else if at(0, b"7z\xbc\xaf\x27\x1c") {
        Some(SEVEN_ZIP)
    } else if at(257, b"ustar") {
        Some(TAR)
    } else {
        None
    }
}

/// Office and OpenDocument files are ZIP archives; their first entries' names tell which.
fn zip_kind(head: &[u8]) -> Kind {
    let contains = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
    if contains(b"mimetypeapplication/vnd.oasis.opendocument.text") {
        ODT
    } else if contains(b"mimetypeapplication/vnd.oasis.opendocument.spreadsheet") {
        ODS
    } else if contains(b"word/") {
        DOCX
    } else if contains(b"xl/") {
        XLSX
    } else if contains(b"ppt/") {
        PPTX
    } else {
        ZIP
    }
}

fn text_kind(head: &[u8], complete: bool, extension: Option<&str>) -> Option<Kind> {
    let text = match std::str::from_utf8(head) {
        Ok(text) => text,
        // The sniffed bytes may end inside a character.
        Err(err) if !complete && err.error_len().is_none() => {
            std::str::from_utf8(head.get(..err.valid_up_to())?).ok()?
        }
        Err(_) => return None,
    };
    let binary = text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\u{c}'));
    if binary {
        return None;
    }
    Some(
        extension
            .and_then(|ext| TEXT_KINDS.iter().find(|(e, _)| *e == ext))
            .map_or(PLAIN_TEXT, |(_, kind)| *kind),
    )
}

/// Whether a download may be shown in the browser rather than only saved.
pub fn previewable(media_type: &str) -> bool {
    matches!(
        media_type,
        "image/png" | "image/jpeg" | "image/gif" | "image/webp" | "text/plain"
    )
}

/// A file name safe to store and to put in a header: the last path component, without
/// control characters, invisible formatting characters, quotes or backslashes, without
/// leading dots or trailing dots and spaces, at most 200 characters; `None` when nothing
/// is left.
///
/// Windows and browsers drop trailing dots and spaces when they save a file, so
/// `setup.msi.` would be checked as a name without an extension and saved as `setup.msi`;
/// and a right-to-left override makes `invoice\u{202e}fdp.exe` read as `invoiceexe.pdf`.
pub fn clean_filename(raw: &str) -> Option<String> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !is_invisible_format(*c) && !matches!(c, '"' | '\\' | '/'))
        .take(200)
        .collect();
    let cleaned = cleaned
        .trim_start_matches(|c: char| c == '.' || c.is_whitespace())
        .trim_end_matches(|c: char| c == '.' || c.is_whitespace());
    (!cleaned.is_empty()).then(|| cleaned.to_owned())
}

/// Bidirectional controls and zero-width characters: they change how a name reads
/// without being seen.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}' | '\u{feff}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_images_and_archives_are_known_by_content() {
        assert_eq!(sniff("a.pdf", b"%PDF-1.7\n", true).unwrap(), PDF);
        assert_eq!(sniff("a.png", b"\x89PNG\r\n\x1a\n....", true).unwrap(), PNG);
        assert_eq!(sniff("a.JPG", b"\xff\xd8\xff\xe0", true).unwrap(), JPEG);
        let docx = b"PK\x03\x04....[Content_Types].xml....word/document.xml";
        assert_eq!(sniff("ssp.docx", docx, true).unwrap(), DOCX);
        assert_eq!(sniff("x.zip", b"PK\x03\x04 other", true).unwrap(), ZIP);
        assert_eq!(sniff("no-extension", b"%PDF-1.4", true).unwrap(), PDF);
    }

    #[test]
    fn text_takes_its_kind_from_the_name() {
        assert_eq!(
            sniff("a.csv", b"id,status\n1,met\n", true)
                .unwrap()
                .media_type,
            "text/csv"
        );
        assert_eq!(
            sniff("auth.log", b"Nov 1 sshd\n", true).unwrap(),
            PLAIN_TEXT
        );
        assert_eq!(
            sniff("syslog.1", b"Nov 1 sshd\n", true).unwrap(),
            PLAIN_TEXT
        );
        // Cut inside a character: still text when more follows.
        assert!(sniff("a.txt", "ü".as_bytes().get(..1).unwrap(), false).is_ok());
        assert!(sniff("a.txt", "ü".as_bytes().get(..1).unwrap(), true).is_err());
    }

    #[test]
    fn executables_and_mismatches_are_refused_naming_what_was_found() {
        let err = sniff("report.pdf", b"\x7fELF\x02\x01", true).unwrap_err();
        assert!(err.0.contains("ELF executable"), "{err}");
        let err = sniff("setup.txt", b"MZ\x90\x00", true).unwrap_err();
        assert!(err.0.contains("Windows executable"), "{err}");
        let err = sniff("run.txt", b"#!/bin/sh\nrm -rf /\n", true).unwrap_err();
        assert!(err.0.contains("interpreter"), "{err}");
        let err = sniff("photo.pdf", b"\x89PNG\r\n\x1a\n", true).unwrap_err();
        assert!(err.0.contains("PNG image"), "{err}");
        let err = sniff("page.html", b"<html></html>", true).unwrap_err();
        assert!(err.0.contains(".html"), "{err}");
        assert!(sniff("blob.bin", &[0u8, 1, 2, 3, 200, 201], true).is_err());
    }

    #[test]
    fn file_names_lose_paths_and_control_characters() {
        assert_eq!(
            clean_filename("../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(
            clean_filename("C:\\Users\\x\\plan.pdf").as_deref(),
            Some("plan.pdf")
        );
        assert_eq!(clean_filename("a\nb\"c.txt").as_deref(), Some("abc.txt"));
        assert_eq!(clean_filename("..").as_deref(), None);
        assert_eq!(clean_filename("   ").as_deref(), None);
        assert_eq!(clean_filename(".hidden").as_deref(), Some("hidden"));
    }

    #[test]
    fn file_names_lose_what_would_change_them_when_saved_or_read() {
        assert_eq!(clean_filename("setup.msi.").as_deref(), Some("setup.msi"));
        assert_eq!(clean_filename("run.bat. . ").as_deref(), Some("run.bat"));
        assert_eq!(clean_filename(" . .").as_deref(), None);
        assert_eq!(
            clean_filename("invoice\u{202e}fdp.exe").as_deref(),
            Some("invoicefdp.exe")
        );
        assert_eq!(clean_filename("a\u{200b}b.txt").as_deref(), Some("ab.txt"));
        // Letters from right-to-left scripts are kept; only the controls go.
        assert_eq!(clean_filename("تقرير.pdf").as_deref(), Some("تقرير.pdf"));
        // What the sniffer then sees: the installer's real extension.
        let msi = clean_filename("setup.msi.").unwrap();
        let err = sniff(&msi, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", true).unwrap_err();
        assert!(err.0.contains(".msi"), "{err}");
    }
}
