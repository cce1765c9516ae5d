//! Moving things, board columns and sprints.

use async_graphql::{Context, InputObject, Object, Result, SimpleObject, ID};
use crust_domain::{BoxId, SliceId, TaskId};

use super::ids::parse;
use super::structure::{Slice, TaskBox};
use super::task::Task;
use super::{actor, db};

#[derive(InputObject)]
pub struct MoveTaskInput {
    pub task_id: ID,
    /// A box of the same project.
    pub box_id: ID,
    /// Index among the tasks you see in that box; past the end appends.
    pub position: i32,
}

#[derive(SimpleObject)]
pub struct MoveTaskPayload {
    pub task: Task,
}

#[derive(InputObject)]
pub struct MoveBoxInput {
    pub box_id: ID,
    /// A slice of the same project.
    pub slice_id: ID,
    pub position: i32,
}

#[derive(SimpleObject)]
pub struct MoveBoxPayload {
    #[graphql(name = "box")]
    pub task_box: TaskBox,
}

#[derive(InputObject)]
pub struct MoveSliceInput {
    pub slice_id: ID,
    pub position: i32,
}

#[derive(SimpleObject)]
pub struct MoveSlicePayload {
    pub slice: Slice,
}

#[derive(InputObject)]
pub struct UpdateBoxInput {
    pub box_id: ID,
    pub name: Option<String>,
    /// Make the box a column of its slice's board.
    pub board_column: Option<bool>,
    /// Make it the board's done column (the slice's previous one stops being it).
    pub done_column: Option<bool>,
}

#[derive(SimpleObject)]
pub struct UpdateBoxPayload {
    #[graphql(name = "box")]
    pub task_box: TaskBox,
}

#[derive(InputObject)]
pub struct FinishSprintInput {
    /// Any column of the board.
    pub box_id: ID,
}

#[derive(SimpleObject)]
pub struct FinishSprintPayload {
    /// The dated box in "Done Sprints" that now holds the sprint's finished tasks.
    pub sprint_box: TaskBox,
    pub moved_task_count: i32,
}

#[derive(Default)]
pub struct BoardMutation;

#[Object]
impl BoardMutation {
    /// Moves a task to a position in a box of its project (a done column marks it DONE).
    async fn move_task(&self, ctx: &Context<'_>, input: MoveTaskInput) -> Result<MoveTaskPayload> {
        let actor = actor(ctx)?;
        let tid: TaskId = parse("taskId", &input.task_id)?;
        let bid: BoxId = parse("boxId", &input.box_id)?;
        let task = db(ctx)?
            .run(move |c| crust_dal::board::move_task(c, &actor, tid, bid, input.position))
            .await?;
        Ok(MoveTaskPayload {
            task: Task::served(ctx, task),
        })
    }

    /// Moves a box to a position in a slice of its project.
    async fn move_box(&self, ctx: &Context<'_>, input: MoveBoxInput) -> Result<MoveBoxPayload> {
        let actor = actor(ctx)?;
        let bid: BoxId = parse("boxId", &input.box_id)?;
        let sid: SliceId = parse("sliceId", &input.slice_id)?;
        let b = db(ctx)?
            .run(move |c| crust_dal::board::move_box(c, &actor, bid, sid, input.position))
            .await?;
        Ok(MoveBoxPayload {
            task_box: TaskBox(b),
        })
    }

    /// Moves a slice to a position in its project.
    async fn move_slice(
        &self,
        ctx: &Context<'_>,
        input: MoveSliceInput,
    ) -> Result<MoveSlicePayload> {
        let actor = actor(ctx)?;
        let sid: SliceId = parse("sliceId", &input.slice_id)?;
        let s = db(ctx)?
            .run(move |c| crust_dal::board::move_slice(c, &actor, sid, input.position))
            .await?;
        Ok(MoveSlicePayload { slice: Slice(s) })
    }

    /// Renames a box or makes it a board (done) column.
    async fn update_box(
        &self,
        ctx: &Context<'_>,
        input: UpdateBoxInput,
    ) -> Result<UpdateBoxPayload> {
        let actor = actor(ctx)?;
        let bid: BoxId = parse("boxId", &input.box_id)?;
        let b = db(ctx)?
            .run(move |c| {
                crust_dal::board::update_box(
                    c,
                    &actor,
                    bid,
                    input.name.as_deref(),
                    input.board_column,
                    input.done_column,
                )
            })
            .await?;
        Ok(UpdateBoxPayload {
            task_box: TaskBox(b),
        })
    }

    /// Moves the done column's tasks that the caller may see and edit into a new dated
    /// box in "Done Sprints", in one transaction; tasks hidden from the caller stay in
    /// the done column and are not counted.
    async fn finish_sprint(
        &self,
        ctx: &Context<'_>,
        input: FinishSprintInput,
    ) -> Result<FinishSprintPayload> {
        let actor = actor(ctx)?;
        let bid: BoxId = parse("boxId", &input.box_id)?;
        let done = db(ctx)?
            .run(move |c| crust_dal::board::finish_sprint(c, &actor, bid))
            .await?;
        Ok(FinishSprintPayload {
            sprint_box: TaskBox(done.sprint_box),
            moved_task_count: i32::try_from(done.moved).unwrap_or(i32::MAX),
        })
    }
}
