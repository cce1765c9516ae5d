//! Recording the audit log for one request.
//!
//! A [`Recorder`] is made per request with who is calling and from where. For a
//! GraphQL mutation, [`crate::graphql`]'s audit extension arms it with the field's
//! name, redacted arguments and target; the resolver's database work then runs
//! through [`crate::db::Db::run`], which appends the event inside the same
//! transaction as the change. A mutation that is refused, or fails, before or during
//! that transaction gets its event afterwards from the extension, in a transaction of
//! its own — so a rolled-back change leaves only its refusal. Sign-in events are
//! written by the auth service in the transactions of the sessions they change, and
//! reads of need-to-know objects are written when the request's response is ready.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crust_dal::audit::{self, NewEvent, Origin, Target, TargetKind};
use crust_dal::{DalResult, PgConnection};
use crust_domain::audit::{bounded, redact, Outcome};
use crust_domain::{Classification, SessionId, UserId};
use serde_json::Value;
use uuid::Uuid;

/// User agents are informational; a bounded prefix is kept (as for sessions).
const MAX_USER_AGENT_CHARS: usize = 512;

/// The audit recorder of one request (cheap to clone).
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Inner>,
}

struct Inner {
    enabled: bool,
    origin: Origin,
    actor: Option<(UserId, SessionId)>,
    current: Mutex<Option<Pending>>,
    reads: Mutex<Reads>,
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

#[derive(Default)]
struct Reads {
    /// task → (organization, project, SECRET itself)
    tasks: HashMap<Uuid, (Uuid, Uuid, bool)>,
    /// project → (organization, SECRET)
    projects: HashMap<Uuid, (Uuid, bool)>,
    /// Tasks this request's mutations found not need-to-know (nothing to look up).
    plain: std::collections::HashSet<Uuid>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
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

    /// Notes that a task was served to the caller.
    pub fn read_task(&self, task: &crust_dal::models::Task) {
        if !self.inner.enabled {
            return;
        }
        lock(&self.inner.reads).tasks.insert(
            task.id,
            (
                task.org_id,
                task.project_id,
                task.classification() == Classification::Secret,
            ),
        );
    }

    /// Notes that a project was served to the caller.
    pub fn read_project(&self, project: &crust_dal::models::Project) {
        if !self.inner.enabled {
            return;
        }
        lock(&self.inner.reads).projects.insert(
            project.id,
            (
                project.org_id,
                project.classification() == Classification::Secret,
            ),
        );
    }

    /// Takes what the request served and returns what its record needs: `None` when
    /// it served nothing need-to-know (most requests: no database work at all).
    pub fn take_reads(&self) -> Option<SecretReads> {
        if !self.inner.enabled {
            return None;
        }
        let reads = std::mem::take(&mut *lock(&self.inner.reads));
        let mut known = Vec::new();
        let mut unsure = Vec::new();
        for (id, (org, secret)) in &reads.projects {
            if *secret {
                known.push((TargetKind::Project, *id, *org));
            }
        }
        for (id, (org, project, secret)) in &reads.tasks {
            match (*secret, reads.projects.get(project)) {
                (true, _) | (false, Some((_, true))) => known.push((TargetKind::Task, *id, *org)),
                // Its project was served too (not SECRET), or a mutation of this
                // request found the task plain: nothing to record.
                (false, Some(_)) => {}
                (false, None) if reads.plain.contains(id) => {}
                (false, None) => unsure.push((*id, *org, *project)),
            }
        }
        (!known.is_empty() || !unsure.is_empty()).then_some(SecretReads { known, unsure })
    }

    /// Writes a `read` event for every need-to-know object served: SECRET projects,
    /// SECRET tasks and the tasks of SECRET projects (looked up where not known).
    pub fn record_reads(&self, conn: &mut PgConnection, reads: SecretReads) -> DalResult<()> {
        let SecretReads { mut known, unsure } = reads;
        if !unsure.is_empty() {
            let projects: Vec<Uuid> = unsure.iter().map(|(_, _, p)| *p).collect();
            let secret: std::collections::HashSet<Uuid> =
                crust_dal::projects::classified_secret(conn, &projects)?
                    .into_iter()
                    .filter_map(|(project, secret)| secret.then_some(project))
                    .collect();
            known.extend(
                unsure
                    .into_iter()
                    .filter(|(_, _, project)| secret.contains(project))
                    .map(|(task, org, _)| (TargetKind::Task, task, org)),
            );
        }
        let events: Vec<NewEvent> = known
            .into_iter()
            .map(|(kind, id, org)| {
                let mut e = self.event("read", Outcome::Ok);
                e.target = Some(Target::new(kind, id));
                e.organization = Some(org);
                e.need_to_know = true;
                e
            })
            .collect();
        if events.is_empty() {
            return Ok(());
        }
        audit::append_all(conn, events)
    }
}

/// What a request served that its audit record must cover.
pub struct SecretReads {
    /// (kind, id, organization) of objects known to be need-to-know.
    known: Vec<(TargetKind, Uuid, Uuid)>,
    /// (task, organization, project) of tasks whose project's classification is
    /// not known yet.
    unsure: Vec<(Uuid, Uuid, Uuid)>,
}

/// Decides which rate-limit refusals are written to the audit log: the first for each
/// bucket and key in every minute. A flood of refused requests must not become a
/// flood of writes (the server log still has every one).
#[derive(Default)]
pub struct RefusalSampler {
    seen: Mutex<HashMap<String, std::time::Instant>>,
}

impl RefusalSampler {
    pub const EVERY: std::time::Duration = std::time::Duration::from_secs(60);

    pub fn should_record(&self, key: &str) -> bool {
        let now = std::time::Instant::now();
        let mut seen = lock(&self.seen);
        if seen.len() > 50_000 {
            seen.retain(|_, at| now.duration_since(*at) < Self::EVERY);
        }
        match seen.get(key) {
            Some(at) if now.duration_since(*at) < Self::EVERY => false,
            _ => {
                seen.insert(key.to_owned(), now);
                true
            }
        }
    }
}

/// The request's variables, for the record of an operation refused before it ran.
/// Their names are the client's choice, so a value is redacted when its variable's
/// name, or any argument or input field it is passed to, names a secret (and, inside,
/// under any secret key); when the document cannot be read, every value is.
pub fn redact_request_variables(query: &str, variables: Value) -> Value {
    let Value::Object(vars) = variables else {
        return redact(variables);
    };
    let passed_as_secret = async_graphql::parser::parse_query(query)
        .ok()
        .map(|doc| secret_variables(&doc));
    Value::Object(
        vars.into_iter()
            .map(|(name, value)| {
                let hide = passed_as_secret
                    .as_ref()
                    .is_none_or(|secret| secret.contains(&name))
                    || crust_domain::audit::is_secret_key(&name);
                let value = if hide {
                    Value::String(crust_domain::audit::REDACTED.into())
                } else {
                    redact(value)
                };
                (name, value)
            })
            .collect(),
    )
}

/// The variables a document passes to a secret-named argument or input field.
fn secret_variables(
    doc: &async_graphql::parser::types::ExecutableDocument,
) -> std::collections::HashSet<String> {
    use async_graphql::parser::types::{Directive, Selection, SelectionSet};
    use async_graphql::Positioned;
    use async_graphql_value::Value as Ast;
    use crust_domain::audit::is_secret_key;

    fn value(v: &Ast, secret: bool, out: &mut std::collections::HashSet<String>) {
        match v {
            Ast::Variable(name) if secret => {
                out.insert(name.to_string());
            }
            Ast::List(items) => items.iter().for_each(|i| value(i, secret, out)),
            Ast::Object(fields) => fields
                .iter()
                .for_each(|(k, v)| value(v, secret || is_secret_key(k), out)),
            _ => {}
        }
    }
    fn directives(ds: &[Positioned<Directive>], out: &mut std::collections::HashSet<String>) {
        for d in ds {
            for (name, v) in &d.node.arguments {
                value(&v.node, is_secret_key(&name.node), out);
            }
        }
    }
    fn set(s: &SelectionSet, out: &mut std::collections::HashSet<String>) {
        for item in &s.items {
            match &item.node {
                Selection::Field(f) => {
                    for (name, v) in &f.node.arguments {
                        value(&v.node, is_secret_key(&name.node), out);
                    }
                    directives(&f.node.directives, out);
                    set(&f.node.selection_set.node, out);
                }
                Selection::InlineFragment(i) => set(&i.node.selection_set.node, out),
                // Fragments are walked once each, below.
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    let mut out = std::collections::HashSet::new();
    for (_, op) in doc.operations.iter() {
        directives(&op.node.directives, &mut out);
        set(&op.node.selection_set.node, &mut out);
    }
    for fragment in doc.fragments.values() {
        set(&fragment.node.selection_set.node, &mut out);
    }
    out
}

/// Which argument names the object a mutation acts on, most specific first.
const TARGET_KEYS: [(&str, TargetKind); 9] = [
    ("taskId", TargetKind::Task),
    ("commentId", TargetKind::Comment),
    ("boxId", TargetKind::Box),
    ("sliceId", TargetKind::Slice),
    ("projectId", TargetKind::Project),
    ("recipeId", TargetKind::Recipe),
    ("workspaceId", TargetKind::Workspace),
    ("organizationId", TargetKind::Organization),
    ("sessionId", TargetKind::Session),
];

/// Does `key` appear in `value`, at any depth?
fn has_key(value: &Value, key: &str) -> bool {
    match value {
        Value::Object(map) => map.iter().any(|(k, v)| k == key || has_key(v, key)),
        Value::Array(items) => items.iter().any(|v| has_key(v, key)),
        _ => false,
    }
}

/// Every string in `value` (at any depth) that is a UUID, deduplicated.
fn ids_in(value: &Value, out: &mut Vec<Uuid>) {
    match value {
        Value::String(s) => {
            if let Ok(id) = s.parse::<Uuid>() {
                if !out.contains(&id) {
                    out.push(id);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| ids_in(v, out)),
        Value::Object(map) => map.values().for_each(|v| ids_in(v, out)),
        _ => {}
    }
}

/// The target a mutation names in its arguments (`input: {taskId …}` or top level).
pub fn target_of(arguments: &Value) -> Option<Target> {
    let scope = match arguments.get("input") {
        Some(input @ Value::Object(_)) => input,
        _ => arguments,
    };
    TARGET_KEYS.iter().find_map(|(key, kind)| {
        let id = scope.get(*key)?.as_str()?.parse::<Uuid>().ok()?;
        Some(Target::new(*kind, id))
    })
}

/// An object a create mutation made: it becomes the event's target.
pub trait Created {
    fn created(&self) -> Target;
}

macro_rules! created {
    ($($model:ty => $kind:ident),* $(,)?) => {
        $(impl Created for $model {
            fn created(&self) -> Target {
                Target::new(TargetKind::$kind, self.id)
            }
        })*
    };
}

created! {
    crust_dal::models::Organization => Organization,
    crust_dal::models::Workspace => Workspace,
    crust_dal::models::Project => Project,
    crust_dal::models::Slice => Slice,
    crust_dal::models::TaskBox => Box,
    crust_dal::models::Task => Task,
    crust_dal::models::Comment => Comment,
    crust_dal::models::Recipe => Recipe,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn variables_passed_to_secret_arguments_are_redacted_whatever_their_name() {
        let query = "mutation($e: String!, $p: String!, $deep: String, $t: String) { \
            login(input: {email: $e, password: $p}) { x } \
            ...F other(input: {list: [{clientSecret: $deep}]}) }
            fragment F on Mutation { refreshSession(input: {refreshToken: $t}) { x } }";
        let vars = json!({ "e": "a@example.test", "p": "hunter2", "deep": "s3", "t": "tok", "unused": {"apiToken": "x", "keep": 1} });
        let out = redact_request_variables(query, vars);
        assert_eq!(
            out,
            json!({ "e": "a@example.test", "p": "[REDACTED]", "deep": "[REDACTED]", "t": "[REDACTED]", "unused": {"apiToken": "[REDACTED]", "keep": 1} })
        );
        // A document that does not parse: no value is kept.
        let out = redact_request_variables("mutation { oops(", json!({ "p": "hunter2" }));
        assert_eq!(out, json!({ "p": "[REDACTED]" }));
    }

    #[test]
    fn the_most_specific_id_is_the_target() {
        let id = Uuid::new_v4();
        let other = Uuid::new_v4();
        let t = target_of(
            &json!({"input": {"projectId": other.to_string(), "taskId": id.to_string()}}),
        );
        assert_eq!(t, Some(Target::new(TargetKind::Task, id)));
        let t = target_of(&json!({"sessionId": id.to_string()}));
        assert_eq!(t, Some(Target::new(TargetKind::Session, id)));
        assert_eq!(target_of(&json!({"input": {"taskId": "not-a-uuid"}})), None);
        assert_eq!(target_of(&json!({"input": {"title": "x"}})), None);
    }

    #[test]
    fn every_id_at_any_depth_is_named() {
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let mut named = Vec::new();
        ids_in(
            &json!({"input": {"taskId": a.to_string(), "dependsOnTaskId": b.to_string(),
                "assigneeIds": [c.to_string(), a.to_string()], "title": "not an id", "n": 3}}),
            &mut named,
        );
        assert_eq!(named.len(), 3);
        assert!([a, b, c].iter().all(|id| named.contains(id)));
    }
}
