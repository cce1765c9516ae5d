//! Sign-in mutations: sign-up and its verification, login, refresh, logout, password
//! reset, the link that confirms a new address, and accepting an invitation. These
//! (except `logout`) are the only fields open to anonymous callers. Those that take an
//! address answer the same whether or not it has an account.

use async_graphql::{Context, InputObject, Object, Result, SimpleObject, ID};
use chrono::{DateTime, TimeZone, Utc};

use super::ids::id;
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

/// What sign-up, a resend and a reset request answer, whatever the address.
#[derive(SimpleObject)]
pub struct CheckInboxPayload {
    /// Always true; the message says what to do next.
    pub accepted: bool,
    pub message: String,
}

impl CheckInboxPayload {
    fn new(message: &str) -> Self {
        CheckInboxPayload {
            accepted: true,
            message: message.to_owned(),
        }
    }
}

#[derive(InputObject)]
pub struct TokenInput {
    /// The token from the link in the message (after `#token=`).
    pub token: String,
}

#[derive(InputObject)]
pub struct VerifyEmailInput {
    /// The token from the link in the message (after `#token=`).
    pub token: String,
    /// The password chosen at sign-up.
    pub password: String,
}

#[derive(InputObject)]
pub struct EmailInput {
    pub email: String,
}

#[derive(InputObject)]
pub struct ResetPasswordInput {
    pub token: String,
    /// 8–128 characters, not one of the 10,000 most common passwords.
    pub password: String,
}

#[derive(SimpleObject)]
pub struct ResetPasswordPayload {
    /// Sessions of the account that were ended; sign in with the new password.
    pub ended_sessions: i32,
}

#[derive(SimpleObject)]
pub struct ConfirmEmailChangePayload {
    pub changed: bool,
}

#[derive(InputObject)]
pub struct AcceptInvitationInput {
    pub token: String,
    /// For a new account (nobody signed in): your name.
    pub name: Option<String>,
    /// For a new account: 8–128 characters, not one of the 10,000 most common.
    pub password: Option<String>,
}

#[derive(SimpleObject)]
pub struct AcceptInvitationPayload {
    /// The organization you joined.
    pub organization_id: ID,
    /// A new account's first session (null when you accepted signed in).
    pub session: Option<AuthPayload>,
}

const CHECK_INBOX: &str = "check your inbox: we sent a message to this address";

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
    /// Starts sign-up (unless disabled by config): a new address gets a link to
    /// confirm it (`verifyEmail` then signs in); an address that has an account gets a
    /// notice instead. The answer is the same either way.
    async fn sign_up(&self, ctx: &Context<'_>, input: SignUpInput) -> Result<CheckInboxPayload> {
        let rec = recorder(ctx)?;
        auth_service(ctx)?
            .sign_up(&input.email, input.password, &input.name, &rec)
            .await?;
        Ok(CheckInboxPayload::new(CHECK_INBOX))
    }

    /// Confirms an address with the token from the sign-up message and the password
    /// chosen at sign-up, and signs in. (The password too: a link that someone else's
    /// sign-up sent to your inbox must not set their password on your address.)
    async fn verify_email(
        &self,
        ctx: &Context<'_>,
        input: VerifyEmailInput,
    ) -> Result<AuthPayload> {
        let rec = recorder(ctx)?;
        Ok(auth_service(ctx)?
            .verify_email(input.token, input.password, &rec)
            .await?
            .into())
    }

    /// Sends a new confirmation link to an address that signed up but has not
    /// confirmed (at most one a minute). The same answer for any address.
    async fn resend_verification(
        &self,
        ctx: &Context<'_>,
        input: EmailInput,
    ) -> Result<CheckInboxPayload> {
        let rec = recorder(ctx)?;
        auth_service(ctx)?
            .resend_verification(&input.email, &rec)
            .await?;
        Ok(CheckInboxPayload::new(CHECK_INBOX))
    }

    /// Sends a link to choose a new password (valid one hour) if the address has an
    /// account; at most one per address every few minutes. The same answer for any
    /// address.
    async fn request_password_reset(
        &self,
        ctx: &Context<'_>,
        input: EmailInput,
    ) -> Result<CheckInboxPayload> {
        let rec = recorder(ctx)?;
        auth_service(ctx)?
            .request_password_reset(&input.email, &rec)
            .await?;
        Ok(CheckInboxPayload::new(CHECK_INBOX))
    }

    /// Sets a new password with the token from the reset message. Every session of
    /// the account ends, failed sign-ins are forgotten, and a notice is sent.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        input: ResetPasswordInput,
    ) -> Result<ResetPasswordPayload> {
        let rec = recorder(ctx)?;
        let ended = auth_service(ctx)?
            .reset_password(input.token, input.password, &rec)
            .await?;
        Ok(ResetPasswordPayload {
            ended_sessions: i32::try_from(ended).unwrap_or(i32::MAX),
        })
    }

    /// Confirms a change of address with the token sent to the new address, signed in
    /// as the account that asked (see `changeEmail`); both addresses are told.
    async fn confirm_email_change(
        &self,
        ctx: &Context<'_>,
        input: TokenInput,
    ) -> Result<ConfirmEmailChangePayload> {
        let me = principal(ctx)?;
        let rec = recorder(ctx)?;
        auth_service(ctx)?
            .confirm_email_change(me, input.token, &rec)
            .await?;
        Ok(ConfirmEmailChangePayload { changed: true })
    }

    /// Accepts an invitation with the token from its message: signed in as the
    /// invited address, or — for an address without an account — with a name and
    /// password, which creates the account and signs it in.
    async fn accept_invitation(
        &self,
        ctx: &Context<'_>,
        input: AcceptInvitationInput,
    ) -> Result<AcceptInvitationPayload> {
        let rec = recorder(ctx)?;
        let me = principal(ctx).ok();
        let joined = auth_service(ctx)?
            .accept_invitation(input.token, me, input.name, input.password, &rec)
            .await?;
        Ok(AcceptInvitationPayload {
            organization_id: id(joined.org.0),
            session: joined.session.map(AuthPayload::from),
        })
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
