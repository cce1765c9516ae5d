//! Runs blocking DAL work off the async executor, on a pooled connection.

use std::sync::Arc;

use crust_dal::{DalResult, PgConnection, PgPool, SqlCounts};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

#[derive(Clone)]
pub struct Db {
    pool: PgPool,
    /// One turn per pooled connection. Work waits for its turn as a parked task, and
    /// only then takes a blocking thread: waiting in the pool's checkout would park a
    /// thread per waiter (each with its stack and malloc arena, switched to and from
    /// by the kernel) only for it to wait.
    turns: Arc<Semaphore>,
    /// When set, every statement run through this handle, and its round trips, are
    /// counted here.
    sql: Option<Arc<SqlCounts>>,
}

impl Db {
    pub fn new(pool: PgPool) -> Self {
        let turns = Arc::new(Semaphore::new(pool.max_size() as usize));
        Db {
            pool,
            turns,
            sql: None,
        }
    }

    /// (connections held, idle ones, the pool's size), for metrics.
    pub fn pool_usage(&self) -> (u32, u32, u32) {
        let state = self.pool.state();
        (
            state.connections,
            state.idle_connections,
            self.pool.max_size(),
        )
    }

    /// A handle for one request that counts the SQL statements the request runs and
    /// their round trips.
    pub fn counting(&self) -> (Db, Arc<SqlCounts>) {
        let counter = Arc::new(SqlCounts::default());
        (
            Db {
                sql: Some(counter.clone()),
                ..self.clone()
            },
            counter,
        )
    }

    /// Waits for a turn and a connection (together no longer than the pool's checkout
    /// timeout, then `Unavailable`: an error, never a hang) and runs `f` on a blocking
    /// thread, counting statements when asked.
    pub async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut PgConnection) -> DalResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let started = std::time::Instant::now();
        let turn = self.turn().await?;
        let pool = self.pool.clone();
        let counter = self.sql.clone();
        if let Some(counter) = &counter {
            counter.note_hop();
        }
        tokio::task::spawn_blocking(move || {
            // Dropped last: the connection is back in the pool before the turn is
            // handed on, so the next turn finds it there.
            let _turn = turn;
            let left = pool.connection_timeout().saturating_sub(started.elapsed());
            let mut conn = pool.get_timeout(left)?;
            if let Some(counter) = counter {
                crust_dal::count_statements(&mut conn, counter);
                let result = f(&mut conn);
                crust_dal::stop_counting(&mut conn);
                return result;
            }
            f(&mut conn)
        })
        .await
        .map_err(|e| ApiError::internal(format!("database task failed: {e}")))?
        .map_err(ApiError::from)
    }

    async fn turn(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        let wait = self.pool.connection_timeout();
        match tokio::time::timeout(wait, self.turns.clone().acquire_owned()).await {
            Ok(Ok(turn)) => Ok(turn),
            // The semaphore is never closed.
            Ok(Err(closed)) => Err(ApiError::internal(format!("database turns: {closed}"))),
            Err(_) => Err(ApiError::database_unavailable(format_args!(
                "no turn within {wait:?}"
            ))),
        }
    }
}
