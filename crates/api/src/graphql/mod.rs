//! The GraphQL schema: thin resolvers over the DAL, split by area and merged.
//!
//! Per request the HTTP layer puts a [`RequestCtx`] in the request data (who is
//! calling, from where); the [`Db`] and [`AuthService`] are schema data. Every root
//! field except the sign-in ones needs an authenticated caller; the roots ([`Root`])
//! enforce that for all of them at once, so no resolver can forget.

mod account;
mod advice;
mod ahead;
mod attachments;
mod audit;
mod auth;
mod board;
mod comments;
mod connection;
pub mod cost;
mod deps;
pub mod document;
mod enums;
mod gate;
mod ids;
mod invitations;
mod live;
mod loaders;
mod notifications;
mod org;
pub(crate) mod plain;
mod project;
mod recipes;
mod root;
mod search;
mod structure;
mod task;
mod trusted;

use async_graphql::{Context, MergedObject, Schema};

use crate::files::purge::PurgeWake;
use crust_dal::sessions::ClientInfo;
use crust_dal::Actor;

use crate::auth::{AuthService, Principal};
use crate::config::{Config, Profile};
use crate::db::Db;
use crate::error::ApiError;

pub(crate) use advice::advise;
pub(crate) use audit::record_refused_field;
pub use audit::RequestVariables;
pub use gate::{
    hashes_passwords, is_public, is_sign_in, ANONYMOUS_INVALID, SIGN_IN_FIELDS, SIGN_IN_FIRST,
};
pub(crate) use live::ONLY_OVER_WS;
pub use loaders::loaders;
pub use root::Root;
pub use trusted::{sha256_hex, ManifestError, TrustedDocuments};

#[derive(MergedObject, Default)]
pub struct Query(
    org::OrgQuery,
    project::ProjectQuery,
    task::TaskQuery,
    recipes::RecipeQuery,
    account::AccountQuery,
    search::SearchQuery,
    audit::AuditQuery,
    invitations::InvitationQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    auth::AuthMutation,
    org::OrgMutation,
    project::ProjectMutation,
    structure::StructureMutation,
    task::TaskMutation,
    board::BoardMutation,
    deps::DependencyMutation,
    comments::CommentMutation,
    attachments::AttachmentMutation,
    recipes::RecipeMutation,
    account::AccountMutation,
    invitations::InvitationMutation,
    notifications::NotificationMutation,
);

pub use live::Subscription;

pub type CrustSchema = Schema<Root<Query>, Root<Mutation>, Subscription>;

/// Who is calling, known before the query runs.
#[derive(Clone, Default)]
pub struct RequestCtx {
    pub caller: Option<(Principal, Actor)>,
    /// Why a presented bearer token was refused (the caller is then anonymous).
    pub auth_error: Option<&'static str>,
    pub client: ClientInfo,
    /// Sign-in fields resolved so far in this request (see `gate`).
    pub sign_ins: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// The schemas a server runs: one for signed-in callers and one for anonymous ones.
/// They differ only in "did you mean …?" suggestions, which map the schema for whoever
/// probes it: like introspection, anonymous callers never get them, and nobody does
/// where introspection is off (prod).
#[derive(Clone)]
pub struct Schemas {
    pub signed_in: CrustSchema,
    pub anonymous: CrustSchema,
}

/// What resolvers reach through the schema's data.
#[derive(Clone)]
pub struct Services {
    pub db: Db,
    pub auth: AuthService,
    pub purge: PurgeWake,
    /// Live changes, for subscriptions.
    pub hub: crate::live::Hub,
}

impl Schemas {
    pub fn build(services: Services, config: &Config) -> Self {
        Schemas {
            signed_in: build_schema(Some(services.clone()), config, Audience::SignedIn),
            anonymous: build_schema(Some(services), config, Audience::Anonymous),
        }
    }

    pub fn for_caller(&self, signed_in: bool) -> &CrustSchema {
        if signed_in {
            &self.signed_in
        } else {
            &self.anonymous
        }
    }
}

/// Whom a schema answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Audience {
    SignedIn,
    Anonymous,
}

/// Builds a schema with its shared data and limits. `None` data builds a schema for
/// SDL export. Documents reach it only through [`document::check`] (see the HTTP
/// layer), which bounds what async-graphql's own walks cost.
fn build_schema(services: Option<Services>, config: &Config, audience: Audience) -> CrustSchema {
    let limits = &config.graphql;
    // The auth gate and the audit of mutations are in the roots, not extensions: an
    // extension would run for every field (see `root`).
    let test_hooks = config.diagnostics.test_hooks;
    let mut builder = Schema::build(
        Root::query(Query::default(), test_hooks),
        Root::mutation(Mutation::default(), test_hooks),
        Subscription,
    )
    .limit_depth(limits.max_depth)
    .limit_complexity(limits.max_complexity)
    .limit_directives(limits.max_directives);
    let anonymous = audience == Audience::Anonymous;
    if anonymous || !limits.introspection || config.profile == Profile::Prod {
        builder = builder.disable_suggestions();
    }
    // Refused in the HTTP layer already, with its reason; this also covers any other
    // way a document reaches the schema (the live socket).
    if !limits.introspection {
        builder = builder.disable_introspection();
    }
    if anonymous {
        // Validation only: an extension with a `resolve` hook would be skipped by the
        // fields `plain` answers.
        builder = builder.extension(gate::AnonymousValidation);
    }
    if let Some(Services {
        db,
        auth,
        purge,
        hub,
    }) = services
    {
        builder = builder.data(db).data(auth).data(purge).data(hub);
    }
    builder.finish()
}

/// The schema in SDL, as committed in `schema.graphql`.
pub fn export_sdl() -> String {
    let defaults = crate::config::Source::from_vars(Default::default())
        .and_then(|s| s.load())
        .unwrap_or_else(|e| unreachable!("the default configuration is valid: {e}"));
    build_schema(None, &defaults, Audience::SignedIn).sdl()
}

pub(crate) fn request<'a>(ctx: &Context<'a>) -> &'a RequestCtx {
    static ANONYMOUS: std::sync::OnceLock<RequestCtx> = std::sync::OnceLock::new();
    ctx.data_opt::<RequestCtx>()
        .unwrap_or_else(|| ANONYMOUS.get_or_init(RequestCtx::default))
}

/// The acting user, or UNAUTHENTICATED.
pub(crate) fn actor(ctx: &Context<'_>) -> Result<Actor, ApiError> {
    let req = request(ctx);
    req.caller
        .as_ref()
        .map(|(_, actor)| actor.clone())
        .ok_or(ApiError::Unauthenticated(req.auth_error.unwrap_or(
            "sign in first: send Authorization: Bearer <access token>",
        )))
}

pub(crate) fn principal(ctx: &Context<'_>) -> Result<Principal, ApiError> {
    request(ctx)
        .caller
        .as_ref()
        .map(|(p, _)| *p)
        .ok_or(ApiError::Unauthenticated(
            "sign in first: send Authorization: Bearer <access token>",
        ))
}

/// The request's audited unit of work: resolvers reach the database only through it.
pub(crate) fn db<'a>(ctx: &Context<'a>) -> Result<&'a crate::audit::Work, ApiError> {
    ctx.data::<crate::audit::Work>()
        .map_err(|_| ApiError::internal("database missing from schema data"))
}

pub(crate) fn auth_service<'a>(ctx: &Context<'a>) -> Result<&'a AuthService, ApiError> {
    ctx.data::<AuthService>()
        .map_err(|_| ApiError::internal("auth service missing from schema data"))
}

/// The request's audit recorder.
pub(crate) fn recorder(ctx: &Context<'_>) -> Result<crate::audit::Recorder, ApiError> {
    ctx.data::<crate::audit::Recorder>()
        .cloned()
        .map_err(|_| ApiError::internal("audit recorder missing from request data"))
}
