//! Projects, their members and structure (slices and boxes).

use async_graphql::{Context, InputObject, MaybeUndefined, Object, Result, SimpleObject, ID};
use chrono::NaiveDate;
use crust_dal::projects::{NewProject, ProjectPatch};
use crust_dal::structure::BoxKind;
use crust_domain::{OrgId, ProjectId, SliceId, UserId, WorkspaceId};

use super::connection::{connection, page, Conn};
use super::ids::{id, parse};
use super::types::{
    Classification, Project, ProjectMember, ProjectRole, ProjectStatus, Slice, TaskBox, Visibility,
};
use super::{actor, db};
use crate::error::ApiError;

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
        let actor = actor(ctx)?;
        let org: OrgId = parse("organizationId", &organization_id)?;
        let ws: Option<WorkspaceId> = workspace_id.map(|w| parse("workspaceId", &w)).transpose()?;
        let page = page(first, after)?;
        let paged = db(ctx)?
            .run(move |c| crust_dal::projects::list(c, &actor, org, ws, page))
            .await?;
        Ok(connection(paged, |p| Project::served(ctx, p)))
    }

    /// One project the caller may read (NOT_FOUND otherwise).
    async fn project(&self, ctx: &Context<'_>, id: ID) -> Result<Project> {
        let (actor, pid): (_, ProjectId) = (actor(ctx)?, parse("id", &id)?);
        Ok(Project::served(
            ctx,
            db(ctx)?
                .run(move |c| crust_dal::projects::get(c, &actor, pid))
                .await?,
        ))
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
