//! The caller's own account: `me` (with their assigned work, open sessions and
//! security events), ending one of their sessions, and changing their password.

use async_graphql::{Context, InputObject, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};
use crust_domain::{SessionId, UserId};

use super::audit::AuditEvent;
use super::connection::{paged, Conn};
use super::ids::{id, parse};
use super::search::{search, to_dal, TaskOrder, TaskSearchFilter};
use super::task::Task;
use super::{actor, auth_service, db, principal, recorder};
use crate::error::ApiError;

/// The signed-in user, with their work.
pub struct Me(pub crust_dal::models::User);

#[Object]
impl Me {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Tasks assigned to you that you may see (`filter.assigneeId` is ignored).
    #[graphql(complexity = "super::connection::cost(first, child_complexity)")]
    async fn assigned_tasks(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] filter: TaskSearchFilter,
        first: Option<i32>,
        after: Option<String>,
        #[graphql(default)] order_by: TaskOrder,
    ) -> Result<Conn<Task>> {
        let mut filter = to_dal(filter)?;
        filter.assignee = Some(UserId(self.0.id));
        search(ctx, filter, order_by, first, after).await
    }

    /// Your notifications, newest first.
    #[graphql(complexity = "super::connection::cost(first, child_complexity)")]
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        #[graphql(default)] unread_only: bool,
    ) -> Result<Conn<super::notifications::Notification>> {
        super::notifications::notifications(ctx, first, after, unread_only).await
    }

    /// Which emails you get.
    async fn notification_settings(
        &self,
        ctx: &Context<'_>,
    ) -> Result<super::notifications::NotificationSettings> {
        super::notifications::settings(ctx).await
    }

    /// Your sessions that are still open; end one with `revokeSession`.
    async fn sessions(&self, ctx: &Context<'_>) -> Result<Vec<Session>> {
        Ok(sessions(ctx).await?)
    }

    /// Your sign-ins (and failed attempts on your account), sign-outs, token
    /// refreshes, password changes and session revocations, newest first.
    #[graphql(complexity = "super::connection::cost(first, child_complexity)")]
    async fn security_events(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Conn<AuditEvent>> {
        Ok(security_events(ctx, first, after).await?)
    }
}

#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The signed-in user.
    async fn me(&self, ctx: &Context<'_>) -> Result<Me> {
        let actor = actor(ctx)?;
        Ok(Me(db(ctx)?
            .run(move |c| crust_dal::users::me(c, &actor))
            .await?))
    }

    /// Everything Crust holds about you, as one JSON document (GDPR's right of
    /// access): profile, memberships and project roles, sessions, the tasks you created
    /// or are assigned and your comments (as far as you may still see them; the rest is
    /// counted under `withheld`), and the audit events that name you (the newest
    /// 10,000, with the total).
    async fn export_my_data(&self, ctx: &Context<'_>) -> Result<String> {
        let me = principal(ctx)?;
        let data = db(ctx)?
            .run(move |c| crust_dal::gdpr::export_own(c, &me))
            .await?;
        Ok(crate::gdpr::personal_data_json(&data).to_string())
    }
}

/// One of your sign-ins that is still open.
#[derive(SimpleObject)]
pub struct Session {
    pub id: ID,
    pub created_at: DateTime<Utc>,
    /// When its refresh token was last used.
    pub last_used_at: DateTime<Utc>,
    /// When it ends whatever happens.
    pub expires_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The session of this request.
    pub current: bool,
}

/// The caller's open sessions, newest first.
pub async fn sessions(ctx: &Context<'_>) -> Result<Vec<Session>, ApiError> {
    let me = principal(ctx)?;
    let idle = auth_service(ctx)?.idle_ttl();
    let list = db(ctx)?
        .run(move |c| crust_dal::sessions::open_for_user(c, &me, idle))
        .await?;
    Ok(list
        .into_iter()
        .map(|s| Session {
            id: id(s.id),
            current: s.id == me.session_id().0,
            created_at: s.created_at,
            last_used_at: s.last_refreshed_at,
            expires_at: s.absolute_expires_at,
            ip: s.ip,
            user_agent: s.user_agent,
        })
        .collect())
}

/// The caller's own security events, newest first.
pub async fn security_events(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
) -> Result<Conn<AuditEvent>, ApiError> {
    // The caller's own account: the proof of their session, not their actor.
    let me = principal(ctx)?;
    let fetch = move |c: &mut _, _: &_, p| crust_dal::audit::security_events(c, &me, p);
    paged(ctx, first, after, fetch, AuditEvent).await
}

#[derive(InputObject)]
pub struct RevokeSessionInput {
    pub session_id: ID,
}

#[derive(SimpleObject)]
pub struct RevokeSessionPayload {
    pub revoked_session_id: ID,
}

#[derive(InputObject)]
pub struct ChangePasswordInput {
    pub current_password: String,
    /// 8–128 characters, not one of the 10,000 most common passwords.
    pub new_password: String,
}

#[derive(SimpleObject)]
pub struct ChangePasswordPayload {
    /// Your other sessions, now ended (this one stays signed in).
    pub ended_sessions: i32,
}

#[derive(InputObject)]
pub struct ChangeEmailInput {
    /// Your current password.
    pub password: String,
    pub new_email: String,
}

/// The same whether or not the new address is free: nothing changes until the link
/// sent to it is followed (`confirmEmailChange`).
#[derive(SimpleObject)]
pub struct ChangeEmailPayload {
    pub message: String,
}

#[derive(InputObject)]
pub struct DeleteMyAccountInput {
    pub password: String,
}

#[derive(SimpleObject)]
pub struct DeleteMyAccountPayload {
    pub message: String,
}

#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Ends one of your sessions (for instance a sign-in you do not recognize): its
    /// tokens are refused from the next request on. Others' sessions are NOT_FOUND.
    async fn revoke_session(
        &self,
        ctx: &Context<'_>,
        input: RevokeSessionInput,
    ) -> Result<RevokeSessionPayload> {
        let me = principal(ctx)?;
        let session: SessionId = parse("sessionId", &input.session_id)?;
        db(ctx)?
            .run(move |c| crust_dal::sessions::revoke_own(c, &me, session))
            .await?;
        Ok(RevokeSessionPayload {
            revoked_session_id: id(session.0),
        })
    }

    /// Starts changing your address: after your password is checked, a link goes to
    /// the new address; the change takes effect when it is followed, and both the old
    /// and the new address are told.
    async fn change_email(
        &self,
        ctx: &Context<'_>,
        input: ChangeEmailInput,
    ) -> Result<ChangeEmailPayload> {
        let me = principal(ctx)?;
        let rec = recorder(ctx)?;
        auth_service(ctx)?
            .change_email(me, input.password, &input.new_email, &rec)
            .await?;
        Ok(ChangeEmailPayload {
            message: "check the new address's inbox: the change takes effect when you open the link we sent there".into(),
        })
    }

    /// Erases your account once your password is checked: your name, address,
    /// password and sessions are gone at once; tasks and comments you shared stay,
    /// shown as by "deleted user"; the audit log keeps its events with your client
    /// details pseudonymized. Refused (CONFLICT) while you are the last OWNER of an
    /// organization: make someone else OWNER first. Export your data before.
    async fn delete_my_account(
        &self,
        ctx: &Context<'_>,
        input: DeleteMyAccountInput,
    ) -> Result<DeleteMyAccountPayload> {
        let me = principal(ctx)?;
        let rec = recorder(ctx)?;
        auth_service(ctx)?
            .delete_account(me, input.password, &rec)
            .await?;
        Ok(DeleteMyAccountPayload {
            message: "your account is deleted; every session of it has ended".into(),
        })
    }

    /// Changes your password and ends your other sessions.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        input: ChangePasswordInput,
    ) -> Result<ChangePasswordPayload> {
        let me = principal(ctx)?;
        let rec = recorder(ctx)?;
        let ended = auth_service(ctx)?
            .change_password(me, input.current_password, input.new_password, &rec)
            .await?;
        Ok(ChangePasswordPayload {
            ended_sessions: i32::try_from(ended).unwrap_or(i32::MAX),
        })
    }
}
