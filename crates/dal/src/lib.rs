//! Crust's data access layer.
//!
//! Owns the database: the diesel schema, the connection pool, the embedded migrations
//! and one module per aggregate. **Every entry point that touches tenant data takes the
//! acting user** ([`Actor`]): reads are filtered in SQL so a row the actor may not see
//! never leaves PostgreSQL (and answers [`DalError::NotFound`]), and writes ask
//! [`crust_domain::decide`] first. It never speaks HTTP or GraphQL.
//!
//! Functions take `&mut PgConnection` so callers can compose several in one
//! transaction; mutations open their own transaction (nested ones become savepoints).

pub mod actor;
pub mod admin;
pub mod audit;
pub mod batch;
pub mod board;
pub mod comments;
pub mod dependencies;
pub mod error;
pub mod migrate;
pub mod models;
mod need_to_know;
pub mod orgs;
pub mod page;
pub mod pool;
pub mod projects;
mod raw;
pub mod recipes;
pub mod schema;
pub mod search;
pub mod sessions;
pub mod structure;
pub mod tasks;
pub mod users;
mod visibility;
pub mod workspaces;

pub use actor::Actor;
pub use diesel::PgConnection;
pub use error::{DalError, DalResult};
pub use page::{Page, Paged};
pub use pool::{build_pool, count_statements, establish, stop_counting, PgPool, PoolSettings};

/// Runs `f` in a transaction (a savepoint inside an open one) for callers above the
/// DAL that must put several steps in one, such as a change and its audit event.
pub fn transaction<T>(
    conn: &mut PgConnection,
    f: impl FnOnce(&mut PgConnection) -> DalResult<T>,
) -> DalResult<T> {
    use diesel::Connection;
    conn.transaction(f)
}
