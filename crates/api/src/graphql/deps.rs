//! Task dependencies and date shifting.

use async_graphql::{Context, InputObject, Object, Result, SimpleObject, ID};
use crust_domain::{BoxId, TaskId};

use super::enums::DependencyType;
use super::ids::parse;
use super::structure::TaskBox;
use super::task::Task;
use super::{actor, db};

#[derive(InputObject)]
pub struct AddTaskDependencyInput {
    pub task_id: ID,
    /// A task of the same organization (any project) you may see and edit.
    pub depends_on_task_id: ID,
    #[graphql(name = "type", default_with = "DependencyType::FinishToStart")]
    pub kind: DependencyType,
}

#[derive(SimpleObject)]
pub struct TaskDependencyPayload {
    /// The dependent task, with its `dependsOn` updated.
    pub task: Task,
}

#[derive(InputObject)]
pub struct RemoveTaskDependencyInput {
    pub task_id: ID,
    pub depends_on_task_id: ID,
}

#[derive(InputObject)]
pub struct ShiftDatesInput {
    pub task_id: ID,
    /// Days to move start and due dates by (negative moves earlier).
    pub days: i32,
    /// Also move every successor you may edit, through any chain of dependencies.
    #[graphql(default = true)]
    pub propagate: bool,
}

#[derive(SimpleObject)]
pub struct ShiftDatesPayload {
    /// Every task that moved, the given one first.
    pub tasks: Vec<Task>,
}

#[derive(InputObject)]
pub struct SequenceBoxInput {
    pub box_id: ID,
}

#[derive(SimpleObject)]
pub struct SequenceBoxPayload {
    #[graphql(name = "box")]
    pub task_box: TaskBox,
    /// How many FINISH_TO_START links were made.
    pub link_count: i32,
}

async fn reload(ctx: &Context<'_>, tid: TaskId) -> Result<Task> {
    let actor = actor(ctx)?;
    Ok(Task::served(
        ctx,
        db(ctx)?
            .run(move |c| crust_dal::tasks::get(c, &actor, tid))
            .await?,
    ))
}

#[derive(Default)]
pub struct DependencyMutation;

#[Object]
impl DependencyMutation {
    /// Makes a task depend on another. A cycle is refused with its path.
    async fn add_task_dependency(
        &self,
        ctx: &Context<'_>,
        input: AddTaskDependencyInput,
    ) -> Result<TaskDependencyPayload> {
        let actor = actor(ctx)?;
        let tid: TaskId = parse("taskId", &input.task_id)?;
        let on: TaskId = parse("dependsOnTaskId", &input.depends_on_task_id)?;
        let kind = input.kind.into();
        db(ctx)?
            .run(move |c| crust_dal::dependencies::add(c, &actor, tid, on, kind))
            .await?;
        Ok(TaskDependencyPayload {
            task: reload(ctx, tid).await?,
        })
    }

    async fn remove_task_dependency(
        &self,
        ctx: &Context<'_>,
        input: RemoveTaskDependencyInput,
    ) -> Result<TaskDependencyPayload> {
        let actor = actor(ctx)?;
        let tid: TaskId = parse("taskId", &input.task_id)?;
        let on: TaskId = parse("dependsOnTaskId", &input.depends_on_task_id)?;
        db(ctx)?
            .run(move |c| crust_dal::dependencies::remove(c, &actor, tid, on))
            .await?;
        Ok(TaskDependencyPayload {
            task: reload(ctx, tid).await?,
        })
    }

    /// Moves a task's dates, and (by default) its successors' with it.
    async fn shift_dates(
        &self,
        ctx: &Context<'_>,
        input: ShiftDatesInput,
    ) -> Result<ShiftDatesPayload> {
        let actor = actor(ctx)?;
        let tid: TaskId = parse("taskId", &input.task_id)?;
        let moved = db(ctx)?
            .run(move |c| {
                crust_dal::dependencies::shift_dates(c, &actor, tid, input.days, input.propagate)
            })
            .await?;
        Ok(ShiftDatesPayload {
            tasks: moved.into_iter().map(|t| Task::served(ctx, t)).collect(),
        })
    }

    /// Chains a box's tasks in order (each FINISH_TO_START after the one before).
    async fn sequence_box(
        &self,
        ctx: &Context<'_>,
        input: SequenceBoxInput,
    ) -> Result<SequenceBoxPayload> {
        let actor = actor(ctx)?;
        let bid: BoxId = parse("boxId", &input.box_id)?;
        let (b, n) = db(ctx)?
            .run(move |c| {
                let n = crust_dal::dependencies::sequence_box(c, &actor, bid)?;
                Ok((crust_dal::structure::get_box(c, &actor, bid)?, n))
            })
            .await?;
        Ok(SequenceBoxPayload {
            task_box: TaskBox(b),
            link_count: i32::try_from(n).unwrap_or(i32::MAX),
        })
    }
}
