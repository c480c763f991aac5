//! Words people use for what the API spells as tokens: statuses, roles, outcomes and how
//! far off a day is (sizes are [`crate::sizes`]). Pages call these; the API and exports keep
//! the tokens.

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
    fn days_read_as_distance() {
        assert_eq!(days_from_today(0), "today");
        assert_eq!(days_from_today(7), "in 7 days");
        assert_eq!(days_from_today(-68), "68 days overdue");
        assert_eq!(days_from_today(-1), "1 day overdue");
    }
}
