//! One pass over the tasks of a few projects that the actor may see, answering every
//! level of their trees at once: the rollup of each project, slice and box, and how
//! many tasks each project and box holds.
//!
//! A board's column of thousands of cards was read four times per request (the box's
//! count and the rollups of the box, its slice and its project); the API's loaders run
//! this pass when a project's progress is asked and answer the levels below from it,
//! empty boxes and slices included.

use std::collections::HashMap;

use diesel::sql_types::{BigInt, Nullable, Uuid as SqlUuid};
use diesel::PgConnection;
use uuid::Uuid;

use crate::actor::Actor;
use crate::batch::{projects_of, RollupOf, TaskParent};
use crate::error::DalResult;
use crate::raw::Raw;

/// What one pass found.
///
/// Every project asked about has its entries, and so has every slice and box of
/// these projects: one without a task the actor sees has no rollup and no tasks, as
/// its own statement would say (a task's box is of the task's project, and a box's
/// slice of the box's project: the schema's keys hold them together). An entry is only
/// read for a slice or box the caller was allowed to reach; one absent is not of these
/// projects.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LevelSums {
    pub progress: HashMap<(RollupOf, Uuid), Option<f64>>,
    pub tasks: HashMap<(TaskParent, Uuid), i64>,
}

/// One (project, box) group of visible tasks with the box's slice; or a box or slice
/// of the projects, with nothing in it (n = 0).
#[derive(diesel::QueryableByName)]
struct GroupRow {
    #[diesel(sql_type = SqlUuid)]
    project_id: Uuid,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    box_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    slice_id: Option<Uuid>,
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    weighted: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    total: Option<i64>,
}

/// Task count and the two sums of the rollup rule, added up over groups.
#[derive(Clone, Copy, Default)]
struct Totals {
    n: i64,
    weighted: i64,
    total: i64,
}

impl Totals {
    fn add(&mut self, row: &GroupRow) {
        self.n = self.n.saturating_add(row.n);
        self.weighted = self.weighted.saturating_add(row.weighted.unwrap_or(0));
        self.total = self.total.saturating_add(row.total.unwrap_or(0));
    }

    fn rollup(&self) -> Option<f64> {
        crust_domain::progress::from_sums(self.weighted, self.total)
    }
}

/// The rollups and task counts of these projects and of their slices and boxes, over
/// the tasks the actor may see, in one statement (the same rules as
/// [`crate::batch::progress_of`] and [`crate::batch::tasks_of`]).
///
/// PostgreSQL sums each box's tasks once (one group per project and box); the slices'
/// and projects' figures are those sums added up here, as the rule's sums add up.
/// Grouping every task row three ways (`GROUPING SETS`, with a join per row for its
/// slice) cost half as much again for a board's column of 3,000 cards.
pub fn level_sums(
    conn: &mut PgConnection,
    actor: &Actor,
    projects: &[Uuid],
) -> DalResult<LevelSums> {
    use crust_domain::progress::{SQL_COUNTS, SQL_PROGRESS, SQL_WEIGHT};
    let mut q = Raw::new(&format!(
        "SELECT g.project_id, g.box_id, b.slice_id, g.n, g.weighted, g.total FROM ( \
           SELECT t.project_id, t.box_id, count(*) AS n, \
                  sum({SQL_WEIGHT} * {SQL_PROGRESS}) FILTER (WHERE {SQL_COUNTS})::bigint AS weighted, \
                  sum({SQL_WEIGHT}) FILTER (WHERE {SQL_COUNTS})::bigint AS total \
             FROM tasks t \
            WHERE t.project_id = ANY("
    ));
    q.uuids(projects.to_vec())
        .sql(") AND ")
        .task_rule_within(actor, "t", projects_of(RollupOf::Project, projects))
        .sql(" GROUP BY t.project_id, t.box_id) g LEFT JOIN boxes b ON b.id = g.box_id AND b.project_id = g.project_id")
        // Every box and slice of these projects, empty or not: the levels below need
        // no statement of their own for those the actor sees no task in.
        .sql(" UNION ALL SELECT b.project_id, b.id, b.slice_id, 0, NULL, NULL FROM boxes b WHERE b.project_id = ANY(")
        .uuids(projects.to_vec())
        .sql(") UNION ALL SELECT s.project_id, NULL, s.id, 0, NULL, NULL FROM slices s WHERE s.project_id = ANY(")
        .uuids(projects.to_vec())
        .sql(")");
    let mut of_projects: HashMap<Uuid, Totals> = HashMap::new();
    let mut of_slices: HashMap<Uuid, Totals> = HashMap::new();
    let mut of_boxes: HashMap<Uuid, Totals> = HashMap::new();
    for p in projects {
        of_projects.insert(*p, Totals::default());
    }
    for row in q.load::<GroupRow>(conn)? {
        of_projects.entry(row.project_id).or_default().add(&row);
        // Unboxed tasks count for their project only.
        if let Some(slice) = row.slice_id {
            of_slices.entry(slice).or_default().add(&row);
        }
        if let Some(b) = row.box_id {
            of_boxes.entry(b).or_default().add(&row);
        }
    }
    let mut sums = LevelSums::default();
    for (id, t) in of_projects {
        sums.progress.insert((RollupOf::Project, id), t.rollup());
        sums.tasks.insert((TaskParent::Project, id), t.n);
    }
    for (id, t) in of_slices {
        sums.progress.insert((RollupOf::Slice, id), t.rollup());
    }
    for (id, t) in of_boxes {
        sums.progress.insert((RollupOf::Box, id), t.rollup());
        sums.tasks.insert((TaskParent::Box, id), t.n);
    }
    Ok(sums)
}
