//! Projects and their members (their slices and boxes are `structure`'s).
//!
//! About 400 lines: the Project type's fields and the project mutations, one area.

use async_graphql::{Context, InputObject, MaybeUndefined, Object, Result, SimpleObject, ID};
use chrono::NaiveDate;
use crust_dal::projects::{NewProject, ProjectPatch};
use crust_domain::{OrgId, ProjectId, UserId, WorkspaceId};

use super::connection::{paged, Conn};
use super::enums::{Classification, ProjectRole, ProjectStatus, Visibility};
use super::ids::{id, parse};
use super::loaders::{loaded_page, rollup, task_page, SlicesOf};
use super::org::{Organization, User, Workspace};
use super::plain::Plainly;
use super::structure::Slice;
use super::task::Task;
use super::{actor, db};
use crate::error::ApiError;
use crate::markdown::to_safe_html_of;
use chrono::{DateTime, Utc};
use crust_dal::batch::{RollupOf, TaskParent};
use crust_dal::models;

#[derive(Default)]
pub struct ProjectQuery;

#[Object]
impl ProjectQuery {
    /// Projects of an organization the caller may read, by name.
    #[graphql(complexity = "super::connection::cost(first, child_complexity)")]
    async fn projects(
        &self,
        ctx: &Context<'_>,
        organization_id: ID,
        workspace_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Conn<Project>> {
        let org: OrgId = parse("organizationId", &organization_id)?;
        let ws: Option<WorkspaceId> = workspace_id.map(|w| parse("workspaceId", &w)).transpose()?;
        let fetch = move |c: &mut _, a: &_, p| crust_dal::projects::list(c, a, org, ws, p);
        Ok(paged(ctx, first, after, fetch, |p| Project::served(ctx, p)).await?)
    }

    /// One project the caller may read (NOT_FOUND otherwise).
    async fn project(&self, ctx: &Context<'_>, id: ID) -> Result<Project> {
        let (actor, pid): (_, ProjectId) = (actor(ctx)?, parse("id", &id)?);
        let project = super::ahead::project_and_levels(ctx, actor, pid).await?;
        Ok(Project::served(ctx, project))
    }
}

#[derive(InputObject)]
pub struct CreateProjectInput {
    pub organization_id: ID,
    pub workspace_id: Option<ID>,
    pub name: String,
    /// Markdown, up to 100,000 characters.
    pub description: Option<String>,
    #[graphql(default_with = "Visibility::Organization")]
    pub visibility: Visibility,
    #[graphql(default_with = "Classification::Confidential")]
    pub classification: Classification,
    pub start_date: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
}

#[derive(SimpleObject)]
pub struct CreateProjectPayload {
    pub project: Project,
}

/// Fields left out stay as they are; `null` clears an optional one.
#[derive(InputObject)]
pub struct UpdateProjectInput {
    pub project_id: ID,
    pub name: Option<String>,
    pub description: Option<String>,
    pub status: Option<ProjectStatus>,
    pub visibility: Option<Visibility>,
    /// Making a project SECRET puts the caller on its access list.
    pub classification: Option<Classification>,
    pub workspace_id: MaybeUndefined<ID>,
    pub start_date: MaybeUndefined<NaiveDate>,
    pub due_date: MaybeUndefined<NaiveDate>,
}

#[derive(SimpleObject)]
pub struct UpdateProjectPayload {
    pub project: Project,
}

#[derive(InputObject)]
pub struct DeleteProjectInput {
    pub project_id: ID,
}

#[derive(SimpleObject)]
pub struct DeleteProjectPayload {
    pub deleted_project_id: ID,
}

#[derive(InputObject)]
pub struct AddProjectMemberInput {
    pub project_id: ID,
    pub user_id: ID,
    pub role: ProjectRole,
}

#[derive(SimpleObject)]
pub struct AddProjectMemberPayload {
    pub member: ProjectMember,
}

#[derive(InputObject)]
pub struct RemoveProjectMemberInput {
    pub project_id: ID,
    pub user_id: ID,
}

#[derive(SimpleObject)]
pub struct RemoveProjectMemberPayload {
    pub removed_user_id: ID,
}

pub(crate) fn maybe<T, U>(
    value: MaybeUndefined<T>,
    f: impl FnOnce(T) -> Result<U, ApiError>,
) -> Result<Option<Option<U>>, ApiError> {
    match value {
        MaybeUndefined::Undefined => Ok(None),
        MaybeUndefined::Null => Ok(Some(None)),
        MaybeUndefined::Value(v) => Ok(Some(Some(f(v)?))),
    }
}

#[derive(Default)]
pub struct ProjectMutation;

#[Object]
impl ProjectMutation {
    /// Creates a project (org MEMBER and above); the caller becomes its MANAGER.
    async fn create_project(
        &self,
        ctx: &Context<'_>,
        input: CreateProjectInput,
    ) -> Result<CreateProjectPayload> {
        let actor = actor(ctx)?;
        let new = NewProject {
            org: parse("organizationId", &input.organization_id)?,
            workspace: input
                .workspace_id
                .map(|w| parse("workspaceId", &w))
                .transpose()?,
            name: input.name,
            description: input.description,
            visibility: input.visibility.into(),
            classification: input.classification.into(),
            start_date: input.start_date,
            due_date: input.due_date,
        };
        let project = db(ctx)?
            .create(move |c| crust_dal::projects::create(c, &actor, new))
            .await?;
        Ok(CreateProjectPayload {
            project: Project::served(ctx, project),
        })
    }

    /// Changes a project (MANAGER).
    async fn update_project(
        &self,
        ctx: &Context<'_>,
        input: UpdateProjectInput,
    ) -> Result<UpdateProjectPayload> {
        let actor = actor(ctx)?;
        let pid: ProjectId = parse("projectId", &input.project_id)?;
        let patch = ProjectPatch {
            name: input.name,
            description: input.description,
            status: input.status.map(Into::into),
            visibility: input.visibility.map(Into::into),
            classification: input.classification.map(Into::into),
            workspace: maybe(input.workspace_id, |w| {
                parse::<WorkspaceId>("workspaceId", &w)
            })?,
            start_date: maybe(input.start_date, Ok)?,
            due_date: maybe(input.due_date, Ok)?,
        };
        let project = db(ctx)?
            .run(move |c| crust_dal::projects::update(c, &actor, pid, patch))
            .await?;
        Ok(UpdateProjectPayload {
            project: Project::served(ctx, project),
        })
    }

    /// Deletes a project with everything in it (MANAGER).
    async fn delete_project(
        &self,
        ctx: &Context<'_>,
        input: DeleteProjectInput,
    ) -> Result<DeleteProjectPayload> {
        let (actor, pid): (_, ProjectId) = (actor(ctx)?, parse("projectId", &input.project_id)?);
        db(ctx)?
            .run(move |c| crust_dal::projects::delete(c, &actor, pid))
            .await?;
        Ok(DeleteProjectPayload {
            deleted_project_id: id(pid.0),
        })
    }

    /// Adds an organization member to the project, or changes their role (MANAGER).
    async fn add_project_member(
        &self,
        ctx: &Context<'_>,
        input: AddProjectMemberInput,
    ) -> Result<AddProjectMemberPayload> {
        let actor = actor(ctx)?;
        let pid: ProjectId = parse("projectId", &input.project_id)?;
        let user: UserId = parse("userId", &input.user_id)?;
        let role = input.role.into();
        let member = db(ctx)?
            .run(move |c| crust_dal::projects::add_member(c, &actor, pid, user, role))
            .await?;
        Ok(AddProjectMemberPayload {
            member: ProjectMember(member),
        })
    }

    /// Removes a member (MANAGER; anyone may remove themselves).
    async fn remove_project_member(
        &self,
        ctx: &Context<'_>,
        input: RemoveProjectMemberInput,
    ) -> Result<RemoveProjectMemberPayload> {
        let actor = actor(ctx)?;
        let pid: ProjectId = parse("projectId", &input.project_id)?;
        let user: UserId = parse("userId", &input.user_id)?;
        db(ctx)?
            .run(move |c| crust_dal::projects::remove_member(c, &actor, pid, user))
            .await?;
        Ok(RemoveProjectMemberPayload {
            removed_user_id: id(user.0),
        })
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
        to_safe_html_of(self.0.id, &self.0.description)
    }
    /// Duration-weighted progress (0–100) of the tasks the caller may see; null when
    /// none counts.
    async fn progress(&self, ctx: &Context<'_>) -> Result<Option<f64>> {
        Ok(rollup(ctx, RollupOf::Project, self.0.id).await?)
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
        let pid = ProjectId(self.0.id);
        let fetch = move |c: &mut _, a: &_, p| crust_dal::projects::members(c, a, pid, p);
        Ok(paged(ctx, first, after, fetch, ProjectMember).await?)
    }
    /// Slices in order.
    #[graphql(complexity = "super::connection::cost(first, child_complexity)")]
    async fn slices(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Conn<Slice>> {
        Ok(loaded_page(ctx, first, after, |page| SlicesOf(self.0.id, page), Slice).await?)
    }
    /// Every task of the project the caller may see, in position order.
    #[graphql(complexity = "super::connection::cost(first, child_complexity)")]
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Plainly<Conn<Task>>> {
        Ok(task_page(ctx, TaskParent::Project, self.0.id, first, after).await?)
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

/// The least a task shows of its project.
#[derive(async_graphql::SimpleObject)]
pub struct ProjectSummary {
    pub id: ID,
    pub name: String,
}
