//! The SQL migrations of `migrations/`, embedded in the binary.

use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel::PgConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Applies every pending migration; returns the versions applied.
pub fn run_pending(conn: &mut PgConnection) -> Result<Vec<String>, BoxError> {
    let applied = conn.run_pending_migrations(MIGRATIONS)?;
    Ok(applied.iter().map(|v| v.to_string()).collect())
}

/// Reverts every applied migration, newest first; returns the versions reverted.
pub fn revert_all(conn: &mut PgConnection) -> Result<Vec<String>, BoxError> {
    let reverted = conn.revert_all_migrations(MIGRATIONS)?;
    Ok(reverted.iter().map(|v| v.to_string()).collect())
}

/// How many embedded migrations are not yet applied (0 means the schema is current).
pub fn pending_count(conn: &mut PgConnection) -> Result<usize, BoxError> {
    Ok(conn.pending_migrations(MIGRATIONS)?.len())
}

/// The number of migrations embedded in this build.
pub fn embedded_count() -> usize {
    MigrationSource::<Pg>::migrations(&MIGRATIONS)
        .map(|m| m.len())
        .unwrap_or(0)
}
