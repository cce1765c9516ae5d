//! Tasks and task grants.

use async_graphql::{Context, InputObject, MaybeUndefined, Object, Result, SimpleObject, ID};
use chrono::NaiveDate;
use crust_dal::tasks::{NewTask, TaskPatch};
use crust_domain::{BoxId, TaskId, UserId};

use super::ids::{id, parse};
use super::project::maybe;
use super::types::{Classification, Task, TaskAccess, TaskGrant, TaskStatus};
use super::{actor, db};
use crate::error::ApiError;

#[derive(Default)]
pub struct TaskQuery;

#[Object]
impl TaskQuery {
    /// One task the caller may see (NOT_FOUND otherwise).
    async fn task(&self, ctx: &Context<'_>, id: ID) -> Result<Task> {
        let (actor, tid): (_, TaskId) = (actor(ctx)?, parse("id", &id)?);
        Ok(Task::served(
            ctx,
            db(ctx)?
                .run(move |c| crust_dal::tasks::get(c, &actor, tid))
                .await?,
        ))
    }
}

#[derive(InputObject)]
pub struct CreateTaskInput {
    pub project_id: ID,
    pub box_id: Option<ID>,
    pub title: String,
    /// Markdown, up to 100,000 characters.
    pub description: Option<String>,
    /// A SECRET task is visible only to its access list, which starts with the caller.
    #[graphql(default_with = "Classification::Confidential")]
    pub classification: Classification,
    pub start_date: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
    pub duration_days: Option<i32>,
}

#[derive(SimpleObject)]
pub struct CreateTaskPayload {
    pub task: Task,
}

/// Fields left out stay as they are; `null` clears an optional one. A caller with an
/// EDIT grant only may change `status` and `progress`.
#[derive(InputObject)]
pub struct UpdateTaskInput {
    pub task_id: ID,
    pub title: Option<String>,
    pub description: Option<String>,
    /// DONE sets progress to 100 and NOT_STARTED to 0.
    pub status: Option<TaskStatus>,
    /// 0–100; 100 marks the task DONE.
    pub progress: Option<i32>,
    pub classification: Option<Classification>,
    pub start_date: MaybeUndefined<NaiveDate>,
    pub due_date: MaybeUndefined<NaiveDate>,
    pub duration_days: MaybeUndefined<i32>,
    /// Replaces the assignees (members of the task's organization).
    pub assignee_ids: Option<Vec<ID>>,
}

#[derive(SimpleObject)]
pub struct UpdateTaskPayload {
    pub task: Task,
}

#[derive(InputObject)]
pub struct DeleteTaskInput {
    pub task_id: ID,
}

#[derive(SimpleObject)]
pub struct DeleteTaskPayload {
    pub deleted_task_id: ID,
}

#[derive(InputObject)]
pub struct GrantTaskAccessInput {
    pub task_id: ID,
    pub user_id: ID,
    pub access: TaskAccess,
}

#[derive(SimpleObject)]
pub struct GrantTaskAccessPayload {
    pub grant: TaskGrant,
}

#[derive(InputObject)]
pub struct RevokeTaskAccessInput {
    pub task_id: ID,
    pub user_id: ID,
}

#[derive(SimpleObject)]
pub struct RevokeTaskAccessPayload {
    pub revoked_user_id: ID,
}

#[derive(Default)]
pub struct TaskMutation;

#[Object]
impl TaskMutation {
    /// Creates a task at the end of its box (project EDITOR).
    async fn create_task(
        &self,
        ctx: &Context<'_>,
        input: CreateTaskInput,
    ) -> Result<CreateTaskPayload> {
        let actor = actor(ctx)?;
        let new = NewTask {
            project: parse("projectId", &input.project_id)?,
            box_id: input
                .box_id
                .map(|b| parse::<BoxId>("boxId", &b))
                .transpose()?,
            title: input.title,
            description: input.description,
            classification: input.classification.into(),
            start_date: input.start_date,
            due_date: input.due_date,
            duration_days: input.duration_days,
        };
        let task = db(ctx)?
            .create(move |c| crust_dal::tasks::create(c, &actor, new))
            .await?;
        Ok(CreateTaskPayload {
            task: Task::served(ctx, task),
        })
    }

    /// Changes a task.
    async fn update_task(
        &self,
        ctx: &Context<'_>,
        input: UpdateTaskInput,
    ) -> Result<UpdateTaskPayload> {
        let actor = actor(ctx)?;
        let tid: TaskId = parse("taskId", &input.task_id)?;
        let progress = input
            .progress
            .map(|p| {
                crust_domain::task::progress(i64::from(p))
                    .map_err(|e| ApiError::BadUserInput(e.to_string()))
            })
            .transpose()?;
        let patch = TaskPatch {
            title: input.title,
            description: input.description,
            status: input.status.map(Into::into),
            progress,
            classification: input.classification.map(Into::into),
            start_date: maybe(input.start_date, Ok)?,
            due_date: maybe(input.due_date, Ok)?,
            duration_days: maybe(input.duration_days, Ok)?,
            assignees: input
                .assignee_ids
                .map(|ids| {
                    ids.iter()
                        .map(|i| parse::<UserId>("assigneeIds", i))
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()?,
        };
        let task = db(ctx)?
            .run(move |c| crust_dal::tasks::update(c, &actor, tid, patch))
            .await?;
        Ok(UpdateTaskPayload {
            task: Task::served(ctx, task),
        })
    }

    /// Deletes a task (project EDITOR).
    async fn delete_task(
        &self,
        ctx: &Context<'_>,
        input: DeleteTaskInput,
    ) -> Result<DeleteTaskPayload> {
        let (actor, tid): (_, TaskId) = (actor(ctx)?, parse("taskId", &input.task_id)?);
        db(ctx)?
            .run(move |c| crust_dal::tasks::delete(c, &actor, tid))
            .await?;
        Ok(DeleteTaskPayload {
            deleted_task_id: id(tid.0),
        })
    }

    /// Grants a member of the task's organization VIEW or EDIT on this one task
    /// (project MANAGER; for a SECRET task, a MANAGER on its list).
    async fn grant_task_access(
        &self,
        ctx: &Context<'_>,
        input: GrantTaskAccessInput,
    ) -> Result<GrantTaskAccessPayload> {
        let actor = actor(ctx)?;
        let tid: TaskId = parse("taskId", &input.task_id)?;
        let user: UserId = parse("userId", &input.user_id)?;
        let access = input.access.into();
        let grant = db(ctx)?
            .run(move |c| crust_dal::tasks::grant(c, &actor, tid, user, access))
            .await?;
        Ok(GrantTaskAccessPayload {
            grant: TaskGrant(grant),
        })
    }

    /// Takes a grant away.
    async fn revoke_task_access(
        &self,
        ctx: &Context<'_>,
        input: RevokeTaskAccessInput,
    ) -> Result<RevokeTaskAccessPayload> {
        let actor = actor(ctx)?;
        let tid: TaskId = parse("taskId", &input.task_id)?;
        let user: UserId = parse("userId", &input.user_id)?;
        db(ctx)?
            .run(move |c| crust_dal::tasks::revoke(c, &actor, tid, user))
            .await?;
        Ok(RevokeTaskAccessPayload {
            revoked_user_id: id(user.0),
        })
    }
}
