//! Output types. Each wraps a DAL row; nested fields go back through the DAL with the
//! caller's actor, so a nested list never shows more than a top-level query would.

use async_graphql::{Context, Enum, Object, Result, ID};
use chrono::{DateTime, NaiveDate, Utc};
use crust_dal::models;
use crust_domain::{BoxId, OrgId, ProjectId, TaskId, WorkspaceId};

use super::connection::{connection, page, Conn};
use super::ids::id;
use super::loaders::{
    AssigneesOf, BoxesOf, CommentsOf, DependenciesOf, Loaders, ProgressOf, ProjectNameOf, SlicesOf,
    TasksOf, UserById,
};
use super::{actor, db};
use crate::error::ApiError;
use crate::markdown::to_safe_html;
use crust_dal::batch::{Direction, RollupOf, TaskParent};

fn loaders<'a>(ctx: &Context<'a>) -> Result<&'a Loaders, ApiError> {
    ctx.data::<Loaders>().map_err(|_| {
        ApiError::Unauthenticated("sign in first: send Authorization: Bearer <access token>")
    })
}

fn empty<T>(page: crust_dal::Page) -> crust_dal::Paged<T> {
    crust_dal::Paged {
        items: Vec::new(),
        total: 0,
        offset: page.offset,
    }
}

macro_rules! remote_enum {
    ($(#[$doc:meta])* $name:ident => $remote:literal { $($variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
        #[graphql(remote = $remote)]
        pub enum $name { $($variant),+ }
    };
}

remote_enum!(
    /// A member's role in an organization.
    OrgRole => "crust_domain::OrgRole" { Guest, Member, Admin, Owner }
);
remote_enum!(
    /// A member's role in a project.
    ProjectRole => "crust_domain::ProjectRole" { Viewer, Editor, Manager }
);
remote_enum!(
    /// What a task grant allows: VIEW reads, EDIT also changes status and progress.
    TaskAccess => "crust_domain::TaskAccess" { View, Edit }
);
remote_enum!(
    /// Who may read a project: the whole organization, or its members only.
    Visibility => "crust_domain::Visibility" { Organization, Members }
);
remote_enum!(
    /// CONFIDENTIAL (default) or SECRET: need-to-know, visible only to its access list.
    Classification => "crust_domain::Classification" { Confidential, Secret }
);
remote_enum!(
    ProjectStatus => "crust_domain::ProjectStatus" { Active, OnHold, Completed, Archived }
);
remote_enum!(
    TaskStatus => "crust_domain::TaskStatus" { NotStarted, InProgress, Done, NotNeeded }
);
remote_enum!(
    /// FINISH_TO_START (default): start after the other finishes; START_TO_START: start
    /// after the other starts; FINISH_TO_FINISH: finish after the other finishes.
    DependencyType => "crust_domain::roles::DependencyKind" { FinishToStart, StartToStart, FinishToFinish }
);

pub struct User(pub models::User);

#[Object]
impl User {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
}

pub struct Organization(pub models::Organization);

#[Object]
impl Organization {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The caller's own role here.
    async fn viewer_role(&self, ctx: &Context<'_>) -> Result<Option<OrgRole>> {
        Ok(actor(ctx)?.org_role(OrgId(self.0.id)).map(Into::into))
    }
    /// Members, by name (MEMBER and above).
    #[graphql(complexity = "super::connection::cost(first, child_complexity)")]
    async fn members(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Conn<OrganizationMember>> {
        let (actor, page, org) = (actor(ctx)?, page(first, after)?, OrgId(self.0.id));
        let paged = db(ctx)?
            .run(move |c| crust_dal::orgs::members(c, &actor, org, page))
            .await?;
        Ok(connection(paged, OrganizationMember))
    }
    /// Workspaces, by name (MEMBER and above).
    #[graphql(complexity = "super::connection::cost(first, child_complexity)")]
    async fn workspaces(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Conn<Workspace>> {
        let (actor, page, org) = (actor(ctx)?, page(first, after)?, OrgId(self.0.id));
        let paged = db(ctx)?
            .run(move |c| crust_dal::workspaces::list(c, &actor, org, page))
            .await?;
        Ok(connection(paged, Workspace))
    }
    /// Projects the caller may read, by name.
    #[graphql(complexity = "super::connection::cost(first, child_complexity)")]
    async fn projects(
        &self,
        ctx: &Context<'_>,
        workspace_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Conn<Project>> {
        let ws: Option<WorkspaceId> = workspace_id
            .map(|w| super::ids::parse("workspaceId", &w))
            .transpose()?;
        let (actor, page, org) = (actor(ctx)?, page(first, after)?, OrgId(self.0.id));
        let paged = db(ctx)?
            .run(move |c| crust_dal::projects::list(c, &actor, org, ws, page))
            .await?;
        Ok(connection(paged, |p| Project::served(ctx, p)))
    }
}

pub struct OrganizationMember(pub models::OrgMember);

#[Object]
impl OrganizationMember {
    async fn user(&self) -> User {
        User(self.0.user.clone())
    }
    async fn role(&self) -> OrgRole {
        self.0.role.into()
    }
}

pub struct Workspace(pub models::Workspace);

#[Object]
impl Workspace {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn organization_id(&self) -> ID {
        id(self.0.org_id)
    }
}

/// A project as served. Made only through [`Project::served`], which notes it for the
/// audit log's record of need-to-know reads.
pub struct Project(models::Project);

impl Project {
    pub fn served(ctx: &Context<'_>, project: models::Project) -> Self {
        if let Some(rec) = ctx.data_opt::<crate::audit::Recorder>() {
            rec.read_project(&project);
        }
        Project(project)
    }
}

#[Object]
impl Project {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Markdown.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// The description rendered to sanitized HTML.
    async fn description_html(&self) -> String {
        to_safe_html(&self.0.description)
    }
    /// Duration-weighted progress (0–100) of the tasks the caller may see; null when
    /// none counts.
    async fn progress(&self, ctx: &Context<'_>) -> Result<Option<f64>> {
        Ok(loaders(ctx)?
            .load_one(ProgressOf(RollupOf::Project, self.0.id))
            .await?
            .flatten())
    }
    async fn status(&self) -> ProjectStatus {
        self.0.status().into()
    }
    async fn visibility(&self) -> Visibility {
        self.0.visibility().into()
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
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    async fn organization(&self, ctx: &Context<'_>) -> Result<Organization> {
        let (actor, org) = (actor(ctx)?, OrgId(self.0.org_id));
        Ok(Organization(
            db(ctx)?
                .run(move |c| crust_dal::orgs::get(c, &actor, org))
                .await?,
        ))
    }
    async fn workspace(&self, ctx: &Context<'_>) -> Result<Option<Workspace>> {
        let Some(ws) = self.0.workspace_id else {
            return Ok(None);
        };
        let actor = actor(ctx)?;
        let found = db(ctx)?
            .run(move |c| crust_dal::workspaces::get(c, &actor, WorkspaceId(ws)))
            .await;
        match found {
            Ok(ws) => Ok(Some(Workspace(ws))),
            Err(crate::error::ApiError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
    /// The role the caller effectively holds here (org OWNER/ADMIN act as MANAGER on
    /// non-SECRET projects).
    async fn viewer_role(&self, ctx: &Context<'_>) -> Result<Option<ProjectRole>> {
        let (actor, project) = (actor(ctx)?, self.0.clone());
        let role = db(ctx)?
            .run(move |c| crust_dal::projects::viewer_role(c, &actor, &project))
            .await?;
        Ok(role.map(Into::into))
    }
    /// Members (for a SECRET project: its access list), by name.
    #[graphql(complexity = "super::connection::cost(first, child_complexity)")]
    async fn members(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Conn<ProjectMember>> {
        let (actor, page, pid) = (actor(ctx)?, page(first, after)?, ProjectId(self.0.id));
        let paged = db(ctx)?
            .run(move |c| crust_dal::projects::members(c, &actor, pid, page))
            .await?;
        Ok(connection(paged, ProjectMember))
    }
    /// Slices in order.
    #[graphql(complexity = "super::connection::cost(first, child_complexity)")]
    async fn slices(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Conn<Slice>> {
        let page = page(first, after)?;
        let paged = loaders(ctx)?.load_one(SlicesOf(self.0.id, page)).await?;
        Ok(connection(paged.unwrap_or_else(|| empty(page)), Slice))
    }
    /// Every task of the project the caller may see, in position order.
    #[graphql(complexity = "super::connection::cost(first, child_complexity)")]
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Conn<Task>> {
        let page = page(first, after)?;
        let paged = loaders(ctx)?
            .load_one(TasksOf(TaskParent::Project, self.0.id, page))
            .await?;
        Ok(connection(paged.unwrap_or_else(|| empty(page)), |t| {
            Task::served(ctx, t)
        }))
    }
}

pub struct ProjectMember(pub models::ProjectMember);

#[Object]
impl ProjectMember {
    async fn user(&self) -> User {
        User(self.0.user.clone())
    }
    async fn role(&self) -> ProjectRole {
        self.0.role.into()
    }
}

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
        Ok(loaders(ctx)?
            .load_one(ProgressOf(RollupOf::Slice, self.0.id))
            .await?
            .flatten())
    }
    /// Boxes in order.
    #[graphql(complexity = "super::connection::cost(first, child_complexity)")]
    async fn boxes(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Conn<TaskBox>> {
        let page = page(first, after)?;
        let paged = loaders(ctx)?.load_one(BoxesOf(self.0.id, page)).await?;
        Ok(connection(paged.unwrap_or_else(|| empty(page)), TaskBox))
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
        Ok(loaders(ctx)?
            .load_one(ProgressOf(RollupOf::Box, self.0.id))
            .await?
            .flatten())
    }
    /// Tasks the caller may see, in position order.
    #[graphql(complexity = "super::connection::cost(first, child_complexity)")]
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Conn<Task>> {
        let page = page(first, after)?;
        let paged = loaders(ctx)?
            .load_one(TasksOf(TaskParent::Box, self.0.id, page))
            .await?;
        Ok(connection(paged.unwrap_or_else(|| empty(page)), |t| {
            Task::served(ctx, t)
        }))
    }
}

/// A task as served. Made only through [`Task::served`], which notes it for the audit
/// log's record of need-to-know reads.
pub struct Task(models::Task);

impl Task {
    pub fn served(ctx: &Context<'_>, task: models::Task) -> Self {
        if let Some(rec) = ctx.data_opt::<crate::audit::Recorder>() {
            rec.read_task(&task);
        }
        Task(task)
    }
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
        to_safe_html(&self.0.description)
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
        let name = loaders(ctx)?
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
        let users = loaders(ctx)?.load_one(AssigneesOf(self.0.id)).await?;
        Ok(users.unwrap_or_default().into_iter().map(User).collect())
    }
    /// The tasks this one depends on (only those the caller may see).
    #[graphql(complexity = "super::connection::LIST_COST * child_complexity")]
    async fn depends_on(&self, ctx: &Context<'_>) -> Result<Vec<TaskDependency>> {
        let deps = loaders(ctx)?
            .load_one(DependenciesOf(Direction::DependsOn, self.0.id))
            .await?;
        Ok(deps
            .unwrap_or_default()
            .into_iter()
            .map(TaskDependency)
            .collect())
    }
    /// The tasks that depend on this one (only those the caller may see).
    #[graphql(complexity = "super::connection::LIST_COST * child_complexity")]
    async fn dependents(&self, ctx: &Context<'_>) -> Result<Vec<TaskDependency>> {
        let deps = loaders(ctx)?
            .load_one(DependenciesOf(Direction::Dependents, self.0.id))
            .await?;
        Ok(deps
            .unwrap_or_default()
            .into_iter()
            .map(TaskDependency)
            .collect())
    }
    /// True while a predecessor the caller can see holds this task back.
    async fn is_blocked(&self, ctx: &Context<'_>) -> Result<bool> {
        let deps = loaders(ctx)?
            .load_one(DependenciesOf(Direction::DependsOn, self.0.id))
            .await?;
        Ok(deps
            .unwrap_or_default()
            .iter()
            .any(|d| crust_domain::dependency::blocks(d.kind, d.task.status())))
    }
    /// Comments, oldest first.
    #[graphql(complexity = "super::connection::cost(first, child_complexity)")]
    async fn comments(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Conn<Comment>> {
        let page = page(first, after)?;
        let paged = loaders(ctx)?.load_one(CommentsOf(self.0.id, page)).await?;
        Ok(connection(paged.unwrap_or_else(|| empty(page)), Comment))
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

/// The least a task shows of its project.
#[derive(async_graphql::SimpleObject)]
pub struct ProjectSummary {
    pub id: ID,
    pub name: String,
}

/// A dependency as seen from one task: the task at the other end, and the type.
pub struct TaskDependency(pub models::Dependency);

#[Object]
impl TaskDependency {
    async fn task(&self, ctx: &Context<'_>) -> Task {
        Task::served(ctx, self.0.task.clone())
    }
    #[graphql(name = "type")]
    async fn kind(&self) -> DependencyType {
        self.0.kind.into()
    }
}

pub struct Comment(pub models::Comment);

#[Object]
impl Comment {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn task_id(&self) -> ID {
        id(self.0.task_id)
    }
    /// Markdown.
    async fn body(&self) -> &str {
        &self.0.body
    }
    /// The body rendered to sanitized HTML.
    async fn body_html(&self) -> String {
        to_safe_html(&self.0.body)
    }
    /// The author; null once their account is gone ("deleted user").
    async fn author(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let Some(author) = self.0.author_id else {
            return Ok(None);
        };
        Ok(loaders(ctx)?.load_one(UserById(author)).await?.map(User))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn edited_at(&self) -> Option<DateTime<Utc>> {
        self.0.edited_at
    }
}
