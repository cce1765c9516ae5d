//! What every request handler shares: the database, the auth service, the schemas,
//! the limits and the counters — built once from the configuration.

use std::time::Duration;

use crust_dal::{build_pool, PoolSettings};

use crate::auth::AuthService;
use crate::config::{Config, GraphqlLimits};
use crate::db::Db;
use crate::error::ApiError;
use crate::graphql::Schemas;

/// Everything a request handler needs, shared by all workers.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub auth: AuthService,
    pub schemas: Schemas,
    /// Put the number of SQL statements in each GraphQL response (tests, benchmarks).
    pub report_sql_statements: bool,
    /// `CRUST_TEST_HOOKS`: a request aliasing a field `crustTestSlow` waits 2 s.
    pub test_hooks: bool,
    pub limits: GraphqlLimits,
    /// Turns to execute a GraphQL operation (`CRUST_GRAPHQL_CONCURRENCY`).
    pub executions: std::sync::Arc<tokio::sync::Semaphore>,
    /// Operations started, for handing memory back once they stop (`memory`).
    pub activity: crate::memory::Activity,
    pub request_deadline: Duration,
    pub rate_limits: std::sync::Arc<crate::http::rate_limit::Limiters>,
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// How long the browser keeps the refresh cookie (the session's absolute lifetime).
    pub refresh_cookie_max_age: i64,
    pub audit_enabled: bool,
    pub refusals: std::sync::Arc<crate::audit::RefusalSampler>,
    /// Wakes this process's mail worker after a flow queued mail.
    pub mail: crate::mail::MailWake,
    /// The outbox worker, when this process runs one (`CRUST_MAIL_WORKER`).
    pub mail_worker: Option<crate::mail::worker::Worker>,
    /// Attachments' blob store, keys and limits.
    pub files: crate::files::Files,
    /// Origins a browser page may call from (`CRUST_CORS_ORIGINS`): live connections
    /// check them themselves (CORS does not cover WebSockets).
    pub cors_origins: Vec<String>,
    /// Does this server serve a single-page app (`CRUST_SPA_DIR`)? Its own origin may
    /// then open live connections.
    pub serves_app: bool,
    /// Live connections per user (`/graphql/ws`).
    pub live_connections: crate::live::Connections,
    /// The manifest of `CRUST_TRUSTED_DOCUMENTS` (empty when none is named).
    pub trusted: std::sync::Arc<crate::graphql::TrustedDocuments>,
}

impl AppState {
    pub fn new(config: &Config) -> Result<Self, ApiError> {
        let pool = build_pool(
            config.database.url.expose(),
            &PoolSettings {
                max_size: config.database.pool_size,
                checkout_timeout: Duration::from_millis(config.database.checkout_timeout_ms),
                statement_timeout: Duration::from_millis(config.database.statement_timeout_ms),
                role: config.database.role.clone(),
            },
        );
        let db = Db::new(pool);
        let mail = crate::mail::MailWake::default();
        let mail_worker = if config.mail.worker {
            let transport = crate::mail::transport::Transport::from_config(&config.mail)
                .map_err(|e| ApiError::internal(e.to_string()))?;
            Some(
                crate::mail::worker::Worker::new(db.clone(), &config.mail, transport)
                    .map_err(ApiError::internal)?,
            )
        } else {
            None
        };
        let files = crate::files::Files::from_config(&config.files).map_err(ApiError::internal)?;
        let trusted = match &config.graphql.trusted_documents {
            Some(path) => crate::graphql::TrustedDocuments::load(path)
                .map_err(|e| ApiError::internal(e.to_string()))?,
            None => Default::default(),
        };
        if !trusted.is_empty() {
            tracing::info!(documents = trusted.len(), "trusted documents loaded");
        }
        let auth = AuthService::new(db.clone(), config, mail.clone())?;
        let hub = crate::live::Hub::new(config.database.url.expose().to_owned());
        let schemas = Schemas::build(
            crate::graphql::Services {
                db: db.clone(),
                auth: auth.clone(),
                purge: files.purge.clone(),
                hub,
            },
            config,
        );
        crate::metrics::metrics().know_fields(root_fields(&schemas.signed_in.sdl()));
        Ok(AppState {
            db,
            auth,
            schemas,
            report_sql_statements: config.diagnostics.report_sql_statements,
            test_hooks: config.diagnostics.test_hooks,
            limits: config.graphql.clone(),
            activity: crate::memory::Activity::default(),
            executions: std::sync::Arc::new(tokio::sync::Semaphore::new(
                match config.graphql.concurrency {
                    0 => std::thread::available_parallelism().map_or(8, |n| n.get() * 4),
                    n => n,
                },
            )),
            request_deadline: Duration::from_millis(config.http.request_timeout_ms),
            rate_limits: std::sync::Arc::new(crate::http::rate_limit::Limiters::new(
                config.rate_limits,
            )),
            trusted_proxies: config.http.trusted_proxies.clone(),
            refresh_cookie_max_age: config.auth.refresh_absolute_ttl_secs,
            audit_enabled: config.audit.enabled,
            refusals: Default::default(),
            mail,
            mail_worker,
            files,
            trusted: std::sync::Arc::new(trusted),
            cors_origins: config.http.cors_origins.clone(),
            serves_app: config.http.spa_dir.is_some(),
            live_connections: Default::default(),
        })
    }
}

/// The fields of the schema's Query and Mutation types.
fn root_fields(sdl: &str) -> Vec<String> {
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
    let Ok(doc) = async_graphql::parser::parse_schema(sdl) else {
        return Vec::new();
    };
    doc.definitions
        .into_iter()
        .filter_map(|d| match d {
            TypeSystemDefinition::Type(t)
                if matches!(t.node.name.node.as_str(), "Query" | "Mutation") =>
            {
                match t.node.kind {
                    TypeKind::Object(o) => Some(o.fields),
                    _ => None,
                }
            }
            _ => None,
        })
        .flatten()
        .map(|f| f.node.name.node.to_string())
        .collect()
}
