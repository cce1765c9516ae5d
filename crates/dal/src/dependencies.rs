//! Dependencies between tasks of one organization (across projects too), never a
//! cycle. Linking needs edit rights on both tasks; a cycle is refused with its path.

use std::collections::HashSet;

use crust_domain::dependency::cycle_if_added;
use crust_domain::roles::DependencyKind;
use crust_domain::shift::{self, Link};
use crust_domain::{Action, BoxId, OrgId, TaskId};
use diesel::prelude::*;
use uuid::Uuid;

use crate::actor::Actor;
use crate::error::{DalError, DalResult};
use crate::models::{parse_dependency_kind, Task};
use crate::need_to_know;
use crate::schema::{task_dependencies, tasks};

fn edges(conn: &mut PgConnection, org: Uuid) -> DalResult<Vec<(Uuid, Uuid)>> {
    Ok(task_dependencies::table
        .filter(task_dependencies::org_id.eq(org))
        .select((
            task_dependencies::task_id,
            task_dependencies::depends_on_task_id,
        ))
        .load(conn)?)
}

/// Makes `task` depend on `on` (or changes the type of an existing link). Both must be
/// visible and editable by the actor and in the same organization (another org's task
/// is `NotFound`). Returns whether the link is new.
pub fn add(
    conn: &mut PgConnection,
    actor: &Actor,
    task: TaskId,
    on: TaskId,
    kind: DependencyKind,
) -> DalResult<bool> {
    conn.transaction(|conn| {
        let (t, _) =
            crate::tasks::authorize(conn, actor, task, Action::UpdateTask, "link this task")?;
        let (o, _) =
            crate::tasks::authorize(conn, actor, on, Action::UpdateTask, "link to this task")?;
        if t.org_id != o.org_id {
            return Err(DalError::NotFound);
        }
        // Serialize graph changes in the org so two concurrent links cannot close a cycle.
        need_to_know::lock_org(conn, OrgId(t.org_id))?;
        if let Some(path) = cycle_if_added(&edges(conn, t.org_id)?, t.id, o.id) {
            return Err(DalError::Invalid(format!(
                "dependsOnTaskId: this would create a cycle{}",
                describe_path(conn, actor, &path)?
            )));
        }
        let existed = task_dependencies::table
            .find((t.id, o.id))
            .count()
            .get_result::<i64>(conn)?
            > 0;
        diesel::insert_into(task_dependencies::table)
            .values((
                task_dependencies::task_id.eq(t.id),
                task_dependencies::depends_on_task_id.eq(o.id),
                task_dependencies::org_id.eq(t.org_id),
                task_dependencies::kind.eq(kind.as_str()),
            ))
            .on_conflict((
                task_dependencies::task_id,
                task_dependencies::depends_on_task_id,
            ))
            .do_update()
            .set(task_dependencies::kind.eq(kind.as_str()))
            .execute(conn)?;
        Ok(!existed)
    })
}

/// ": "A" → "B" → "A"" when the actor sees every task of the cycle; when some are
/// hidden, nothing about them (not even how many): " through tasks you cannot see".
fn describe_path(conn: &mut PgConnection, actor: &Actor, path: &[Uuid]) -> DalResult<String> {
    let mut names = Vec::with_capacity(path.len());
    for id in path {
        match crate::tasks::get(conn, actor, TaskId(*id)) {
            Ok(t) => names.push(format!("\"{}\"", t.title)),
            Err(DalError::NotFound) => return Ok(" through tasks you cannot see".to_owned()),
            Err(e) => return Err(e),
        }
    }
    Ok(format!(": {}", names.join(" → ")))
}

pub fn remove(conn: &mut PgConnection, actor: &Actor, task: TaskId, on: TaskId) -> DalResult<()> {
    conn.transaction(|conn| {
        crate::tasks::authorize(conn, actor, task, Action::UpdateTask, "unlink this task")?;
        crate::tasks::authorize(conn, actor, on, Action::UpdateTask, "unlink this task")?;
        let n = diesel::delete(task_dependencies::table.find((task.0, on.0))).execute(conn)?;
        if n == 0 {
            return Err(DalError::NotFound);
        }
        Ok(())
    })
}

/// The organization's links with their kinds, for the shift walk.
fn links(conn: &mut PgConnection, org: Uuid) -> DalResult<Vec<Link>> {
    let rows: Vec<(Uuid, Uuid, String)> = task_dependencies::table
        .filter(task_dependencies::org_id.eq(org))
        .select((
            task_dependencies::task_id,
            task_dependencies::depends_on_task_id,
            task_dependencies::kind,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(task, on, kind)| Link {
            task,
            on,
            kind: parse_dependency_kind(&kind),
        })
        .collect())
}

/// Moves a task's dates by `days`; with `propagate`, also its successors, following
/// only links to tasks the actor may edit (the walk stops at any other task, so it never
/// reaches through a hidden one). Returns the tasks moved. Which tasks move, and by how
/// much, is [`shift::walk`]'s decision; this loads the links and rights and applies it.
pub fn shift_dates(
    conn: &mut PgConnection,
    actor: &Actor,
    task: TaskId,
    days: i32,
    propagate: bool,
) -> DalResult<Vec<Task>> {
    let days = shift::check_days(days)?;
    conn.transaction(|conn| {
        let (first, _) = crate::tasks::authorize(
            conn,
            actor,
            task,
            Action::UpdateTask,
            "change this task's dates",
        )?;
        let (links, editable) = if propagate {
            let links = links(conn, first.org_id)?;
            // Edit rights of every task the walk could reach; the walk itself decides
            // which of them it enters.
            let mut editable = HashSet::new();
            for id in shift::reachable(&links, first.id) {
                if crate::tasks::authorize(conn, actor, TaskId(id), Action::UpdateTask, "").is_ok()
                {
                    editable.insert(id);
                }
            }
            (links, editable)
        } else {
            (Vec::new(), HashSet::new())
        };
        let plan = shift::walk(&links, first.id, days, propagate, &editable);
        let mut moved = Vec::with_capacity(plan.len());
        for step in plan {
            let t: Task = tasks::table
                .find(step.task)
                .select(Task::as_select())
                .first(conn)?;
            moved.push(
                diesel::update(tasks::table.find(step.task))
                    .set((
                        tasks::start_date.eq(shift::moved(t.start_date, step.days)?),
                        tasks::due_date.eq(shift::moved(t.due_date, step.days)?),
                        tasks::updated_at.eq(diesel::dsl::now),
                    ))
                    .returning(Task::as_returning())
                    .get_result(conn)?,
            );
        }
        Ok(moved)
    })
}

/// Chains the box's tasks that the actor may edit, in order: each depends
/// FINISH_TO_START on the one before it. Returns how many new links were made.
pub fn sequence_box(conn: &mut PgConnection, actor: &Actor, b: BoxId) -> DalResult<usize> {
    conn.transaction(|conn| {
        let bx = crate::structure::get_box(conn, actor, b)?;
        crate::projects::authorize(
            conn,
            actor,
            crust_domain::ProjectId(bx.project_id),
            Action::EditProjectStructure,
            "sequence this box",
        )?;
        const MAX_SEQUENCE: i64 = 10_000;
        let page = crate::page::Page {
            offset: 0,
            limit: MAX_SEQUENCE,
        };
        let list =
            crate::batch::tasks_of(conn, actor, crate::batch::TaskParent::Box, &[b.0], page)?
                .remove(&b.0)
                .unwrap_or_else(|| crate::page::Paged::empty(page));
        if list.total > MAX_SEQUENCE {
            return Err(DalError::Invalid(format!(
                "boxId: a box of more than {MAX_SEQUENCE} tasks cannot be sequenced in one go"
            )));
        }
        let mut editable = Vec::with_capacity(list.items.len());
        for t in list.items {
            if crate::tasks::allows(conn, actor, &t, Action::UpdateTask)? {
                editable.push(t);
            }
        }
        let mut made = 0;
        for pair in editable.windows(2) {
            if add(
                conn,
                actor,
                TaskId(pair[1].id),
                TaskId(pair[0].id),
                DependencyKind::FinishToStart,
            )? {
                made += 1;
            }
        }
        Ok(made)
    })
}
