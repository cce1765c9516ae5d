//! Moving slices, boxes and tasks; board columns; finishing a sprint.
//!
//! Every move locks the project row, so concurrent moves in one project apply one after
//! the other, and renumbers the affected list densely: positions never collide.

use std::collections::HashSet;

use chrono::Utc;
use crust_domain::ordering::place;
use crust_domain::sprint::{self, Archive};
use crust_domain::{Action, BoxId, ProjectId, SliceId, TaskId, TaskStatus};
use diesel::prelude::*;
use uuid::Uuid;

use crate::actor::Actor;
use crate::error::{DalError, DalResult};
use crate::models::{Slice, Task, TaskBox};
use crate::schema::{boxes, projects, slices, tasks};
use crate::visibility::task_visible;

fn lock_project(conn: &mut PgConnection, project: Uuid) -> DalResult<()> {
    projects::table
        .find(project)
        .select(projects::id)
        .for_update()
        .first::<Uuid>(conn)?;
    Ok(())
}

fn check_position(position: i32) -> DalResult<usize> {
    usize::try_from(position).map_err(|_| DalError::Invalid("position: must be 0 or more".into()))
}

/// Moves a task into `box_id` (of the same project) at `position` among the tasks the
/// actor sees there. Dropping it into a board's done column marks it DONE.
pub fn move_task(
    conn: &mut PgConnection,
    actor: &Actor,
    id: TaskId,
    box_id: BoxId,
    position: i32,
) -> DalResult<Task> {
    let position = check_position(position)?;
    conn.transaction(|conn| {
        let (task, _) =
            crate::tasks::authorize(conn, actor, id, Action::UpdateTask, "move this task")?;
        let target = crate::structure::get_box(conn, actor, box_id)?;
        if target.project_id != task.project_id {
            return Err(DalError::Invalid(
                "boxId: a task cannot move to another project".into(),
            ));
        }
        lock_project(conn, task.project_id)?;
        let order: Vec<Uuid> = tasks::table
            .filter(tasks::box_id.eq(target.id))
            .order((tasks::position, tasks::id))
            .select(tasks::id)
            .load(conn)?;
        let visible: HashSet<Uuid> = tasks::table
            .filter(tasks::box_id.eq(target.id))
            .filter(task_visible(actor))
            .select(tasks::id)
            .load::<Uuid>(conn)?
            .into_iter()
            .collect();
        let new_order = place(&order, &visible, task.id, position);
        renumber(conn, Ordered::Tasks, &new_order)?;
        diesel::update(tasks::table.find(task.id))
            .set((
                tasks::box_id.eq(target.id),
                tasks::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        let dropped =
            crust_domain::board::on_drop(target.done_column, (task.status(), task.progress));
        if let Some((status, progress)) = dropped {
            diesel::update(tasks::table.find(task.id))
                .set((
                    tasks::status.eq(status.as_str()),
                    tasks::progress.eq(progress),
                ))
                .execute(conn)?;
        }
        let moved: Task = tasks::table
            .find(task.id)
            .select(Task::as_select())
            .first(conn)?;
        if task.status() != TaskStatus::Done && moved.status() == TaskStatus::Done {
            crate::notifications::task_done(conn, &moved, actor.user_id())?;
        }
        Ok(moved)
    })
}

/// The ordered tables.
#[derive(Clone, Copy)]
enum Ordered {
    Tasks,
    Boxes,
    Slices,
}

/// Gives the listed rows positions 0, 1, 2 … in list order, in one statement. Rows
/// already in place are not written: a move touches only the rows between where an
/// item left and where it landed. Hidden tasks among them get a new number but keep
/// their place between their neighbours; tasks expose no position, so the number says
/// nothing to anyone.
fn renumber(conn: &mut PgConnection, table: Ordered, order: &[Uuid]) -> DalResult<()> {
    let table = match table {
        Ordered::Tasks => "tasks",
        Ordered::Boxes => "boxes",
        Ordered::Slices => "slices",
    };
    diesel::sql_query(format!(
        "UPDATE {table} SET position = o.ord - 1 FROM unnest($1::uuid[]) WITH ORDINALITY AS o(id, ord) WHERE {table}.id = o.id AND {table}.position <> o.ord - 1"
    ))
    .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(order)
    .execute(conn)?;
    Ok(())
}

/// Moves a box into `slice` (of the same project) at `position`.
pub fn move_box(
    conn: &mut PgConnection,
    actor: &Actor,
    id: BoxId,
    slice: SliceId,
    position: i32,
) -> DalResult<TaskBox> {
    let position = check_position(position)?;
    conn.transaction(|conn| {
        let b = crate::structure::get_box(conn, actor, id)?;
        crate::projects::authorize(
            conn,
            actor,
            ProjectId(b.project_id),
            Action::EditProjectStructure,
            "change this project's structure",
        )?;
        let target = crate::structure::get_slice(conn, actor, slice)?;
        if target.project_id != b.project_id {
            return Err(DalError::Invalid(
                "sliceId: a box cannot move to another project".into(),
            ));
        }
        lock_project(conn, b.project_id)?;
        if b.done_column && target.id != b.slice_id {
            // A slice has one done column: the moved box stops being one.
            diesel::update(boxes::table.find(b.id))
                .set(boxes::done_column.eq(false))
                .execute(conn)?;
        }
        let order: Vec<Uuid> = boxes::table
            .filter(boxes::slice_id.eq(target.id))
            .order((boxes::position, boxes::id))
            .select(boxes::id)
            .load(conn)?;
        let all: HashSet<Uuid> = order.iter().copied().chain([b.id]).collect();
        diesel::update(boxes::table.find(b.id))
            .set(boxes::slice_id.eq(target.id))
            .execute(conn)?;
        renumber(conn, Ordered::Boxes, &place(&order, &all, b.id, position))?;
        Ok(boxes::table
            .find(b.id)
            .select(TaskBox::as_select())
            .first(conn)?)
    })
}

/// Moves a slice to `position` in its project.
pub fn move_slice(
    conn: &mut PgConnection,
    actor: &Actor,
    id: SliceId,
    position: i32,
) -> DalResult<Slice> {
    let position = check_position(position)?;
    conn.transaction(|conn| {
        let s = crate::structure::get_slice(conn, actor, id)?;
        crate::projects::authorize(
            conn,
            actor,
            ProjectId(s.project_id),
            Action::EditProjectStructure,
            "change this project's structure",
        )?;
        lock_project(conn, s.project_id)?;
        let order: Vec<Uuid> = slices::table
            .filter(slices::project_id.eq(s.project_id))
            .order((slices::position, slices::id))
            .select(slices::id)
            .load(conn)?;
        let all: HashSet<Uuid> = order.iter().copied().collect();
        renumber(conn, Ordered::Slices, &place(&order, &all, s.id, position))?;
        Ok(slices::table
            .find(s.id)
            .select(Slice::as_select())
            .first(conn)?)
    })
}

/// Renames a box and sets whether it is a board column and its board's done column
/// (making a box the done column takes the role from the slice's previous one).
pub fn update_box(
    conn: &mut PgConnection,
    actor: &Actor,
    id: BoxId,
    name: Option<&str>,
    board_column: Option<bool>,
    done_column: Option<bool>,
) -> DalResult<TaskBox> {
    let name = name
        .map(|n| crust_domain::validate::name("name", n))
        .transpose()?;
    conn.transaction(|conn| {
        let b = crate::structure::get_box(conn, actor, id)?;
        crate::projects::authorize(
            conn,
            actor,
            ProjectId(b.project_id),
            Action::EditProjectStructure,
            "change this project's structure",
        )?;
        lock_project(conn, b.project_id)?;
        let done = done_column.unwrap_or(b.done_column);
        let column = board_column.unwrap_or(b.board_column) || done;
        if board_column == Some(false) && done {
            return Err(DalError::Invalid(
                "boardColumn: a done column is always on the board; send doneColumn: false with it, or make another box the done column first".into(),
            ));
        }
        if done && !b.done_column {
            crate::structure::clear_done_column(conn, b.slice_id)?;
        }
        diesel::update(boxes::table.find(b.id))
            .set((
                boxes::name.eq(name.unwrap_or(b.name)),
                boxes::board_column.eq(column),
                boxes::done_column.eq(done),
            ))
            .execute(conn)?;
        Ok(boxes::table
            .find(b.id)
            .select(TaskBox::as_select())
            .first(conn)?)
    })
}

/// What finishing a sprint did.
#[derive(Clone, Debug)]
pub struct FinishedSprint {
    pub sprint_box: TaskBox,
    pub moved: usize,
}

/// Moves the tasks of the board's done column (the board of the column `board_box`)
/// that the actor may see and edit into a new box named with today's date in the
/// project's "Done Sprints" slice (created after the board's slice when missing), and
/// counts only those. One transaction. What moves where is decided by
/// [`crust_domain::sprint`]; this loads the facts and applies its answer.
pub fn finish_sprint(
    conn: &mut PgConnection,
    actor: &Actor,
    board_box: BoxId,
) -> DalResult<FinishedSprint> {
    conn.transaction(|conn| {
        let b = crate::structure::get_box(conn, actor, board_box)?;
        crate::projects::authorize(
            conn,
            actor,
            ProjectId(b.project_id),
            Action::EditProjectStructure,
            "finish this sprint",
        )?;
        lock_project(conn, b.project_id)?;
        let done_column: Option<Uuid> = boxes::table
            .filter(boxes::slice_id.eq(b.slice_id))
            .filter(boxes::done_column.eq(true))
            .select(boxes::id)
            .first(conn)
            .optional()?;
        let done = sprint::done_column(b.board_column, done_column)?;
        let project_slices: Vec<(Uuid, String)> = slices::table
            .filter(slices::project_id.eq(b.project_id))
            .order((slices::position, slices::id))
            .select((slices::id, slices::name))
            .load(conn)?;
        let named: Vec<(Uuid, &str)> = project_slices
            .iter()
            .map(|(id, name)| (*id, name.as_str()))
            .collect();
        let archive = match sprint::archive(&named, b.slice_id) {
            Archive::Existing(id) => id,
            Archive::CreateAt(at) => {
                let created: Uuid = diesel::insert_into(slices::table)
                    .values((
                        slices::project_id.eq(b.project_id),
                        slices::name.eq(sprint::DONE_SPRINTS_SLICE),
                        slices::position.eq(0),
                    ))
                    .returning(slices::id)
                    .get_result(conn)?;
                let mut new_order: Vec<Uuid> = named.iter().map(|(id, _)| *id).collect();
                new_order.insert(at, created);
                renumber(conn, Ordered::Slices, &new_order)?;
                created
            }
        };
        let names: Vec<String> = boxes::table
            .filter(boxes::slice_id.eq(archive))
            .select(boxes::name)
            .load(conn)?;
        let last: Option<i32> = boxes::table
            .filter(boxes::slice_id.eq(archive))
            .select(diesel::dsl::max(boxes::position))
            .first(conn)?;
        let sprint_box: TaskBox = diesel::insert_into(boxes::table)
            .values((
                boxes::slice_id.eq(archive),
                boxes::project_id.eq(b.project_id),
                boxes::name.eq(sprint::sprint_box_name(Utc::now().date_naive(), &names)),
                boxes::position.eq(last.map_or(0, |p| p + 1)),
            ))
            .returning(TaskBox::as_returning())
            .get_result(conn)?;
        // Tasks hidden from the actor never leave PostgreSQL, so every candidate is
        // visible; `sprint::leaving` decides among them by edit rights.
        let candidates: Vec<Task> = tasks::table
            .filter(tasks::box_id.eq(done))
            .filter(task_visible(actor))
            .select(Task::as_select())
            .load(conn)?;
        let mut column = Vec::with_capacity(candidates.len());
        for t in &candidates {
            column.push(sprint::ColumnTask {
                id: t.id,
                visible: true,
                editable: crate::tasks::allows(conn, actor, t, Action::UpdateTask)?,
            });
        }
        let movable = sprint::leaving(&column);
        let moved = diesel::update(
            tasks::table
                .filter(tasks::box_id.eq(done))
                .filter(tasks::id.eq_any(&movable)),
        )
        .set((
            tasks::box_id.eq(sprint_box.id),
            tasks::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)?;
        Ok(FinishedSprint { sprint_box, moved })
    })
}
