//! Board rules: what happens to a task when it lands in a board's column.

use crate::roles::TaskStatus;
use crate::task;

/// The (status, progress) a task takes when it is dropped into a box, or `None` when
/// the drop leaves them alone. The board's done column is where finished work goes, so
/// a task dropped there is finished: DONE at 100 % ([`task::DONE`]). A task already DONE
/// is left as it is, and any other column changes nothing (moving a task back out of
/// the done column does not reopen it; its status is the user's to change).
pub fn on_drop(into_done_column: bool, current: (TaskStatus, i16)) -> Option<(TaskStatus, i16)> {
    (into_done_column && current.0 != TaskStatus::Done).then_some(task::DONE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaskStatus::*;

    #[test]
    fn drop_into_done_column_table() {
        // (into the done column, current) → new (status, progress)
        let table = [
            (true, (NotStarted, 0), Some((Done, 100))),
            (true, (InProgress, 40), Some((Done, 100))),
            (true, (InProgress, 99), Some((Done, 100))),
            (true, (NotNeeded, 0), Some((Done, 100))),
            (true, (NotNeeded, 30), Some((Done, 100))),
            (true, (Done, 100), None),
            (false, (NotStarted, 0), None),
            (false, (InProgress, 40), None),
            (false, (NotNeeded, 10), None),
            (false, (Done, 100), None),
        ];
        for (done_column, current, expected) in table {
            assert_eq!(
                on_drop(done_column, current),
                expected,
                "{done_column} {current:?}"
            );
        }
    }
}
