//! Organizations, members and workspaces.

use async_graphql::{Context, InputObject, Object, Result, SimpleObject, ID};
use crust_domain::{OrgId, UserId, WorkspaceId};

use super::connection::{connection, page, Conn};
use super::ids::{id, parse};
use super::types::{OrgRole, Organization, OrganizationMember, Workspace};
use super::{actor, db};

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
        let (actor, page) = (actor(ctx)?, page(first, after)?);
        let paged = db(ctx)?
            .run(move |c| crust_dal::orgs::list(c, &actor, page))
            .await?;
        Ok(connection(paged, Organization))
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
        let (actor, org, page): (_, OrgId, _) = (
            actor(ctx)?,
            parse("organizationId", &organization_id)?,
            page(first, after)?,
        );
        let paged = db(ctx)?
            .run(move |c| crust_dal::workspaces::list(c, &actor, org, page))
            .await?;
        Ok(connection(paged, Workspace))
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
pub struct AddOrganizationMemberInput {
    pub organization_id: ID,
    /// The email of an existing account.
    pub email: String,
    pub role: OrgRole,
}

#[derive(SimpleObject)]
pub struct AddOrganizationMemberPayload {
    pub member: OrganizationMember,
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

    /// Adds an existing account to the organization (OWNER/ADMIN; only an OWNER may
    /// make someone OWNER).
    async fn add_organization_member(
        &self,
        ctx: &Context<'_>,
        input: AddOrganizationMemberInput,
    ) -> Result<AddOrganizationMemberPayload> {
        let (actor, org): (_, OrgId) = (
            actor(ctx)?,
            parse("organizationId", &input.organization_id)?,
        );
        let role = input.role.into();
        let member = db(ctx)?
            .run(move |c| crust_dal::orgs::add_member(c, &actor, org, &input.email, role))
            .await?;
        Ok(AddOrganizationMemberPayload {
            member: OrganizationMember(member),
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
