//! The query and mutation roots, wrapped: what is decided per operation (the auth
//! gate, the recording of each mutation, the test hooks) runs once per root field here,
//! and nothing at all runs for the fields below.
//!
//! These used to be async-graphql extensions. An extension's `resolve` hook runs for
//! every field of the response (ten thousand in a project tree), and merely having
//! one registered routes every field through the extension chain; so the signed-in
//! schema registers none.

use std::borrow::Cow;
use std::sync::atomic::Ordering;

use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::{resolve_container, ContainerType};
use async_graphql::{
    Context, ContextSelectionSet, ErrorExtensions, ObjectType, OutputType, PathSegment, Positioned,
    ServerError, ServerResult, Value,
};
use crust_domain::audit::Outcome;

use super::audit::{arguments, RequestVariables};
use super::gate::{is_public, is_sign_in, SIGN_IN_FIRST};
use super::RequestCtx;
use crate::audit::{Recorder, Work};
use crate::error::ApiError;

/// A root type whose root fields pass the gate (and, for the mutation root, are
/// recorded) before they resolve.
pub struct Root<T> {
    inner: T,
    /// Record each root field in the audit log (the mutation root).
    audited: bool,
    /// `CRUST_TEST_HOOKS` (test profile): see [`probe`].
    test_hooks: bool,
}

impl<T> Root<T> {
    pub fn query(inner: T, test_hooks: bool) -> Self {
        Root {
            inner,
            audited: false,
            test_hooks,
        }
    }

    pub fn mutation(inner: T, test_hooks: bool) -> Self {
        Root {
            inner,
            audited: true,
            test_hooks,
        }
    }
}

impl<T: ObjectType> ContainerType for Root<T> {
    async fn resolve_field(&self, ctx: &Context<'_>) -> ServerResult<Option<Value>> {
        let recorder = ctx
            .data_opt::<Recorder>()
            .filter(|r| self.audited && r.enabled());
        match recorder {
            Some(recorder) => recorded(recorder, ctx, self.gated(ctx)).await,
            None => self.gated(ctx).await,
        }
    }
}

impl<T: ObjectType> Root<T> {
    /// Deny by default: every root field needs an authenticated caller except the
    /// sign-in ones, and one request carries at most one sign-in field.
    async fn gated(&self, ctx: &Context<'_>) -> ServerResult<Option<Value>> {
        let field = &ctx.item;
        let name = field.node.name.node.as_str();
        let req = ctx.data_opt::<RequestCtx>();
        if is_sign_in(name) {
            let earlier = req.map_or(0, |r| r.sign_ins.fetch_add(1, Ordering::SeqCst));
            if earlier > 0 {
                let e = ApiError::BadUserInput("send one sign-in operation per request".into());
                return Err(refuse(field, e));
            }
        }
        if !is_public(name) && req.and_then(|r| r.caller.as_ref()).is_none() {
            let reason = req.and_then(|r| r.auth_error).unwrap_or(SIGN_IN_FIRST);
            return Err(refuse(field, ApiError::Unauthenticated(reason)));
        }
        if self.test_hooks {
            probe(field).await;
        }
        self.inner.resolve_field(ctx).await
    }
}

fn refuse(field: &Positioned<Field>, error: ApiError) -> ServerError {
    let key = field.node.response_key().node.to_string();
    error
        .extend()
        .into_server_error(field.pos)
        .with_path(vec![PathSegment::Field(key)])
}

/// Records the mutation resolved by `resolve`, succeeded or refused (see
/// [`crate::audit`]); refusals by the gate are recorded too, as the gate runs inside.
async fn recorded(
    recorder: &Recorder,
    ctx: &Context<'_>,
    resolve: impl std::future::Future<Output = ServerResult<Option<Value>>>,
) -> ServerResult<Option<Value>> {
    let field = &ctx.item.node;
    let name = field.name.node.as_str();
    let variables = ctx
        .data_opt::<RequestVariables>()
        .map(|v| v.0.clone())
        .unwrap_or_default();
    recorder.begin(name, arguments(field, &variables));
    let result = resolve.await;
    let Some(pending) = recorder.finish().filter(|p| !p.recorded) else {
        return result;
    };
    let (outcome, code) = match &result {
        Ok(_) => {
            // Every mutation's work should go through `Work::run` and be recorded in its
            // transaction; this one is recorded after the fact instead.
            tracing::warn!(mutation = %name, "mutation recorded outside its transaction");
            (Outcome::Ok, None)
        }
        Err(e) => {
            let code = match e.extensions.as_ref().and_then(|x| x.get("code")) {
                Some(Value::String(code)) => code.clone(),
                // async-graphql's own refusals (bad arguments) carry no code yet.
                _ => "BAD_USER_INPUT".to_owned(),
            };
            (Outcome::of_error_code(&code), Some(code))
        }
    };
    if let Some(work) = ctx.data_opt::<Work>() {
        recorder
            .record_unfinished(work.db(), pending, outcome, code)
            .await;
    }
    result
}

/// Test profile only: a root field aliased `crustTestPanic` panics inside its
/// resolver, so the tests can show what a panic becomes; one aliased `crustTestStall`
/// blocks its worker thread for a minute, as a runaway computation would, so the tests
/// can show that shutdown does not wait for it. (`crustTestSlow`, which needs no
/// resolver, is in the HTTP layer.)
async fn probe(field: &Positioned<Field>) {
    match field.node.alias.as_ref().map(|a| a.node.as_str()) {
        Some("crustTestPanic") => {
            panic!("test hook: a resolver panicked at /srv/crust/src/secret_path.rs:42")
        }
        Some("crustTestStall") => std::thread::sleep(std::time::Duration::from_secs(60)),
        _ => {}
    }
}

impl<T: ObjectType> OutputType for Root<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        resolve_container(ctx, self).await
    }
}

impl<T: ObjectType> ObjectType for Root<T> {}
