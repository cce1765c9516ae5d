//! Batched reads for nested GraphQL fields (the API's DataLoaders): one statement
//! answers a whole level of the tree — all boxes of these slices, all tasks of these
//! boxes, … — however many parents there are. Every query applies the same visibility
//! rules as the single-object reads, so a nested list never shows more than a
//! top-level one would.
//!
//! Results are maps by parent id with foldhash's hasher ([`HashMap`]): the API looks
//! them up for every task of a page, and std's SipHash was a measurable share of it.

/// A map by id with a hasher seeded at random per process (foldhash's fast one).
pub use foldhash::HashMap;
use foldhash::HashMapExt;

use crust_domain::dependency::blocks;
use crust_domain::roles::DependencyKind;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Uuid as SqlUuid};
use uuid::Uuid;

use crate::actor::Actor;
use crate::error::DalResult;
use crate::models::{Comment, Dependency, Slice, Stored, Task, TaskBox, User};
use crate::page::{Page, Paged};
use crate::raw::Raw;

macro_rules! ranked {
    ($name:ident, $item:ty) => {
        #[derive(QueryableByName)]
        struct $name {
            #[diesel(embed)]
            item: $item,
            #[diesel(sql_type = SqlUuid)]
            parent: Uuid,
            #[diesel(sql_type = BigInt)]
            total: i64,
            #[diesel(sql_type = BigInt)]
            rn: i64,
        }
    };
}

ranked!(RankedSlice, Slice);
ranked!(RankedBox, TaskBox);
ranked!(RankedComment, Comment);
ranked!(RankedAttachment, crate::attachments::Attachment);

/// Wraps `inner` (which must select the item's columns plus `parent`, `total` and
/// `rn`) so that only each parent's page comes back, plus its first row as a carrier
/// of the total when the page itself is empty.
fn page_of(inner: Raw, page: Page) -> Raw {
    let mut q = Raw::new("SELECT * FROM (");
    q.append(inner);
    q.sql(") ranked WHERE (rn > ")
        .bigint(page.offset)
        .sql(" AND rn <= ")
        .bigint(page.offset + page.limit);
    q.sql(") OR rn = 1 ORDER BY parent, rn");
    q
}

fn group<T>(
    rows: impl IntoIterator<Item = (T, Uuid, i64, i64)>,
    parents: &[Uuid],
    page: Page,
) -> HashMap<Uuid, Paged<T>> {
    let mut out: HashMap<Uuid, Paged<T>> =
        parents.iter().map(|p| (*p, Paged::empty(page))).collect();
    for (item, parent, total, rn) in rows {
        let entry = out
            .entry(parent)
            .or_insert_with(|| Paged::new(Vec::new(), total, page));
        entry.total = total;
        if rn > page.offset && rn <= page.offset + page.limit {
            entry.items.push(item);
        }
    }
    out
}

const TASK_COLUMNS: &str = "t.id, t.org_id, t.project_id, t.box_id, t.title, t.description, t.status, t.progress, \
     t.classification, t.start_date, t.due_date, t.duration_days, t.position, t.created_at, t.updated_at, t.recipe_role";

/// The slices of these projects, in order (projects the actor may not read have none).
pub fn slices_of_projects(
    conn: &mut PgConnection,
    actor: &Actor,
    projects: &[Uuid],
    page: Page,
) -> DalResult<HashMap<Uuid, Paged<Slice>>> {
    let mut inner = Raw::new(
        "SELECT s.id, s.project_id, s.name, s.position, s.project_id AS parent, \
                count(*) OVER (PARTITION BY s.project_id) AS total, \
                row_number() OVER (PARTITION BY s.project_id ORDER BY s.position, s.id) AS rn \
           FROM slices s JOIN projects p ON p.id = s.project_id WHERE s.project_id = ANY(",
    );
    inner
        .uuids(projects.to_vec())
        .sql(") AND ")
        .project_rule(actor, "p");
    let rows: Vec<RankedSlice> = page_of(inner, page).load(conn)?;
    Ok(group(
        rows.into_iter().map(|r| (r.item, r.parent, r.total, r.rn)),
        projects,
        page,
    ))
}

/// The boxes of these slices, in order.
pub fn boxes_of_slices(
    conn: &mut PgConnection,
    actor: &Actor,
    slices: &[Uuid],
    page: Page,
) -> DalResult<HashMap<Uuid, Paged<TaskBox>>> {
    let mut inner = Raw::new(
        "SELECT b.id, b.slice_id, b.project_id, b.name, b.position, b.board_column, b.done_column, b.slice_id AS parent, \
                count(*) OVER (PARTITION BY b.slice_id) AS total, \
                row_number() OVER (PARTITION BY b.slice_id ORDER BY b.position, b.id) AS rn \
           FROM boxes b JOIN projects p ON p.id = b.project_id WHERE b.slice_id = ANY(",
    );
    inner
        .uuids(slices.to_vec())
        .sql(") AND ")
        .project_rule(actor, "p");
    let rows: Vec<RankedBox> = page_of(inner, page).load(conn)?;
    Ok(group(
        rows.into_iter().map(|r| (r.item, r.parent, r.total, r.rn)),
        slices,
        page,
    ))
}

/// Which column groups tasks for [`tasks_of`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaskParent {
    Box,
    Project,
}

/// The tasks the actor may see in these boxes (or projects), in position order.
///
/// Each parent's page is read through the `(box_id, position, id)` index and stops at
/// its limit (a board column of thousands of cards returns its first 50 without ranking
/// the rest); the totals are a plain count beside it.
pub fn tasks_of(
    conn: &mut PgConnection,
    actor: &Actor,
    by: TaskParent,
    parents: &[Uuid],
    page: Page,
) -> DalResult<HashMap<Uuid, Paged<Task>>> {
    tasks_of_counted(conn, actor, by, parents, page, HashMap::new())
}

/// [`tasks_of`] where the totals of some parents are known already (from
/// [`crate::sums::level_sums`] in the same request): only the others are counted, and
/// when none is left no count runs at all.
pub fn tasks_of_counted(
    conn: &mut PgConnection,
    actor: &Actor,
    by: TaskParent,
    parents: &[Uuid],
    page: Page,
    mut totals: HashMap<Uuid, i64>,
) -> DalResult<HashMap<Uuid, Paged<Task>>> {
    let (column, of) = match by {
        TaskParent::Box => ("t.box_id", RollupOf::Box),
        TaskParent::Project => ("t.project_id", RollupOf::Project),
    };
    let uncounted: Vec<Uuid> = parents
        .iter()
        .filter(|p| !totals.contains_key(p))
        .copied()
        .collect();
    if !uncounted.is_empty() {
        let mut count = Raw::new(&format!(
            "SELECT {column} AS id, count(*) AS n FROM tasks t WHERE {column} = ANY("
        ));
        let scope = projects_of(of, &uncounted);
        count
            .uuids(uncounted)
            .sql(") AND ")
            .task_rule_within(actor, "t", scope)
            .sql(" GROUP BY 1");
        totals.extend(
            count
                .load::<IdCount>(conn)?
                .into_iter()
                .map(|r| (r.id, r.n)),
        );
    }
    let mut out: HashMap<Uuid, Paged<Task>> = parents
        .iter()
        .map(|p| {
            (
                *p,
                Paged::new(Vec::new(), totals.get(p).copied().unwrap_or(0), page),
            )
        })
        .collect();
    let wanted: Vec<Uuid> = parents
        .iter()
        .filter(|p| totals.get(p).copied().unwrap_or(0) > page.offset)
        .copied()
        .collect();
    if wanted.is_empty() {
        return Ok(out);
    }
    let mut rows = Raw::new(&format!("SELECT {TASK_COLUMNS}, p.parent FROM unnest("));
    let scope = projects_of(of, &wanted);
    rows.uuids(wanted)
        .sql(&format!(
            ") AS p(parent) CROSS JOIN LATERAL (SELECT t.* FROM tasks t WHERE {column} = p.parent AND "
        ))
        .task_rule_within(actor, "t", scope)
        .sql(" ORDER BY t.position, t.id OFFSET ")
        .bigint(page.offset)
        .sql(" LIMIT ")
        .bigint(page.limit)
        .sql(") t ORDER BY p.parent, t.position, t.id");
    for row in rows.load::<TaskOf>(conn)? {
        if let Some(paged) = out.get_mut(&row.parent) {
            paged.items.push(row.item);
        }
    }
    Ok(out)
}

#[derive(QueryableByName)]
struct IdCount {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct TaskOf {
    #[diesel(embed)]
    item: Task,
    #[diesel(sql_type = SqlUuid)]
    parent: Uuid,
}

/// The comments on these tasks, oldest first.
pub fn comments_of_tasks(
    conn: &mut PgConnection,
    actor: &Actor,
    tasks: &[Uuid],
    page: Page,
) -> DalResult<HashMap<Uuid, Paged<Comment>>> {
    let mut inner = Raw::new(
        "SELECT c.id, c.task_id, c.org_id, c.author_id, c.body, c.created_at, c.edited_at, c.task_id AS parent, \
                count(*) OVER (PARTITION BY c.task_id) AS total, \
                row_number() OVER (PARTITION BY c.task_id ORDER BY c.created_at, c.id) AS rn \
           FROM comments c JOIN tasks t ON t.id = c.task_id WHERE c.task_id = ANY(",
    );
    inner
        .uuids(tasks.to_vec())
        .sql(") AND ")
        .task_rule(actor, "t");
    let rows: Vec<RankedComment> = page_of(inner, page).load(conn)?;
    Ok(group(
        rows.into_iter().map(|r| (r.item, r.parent, r.total, r.rn)),
        tasks,
        page,
    ))
}

/// The attachments of these tasks, oldest first.
pub fn attachments_of_tasks(
    conn: &mut PgConnection,
    actor: &Actor,
    tasks: &[Uuid],
    page: Page,
) -> DalResult<HashMap<Uuid, Paged<crate::attachments::Attachment>>> {
    let mut inner = Raw::new(
        "SELECT a.id, a.task_id, a.org_id, a.uploader_id, a.name, a.content_type, a.size_bytes, \
                a.storage_key, a.key_id, a.wrapped_key, a.nonce_prefix, a.created_at, a.task_id AS parent, \
                count(*) OVER (PARTITION BY a.task_id) AS total, \
                row_number() OVER (PARTITION BY a.task_id ORDER BY a.created_at, a.id) AS rn \
           FROM attachments a JOIN tasks t ON t.id = a.task_id WHERE a.task_id = ANY(",
    );
    inner
        .uuids(tasks.to_vec())
        .sql(") AND ")
        .task_rule(actor, "t");
    let rows: Vec<RankedAttachment> = page_of(inner, page).load(conn)?;
    Ok(group(
        rows.into_iter().map(|r| (r.item, r.parent, r.total, r.rn)),
        tasks,
        page,
    ))
}

#[derive(QueryableByName)]
struct ParentUser {
    #[diesel(sql_type = SqlUuid)]
    parent: Uuid,
    #[diesel(embed)]
    user: User,
}

/// The assignees of these (visible) tasks, by name.
pub fn assignees_of_tasks(
    conn: &mut PgConnection,
    actor: &Actor,
    tasks: &[Uuid],
) -> DalResult<HashMap<Uuid, Vec<User>>> {
    let mut q = Raw::new(
        "SELECT a.task_id AS parent, u.id, u.email, u.name, u.active, u.created_at \
           FROM task_assignees a JOIN users u ON u.id = a.user_id JOIN tasks t ON t.id = a.task_id \
          WHERE a.task_id = ANY(",
    );
    q.uuids(tasks.to_vec())
        .sql(") AND ")
        .task_rule(actor, "t")
        .sql(" ORDER BY u.name, u.id");
    let mut out: HashMap<Uuid, Vec<User>> = tasks.iter().map(|t| (*t, Vec::new())).collect();
    for row in q.load::<ParentUser>(conn)? {
        out.entry(row.parent).or_default().push(row.user);
    }
    Ok(out)
}

/// Which side of a dependency to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The tasks these tasks depend on (predecessors).
    DependsOn,
    /// The tasks that depend on these tasks (successors).
    Dependents,
}

#[derive(QueryableByName)]
struct ParentDependency {
    #[diesel(sql_type = SqlUuid)]
    parent: Uuid,
    #[diesel(sql_type = Text, deserialize_as = Stored<DependencyKind>)]
    kind: DependencyKind,
    #[diesel(embed)]
    task: Task,
}

/// Dependencies of these tasks, where both ends are visible to the actor: a task the
/// actor may not see is never listed, nor hinted at.
pub fn dependencies_of_tasks(
    conn: &mut PgConnection,
    actor: &Actor,
    tasks: &[Uuid],
    direction: Direction,
) -> DalResult<HashMap<Uuid, Vec<Dependency>>> {
    let (mine, other) = match direction {
        Direction::DependsOn => ("task_id", "depends_on_task_id"),
        Direction::Dependents => ("depends_on_task_id", "task_id"),
    };
    let mut q = Raw::new(&format!(
        "SELECT d.{mine} AS parent, d.kind, {TASK_COLUMNS} \
           FROM task_dependencies d JOIN tasks t ON t.id = d.{other} JOIN tasks s ON s.id = d.{mine} \
          WHERE d.{mine} = ANY("
    ));
    q.uuids(tasks.to_vec())
        .sql(") AND ")
        .task_rule(actor, "s")
        .sql(" AND ")
        .task_rule(actor, "t")
        .sql(" ORDER BY t.title, t.id");
    let mut out: HashMap<Uuid, Vec<Dependency>> = tasks.iter().map(|t| (*t, Vec::new())).collect();
    for row in q.load::<ParentDependency>(conn)? {
        out.entry(row.parent).or_default().push(Dependency {
            task: row.task,
            kind: row.kind,
        });
    }
    Ok(out)
}

/// Whether each task is held back by an unmet visible predecessor.
pub fn blocked(deps: &HashMap<Uuid, Vec<Dependency>>) -> HashMap<Uuid, bool> {
    deps.iter()
        .map(|(task, preds)| (*task, preds.iter().any(|d| blocks(d.kind, d.task.status()))))
        .collect()
}

/// What a rollup is computed for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RollupOf {
    Box,
    Slice,
    Project,
}

#[derive(QueryableByName)]
struct RollupRow {
    #[diesel(sql_type = SqlUuid)]
    parent: Uuid,
    #[diesel(sql_type = BigInt)]
    weighted: i64,
    #[diesel(sql_type = BigInt)]
    total: i64,
}

/// The projects of these boxes, slices or projects, as a subquery: the scope of
/// [`Raw::task_rule_within`] for statements about their tasks.
pub(crate) fn projects_of(of: RollupOf, parents: &[Uuid]) -> Raw {
    let mut scope = Raw::new(match of {
        RollupOf::Box => "SELECT b.project_id FROM boxes b WHERE b.id = ANY(",
        RollupOf::Slice => "SELECT s.project_id FROM slices s WHERE s.id = ANY(",
        RollupOf::Project => "SELECT p.id FROM projects p WHERE p.id = ANY(",
    });
    scope.uuids(parents.to_vec()).sql(")");
    scope
}

/// Progress of boxes, slices or projects over the tasks the actor may see
/// (`crust_domain::progress`): summed in SQL by the domain's rule, one row per parent
/// back; `None` where no task counts.
pub fn progress_of(
    conn: &mut PgConnection,
    actor: &Actor,
    of: RollupOf,
    parents: &[Uuid],
) -> DalResult<HashMap<Uuid, Option<f64>>> {
    use crust_domain::progress::{from_sums, SQL_COUNTS, SQL_PROGRESS, SQL_WEIGHT};
    let (from, parent) = match of {
        RollupOf::Box => ("tasks t", "t.box_id"),
        RollupOf::Slice => (
            "tasks t JOIN boxes b ON b.id = t.box_id AND b.project_id = t.project_id",
            "b.slice_id",
        ),
        RollupOf::Project => ("tasks t", "t.project_id"),
    };
    let mut q = Raw::new(&format!(
        "SELECT {parent} AS parent, sum({SQL_WEIGHT} * {SQL_PROGRESS})::bigint AS weighted, \
         sum({SQL_WEIGHT})::bigint AS total FROM {from} WHERE {SQL_COUNTS} AND {parent} = ANY("
    ));
    q.uuids(parents.to_vec())
        .sql(") AND ")
        .task_rule_within(actor, "t", projects_of(of, parents))
        .sql(&format!(" GROUP BY {parent}"));
    let mut sums: HashMap<Uuid, (i64, i64)> = q
        .load::<RollupRow>(conn)?
        .into_iter()
        .map(|r| (r.parent, (r.weighted, r.total)))
        .collect();
    Ok(parents
        .iter()
        .map(|p| {
            let rollup = sums.remove(p).and_then(|(w, t)| from_sums(w, t));
            (*p, rollup)
        })
        .collect())
}

/// Users sharing an organization with the actor (comment authors and the like).
pub fn users_by_id(
    conn: &mut PgConnection,
    actor: &Actor,
    ids: &[Uuid],
) -> DalResult<HashMap<Uuid, User>> {
    use crate::schema::{memberships, users};
    let rows: Vec<User> = users::table
        .filter(users::id.eq_any(ids))
        .filter(diesel::dsl::exists(
            memberships::table
                .filter(memberships::user_id.eq(users::id))
                .filter(memberships::org_id.eq_any(actor.orgs_with(crust_domain::OrgRole::Guest))),
        ))
        .select(User::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(|u| (u.id, u)).collect())
}

#[derive(QueryableByName)]
struct IdName {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    name: String,
}

/// The names of projects the actor may read or holds a visible task in: the minimum a
/// task's guest needs to render it.
pub fn project_names(
    conn: &mut PgConnection,
    actor: &Actor,
    ids: &[Uuid],
) -> DalResult<HashMap<Uuid, String>> {
    let mut q = Raw::new("SELECT p.id, p.name FROM projects p WHERE p.id = ANY(");
    q.uuids(ids.to_vec())
        .sql(") AND (")
        .project_rule(actor, "p")
        .sql(" OR EXISTS (SELECT 1 FROM tasks t WHERE t.project_id = p.id AND ")
        .task_rule(actor, "t")
        .sql("))");
    Ok(q.load::<IdName>(conn)?
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect())
}
