//! Live boards: the subscription root, served over graphql-ws (`/graphql/ws`).
//!
//! Changes reach every instance through PostgreSQL (`crate::live`), as ids only. For
//! each receiver and each change, the receiver is signed in again (their session and
//! memberships as they are now) and the task is read *as them*: a SECRET task they are
//! not granted, a task whose grant was just revoked, or another tenant's task is simply
//! not told. A change comes with a snapshot of the task's own fields, read at that
//! moment; anything beyond (assignees, comments) is fetched with a query.

use std::sync::Arc;

use async_graphql::{Context, Enum, SimpleObject, Subscription, ID};
use chrono::{DateTime, NaiveDate, Utc};
use crust_domain::{BoxId, ProjectId, SliceId, TaskId};
use futures_util::{Stream, StreamExt};
use uuid::Uuid;

use super::enums::{Classification, TaskStatus};
use super::ids::{id, parse};
use crate::db::Db;
use crate::error::ApiError;
use crate::live::{Change, Hub, LiveCaller, Received};

/// What happened to a task.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum ChangeKind {
    Created,
    Updated,
    Deleted,
    /// Changes were missed (this server fell behind, or lost its connection to the
    /// database for a moment): fetch what you show again.
    Missed,
}

/// A task's own fields as they were when it changed.
#[derive(SimpleObject, Clone)]
pub struct ChangedTask {
    pub id: ID,
    pub title: String,
    pub status: TaskStatus,
    pub progress: i32,
    pub classification: Classification,
    pub project_id: ID,
    pub box_id: Option<ID>,
    pub position: i32,
    pub due_date: Option<NaiveDate>,
    pub updated_at: DateTime<Utc>,
}

impl From<crust_dal::models::Task> for ChangedTask {
    fn from(t: crust_dal::models::Task) -> Self {
        ChangedTask {
            id: id(t.id),
            title: t.title.clone(),
            status: t.status().into(),
            progress: i32::from(t.progress),
            classification: t.classification().into(),
            project_id: id(t.project_id),
            box_id: t.box_id.map(id),
            position: t.position,
            due_date: t.due_date,
            updated_at: t.updated_at,
        }
    }
}

/// One change a subscriber may know of.
#[derive(SimpleObject, Clone)]
pub struct TaskChange {
    pub kind: ChangeKind,
    /// Null only for MISSED.
    pub task_id: Option<ID>,
    /// The task now; null when it was deleted (and for MISSED).
    pub task: Option<ChangedTask>,
}

#[derive(Default)]
pub struct Subscription;

/// Which changes a subscription follows.
#[derive(Clone, Copy)]
enum Follow {
    Box(Uuid),
    Slice(Uuid),
    Task(Uuid),
}

impl Follow {
    fn covers(self, c: &Change) -> bool {
        match self {
            Follow::Box(b) => c.b == Some(b) || c.ob == Some(b),
            Follow::Slice(s) => c.s == Some(s) || c.os == Some(s),
            Follow::Task(t) => c.t == t,
        }
    }
}

#[Subscription]
impl Subscription {
    /// Changes to the tasks of one board column (`boxId`) or of a whole slice
    /// (`sliceId`; give exactly one), made by anyone, yourself included: a task created
    /// in it, changed, moved in or out, or deleted — as far as you may see the task at
    /// that moment.
    async fn board_changed(
        &self,
        ctx: &Context<'_>,
        box_id: Option<ID>,
        slice_id: Option<ID>,
    ) -> Result<impl Stream<Item = TaskChange>, ApiError> {
        let (caller, db) = connection(ctx)?;
        let (_, actor) = caller.now().await?;
        let follow = match (box_id, slice_id) {
            (Some(b), None) => {
                let b: BoxId = parse("boxId", &b)?;
                db.run(move |c| crust_dal::structure::get_box(c, &actor, b))
                    .await?;
                Follow::Box(b.0)
            }
            (None, Some(s)) => {
                let s: SliceId = parse("sliceId", &s)?;
                db.run(move |c| crust_dal::structure::get_slice(c, &actor, s))
                    .await?;
                Follow::Slice(s.0)
            }
            _ => {
                return Err(ApiError::BadUserInput(
                    "give exactly one of boxId (one column) and sliceId (a whole slice)".into(),
                ))
            }
        };
        changes(ctx, caller, db, follow)
    }

    /// Changes to one task, made by anyone, as far as you may see it at that moment.
    async fn task_changed(
        &self,
        ctx: &Context<'_>,
        task_id: ID,
    ) -> Result<impl Stream<Item = TaskChange>, ApiError> {
        let (caller, db) = connection(ctx)?;
        let (_, actor) = caller.now().await?;
        let t: TaskId = parse("taskId", &task_id)?;
        db.run(move |c| crust_dal::tasks::get(c, &actor, t)).await?;
        changes(ctx, caller, db, Follow::Task(t.0))
    }
}

/// Said to a subscription sent anywhere but the socket.
pub(crate) const ONLY_OVER_WS: &str = "subscriptions are served over a WebSocket at /graphql/ws (the graphql-transport-ws protocol, which the graphql-ws client speaks); /graphql answers queries and mutations";

fn connection(ctx: &Context<'_>) -> Result<(LiveCaller, Db), ApiError> {
    let caller = ctx
        .data::<LiveCaller>()
        .map_err(|_| ApiError::BadUserInput(ONLY_OVER_WS.into()))?
        .clone();
    let db = ctx
        .data::<Db>()
        .map_err(|_| ApiError::internal("database missing from schema data"))?
        .clone();
    Ok((caller, db))
}

fn changes(
    ctx: &Context<'_>,
    caller: LiveCaller,
    db: Db,
    follow: Follow,
) -> Result<impl Stream<Item = TaskChange>, ApiError> {
    let hub = ctx
        .data::<Hub>()
        .map_err(|_| ApiError::internal("live changes missing from schema data"))?;
    Ok(hub.stream().filter_map(move |received| {
        let (caller, db) = (caller.clone(), db.clone());
        async move {
            match received {
                Received::Missed => Some(TaskChange {
                    kind: ChangeKind::Missed,
                    task_id: None,
                    task: None,
                }),
                Received::Change(change) if follow.covers(&change) => {
                    told(&caller, &db, change).await
                }
                Received::Change(_) => None,
            }
        }
    }))
}

/// What `caller` may be told of `change`, read as they are now; `None` for nothing.
/// Only "not yours to see" is silence: a failure to find out (the database busy or
/// away) is told as MISSED, so the receiver fetches again rather than miss a change.
async fn told(caller: &LiveCaller, db: &Db, change: Arc<Change>) -> Option<TaskChange> {
    let missed = || {
        Some(TaskChange {
            kind: ChangeKind::Missed,
            task_id: None,
            task: None,
        })
    };
    // A caller whose session ended is told nothing (the socket closes soon after).
    let actor = match caller.now().await {
        Ok((_, actor)) => actor,
        Err(ApiError::Unauthenticated(_)) => return None,
        Err(_) => return missed(),
    };
    let task_id = Some(id(change.t));
    if change.op == "D" {
        // The task is gone and cannot be read as the caller; it could be seen by whoever
        // may read its project, unless it was SECRET (whose grant list is gone with it).
        if change.secret != Some(false) {
            return None;
        }
        let project = ProjectId(change.p);
        return match db
            .run(move |c| crust_dal::projects::get(c, &actor, project))
            .await
        {
            Ok(_) => Some(TaskChange {
                kind: ChangeKind::Deleted,
                task_id,
                task: None,
            }),
            Err(ApiError::NotFound) => None,
            Err(_) => missed(),
        };
    }
    let t = TaskId(change.t);
    match db.run(move |c| crust_dal::tasks::get(c, &actor, t)).await {
        Ok(task) => Some(TaskChange {
            kind: if change.op == "I" {
                ChangeKind::Created
            } else {
                ChangeKind::Updated
            },
            task_id,
            task: Some(task.into()),
        }),
        Err(ApiError::NotFound) => None,
        Err(_) => missed(),
    }
}
