//! The audit log: appending events to their organization's hash chain (callers do it
//! inside the transaction of the change they describe), reading them back for those
//! allowed to, and the operator's verify, prune and export.
//!
//! Split by job: the event model here, [`locate`] (where a target lives, what is
//! need-to-know), [`append`] (the chains), [`read`] (the log as its readers see it)
//! and [`operator`] (verify, prune, export).
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
    attachments, audit_chain_heads as heads, audit_events as events, boxes, comments, projects,
    slices, tasks,
};
use crate::visibility::{box_visible, project_visible, slice_visible, task_visible};

mod append;
mod locate;
mod operator;
mod read;

pub use append::{append, append_all, appended_total};
use locate::{locate, need_to_know_among};
pub use operator::{export, prune, verify, BrokenLink, VerifyReport};
pub use read::{for_org, security_events, EventFilter, SECURITY_ACTIONS};

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
    Attachment,
    Recipe,
    Invitation,
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
            TargetKind::Attachment => "Attachment",
            TargetKind::Recipe => "Recipe",
            TargetKind::Invitation => "Invitation",
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
