//! One pass over the tasks of a few projects that the actor may see, answering every
//! level of their trees at once: the rollup of each project, slice and box, and how
//! many tasks each project and box holds.
//!
//! A board's column of thousands of cards was read four times per request (the box's
//! count and the rollups of the box, its slice and its project); the API's loaders run
//! this pass when a project's progress is asked and answer the levels below from it.

use std::collections::HashMap;

use diesel::sql_types::{BigInt, Nullable, Text, Uuid as SqlUuid};
use diesel::PgConnection;
use uuid::Uuid;

use crate::actor::Actor;
use crate::batch::{projects_of, RollupOf, TaskParent};
use crate::error::DalResult;
use crate::raw::Raw;

/// What one pass found.
///
/// Every project asked about has its entries (a project without a visible task: no
/// rollup, no tasks). A slice or box appears only when the actor sees at least one of
/// its tasks; one that is absent may be empty or may not belong to these projects, so
/// it is not known from this pass.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LevelSums {
    pub progress: HashMap<(RollupOf, Uuid), Option<f64>>,
    pub tasks: HashMap<(TaskParent, Uuid), i64>,
}

#[derive(diesel::QueryableByName)]
struct LevelRow {
    #[diesel(sql_type = Text)]
    level: String,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    id: Option<Uuid>,
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    weighted: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    total: Option<i64>,
}

/// The rollups and task counts of these projects and of their slices and boxes, over
/// the tasks the actor may see, in one statement (the same rules as
/// [`crate::batch::progress_of`] and [`crate::batch::tasks_of`]).
pub fn level_sums(
    conn: &mut PgConnection,
    actor: &Actor,
    projects: &[Uuid],
) -> DalResult<LevelSums> {
    use crust_domain::progress::{from_sums, SQL_COUNTS, SQL_PROGRESS, SQL_WEIGHT};
    let mut q = Raw::new(&format!(
        "SELECT CASE WHEN GROUPING(t.project_id) = 0 THEN 'project' \
                     WHEN GROUPING(b.slice_id) = 0 THEN 'slice' ELSE 'box' END AS level, \
                COALESCE(t.project_id, b.slice_id, t.box_id) AS id, count(*) AS n, \
                sum({SQL_WEIGHT} * {SQL_PROGRESS}) FILTER (WHERE {SQL_COUNTS})::bigint AS weighted, \
                sum({SQL_WEIGHT}) FILTER (WHERE {SQL_COUNTS})::bigint AS total \
           FROM tasks t LEFT JOIN boxes b ON b.id = t.box_id \
          WHERE t.project_id = ANY("
    ));
    q.uuids(projects.to_vec())
        .sql(") AND ")
        .task_rule_within(actor, "t", projects_of(RollupOf::Project, projects))
        .sql(" GROUP BY GROUPING SETS ((t.project_id), (b.slice_id), (t.box_id))");
    let mut sums = LevelSums::default();
    for p in projects {
        sums.progress.insert((RollupOf::Project, *p), None);
        sums.tasks.insert((TaskParent::Project, *p), 0);
    }
    for row in q.load::<LevelRow>(conn)? {
        // The slice and box groups of unboxed tasks have no id.
        let Some(id) = row.id else { continue };
        let rollup = from_sums(row.weighted.unwrap_or(0), row.total.unwrap_or(0));
        let (of, parent) = match row.level.as_str() {
            "project" => (RollupOf::Project, Some(TaskParent::Project)),
            "slice" => (RollupOf::Slice, None),
            _ => (RollupOf::Box, Some(TaskParent::Box)),
        };
        sums.progress.insert((of, id), rollup);
        if let Some(parent) = parent {
            sums.tasks.insert((parent, id), row.n);
        }
    }
    Ok(sums)
}
