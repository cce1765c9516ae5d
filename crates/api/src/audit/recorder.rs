//! The recorder of one request: who is calling, from where, and the mutation being
//! resolved.

use std::sync::{Arc, Mutex};

use crust_dal::audit::{self, NewEvent, Origin, Target, TargetKind};
use crust_dal::{DalResult, PgConnection};
use crust_domain::audit::{bounded, redact, Outcome};
use crust_domain::{SessionId, UserId};
use serde_json::Value;
use uuid::Uuid;

use super::lock;
use super::reads::Reads;
use super::redact::redact_request_variables;
use super::target::{has_key, ids_in, target_of};

/// User agents are informational; a bounded prefix is kept (as for sessions).
const MAX_USER_AGENT_CHARS: usize = 512;

/// The audit recorder of one request (cheap to clone).
#[derive(Clone)]
pub struct Recorder {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) enabled: bool,
    origin: Origin,
    actor: Option<(UserId, SessionId)>,
    current: Mutex<Option<Pending>>,
    pub(super) reads: Mutex<Reads>,
    /// Mutation fields that reached resolution (the others were refused before).
    mutation_fields: std::sync::atomic::AtomicUsize,
}

/// The mutation being resolved.
#[derive(Clone, Debug)]
pub struct Pending {
    pub action: String,
    pub variables: Option<String>,
    pub target: Option<Target>,
    /// Every id its arguments hold, whatever their names: any of them may be a
    /// need-to-know object the event must not show to those off its list.
    pub named: Vec<Uuid>,
    /// It sets a classification, the one way an object becomes need-to-know: its
    /// target is located again after the change.
    pub reclassifies: bool,
    /// Its event is written (in its transaction): nothing more to record.
    pub recorded: bool,
}

impl Recorder {
    /// The recorder of a request from `origin`, by `actor` when signed in.
    pub fn new(enabled: bool, mut origin: Origin, actor: Option<(UserId, SessionId)>) -> Self {
        origin.user_agent = origin
            .user_agent
            .map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect());
        Recorder {
            inner: Arc::new(Inner {
                enabled,
                origin,
                actor,
                current: Mutex::new(None),
                reads: Mutex::new(Reads::default()),
                mutation_fields: Default::default(),
            }),
        }
    }

    pub fn enabled(&self) -> bool {
        self.inner.enabled
    }

    /// Where the request came from, as sessions store it.
    pub fn client(&self) -> crust_dal::sessions::ClientInfo {
        crust_dal::sessions::ClientInfo {
            ip: self.inner.origin.ip.clone(),
            user_agent: self.inner.origin.user_agent.clone(),
        }
    }

    /// A new event with this request's actor, session and origin.
    /// The account concerned is the actor's own unless set otherwise.
    pub fn event(&self, action: &str, outcome: Outcome) -> NewEvent {
        let mut e = NewEvent::new(action, outcome, self.inner.origin.clone());
        if let Some((user, session)) = self.inner.actor {
            e.actor = Some(user);
            e.session = Some(session);
            e.subject_user = Some(user);
        }
        e
    }

    /// An event of a sign-in field (login, refresh): those act for nobody yet, so a
    /// bearer token sent along does not make its holder the actor (nor let them read
    /// the outcome among their own security events).
    pub fn sign_in_event(&self, action: &str, outcome: Outcome) -> NewEvent {
        NewEvent::new(action, outcome, self.inner.origin.clone())
    }

    /// Appends an event (unless auditing is off). Call it last in the transaction it
    /// belongs to, and [`Recorder::mark_recorded`] once that transaction committed.
    pub fn append(&self, conn: &mut PgConnection, event: &NewEvent) -> DalResult<()> {
        if self.inner.enabled {
            audit::append(conn, event)?;
        }
        Ok(())
    }

    /// Arms the recorder for a mutation field.
    pub fn begin(&self, action: &str, arguments: Value) {
        self.inner
            .mutation_fields
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let target = target_of(&arguments);
        let reclassifies = has_key(&arguments, "classification");
        let redacted = redact(arguments);
        let mut named = Vec::new();
        ids_in(&redacted, &mut named);
        *lock(&self.inner.current) = Some(Pending {
            action: action.to_owned(),
            target,
            named,
            reclassifies,
            variables: Some(bounded(redacted.to_string())),
            recorded: false,
        });
    }

    /// How many mutation fields have reached resolution in this request so far.
    pub fn mutation_fields(&self) -> usize {
        self.inner
            .mutation_fields
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Records a mutation operation refused before any of its fields ran (a syntax,
    /// validation or limit error), with the request's variables, redacted.
    pub fn refused_operation(
        &self,
        conn: &mut PgConnection,
        query: &str,
        variables: Value,
        message: &str,
    ) -> DalResult<()> {
        let mut e = self.event("mutation", Outcome::Invalid);
        e.error_code = Some("BAD_USER_INPUT".into());
        e.reason = Some(format!(
            "refused before running: {}",
            message.chars().take(200).collect::<String>()
        ));
        e.variables = Some(bounded(
            redact_request_variables(query, variables).to_string(),
        ));
        self.append(conn, &e)
    }

    /// Disarms it and returns what was pending.
    pub fn finish(&self) -> Option<Pending> {
        lock(&self.inner.current).take()
    }

    /// The armed mutation whose event is still to be written, if any.
    pub fn pending(&self) -> Option<Pending> {
        lock(&self.inner.current)
            .as_ref()
            .filter(|p| !p.recorded)
            .cloned()
    }

    /// What the request sent for the action being recorded, redacted: the mutation's
    /// arguments in GraphQL, else `body` (what a browser route received).
    pub fn sent(&self, body: Value) -> String {
        lock(&self.inner.current)
            .as_ref()
            .and_then(|p| p.variables.clone())
            .unwrap_or_else(|| bounded(redact(body).to_string()))
    }

    /// The current mutation's event is written and committed.
    pub fn mark_recorded(&self) {
        if let Some(p) = lock(&self.inner.current).as_mut() {
            p.recorded = true;
        }
    }

    /// The event of a pending mutation, about `target` (located in `conn`).
    pub fn mutation_event(
        &self,
        conn: &mut PgConnection,
        pending: &Pending,
        outcome: Outcome,
        error_code: Option<&str>,
        target: Option<Target>,
    ) -> DalResult<NewEvent> {
        let mut e = self.event(&pending.action, outcome);
        e.variables = pending.variables.clone();
        e.error_code = error_code.map(str::to_owned);
        let target = target.or(pending.target);
        if e.actor.is_none() {
            // An anonymous caller naming some organization's object does not get to
            // write into that organization's log: its refusal joins the global chain.
            e.target = target;
            return Ok(e);
        }
        e.named = pending.named.clone();
        e.about(conn, target)
    }

    /// Records a mutation that ended without its event — refused, failed or panicked;
    /// its change (if any) rolled back — in a transaction of its own. A failure to
    /// record is logged: the answer to the caller stands either way.
    pub async fn record_unfinished(
        &self,
        db: &crate::db::Db,
        pending: Pending,
        outcome: Outcome,
        error_code: Option<String>,
    ) {
        let rec = self.clone();
        let written = db
            .run(move |c| {
                crust_dal::transaction(c, |c| {
                    let e =
                        rec.mutation_event(c, &pending, outcome, error_code.as_deref(), None)?;
                    rec.append(c, &e)
                })
            })
            .await;
        if let Err(e) = written {
            tracing::error!(error = e.message(), "could not record a mutation");
        }
    }

    /// Notes what a mutation's event found out about its target: a task that is not
    /// need-to-know needs no lookup when the response serves it.
    pub fn note_located(&self, event: &NewEvent) {
        if let Some(Target {
            kind: TargetKind::Task,
            id,
        }) = event.target
        {
            if !event.need_to_know {
                lock(&self.inner.reads).plain.insert(id);
            }
        }
    }
}
