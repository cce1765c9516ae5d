//! Deny by default: every root field needs an authenticated caller, except the
//! sign-in ones; and one request carries at most one sign-in field. The roots enforce
//! this as each root field resolves (see `root`); this module says which fields are
//! which.
//!
//! For anonymous callers the HTTP layer refuses a document naming any other root field
//! before it is validated (see `http::graphql`), and [`AnonymousValidation`] words
//! every validation error alike: otherwise "unknown field" against UNAUTHENTICATED, or
//! "unknown type" against "variable not used", would map the schema one guess at a
//! time, introspection or not.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextValidation};
use async_graphql::ValidationResult;
use async_graphql::{ErrorExtensions, ServerError};

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

/// Does this root field check or set a password (a sign-in or password field)? Such
/// operations wait for the hashing pool rather than for a turn to execute.
pub fn hashes_passwords(field: &str) -> bool {
    SIGN_IN_FIELDS.contains(&field) || PASSWORD_FIELDS.contains(&field)
}

/// May anyone call this root field (PRODUCT.md: sign-up, login, token refresh, and
/// the links of messages: verification, reset, address change, invitations)? The
/// sign-in fields and `__typename`.
pub fn is_public(field: &str) -> bool {
    field == "__typename" || SIGN_IN_FIELDS.contains(&field)
}

pub const SIGN_IN_FIRST: &str = "sign in first: send Authorization: Bearer <access token>";

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
