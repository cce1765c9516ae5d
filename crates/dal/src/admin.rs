//! Administrative statements below the ACL layer, for the CLI only: they act on the
//! server, not on tenant data.

use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::error::{DalError, DalResult};

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    exists: bool,
}

/// `CREATE DATABASE name` unless it exists. The name must be a plain identifier
/// (letters, digits, underscores), checked here because it cannot be a bound parameter.
pub fn create_database_if_missing(conn: &mut PgConnection, name: &str) -> DalResult<()> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(DalError::Invalid(format!(
            "database name `{name}` must be letters, digits and underscores"
        )));
    }
    let found: Exists =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<Text, _>(name)
            .get_result(conn)?;
    if !found.exists {
        diesel::sql_query(format!("CREATE DATABASE \"{name}\"")).execute(conn)?;
    }
    Ok(())
}

/// `DROP DATABASE name WITH (FORCE)` if it exists (the benchmark's scratch database).
pub fn drop_database_if_exists(conn: &mut PgConnection, name: &str) -> DalResult<()> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(DalError::Invalid(format!(
            "database name `{name}` must be letters, digits and underscores"
        )));
    }
    diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(conn)?;
    Ok(())
}
