//! `Content-Disposition` for files people download: a plain ASCII `filename` every client
//! reads, and `filename*` (RFC 6266, RFC 8187) carrying the real UTF-8 name for those that
//! read it, which browsers prefer.

/// `attachment` (or `inline`) with `filename` in both forms.
pub fn content_disposition(inline: bool, filename: &str) -> String {
    let kind = if inline { "inline" } else { "attachment" };
    let fallback = ascii_fallback(filename);
    if fallback == filename {
        return format!("{kind}; filename=\"{fallback}\"");
    }
    format!(
        "{kind}; filename=\"{fallback}\"; filename*=UTF-8''{}",
        percent_encode(filename)
    )
}

/// The name with every character a quoted-string cannot carry as it is (anything outside
/// printable ASCII, `"`, `\` and `%`, which some clients decode) replaced by `_`.
fn ascii_fallback(filename: &str) -> String {
    filename
        .chars()
        .map(|c| {
            if (c.is_ascii_graphic() || c == ' ') && !matches!(c, '"' | '\\' | '%') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// RFC 8187's value-chars: `attr-char` as it is, every other byte as `%XX`.
fn percent_encode(filename: &str) -> String {
    let mut out = String::with_capacity(filename.len() * 3);
    for byte in filename.bytes() {
        let attr_char = byte.is_ascii_alphanumeric()
            || matches!(
                byte,
                b'!' | b'#' | b'$' | b'&' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
            );
        if attr_char {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::content_disposition;

    #[test]
    fn an_ascii_name_is_sent_as_it_is() {
        assert_eq!(
            content_disposition(false, "policy v2.pdf"),
            "attachment; filename=\"policy v2.pdf\""
        );
    }

    #[test]
    fn a_non_ascii_name_gets_an_ascii_fallback_and_its_utf8_form() {
        let header = content_disposition(true, "Richtlinie für Zugänge €.pdf");
        assert_eq!(
            header,
            "inline; filename=\"Richtlinie f_r Zug_nge _.pdf\"; \
             filename*=UTF-8''Richtlinie%20f%C3%BCr%20Zug%C3%A4nge%20%E2%82%AC.pdf"
        );
        assert!(header.is_ascii());
    }

    #[test]
    fn quotes_backslashes_and_percent_signs_never_reach_the_quoted_name() {
        let header = content_disposition(false, "a\"b\\c%41.txt");
        assert!(
            header.starts_with(
                "attachment; filename=\"a_b_c_41.txt\"; filename*=UTF-8''a%22b%5Cc%2541.txt"
            ),
            "{header}"
        );
    }
}
