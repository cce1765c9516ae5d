//! Runs blocking DAL work off the async executor, on a pooled connection.

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use crust_dal::{DalResult, PgConnection, PgPool};
use crust_domain::audit::Outcome;

use crate::audit::{Created, Recorder};
use crate::error::ApiError;

#[derive(Clone)]
pub struct Db {
    pool: PgPool,
    /// When set, every statement run through this handle is counted here.
    statements: Option<Arc<AtomicUsize>>,
    /// The request's audit recorder: while it is armed for a mutation, the work run
    /// here is that mutation's, and its event is appended in the same transaction.
    audit: Option<Recorder>,
}

impl Db {
    pub fn new(pool: PgPool) -> Self {
        Db {
            pool,
            statements: None,
            audit: None,
        }
    }

    /// A handle for one request that counts the SQL statements the request runs.
    pub fn counting(&self) -> (Db, Arc<AtomicUsize>) {
        let counter = Arc::new(AtomicUsize::new(0));
        (
            Db {
                statements: Some(counter.clone()),
                ..self.clone()
            },
            counter,
        )
    }

    /// The same handle, recording mutations with this request's recorder.
    pub fn audited(&self, recorder: Recorder) -> Db {
        Db {
            audit: Some(recorder),
            ..self.clone()
        }
    }

    /// Checks out a connection (bounded wait) and runs `f` on a blocking thread. In a
    /// mutation, `f` and the mutation's audit event share one transaction.
    pub async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut PgConnection) -> DalResult<T> + Send + 'static,
        T: Send + 'static,
    {
        self.run_recorded(f, |_: &T| None).await
    }

    /// Like [`Db::run`] for work that creates an object: a mutation's event names the
    /// new object as its target.
    pub async fn create<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut PgConnection) -> DalResult<T> + Send + 'static,
        T: Created + Send + 'static,
    {
        self.run_recorded(f, |t: &T| Some(t.created())).await
    }

    async fn run_recorded<T, F, C>(&self, f: F, created: C) -> Result<T, ApiError>
    where
        F: FnOnce(&mut PgConnection) -> DalResult<T> + Send + 'static,
        C: FnOnce(&T) -> Option<crust_dal::audit::Target> + Send + 'static,
        T: Send + 'static,
    {
        // Armed: this request is resolving a mutation whose event is still to be written.
        let armed = (self.audit.as_ref()).and_then(|r| Some((r.clone(), r.pending()?)));
        let recorder = armed.as_ref().map(|(r, _)| r.clone());
        let result = self
            .blocking(move |conn| match armed {
                Some((recorder, pending)) => {
                    crust_dal::transaction(conn, |conn| {
                        // Located before the change: a deleted target is gone after it.
                        let before =
                            recorder.mutation_event(conn, &pending, Outcome::Ok, None, None)?;
                        let out = f(conn)?;
                        let event = match created(&out) {
                            Some(target) => before.about(conn, Some(target))?,
                            // A change of classification can make the target need-to-know:
                            // the event is, if it was before or is now.
                            None if pending.reclassifies => {
                                before.clone().about(conn, before.target)?.also(&before)
                            }
                            None => before,
                        };
                        recorder.append(conn, &event)?;
                        recorder.note_located(&event);
                        Ok(out)
                    })
                }
                None => f(conn),
            })
            .await;
        if let (Some(recorder), true) = (recorder, result.is_ok()) {
            recorder.mark_recorded();
        }
        result
    }

    /// Runs `f` on a pooled connection off the executor, counting statements when asked.
    async fn blocking<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut PgConnection) -> DalResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        let counter = self.statements.clone();
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

/// Runs CPU-heavy work (password hashing) off the async executor.
pub async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("blocking task failed: {e}")))
}
