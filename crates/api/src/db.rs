//! Runs blocking DAL work off the async executor, on a pooled connection.

use std::sync::Arc;

use crust_dal::{DalResult, PgConnection, PgPool, SqlCounts};

use crate::error::ApiError;

#[derive(Clone)]
pub struct Db {
    pool: PgPool,
    /// When set, every statement run through this handle, and its round trips, are
    /// counted here.
    sql: Option<Arc<SqlCounts>>,
}

impl Db {
    pub fn new(pool: PgPool) -> Self {
        Db { pool, sql: None }
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

    /// Checks out a connection (bounded wait) and runs `f` on a blocking thread,
    /// counting statements when asked.
    pub async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut PgConnection) -> DalResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        let counter = self.sql.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
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
}
