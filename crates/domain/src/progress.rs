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
    let (mut weighted, mut total) = (0f64, 0f64);
    for t in tasks {
        if t.status == TaskStatus::NotNeeded {
            continue;
        }
        let weight = f64::from(t.duration_days.filter(|d| *d > 0).unwrap_or(1));
        let progress = if t.status == TaskStatus::Done {
            100.0
        } else {
            f64::from(t.progress.clamp(0, 100))
        };
        weighted += weight * progress;
        total += weight;
    }
    (total > 0.0).then(|| weighted / total)
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
