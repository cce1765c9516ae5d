//! The audited unit of work: a resolver's database work and, in a mutation, that
//! mutation's audit event, in one transaction. Resolvers reach the database only
//! through it (see `graphql::db`), so no mutation can change anything unrecorded; the
//! plain [`Db`] knows nothing of auditing.

use crust_dal::{DalResult, PgConnection};
use crust_domain::audit::Outcome;

use super::{Created, Recorder};
use crate::db::Db;
use crate::error::ApiError;

/// One request's database handle, with its recorder.
#[derive(Clone)]
pub struct Work {
    db: Db,
    /// While it is armed for a mutation, the work run here is that mutation's, and its
    /// event is appended in the same transaction.
    recorder: Recorder,
}

impl Work {
    pub fn new(db: Db, recorder: Recorder) -> Self {
        Work { db, recorder }
    }

    /// The plain handle, for work that records nothing (loaders, reads).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Runs `f` on a pooled connection off the executor. In a mutation, `f` and the
    /// mutation's audit event share one transaction.
    pub async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut PgConnection) -> DalResult<T> + Send + 'static,
        T: Send + 'static,
    {
        self.run_recorded(f, |_: &T| None).await
    }

    /// Like [`Work::run`] for work that creates an object: a mutation's event names the
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
        let armed = self.recorder.pending().map(|p| (self.recorder.clone(), p));
        let recorder = armed.as_ref().map(|(r, _)| r.clone());
        let result = self
            .db
            .run(move |conn| match armed {
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
}
