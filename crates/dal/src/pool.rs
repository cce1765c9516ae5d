//! The r2d2 pool. Checkout waits a bounded time (never r2d2's 30 s default) and every
//! connection gets a `statement_timeout`, so a slow query or an exhausted pool becomes
//! an error the API can answer, not a hang.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection};
use diesel::PgConnection;

pub type PgPool = r2d2::Pool<ConnectionManager<PgConnection>>;

#[derive(Clone, Debug)]
pub struct PoolSettings {
    pub max_size: u32,
    pub checkout_timeout: Duration,
    pub statement_timeout: Duration,
    /// The role every connection switches to (`SET ROLE`), e.g. `crust_app`, whose
    /// grants keep the audit log append-only. `None` keeps the login role.
    pub role: Option<String>,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_size: 10,
            checkout_timeout: Duration::from_secs(3),
            statement_timeout: Duration::from_secs(10),
            role: None,
        }
    }
}

#[derive(Debug)]
struct SessionSettings {
    statement_timeout_ms: u128,
    role: Option<String>,
}

impl CustomizeConnection<PgConnection, diesel::r2d2::Error> for SessionSettings {
    fn on_acquire(&self, conn: &mut PgConnection) -> Result<(), diesel::r2d2::Error> {
        let mut sql = format!(
            "SET statement_timeout = {}; SET TIME ZONE 'UTC';",
            self.statement_timeout_ms
        );
        if let Some(role) = &self.role {
            // The name is checked to be a plain identifier when the config is loaded;
            // quoting keeps it one identifier regardless.
            sql.push_str(&format!(" SET ROLE \"{}\";", role.replace('"', "")));
        }
        conn.batch_execute(&sql)
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Builds a pool without connecting eagerly: the server starts (and `/readyz` reports
/// the database as unreachable) even when PostgreSQL is down, and recovers when it returns.
pub fn build_pool(database_url: &str, settings: &PoolSettings) -> PgPool {
    r2d2::Pool::builder()
        .max_size(settings.max_size)
        .min_idle(Some(0))
        .connection_timeout(settings.checkout_timeout)
        .test_on_check_out(true)
        .connection_customizer(Box::new(SessionSettings {
            statement_timeout_ms: settings.statement_timeout.as_millis(),
            role: settings.role.clone(),
        }))
        .build_unchecked(ConnectionManager::new(database_url))
}

/// One direct connection (for the CLI's administrative commands).
pub fn establish(
    _: &crate::Operator,
    database_url: &str,
) -> Result<PgConnection, diesel::ConnectionError> {
    use diesel::Connection;
    PgConnection::establish(database_url)
}

/// Counts every SQL statement run on `conn` into `counter`, until [`stop_counting`].
/// The API uses it to report statements per request (tests and benchmarks).
pub fn count_statements(
    conn: &mut PgConnection,
    counter: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use diesel::connection::{Connection, InstrumentationEvent};
    conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        if matches!(event, InstrumentationEvent::StartQuery { .. }) {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    });
}

/// Ends [`count_statements`] (before a connection returns to the pool).
pub fn stop_counting(conn: &mut PgConnection) {
    use diesel::connection::Connection;
    conn.set_instrumentation(|_: diesel::connection::InstrumentationEvent<'_>| {});
}
