//! Tasks and task grants.
//!
//! Over 400 lines: the Task type's fields (its nested lists and rollups) and the task
//! mutations, one area.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use async_graphql::{
    Context, InputObject, MaybeUndefined, Object, OutputType, Result, SimpleObject, ID,
};
use chrono::NaiveDate;
use crust_dal::tasks::{NewTask, TaskPatch};
use crust_domain::{BoxId, TaskId, UserId};

use super::comments::Comment;
use super::connection::Conn;
use super::enums::DependencyType;
use super::enums::{Classification, TaskAccess, TaskStatus};
use super::ids::{id, parse};
use super::loaders::{
    loaded_page, page_asked, request_loaders, AssigneesOf, AttachmentsOf, CommentsOf,
    DependenciesOf, Extras, ProjectNameOf,
};
use super::org::User;
use super::plain::{self, Plain};
use super::project::maybe;
use super::project::{Project, ProjectSummary};
use super::structure::TaskBox;
use super::{actor, db};
use crate::error::ApiError;
use crate::markdown::to_safe_html_of;
use chrono::{DateTime, Utc};
use crust_dal::batch::Direction;
use crust_dal::models;
use crust_domain::ProjectId;

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

/// A task as served. Made only through [`Task::served`] or [`Task::page_served`], which
/// note it for the audit log's record of need-to-know reads; the second also carries
/// what was fetched with its page, which its fields answer from. (A dependency holds
/// its task unserved, as fetched: [`TaskDependency`] notes it when it serves it.)
pub struct Task(models::Task, Option<Arc<Extras>>);

impl Task {
    pub fn served(ctx: &Context<'_>, task: models::Task) -> Self {
        if let Some(rec) = ctx.data_opt::<crate::audit::Recorder>() {
            rec.read_task(&task);
        }
        Task(task, None)
    }

    /// A page of tasks served with what was fetched for it (see `loaders::Wants`),
    /// noted as [`Task::served`] notes one (under one lock).
    pub fn page_served(
        ctx: &Context<'_>,
        rows: crust_dal::Paged<models::Task>,
        extras: &Arc<Extras>,
    ) -> Conn<Task> {
        if let Some(rec) = ctx.data_opt::<crate::audit::Recorder>() {
            rec.read_tasks(&rows.items);
        }
        super::connection::connection(rows, |t| Task(t, Some(extras.clone())))
    }

    /// Notes this task for the audit log's record of need-to-know reads, as
    /// [`Task::served`] does, for one served by reference.
    fn noted(&self, ctx: &Context<'_>) -> &Self {
        if let Some(rec) = ctx.data_opt::<crate::audit::Recorder>() {
            rec.read_task(&self.0);
        }
        self
    }

    fn fetched_assignees(&self) -> Option<&[User]> {
        let all = self.1.as_ref()?.assignees.as_ref()?;
        Some(all.get(&self.0.id).map_or(&[], Vec::as_slice))
    }

    fn fetched_depends_on(&self) -> Option<&[TaskDependency]> {
        let all = self.1.as_ref()?.depends_on.as_ref()?;
        Some(all.get(&self.0.id).map_or(&[], Vec::as_slice))
    }

    /// The comments fetched with the page, when they are the page `ctx` asks for.
    fn fetched_comments(&self, ctx: &Context<'_>) -> Option<Conn<Comment>> {
        let (page, all) = self.1.as_ref()?.comments.as_ref()?;
        if page_asked(&ctx.field())? != *page {
            return None;
        }
        let paged = all
            .get(&self.0.id)
            .cloned()
            .unwrap_or_else(|| crust_dal::Paged::empty(*page));
        Some(super::connection::connection(paged, Comment))
    }
}

/// The fields answered from the row and from what came with its page.
impl Plain for Task {
    fn plain_type_name(&self) -> Cow<'static, str> {
        <Self as OutputType>::type_name()
    }

    fn plain_field(&self, ctx: &Context<'_>, name: &str, out: &mut plain::Out) -> Option<()> {
        let t = &self.0;
        match name {
            "id" => out.value(&t.id),
            "title" => out.value(&t.title),
            "description" => out.value(&t.description),
            "descriptionHtml" => out.value(&to_safe_html_of(t.id, &t.description)),
            "recipeRole" => out.value(&t.recipe_role),
            "status" => out.enumeration(TaskStatus::from(t.status())),
            "progress" => out.value(&t.progress),
            "classification" => out.enumeration(Classification::from(t.classification())),
            "startDate" => out.scalar(&t.start_date),
            "dueDate" => out.scalar(&t.due_date),
            "durationDays" => out.value(&t.duration_days),
            "createdAt" => out.scalar(&t.created_at),
            "updatedAt" => out.scalar(&t.updated_at),
            "projectId" => out.value(&t.project_id),
            // Listed from what came with the page, not copied out of it.
            "assignees" => out.list(self.fetched_assignees()?, ctx),
            "dependsOn" => out.list(self.fetched_depends_on()?, ctx),
            "isBlocked" => out.value(&is_blocked(self.fetched_depends_on()?)),
            "comments" => {
                static NAME: OnceLock<String> = OnceLock::new();
                let (page, all) = self.1.as_ref()?.comments.as_ref()?;
                if out.page_of(ctx, || page_asked(&ctx.field()))? != *page {
                    return None;
                }
                let (items, total) = all
                    .get(&t.id)
                    .map_or((&[][..], 0), |p| (p.items.as_slice(), p.total));
                let type_name = plain::name_of::<Conn<Comment>>(&NAME);
                out.nested(
                    &plain::PageOf {
                        type_name,
                        items,
                        total,
                    },
                    ctx,
                )
            }
            _ => None,
        }
    }
}

fn is_blocked(depends_on: &[TaskDependency]) -> bool {
    held_back(depends_on.iter().map(|d| (d.kind, &d.task.0)))
}

/// Whether any of these (dependency type, predecessor) pairs holds a task back.
fn held_back<'a>(
    predecessors: impl IntoIterator<Item = (crust_domain::roles::DependencyKind, &'a models::Task)>,
) -> bool {
    predecessors
        .into_iter()
        .any(|(kind, task)| crust_domain::dependency::blocks(kind, task.status()))
}

#[Object]
impl Task {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// Markdown.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// The description rendered to sanitized HTML.
    async fn description_html(&self) -> String {
        to_safe_html_of(self.0.id, &self.0.description)
    }
    /// The role placeholder this task was made for, when it came from a recipe.
    async fn recipe_role(&self) -> Option<&str> {
        self.0.recipe_role.as_deref()
    }
    async fn status(&self) -> TaskStatus {
        self.0.status().into()
    }
    /// 0–100; DONE is always 100 and NOT_STARTED always 0.
    async fn progress(&self) -> i32 {
        i32::from(self.0.progress)
    }
    async fn classification(&self) -> Classification {
        self.0.classification().into()
    }
    async fn start_date(&self) -> Option<NaiveDate> {
        self.0.start_date
    }
    async fn due_date(&self) -> Option<NaiveDate> {
        self.0.due_date
    }
    /// Planned duration in days (rollups weigh a task without one as 1 day).
    async fn duration_days(&self) -> Option<i32> {
        self.0.duration_days
    }
    // No `position`: its gaps would count the SECRET tasks hidden from the caller.
    // Lists come in position order.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    async fn project_id(&self) -> ID {
        id(self.0.project_id)
    }
    /// The project's id and name: all that a guest working on this task learns of it.
    async fn project_summary(&self, ctx: &Context<'_>) -> Result<ProjectSummary> {
        let name = request_loaders(ctx)?
            .load_one(ProjectNameOf(self.0.project_id))
            .await?;
        Ok(ProjectSummary {
            id: id(self.0.project_id),
            name: name.unwrap_or_default(),
        })
    }
    /// The task's project, or null when the caller sees this task only through a
    /// grant and may not read the project itself.
    async fn project(&self, ctx: &Context<'_>) -> Result<Option<Project>> {
        let (actor, pid) = (actor(ctx)?, ProjectId(self.0.project_id));
        match db(ctx)?
            .run(move |c| crust_dal::projects::get(c, &actor, pid))
            .await
        {
            Ok(p) => Ok(Some(Project::served(ctx, p))),
            Err(crate::error::ApiError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
    /// The box holding the task (null when unboxed or when the project is hidden).
    #[graphql(name = "box")]
    async fn task_box(&self, ctx: &Context<'_>) -> Result<Option<TaskBox>> {
        let Some(bid) = self.0.box_id else {
            return Ok(None);
        };
        let actor = actor(ctx)?;
        match db(ctx)?
            .run(move |c| crust_dal::structure::get_box(c, &actor, BoxId(bid)))
            .await
        {
            Ok(b) => Ok(Some(TaskBox(b))),
            Err(crate::error::ApiError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
    #[graphql(complexity = "super::connection::LIST_COST * child_complexity")]
    async fn assignees(&self, ctx: &Context<'_>) -> Result<Vec<User>> {
        if let Some(users) = self.fetched_assignees() {
            return Ok(users.to_vec());
        }
        let users = request_loaders(ctx)?
            .load_one(AssigneesOf(self.0.id))
            .await?;
        Ok(users.unwrap_or_default().into_iter().map(User).collect())
    }
    /// The tasks this one depends on (only those the caller may see).
    #[graphql(complexity = "super::connection::LIST_COST * child_complexity")]
    async fn depends_on(&self, ctx: &Context<'_>) -> Result<Vec<TaskDependency>> {
        if let Some(deps) = self.fetched_depends_on() {
            return Ok(deps.to_vec());
        }
        let deps = request_loaders(ctx)?
            .load_one(DependenciesOf(Direction::DependsOn, self.0.id))
            .await?;
        Ok(deps
            .unwrap_or_default()
            .into_iter()
            .map(TaskDependency::from)
            .collect())
    }
    /// The tasks that depend on this one (only those the caller may see).
    #[graphql(complexity = "super::connection::LIST_COST * child_complexity")]
    async fn dependents(&self, ctx: &Context<'_>) -> Result<Vec<TaskDependency>> {
        let deps = request_loaders(ctx)?
            .load_one(DependenciesOf(Direction::Dependents, self.0.id))
            .await?;
        Ok(deps
            .unwrap_or_default()
            .into_iter()
            .map(TaskDependency::from)
            .collect())
    }
    /// True while a predecessor the caller can see holds this task back.
    async fn is_blocked(&self, ctx: &Context<'_>) -> Result<bool> {
        if let Some(deps) = self.fetched_depends_on() {
            return Ok(is_blocked(deps));
        }
        let deps = request_loaders(ctx)?
            .load_one(DependenciesOf(Direction::DependsOn, self.0.id))
            .await?
            .unwrap_or_default();
        Ok(held_back(deps.iter().map(|d| (d.kind, &d.task))))
    }
    /// Comments, oldest first.
    #[graphql(complexity = "super::connection::cost(first, child_complexity)")]
    async fn comments(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Conn<Comment>> {
        if let Some(comments) = self.fetched_comments(ctx) {
            return Ok(comments);
        }
        Ok(loaded_page(
            ctx,
            first,
            after,
            |page| CommentsOf(self.0.id, page),
            Comment,
        )
        .await?)
    }
    /// Files attached to this task, oldest first. Upload with `POST
    /// /tasks/{id}/attachments`; each one's `downloadUrl` serves it.
    #[graphql(complexity = "super::connection::cost(first, child_complexity)")]
    async fn attachments(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Conn<super::attachments::Attachment>> {
        Ok(loaded_page(
            ctx,
            first,
            after,
            |page| AttachmentsOf(self.0.id, page),
            super::attachments::Attachment,
        )
        .await?)
    }
    /// Who holds a grant on this task (its access list when SECRET). Readable by
    /// those who manage the task's access and by everyone on a SECRET task's list.
    #[graphql(complexity = "super::connection::LIST_COST * child_complexity")]
    async fn grants(&self, ctx: &Context<'_>) -> Result<Vec<TaskGrant>> {
        let (actor, tid) = (actor(ctx)?, TaskId(self.0.id));
        let grants = db(ctx)?
            .run(move |c| crust_dal::tasks::grants(c, &actor, tid))
            .await?;
        Ok(grants.into_iter().map(TaskGrant).collect())
    }
}

pub struct TaskGrant(pub models::TaskGrant);

#[Object]
impl TaskGrant {
    async fn user(&self) -> User {
        User(self.0.user.clone())
    }
    async fn access(&self) -> TaskAccess {
        self.0.access.into()
    }
}

/// A dependency as seen from one task: the task at the other end, and the type. The
/// task is held as fetched, not yet served: only the `task` field serves it (the plain
/// walk's answer and the engine's resolver, below), noting it for the audit log's
/// record of need-to-know reads.
pub struct TaskDependency {
    task: Task,
    kind: crust_domain::roles::DependencyKind,
}

impl Clone for TaskDependency {
    fn clone(&self) -> Self {
        TaskDependency {
            task: Task(self.task.0.clone(), None),
            kind: self.kind,
        }
    }
}

impl From<models::Dependency> for TaskDependency {
    fn from(d: models::Dependency) -> Self {
        TaskDependency {
            task: Task(d.task, None),
            kind: d.kind,
        }
    }
}

impl Plain for TaskDependency {
    fn plain_type_name(&self) -> Cow<'static, str> {
        <Self as OutputType>::type_name()
    }

    fn plain_field(&self, ctx: &Context<'_>, name: &str, out: &mut plain::Out) -> Option<()> {
        match name {
            "task" => out.nested(self.task.noted(ctx), ctx),
            "type" => out.enumeration(DependencyType::from(self.kind)),
            _ => None,
        }
    }
}

#[Object]
impl TaskDependency {
    async fn task(&self, ctx: &Context<'_>) -> Task {
        Task::served(ctx, self.task.0.clone())
    }
    #[graphql(name = "type")]
    async fn kind(&self) -> DependencyType {
        self.kind.into()
    }
}
