//! Sprint rules: finishing a sprint moves the tasks of the board's done column into a
//! dated box in the project's "Done Sprints" slice (created when missing), leaving the
//! done column empty as far as the finisher can tell.
//!
//! The DAL loads the board, the project's slices and the done column's tasks, asks the
//! functions here what to do, and applies the answer in one transaction.

use chrono::NaiveDate;
use uuid::Uuid;

use crate::validate::ValidationError;

/// The slice finished sprints are kept in (created when missing).
pub const DONE_SPRINTS_SLICE: &str = "Done Sprints";

/// The done column whose tasks a sprint finished from the column `board_box` moves:
/// its board's done column. Refused when `board_box` is not a board column, or when
/// its board has none (a sprint needs one to know what is finished).
pub fn done_column<T>(is_board_column: bool, done_column: Option<T>) -> Result<T, ValidationError> {
    if !is_board_column {
        return Err(ValidationError::new(
            "boxId",
            "this box is not a board column",
        ));
    }
    done_column.ok_or_else(|| {
        ValidationError::new("boxId", "this board has no done column; mark one first")
    })
}

/// Where finished sprints go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Archive {
    /// The project's "Done Sprints" slice.
    Existing(Uuid),
    /// There is none yet: create it at this index of the project's slice order.
    CreateAt(usize),
}

/// The project's "Done Sprints" slice (the first, in order, if users made several), or
/// where to create it: right after the board's slice, so the archive sits next to the
/// board it came from (at the end if the board's slice is not among `slices`).
/// `slices` are the project's slices in order, as (id, name).
pub fn archive(slices: &[(Uuid, &str)], board_slice: Uuid) -> Archive {
    if let Some((id, _)) = slices.iter().find(|(_, name)| *name == DONE_SPRINTS_SLICE) {
        return Archive::Existing(*id);
    }
    Archive::CreateAt(
        slices
            .iter()
            .position(|(id, _)| *id == board_slice)
            .map_or(slices.len(), |i| i + 1),
    )
}

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

/// A task of the done column as the finisher relates to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColumnTask {
    pub id: Uuid,
    /// The finisher may see it.
    pub visible: bool,
    /// The finisher may edit it.
    pub editable: bool,
}

/// The tasks that leave the done column, in the given order: only those the finisher
/// may see and edit. A task hidden from them (or visible but not theirs to edit) stays
/// where it is: moving it would change what they cannot see, and counting it would
/// reveal it. Those who see what stayed finish it in a later sprint.
pub fn leaving(tasks: &[ColumnTask]) -> Vec<Uuid> {
    tasks
        .iter()
        .filter(|t| t.visible && t.editable)
        .map(|t| t.id)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn names_are_dated_and_unique() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default();
        let owned = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        // existing names in the Done Sprints slice → the new box's name
        let table: [(&[&str], &str); 6] = [
            (&[], "2026-11-23"),
            (&["2026-11-23"], "2026-11-23 (2)"),
            (&["2026-11-23", "2026-11-23 (2)"], "2026-11-23 (3)"),
            // A gap is filled: "(2)" is free again.
            (&["2026-11-23", "2026-11-23 (3)"], "2026-11-23 (2)"),
            // Other days' boxes do not count.
            (&["2026-11-22", "2026-11-22 (2)"], "2026-11-23"),
            // Only the plain name counts as taken: "(2)" alone leaves it free.
            (&["2026-11-23 (2)"], "2026-11-23"),
        ];
        for (existing, expected) in table {
            assert_eq!(
                sprint_box_name(d, &owned(existing)),
                expected,
                "{existing:?}"
            );
        }
    }

    #[test]
    fn done_column_table() {
        let not_column = Err(ValidationError::new(
            "boxId",
            "this box is not a board column",
        ));
        let no_done = Err(ValidationError::new(
            "boxId",
            "this board has no done column; mark one first",
        ));
        // (is a board column, the board's done column) → decision
        let table = [
            (true, Some(id(7)), Ok(id(7))),
            (true, None, no_done),
            (false, Some(id(7)), not_column.clone()),
            (false, None, not_column),
        ];
        for (is_column, done, expected) in table {
            assert_eq!(
                done_column(is_column, done),
                expected,
                "{is_column} {done:?}"
            );
        }
    }

    #[test]
    fn archive_slice_table() {
        let (board, other, later, done) = (id(1), id(2), id(3), id(4));
        // (project slices in order, board slice) → where finished sprints go
        let table: [(&[(Uuid, &str)], Archive); 7] = [
            (&[(board, "Sprint board")], Archive::CreateAt(1)),
            (
                &[(board, "Sprint board"), (later, "Later")],
                Archive::CreateAt(1),
            ),
            (
                &[(other, "Plan"), (board, "Sprint board"), (later, "Later")],
                Archive::CreateAt(2),
            ),
            // The board's slice not among them: at the end.
            (&[(other, "Plan")], Archive::CreateAt(1)),
            (&[], Archive::CreateAt(0)),
            (
                &[
                    (board, "Sprint board"),
                    (later, "Later"),
                    (done, "Done Sprints"),
                ],
                Archive::Existing(done),
            ),
            // Several named so: the first in order. Names match exactly.
            (
                &[
                    (other, "done sprints"),
                    (done, "Done Sprints"),
                    (later, "Done Sprints"),
                ],
                Archive::Existing(done),
            ),
        ];
        for (slices, expected) in table {
            assert_eq!(archive(slices, board), expected, "{slices:?}");
        }
    }

    #[test]
    fn tasks_leaving_the_done_column_table() {
        let t = |n, visible, editable| ColumnTask {
            id: id(n),
            visible,
            editable,
        };
        // (the column's tasks) → the ones that move, in order
        let table: [(Vec<ColumnTask>, Vec<Uuid>); 5] = [
            (vec![], vec![]),
            (vec![t(1, true, true), t(2, true, true)], vec![id(1), id(2)]),
            (vec![t(1, true, false), t(2, true, true)], vec![id(2)]),
            (vec![t(1, false, false), t(2, false, true)], vec![]),
            (
                vec![t(3, true, true), t(1, false, true), t(2, true, true)],
                vec![id(3), id(2)],
            ),
        ];
        for (tasks, expected) in table {
            assert_eq!(leaving(&tasks), expected, "{tasks:?}");
        }
    }
}
