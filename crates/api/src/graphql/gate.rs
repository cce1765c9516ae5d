//! Deny by default: every root field needs an authenticated caller, except the
//! sign-in ones; and one request carries at most one sign-in field.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo,
};
use async_graphql::{ErrorExtensions, PathSegment, ServerError, ServerResult, Value};

use super::RequestCtx;
use crate::error::ApiError;

/// Root fields anyone may call (PRODUCT.md: sign-up, login, token refresh).
pub const PUBLIC_FIELDS: &[&str] = &["signUp", "login", "refreshSession", "__typename"];

/// The sign-in fields. One request may carry at most one of them, so password guesses
/// cannot be packed into a single request as aliases.
pub const SIGN_IN_FIELDS: &[&str] = &["signUp", "login", "refreshSession"];

const SIGN_IN_FIRST: &str = "sign in first: send Authorization: Bearer <access token>";

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
            if SIGN_IN_FIELDS.contains(&info.name) {
                let earlier = req.map_or(0, |r| r.sign_ins.fetch_add(1, Ordering::SeqCst));
                if earlier > 0 {
                    let e = ApiError::BadUserInput("send one sign-in operation per request".into());
                    return Err(refuse(&info, e));
                }
            } else if !self.introspection && matches!(info.name, "__schema" | "__type") {
                let e = ApiError::Forbidden("introspection is disabled on this server".into());
                return Err(refuse(&info, e));
            } else if !PUBLIC_FIELDS.contains(&info.name)
                && req.and_then(|r| r.caller.as_ref()).is_none()
            {
                let reason = req.and_then(|r| r.auth_error).unwrap_or(SIGN_IN_FIRST);
                return Err(refuse(&info, ApiError::Unauthenticated(reason)));
            }
        }
        next.run(ctx, info).await
    }
}
