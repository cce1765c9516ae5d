//! The audit log: appending events to their organization's hash chain (callers do it
//! inside the transaction of the change they describe), reading them back for those
//! allowed to, and the operator's verify, prune and export.
//!
//! The application's role may only read and append (see the `audit` migration); the
//! chain makes any other change — by a superuser, on the disk — detectable.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use crust_domain::audit::{
    chain_hash, client_digest, EventContent, Outcome, GENESIS, GLOBAL_CHAIN,
};
use crust_domain::{Action, OrgId, SessionId, UserId};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Uuid as SqlUuid};
use uuid::Uuid;

use crate::actor::Actor;
use crate::error::{DalError, DalResult};
use crate::page::{Page, Paged};
use crate::raw::Raw;
use crate::schema::{
    audit_chain_heads as heads, audit_events as events, boxes, comments, projects, slices, tasks,
};
use crate::visibility::{box_visible, project_visible, slice_visible, task_visible};

/// The kinds of object an event can be about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetKind {
    Organization,
    Workspace,
    Project,
    Slice,
    Box,
    Task,
    Comment,
    Recipe,
    Session,
    User,
}

impl TargetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Organization => "Organization",
            TargetKind::Workspace => "Workspace",
            TargetKind::Project => "Project",
            TargetKind::Slice => "Slice",
            TargetKind::Box => "Box",
            TargetKind::Task => "Task",
            TargetKind::Comment => "Comment",
            TargetKind::Recipe => "Recipe",
            TargetKind::Session => "Session",
            TargetKind::User => "User",
        }
    }
}

/// The object an event is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    pub kind: TargetKind,
    pub id: Uuid,
}

impl Target {
    pub fn new(kind: TargetKind, id: Uuid) -> Self {
        Target { kind, id }
    }
}

/// Where a request came from, as the server resolved it.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    pub request_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// An event to append.
#[derive(Clone, Debug)]
pub struct NewEvent {
    /// The mutation's field name (`updateTask`), or a sign-in event (`login`, …).
    pub action: String,
    pub outcome: Outcome,
    /// The GraphQL error code of a refusal.
    pub error_code: Option<String>,
    /// Why a sign-in failed, as a class (`wrong_password`, `unknown_account`, …).
    pub reason: Option<String>,
    pub actor: Option<UserId>,
    pub session: Option<SessionId>,
    /// The account the event concerns: the actor's own, or the account a sign-in
    /// attempt named.
    pub subject_user: Option<UserId>,
    /// The organization, whose chain the event joins (`None`: the global chain).
    pub organization: Option<Uuid>,
    pub target: Option<Target>,
    /// The target, or any object the request named, was SECRET (or inside something
    /// SECRET) when the event happened.
    pub need_to_know: bool,
    /// Ids the request named (any argument, at any depth): those of need-to-know
    /// objects make the event need-to-know too (see [`NewEvent::about`]).
    pub named: Vec<Uuid>,
    /// The need-to-know objects among the target and `named`, sorted: the event is
    /// listed only to readers who may see every one of them.
    pub need_to_know_ids: Vec<Uuid>,
    /// The request's data for this action, secrets already redacted, as JSON.
    pub variables: Option<String>,
    pub origin: Origin,
}

impl NewEvent {
    pub fn new(action: impl Into<String>, outcome: Outcome, origin: Origin) -> Self {
        NewEvent {
            action: action.into(),
            outcome,
            error_code: None,
            reason: None,
            actor: None,
            session: None,
            subject_user: None,
            organization: None,
            target: None,
            need_to_know: false,
            named: Vec::new(),
            need_to_know_ids: Vec::new(),
            variables: None,
            origin,
        }
    }

    /// Sets the target and, from where it lives, the organization; the event is
    /// need-to-know when the target or any object named in the request is (a target
    /// that does not exist leaves the organization unset).
    ///
    /// Any named id counts, whatever argument carried it: an event that shows a SECRET
    /// task's id as `dependsOnTaskId` reveals it as surely as one about that task.
    pub fn about(mut self, conn: &mut PgConnection, target: Option<Target>) -> DalResult<Self> {
        self.target = target;
        let located = match target {
            Some(t) => locate(conn, t, &self.named)?,
            None => None,
        };
        let (secret_target, mut ids) = match located {
            Some(l) => {
                self.organization = Some(l.org);
                (l.secret, l.named)
            }
            None => (false, need_to_know_among(conn, &self.named)?),
        };
        if let (true, Some(t)) = (secret_target, target) {
            ids.push(t.id);
        }
        ids.sort();
        ids.dedup();
        self.need_to_know = secret_target || !ids.is_empty();
        self.need_to_know_ids = ids;
        Ok(self)
    }
}

impl NewEvent {
    /// Keeps what an earlier location of the same event found need-to-know: an event
    /// about an object whose classification it changed is need-to-know if the object
    /// was before or is now, and listed only to those who may see all it named then
    /// and now.
    pub fn also(mut self, earlier: &NewEvent) -> Self {
        self.need_to_know |= earlier.need_to_know;
        self.need_to_know_ids
            .extend(earlier.need_to_know_ids.iter().copied());
        self.need_to_know_ids.sort();
        self.need_to_know_ids.dedup();
        self
    }
}

/// Where a target lives, and what else the request named that is need-to-know.
struct Location {
    org: Uuid,
    secret: bool,
    named: Vec<Uuid>,
}

/// Which of the ids bound at `{ids}` are need-to-know objects: SECRET projects and tasks,
/// the tasks, slices and boxes of SECRET projects, comments on need-to-know tasks. Ids
/// of anything else (users, organizations, objects that do not exist) are not.
const NEED_TO_KNOW_AMONG: &str = "
SELECT p.id FROM projects p WHERE p.id = ANY({ids}) AND p.classification = 'SECRET'
UNION
SELECT x.id FROM slices x JOIN projects p ON p.id = x.project_id
 WHERE x.id = ANY({ids}) AND p.classification = 'SECRET'
UNION
SELECT x.id FROM boxes x JOIN projects p ON p.id = x.project_id
 WHERE x.id = ANY({ids}) AND p.classification = 'SECRET'
UNION
SELECT t.id FROM tasks t JOIN projects p ON p.id = t.project_id
 WHERE t.id = ANY({ids}) AND (t.classification = 'SECRET' OR p.classification = 'SECRET')
UNION
SELECT c.id FROM comments c JOIN tasks t ON t.id = c.task_id JOIN projects p ON p.id = t.project_id
 WHERE c.id = ANY({ids}) AND (t.classification = 'SECRET' OR p.classification = 'SECRET')";

#[derive(QueryableByName)]
struct LocatedRow {
    #[diesel(sql_type = SqlUuid)]
    org: Uuid,
    #[diesel(sql_type = Bool)]
    secret: bool,
    #[diesel(sql_type = diesel::sql_types::Array<SqlUuid>)]
    named: Vec<Uuid>,
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

/// The organization a target belongs to, whether it is need-to-know, and which of
/// `named` are need-to-know objects, in one statement (this runs for every audited
/// mutation); `None` when the target does not exist (or belongs to no organization).
fn locate(conn: &mut PgConnection, target: Target, named: &[Uuid]) -> DalResult<Option<Location>> {
    const TASK: &str = "tasks t JOIN projects p ON p.id = t.project_id";
    const TASK_SECRET: &str = "(t.classification = 'SECRET' OR p.classification = 'SECRET')";
    let (columns, rest) = match target.kind {
        TargetKind::Organization => (
            "id AS org, false AS secret".to_owned(),
            "organizations WHERE id = $1".to_owned(),
        ),
        TargetKind::Workspace => (
            "org_id AS org, false AS secret".to_owned(),
            "workspaces WHERE id = $1".to_owned(),
        ),
        TargetKind::Recipe => (
            "org_id AS org, false AS secret".to_owned(),
            "recipes WHERE id = $1".to_owned(),
        ),
        TargetKind::Project => (
            "org_id AS org, classification = 'SECRET' AS secret".to_owned(),
            "projects WHERE id = $1".to_owned(),
        ),
        TargetKind::Slice | TargetKind::Box => (
            "p.org_id AS org, p.classification = 'SECRET' AS secret".to_owned(),
            format!(
                "{} x JOIN projects p ON p.id = x.project_id WHERE x.id = $1",
                if target.kind == TargetKind::Slice {
                    "slices"
                } else {
                    "boxes"
                }
            ),
        ),
        TargetKind::Task => (
            format!("t.org_id AS org, {TASK_SECRET} AS secret"),
            format!("{TASK} WHERE t.id = $1"),
        ),
        TargetKind::Comment => (
            format!("t.org_id AS org, {TASK_SECRET} AS secret"),
            format!("{TASK} JOIN comments c ON c.task_id = t.id WHERE c.id = $1"),
        ),
        TargetKind::Session | TargetKind::User => return Ok(None),
    };
    let sql = format!(
        "SELECT {columns}, ARRAY({}) AS named FROM {rest}",
        NEED_TO_KNOW_AMONG.replace("{ids}", "$2")
    );
    Ok(diesel::sql_query(sql)
        .bind::<SqlUuid, _>(target.id)
        .bind::<diesel::sql_types::Array<SqlUuid>, _>(named)
        .get_result::<LocatedRow>(conn)
        .optional()?
        .map(|l| Location {
            org: l.org,
            secret: l.secret,
            named: l.named,
        }))
}

/// [`NEED_TO_KNOW_AMONG`] on its own, for an event whose target is not located.
fn need_to_know_among(conn: &mut PgConnection, ids: &[Uuid]) -> DalResult<Vec<Uuid>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(diesel::sql_query(NEED_TO_KNOW_AMONG.replace("{ids}", "$1"))
        .bind::<diesel::sql_types::Array<SqlUuid>, _>(ids)
        .load::<Id>(conn)?
        .into_iter()
        .map(|r| r.id)
        .collect())
}

/// Which of these ids name an object the actor may see now (of the kinds that can be
/// need-to-know).
fn visible_among(conn: &mut PgConnection, actor: &Actor, ids: &[Uuid]) -> DalResult<Vec<Uuid>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Raw::new("SELECT p.id FROM projects p WHERE p.id = ANY(");
    q.uuids(ids.to_vec()).sql(") AND ").project_rule(actor, "p");
    for table in ["slices", "boxes"] {
        q.sql(&format!(
            " UNION SELECT x.id FROM {table} x JOIN projects p ON p.id = x.project_id WHERE x.id = ANY("
        ))
        .uuids(ids.to_vec())
        .sql(") AND ")
        .project_rule(actor, "p");
    }
    q.sql(" UNION SELECT t.id FROM tasks t WHERE t.id = ANY(")
        .uuids(ids.to_vec())
        .sql(") AND ")
        .task_rule(actor, "t");
    q.sql(" UNION SELECT c.id FROM comments c JOIN tasks t ON t.id = c.task_id WHERE c.id = ANY(")
        .uuids(ids.to_vec())
        .sql(") AND ")
        .task_rule(actor, "t");
    Ok(q.load::<Id>(conn)?.into_iter().map(|r| r.id).collect())
}

/// The advisory-lock class of audit chains (two-key locks, apart from other locks).
const CHAIN_LOCKS: i32 = 0x4175_6469; // "Audi"

/// Appends an event to its chain and returns its id. Call it last in the transaction
/// of the change it records: it locks the chain's head until that transaction ends.
/// Outside a transaction it opens one of its own.
pub fn append(conn: &mut PgConnection, e: &NewEvent) -> DalResult<Uuid> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let open = AnsiTransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()
        .ok()
        .flatten()
        .is_some();
    if open {
        // No savepoint: an error here fails the enclosing transaction anyway.
        append_locked(conn, e)
    } else {
        conn.transaction(|conn| append_locked(conn, e))
    }
}

fn append_locked(conn: &mut PgConnection, e: &NewEvent) -> DalResult<Uuid> {
    let chain = e.organization.unwrap_or(GLOBAL_CHAIN);
    // Appenders of one chain take turns until their transactions end; the insert's
    // trigger checks the link and advances the head (see the `audit` migration).
    diesel::sql_query("SELECT pg_advisory_xact_lock($1, hashtext($2::text))")
        .bind::<diesel::sql_types::Integer, _>(CHAIN_LOCKS)
        .bind::<SqlUuid, _>(chain)
        .execute(conn)?;
    let (last, prev): (i64, Vec<u8>) = heads::table
        .find(chain)
        .select((heads::seq, heads::hash))
        .first(conn)
        .optional()?
        .unwrap_or((0, GENESIS.to_vec()));
    let seq = last + 1;
    let id = Uuid::new_v4();
    // 122 random bits from the OS generator: enough that a digest cannot be
    // matched against a list of likely addresses.
    let salt = Uuid::new_v4().into_bytes();
    // PostgreSQL keeps microseconds; the hash must cover what is stored.
    let occurred_at = Utc::now()
        .duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or_else(|_| Utc::now());
    let mut event = Event {
        id,
        chain,
        seq,
        occurred_at,
        action: e.action.clone(),
        outcome: e.outcome.as_str().to_owned(),
        error_code: e.error_code.clone(),
        reason: e.reason.clone(),
        actor_id: e.actor.map(|u| u.0),
        session_id: e.session.map(|s| s.0),
        subject_user_id: e.subject_user.map(|u| u.0),
        organization_id: e.organization,
        target_type: e.target.map(|t| t.kind.as_str().to_owned()),
        target_id: e.target.map(|t| t.id),
        need_to_know: e.need_to_know,
        variables: e.variables.clone(),
        request_id: e.origin.request_id.clone(),
        ip: e.origin.ip.clone(),
        user_agent: e.origin.user_agent.clone(),
        client_salt: Some(salt.to_vec()),
        ip_digest: client_digest(&salt, e.origin.ip.as_deref()).to_vec(),
        user_agent_digest: client_digest(&salt, e.origin.user_agent.as_deref()).to_vec(),
        pruned_at: None,
        hash: Vec::new(),
        prev_hash: prev,
        need_to_know_ids: e.need_to_know_ids.clone(),
    };
    // The same content `verify` hashes, by the same function.
    event.hash = chain_hash(&event.prev_hash, &event.content()).to_vec();
    diesel::insert_into(events::table)
        .values(&event)
        .execute(conn)?;
    Ok(id)
}

/// Appends several events in one transaction, taking the chains' locks in one order
/// (so two such batches can never wait on each other).
pub fn append_all(conn: &mut PgConnection, mut list: Vec<NewEvent>) -> DalResult<()> {
    list.sort_by_key(|e| e.organization.unwrap_or(GLOBAL_CHAIN));
    conn.transaction(|conn| {
        for e in &list {
            append(conn, e)?;
        }
        Ok(())
    })
}

/// An event as stored (and, built by [`append`], as inserted).
#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = events)]
pub struct Event {
    pub id: Uuid,
    pub chain: Uuid,
    pub seq: i64,
    pub occurred_at: DateTime<Utc>,
    pub action: String,
    pub outcome: String,
    pub error_code: Option<String>,
    pub reason: Option<String>,
    pub actor_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    pub subject_user_id: Option<Uuid>,
    pub organization_id: Option<Uuid>,
    pub target_type: Option<String>,
    pub target_id: Option<Uuid>,
    pub need_to_know: bool,
    pub variables: Option<String>,
    pub request_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub client_salt: Option<Vec<u8>>,
    pub ip_digest: Vec<u8>,
    pub user_agent_digest: Vec<u8>,
    pub pruned_at: Option<DateTime<Utc>>,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
    pub need_to_know_ids: Vec<Uuid>,
}

impl Event {
    fn content(&self) -> EventContent<'_> {
        EventContent {
            id: self.id,
            chain: self.chain,
            seq: self.seq,
            occurred_at: self.occurred_at,
            action: &self.action,
            outcome: &self.outcome,
            error_code: self.error_code.as_deref(),
            reason: self.reason.as_deref(),
            actor_id: self.actor_id,
            session_id: self.session_id,
            subject_user_id: self.subject_user_id,
            organization_id: self.organization_id,
            target_type: self.target_type.as_deref(),
            target_id: self.target_id,
            need_to_know: self.need_to_know,
            variables: self.variables.as_deref(),
            request_id: self.request_id.as_deref(),
            ip_digest: &self.ip_digest,
            user_agent_digest: &self.user_agent_digest,
            need_to_know_ids: &self.need_to_know_ids,
        }
    }
}

/// What `auditEvents` may narrow the log to.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    pub actor: Option<Uuid>,
    pub action: Option<String>,
    pub target: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

type EventQuery<'a> = events::BoxedQuery<'a, diesel::pg::Pg>;

fn filtered<'a>(chain: Uuid, f: &EventFilter) -> EventQuery<'a> {
    let mut q = events::table.filter(events::chain.eq(chain)).into_boxed();
    if let Some(a) = f.actor {
        q = q.filter(events::actor_id.eq(a));
    }
    if let Some(a) = &f.action {
        q = q.filter(events::action.eq(a.clone()));
    }
    if let Some(t) = f.target {
        q = q.filter(events::target_id.eq(t));
    }
    if let Some(from) = f.from {
        q = q.filter(events::occurred_at.ge(from));
    }
    if let Some(to) = f.to {
        q = q.filter(events::occurred_at.lt(to));
    }
    q
}

/// The organization's events, newest first, for its OWNERs and ADMINs (others: as
/// [`crate::orgs::check`] decides). Events about need-to-know objects (tasks, projects,
/// their comments, boxes and slices) are listed only to readers who may see that object
/// now, like every other list; about one that no longer exists, to no one. The same
/// holds for every need-to-know object an event names besides its target: all of them
/// must be visible to the reader, or the event is left out (of the count too).
pub fn for_org(
    conn: &mut PgConnection,
    actor: &Actor,
    org: OrgId,
    filter: &EventFilter,
    page: Page,
) -> DalResult<Paged<Event>> {
    crate::orgs::check(
        actor,
        org,
        Action::ReadAuditLog,
        "read this organization's audit log",
    )?;
    // Deny by default: an event whose named ids appeared after this list was read is
    // left out, not let through.
    let named: Vec<Uuid> = events::table
        .filter(events::chain.eq(org.0))
        .filter(diesel::dsl::sql::<Bool>(
            "cardinality(need_to_know_ids) > 0",
        ))
        .select(diesel::dsl::sql::<SqlUuid>(
            "DISTINCT unnest(need_to_know_ids)",
        ))
        .load(conn)?;
    let seen = visible_among(conn, actor, &named)?;
    let visible = |q: EventQuery<'static>| {
        let tasks = tasks::table
            .filter(task_visible(actor))
            .select(tasks::id.nullable())
            .into_boxed();
        let projects = projects::table
            .filter(project_visible(actor))
            .select(projects::id.nullable())
            .into_boxed();
        let comments_tasks = tasks::table
            .filter(task_visible(actor))
            .select(tasks::id)
            .into_boxed();
        let comments = comments::table
            .filter(comments::task_id.eq_any(comments_tasks))
            .select(comments::id.nullable())
            .into_boxed();
        let boxes = boxes::table
            .filter(box_visible(actor))
            .select(boxes::id.nullable())
            .into_boxed();
        let slices = slices::table
            .filter(slice_visible(actor))
            .select(slices::id.nullable())
            .into_boxed();
        let about = |kind: TargetKind| events::target_type.eq(kind.as_str());
        q.filter(
            events::need_to_know
                .eq(false)
                .or(about(TargetKind::Task).and(events::target_id.eq_any(tasks)))
                .or(about(TargetKind::Project).and(events::target_id.eq_any(projects)))
                .or(about(TargetKind::Comment).and(events::target_id.eq_any(comments)))
                .or(about(TargetKind::Box).and(events::target_id.eq_any(boxes)))
                .or(about(TargetKind::Slice).and(events::target_id.eq_any(slices))),
        )
        .filter(events::need_to_know_ids.is_contained_by(seen.clone()))
    };
    newest_first(conn, || visible(filtered(org.0, filter)), page)
}

/// One page of a chain's events, newest first, with their total.
fn newest_first(
    conn: &mut PgConnection,
    query: impl Fn() -> EventQuery<'static>,
    page: Page,
) -> DalResult<Paged<Event>> {
    let total: i64 = query().count().get_result(conn)?;
    let items = query()
        .order(events::seq.desc())
        .offset(page.offset)
        .limit(page.limit)
        .select(Event::as_select())
        .load(conn)?;
    Ok(Paged {
        items,
        total,
        offset: page.offset,
    })
}

/// The security events of a user's account (their sign-ins, sessions, password
/// changes, and failed sign-ins against it), newest first.
pub fn security_events(
    conn: &mut PgConnection,
    auth: &crate::sessions::Authenticated,
    page: Page,
) -> DalResult<Paged<Event>> {
    let user = auth.user_id();
    let mine = || {
        filtered(GLOBAL_CHAIN, &EventFilter::default())
            // The account concerned, not whoever acted: a failed login names its
            // target account, and only that account's owner may read how it failed.
            .filter(events::subject_user_id.eq(user.0))
            .filter(events::action.eq_any(SECURITY_ACTIONS))
    };
    newest_first(conn, mine, page)
}

/// The actions a user sees among their security events.
pub const SECURITY_ACTIONS: &[&str] = &[
    "signUp",
    "login",
    "loginRateLimited",
    "accountLocked",
    "refreshSession",
    "refreshTokenReused",
    "logout",
    "changePassword",
    "revokeSession",
];

/// The first link of a chain that does not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokenLink {
    pub chain: Uuid,
    pub seq: i64,
    pub event: Option<Uuid>,
    pub problem: String,
}

#[derive(Clone, Debug, Default)]
pub struct VerifyReport {
    pub chains: usize,
    pub events: u64,
    /// The first broken link of each broken chain.
    pub broken: Vec<BrokenLink>,
}

const BATCH: i64 = 1000;

/// Walks every chain from its start and checks each link: numbering, the previous
/// hash, the event's own hash, the client digests of unpruned events, and that the
/// chain's head names its last event (so deleting the newest events shows too).
pub fn verify(_: &crate::Operator, conn: &mut PgConnection) -> DalResult<VerifyReport> {
    // One snapshot: events appended while the walk runs would otherwise look like a
    // head ahead of its chain.
    conn.build_transaction()
        .repeatable_read()
        .read_only()
        .run(verify_snapshot)
}

fn verify_snapshot(conn: &mut PgConnection) -> DalResult<VerifyReport> {
    let mut chains: Vec<Uuid> = events::table.select(events::chain).distinct().load(conn)?;
    let head_chains: Vec<Uuid> = heads::table.select(heads::chain).load(conn)?;
    chains.extend(head_chains);
    chains.sort();
    chains.dedup();
    let mut report = VerifyReport {
        chains: chains.len(),
        ..VerifyReport::default()
    };
    for chain in chains {
        if let Some(broken) = verify_chain(conn, chain, &mut report.events)? {
            report.broken.push(broken);
        }
    }
    Ok(report)
}

fn verify_chain(
    conn: &mut PgConnection,
    chain: Uuid,
    counted: &mut u64,
) -> DalResult<Option<BrokenLink>> {
    let broken = |seq, event, problem: &str| {
        Ok(Some(BrokenLink {
            chain,
            seq,
            event,
            problem: problem.to_owned(),
        }))
    };
    let mut expected_seq = 1_i64;
    let mut running = GENESIS.to_vec();
    loop {
        let batch: Vec<Event> = events::table
            .filter(events::chain.eq(chain))
            .filter(events::seq.ge(expected_seq))
            .order(events::seq)
            .limit(BATCH)
            .select(Event::as_select())
            .load(conn)?;
        let done = (batch.len() as i64) < BATCH;
        for e in batch {
            *counted += 1;
            if e.seq != expected_seq {
                return broken(
                    expected_seq,
                    None,
                    &format!("event {expected_seq} is missing (next is {})", e.seq),
                );
            }
            if e.prev_hash != running {
                return broken(
                    e.seq,
                    Some(e.id),
                    "its previous-hash does not match the event before it",
                );
            }
            if let Some(salt) = &e.client_salt {
                if client_digest(salt, e.ip.as_deref()).as_slice() != e.ip_digest
                    || client_digest(salt, e.user_agent.as_deref()).as_slice()
                        != e.user_agent_digest
                {
                    return broken(
                        e.seq,
                        Some(e.id),
                        "its IP address or user agent was changed",
                    );
                }
            }
            if chain_hash(&running, &e.content()).as_slice() != e.hash {
                return broken(e.seq, Some(e.id), "its content does not match its hash");
            }
            running = e.hash;
            expected_seq += 1;
        }
        if done {
            break;
        }
    }
    let head: Option<(i64, Vec<u8>)> = heads::table
        .find(chain)
        .select((heads::seq, heads::hash))
        .first(conn)
        .optional()?;
    let last = expected_seq - 1;
    match head {
        Some((seq, hash)) if seq == last && hash == running => Ok(None),
        Some((seq, _)) if seq > last => broken(
            last + 1,
            None,
            &format!("events {} to {seq} are missing from the end", last + 1),
        ),
        Some(_) => broken(last, None, "the chain's head does not match its last event"),
        None => broken(last, None, "the chain has no head"),
    }
}

/// Pseudonymizes the client details of events that happened before `cutoff`: the IP
/// keeps only its network (`audit_pseudonymize_ip`, the same function the table's
/// trigger checks against), the user agent is blanked, and the salt that could link
/// them to their digests is dropped. The chain stays verifiable. Returns how many
/// events were pruned. Needs the table owner (the application role may not update).
pub fn prune(
    _: &crate::Operator,
    conn: &mut PgConnection,
    cutoff: DateTime<Utc>,
) -> DalResult<usize> {
    let mut pruned = 0;
    loop {
        let n = conn.transaction(|conn| -> DalResult<usize> {
            conn.batch_execute("SET LOCAL crust.audit_prune = 'on'")?;
            Ok(diesel::sql_query(
                "UPDATE audit_events SET ip = audit_pseudonymize_ip(ip), \
                 user_agent = CASE WHEN user_agent IS NULL THEN NULL ELSE '[pruned]' END, \
                 client_salt = NULL, pruned_at = now() \
                 WHERE id IN (SELECT id FROM audit_events \
                   WHERE pruned_at IS NULL AND occurred_at < $1 LIMIT $2 FOR UPDATE)",
            )
            .bind::<diesel::sql_types::Timestamptz, _>(cutoff)
            .bind::<diesel::sql_types::BigInt, _>(BATCH)
            .execute(conn)?)
        })?;
        pruned += n;
        if (n as i64) < BATCH {
            return Ok(pruned);
        }
    }
}

/// Every event of one organization (or of the global chain) in a time range, oldest
/// first, handed to `write` one at a time (the export never holds the log in memory).
pub fn export(
    _: &crate::Operator,
    conn: &mut PgConnection,
    org: Option<Uuid>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    mut write: impl FnMut(&Event) -> std::io::Result<()>,
) -> DalResult<u64> {
    let chain = org.unwrap_or(GLOBAL_CHAIN);
    let filter = EventFilter {
        from,
        to,
        ..EventFilter::default()
    };
    let mut after = 0_i64;
    let mut written = 0;
    loop {
        let batch: Vec<Event> = filtered(chain, &filter)
            .filter(events::seq.gt(after))
            .order(events::seq)
            .limit(BATCH)
            .select(Event::as_select())
            .load(conn)?;
        for e in &batch {
            write(e).map_err(|err| DalError::Invalid(format!("writing the export: {err}")))?;
            written += 1;
            after = e.seq;
        }
        if (batch.len() as i64) < BATCH {
            return Ok(written);
        }
    }
}
