//! The schedule rule, for tasks, projects and recipe tasks alike: nothing is due before
//! it starts, and a planned duration is at least one day.
//!
//! The rule is one function over anything ordered ([`check`]), because a task's dates
//! and a recipe task's offsets obey the same rule; each caller then names the rule's
//! breach in its own fields ([`dates`] for tasks and projects; recipes name the task).

use chrono::NaiveDate;

use crate::validate::ValidationError;

/// How a schedule breaks the rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Breach {
    /// The due date (or offset) lies before the start.
    DueBeforeStart,
    /// A duration of zero days or fewer.
    DurationBelowOne,
}

/// Checks one schedule. Missing parts are not checked: a task may have no dates. When
/// both parts break the rule, the dates are reported first (as users read them first).
pub fn check<T: Ord>(
    start: Option<T>,
    due: Option<T>,
    duration_days: Option<i32>,
) -> Result<(), Breach> {
    if let (Some(s), Some(d)) = (start, due) {
        if d < s {
            return Err(Breach::DueBeforeStart);
        }
    }
    if matches!(duration_days, Some(d) if d < 1) {
        return Err(Breach::DurationBelowOne);
    }
    Ok(())
}

/// The rule for a task's or project's dates, in the fields of their inputs
/// (`startDate`, `dueDate`, `durationDays`). Projects have no duration: they pass `None`.
pub fn dates(
    start: Option<NaiveDate>,
    due: Option<NaiveDate>,
    duration_days: Option<i32>,
) -> Result<(), ValidationError> {
    check(start, due, duration_days).map_err(|breach| match breach {
        Breach::DueBeforeStart => ValidationError::new("dueDate", "must not be before startDate"),
        Breach::DurationBelowOne => ValidationError::new("durationDays", "must be at least 1"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(2027, 1, d)
    }

    #[test]
    fn schedule_rule_table() {
        use Breach::*;
        // (start, due, duration) → decision
        type Row = (Option<i32>, Option<i32>, Option<i32>, Result<(), Breach>);
        let table: [Row; 13] = [
            (None, None, None, Ok(())),
            (Some(0), None, None, Ok(())),
            (None, Some(-5), None, Ok(())),
            (Some(3), Some(3), None, Ok(())),
            (Some(3), Some(4), None, Ok(())),
            (Some(3), Some(2), None, Err(DueBeforeStart)),
            (Some(-2), Some(-3), None, Err(DueBeforeStart)),
            (None, None, Some(1), Ok(())),
            (None, None, Some(i32::MAX), Ok(())),
            (None, None, Some(0), Err(DurationBelowOne)),
            (None, None, Some(-1), Err(DurationBelowOne)),
            (None, None, Some(i32::MIN), Err(DurationBelowOne)),
            // Both broken: the dates are reported.
            (Some(3), Some(2), Some(0), Err(DueBeforeStart)),
        ];
        for (start, due, duration, expected) in table {
            assert_eq!(
                check(start, due, duration),
                expected,
                "{start:?} {due:?} {duration:?}"
            );
        }
    }

    #[test]
    fn schedule_dates_name_the_input_fields() {
        let message = |r: Result<(), ValidationError>| r.err().map(|e| e.to_string());
        assert_eq!(message(dates(day(4), day(5), Some(2))), None);
        assert_eq!(message(dates(day(4), day(4), None)), None);
        assert_eq!(message(dates(None, day(1), Some(1))), None);
        assert_eq!(
            message(dates(day(5), day(4), None)).as_deref(),
            Some("dueDate: must not be before startDate")
        );
        assert_eq!(
            message(dates(day(4), day(5), Some(0))).as_deref(),
            Some("durationDays: must be at least 1")
        );
    }
}
