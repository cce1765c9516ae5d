//! A person's own data (GDPR): the export of what Crust holds about them, and the
//! erasure of their account.
//!
//! The export follows the read rules: tasks, and comments on tasks, the person may no
//! longer see (they left the project, the task became SECRET) are withheld and counted
//! — their content now belongs to someone else's organization; an operator's export
//! (`crust user export`) holds everything. Audit events name the person as actor or
//! subject; need-to-know ones are withheld and counted, and another person's address or
//! browser (a failed sign-in against the account) is never included.
//!
//! Erasure keeps the account's row, so the work it shared keeps pointing somewhere:
//! name "deleted user", a placeholder address, no password, inactive; sessions, links,
//! notifications and queued mail go; audit events keep their chain and lose what
//! identifies a client (see `audit_pseudonymize_erased_user` in the migrations).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use crust_domain::{OrgRole, UserId};
use diesel::prelude::*;
use uuid::Uuid;

use crate::actor::Actor;
use crate::error::{DalError, DalResult};
use crate::models::parse_org_role;
use crate::schema::{
    audit_events as events, comments, email_tokens, invitations, memberships, notifications,
    organizations, outbox, project_members, projects, sessions, task_assignees, tasks, users,
};
use crate::sessions::Authenticated;
use crate::users::PasswordChecked;
use crate::{need_to_know, orgs, visibility};

/// What an erased account is called wherever its work is shown.
pub const ERASED_NAME: &str = "deleted user";

/// The most audit events one export lists (the newest); the total is always given.
pub const MAX_EXPORTED_EVENTS: i64 = 10_000;

#[derive(Clone, Debug)]
pub struct Profile {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub active: bool,
    pub email_verified: bool,
    pub email_task_ready: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct Membership {
    pub organization_id: Uuid,
    pub organization: String,
    pub role: OrgRole,
    pub since: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct ProjectRole {
    pub project_id: Uuid,
    pub project: String,
    pub role: String,
    pub since: DateTime<Utc>,
}

#[derive(Clone, Debug, Queryable)]
pub struct SessionRecord {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_refreshed_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_reason: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Clone, Debug, Queryable)]
pub struct CommentRecord {
    pub id: Uuid,
    pub task_id: Uuid,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug)]
pub struct TaskRecord {
    pub id: Uuid,
    pub project_id: Uuid,
    pub title: String,
    pub status: String,
    pub created_by_them: bool,
    pub assigned_to_them: bool,
}

#[derive(Clone, Debug)]
pub struct EventRecord {
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub action: String,
    pub outcome: String,
    pub organization_id: Option<Uuid>,
    pub target_type: Option<String>,
    pub target_id: Option<Uuid>,
    /// Whether they acted (else the event is about them).
    pub by_them: bool,
    /// Only for their own actions.
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Clone, Debug)]
pub struct PersonalData {
    pub profile: Profile,
    pub memberships: Vec<Membership>,
    pub project_roles: Vec<ProjectRole>,
    pub sessions: Vec<SessionRecord>,
    pub comments: Vec<CommentRecord>,
    pub tasks: Vec<TaskRecord>,
    /// The newest [`MAX_EXPORTED_EVENTS`] at most.
    pub audit_events: Vec<EventRecord>,
    /// How many events name them and may be exported (listed or not).
    pub audit_events_total: i64,
    pub withheld_comments: i64,
    pub withheld_tasks: i64,
    pub withheld_audit_events: i64,
}

/// `exportMyData`: the signed-in user's own data, as far as they may still read it.
pub fn export_own(conn: &mut PgConnection, auth: &Authenticated) -> DalResult<PersonalData> {
    let actor = Actor::signed_in(conn, auth)?;
    export(conn, auth.user_id(), Some(&actor))
}

/// `crust user export`: what is held about an account, active or not. Like
/// `exportMyData` unless `full`: what the person may no longer see (for an account whose
/// access ended, every organization's tasks and comments) is withheld and counted, so a
/// copy handed to a person who left carries no organization's secrets. `full` holds
/// everything, for the operator's own use.
pub fn export_user(
    _: &crate::Operator,
    conn: &mut PgConnection,
    user: UserId,
    full: bool,
) -> DalResult<PersonalData> {
    if full {
        return export(conn, user, None);
    }
    let reader = match Actor::load(conn, user) {
        Ok(actor) => actor,
        Err(DalError::NotFound) => Actor::without_memberships(user),
        Err(e) => return Err(e),
    };
    export(conn, user, Some(&reader))
}

type ProfileRow = (Uuid, String, String, bool, bool, bool, DateTime<Utc>);

fn export(
    conn: &mut PgConnection,
    user: UserId,
    reader: Option<&Actor>,
) -> DalResult<PersonalData> {
    // One snapshot, so counts and lists agree.
    conn.build_transaction()
        .repeatable_read()
        .read_only()
        .run(|conn| {
            let p: ProfileRow = users::table
                .find(user.0)
                .select((
                    users::id,
                    users::email,
                    users::name,
                    users::active,
                    users::email_verified,
                    users::email_task_ready,
                    users::created_at,
                ))
                .first(conn)?;
            let profile = Profile {
                id: p.0,
                email: p.1,
                name: p.2,
                active: p.3,
                email_verified: p.4,
                email_task_ready: p.5,
                created_at: p.6,
            };
            let memberships = memberships_of(conn, user)?;
            let project_roles = project_roles_of(conn, user)?;
            let sessions: Vec<SessionRecord> = sessions::table
                .filter(sessions::user_id.eq(user.0))
                .order(sessions::created_at.desc())
                .select((
                    sessions::id,
                    sessions::created_at,
                    sessions::last_refreshed_at,
                    sessions::absolute_expires_at,
                    sessions::revoked_at,
                    sessions::revoked_reason,
                    sessions::ip,
                    sessions::user_agent,
                ))
                .load(conn)?;
            let (tasks, withheld_tasks, comments, withheld_comments) = work_of(conn, user, reader)?;
            let (audit_events, audit_events_total, withheld_audit_events) =
                events_about(conn, user)?;
            Ok(PersonalData {
                profile,
                memberships,
                project_roles,
                sessions,
                comments,
                tasks,
                audit_events,
                audit_events_total,
                withheld_comments,
                withheld_tasks,
                withheld_audit_events,
            })
        })
}

fn memberships_of(conn: &mut PgConnection, user: UserId) -> DalResult<Vec<Membership>> {
    let rows: Vec<(Uuid, String, String, DateTime<Utc>)> = memberships::table
        .inner_join(organizations::table)
        .filter(memberships::user_id.eq(user.0))
        .order(organizations::name.asc())
        .select((
            organizations::id,
            organizations::name,
            memberships::role,
            memberships::created_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(organization_id, organization, role, since)| Membership {
            organization_id,
            organization,
            role: parse_org_role(&role),
            since,
        })
        .collect())
}

fn project_roles_of(conn: &mut PgConnection, user: UserId) -> DalResult<Vec<ProjectRole>> {
    let rows: Vec<(Uuid, String, String, DateTime<Utc>)> = project_members::table
        .inner_join(projects::table.on(projects::id.eq(project_members::project_id)))
        .filter(project_members::user_id.eq(user.0))
        .order(projects::name.asc())
        .select((
            projects::id,
            projects::name,
            project_members::role,
            project_members::created_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(project_id, project, role, since)| ProjectRole {
            project_id,
            project,
            role,
            since,
        })
        .collect())
}

type Work = (Vec<TaskRecord>, i64, Vec<CommentRecord>, i64);

/// Tasks they created or are assigned, and their comments; with a reader, only what
/// that reader may see now (the rest counted).
fn work_of(conn: &mut PgConnection, user: UserId, reader: Option<&Actor>) -> DalResult<Work> {
    let assigned: HashSet<Uuid> = task_assignees::table
        .filter(task_assignees::user_id.eq(user.0))
        .select(task_assignees::task_id)
        .load::<Uuid>(conn)?
        .into_iter()
        .collect();
    let rows: Vec<(Uuid, Uuid, String, String, Option<Uuid>)> = tasks::table
        .filter(
            tasks::created_by
                .eq(user.0)
                .or(tasks::id.eq_any(assigned.iter().copied().collect::<Vec<_>>())),
        )
        .order(tasks::created_at.asc())
        .select((
            tasks::id,
            tasks::project_id,
            tasks::title,
            tasks::status,
            tasks::created_by,
        ))
        .load(conn)?;
    let comments: Vec<CommentRecord> = comments::table
        .filter(comments::author_id.eq(user.0))
        .order(comments::created_at.asc())
        .select((
            comments::id,
            comments::task_id,
            comments::body,
            comments::created_at,
            comments::edited_at,
        ))
        .load(conn)?;
    let visible: Option<HashSet<Uuid>> = match reader {
        None => None,
        Some(actor) => {
            let mut ids: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
            ids.extend(comments.iter().map(|c| c.task_id));
            ids.sort();
            ids.dedup();
            Some(
                tasks::table
                    .filter(tasks::id.eq_any(ids))
                    .filter(visibility::task_visible(actor))
                    .select(tasks::id)
                    .load::<Uuid>(conn)?
                    .into_iter()
                    .collect(),
            )
        }
    };
    let sees = |task: &Uuid| visible.as_ref().is_none_or(|v| v.contains(task));
    let total_tasks = rows.len();
    let tasks: Vec<TaskRecord> = rows
        .into_iter()
        .filter(|r| sees(&r.0))
        .map(|(id, project_id, title, status, created_by)| TaskRecord {
            created_by_them: created_by == Some(user.0),
            assigned_to_them: assigned.contains(&id),
            id,
            project_id,
            title,
            status,
        })
        .collect();
    let total_comments = comments.len();
    let comments: Vec<CommentRecord> = comments.into_iter().filter(|c| sees(&c.task_id)).collect();
    let withheld = |total: usize, shown: usize| i64::try_from(total - shown).unwrap_or(i64::MAX);
    let (withheld_tasks, withheld_comments) = (
        withheld(total_tasks, tasks.len()),
        withheld(total_comments, comments.len()),
    );
    Ok((tasks, withheld_tasks, comments, withheld_comments))
}

type EventRow = (
    Uuid,
    DateTime<Utc>,
    String,
    String,
    Option<Uuid>,
    Option<String>,
    Option<Uuid>,
    Option<Uuid>,
    Option<String>,
    Option<String>,
);

/// Events that name them as actor or subject, newest first; need-to-know ones counted.
fn events_about(conn: &mut PgConnection, user: UserId) -> DalResult<(Vec<EventRecord>, i64, i64)> {
    let about = || {
        events::table
            .filter(
                events::actor_id
                    .eq(user.0)
                    .or(events::subject_user_id.eq(user.0)),
            )
            .into_boxed()
    };
    let total: i64 = about()
        .filter(events::need_to_know.eq(false))
        .count()
        .get_result(conn)?;
    let withheld: i64 = about()
        .filter(events::need_to_know.eq(true))
        .count()
        .get_result(conn)?;
    let rows: Vec<EventRow> = about()
        .filter(events::need_to_know.eq(false))
        .order((events::occurred_at.desc(), events::id.desc()))
        .limit(MAX_EXPORTED_EVENTS)
        .select((
            events::id,
            events::occurred_at,
            events::action,
            events::outcome,
            events::organization_id,
            events::target_type,
            events::target_id,
            events::actor_id,
            events::ip,
            events::user_agent,
        ))
        .load(conn)?;
    let list = rows
        .into_iter()
        .map(|r| {
            let by_them = r.7 == Some(user.0);
            EventRecord {
                id: r.0,
                occurred_at: r.1,
                action: r.2,
                outcome: r.3,
                organization_id: r.4,
                target_type: r.5,
                target_id: r.6,
                by_them,
                ip: if by_them { r.8 } else { None },
                user_agent: if by_them { r.9 } else { None },
            }
        })
        .collect();
    Ok((list, total, withheld))
}

/// How much an erasure removed or pseudonymized.
#[derive(Clone, Debug, Default)]
pub struct Erased {
    pub memberships: usize,
    pub sessions: usize,
    pub audit_events_pseudonymized: i64,
}

/// `deleteMyAccount`: the signed-in user, whose password was just checked, erases
/// their own account. `record` appends the request's event inside the same transaction,
/// before the account's events are pseudonymized, so that event loses its client
/// details too.
pub fn erase_own(
    conn: &mut PgConnection,
    auth: &Authenticated,
    checked: PasswordChecked,
    record: impl FnOnce(&mut PgConnection, &Erased) -> DalResult<()>,
) -> DalResult<Erased> {
    if checked.user_id() != auth.user_id() {
        return Err(DalError::forbidden("erase this account"));
    }
    erase(conn, auth.user_id(), record)
}

/// `crust user erase` (recorded as the console's).
pub fn erase_user(_: &crate::Operator, conn: &mut PgConnection, user: UserId) -> DalResult<Erased> {
    erase(conn, user, |conn, _| {
        let mut e = crate::audit::NewEvent::new(
            "eraseUser",
            crust_domain::audit::Outcome::Ok,
            crate::audit::Origin::default(),
        );
        e.reason = Some("console".into());
        e.subject_user = Some(user);
        crate::audit::append(conn, &e).map(|_| ())
    })
}

fn erase(
    conn: &mut PgConnection,
    user: UserId,
    record: impl FnOnce(&mut PgConnection, &Erased) -> DalResult<()>,
) -> DalResult<Erased> {
    conn.transaction(|conn| {
        let (email, erased_at): (String, Option<DateTime<Utc>>) = users::table
            .find(user.0)
            .select((users::email, users::erased_at))
            .for_update()
            .first(conn)?;
        if erased_at.is_some() {
            return Err(DalError::Conflict("this account is already erased".into()));
        }
        let member_of = orgs::memberships_of(conn, user.0)?;
        for (org, name, role) in &member_of {
            need_to_know::lock_org(conn, *org)?;
            if *role == OrgRole::Owner && orgs::is_last_owner(conn, *org, user.0)? {
                return Err(DalError::Conflict(format!(
                    "this account is the last OWNER of \"{name}\": make someone else OWNER \
                     there first, then delete the account"
                )));
            }
        }
        for (org, _, _) in &member_of {
            orgs::strip_access(conn, *org, user.0)?;
        }
        let sessions =
            diesel::delete(sessions::table.filter(sessions::user_id.eq(user.0))).execute(conn)?;
        diesel::delete(email_tokens::table.filter(email_tokens::user_id.eq(user.0)))
            .execute(conn)?;
        diesel::delete(notifications::table.filter(notifications::user_id.eq(user.0)))
            .execute(conn)?;
        diesel::delete(outbox::table.filter(outbox::user_id.eq(user.0))).execute(conn)?;
        diesel::delete(outbox::table.filter(lower(outbox::recipient).eq(email.to_lowercase())))
            .execute(conn)?;
        // Invitations to the address lose it (and die); those they sent die too: no one
        // joins on the word of an erased account.
        diesel::update(
            invitations::table.filter(lower(invitations::email).eq(email.to_lowercase())),
        )
        .set(invitations::email.eq(placeholder_address(user)))
        .execute(conn)?;
        crate::invitations::revoke_pending_sent_by(conn, user)?;
        diesel::update(users::table.find(user.0))
            .set((
                users::email.eq(placeholder_address(user)),
                users::name.eq(ERASED_NAME),
                // Matches no password: a bcrypt hash never has this form.
                users::password_hash.eq("!erased"),
                users::active.eq(false),
                users::email_verified.eq(false),
                users::email_task_ready.eq(false),
                users::erased_at.eq(diesel::dsl::now),
                users::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        let mut erased = Erased {
            memberships: member_of.len(),
            sessions,
            audit_events_pseudonymized: 0,
        };
        record(conn, &erased)?;
        erased.audit_events_pseudonymized =
            diesel::select(audit_pseudonymize_erased_user(user.0)).get_result(conn)?;
        Ok(erased)
    })
}

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);
diesel::define_sql_function!(fn audit_pseudonymize_erased_user(user: diesel::sql_types::Uuid) -> diesel::sql_types::BigInt);

/// Unique, and deliverable nowhere (`.invalid` is reserved for that).
fn placeholder_address(user: UserId) -> String {
    format!("erased-{}@erased.invalid", user.0.simple())
}
