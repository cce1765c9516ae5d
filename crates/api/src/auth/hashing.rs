//! Password hashing (bcrypt) is slow on purpose and takes a whole core while it runs:
//! under a sign-in storm, unbounded, it would take every core and every blocking thread
//! that reads need. At most `CRUST_PASSWORD_HASH_CONCURRENCY` hashes run at once; the
//! others wait their turn — at most `CRUST_PASSWORD_HASH_WAIT_MS`, then 503 with
//! `Retry-After` — so reads always keep the rest of the machine.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::error::ApiError;

#[derive(Clone)]
pub struct HashingPool {
    permits: Arc<Semaphore>,
    max_wait: Duration,
    running: Arc<AtomicI64>,
}

impl HashingPool {
    /// `concurrency` 0 means half the cores, at least one.
    pub fn new(concurrency: usize, max_wait: Duration) -> Self {
        let concurrency = if concurrency == 0 {
            std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
        } else {
            concurrency
        };
        crate::metrics::metrics()
            .password_hash_slots
            .set(i64::try_from(concurrency).unwrap_or(i64::MAX));
        HashingPool {
            permits: Arc::new(Semaphore::new(concurrency)),
            max_wait,
            running: Arc::new(AtomicI64::new(0)),
        }
    }

    /// Runs `f` (a password hash or check) on a blocking thread once a slot is free.
    pub async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let metrics = crate::metrics::metrics();
        metrics.password_hash_waiting.inc();
        let permit =
            tokio::time::timeout(self.max_wait, self.permits.clone().acquire_owned()).await;
        metrics.password_hash_waiting.dec();
        let permit = match permit {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) | Err(_) => {
                tracing::warn!("password hashing is saturated: asked to retry");
                return Err(ApiError::Unavailable);
            }
        };
        let running = self.running.clone();
        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
        metrics.hashes_running(now);
        let result = tokio::task::spawn_blocking(move || {
            let out = f();
            running.fetch_sub(1, Ordering::SeqCst);
            drop(permit);
            out
        })
        .await;
        result.map_err(|e| ApiError::internal(format!("password hashing failed: {e}")))
    }
}
