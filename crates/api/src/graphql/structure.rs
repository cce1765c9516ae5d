//! Slices and boxes: the structure of a project, as served, and making them (moving
//! them is the board's).

use async_graphql::{Context, InputObject, Object, Result, SimpleObject, ID};
use crust_dal::batch::{RollupOf, TaskParent};
use crust_dal::models;
use crust_dal::structure::BoxKind;
use crust_domain::{ProjectId, SliceId};

use super::connection::Conn;
use super::ids::{id, parse};
use super::loaders::{loaded_page, rollup, task_page, BoxesOf};
use super::plain::Plainly;
use super::task::Task;
use super::{actor, db};

pub struct Slice(pub models::Slice);

#[Object]
impl Slice {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn position(&self) -> i32 {
        self.0.position
    }
    async fn project_id(&self) -> ID {
        id(self.0.project_id)
    }
    /// Duration-weighted progress (0–100) of the tasks the caller may see; null when
    /// none counts.
    async fn progress(&self, ctx: &Context<'_>) -> Result<Option<f64>> {
        Ok(rollup(ctx, RollupOf::Slice, self.0.id).await?)
    }
    /// Boxes in order.
    #[graphql(complexity = "super::connection::cost(first, child_complexity)")]
    async fn boxes(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Conn<TaskBox>> {
        Ok(loaded_page(ctx, first, after, |page| BoxesOf(self.0.id, page), TaskBox).await?)
    }
}

/// A box of tasks inside a slice.
pub struct TaskBox(pub models::TaskBox);

#[Object(name = "Box")]
impl TaskBox {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn position(&self) -> i32 {
        self.0.position
    }
    async fn slice_id(&self) -> ID {
        id(self.0.slice_id)
    }
    /// Whether the box is a column of its slice's board.
    async fn board_column(&self) -> bool {
        self.0.board_column
    }
    /// Whether it is the board's done column (a task dropped here becomes DONE).
    async fn done_column(&self) -> bool {
        self.0.done_column
    }
    /// Duration-weighted progress (0–100) of the tasks the caller may see; null when
    /// none counts.
    async fn progress(&self, ctx: &Context<'_>) -> Result<Option<f64>> {
        Ok(rollup(ctx, RollupOf::Box, self.0.id).await?)
    }
    /// Tasks the caller may see, in position order.
    #[graphql(complexity = "super::connection::cost(first, child_complexity)")]
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Plainly<Conn<Task>>> {
        Ok(task_page(ctx, TaskParent::Box, self.0.id, first, after).await?)
    }
}

#[derive(InputObject)]
pub struct CreateSliceInput {
    pub project_id: ID,
    pub name: String,
}

#[derive(SimpleObject)]
pub struct CreateSlicePayload {
    pub slice: Slice,
}

#[derive(InputObject)]
pub struct CreateBoxInput {
    pub slice_id: ID,
    pub name: String,
    /// Make the box a column of its slice's board.
    #[graphql(default)]
    pub board_column: bool,
    /// Make it the board's done column (a task dropped here becomes DONE).
    #[graphql(default)]
    pub done_column: bool,
}

#[derive(SimpleObject)]
pub struct CreateBoxPayload {
    #[graphql(name = "box")]
    pub task_box: TaskBox,
}

#[derive(Default)]
pub struct StructureMutation;

#[Object]
impl StructureMutation {
    /// Appends a slice to a project (EDITOR).
    async fn create_slice(
        &self,
        ctx: &Context<'_>,
        input: CreateSliceInput,
    ) -> Result<CreateSlicePayload> {
        let (actor, pid): (_, ProjectId) = (actor(ctx)?, parse("projectId", &input.project_id)?);
        let slice = db(ctx)?
            .create(move |c| crust_dal::structure::create_slice(c, &actor, pid, &input.name))
            .await?;
        Ok(CreateSlicePayload {
            slice: Slice(slice),
        })
    }

    /// Appends a box to a slice (EDITOR).
    async fn create_box(
        &self,
        ctx: &Context<'_>,
        input: CreateBoxInput,
    ) -> Result<CreateBoxPayload> {
        let (actor, sid): (_, SliceId) = (actor(ctx)?, parse("sliceId", &input.slice_id)?);
        let b = db(ctx)?
            .create(move |c| {
                let kind = match (input.board_column, input.done_column) {
                    (_, true) => BoxKind::DoneColumn,
                    (true, false) => BoxKind::Column,
                    _ => BoxKind::Group,
                };
                crust_dal::structure::create_box(c, &actor, sid, &input.name, kind)
            })
            .await?;
        Ok(CreateBoxPayload {
            task_box: TaskBox(b),
        })
    }
}
