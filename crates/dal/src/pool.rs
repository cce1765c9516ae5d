//! The r2d2 pool. Checkout waits a bounded time (never r2d2's 30 s default) and every
//! connection gets a `statement_timeout`, so a slow query or an exhausted pool becomes
//! an error the API can answer, not a hang.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection};
use diesel::PgConnection;

pub type PgPool = r2d2::Pool<Manager>;

/// diesel's connection manager with a checkout test that costs no round trip.
///
/// diesel's own test is `SELECT 1` on every checkout: a round trip per checkout, a
/// dozen in one GraphQL request. Instead, what the server already sent is read without
/// waiting (libpq's `PQconsumeInput`, through `notifications_iter`): a backend that was
/// terminated, or a server that went away, has left its farewell and the end of the
/// stream on the socket, so the read fails and r2d2 replaces the connection before
/// anyone uses it. A healthy idle connection has nothing to read: two `recv`s that
/// return at once.
#[derive(Debug)]
pub struct Manager(ConnectionManager<PgConnection>);

impl r2d2::ManageConnection for Manager {
    type Connection = PgConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<PgConnection, Self::Error> {
        self.0.connect()
    }

    fn is_valid(&self, conn: &mut PgConnection) -> Result<(), Self::Error> {
        // Pool connections never LISTEN, so nothing is queued that this could consume
        // on someone's behalf; a notice or parameter report is read and dropped. Two
        // reads: a terminated backend's farewell may fill the first, the end of the
        // stream then fails the second (libpq reads once per call).
        for _ in 0..2 {
            if let Some(e) = conn.notifications_iter().find_map(Result::err) {
                return Err(diesel::r2d2::Error::QueryError(e));
            }
        }
        Ok(())
    }

    fn has_broken(&self, conn: &mut PgConnection) -> bool {
        self.0.has_broken(conn)
    }
}

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
        .build_unchecked(Manager(ConnectionManager::new(database_url)))
}

/// One direct connection (for the CLI's administrative commands).
pub fn establish(
    _: &crate::Operator,
    database_url: &str,
) -> Result<PgConnection, diesel::ConnectionError> {
    use diesel::Connection;
    PgConnection::establish(database_url)
}

/// What one request asked of the database: statements run, round trips to the server
/// (a statement, plus one more the first time a connection prepares it), and hops
/// (work handed to a pooled connection on a thread of its own, each holding a
/// connection for one or more statements). Checking a connection out costs no round
/// trip (see [`Manager`]).
#[derive(Debug, Default)]
pub struct SqlCounts {
    statements: std::sync::atomic::AtomicUsize,
    round_trips: std::sync::atomic::AtomicUsize,
    hops: std::sync::atomic::AtomicUsize,
}

impl SqlCounts {
    pub fn hops(&self) -> usize {
        self.hops.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Counts one hop: work taken to a pooled connection.
    pub fn note_hop(&self) {
        self.hops.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn statements(&self) -> usize {
        self.statements.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn round_trips(&self) -> usize {
        self.round_trips.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Counts every SQL statement run on `conn`, and its round trips, into `counts`, until
/// [`stop_counting`]. The API uses it to report them per request (tests and benchmarks).
pub fn count_statements(conn: &mut PgConnection, counts: std::sync::Arc<SqlCounts>) {
    use diesel::connection::{Connection, InstrumentationEvent};
    use std::sync::atomic::Ordering::Relaxed;
    conn.set_instrumentation(move |event: InstrumentationEvent<'_>| match event {
        InstrumentationEvent::StartQuery { .. } => {
            counts.statements.fetch_add(1, Relaxed);
            counts.round_trips.fetch_add(1, Relaxed);
        }
        // A statement cached for the first time is prepared in a round trip of its own.
        InstrumentationEvent::CacheQuery { .. } => {
            counts.round_trips.fetch_add(1, Relaxed);
        }
        _ => {}
    });
}

/// Ends [`count_statements`] (before a connection returns to the pool).
pub fn stop_counting(conn: &mut PgConnection) {
    use diesel::connection::Connection;
    conn.set_instrumentation(|_: diesel::connection::InstrumentationEvent<'_>| {});
}
