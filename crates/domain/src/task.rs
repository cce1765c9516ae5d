//! Task rules: status and progress stay consistent (DONE ⇒ 100, NOT_STARTED ⇒ 0).

use crate::roles::TaskStatus;
use crate::validate::ValidationError;

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
        if !(0..=100).contains(&p) {
            return Err(ValidationError::new(
                "progress",
                "must be between 0 and 100",
            ));
        }
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
        (Some(TaskStatus::Done), _) => Ok((TaskStatus::Done, 100)),
        (Some(TaskStatus::NotStarted), _) => Ok((TaskStatus::NotStarted, 0)),
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
            _ if p == 100 => (TaskStatus::Done, 100),
            _ if p == 0 && current.0 == TaskStatus::NotStarted => (TaskStatus::NotStarted, 0),
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
