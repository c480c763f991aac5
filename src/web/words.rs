//! Words people use for what the API spells as tokens: statuses, roles, outcomes, sizes and
//! how far off a date is. Pages call these; the API and exports keep the tokens.

/// The label of a status, role or outcome token; an unknown token is shown as it is, with
/// its first letter capitalised and underscores as spaces, never as `snake_case`.
pub fn label(token: &str) -> String {
    let known = match token {
        "met" => "Met",
        "not_met" => "Not met",
        "not_applicable" => "Not applicable",
        "not_assessed" => "Not assessed",
        "final" => "Final",
        "conditional" => "Conditional",
        "none" => "No status",
        "owner" => "Owner",
        "admin" => "Admin",
        "member" => "Member",
        "viewer" => "Viewer",
        "open" => "Open",
        "closed" => "Closed",
        "success" => "Succeeded",
        "failure" => "Failed",
        "denied" => "Refused",
        "regression" => "Regressed",
        "milestone" => "POA&M milestone",
        "closeout" => "POA&M closeout",
        "final_expiry" => "Final status expires",
        "affirmation" => "Annual affirmation",
        "level1_affirmation" => "Level 1 affirmation",
        "evidence_review" => "Evidence review",
        "poam_overdue" => "Overdue POA&M milestone",
        "due" => "Due for review",
        "overdue" => "Past its review date",
        "current" => "Current",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_owned();
    }
    let spaced = token.replace('_', " ");
    let mut chars = spaced.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// A size as people read it: `640 bytes`, `12 KB`, `3.4 MB`, `10 GB` (powers of 1000, as
/// disks are sold).
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return if bytes == 1 {
            "1 byte".to_owned()
        } else {
            format!("{bytes} bytes")
        };
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if value < 10.0 && value.fract() >= 0.05 {
        format!("{value:.1} {}", UNITS.get(unit).unwrap_or(&"TB"))
    } else {
        format!("{value:.0} {}", UNITS.get(unit).unwrap_or(&"TB"))
    }
}

/// How far off a day is from today: `today`, `tomorrow`, `in 7 days`, `yesterday`,
/// `3 days overdue`.
pub fn days_from_today(days: i64) -> String {
    match days {
        0 => "today".to_owned(),
        1 => "tomorrow".to_owned(),
        -1 => "1 day overdue".to_owned(),
        d if d > 1 => format!("in {d} days"),
        d => format!("{} days overdue", d.unsigned_abs()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_read_as_words() {
        assert_eq!(label("not_met"), "Not met");
        assert_eq!(label("none"), "No status");
        assert_eq!(label("owner"), "Owner");
        assert_eq!(label("something_new"), "Something new");
        assert_eq!(label(""), "");
    }

    #[test]
    fn sizes_read_in_decimal_units() {
        assert_eq!(size(1), "1 byte");
        assert_eq!(size(639), "639 bytes");
        assert_eq!(size(12_400), "12 KB");
        assert_eq!(size(3_400_000), "3.4 MB");
        assert_eq!(size(10_737_418_240), "11 GB");
        assert_eq!(size(10_000_000_000), "10 GB");
    }

    #[test]
    fn days_read_as_distance() {
        assert_eq!(days_from_today(0), "today");
        assert_eq!(days_from_today(7), "in 7 days");
        assert_eq!(days_from_today(-68), "68 days overdue");
        assert_eq!(days_from_today(-1), "1 day overdue");
    }
}
