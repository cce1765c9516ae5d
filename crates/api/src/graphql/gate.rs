//! Deny by default: every root field needs an authenticated caller, except the
//! sign-in ones; and one request carries at most one sign-in field.
//!
//! For anonymous callers the HTTP layer refuses a document naming any other root field
//! before it is validated (see `http::graphql`), and [`AnonymousValidation`] words
//! every validation error alike: otherwise "unknown field" against UNAUTHENTICATED, or
//! "unknown type" against "variable not used", would map the schema one guess at a
//! time, introspection or not.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextResolve, NextValidation, ResolveInfo,
};
use async_graphql::ValidationResult;
use async_graphql::{ErrorExtensions, PathSegment, ServerError, ServerResult, Value};

use super::RequestCtx;
use crate::error::ApiError;

/// What an anonymous caller is told of any invalid document.
pub const ANONYMOUS_INVALID: &str = "the request is not valid; without signing in only the sign-in fields (signUp, verifyEmail, resendVerification, login, refreshSession, requestPasswordReset, resetPassword, acceptInvitation) may be sent, as schema.graphql and the README describe them";

/// The sign-in fields. One request may carry at most one of them, so guesses (of
/// passwords, tokens or addresses) cannot be packed into a single request as aliases,
/// and each draws from the stricter sign-in rate limit per client network.
pub const SIGN_IN_FIELDS: &[&str] = &[
    "signUp",
    "verifyEmail",
    "resendVerification",
    "login",
    "refreshSession",
    "requestPasswordReset",
    "resetPassword",
    "acceptInvitation",
];

/// Fields of signed-in users that check a password or spend a link: like the sign-in
/// fields, one per request and drawn from the sign-in rate limit (so neither bcrypt
/// work nor guesses can be packed into one request as aliases).
pub const PASSWORD_FIELDS: &[&str] = &[
    "changePassword",
    "changeEmail",
    "confirmEmailChange",
    "deleteMyAccount",
];

/// Fields whose work no complexity figure bounds (a whole person's data): one per
/// request and from the sign-in rate limit too, so aliases or batches cannot multiply
/// it into every pooled connection at once.
pub const HEAVY_FIELDS: &[&str] = &["exportMyData"];

/// One of these per request, from the sign-in bucket: the sign-in fields, the
/// password fields and the heavy fields.
pub fn is_sign_in(field: &str) -> bool {
    SIGN_IN_FIELDS.contains(&field)
        || PASSWORD_FIELDS.contains(&field)
        || HEAVY_FIELDS.contains(&field)
}

/// May anyone call this root field (PRODUCT.md: sign-up, login, token refresh, and
/// the links of messages: verification, reset, address change, invitations)? The
/// sign-in fields and `__typename`.
pub fn is_public(field: &str) -> bool {
    field == "__typename" || SIGN_IN_FIELDS.contains(&field)
}

pub const SIGN_IN_FIRST: &str = "sign in first: send Authorization: Bearer <access token>";

/// `introspection: false` refuses `__schema` and `__type` to everyone (prod).
pub struct AuthGate {
    pub introspection: bool,
}

impl ExtensionFactory for AuthGate {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AuthGateExtension {
            introspection: self.introspection,
        })
    }
}

struct AuthGateExtension {
    introspection: bool,
}

fn refuse(info: &ResolveInfo<'_>, error: ApiError) -> ServerError {
    error
        .extend()
        .into_server_error(info.field.name.pos)
        .with_path(vec![PathSegment::Field(
            info.alias.unwrap_or(info.name).to_owned(),
        )])
}

#[async_graphql::async_trait::async_trait]
impl Extension for AuthGateExtension {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.path_node.parent.is_none() {
            let req = ctx.data_opt::<RequestCtx>();
            if is_sign_in(info.name) {
                let earlier = req.map_or(0, |r| r.sign_ins.fetch_add(1, Ordering::SeqCst));
                if earlier > 0 {
                    let e = ApiError::BadUserInput("send one sign-in operation per request".into());
                    return Err(refuse(&info, e));
                }
            }
            if !self.introspection && matches!(info.name, "__schema" | "__type") {
                let e = ApiError::Forbidden("introspection is disabled on this server".into());
                return Err(refuse(&info, e));
            } else if !is_public(info.name) && req.and_then(|r| r.caller.as_ref()).is_none() {
                let reason = req.and_then(|r| r.auth_error).unwrap_or(SIGN_IN_FIRST);
                return Err(refuse(&info, ApiError::Unauthenticated(reason)));
            }
        }
        next.run(ctx, info).await
    }
}

/// In the anonymous schema: validation errors say nothing of the schema.
pub struct AnonymousValidation;

impl ExtensionFactory for AnonymousValidation {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AnonymousValidation)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for AnonymousValidation {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|_| {
            let e = ApiError::BadUserInput(ANONYMOUS_INVALID.into());
            vec![e.extend().into_server_error(Default::default())]
        })
    }
}
