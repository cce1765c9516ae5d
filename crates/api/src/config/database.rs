//! Database settings: where the server connects, as whom, and how long it waits.

use super::setting::{settings, Secret};
use super::Profile;

/// `postgres://postgres@127.0.0.1:5432/crust_<profile>?sslmode=disable`: each profile
/// its own database on the local server. TLS is off because the connection never leaves
/// the machine: libpq's default (`prefer`) would encrypt without checking who answers,
/// which protects nothing on loopback and cost an eighth of the server's CPU in a profile
/// of `crust bench`'s board. Where `PGSSLMODE` is set (say, 127.0.0.1:5432 is a tunnel to a remote
/// database), the URL leaves TLS to it, as libpq would. A remote database is best named
/// by `DATABASE_URL` with `sslmode=verify-full`; `crust check --deploy` warns otherwise.
fn default_url(profile: Profile) -> String {
    local_url(profile.default_database_name(), pgsslmode_set())
}

/// Whether `PGSSLMODE` decides TLS for connections without an `sslmode` of their own.
/// libpq reads it from the process's environment, not from our settings; an empty
/// value counts as unset.
pub fn pgsslmode_set() -> bool {
    std::env::var_os("PGSSLMODE").is_some_and(|v| !v.is_empty())
}

/// An `sslmode` in the URL would override `PGSSLMODE`, so it is left out when that is set.
fn local_url(database: &str, pgsslmode_set: bool) -> String {
    let tls = if pgsslmode_set {
        ""
    } else {
        "?sslmode=disable"
    };
    format!("postgres://postgres@127.0.0.1:5432/{database}{tls}")
}

/// `none` keeps the login role; anything else is the role to switch to.
fn parse_role(text: &str) -> Result<Option<String>, String> {
    Ok((text != "none").then(|| text.to_owned()))
}

/// The role goes into `SET ROLE` unquoted, so it must be a plain name.
fn check_role(role: &Option<String>) -> Result<(), String> {
    let Some(role) = role else { return Ok(()) };
    let plain = role.len() <= 63
        && role.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && role
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        Ok(())
    } else {
        Err("must be a plain role name (a-z, 0-9, _) or `none`".into())
    }
}

settings! {
    /// PostgreSQL: the server's login, the owner's login for migrations, the pool.
    pub struct DatabaseConfig {
        pub url: Secret {
            env: "DATABASE_URL",
            default: FromProfile(
                default_url,
                "`postgres://postgres@127.0.0.1:5432/crust_<profile>?sslmode=disable` (`crust` in prod; loopback, so no TLS; without `sslmode` when `PGSSLMODE` is set)",
            ),
            doc: "PostgreSQL to use, as the server's login: best one that is only a member of `crust_app` (below).",
        },
        pub migration_url: Option<Secret> {
            env: "CRUST_MIGRATION_DATABASE_URL",
            default: Unset("`DATABASE_URL`"),
            doc: "The tables' owner's login: `crust serve` migrates with it, and every admin command (`migrate`, `seed`, `user`, `audit`) uses it, while the server itself uses `DATABASE_URL`.",
        },
        pub pool_size: u32 {
            env: "CRUST_DB_POOL_SIZE",
            default: Is("10"),
            range: 1..=200,
            doc: "Connections in the pool.",
        },
        pub checkout_timeout_ms: u64 {
            env: "CRUST_DB_CHECKOUT_TIMEOUT_MS",
            default: Is("3000"),
            doc: "Longest wait for a pooled connection (then an error, never a hang).",
        },
        pub statement_timeout_ms: u64 {
            env: "CRUST_DB_STATEMENT_TIMEOUT_MS",
            default: Is("10000"),
            doc: "PostgreSQL `statement_timeout` on every pooled connection.",
        },
        pub role: Option<String> {
            env: "CRUST_DATABASE_ROLE",
            default: Is("crust_app"),
            parse: parse_role,
            check: check_role,
            doc: "The role every pooled connection switches to (`SET ROLE`). Migrations create it with rights to read and write the data but only to read and append the audit log. The `DATABASE_URL` user must be able to switch to it: a superuser, or a member (the migration grants it to a non-superuser login that runs it; creating the role needs a superuser or CREATEROLE once per cluster, or a DBA creates it beforehand). Migrations and the admin commands use the owner's login (`CRUST_MIGRATION_DATABASE_URL`, else the `DATABASE_URL` login itself). `none` keeps the login role's rights. **`none` is refused in prod.**",
        },
    }
}

impl DatabaseConfig {
    /// Where migrations and admin commands connect: the tables' owner.
    pub fn owner_url(&self) -> &Secret {
        self.migration_url.as_ref().unwrap_or(&self.url)
    }
}

#[cfg(test)]
mod tests {
    use super::local_url;

    #[test]
    fn the_local_default_leaves_tls_to_pgsslmode_when_it_is_set() {
        assert_eq!(
            local_url("crust_dev", false),
            "postgres://postgres@127.0.0.1:5432/crust_dev?sslmode=disable"
        );
        assert_eq!(
            local_url("crust", true),
            "postgres://postgres@127.0.0.1:5432/crust"
        );
    }
}
