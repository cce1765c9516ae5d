//! In-app notifications. When a task becomes DONE, the assignees of the tasks that
//! depend on it (its successors) who may see the successor are told, in the app and —
//! unless they turned it off — by an email that carries only a link.

use chrono::{DateTime, Duration, Utc};
use crust_domain::mail::Template;
use crust_domain::{TaskId, TaskStatus, UserId};
use diesel::prelude::*;
use uuid::Uuid;

use crate::actor::Actor;
use crate::error::DalResult;
use crate::models::Task;
use crate::outbox::{self, Letter};
use crate::page::{Page, Paged};
use crate::schema::{notifications, task_assignees, task_dependencies, tasks, users};

/// At most this many people are told about one task's completion (a task with
/// thousands of successors is a data problem, not a reason to send thousands of
/// emails in one request).
const MAX_TOLD: usize = 200;

#[derive(Clone, Debug, Queryable)]
pub struct Notification {
    pub id: Uuid,
    pub kind: String,
    pub task_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

/// `task` just became DONE (by `by`): tell the assignees of its unfinished successors
/// who may see them. Runs in the caller's transaction.
pub(crate) fn task_done(conn: &mut PgConnection, task: &Task, by: UserId) -> DalResult<()> {
    let successors: Vec<(Uuid, Uuid)> = task_dependencies::table
        .inner_join(tasks::table.on(tasks::id.eq(task_dependencies::task_id)))
        .inner_join(task_assignees::table.on(task_assignees::task_id.eq(tasks::id)))
        .filter(task_dependencies::depends_on_task_id.eq(task.id))
        .filter(tasks::status.ne(TaskStatus::Done.as_str()))
        .filter(tasks::status.ne(TaskStatus::NotNeeded.as_str()))
        .filter(task_assignees::user_id.ne(by.0))
        .select((tasks::id, task_assignees::user_id))
        .order((tasks::id, task_assignees::user_id))
        .limit(MAX_TOLD as i64)
        .load(conn)?;
    for (successor, user) in successors {
        // The assignee must be able to see the successor now (a SECRET task they lost
        // access to, or an organization they left, tells them nothing).
        let Ok(reader) = Actor::load(conn, UserId(user)) else {
            continue;
        };
        // The finished task too: news of a task they may not see (a SECRET
        // predecessor) would tell them it exists and when it was done.
        if crate::tasks::get(conn, &reader, TaskId(successor)).is_err()
            || crate::tasks::get(conn, &reader, TaskId(task.id)).is_err()
        {
            continue;
        }
        // Already told and not yet read: nothing new (and no second email).
        let added = diesel::sql_query(
            "INSERT INTO notifications (user_id, kind, task_id) VALUES ($1, 'TASK_READY', $2)
             ON CONFLICT (user_id, task_id) WHERE read_at IS NULL DO NOTHING",
        )
        .bind::<diesel::sql_types::Uuid, _>(user)
        .bind::<diesel::sql_types::Uuid, _>(successor)
        .execute(conn)?;
        if added == 0 {
            continue;
        }
        let (email, name, verified, wants): (String, String, bool, bool) = users::table
            .find(user)
            .select((
                users::email,
                users::name,
                users::email_verified,
                users::email_task_ready,
            ))
            .first(conn)?;
        if wants {
            outbox::enqueue_unless_recent(
                conn,
                &Letter {
                    template: Template::TaskReady,
                    recipient: &email,
                    user: Some(UserId(user)),
                    name: verified.then_some(name.as_str()),
                    token: None,
                },
                Duration::minutes(10),
            )?;
        }
    }
    Ok(())
}

/// The actor's notifications about tasks they may still see, newest first, each with
/// its task (five statements, whatever the page size).
pub fn list(
    conn: &mut PgConnection,
    actor: &Actor,
    unread_only: bool,
    page: Page,
) -> DalResult<Paged<(Notification, Option<Task>)>> {
    // Only notifications about tasks the actor may still see: neither the list nor its
    // total tells of a task that became hidden since.
    let unread = |q: notifications::BoxedQuery<'static, diesel::pg::Pg>| {
        if unread_only {
            q.filter(notifications::read_at.is_null())
        } else {
            q
        }
    };
    let about: Vec<Uuid> = unread(
        notifications::table
            .filter(notifications::user_id.eq(actor.uid()))
            .into_boxed(),
    )
    .select(notifications::task_id)
    .distinct()
    .load(conn)?;
    let visible: Vec<Uuid> = tasks::table
        .filter(tasks::id.eq_any(&about))
        .filter(crate::visibility::task_visible(actor))
        .select(tasks::id)
        .load(conn)?;
    let mine = || {
        unread(
            notifications::table
                .filter(notifications::user_id.eq(actor.uid()))
                .filter(notifications::task_id.eq_any(visible.clone()))
                .into_boxed(),
        )
    };
    let total: i64 = mine().count().get_result(conn)?;
    let items = mine()
        .order((notifications::created_at.desc(), notifications::id.desc()))
        .offset(page.offset)
        .limit(page.limit)
        .select((
            notifications::id,
            notifications::kind,
            notifications::task_id,
            notifications::created_at,
            notifications::read_at,
        ))
        .load::<Notification>(conn)?;
    let ids: Vec<Uuid> = items.iter().map(|n| n.task_id).collect();
    let visible: std::collections::HashMap<Uuid, Task> = tasks::table
        .filter(tasks::id.eq_any(&ids))
        .filter(crate::visibility::task_visible(actor))
        .select(Task::as_select())
        .load::<Task>(conn)?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    let items = items
        .into_iter()
        .map(|n| {
            let task = visible.get(&n.task_id).cloned();
            (n, task)
        })
        .collect();
    Ok(Paged::new(items, total, page))
}

/// Marks the actor's notifications read: those named, or all. Ids of anyone else's
/// are ignored. Returns how many of the actor's changed.
pub fn mark_read(conn: &mut PgConnection, actor: &Actor, ids: Option<&[Uuid]>) -> DalResult<usize> {
    let mut q = notifications::table
        .filter(notifications::user_id.eq(actor.uid()))
        .filter(notifications::read_at.is_null())
        .into_boxed();
    if let Some(ids) = ids {
        q = q.filter(notifications::id.eq_any(ids));
    }
    let unread: Vec<(Uuid, Uuid)> = q
        .select((notifications::id, notifications::task_id))
        .load(conn)?;
    // Only those about tasks the actor may see, like the list: the count must not
    // tell of a task that became hidden.
    let tasks_of: Vec<Uuid> = unread.iter().map(|(_, t)| *t).collect();
    let visible: std::collections::HashSet<Uuid> = tasks::table
        .filter(tasks::id.eq_any(&tasks_of))
        .filter(crate::visibility::task_visible(actor))
        .select(tasks::id)
        .load::<Uuid>(conn)?
        .into_iter()
        .collect();
    let ids: Vec<Uuid> = unread
        .into_iter()
        .filter(|(_, t)| visible.contains(t))
        .map(|(id, _)| id)
        .collect();
    Ok(
        diesel::update(notifications::table.filter(notifications::id.eq_any(&ids)))
            .set(notifications::read_at.eq(Utc::now()))
            .execute(conn)?,
    )
}

/// Which emails the actor gets (security notices always go out).
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub task_ready_email: bool,
}

pub fn settings(conn: &mut PgConnection, actor: &Actor) -> DalResult<Settings> {
    let task_ready_email = users::table
        .find(actor.uid())
        .select(users::email_task_ready)
        .first(conn)?;
    Ok(Settings { task_ready_email })
}

pub fn update_settings(
    conn: &mut PgConnection,
    actor: &Actor,
    settings: Settings,
) -> DalResult<Settings> {
    diesel::update(users::table.find(actor.uid()))
        .set(users::email_task_ready.eq(settings.task_ready_email))
        .execute(conn)?;
    Ok(settings)
}
