//! Progress rollups as Pie computes them: the duration-weighted mean of the tasks'
//! progress, Σ(duration × progress) / Σ duration. A task without a duration weighs one
//! day, NOT_NEEDED tasks do not count, a DONE task counts 100.

use crate::roles::TaskStatus;

/// One task as the rollup sees it.
#[derive(Clone, Copy, Debug)]
pub struct Weighed {
    pub status: TaskStatus,
    pub progress: i16,
    pub duration_days: Option<i32>,
}

/// The rollup over some tasks, in percent; `None` when no task counts.
pub fn rollup(tasks: impl IntoIterator<Item = Weighed>) -> Option<f64> {
    let (mut weighted, mut total) = (0i64, 0i64);
    for t in tasks {
        if t.status == TaskStatus::NotNeeded {
            continue;
        }
        let weight = i64::from(t.duration_days.filter(|d| *d > 0).unwrap_or(1));
        let progress = if t.status == TaskStatus::Done {
            100
        } else {
            i64::from(t.progress.clamp(0, 100))
        };
        weighted += weight * progress;
        total += weight;
    }
    from_sums(weighted, total)
}

/// The same rule for PostgreSQL, so a rollup is summed where the rows are rather than
/// shipped to be summed here: over a task row aliased `t`, whether it counts, its
/// weight and its progress, exactly as [`rollup`] reads them. Sum
/// `weight * progress` and `weight` over the rows that count, and finish with
/// [`from_sums`]. (A test in `tests/e2e` checks SQL and [`rollup`] agree.)
pub const SQL_COUNTS: &str = "t.status <> 'NOT_NEEDED'";
pub const SQL_WEIGHT: &str = "(CASE WHEN t.duration_days > 0 THEN t.duration_days ELSE 1 END)";
pub const SQL_PROGRESS: &str =
    "(CASE WHEN t.status = 'DONE' THEN 100 ELSE LEAST(GREATEST(t.progress, 0), 100) END)";

/// The rollup from Σ(weight × progress) and Σ weight; `None` when nothing counted.
pub fn from_sums(weighted: i64, total: i64) -> Option<f64> {
    (total > 0).then(|| weighted as f64 / total as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaskStatus::*;

    fn t(status: TaskStatus, progress: i16, duration: Option<i32>) -> Weighed {
        Weighed {
            status,
            progress,
            duration_days: duration,
        }
    }

    #[test]
    fn duration_weighted_mean() {
        // 3 days at 100 % and 1 day at 0 % → 75 %.
        assert_eq!(
            rollup([t(Done, 100, Some(3)), t(NotStarted, 0, None)]),
            Some(75.0)
        );
        // A task with no duration weighs one day.
        assert_eq!(
            rollup([t(InProgress, 50, None), t(InProgress, 100, None)]),
            Some(75.0)
        );
    }

    #[test]
    fn not_needed_is_left_out_and_done_counts_full() {
        assert_eq!(
            rollup([t(NotNeeded, 0, Some(10)), t(InProgress, 40, Some(2))]),
            Some(40.0)
        );
        assert_eq!(rollup([t(Done, 30, None)]), Some(100.0));
        assert_eq!(rollup([t(NotNeeded, 0, None)]), None);
        assert_eq!(rollup([]), None);
    }
}
