//! Configuration: one typed struct, read from `CRUST_*` environment variables (and
//! `DATABASE_URL`), optionally on top of a TOML file named by `CRUST_CONFIG`.
//! Environment variables win over the file. Every setting is documented in README.md.
//!
//! Development defaults for secrets are marked as such and refused by the prod profile.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use serde::Deserialize;

/// The JWT secret used when none is configured. Never valid in prod.
pub const DEV_JWT_SECRET: &str = "dev-only-insecure-jwt-secret-do-not-use-in-production";
/// The password pepper used when none is configured. Never valid in prod.
pub const DEV_PASSWORD_PEPPER: &str = "dev-only-insecure-pepper-do-not-use-in-production";
/// Shortest secret (in bytes) the prod profile accepts for the JWT key and the pepper.
pub const MIN_PROD_SECRET_BYTES: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    Dev,
    Test,
    Demo,
    Prod,
}

impl Profile {
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Dev => "dev",
            Profile::Test => "test",
            Profile::Demo => "demo",
            Profile::Prod => "prod",
        }
    }

    /// Each profile has its own database unless `DATABASE_URL` says otherwise.
    pub fn default_database_name(self) -> &'static str {
        match self {
            Profile::Dev => "crust_dev",
            Profile::Test => "crust_test",
            Profile::Demo => "crust_demo",
            Profile::Prod => "crust",
        }
    }
}

impl FromStr for Profile {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "dev" => Ok(Profile::Dev),
            "test" => Ok(Profile::Test),
            "demo" => Ok(Profile::Demo),
            "prod" => Ok(Profile::Prod),
            other => Err(ConfigError::Invalid {
                key: "CRUST_PROFILE",
                problem: format!("`{other}` is not one of dev, test, demo, prod"),
            }),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{key}: {problem}")]
    Invalid { key: &'static str, problem: String },
    #[error("cannot read config file {path}: {problem}")]
    File { path: String, problem: String },
    #[error("the prod profile refuses to start:\n  - {}", .0.join("\n  - "))]
    RefusedInProd(Vec<String>),
}

/// A secret that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Config {
    /// Where migrations and admin commands connect: the tables' owner.
    pub fn owner_database_url(&self) -> &Secret {
        self.migration_database_url
            .as_ref()
            .unwrap_or(&self.database_url)
    }
}

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub profile: Profile,
    /// The server's login: best one that is only a member of `CRUST_DATABASE_ROLE`.
    pub database_url: Secret,
    /// The tables' owner, for migrations and the admin commands; `None`: `database_url`.
    pub migration_database_url: Option<Secret>,
    pub bind: SocketAddr,
    /// Current signing key id (`kid`) and secret.
    pub jwt_kid: String,
    pub jwt_secret: Secret,
    /// Older keys still accepted for verification during rotation: kid → secret.
    pub jwt_previous: HashMap<String, Secret>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub access_token_ttl_secs: i64,
    pub refresh_idle_ttl_secs: i64,
    pub refresh_absolute_ttl_secs: i64,
    pub password_pepper: Secret,
    pub bcrypt_cost: u32,
    pub signup_enabled: bool,
    pub graphiql: bool,
    pub db_pool_size: u32,
    pub db_checkout_timeout_ms: u64,
    pub db_statement_timeout_ms: u64,
    /// The role the server's connections switch to (`SET ROLE`); `None` keeps the
    /// login role. The default, `crust_app`, may not change the audit log.
    pub db_role: Option<String>,
    /// Record the audit log. Only for measuring its cost: prod refuses it off.
    pub audit_enabled: bool,
    /// Days after which `crust audit prune` pseudonymizes events' IPs and user agents.
    pub audit_retention_days: u32,
    pub log_format: LogFormat,
    pub report_sql_statements: bool,
    pub graphql: GraphqlLimits,
    /// Longest a GraphQL request may run before it is stopped (503).
    pub request_timeout_ms: u64,
    /// On SIGTERM/SIGINT, how long requests in flight may finish; the process exits
    /// when they have, and at the latest shortly after this, whatever is still running.
    pub shutdown_grace_secs: u64,
    /// Longest a client may take to send its request head (slow clients are dropped).
    pub client_timeout_ms: u64,
    /// A proxy in front terminates TLS: send HSTS.
    pub behind_tls_proxy: bool,
    /// Serve HTTPS with this certificate chain and private key (PEM files).
    pub tls_cert: Option<std::path::PathBuf>,
    pub tls_key: Option<std::path::PathBuf>,
    /// With TLS: also listen for plain HTTP here, only to redirect to HTTPS.
    pub http_redirect_bind: Option<SocketAddr>,
    /// Browser origins allowed to call the API (CORS), e.g. `https://app.example.com`;
    /// `*` (any origin, never with credentials) only outside prod.
    pub cors_origins: Vec<String>,
    /// Proxies whose `X-Forwarded-For` is believed; everyone else's is ignored.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    pub rate_limits: RateLimits,
    /// Failed sign-ins on one account from one client address within the window that
    /// lock that pair; beyond as many on the account from anywhere, attempts are delayed …
    pub login_max_failures: usize,
    pub login_failure_window_secs: u64,
    /// … the pair stays locked this long …
    pub login_lockout_secs: u64,
    /// … and the delay doubles per further failure up to this (milliseconds).
    pub login_max_delay_ms: u64,
    /// Test profile only: lets tests trigger a resolver panic (`crustTestPanic` alias).
    pub test_hooks: bool,
}

/// What a single GraphQL request may ask for. async-graphql enforces none of these by
/// default; each is checked before any resolver runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphqlLimits {
    /// Deepest nesting of selections.
    pub max_depth: usize,
    /// Cost ceiling; a list costs its page size times its children (see README).
    pub max_complexity: usize,
    /// Aliased fields per operation (graphql-armor's default: 15).
    pub max_aliases: usize,
    /// Directives on one field.
    pub max_directives: usize,
    /// Characters of query text.
    pub max_query_chars: usize,
    /// Operations per request: 1 means batching is off.
    pub max_batch: usize,
    /// Fields, fragment spreads and inline fragments an operation (or a fragment) may
    /// select once every spread is expanded.
    pub max_selections: usize,
    /// Schema introspection (`__schema`, `__type`); refused in prod.
    pub introspection: bool,
}

/// Requests per hour (per process), each with a burst allowance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimits {
    /// Per signed-in user (anchor: Linear's 5,000 requests/hour/user).
    pub user_per_hour: u32,
    /// Per client IP, for requests without a valid token.
    pub anonymous_per_hour: u32,
    /// Per client IP, for sign-in operations (login, signUp, refreshSession).
    pub sign_in_per_hour: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The optional file: the same settings, named like the variables without `CRUST_`
/// and in lower case (`bind = "0.0.0.0:8080"`, `bcrypt_cost = 12` …).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    profile: Option<String>,
    database_url: Option<String>,
    migration_database_url: Option<String>,
    bind: Option<String>,
    jwt_kid: Option<String>,
    jwt_secret: Option<String>,
    jwt_previous_keys: Option<String>,
    jwt_issuer: Option<String>,
    jwt_audience: Option<String>,
    access_token_ttl_secs: Option<i64>,
    refresh_idle_ttl_secs: Option<i64>,
    refresh_absolute_ttl_secs: Option<i64>,
    password_pepper: Option<String>,
    bcrypt_cost: Option<u32>,
    signup_enabled: Option<bool>,
    graphiql: Option<bool>,
    db_pool_size: Option<u32>,
    db_checkout_timeout_ms: Option<u64>,
    db_statement_timeout_ms: Option<u64>,
    database_role: Option<String>,
    audit_enabled: Option<bool>,
    audit_retention_days: Option<u32>,
    log_format: Option<String>,
    report_sql_statements: Option<bool>,
    graphql_max_depth: Option<usize>,
    graphql_max_complexity: Option<usize>,
    graphql_max_aliases: Option<usize>,
    graphql_max_directives: Option<usize>,
    graphql_max_query_chars: Option<usize>,
    graphql_max_batch: Option<usize>,
    graphql_max_selections: Option<usize>,
    introspection: Option<bool>,
    test_hooks: Option<bool>,
    request_timeout_ms: Option<u64>,
    shutdown_grace_secs: Option<u64>,
    client_timeout_ms: Option<u64>,
    behind_tls_proxy: Option<bool>,
    trusted_proxies: Option<String>,
    tls_cert: Option<String>,
    tls_key: Option<String>,
    http_redirect_bind: Option<String>,
    cors_origins: Option<String>,
    rate_limit_user_per_hour: Option<u32>,
    rate_limit_anonymous_per_hour: Option<u32>,
    rate_limit_sign_in_per_hour: Option<u32>,
    login_max_failures: Option<usize>,
    login_failure_window_secs: Option<u64>,
    login_lockout_secs: Option<u64>,
    login_max_delay_ms: Option<u64>,
}

/// One finding of `crust check --deploy`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub serious: bool,
    pub message: String,
}

/// Reads settings from a map of variables (the process environment in production,
/// a plain map in tests).
pub struct Source {
    vars: HashMap<String, String>,
    file: FileConfig,
}

impl Source {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars().collect())
    }

    pub fn from_vars(vars: HashMap<String, String>) -> Result<Self, ConfigError> {
        let file = match vars.get("CRUST_CONFIG") {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
                    path: path.clone(),
                    problem: e.to_string(),
                })?;
                toml::from_str(&text).map_err(|e| ConfigError::File {
                    path: path.clone(),
                    problem: e.message().to_owned(),
                })?
            }
            None => FileConfig::default(),
        };
        Ok(Source { vars, file })
    }

    fn text(&self, key: &'static str, from_file: &Option<String>) -> Option<String> {
        self.vars
            .get(key)
            .filter(|v| !v.is_empty())
            .cloned()
            .or_else(|| from_file.clone())
    }

    fn parsed<T: FromStr>(
        &self,
        key: &'static str,
        from_file: Option<T>,
    ) -> Result<Option<T>, ConfigError>
    where
        T::Err: fmt::Display,
    {
        match self.vars.get(key).filter(|v| !v.is_empty()) {
            Some(v) => v.parse().map(Some).map_err(|e| ConfigError::Invalid {
                key,
                problem: format!("`{v}` is not valid: {e}"),
            }),
            None => Ok(from_file),
        }
    }

    pub fn load(&self) -> Result<Config, ConfigError> {
        let config = self.build()?;
        config.validate()?;
        Ok(config)
    }

    fn build(&self) -> Result<Config, ConfigError> {
        let f = &self.file;
        let profile: Profile = match self.text("CRUST_PROFILE", &f.profile) {
            Some(p) => p.parse()?,
            None => Profile::Dev,
        };
        let database_url = self
            .text("DATABASE_URL", &f.database_url)
            .unwrap_or_else(|| {
                format!(
                    "postgres://postgres@127.0.0.1:5432/{}",
                    profile.default_database_name()
                )
            });
        let bind_text = self
            .text("CRUST_BIND", &f.bind)
            .unwrap_or_else(|| "127.0.0.1:8080".into());
        let bind = bind_text.parse().map_err(|_| ConfigError::Invalid {
            key: "CRUST_BIND",
            problem: format!("`{bind_text}` is not an address like 127.0.0.1:8080"),
        })?;
        let jwt_previous =
            parse_previous_keys(&self.text("CRUST_JWT_PREVIOUS_KEYS", &f.jwt_previous_keys))?;
        let log_format = match self.text("CRUST_LOG_FORMAT", &f.log_format).as_deref() {
            None => {
                if profile == Profile::Prod {
                    LogFormat::Json
                } else {
                    LogFormat::Text
                }
            }
            Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    key: "CRUST_LOG_FORMAT",
                    problem: format!("`{other}` is not one of text, json"),
                })
            }
        };
        let config = Config {
            profile,
            database_url: Secret(database_url),
            migration_database_url: self
                .text("CRUST_MIGRATION_DATABASE_URL", &f.migration_database_url)
                .map(Secret),
            bind,
            jwt_kid: self
                .text("CRUST_JWT_KID", &f.jwt_kid)
                .unwrap_or_else(|| "k1".into()),
            jwt_secret: Secret(
                self.text("CRUST_JWT_SECRET", &f.jwt_secret)
                    .unwrap_or_else(|| DEV_JWT_SECRET.into()),
            ),
            jwt_previous,
            jwt_issuer: self
                .text("CRUST_JWT_ISSUER", &f.jwt_issuer)
                .unwrap_or_else(|| "crust".into()),
            jwt_audience: self
                .text("CRUST_JWT_AUDIENCE", &f.jwt_audience)
                .unwrap_or_else(|| "crust-api".into()),
            access_token_ttl_secs: self
                .parsed("CRUST_ACCESS_TOKEN_TTL_SECS", f.access_token_ttl_secs)?
                .unwrap_or(15 * 60),
            refresh_idle_ttl_secs: self
                .parsed("CRUST_REFRESH_IDLE_TTL_SECS", f.refresh_idle_ttl_secs)?
                .unwrap_or(30 * 60),
            refresh_absolute_ttl_secs: self
                .parsed(
                    "CRUST_REFRESH_ABSOLUTE_TTL_SECS",
                    f.refresh_absolute_ttl_secs,
                )?
                .unwrap_or(12 * 3600),
            password_pepper: Secret(
                self.text("CRUST_PASSWORD_PEPPER", &f.password_pepper)
                    .unwrap_or_else(|| DEV_PASSWORD_PEPPER.into()),
            ),
            bcrypt_cost: self
                .parsed("CRUST_BCRYPT_COST", f.bcrypt_cost)?
                .unwrap_or(12),
            signup_enabled: self
                .parsed("CRUST_SIGNUP_ENABLED", f.signup_enabled)?
                .unwrap_or(profile != Profile::Prod),
            graphiql: self
                .parsed("CRUST_GRAPHIQL", f.graphiql)?
                .unwrap_or(profile == Profile::Dev),
            db_pool_size: self
                .parsed("CRUST_DB_POOL_SIZE", f.db_pool_size)?
                .unwrap_or(10),
            db_checkout_timeout_ms: self
                .parsed("CRUST_DB_CHECKOUT_TIMEOUT_MS", f.db_checkout_timeout_ms)?
                .unwrap_or(3000),
            db_statement_timeout_ms: self
                .parsed("CRUST_DB_STATEMENT_TIMEOUT_MS", f.db_statement_timeout_ms)?
                .unwrap_or(10_000),
            db_role: match self
                .text("CRUST_DATABASE_ROLE", &f.database_role)
                .unwrap_or_else(|| "crust_app".into())
            {
                none if none == "none" => None,
                role => Some(role),
            },
            audit_enabled: self
                .parsed("CRUST_AUDIT_ENABLED", f.audit_enabled)?
                .unwrap_or(true),
            audit_retention_days: self
                .parsed("CRUST_AUDIT_RETENTION_DAYS", f.audit_retention_days)?
                .unwrap_or(90),
            log_format,
            report_sql_statements: self
                .parsed("CRUST_REPORT_SQL_STATEMENTS", f.report_sql_statements)?
                .unwrap_or(false),
            graphql: GraphqlLimits {
                max_depth: self
                    .parsed("CRUST_GRAPHQL_MAX_DEPTH", f.graphql_max_depth)?
                    .unwrap_or(15),
                max_complexity: self
                    .parsed("CRUST_GRAPHQL_MAX_COMPLEXITY", f.graphql_max_complexity)?
                    .unwrap_or(2_000_000),
                max_aliases: self
                    .parsed("CRUST_GRAPHQL_MAX_ALIASES", f.graphql_max_aliases)?
                    .unwrap_or(15),
                max_directives: self
                    .parsed("CRUST_GRAPHQL_MAX_DIRECTIVES", f.graphql_max_directives)?
                    .unwrap_or(3),
                max_query_chars: self
                    .parsed("CRUST_GRAPHQL_MAX_QUERY_CHARS", f.graphql_max_query_chars)?
                    .unwrap_or(15_000),
                max_batch: self
                    .parsed("CRUST_GRAPHQL_MAX_BATCH", f.graphql_max_batch)?
                    .unwrap_or(1),
                max_selections: self
                    .parsed("CRUST_GRAPHQL_MAX_SELECTIONS", f.graphql_max_selections)?
                    .unwrap_or(5_000),
                introspection: self
                    .parsed("CRUST_INTROSPECTION", f.introspection)?
                    .unwrap_or(profile != Profile::Prod),
            },
            test_hooks: self
                .parsed("CRUST_TEST_HOOKS", f.test_hooks)?
                .unwrap_or(false),
            request_timeout_ms: self
                .parsed("CRUST_REQUEST_TIMEOUT_MS", f.request_timeout_ms)?
                .unwrap_or(30_000),
            shutdown_grace_secs: self
                .parsed("CRUST_SHUTDOWN_GRACE_SECS", f.shutdown_grace_secs)?
                .unwrap_or(10),
            client_timeout_ms: self
                .parsed("CRUST_CLIENT_TIMEOUT_MS", f.client_timeout_ms)?
                .unwrap_or(5_000),
            behind_tls_proxy: self
                .parsed("CRUST_BEHIND_TLS_PROXY", f.behind_tls_proxy)?
                .unwrap_or(false),
            trusted_proxies: parse_ips(&self.text("CRUST_TRUSTED_PROXIES", &f.trusted_proxies))?,
            tls_cert: self.text("CRUST_TLS_CERT", &f.tls_cert).map(Into::into),
            tls_key: self.text("CRUST_TLS_KEY", &f.tls_key).map(Into::into),
            http_redirect_bind: self
                .text("CRUST_HTTP_REDIRECT_BIND", &f.http_redirect_bind)
                .map(|a| {
                    a.parse().map_err(|_| ConfigError::Invalid {
                        key: "CRUST_HTTP_REDIRECT_BIND",
                        problem: format!("`{a}` is not an address like 0.0.0.0:80"),
                    })
                })
                .transpose()?,
            cors_origins: self
                .text("CRUST_CORS_ORIGINS", &f.cors_origins)
                .map(|t| {
                    t.split(',')
                        .map(|o| o.trim().trim_end_matches('/').to_owned())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            rate_limits: RateLimits {
                user_per_hour: self
                    .parsed("CRUST_RATE_LIMIT_USER_PER_HOUR", f.rate_limit_user_per_hour)?
                    .unwrap_or(5_000),
                anonymous_per_hour: self
                    .parsed(
                        "CRUST_RATE_LIMIT_ANONYMOUS_PER_HOUR",
                        f.rate_limit_anonymous_per_hour,
                    )?
                    .unwrap_or(1_000),
                sign_in_per_hour: self
                    .parsed(
                        "CRUST_RATE_LIMIT_SIGN_IN_PER_HOUR",
                        f.rate_limit_sign_in_per_hour,
                    )?
                    .unwrap_or(60),
            },
            login_max_failures: self
                .parsed("CRUST_LOGIN_MAX_FAILURES", f.login_max_failures)?
                .unwrap_or(5),
            login_failure_window_secs: self
                .parsed(
                    "CRUST_LOGIN_FAILURE_WINDOW_SECS",
                    f.login_failure_window_secs,
                )?
                .unwrap_or(900),
            login_lockout_secs: self
                .parsed("CRUST_LOGIN_LOCKOUT_SECS", f.login_lockout_secs)?
                .unwrap_or(900),
            login_max_delay_ms: self
                .parsed("CRUST_LOGIN_MAX_DELAY_MS", f.login_max_delay_ms)?
                .unwrap_or(4000),
        };
        Ok(config)
    }

    /// Loads and checks every value, but does not refuse what prod refuses: for
    /// `crust check --deploy`, which reports those findings instead.
    pub fn load_for_check(&self) -> Result<Config, ConfigError> {
        let config = self.build()?;
        config.validate_values()?;
        Ok(config)
    }
}

fn parse_ips(text: &Option<String>) -> Result<Vec<std::net::IpAddr>, ConfigError> {
    text.iter()
        .flat_map(|t| t.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse().map_err(|_| ConfigError::Invalid {
                key: "CRUST_TRUSTED_PROXIES",
                problem: format!("`{p}` is not an IP address"),
            })
        })
        .collect()
}

fn parse_previous_keys(text: &Option<String>) -> Result<HashMap<String, Secret>, ConfigError> {
    let mut keys = HashMap::new();
    for pair in text
        .iter()
        .flat_map(|t| t.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let (kid, secret) = pair.split_once('=').ok_or_else(|| ConfigError::Invalid {
            key: "CRUST_JWT_PREVIOUS_KEYS",
            problem: "expected a comma-separated list of kid=secret".into(),
        })?;
        keys.insert(kid.trim().to_owned(), Secret(secret.trim().to_owned()));
    }
    Ok(keys)
}

impl Config {
    /// Loads from the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Source::from_env()?.load()
    }

    /// Checks ranges everywhere and refuses insecure settings in prod.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_values()?;
        if self.bcrypt_cost < 12 && self.profile != Profile::Test {
            return Err(ConfigError::Invalid {
                key: "CRUST_BCRYPT_COST",
                problem: "below 12 is allowed only in the test profile".into(),
            });
        }
        if self.profile == Profile::Prod {
            let problems = self.prod_problems();
            if !problems.is_empty() {
                return Err(ConfigError::RefusedInProd(problems));
            }
        }
        Ok(())
    }

    /// Ranges and formats, whatever the profile.
    fn validate_values(&self) -> Result<(), ConfigError> {
        let invalid = |key, problem: &str| {
            Err(ConfigError::Invalid {
                key,
                problem: problem.into(),
            })
        };
        if !(4..=31).contains(&self.bcrypt_cost) {
            return invalid("CRUST_BCRYPT_COST", "must be between 4 and 31");
        }
        if !(1..=24 * 3600).contains(&self.access_token_ttl_secs) {
            return invalid(
                "CRUST_ACCESS_TOKEN_TTL_SECS",
                "must be between 1 second and 24 hours",
            );
        }
        if self.refresh_idle_ttl_secs < 1
            || self.refresh_absolute_ttl_secs < self.refresh_idle_ttl_secs
        {
            return invalid(
                "CRUST_REFRESH_ABSOLUTE_TTL_SECS",
                "must be positive and not shorter than CRUST_REFRESH_IDLE_TTL_SECS",
            );
        }
        if self.jwt_kid.is_empty() || self.jwt_previous.contains_key(&self.jwt_kid) {
            return invalid(
                "CRUST_JWT_KID",
                "must be non-empty and not reused in CRUST_JWT_PREVIOUS_KEYS",
            );
        }
        if !(1..=200).contains(&self.db_pool_size) {
            return invalid("CRUST_DB_POOL_SIZE", "must be between 1 and 200");
        }
        let g = &self.graphql;
        if !(2..=64).contains(&g.max_depth) {
            return invalid("CRUST_GRAPHQL_MAX_DEPTH", "must be between 2 and 64");
        }
        if !(100..=100_000_000).contains(&g.max_complexity) {
            return invalid(
                "CRUST_GRAPHQL_MAX_COMPLEXITY",
                "must be between 100 and 100000000",
            );
        }
        if g.max_aliases > 1000 {
            return invalid("CRUST_GRAPHQL_MAX_ALIASES", "must be at most 1000");
        }
        if !(1..=50).contains(&g.max_directives) {
            return invalid("CRUST_GRAPHQL_MAX_DIRECTIVES", "must be between 1 and 50");
        }
        if !(100..=1_000_000).contains(&g.max_query_chars) {
            return invalid(
                "CRUST_GRAPHQL_MAX_QUERY_CHARS",
                "must be between 100 and 1000000",
            );
        }
        if !(10..=100_000).contains(&g.max_selections) {
            return invalid(
                "CRUST_GRAPHQL_MAX_SELECTIONS",
                "must be between 10 and 100000",
            );
        }
        if !(1..=10).contains(&g.max_batch) {
            return invalid(
                "CRUST_GRAPHQL_MAX_BATCH",
                "must be between 1 (batching off) and 10",
            );
        }
        if !(100..=600_000).contains(&self.request_timeout_ms) {
            return invalid("CRUST_REQUEST_TIMEOUT_MS", "must be between 100 and 600000");
        }
        if !(1..=600).contains(&self.shutdown_grace_secs) {
            return invalid("CRUST_SHUTDOWN_GRACE_SECS", "must be between 1 and 600");
        }
        if !(100..=60_000).contains(&self.client_timeout_ms) {
            return invalid("CRUST_CLIENT_TIMEOUT_MS", "must be between 100 and 60000");
        }
        for origin in &self.cors_origins {
            let well_formed = origin == "*"
                || ((origin.starts_with("https://") || origin.starts_with("http://"))
                    && !origin[origin.find("://").map_or(0, |i| i + 3)..].contains('/'));
            if origin.eq_ignore_ascii_case("null") || !well_formed {
                return invalid(
                    "CRUST_CORS_ORIGINS",
                    "each origin must look like https://host[:port] (never `null`)",
                );
            }
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return invalid(
                "CRUST_TLS_CERT",
                "set both CRUST_TLS_CERT and CRUST_TLS_KEY, or neither",
            );
        }
        if self.http_redirect_bind.is_some() && self.tls_cert.is_none() {
            return invalid(
                "CRUST_HTTP_REDIRECT_BIND",
                "redirects to HTTPS need TLS (CRUST_TLS_CERT and CRUST_TLS_KEY)",
            );
        }
        let r = &self.rate_limits;
        if [r.user_per_hour, r.anonymous_per_hour, r.sign_in_per_hour].contains(&0) {
            return invalid(
                "CRUST_RATE_LIMIT_USER_PER_HOUR",
                "every rate limit must be at least 1 per hour",
            );
        }
        if let Some(role) = &self.db_role {
            let plain = role.len() <= 63
                && role.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                && role
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !plain {
                return invalid(
                    "CRUST_DATABASE_ROLE",
                    "must be a plain role name (a-z, 0-9, _) or `none`",
                );
            }
        }
        if self.audit_retention_days == 0 {
            return invalid("CRUST_AUDIT_RETENTION_DAYS", "must be at least 1 day");
        }
        if self.login_max_failures == 0 || self.login_failure_window_secs == 0 {
            return invalid(
                "CRUST_LOGIN_MAX_FAILURES",
                "the failed-login limit and window must be at least 1",
            );
        }
        if self.login_max_delay_ms > 10_000 {
            return invalid(
                "CRUST_LOGIN_MAX_DELAY_MS",
                "must be at most 10000: a longer wait holds sockets open for an attacker",
            );
        }
        if self.test_hooks && self.profile != Profile::Test {
            return invalid(
                "CRUST_TEST_HOOKS",
                "only the test profile may turn test hooks on",
            );
        }
        Ok(())
    }

    /// HTTPS is in front of clients (served here, or by the proxy): send HSTS.
    pub fn hsts(&self) -> bool {
        self.behind_tls_proxy || self.tls_cert.is_some()
    }

    /// Every finding of `crust check --deploy`: what prod refuses (serious) and what
    /// deserves a second look (warnings).
    pub fn deploy_findings(&self) -> Vec<Finding> {
        let mut findings: Vec<Finding> = self
            .prod_problems()
            .into_iter()
            .map(|m| Finding {
                serious: true,
                message: m,
            })
            .collect();
        let mut warn = |m: &str| {
            findings.push(Finding {
                serious: false,
                message: m.to_owned(),
            })
        };
        if self.profile != Profile::Prod {
            warn(&format!(
                "CRUST_PROFILE is {}, not prod",
                self.profile.as_str()
            ));
        }
        if self.signup_enabled {
            warn("CRUST_SIGNUP_ENABLED: anyone can create an account");
        }
        let url = self.database_url.expose();
        if !url.contains("sslmode=require") && !url.contains("sslmode=verify") {
            warn("DATABASE_URL does not require TLS (add sslmode=require or verify-full when the database is remote)");
        }
        if self.cors_origins.is_empty() {
            warn("CRUST_CORS_ORIGINS is empty: no browser app on another origin can call the API");
        }
        if self.trusted_proxies.is_empty() && self.behind_tls_proxy {
            warn("CRUST_TRUSTED_PROXIES is empty behind a proxy: every client will share the proxy's IP in rate limits");
        }
        findings
    }

    /// What the prod profile will not run with.
    pub fn prod_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let weak =
            |s: &Secret, dev: &str| s.expose() == dev || s.expose().len() < MIN_PROD_SECRET_BYTES;
        if weak(&self.jwt_secret, DEV_JWT_SECRET) {
            problems.push(format!(
                "CRUST_JWT_SECRET is the development default or shorter than {MIN_PROD_SECRET_BYTES} bytes"
            ));
        }
        if self.jwt_previous.values().any(|s| weak(s, DEV_JWT_SECRET)) {
            problems.push("CRUST_JWT_PREVIOUS_KEYS holds a default or short secret".into());
        }
        if weak(&self.password_pepper, DEV_PASSWORD_PEPPER) {
            problems.push(format!(
                "CRUST_PASSWORD_PEPPER is the development default or shorter than {MIN_PROD_SECRET_BYTES} bytes"
            ));
        }
        if self.bcrypt_cost < 12 {
            problems.push("CRUST_BCRYPT_COST is below 12".into());
        }
        if self.graphiql {
            problems.push("CRUST_GRAPHIQL is on".into());
        }
        if !self.audit_enabled {
            problems.push("CRUST_AUDIT_ENABLED is off".into());
        }
        if self.db_role.is_none() {
            problems.push(
                "CRUST_DATABASE_ROLE is none: the server would run with its login role's rights over the audit log".into(),
            );
        }
        if self.report_sql_statements {
            problems.push("CRUST_REPORT_SQL_STATEMENTS is on".into());
        }
        if self.graphql.introspection {
            problems.push("CRUST_INTROSPECTION is on".into());
        }
        if self.cors_origins.iter().any(|o| o == "*") {
            problems.push("CRUST_CORS_ORIGINS allows any origin (*)".into());
        }
        if !self.behind_tls_proxy && self.tls_cert.is_none() {
            problems.push(
                "no TLS: set CRUST_TLS_CERT and CRUST_TLS_KEY, or CRUST_BEHIND_TLS_PROXY=true behind a TLS-terminating proxy"
                    .into(),
            );
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Source::from_vars(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )?
        .load()
    }

    const STRONG: &str = "a-production-secret-of-more-than-32-bytes";

    #[test]
    fn defaults() {
        let c = load(&[]).unwrap();
        assert_eq!(c.profile, Profile::Dev);
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(c.bcrypt_cost, 12);
        assert_eq!(c.access_token_ttl_secs, 900);
        assert_eq!(c.refresh_idle_ttl_secs, 1800);
        assert_eq!(c.refresh_absolute_ttl_secs, 12 * 3600);
        assert_eq!(
            c.database_url.expose(),
            "postgres://postgres@127.0.0.1:5432/crust_dev"
        );
        assert!(c.graphiql);
    }

    #[test]
    fn each_profile_has_its_own_database() {
        let names: Vec<String> = ["dev", "test", "demo"]
            .iter()
            .map(|p| {
                load(&[("CRUST_PROFILE", p)])
                    .unwrap()
                    .database_url
                    .expose()
                    .to_owned()
            })
            .collect();
        assert_eq!(names.len(), 3);
        assert!(names[0] != names[1] && names[1] != names[2] && names[0] != names[2]);
    }

    #[test]
    fn only_the_test_profile_may_lower_the_bcrypt_cost() {
        assert!(load(&[("CRUST_PROFILE", "test"), ("CRUST_BCRYPT_COST", "4")]).is_ok());
        for profile in ["dev", "demo"] {
            let err = load(&[("CRUST_PROFILE", profile), ("CRUST_BCRYPT_COST", "10")]).unwrap_err();
            assert!(err.to_string().contains("CRUST_BCRYPT_COST"), "{err}");
        }
    }

    #[test]
    fn prod_refuses_default_or_short_secrets_and_debug_features() {
        let err = load(&[("CRUST_PROFILE", "prod")]).unwrap_err().to_string();
        assert!(err.contains("CRUST_JWT_SECRET"), "{err}");
        assert!(err.contains("CRUST_PASSWORD_PEPPER"), "{err}");
        let err = load(&[
            ("CRUST_PROFILE", "prod"),
            ("CRUST_JWT_SECRET", "short"),
            ("CRUST_PASSWORD_PEPPER", STRONG),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("CRUST_JWT_SECRET"), "{err}");
        let err = load(&[
            ("CRUST_PROFILE", "prod"),
            ("CRUST_JWT_SECRET", STRONG),
            ("CRUST_PASSWORD_PEPPER", STRONG),
            ("CRUST_GRAPHIQL", "true"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("CRUST_GRAPHIQL"), "{err}");
        let ok = load(&[
            ("CRUST_PROFILE", "prod"),
            ("CRUST_JWT_SECRET", STRONG),
            ("CRUST_PASSWORD_PEPPER", STRONG),
            ("CRUST_BEHIND_TLS_PROXY", "true"),
        ])
        .unwrap();
        let err = load(&[
            ("CRUST_PROFILE", "prod"),
            ("CRUST_JWT_SECRET", STRONG),
            ("CRUST_PASSWORD_PEPPER", STRONG),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("no TLS"), "{err}");
        let err = load(&[
            ("CRUST_PROFILE", "prod"),
            ("CRUST_JWT_SECRET", STRONG),
            ("CRUST_PASSWORD_PEPPER", STRONG),
            ("CRUST_BEHIND_TLS_PROXY", "true"),
            ("CRUST_CORS_ORIGINS", "*"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("any origin"), "{err}");
        for bad in ["null", "https://app.example.com/path", "app.example.com"] {
            assert!(load(&[("CRUST_CORS_ORIGINS", bad)]).is_err(), "{bad}");
        }
        assert!(!ok.signup_enabled, "sign-up is off by default in prod");
        assert_eq!(ok.log_format, LogFormat::Json);
    }

    #[test]
    fn the_server_runs_as_the_audit_safe_role_and_prod_keeps_the_log_on() {
        let dev = load(&[]).unwrap();
        assert_eq!(dev.db_role.as_deref(), Some("crust_app"));
        assert!(dev.audit_enabled);
        assert_eq!(dev.audit_retention_days, 90);
        assert_eq!(
            load(&[("CRUST_DATABASE_ROLE", "none")]).unwrap().db_role,
            None
        );
        for bad in ["Crust", "crust app", "x\"; DROP TABLE users; --", "1abc"] {
            let err = load(&[("CRUST_DATABASE_ROLE", bad)])
                .unwrap_err()
                .to_string();
            assert!(err.contains("CRUST_DATABASE_ROLE"), "{bad}: {err}");
        }
        assert!(load(&[("CRUST_AUDIT_RETENTION_DAYS", "0")]).is_err());
        let prod = [
            ("CRUST_PROFILE", "prod"),
            ("CRUST_JWT_SECRET", STRONG),
            ("CRUST_PASSWORD_PEPPER", STRONG),
            ("CRUST_BEHIND_TLS_PROXY", "true"),
        ];
        for (key, value, says) in [
            ("CRUST_AUDIT_ENABLED", "false", "CRUST_AUDIT_ENABLED is off"),
            ("CRUST_DATABASE_ROLE", "none", "CRUST_DATABASE_ROLE is none"),
        ] {
            let mut vars = prod.to_vec();
            vars.push((key, value));
            let err = load(&vars).unwrap_err().to_string();
            assert!(err.contains(says), "{err}");
        }
        assert!(load(&prod).is_ok());
    }

    #[test]
    fn bad_values_name_the_setting() {
        for (key, value) in [
            ("CRUST_BIND", "nowhere"),
            ("CRUST_PROFILE", "staging"),
            ("CRUST_BCRYPT_COST", "twelve"),
            ("CRUST_LOG_FORMAT", "xml"),
        ] {
            let err = load(&[(key, value)]).unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        }
    }

    #[test]
    fn a_config_file_is_read_and_the_environment_wins() {
        let path = std::env::temp_dir().join(format!("crust-config-{}.toml", std::process::id()));
        std::fs::write(
            &path,
            "bind = \"127.0.0.1:9999\"\njwt_issuer = \"from-file\"\n",
        )
        .unwrap();
        let file = path.to_string_lossy().into_owned();
        let c = load(&[("CRUST_CONFIG", &file), ("CRUST_JWT_ISSUER", "from-env")]).unwrap();
        assert_eq!(c.bind.to_string(), "127.0.0.1:9999");
        assert_eq!(c.jwt_issuer, "from-env");
        std::fs::write(&path, "bnid = \"typo\"\n").unwrap();
        assert!(
            load(&[("CRUST_CONFIG", &file)]).is_err(),
            "unknown keys are refused"
        );
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn secrets_never_print() {
        let c = load(&[]).unwrap();
        let printed = format!("{c:?}");
        assert!(!printed.contains(DEV_JWT_SECRET));
        assert!(!printed.contains(DEV_PASSWORD_PEPPER));
        assert!(!printed.contains("postgres://"));
    }
}

#[cfg(test)]
mod readme {
    /// The README documents every setting this module reads.
    #[test]
    fn every_setting_is_documented() {
        let source = include_str!("config.rs");
        let readme = include_str!("../../../README.md");
        let mut keys: Vec<&str> = source
            .split('"')
            .filter(|s| {
                (s.starts_with("CRUST_") || *s == "DATABASE_URL")
                    && s.chars().all(|c| c.is_ascii_uppercase() || c == '_')
            })
            .collect();
        keys.sort_unstable();
        keys.dedup();
        assert!(keys.len() >= 15, "{keys:?}");
        for key in keys {
            assert!(
                readme.contains(&format!("`{key}`")),
                "README.md does not document {key}"
            );
        }
    }
}
