//! Administrative statements below the ACL layer, for the CLI only: they act on the
//! server, not on tenant data.

use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::error::{DalError, DalResult};
use crate::Operator;

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    exists: bool,
}

/// `CREATE DATABASE name` unless it exists. The name must be a plain identifier
/// (letters, digits, underscores), checked here because it cannot be a bound parameter.
pub fn create_database_if_missing(
    _: &Operator,
    conn: &mut PgConnection,
    name: &str,
) -> DalResult<()> {
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
pub fn drop_database_if_exists(_: &Operator, conn: &mut PgConnection, name: &str) -> DalResult<()> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(DalError::Invalid(format!(
            "database name `{name}` must be letters, digits and underscores"
        )));
    }
    diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(conn)?;
    Ok(())
}

/// Makes `name` a login role that is only a member of `member_of` — not a superuser,
/// no CREATEDB/CREATEROLE/BYPASSRLS, owning nothing — with `password` (created when
/// missing, its password replaced otherwise). Refused when an existing role of that name
/// has more rights than that, rather than quietly serving with them. Both names must be
/// plain identifiers and the password plain ASCII without quotes (none can be bound).
pub fn ensure_member_login(
    _: &Operator,
    conn: &mut PgConnection,
    name: &str,
    password: &str,
    member_of: &str,
) -> DalResult<()> {
    let plain = |s: &str| {
        !s.is_empty()
            && s.len() <= 63
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    if !plain(name) || !plain(member_of) {
        return Err(DalError::Invalid(format!(
            "role names `{name}`, `{member_of}` must be lower-case letters, digits and underscores"
        )));
    }
    if password.is_empty() || !password.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(DalError::Invalid(
            "the password must be letters and digits".into(),
        ));
    }
    #[derive(QueryableByName)]
    struct Role {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        powerful: bool,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        owns: bool,
    }
    let found: Option<Role> = diesel::sql_query(
        "SELECT (r.rolsuper OR r.rolcreatedb OR r.rolcreaterole OR r.rolbypassrls) AS powerful,
                EXISTS (SELECT 1 FROM pg_class c WHERE c.relowner = r.oid) AS owns
           FROM pg_roles r WHERE r.rolname = $1",
    )
    .bind::<Text, _>(name)
    .get_result(conn)
    .optional()?;
    match found {
        Some(r) if r.powerful || r.owns => {
            return Err(DalError::Invalid(format!(
                "role `{name}` exists with more rights than a member login; drop it or pick another"
            )))
        }
        Some(_) => {
            diesel::sql_query(format!("ALTER ROLE \"{name}\" LOGIN PASSWORD '{password}'"))
                .execute(conn)?;
        }
        None => {
            diesel::sql_query(format!(
                "CREATE ROLE \"{name}\" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD '{password}'"
            ))
            .execute(conn)?;
        }
    }
    diesel::sql_query(format!("GRANT \"{member_of}\" TO \"{name}\"")).execute(conn)?;
    Ok(())
}
