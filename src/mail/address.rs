//! The one way an e-mail address gets into Rampart: an RFC 5321 mailbox (`local@domain`)
//! that the mail transport can send to. Whatever a person types (an account, an invitation,
//! a reset request, an address change, the operator's CLI) goes through [`EmailAddress::parse`],
//! so one mailbox is one spelling: `<ada@example.com>` and `Ada <ada@example.com>` are
//! refused rather than becoming second accounts for `ada@example.com`.
//!
//! Deliberately narrower than the RFCs: no display names, angle brackets, comments, quoted
//! local parts or address literals (`[127.0.0.1]`), ASCII only (internationalised domains in
//! their `xn--` form). Everything accepted is also accepted by lettre, which sends it.

use std::str::FromStr;

/// RFC 5321 4.5.3.1: the longest path is 256 octets with its angle brackets.
const ADDRESS_MAX: usize = 254;
const LOCAL_MAX: usize = 64;
const DOMAIN_MAX: usize = 253;
const LABEL_MAX: usize = 63;

/// Why a text is not an address Rampart takes, in words for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidAddress(String);

fn invalid(why: impl Into<String>) -> InvalidAddress {
    InvalidAddress(why.into())
}

/// A mailbox Rampart can send to, trimmed and lower-cased (the whole address: one account
/// per mailbox whatever the capitals, as addresses have always been stored).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<EmailAddress, InvalidAddress> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(invalid("enter an e-mail address"));
        }
        if text.len() > ADDRESS_MAX {
            return Err(invalid(format!(
                "an e-mail address has at most {ADDRESS_MAX} characters"
            )));
        }
        if text.contains(['<', '>']) {
            return Err(invalid(
                "enter the address alone, without a name or angle brackets, such as name@example.com",
            ));
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid(
                "an e-mail address has no spaces or line breaks, such as name@example.com",
            ));
        }
        if !text.is_ascii() {
            return Err(invalid(
                "use only ASCII characters in an e-mail address (an internationalised domain in its xn-- form)",
            ));
        }
        let text = text.to_ascii_lowercase();
        let Some((local, domain)) = text.rsplit_once('@') else {
            return Err(invalid(
                "an e-mail address needs an @, such as name@example.com",
            ));
        };
        if local.contains('@') {
            return Err(invalid("an e-mail address has one @"));
        }
        check_local(local)?;
        check_domain(domain)?;
        // The transport parses the address again when it sends; nothing accepted here may
        // fail there (a message to it could never leave).
        if lettre::message::Mailbox::from_str(&text).is_err()
            || lettre::Address::from_str(&text).is_err()
        {
            return Err(invalid("Rampart cannot send mail to that address"));
        }
        Ok(EmailAddress(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// RFC 5322 `atext`: what a dot-atom local part is made of, besides the dots.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

fn check_local(local: &str) -> Result<(), InvalidAddress> {
    if local.is_empty() {
        return Err(invalid(
            "put the mailbox name before the @, such as name@example.com",
        ));
    }
    if local.len() > LOCAL_MAX {
        return Err(invalid(format!(
            "the part before the @ has at most {LOCAL_MAX} characters"
        )));
    }
    if let Some(c) = local.chars().find(|&c| c != '.' && !is_atext(c)) {
        return Err(invalid(format!(
            "{c} cannot be in an e-mail address; use letters, digits and . _ - + and the like"
        )));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(invalid(
            "the part before the @ cannot begin or end with a dot, or have two dots in a row",
        ));
    }
    Ok(())
}

fn check_domain(domain: &str) -> Result<(), InvalidAddress> {
    if domain.is_empty() {
        return Err(invalid(
            "put a domain after the @, such as name@example.com",
        ));
    }
    if domain.starts_with('[') || domain.parse::<std::net::IpAddr>().is_ok() {
        return Err(invalid("use a domain name after the @, not an IP address"));
    }
    if domain.len() > DOMAIN_MAX {
        return Err(invalid(format!(
            "the domain after the @ has at most {DOMAIN_MAX} characters"
        )));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err(invalid(
            "the domain after the @ needs a dot, such as example.com",
        ));
    }
    let label_ok = |label: &str| {
        (1..=LABEL_MAX).contains(&label.len())
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if !labels.iter().all(|label| label_ok(label)) {
        return Err(invalid(
            "the domain after the @ is not valid: each part between dots has 1 to 63 letters, digits or hyphens, and no hyphen at either end",
        ));
    }
    // A top-level domain is never all digits; `1.2.3.4`-like names are addresses.
    if labels
        .last()
        .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(invalid("use a domain name after the @, not an IP address"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(raw: &str) -> String {
        match EmailAddress::parse(raw) {
            Ok(parsed) => panic!("{raw:?} accepted as {parsed}"),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn an_address_is_trimmed_and_lower_cased() {
        let parsed = EmailAddress::parse("  Ada.Lovelace+Rampart@Example.COM ").unwrap();
        assert_eq!(parsed.as_str(), "ada.lovelace+rampart@example.com");
        for fine in [
            "a@b.co",
            "o'brien@example.ie",
            "x_y-z@sub.example-domain.test",
            "img/src=x/onerror=alert1@example.com",
            "user@xn--bcher-kva.example",
            "a!#$%&'*+-/=?^_`{|}~@example.com",
        ] {
            assert!(EmailAddress::parse(fine).is_ok(), "{fine:?}");
        }
    }

    #[test]
    fn names_brackets_and_literals_are_refused_saying_why() {
        for raw in [
            "<o@example.test>",
            "x<o@example.test>",
            "Ada <ada@example.com>",
            "<img/src=x/onerror=alert(1)>@example.com",
        ] {
            assert!(refused(raw).contains("angle brackets"), "{raw:?}");
        }
        assert!(refused("v6@[127.0.0.1]").contains("not an IP address"));
        assert!(refused("v6@[IPv6:::1]").contains("not an IP address"));
        assert!(refused("ip@127.0.0.1").contains("not an IP address"));
        assert!(refused("a@b").contains("needs a dot"));
        assert!(refused("a@-b.example").contains("not valid"));
        assert!(refused("a@b..example").contains("not valid"));
        assert!(refused("a@b.example.").contains("not valid"));
        assert!(refused("a@b_c.example").contains("not valid"));
        assert!(refused("a(b)@example.com").contains("( cannot be"));
        assert!(refused("\"a b\"@example.com").contains("no spaces"));
        assert!(refused("\"ab\"@example.com").contains("\" cannot be"));
        assert!(refused("a@b@example.com").contains("one @"));
        assert!(refused(".a@example.com").contains("dot"));
        assert!(refused("a..b@example.com").contains("dot"));
        assert!(refused("josé@example.com").contains("ASCII"));
        assert!(refused("a@bücher.example").contains("xn--"));
        assert!(refused("a\r\nbcc:x@example.com").contains("line breaks"));
        assert!(refused("").contains("enter"));
        assert!(refused("alice").contains("needs an @"));
        assert!(refused("@example.com").contains("before the @"));
        assert!(refused("alice@").contains("after the @"));
        assert!(refused(&format!("{}@example.com", "a".repeat(65))).contains("64"));
        assert!(refused(&format!("a@{}.com", "b".repeat(64))).contains("not valid"));
        assert!(refused(&format!("{}@example.com", "a".repeat(1_000_000))).contains("254"));
    }

    /// Everything the parser accepts, lettre accepts and can build a message to: no address
    /// Rampart stores can then be impossible to send to.
    #[test]
    fn whatever_is_accepted_lettre_can_send_to() {
        let mut tried = 0;
        for byte in 0x20u8..0x7f {
            let c = char::from(byte);
            for raw in [
                format!("a{c}b@example.com"),
                format!("{c}@example.com"),
                format!("ab@exa{c}mple.com"),
                format!("ab@example.c{c}m"),
            ] {
                let Ok(parsed) = EmailAddress::parse(&raw) else {
                    continue;
                };
                tried += 1;
                let mailbox = lettre::message::Mailbox::from_str(parsed.as_str())
                    .unwrap_or_else(|err| panic!("{raw:?}: {err}"));
                assert_eq!(mailbox.email.to_string(), parsed.as_str());
                lettre::Message::builder()
                    .from("Rampart <rampart@example.com>".parse().unwrap())
                    .to(mailbox)
                    .subject("s")
                    .body(String::from("b"))
                    .unwrap_or_else(|err| panic!("{raw:?}: {err}"));
            }
        }
        assert!(tried > 100, "only {tried} accepted");
    }
}
