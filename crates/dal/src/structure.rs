//! A project's structure: slices (ordered phases) and boxes (ordered groups of tasks).
//! Reading follows the project's visibility; changing needs EDITOR on the project.

use crust_domain::{Action, BoxId, ProjectId, SliceId};
use diesel::dsl::max;
use diesel::prelude::*;

use crate::actor::Actor;
use crate::error::DalResult;
use crate::models::{Slice, TaskBox};
use crate::projects;
use crate::schema::{boxes, projects as projects_t, slices};
use crate::visibility::{box_visible, slice_visible};

/// What a new box is: a plain group of tasks, a board column, or the board's done column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BoxKind {
    #[default]
    Group,
    Column,
    DoneColumn,
}

/// A board (slice) has one done column: before a box becomes it, the previous one
/// stops being it.
pub(crate) fn clear_done_column(conn: &mut PgConnection, slice: uuid::Uuid) -> DalResult<()> {
    diesel::update(
        boxes::table
            .filter(boxes::slice_id.eq(slice))
            .filter(boxes::done_column.eq(true)),
    )
    .set(boxes::done_column.eq(false))
    .execute(conn)?;
    Ok(())
}

/// A slice of a project the actor may read.
pub fn get_slice(conn: &mut PgConnection, actor: &Actor, id: SliceId) -> DalResult<Slice> {
    Ok(slices::table
        .find(id.0)
        .filter(slice_visible(actor))
        .select(Slice::as_select())
        .first(conn)?)
}

/// A box of a project the actor may read.
pub fn get_box(conn: &mut PgConnection, actor: &Actor, id: BoxId) -> DalResult<TaskBox> {
    Ok(boxes::table
        .find(id.0)
        .filter(box_visible(actor))
        .select(TaskBox::as_select())
        .first(conn)?)
}

/// Appends a slice to the project.
pub fn create_slice(
    conn: &mut PgConnection,
    actor: &Actor,
    project: ProjectId,
    name: &str,
) -> DalResult<Slice> {
    let name = crust_domain::validate::name("name", name)?;
    conn.transaction(|conn| {
        projects::authorize(
            conn,
            actor,
            project,
            Action::EditProjectStructure,
            "change this project's structure",
        )?;
        // Lock the project row so concurrent appends get distinct positions.
        projects_t::table
            .find(project.0)
            .select(projects_t::id)
            .for_update()
            .first::<uuid::Uuid>(conn)?;
        let last: Option<i32> = slices::table
            .filter(slices::project_id.eq(project.0))
            .select(max(slices::position))
            .first(conn)?;
        Ok(diesel::insert_into(slices::table)
            .values((
                slices::project_id.eq(project.0),
                slices::name.eq(&name),
                slices::position.eq(last.map_or(0, |p| p + 1)),
            ))
            .returning(Slice::as_returning())
            .get_result(conn)?)
    })
}

/// Appends a box to a slice.
pub fn create_box(
    conn: &mut PgConnection,
    actor: &Actor,
    slice: SliceId,
    name: &str,
    kind: BoxKind,
) -> DalResult<TaskBox> {
    let name = crust_domain::validate::name("name", name)?;
    conn.transaction(|conn| {
        let slice = get_slice(conn, actor, slice)?;
        projects::authorize(
            conn,
            actor,
            ProjectId(slice.project_id),
            Action::EditProjectStructure,
            "change this project's structure",
        )?;
        projects_t::table
            .find(slice.project_id)
            .select(projects_t::id)
            .for_update()
            .first::<uuid::Uuid>(conn)?;
        let last: Option<i32> = boxes::table
            .filter(boxes::slice_id.eq(slice.id))
            .select(max(boxes::position))
            .first(conn)?;
        if kind == BoxKind::DoneColumn {
            clear_done_column(conn, slice.id)?;
        }
        Ok(diesel::insert_into(boxes::table)
            .values((
                boxes::slice_id.eq(slice.id),
                boxes::project_id.eq(slice.project_id),
                boxes::name.eq(&name),
                boxes::position.eq(last.map_or(0, |p| p + 1)),
                boxes::board_column.eq(kind != BoxKind::Group),
                boxes::done_column.eq(kind == BoxKind::DoneColumn),
            ))
            .returning(TaskBox::as_returning())
            .get_result(conn)?)
    })
}
