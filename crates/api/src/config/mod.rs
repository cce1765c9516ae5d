//! Configuration: one typed struct of groups, read from `CRUST_*` environment variables
//! (and `DATABASE_URL`), optionally on top of a TOML file named by `CRUST_CONFIG`.
//! Environment variables win over the file.
//!
//! Each setting is declared once, in its group's module, with the [`settings!`] macro
//! (see [`setting`]): variable, default, range and one line of documentation. The
//! struct field, the loader, the range check and the README's configuration table all
//! come from that entry; a test keeps the README equal to it ([`readme`]).
//!
//! Loading reports every problem at once, not the first. Development defaults for
//! secrets are marked as such and refused by the prod profile ([`checks`]).
//!
//! [`settings!`]: setting::settings

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

mod audit;
mod auth;
mod checks;
mod database;
mod diagnostics;
mod files;
mod graphql;
mod http;
mod mail;
mod rate_limits;
pub mod readme;
pub mod setting;
#[cfg(test)]
mod tests;

pub use audit::AuditConfig;
pub use auth::{AuthConfig, HashPriority, DEV_JWT_SECRET, DEV_PASSWORD_PEPPER};
pub use checks::{Finding, MIN_PROD_SECRET_BYTES};
pub use database::{pgsslmode_set, DatabaseConfig};
pub use diagnostics::Diagnostics;
pub use files::{FilesConfig, DEV_FILE_KEY};
pub use graphql::GraphqlLimits;
pub use http::{check_spa_dir, HttpConfig};
pub use mail::{MailConfig, SmtpSecurity, SmtpServer};
pub use rate_limits::{LoginThrottle, RateLimits};
pub use setting::{Secret, Setting};

use setting::{file_key, DefaultValue, FileType, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "dev" => Ok(Profile::Dev),
            "test" => Ok(Profile::Test),
            "demo" => Ok(Profile::Demo),
            "prod" => Ok(Profile::Prod),
            other => Err(format!("`{other}` is not one of dev, test, demo, prod")),
        }
    }
}

impl Value for Profile {
    fn parse(text: &str) -> Result<Self, String> {
        text.parse()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl Value for LogFormat {
    fn parse(text: &str) -> Result<Self, String> {
        match text {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("`{other}` is not one of text, json")),
        }
    }
}

/// The profile is read before every other setting: their defaults depend on it.
const PROFILE: (&str, DefaultValue) = ("CRUST_PROFILE", DefaultValue::Is("dev"));
const PROFILE_DOC: &str =
    "`dev`, `test`, `demo` or `prod`. Each has its own database by default and its own rules (below).";

#[derive(Clone, Debug)]
pub struct Config {
    pub profile: Profile,
    pub database: DatabaseConfig,
    pub auth: AuthConfig,
    pub login: LoginThrottle,
    pub rate_limits: RateLimits,
    pub http: HttpConfig,
    pub graphql: GraphqlLimits,
    pub audit: AuditConfig,
    pub diagnostics: Diagnostics,
    pub mail: MailConfig,
    pub files: FilesConfig,
}

impl Config {
    /// Loads from the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Source::from_env()?.load()
    }

    /// Every setting, in the README's order.
    pub fn settings() -> Vec<Setting> {
        let mut all = vec![Setting {
            env: PROFILE.0,
            default: PROFILE.1.shown(),
            allowed: None,
            doc: PROFILE_DOC,
        }];
        all.extend(DatabaseConfig::settings());
        all.extend(AuthConfig::settings());
        all.extend(LoginThrottle::settings());
        all.extend(RateLimits::settings());
        all.extend(HttpConfig::settings());
        all.extend(GraphqlLimits::settings());
        all.extend(AuditConfig::settings());
        all.extend(Diagnostics::settings());
        all.extend(MailConfig::settings());
        all.extend(FilesConfig::settings());
        all
    }
}

/// Everything wrong with a configuration, found in one pass.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Problems {
    /// Values that do not parse or are out of range: (variable, what is wrong).
    pub invalid: Vec<(&'static str, String)>,
    /// What the prod profile will not run with.
    pub refused_in_prod: Vec<String>,
}

impl Problems {
    pub(crate) fn invalid(&mut self, env: &'static str, problem: impl Into<String>) {
        self.invalid.push((env, problem.into()));
    }

    fn is_empty(&self) -> bool {
        self.invalid.is_empty() && self.refused_in_prod.is_empty()
    }

    fn into_result(self) -> Result<(), ConfigError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(self))
        }
    }
}

/// One problem alone reads `KEY: problem`, as it always has; several are listed.
impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.invalid.as_slice() {
            [] => {}
            [(key, problem)] => write!(f, "{key}: {problem}")?,
            many => {
                write!(f, "{} settings are invalid:", many.len())?;
                for (key, problem) in many {
                    write!(f, "\n  - {key}: {problem}")?;
                }
            }
        }
        if !self.refused_in_prod.is_empty() {
            if !self.invalid.is_empty() {
                f.write_str("\n")?;
            }
            write!(
                f,
                "the prod profile refuses to start:\n  - {}",
                self.refused_in_prod.join("\n  - ")
            )?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Invalid(Problems),
    #[error("cannot read config file {path}: {problem}")]
    File { path: String, problem: String },
}

/// Reads settings from a map of variables (the process environment in production,
/// a plain map in tests) and the optional file.
pub struct Source {
    vars: HashMap<String, String>,
    file: toml::Table,
}

impl Source {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars().collect())
    }

    pub fn from_vars(vars: HashMap<String, String>) -> Result<Self, ConfigError> {
        let file = match vars.get("CRUST_CONFIG") {
            Some(path) => {
                let file_error = |problem: String| ConfigError::File {
                    path: path.clone(),
                    problem,
                };
                let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
                let table: toml::Table =
                    toml::from_str(&text).map_err(|e| file_error(e.message().to_owned()))?;
                // A misspelt key would otherwise be silently ignored.
                let known: Vec<String> =
                    Config::settings().iter().map(|s| file_key(s.env)).collect();
                if let Some(unknown) = table.keys().find(|k| !known.contains(k)) {
                    return Err(file_error(format!("unknown key `{unknown}`")));
                }
                table
            }
            None => toml::Table::new(),
        };
        Ok(Source { vars, file })
    }

    /// Loads and checks every value, and refuses what the profile refuses.
    pub fn load(&self) -> Result<Config, ConfigError> {
        let config = self.build()?;
        config.validate()?;
        Ok(config)
    }

    /// Loads and checks every value, but does not refuse what prod refuses: for
    /// `crust check --deploy`, which reports those findings instead.
    pub fn load_for_check(&self) -> Result<Config, ConfigError> {
        let config = self.build()?;
        let mut problems = Problems::default();
        config.check_values(&mut problems);
        problems.into_result()?;
        Ok(config)
    }

    /// Parses every setting, reporting every value that does not parse.
    fn build(&self) -> Result<Config, ConfigError> {
        let mut problems = Problems::default();
        let (env, default) = PROFILE;
        // A bad profile is reported, and the rest is read as dev to find more problems.
        let profile = self
            .value(
                env,
                FileType::Text,
                &default,
                Profile::Dev,
                Profile::parse,
                || None,
                &mut problems,
            )
            .unwrap_or(Profile::Dev);
        let database = DatabaseConfig::load(self, profile, &mut problems);
        let auth = AuthConfig::load(self, profile, &mut problems);
        let login = LoginThrottle::load(self, profile, &mut problems);
        let rate_limits = RateLimits::load(self, profile, &mut problems);
        let http = HttpConfig::load(self, profile, &mut problems);
        let graphql = GraphqlLimits::load(self, profile, &mut problems);
        let audit = AuditConfig::load(self, profile, &mut problems);
        let diagnostics = Diagnostics::load(self, profile, &mut problems);
        let mail = MailConfig::load(self, profile, &mut problems);
        let files = FilesConfig::load(self, profile, &mut problems);
        match (
            database,
            auth,
            login,
            rate_limits,
            http,
            graphql,
            audit,
            diagnostics,
            mail,
            files,
        ) {
            (
                Some(database),
                Some(auth),
                Some(login),
                Some(rate_limits),
                Some(http),
                Some(graphql),
                Some(audit),
                Some(diagnostics),
                Some(mail),
                Some(files),
            ) if problems.is_empty() => Ok(Config {
                profile,
                database,
                auth,
                login,
                rate_limits,
                http,
                graphql,
                audit,
                diagnostics,
                mail,
                files,
            }),
            _ => Err(ConfigError::Invalid(problems)),
        }
    }

    /// One setting: the variable if set and not empty, else the file's key, else the
    /// default for `profile`. A problem is recorded (and `None` returned) when the text
    /// does not parse or the file holds the wrong type.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn value<T>(
        &self,
        env: &'static str,
        file_type: FileType,
        default: &DefaultValue,
        profile: Profile,
        parse: impl Fn(&str) -> Result<T, String>,
        unset: fn() -> Option<T>,
        problems: &mut Problems,
    ) -> Option<T> {
        let text = if let Some(text) = self.vars.get(env).filter(|v| !v.is_empty()) {
            Some(text.clone())
        } else if let Some(value) = self.file.get(&file_key(env)) {
            match (file_type, value) {
                (FileType::Text, toml::Value::String(s)) => Some(s.clone()),
                (FileType::Integer, toml::Value::Integer(i)) => Some(i.to_string()),
                (FileType::Boolean, toml::Value::Boolean(b)) => Some(b.to_string()),
                (expected, _) => {
                    let kind = match expected {
                        FileType::Text => "a string",
                        FileType::Integer => "an integer",
                        FileType::Boolean => "true or false",
                    };
                    problems.invalid(env, format!("in the config file, must be {kind}"));
                    return None;
                }
            }
        } else {
            default.text(profile)
        };
        let parsed = match text {
            Some(text) => parse(&text),
            None => unset().ok_or_else(|| "has no value and no default".to_owned()),
        };
        parsed
            .map_err(|problem| problems.invalid(env, problem))
            .ok()
    }
}
