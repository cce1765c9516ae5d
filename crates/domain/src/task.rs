//! Task rules: progress is a percentage (0..=100), and status and progress stay
//! consistent (DONE ⇒ 100, NOT_STARTED ⇒ 0).

use crate::roles::TaskStatus;
use crate::validate::ValidationError;

/// A finished task: DONE at 100 %. Every way of finishing a task (setting its status,
/// reaching 100 %, dropping it into a done column) lands here.
pub const DONE: (TaskStatus, i16) = (TaskStatus::Done, 100);
/// A task not started has made no progress.
pub const NOT_STARTED: (TaskStatus, i16) = (TaskStatus::NotStarted, 0);

/// A progress value as the user sent it, checked to be a percentage. It takes any
/// integer width so that the API's 32-bit input and the stored 16-bit value meet the
/// same check (a value that does not fit 16 bits is out of range all the same).
pub fn progress(value: i64) -> Result<i16, ValidationError> {
    i16::try_from(value)
        .ok()
        .filter(|p| (0..=100).contains(p))
        .ok_or_else(|| ValidationError::new("progress", "must be between 0 and 100"))
}

/// Works out a task's new (status, progress) from what the user asked for and what it
/// has now. An explicit contradiction (DONE at 40 %) is refused; a change of one side
/// moves the other: setting DONE sets 100, setting progress on a NOT_STARTED task
/// starts it, reaching 100 finishes it, lowering a DONE task's progress reopens it.
pub fn reconcile(
    current: (TaskStatus, i16),
    status: Option<TaskStatus>,
    progress: Option<i16>,
) -> Result<(TaskStatus, i16), ValidationError> {
    if let Some(p) = progress {
        self::progress(i64::from(p))?;
    }
    match (status, progress) {
        (Some(TaskStatus::Done), Some(p)) if p != 100 => Err(ValidationError::new(
            "progress",
            "must be 100 when status is DONE",
        )),
        (Some(TaskStatus::NotStarted), Some(p)) if p != 0 => Err(ValidationError::new(
            "progress",
            "must be 0 when status is NOT_STARTED",
        )),
        (Some(TaskStatus::Done), _) => Ok(DONE),
        (Some(TaskStatus::NotStarted), _) => Ok(NOT_STARTED),
        (Some(s), Some(p)) => Ok((s, p)),
        (Some(s), None) => {
            let p = current.1;
            // Reopening a DONE task keeps its progress only if it is below 100.
            Ok((
                s,
                if current.0 == TaskStatus::Done && s == TaskStatus::InProgress {
                    p.min(99)
                } else {
                    p
                },
            ))
        }
        (None, Some(p)) => Ok(match current.0 {
            TaskStatus::NotNeeded => (TaskStatus::NotNeeded, p),
            _ if p == 100 => DONE,
            _ if p == 0 && current.0 == TaskStatus::NotStarted => NOT_STARTED,
            _ => (TaskStatus::InProgress, p),
        }),
        (None, None) => Ok(current),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaskStatus::*;

    #[test]
    fn progress_range_table() {
        let out_of_range = Err(ValidationError::new(
            "progress",
            "must be between 0 and 100",
        ));
        // value → decision
        let table = [
            (0, Ok(0)),
            (1, Ok(1)),
            (50, Ok(50)),
            (99, Ok(99)),
            (100, Ok(100)),
            (-1, out_of_range.clone()),
            (101, out_of_range.clone()),
            (i64::from(i16::MAX), out_of_range.clone()),
            // Wider than the stored 16 bits: refused, never wrapped into range.
            (65_536 + 50, out_of_range.clone()),
            (i64::from(i32::MAX), out_of_range.clone()),
            (i64::from(i32::MIN), out_of_range.clone()),
        ];
        for (value, expected) in table {
            assert_eq!(progress(value), expected, "{value}");
        }
        assert_eq!(
            progress(101).err().map(|e| e.to_string()).as_deref(),
            Some("progress: must be between 0 and 100")
        );
    }

    #[test]
    fn status_and_progress_stay_consistent() {
        assert_eq!(
            reconcile((NotStarted, 0), Some(Done), None),
            Ok((Done, 100))
        );
        assert_eq!(
            reconcile((Done, 100), Some(NotStarted), None),
            Ok((NotStarted, 0))
        );
        assert_eq!(
            reconcile((NotStarted, 0), None, Some(40)),
            Ok((InProgress, 40))
        );
        assert_eq!(
            reconcile((InProgress, 40), None, Some(100)),
            Ok((Done, 100))
        );
        assert_eq!(reconcile((Done, 100), None, Some(60)), Ok((InProgress, 60)));
        assert_eq!(
            reconcile((Done, 100), Some(InProgress), None),
            Ok((InProgress, 99))
        );
        assert_eq!(
            reconcile((NotNeeded, 10), None, Some(30)),
            Ok((NotNeeded, 30))
        );
        assert!(reconcile((NotStarted, 0), Some(Done), Some(40)).is_err());
        assert!(reconcile((NotStarted, 0), Some(NotStarted), Some(5)).is_err());
        assert!(reconcile((NotStarted, 0), None, Some(101)).is_err());
        assert!(reconcile((NotStarted, 0), None, Some(-1)).is_err());
    }
}
