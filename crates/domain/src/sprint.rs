//! Sprint rules: the name of the box a finished sprint's tasks move into.

use chrono::NaiveDate;

/// The slice finished sprints are kept in (created when missing).
pub const DONE_SPRINTS_SLICE: &str = "Done Sprints";

/// The dated box for a sprint finished on `date`, distinct from the names already in
/// the Done Sprints slice (a second sprint on the same day gets " (2)", and so on).
pub fn sprint_box_name(date: NaiveDate, existing: &[String]) -> String {
    let base = date.format("%Y-%m-%d").to_string();
    if !existing.contains(&base) {
        return base;
    }
    (2..)
        .map(|n| format!("{base} ({n})"))
        .find(|name| !existing.contains(name))
        .unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dated_and_unique() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default();
        assert_eq!(sprint_box_name(d, &[]), "2026-11-23");
        assert_eq!(sprint_box_name(d, &["2026-11-23".into()]), "2026-11-23 (2)");
        assert_eq!(
            sprint_box_name(d, &["2026-11-23".into(), "2026-11-23 (2)".into()]),
            "2026-11-23 (3)"
        );
    }
}
