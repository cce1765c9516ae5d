//! Deny by default: every root field needs an authenticated caller, except these.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo,
};
use async_graphql::{ErrorExtensions, ServerResult, Value};

use crate::error::ApiError;

/// Root fields anyone may call (PRODUCT.md: sign-up, login, token refresh).
pub const PUBLIC_FIELDS: &[&str] = &["signUp", "login", "refreshSession", "__typename"];

pub struct AuthGate;

impl ExtensionFactory for AuthGate {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AuthGateExtension)
    }
}

struct AuthGateExtension;

#[async_graphql::async_trait::async_trait]
impl Extension for AuthGateExtension {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let is_root = info.path_node.parent.is_none();
        if is_root && !PUBLIC_FIELDS.contains(&info.name) {
            let req = ctx.data_opt::<super::RequestCtx>();
            if req.and_then(|r| r.caller.as_ref()).is_none() {
                let reason = req
                    .and_then(|r| r.auth_error)
                    .unwrap_or("sign in first: send Authorization: Bearer <access token>");
                return Err(ApiError::Unauthenticated(reason)
                    .extend()
                    .into_server_error(info.field.name.pos)
                    .with_path(vec![async_graphql::PathSegment::Field(
                        info.alias.unwrap_or(info.name).to_owned(),
                    )]));
            }
        }
        next.run(ctx, info).await
    }
}
