//! Sign-in mutations. These (except `logout`) are the only fields open to anonymous
//! callers.

use async_graphql::{Context, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, TimeZone, Utc};

use super::org::User;
use super::{auth_service, principal, recorder};
use crate::auth::SignedIn;

#[derive(InputObject)]
pub struct SignUpInput {
    pub email: String,
    /// 8–128 characters, not one of the 10,000 most common passwords.
    pub password: String,
    pub name: String,
}

#[derive(InputObject)]
pub struct LoginInput {
    pub email: String,
    pub password: String,
}

#[derive(InputObject)]
pub struct RefreshSessionInput {
    pub refresh_token: String,
}

/// A signed-in session: a short-lived access token (send as `Authorization: Bearer`)
/// and a single-use refresh token for the next pair.
#[derive(SimpleObject)]
pub struct AuthPayload {
    pub access_token: String,
    pub refresh_token: String,
    /// When the access token expires.
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

impl From<SignedIn> for AuthPayload {
    fn from(s: SignedIn) -> Self {
        AuthPayload {
            access_token: s.access_token,
            refresh_token: s.refresh_token,
            expires_at: Utc
                .timestamp_opt(s.expires_at, 0)
                .single()
                .unwrap_or_else(Utc::now),
            user: User(s.user),
        }
    }
}

#[derive(SimpleObject)]
pub struct LogoutPayload {
    /// True: the session is revoked; its tokens are refused from now on.
    pub revoked: bool,
}

#[derive(Default)]
pub struct AuthMutation;

#[Object]
impl AuthMutation {
    /// Creates an account and signs it in (unless sign-up is disabled by config).
    async fn sign_up(&self, ctx: &Context<'_>, input: SignUpInput) -> Result<AuthPayload> {
        let rec = recorder(ctx)?;
        let auth = auth_service(ctx)?;
        Ok(auth
            .sign_up(&input.email, input.password, &input.name, &rec)
            .await?
            .into())
    }

    /// Signs in. A wrong email or password answers the same way.
    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> Result<AuthPayload> {
        let rec = recorder(ctx)?;
        let auth = auth_service(ctx)?;
        Ok(auth.login(&input.email, input.password, &rec).await?.into())
    }

    /// Exchanges a refresh token (single use) for a new pair. Presenting a spent
    /// token revokes the session.
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        input: RefreshSessionInput,
    ) -> Result<AuthPayload> {
        Ok(auth_service(ctx)?
            .refresh(&input.refresh_token, &recorder(ctx)?)
            .await?
            .into())
    }

    /// Ends the caller's session at once.
    async fn logout(&self, ctx: &Context<'_>) -> Result<LogoutPayload> {
        let me = principal(ctx)?;
        auth_service(ctx)?.logout(me, &recorder(ctx)?).await?;
        Ok(LogoutPayload { revoked: true })
    }
}
