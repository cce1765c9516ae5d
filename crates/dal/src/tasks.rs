//! Tasks, their assignees and their grants. For a SECRET task the grants are its access
//! list: whoever makes a task SECRET is put on it with EDIT, and it must keep someone
//! on it who may manage it.
//!
//! Over 400 lines: one aggregate — a task, its assignees and its access list change
//! together, in one transaction each.

use chrono::NaiveDate;
use crust_domain::{
    decide, Action, BoxId, Classification, Decision, Object, OrgId, ProjectId, TaskAccess,
    TaskFacts, TaskId, TaskStatus, UserId,
};
use diesel::dsl::max;
use diesel::prelude::*;
use uuid::Uuid;

use crate::actor::Actor;
use crate::error::{DalError, DalResult};
use crate::models::{parse_task_access, Project, Task, TaskGrant, User};
use crate::need_to_know;
use crate::schema::{boxes, memberships, projects, task_assignees, task_grants, tasks, users};
use crate::visibility::task_visible;

/// A task the actor may read; anything else is `NotFound`.
pub fn get(conn: &mut PgConnection, actor: &Actor, id: TaskId) -> DalResult<Task> {
    Ok(tasks::table
        .find(id.0)
        .filter(task_visible(actor))
        .select(Task::as_select())
        .first(conn)?)
}

fn grant_of(conn: &mut PgConnection, task: Uuid, user: Uuid) -> DalResult<Option<TaskAccess>> {
    let access: Option<String> = task_grants::table
        .find((task, user))
        .select(task_grants::access)
        .first(conn)
        .optional()?;
    Ok(access.as_deref().map(parse_task_access))
}

/// The facts `decide` needs about the actor and this task.
pub fn facts(conn: &mut PgConnection, actor: &Actor, task: &Task) -> DalResult<TaskFacts> {
    // The project row itself may be hidden from a grantee; only its rules are used here.
    let project: Project = projects::table
        .find(task.project_id)
        .select(Project::as_select())
        .first(conn)?;
    Ok(TaskFacts {
        project: crate::projects::facts(conn, actor, &project)?,
        grant: grant_of(conn, task.id, actor.uid())?,
        classification: task.classification(),
    })
}

/// Loads a visible task and checks `action` on it.
pub fn authorize(
    conn: &mut PgConnection,
    actor: &Actor,
    id: TaskId,
    action: Action,
    what: &str,
) -> DalResult<(Task, TaskFacts)> {
    let task = get(conn, actor, id)?;
    let facts = facts(conn, actor, &task)?;
    DalError::check(decide(action, Object::Task(facts)), what)?;
    Ok((task, facts))
}

/// May the actor do `action` on this (visible) task? For fields like `grants`.
pub fn allows(
    conn: &mut PgConnection,
    actor: &Actor,
    task: &Task,
    action: Action,
) -> DalResult<bool> {
    Ok(decide(action, Object::Task(facts(conn, actor, task)?)) == Decision::Allow)
}

#[derive(Clone, Debug)]
pub struct NewTask {
    pub project: ProjectId,
    pub box_id: Option<BoxId>,
    pub title: String,
    pub description: Option<String>,
    pub classification: Classification,
    pub start_date: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
    pub duration_days: Option<i32>,
}

/// Creates a task at the end of its box (or of the project's unboxed tasks).
pub fn create(conn: &mut PgConnection, actor: &Actor, new: NewTask) -> DalResult<Task> {
    let title = crust_domain::validate::title("title", &new.title)?;
    let description = crust_domain::validate::description(
        "description",
        new.description.as_deref().unwrap_or(""),
    )?;
    crust_domain::schedule::dates(new.start_date, new.due_date, new.duration_days)?;
    conn.transaction(|conn| {
        let project = crate::projects::authorize(
            conn,
            actor,
            new.project,
            Action::EditProjectStructure,
            "add tasks to this project",
        )?;
        if new.classification == Classification::Secret {
            // Its creator goes on its list and must be able to manage that list.
            let facts = crate::projects::facts(conn, actor, &project)?;
            DalError::check(
                decide(Action::CreateSecretTask, Object::Project(facts)),
                "create SECRET tasks in this project (project MANAGERs only)",
            )?;
        }
        if let Some(b) = new.box_id {
            let in_project: i64 = boxes::table
                .filter(boxes::id.eq(b.0))
                .filter(boxes::project_id.eq(project.id))
                .count()
                .get_result(conn)?;
            if in_project == 0 {
                return Err(DalError::NotFound);
            }
        }
        projects::table
            .find(project.id)
            .select(projects::id)
            .for_update()
            .first::<Uuid>(conn)?;
        let last: Option<i32> = tasks::table
            .filter(tasks::project_id.eq(project.id))
            .filter(tasks::box_id.is_not_distinct_from(new.box_id.map(|b| b.0)))
            .select(max(tasks::position))
            .first(conn)?;
        let task: Task = diesel::insert_into(tasks::table)
            .values((
                tasks::org_id.eq(project.org_id),
                tasks::project_id.eq(project.id),
                tasks::box_id.eq(new.box_id.map(|b| b.0)),
                tasks::title.eq(&title),
                tasks::description.eq(&description),
                tasks::classification.eq(new.classification.as_str()),
                tasks::start_date.eq(new.start_date),
                tasks::due_date.eq(new.due_date),
                tasks::duration_days.eq(new.duration_days),
                tasks::position.eq(last.map_or(0, |p| p + 1)),
                tasks::created_by.eq(actor.uid()),
            ))
            .returning(Task::as_returning())
            .get_result(conn)?;
        if new.classification == Classification::Secret {
            upsert_grant(conn, task.id, actor.uid(), TaskAccess::Edit, actor.uid())?;
        }
        Ok(task)
    })
}

/// A partial update: `None` leaves a field alone, `Some(None)` clears a date.
#[derive(Clone, Debug, Default)]
pub struct TaskPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub status: Option<TaskStatus>,
    pub progress: Option<i16>,
    pub classification: Option<Classification>,
    pub start_date: Option<Option<NaiveDate>>,
    pub due_date: Option<Option<NaiveDate>>,
    pub duration_days: Option<Option<i32>>,
    /// Replaces the assignee list.
    pub assignees: Option<Vec<UserId>>,
}

impl TaskPatch {
    /// Status and progress are all an EDIT grant may change.
    fn only_progress(&self) -> bool {
        self.title.is_none()
            && self.description.is_none()
            && self.classification.is_none()
            && self.start_date.is_none()
            && self.due_date.is_none()
            && self.duration_days.is_none()
            && self.assignees.is_none()
    }
}

#[derive(AsChangeset)]
#[diesel(table_name = tasks)]
struct TaskChanges {
    title: Option<String>,
    description: Option<String>,
    status: String,
    progress: i16,
    classification: Option<String>,
    start_date: Option<Option<NaiveDate>>,
    due_date: Option<Option<NaiveDate>>,
    duration_days: Option<Option<i32>>,
}

pub fn update(
    conn: &mut PgConnection,
    actor: &Actor,
    id: TaskId,
    patch: TaskPatch,
) -> DalResult<Task> {
    conn.transaction(|conn| {
        let (action, what) = if patch.only_progress() {
            (
                Action::UpdateTaskProgress,
                "change this task's status or progress",
            )
        } else {
            (Action::UpdateTask, "edit this task")
        };
        let (task, _) = authorize(conn, actor, id, action, what)?;
        let reclassified = patch.classification.filter(|c| *c != task.classification());
        if reclassified.is_some() {
            // Changing who may see a task is managing its access.
            authorize(
                conn,
                actor,
                id,
                Action::ManageTaskAccess,
                "change this task's classification",
            )?;
            need_to_know::lock_org(conn, OrgId(task.org_id))?;
        }
        let (status, progress) = crust_domain::task::reconcile(
            (task.status(), task.progress),
            patch.status,
            patch.progress,
        )?;
        crust_domain::schedule::dates(
            patch.start_date.unwrap_or(task.start_date),
            patch.due_date.unwrap_or(task.due_date),
            patch.duration_days.unwrap_or(task.duration_days),
        )?;
        let changes = TaskChanges {
            title: patch
                .title
                .as_deref()
                .map(|t| crust_domain::validate::title("title", t))
                .transpose()?,
            description: patch
                .description
                .as_deref()
                .map(|d| crust_domain::validate::description("description", d))
                .transpose()?,
            status: status.as_str().to_owned(),
            progress,
            classification: patch.classification.map(|c| c.as_str().to_owned()),
            start_date: patch.start_date,
            due_date: patch.due_date,
            duration_days: patch.duration_days,
        };
        if reclassified == Some(Classification::Secret) {
            // Whoever marks a task SECRET is on its list.
            upsert_grant(conn, task.id, actor.uid(), TaskAccess::Edit, actor.uid())?;
        }
        let updated: Task = diesel::update(tasks::table.find(id.0))
            .set((changes, tasks::updated_at.eq(diesel::dsl::now)))
            .returning(Task::as_returning())
            .get_result(conn)?;
        if reclassified.is_some() {
            need_to_know::ensure_managed(conn, OrgId(task.org_id))?;
        }
        if let Some(assignees) = &patch.assignees {
            set_assignees(conn, &updated, assignees)?;
        }
        if task.status() != TaskStatus::Done && updated.status() == TaskStatus::Done {
            crate::notifications::task_done(conn, &updated, actor.user_id())?;
        }
        Ok(updated)
    })
}

/// Replaces the assignees. Each must be a member of the task's organization (anyone
/// else is `NotFound`, like any id from another tenant) who may see the task: an
/// assignment must never point someone at a task hidden from them.
fn set_assignees(conn: &mut PgConnection, task: &Task, assignees: &[UserId]) -> DalResult<()> {
    let mut ids: Vec<Uuid> = assignees.iter().map(|u| u.0).collect();
    ids.sort();
    ids.dedup();
    if ids.len() > 50 {
        return Err(DalError::Invalid(
            "assigneeIds: at most 50 people per task".into(),
        ));
    }
    let members: i64 = memberships::table
        .filter(memberships::org_id.eq(task.org_id))
        .filter(memberships::user_id.eq_any(&ids))
        .count()
        .get_result(conn)?;
    if members != ids.len() as i64 {
        return Err(DalError::NotFound);
    }
    for id in &ids {
        let sees = match Actor::load(conn, UserId(*id)) {
            Ok(assignee) => get(conn, &assignee, TaskId(task.id)).is_ok(),
            Err(DalError::NotFound) => false,
            Err(e) => return Err(e),
        };
        if !sees {
            return Err(DalError::Invalid(format!(
                "assigneeIds: {id} cannot see this task; give them access first"
            )));
        }
    }
    diesel::delete(task_assignees::table.filter(task_assignees::task_id.eq(task.id)))
        .execute(conn)?;
    let rows: Vec<_> = ids
        .iter()
        .map(|u| {
            (
                task_assignees::task_id.eq(task.id),
                task_assignees::user_id.eq(*u),
            )
        })
        .collect();
    diesel::insert_into(task_assignees::table)
        .values(rows)
        .execute(conn)?;
    Ok(())
}

pub fn delete(conn: &mut PgConnection, actor: &Actor, id: TaskId) -> DalResult<()> {
    conn.transaction(|conn| {
        authorize(conn, actor, id, Action::DeleteTask, "delete this task")?;
        diesel::delete(tasks::table.find(id.0)).execute(conn)?;
        Ok(())
    })
}

/// Who holds a grant on the task. Visible to those who manage the task's access and,
/// for a SECRET task, to everyone on its list (the only people who can see it at all).
pub fn grants(conn: &mut PgConnection, actor: &Actor, id: TaskId) -> DalResult<Vec<TaskGrant>> {
    let task = get(conn, actor, id)?;
    if task.classification() != Classification::Secret
        && !allows(conn, actor, &task, Action::ManageTaskAccess)?
    {
        return Err(DalError::forbidden(
            "you are not allowed to see who has access to this task",
        ));
    }
    let rows: Vec<(User, String)> = task_grants::table
        .inner_join(users::table.on(users::id.eq(task_grants::user_id)))
        .filter(task_grants::task_id.eq(id.0))
        .order((users::name, users::id))
        .select((User::as_select(), task_grants::access))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(user, access)| TaskGrant {
            task_id: id.0,
            user,
            access: parse_task_access(&access),
        })
        .collect())
}

fn upsert_grant(
    conn: &mut PgConnection,
    task: Uuid,
    user: Uuid,
    access: TaskAccess,
    by: Uuid,
) -> DalResult<()> {
    diesel::insert_into(task_grants::table)
        .values((
            task_grants::task_id.eq(task),
            task_grants::user_id.eq(user),
            task_grants::access.eq(access.as_str()),
            task_grants::granted_by.eq(by),
        ))
        .on_conflict((task_grants::task_id, task_grants::user_id))
        .do_update()
        .set((
            task_grants::access.eq(access.as_str()),
            task_grants::granted_by.eq(by),
        ))
        .execute(conn)?;
    Ok(())
}

/// Grants (or changes) a user's access to one task. The user must belong to the
/// task's organization (otherwise `NotFound`).
pub fn grant(
    conn: &mut PgConnection,
    actor: &Actor,
    id: TaskId,
    user: UserId,
    access: TaskAccess,
) -> DalResult<TaskGrant> {
    conn.transaction(|conn| {
        let (task, _) = authorize(
            conn,
            actor,
            id,
            Action::ManageTaskAccess,
            "manage access to this task",
        )?;
        crate::orgs::role_of(conn, OrgId(task.org_id), user.0)?.ok_or(DalError::NotFound)?;
        upsert_grant(conn, task.id, user.0, access, actor.uid())?;
        let user = crate::users::by_id(conn, user)?;
        Ok(TaskGrant {
            task_id: task.id,
            user,
            access,
        })
    })
}

/// Takes a user's grant away. A SECRET task keeps someone on its list who may manage
/// it (see `need_to_know`).
pub fn revoke(conn: &mut PgConnection, actor: &Actor, id: TaskId, user: UserId) -> DalResult<()> {
    conn.transaction(|conn| {
        let (task, _) = authorize(
            conn,
            actor,
            id,
            Action::ManageTaskAccess,
            "manage access to this task",
        )?;
        need_to_know::lock_org(conn, OrgId(task.org_id))?;
        if grant_of(conn, task.id, user.0)?.is_none() {
            return Err(DalError::NotFound);
        }
        diesel::delete(task_grants::table.find((task.id, user.0))).execute(conn)?;
        // An assignment must never point someone at a task hidden from them: if the
        // grant was what let them see it, they are no longer assigned either.
        let still_sees = match Actor::load(conn, user) {
            Ok(them) => get(conn, &them, id).is_ok(),
            Err(DalError::NotFound) => false,
            Err(e) => return Err(e),
        };
        if !still_sees {
            diesel::delete(
                task_assignees::table
                    .filter(task_assignees::task_id.eq(task.id))
                    .filter(task_assignees::user_id.eq(user.0)),
            )
            .execute(conn)?;
        }
        need_to_know::ensure_managed(conn, OrgId(task.org_id))
    })
}
