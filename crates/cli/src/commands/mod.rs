pub mod audit;
pub mod backup;
pub mod bench;
pub mod bench_files;
pub mod bench_reads;
pub mod bench_server;
pub mod bi;
pub mod check;
pub mod dev;
pub mod export_schema;
pub mod healthcheck;
pub mod keys;
pub mod mail;
pub mod migrate;
pub mod org;
pub mod restore_check;
pub mod seed;
pub mod serve;
pub mod user;

use anyhow::Context;
use crust_api::Config;
use crust_dal::PgConnection;

/// Loads the configuration from the environment (and `CRUST_CONFIG`).
pub fn load_config() -> anyhow::Result<Config> {
    Config::from_env().map_err(|e| anyhow::anyhow!("{e}"))
}

/// A connection as the tables' owner (`CRUST_MIGRATION_DATABASE_URL`, else
/// `DATABASE_URL`): admin commands migrate, seed and prune, which the server's
/// member-only login may not.
pub fn connect(config: &Config) -> anyhow::Result<PgConnection> {
    crust_dal::establish(
        &crust_dal::Operator::at_console(),
        config.database.owner_url().expose(),
    )
    .context("cannot connect to the database (check CRUST_MIGRATION_DATABASE_URL or DATABASE_URL)")
}

/// Applies pending migrations and reports what it did.
pub fn migrate(conn: &mut PgConnection) -> anyhow::Result<()> {
    let applied = crust_dal::migrate::run_pending(&crust_dal::Operator::at_console(), conn)
        .map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
    for version in &applied {
        tracing::info!(version, "migration applied");
    }
    Ok(())
}
