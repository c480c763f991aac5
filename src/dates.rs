//! Calendar dates as Rampart keeps them: `YYYY-MM-DD`, days counted in UTC.

use time::{Date, OffsetDateTime};

/// The wall clock in unix seconds: the `now` every domain function is handed.
pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// The UTC date of unix time `now`.
pub fn today(now: i64) -> Date {
    OffsetDateTime::from_unix_timestamp(now)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .date()
}

/// Unix time `seconds` in RFC 3339 (UTC), or the number when out of range.
pub fn format_utc(seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| seconds.to_string())
}

/// `text` (trimmed) as a `YYYY-MM-DD` date; the error is the message to show.
pub fn parse(text: &str) -> Result<Date, String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text.trim(), &format)
        .map_err(|_| format!("{text:?} is not a date in the form YYYY-MM-DD"))
}
