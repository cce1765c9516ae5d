//! Shifting a task's dates, and the walk that carries the shift to its successors.
//!
//! The DAL loads the organization's dependency links and which of the reachable tasks
//! the caller may edit; the functions here decide which tasks move and by how much;
//! the DAL then writes the moved dates.

use std::collections::{HashMap, HashSet, VecDeque};

use chrono::{Duration, NaiveDate};
use uuid::Uuid;

use crate::roles::DependencyKind;
use crate::validate::ValidationError;

/// The most days one shift may move a task (ten years).
pub const MAX_SHIFT_DAYS: i32 = 3650;

/// One dependency link: `task` depends on `on`, of `kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    pub task: Uuid,
    pub on: Uuid,
    pub kind: DependencyKind,
}

/// One task the shift moves, and by how many days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Move {
    pub task: Uuid,
    pub days: i32,
}

/// The shift asked for, checked: within ±[`MAX_SHIFT_DAYS`].
pub fn check_days(days: i32) -> Result<i32, ValidationError> {
    if days.checked_abs().is_none_or(|d| d > MAX_SHIFT_DAYS) {
        return Err(ValidationError::new(
            "days",
            format!("must be within ±{MAX_SHIFT_DAYS}"),
        ));
    }
    Ok(days)
}

/// A date moved by `days` (no date stays none); refused past the calendar's ends.
pub fn moved(date: Option<NaiveDate>, days: i32) -> Result<Option<NaiveDate>, ValidationError> {
    date.map(|d| {
        d.checked_add_signed(Duration::days(i64::from(days)))
            .ok_or_else(|| ValidationError::new("days", "the date would leave the calendar"))
    })
    .transpose()
}

/// Every task a shift of `from` could reach along "is depended on by" links, ignoring
/// who may edit what: the tasks whose edit rights the caller must look up before
/// [`walk`]. In breadth-first order, `from` excluded.
pub fn reachable(links: &[Link], from: Uuid) -> Vec<Uuid> {
    let everyone = |_: Uuid| true;
    bfs(links, from, everyone)
}

/// Which tasks a shift of `from` by `days` moves, in the order they are reached:
/// `from` itself first, and with `propagate` its successors, breadth-first.
///
/// Only tasks the caller may edit (`editable`) move, and the walk stops at any other
/// task: it never reaches through a task the caller cannot change (or cannot see),
/// so a shift reveals and changes nothing beyond the caller's rights.
///
/// Every moved task moves by the same `days`, whatever the kind of link that reached
/// it: the whole chain moves as one, so the gap each link measures — finish to start,
/// start to start, finish to finish — stays exactly as it was.
pub fn walk(
    links: &[Link],
    from: Uuid,
    days: i32,
    propagate: bool,
    editable: &HashSet<Uuid>,
) -> Vec<Move> {
    let mut order = vec![from];
    if propagate {
        order.extend(bfs(links, from, |t| editable.contains(&t)));
    }
    order.into_iter().map(|task| Move { task, days }).collect()
}

/// Breadth-first from `from` along links from a task to those depending on it,
/// entering only tasks `enter` allows (each task is considered once).
fn bfs(links: &[Link], from: Uuid, enter: impl Fn(Uuid) -> bool) -> Vec<Uuid> {
    let mut successors: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for link in links {
        successors.entry(link.on).or_default().push(link.task);
    }
    let mut out = Vec::new();
    let mut seen: HashSet<Uuid> = HashSet::from([from]);
    let mut queue = VecDeque::from([from]);
    while let Some(at) = queue.pop_front() {
        for &next in successors.get(&at).map(Vec::as_slice).unwrap_or(&[]) {
            if !seen.insert(next) {
                continue;
            }
            if enter(next) {
                out.push(next);
                queue.push_back(next);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use DependencyKind::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    /// `task` depends on `on`.
    fn l(task: u128, on: u128, kind: DependencyKind) -> Link {
        Link {
            task: id(task),
            on: id(on),
            kind,
        }
    }

    fn ids(ns: &[u128]) -> Vec<Uuid> {
        ns.iter().map(|n| id(*n)).collect()
    }

    #[test]
    fn shift_walk_table() {
        let everyone: &[u128] = &[1, 2, 3, 4, 5, 6];
        // (links, from, propagate, editable) → moved tasks in order
        type Row<'a> = (Vec<Link>, u128, bool, &'a [u128], Vec<u128>);
        let table: Vec<Row> = vec![
            // No links: only the task itself.
            (vec![], 1, true, everyone, vec![1]),
            // A chain 1 ← 2 ← 3, of each kind: all move.
            (
                vec![l(2, 1, FinishToStart), l(3, 2, FinishToStart)],
                1,
                true,
                everyone,
                vec![1, 2, 3],
            ),
            (
                vec![l(2, 1, StartToStart), l(3, 2, FinishToFinish)],
                1,
                true,
                everyone,
                vec![1, 2, 3],
            ),
            // Without propagate, only the task.
            (
                vec![l(2, 1, FinishToStart), l(3, 2, FinishToStart)],
                1,
                false,
                everyone,
                vec![1],
            ),
            // Predecessors never move: shifting the middle moves it and what follows.
            (
                vec![l(2, 1, FinishToStart), l(3, 2, FinishToStart)],
                2,
                true,
                everyone,
                vec![2, 3],
            ),
            // The walk stops at a task the caller may not edit, and does not reach
            // through it (3 follows 2 only).
            (
                vec![l(2, 1, FinishToStart), l(3, 2, FinishToStart)],
                1,
                true,
                &[1, 3],
                vec![1],
            ),
            // …but a task reached another way still moves.
            (
                vec![
                    l(2, 1, FinishToStart),
                    l(3, 2, FinishToStart),
                    l(3, 1, StartToStart),
                ],
                1,
                true,
                &[1, 3],
                vec![1, 3],
            ),
            // The shifted task need not be in `editable` (the caller checked it).
            (vec![l(2, 1, FinishToStart)], 1, true, &[2], vec![1, 2]),
            // A diamond: each task once, breadth-first, in link order.
            (
                vec![
                    l(3, 1, FinishToStart),
                    l(2, 1, FinishToStart),
                    l(4, 2, FinishToStart),
                    l(4, 3, FinishToFinish),
                ],
                1,
                true,
                everyone,
                vec![1, 3, 2, 4],
            ),
            // Links elsewhere in the organization are not followed.
            (
                vec![l(2, 1, FinishToStart), l(6, 5, FinishToStart)],
                1,
                true,
                everyone,
                vec![1, 2],
            ),
        ];
        for (links, from, propagate, editable, expected) in table {
            let editable: HashSet<Uuid> = editable.iter().map(|n| id(*n)).collect();
            let moves = walk(&links, id(from), 3, propagate, &editable);
            assert_eq!(
                moves.iter().map(|m| m.task).collect::<Vec<_>>(),
                ids(&expected),
                "{links:?} from {from} propagate {propagate}"
            );
            // Every kind of link moves its successor by the same days.
            assert!(moves.iter().all(|m| m.days == 3), "{moves:?}");
        }
    }

    #[test]
    fn reachable_ignores_edit_rights_and_excludes_the_start() {
        let links = [
            l(2, 1, FinishToStart),
            l(3, 2, StartToStart),
            l(1, 9, FinishToStart),
        ];
        // (from) → reachable successors
        let table: [(u128, &[u128]); 4] = [(1, &[2, 3]), (2, &[3]), (3, &[]), (9, &[1, 2, 3])];
        for (from, expected) in table {
            assert_eq!(reachable(&links, id(from)), ids(expected), "{from}");
        }
    }

    #[test]
    fn shift_days_table() {
        let bad = Err(ValidationError::new("days", "must be within ±3650"));
        // days → decision
        let table = [
            (0, Ok(0)),
            (1, Ok(1)),
            (-1, Ok(-1)),
            (3650, Ok(3650)),
            (-3650, Ok(-3650)),
            (3651, bad.clone()),
            (-3651, bad.clone()),
            (i32::MAX, bad.clone()),
            (i32::MIN, bad),
        ];
        for (days, expected) in table {
            assert_eq!(check_days(days), expected, "{days}");
        }
    }

    #[test]
    fn moved_dates_table() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day);
        let off = Err(ValidationError::new(
            "days",
            "the date would leave the calendar",
        ));
        // (date, days) → moved date
        let table = [
            (None, 5, Ok(None)),
            (d(2027, 1, 4), 0, Ok(d(2027, 1, 4))),
            (d(2027, 1, 4), 3, Ok(d(2027, 1, 7))),
            (d(2027, 1, 4), -4, Ok(d(2026, 12, 31))),
            (Some(NaiveDate::MAX), 1, off.clone()),
            (Some(NaiveDate::MIN), -1, off),
        ];
        for (date, days, expected) in table {
            assert_eq!(moved(date, days), expected, "{date:?} {days}");
        }
    }
}
