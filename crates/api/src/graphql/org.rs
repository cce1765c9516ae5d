//! Organizations, members and workspaces.

use async_graphql::{Context, InputObject, Object, Result, SimpleObject, ID};
use crust_domain::{OrgId, UserId, WorkspaceId};

use super::connection::{paged, Conn};
use super::enums::OrgRole;
use super::ids::{id, parse};
use super::project::Project;
use super::{actor, db};
use chrono::{DateTime, Utc};
use crust_dal::models;

#[derive(Default)]
pub struct OrgQuery;

#[Object]
impl OrgQuery {
    /// Organizations the caller belongs to, by name.
    #[graphql(complexity = "super::connection::cost(first, child_complexity)")]
    async fn organizations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Conn<Organization>> {
        Ok(paged(ctx, first, after, crust_dal::orgs::list, Organization).await?)
    }

    /// One organization the caller belongs to (NOT_FOUND otherwise).
    async fn organization(&self, ctx: &Context<'_>, id: ID) -> Result<Organization> {
        let (actor, org): (_, OrgId) = (actor(ctx)?, parse("id", &id)?);
        Ok(Organization(
            db(ctx)?
                .run(move |c| crust_dal::orgs::get(c, &actor, org))
                .await?,
        ))
    }

    /// An organization's workspaces (MEMBER and above).
    #[graphql(complexity = "super::connection::cost(first, child_complexity)")]
    async fn workspaces(
        &self,
        ctx: &Context<'_>,
        organization_id: ID,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Conn<Workspace>> {
        let org: OrgId = parse("organizationId", &organization_id)?;
        let fetch = move |c: &mut _, a: &_, p| crust_dal::workspaces::list(c, a, org, p);
        Ok(paged(ctx, first, after, fetch, Workspace).await?)
    }
}

#[derive(InputObject)]
pub struct CreateOrganizationInput {
    pub name: String,
}

#[derive(SimpleObject)]
pub struct CreateOrganizationPayload {
    pub organization: Organization,
}

#[derive(InputObject)]
pub struct UpdateOrganizationMemberInput {
    pub organization_id: ID,
    pub user_id: ID,
    pub role: OrgRole,
}

#[derive(SimpleObject)]
pub struct UpdateOrganizationMemberPayload {
    pub member: OrganizationMember,
}

#[derive(InputObject)]
pub struct RemoveOrganizationMemberInput {
    pub organization_id: ID,
    pub user_id: ID,
}

#[derive(SimpleObject)]
pub struct RemoveOrganizationMemberPayload {
    pub removed_user_id: ID,
}

#[derive(InputObject)]
pub struct DeactivateMemberInput {
    pub organization_id: ID,
    pub user_id: ID,
}

#[derive(SimpleObject)]
pub struct DeactivateMemberPayload {
    pub deactivated_user_id: ID,
}

#[derive(InputObject)]
pub struct CreateWorkspaceInput {
    pub organization_id: ID,
    pub name: String,
}

#[derive(SimpleObject)]
pub struct CreateWorkspacePayload {
    pub workspace: Workspace,
}

#[derive(InputObject)]
pub struct UpdateWorkspaceInput {
    pub workspace_id: ID,
    pub name: String,
}

#[derive(SimpleObject)]
pub struct UpdateWorkspacePayload {
    pub workspace: Workspace,
}

#[derive(InputObject)]
pub struct DeleteWorkspaceInput {
    pub workspace_id: ID,
}

#[derive(SimpleObject)]
pub struct DeleteWorkspacePayload {
    pub deleted_workspace_id: ID,
}

#[derive(Default)]
pub struct OrgMutation;

#[Object]
impl OrgMutation {
    /// Creates an organization with the caller as its OWNER.
    async fn create_organization(
        &self,
        ctx: &Context<'_>,
        input: CreateOrganizationInput,
    ) -> Result<CreateOrganizationPayload> {
        let actor = actor(ctx)?;
        let org = db(ctx)?
            .create(move |c| crust_dal::orgs::create(c, &actor, &input.name))
            .await?;
        Ok(CreateOrganizationPayload {
            organization: Organization(org),
        })
    }

    /// Changes a member's role. The last OWNER cannot be demoted.
    async fn update_organization_member(
        &self,
        ctx: &Context<'_>,
        input: UpdateOrganizationMemberInput,
    ) -> Result<UpdateOrganizationMemberPayload> {
        let actor = actor(ctx)?;
        let org: OrgId = parse("organizationId", &input.organization_id)?;
        let user: UserId = parse("userId", &input.user_id)?;
        let role = input.role.into();
        let member = db(ctx)?
            .run(move |c| crust_dal::orgs::update_member(c, &actor, org, user, role))
            .await?;
        Ok(UpdateOrganizationMemberPayload {
            member: OrganizationMember(member),
        })
    }

    /// Removes a member and every grant, project membership and assignment they had
    /// in the organization. Anyone may leave; the last OWNER may not.
    async fn remove_organization_member(
        &self,
        ctx: &Context<'_>,
        input: RemoveOrganizationMemberInput,
    ) -> Result<RemoveOrganizationMemberPayload> {
        let actor = actor(ctx)?;
        let org: OrgId = parse("organizationId", &input.organization_id)?;
        let user: UserId = parse("userId", &input.user_id)?;
        db(ctx)?
            .run(move |c| crust_dal::orgs::remove_member(c, &actor, org, user))
            .await?;
        Ok(RemoveOrganizationMemberPayload {
            removed_user_id: id(user.0),
        })
    }

    /// Ends the access of a member whose account belongs to no other organization: it
    /// can no longer sign in and every session and refresh token ends at once (its
    /// memberships stay, for an operator's `crust user reactivate`). OWNER or ADMIN
    /// (an OWNER for an OWNER). An account shared with another organization answers
    /// CONFLICT: remove it from yours with `removeOrganizationMember`.
    async fn deactivate_member(
        &self,
        ctx: &Context<'_>,
        input: DeactivateMemberInput,
    ) -> Result<DeactivateMemberPayload> {
        let actor = actor(ctx)?;
        let org: OrgId = parse("organizationId", &input.organization_id)?;
        let user: UserId = parse("userId", &input.user_id)?;
        db(ctx)?
            .run(move |c| crust_dal::offboarding::deactivate_member(c, &actor, org, user))
            .await?;
        Ok(DeactivateMemberPayload {
            deactivated_user_id: id(user.0),
        })
    }

    async fn create_workspace(
        &self,
        ctx: &Context<'_>,
        input: CreateWorkspaceInput,
    ) -> Result<CreateWorkspacePayload> {
        let (actor, org): (_, OrgId) = (
            actor(ctx)?,
            parse("organizationId", &input.organization_id)?,
        );
        let ws = db(ctx)?
            .create(move |c| crust_dal::workspaces::create(c, &actor, org, &input.name))
            .await?;
        Ok(CreateWorkspacePayload {
            workspace: Workspace(ws),
        })
    }

    async fn update_workspace(
        &self,
        ctx: &Context<'_>,
        input: UpdateWorkspaceInput,
    ) -> Result<UpdateWorkspacePayload> {
        let (actor, ws): (_, WorkspaceId) =
            (actor(ctx)?, parse("workspaceId", &input.workspace_id)?);
        let ws = db(ctx)?
            .run(move |c| crust_dal::workspaces::rename(c, &actor, ws, &input.name))
            .await?;
        Ok(UpdateWorkspacePayload {
            workspace: Workspace(ws),
        })
    }

    /// Deletes a workspace; its projects stay, outside any workspace.
    async fn delete_workspace(
        &self,
        ctx: &Context<'_>,
        input: DeleteWorkspaceInput,
    ) -> Result<DeleteWorkspacePayload> {
        let (actor, ws): (_, WorkspaceId) =
            (actor(ctx)?, parse("workspaceId", &input.workspace_id)?);
        db(ctx)?
            .run(move |c| crust_dal::workspaces::delete(c, &actor, ws))
            .await?;
        Ok(DeleteWorkspacePayload {
            deleted_workspace_id: id(ws.0),
        })
    }
}

#[derive(Clone)]
pub struct User(pub models::User);

impl super::plain::Plain for User {
    fn plain_type_name(&self) -> std::borrow::Cow<'static, str> {
        <Self as async_graphql::OutputType>::type_name()
    }

    fn plain_field(
        &self,
        _ctx: &Context<'_>,
        name: &str,
        out: &mut super::plain::Out,
    ) -> Option<()> {
        match name {
            "id" => out.value(&self.0.id),
            "email" => out.value(&self.0.email),
            "name" => out.value(&self.0.name),
            _ => None,
        }
    }
}

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
        let org = OrgId(self.0.id);
        let fetch = move |c: &mut _, a: &_, p| crust_dal::orgs::members(c, a, org, p);
        Ok(paged(ctx, first, after, fetch, OrganizationMember).await?)
    }
    /// Workspaces, by name (MEMBER and above).
    #[graphql(complexity = "super::connection::cost(first, child_complexity)")]
    async fn workspaces(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Conn<Workspace>> {
        let org = OrgId(self.0.id);
        let fetch = move |c: &mut _, a: &_, p| crust_dal::workspaces::list(c, a, org, p);
        Ok(paged(ctx, first, after, fetch, Workspace).await?)
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
        let org = OrgId(self.0.id);
        let fetch = move |c: &mut _, a: &_, p| crust_dal::projects::list(c, a, org, ws, p);
        Ok(paged(ctx, first, after, fetch, |p| Project::served(ctx, p)).await?)
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
