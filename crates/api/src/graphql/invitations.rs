//! Invitations: how an organization gains members. Inviting answers the same whether
//! or not the address has an account or is already a member; the invitee accepts with
//! the link from the message (`acceptInvitation`, among the sign-in fields).

use async_graphql::{Context, InputObject, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};
use crust_domain::OrgId;
use uuid::Uuid;

use super::enums::OrgRole;
use super::ids::{id, parse};
use super::{actor, auth_service, db};

/// An open invitation (OWNER/ADMIN see them).
pub struct Invitation(pub crust_dal::invitations::Invitation);

#[Object]
impl Invitation {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn organization_id(&self) -> ID {
        id(self.0.org_id)
    }
    /// The invited address, as the inviter typed it.
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn role(&self) -> OrgRole {
        self.0.role().into()
    }
    /// Who sent it last (null if that account is gone).
    async fn invited_by_id(&self) -> Option<ID> {
        self.0.invited_by.map(id)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }
    /// Past its expiry: resend it for a new link, or revoke it.
    async fn expired(&self) -> bool {
        self.0.expires_at <= Utc::now()
    }
}

#[derive(Default)]
pub struct InvitationQuery;

#[Object]
impl InvitationQuery {
    /// The organization's open invitations, newest first (OWNER/ADMIN; at most 1,000).
    async fn organization_invitations(
        &self,
        ctx: &Context<'_>,
        organization_id: ID,
    ) -> Result<Vec<Invitation>> {
        let (actor, org): (_, OrgId) = (actor(ctx)?, parse("organizationId", &organization_id)?);
        let list = db(ctx)?
            .run(move |c| crust_dal::invitations::list_open(c, &actor, org))
            .await?;
        Ok(list.into_iter().map(Invitation).collect())
    }
}

#[derive(InputObject)]
pub struct InviteToOrganizationInput {
    pub organization_id: ID,
    pub email: String,
    /// Only an OWNER may invite an OWNER.
    pub role: OrgRole,
}

/// The same whatever the address: whether it has an account, or is already a member
/// (who gets no second invitation), is not told.
#[derive(SimpleObject)]
pub struct InviteToOrganizationPayload {
    pub email: String,
    /// When the link sent (if one was) stops working.
    pub expires_at: DateTime<Utc>,
}

#[derive(InputObject)]
pub struct InvitationIdInput {
    pub invitation_id: ID,
}

#[derive(SimpleObject)]
pub struct RevokeInvitationPayload {
    pub revoked_invitation_id: ID,
}

#[derive(SimpleObject)]
pub struct ResendInvitationPayload {
    pub invitation: Invitation,
}

#[derive(Default)]
pub struct InvitationMutation;

#[Object]
impl InvitationMutation {
    /// Invites an address to the organization (OWNER/ADMIN). A message with a link
    /// (valid 7 days, single use) goes to the address; inviting it again renews the
    /// invitation and kills the old link.
    async fn invite_to_organization(
        &self,
        ctx: &Context<'_>,
        input: InviteToOrganizationInput,
    ) -> Result<InviteToOrganizationPayload> {
        let (actor, org): (_, OrgId) = (
            actor(ctx)?,
            parse("organizationId", &input.organization_id)?,
        );
        let role = input.role.into();
        let email = input.email;
        let address = email.clone();
        db(ctx)?
            .run(move |c| crust_dal::invitations::invite(c, &actor, org, &address, role))
            .await?;
        auth_service(ctx)?.wake_mail();
        Ok(InviteToOrganizationPayload {
            email: email.trim().to_owned(),
            expires_at: Utc::now() + crust_dal::invitations::INVITATION_TTL,
        })
    }

    /// Revokes an open invitation: its link stops working.
    async fn revoke_invitation(
        &self,
        ctx: &Context<'_>,
        input: InvitationIdInput,
    ) -> Result<RevokeInvitationPayload> {
        let actor = actor(ctx)?;
        let invitation: Uuid = parse("invitationId", &input.invitation_id)?;
        db(ctx)?
            .run(move |c| crust_dal::invitations::revoke(c, &actor, invitation))
            .await?;
        Ok(RevokeInvitationPayload {
            revoked_invitation_id: id(invitation),
        })
    }

    /// Sends an open invitation again with a new link (the old one stops working)
    /// and a new expiry.
    async fn resend_invitation(
        &self,
        ctx: &Context<'_>,
        input: InvitationIdInput,
    ) -> Result<ResendInvitationPayload> {
        let actor = actor(ctx)?;
        let invitation: Uuid = parse("invitationId", &input.invitation_id)?;
        let invitation = db(ctx)?
            .run(move |c| crust_dal::invitations::resend(c, &actor, invitation))
            .await?;
        auth_service(ctx)?.wake_mail();
        Ok(ResendInvitationPayload {
            invitation: Invitation(invitation),
        })
    }
}
