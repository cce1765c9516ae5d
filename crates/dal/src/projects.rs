//! Projects and their members. For a SECRET project the member list is its access list:
//! whoever makes a project SECRET is put on it, and it must keep a MANAGER.

use chrono::NaiveDate;
use crust_domain::access::effective_project_role;
use crust_domain::{
    decide, Action, Classification, Object, OrgId, OrgRole, ProjectFacts, ProjectId, ProjectRole,
    ProjectStatus, UserId, Visibility, WorkspaceId,
};
use diesel::prelude::*;
use uuid::Uuid;

use crate::actor::Actor;
use crate::error::{DalError, DalResult};
use crate::models::{parse_project_role, Project, ProjectMember, User};
use crate::need_to_know;
use crate::page::{Page, Paged};
use crate::schema::{project_members, projects, users, workspaces};
use crate::visibility::project_visible;

/// A project the actor may read; anything else is `NotFound`.
pub fn get(conn: &mut PgConnection, actor: &Actor, id: ProjectId) -> DalResult<Project> {
    Ok(projects::table
        .find(id.0)
        .filter(project_visible(actor))
        .select(Project::as_select())
        .first(conn)?)
}

/// Projects of an organization (optionally one workspace) the actor may read.
pub fn list(
    conn: &mut PgConnection,
    actor: &Actor,
    org: OrgId,
    workspace: Option<WorkspaceId>,
    page: Page,
) -> DalResult<Paged<Project>> {
    crate::orgs::check(actor, org, Action::ReadOrg, "read this organization")?;
    let query = || {
        let mut q = projects::table
            .filter(projects::org_id.eq(org.0))
            .filter(project_visible(actor))
            .into_boxed();
        if let Some(ws) = workspace {
            q = q.filter(projects::workspace_id.eq(ws.0));
        }
        q
    };
    let total = query().count().get_result(conn)?;
    let items = query()
        .order((projects::name, projects::id))
        .offset(page.offset)
        .limit(page.limit)
        .select(Project::as_select())
        .load(conn)?;
    Ok(Paged::new(items, total, page))
}

pub(crate) fn member_role(
    conn: &mut PgConnection,
    project: Uuid,
    user: Uuid,
) -> DalResult<Option<ProjectRole>> {
    let role: Option<String> = project_members::table
        .find((project, user))
        .select(project_members::role)
        .first(conn)
        .optional()?;
    Ok(role.as_deref().map(parse_project_role))
}

/// The facts `decide` needs about the actor and this project.
pub fn facts(conn: &mut PgConnection, actor: &Actor, project: &Project) -> DalResult<ProjectFacts> {
    Ok(ProjectFacts {
        org_role: actor.org_role(OrgId(project.org_id)),
        member_role: member_role(conn, project.id, actor.uid())?,
        visibility: project.visibility(),
        classification: project.classification(),
    })
}

/// The role the actor effectively holds on the project (`viewerRole` in the API).
pub fn viewer_role(
    conn: &mut PgConnection,
    actor: &Actor,
    project: &Project,
) -> DalResult<Option<ProjectRole>> {
    Ok(effective_project_role(facts(conn, actor, project)?))
}

/// Loads a visible project and checks `action` on it.
pub fn authorize(
    conn: &mut PgConnection,
    actor: &Actor,
    id: ProjectId,
    action: Action,
    what: &str,
) -> DalResult<Project> {
    let project = get(conn, actor, id)?;
    let facts = facts(conn, actor, &project)?;
    DalError::check(decide(action, Object::Project(facts)), what)?;
    Ok(project)
}

#[derive(Clone, Debug)]
pub struct NewProject {
    pub org: OrgId,
    pub workspace: Option<WorkspaceId>,
    pub name: String,
    pub description: Option<String>,
    pub visibility: Visibility,
    pub classification: Classification,
    pub start_date: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
}

fn check_workspace(conn: &mut PgConnection, org: OrgId, ws: WorkspaceId) -> DalResult<()> {
    let found: i64 = workspaces::table
        .filter(workspaces::id.eq(ws.0))
        .filter(workspaces::org_id.eq(org.0))
        .count()
        .get_result(conn)?;
    if found == 0 {
        return Err(DalError::NotFound);
    }
    Ok(())
}

/// Creates a project; its creator becomes its MANAGER (and so is on its access list).
pub fn create(conn: &mut PgConnection, actor: &Actor, new: NewProject) -> DalResult<Project> {
    crate::orgs::check(
        actor,
        new.org,
        Action::CreateProject,
        "create projects in this organization",
    )?;
    let name = crust_domain::validate::name("name", &new.name)?;
    let description = crust_domain::validate::description(
        "description",
        new.description.as_deref().unwrap_or(""),
    )?;
    // Projects have no duration of their own.
    crust_domain::schedule::dates(new.start_date, new.due_date, None)?;
    conn.transaction(|conn| {
        if let Some(ws) = new.workspace {
            check_workspace(conn, new.org, ws)?;
        }
        let project: Project = diesel::insert_into(projects::table)
            .values((
                projects::org_id.eq(new.org.0),
                projects::workspace_id.eq(new.workspace.map(|w| w.0)),
                projects::name.eq(&name),
                projects::description.eq(&description),
                projects::visibility.eq(new.visibility.as_str()),
                projects::classification.eq(new.classification.as_str()),
                projects::start_date.eq(new.start_date),
                projects::due_date.eq(new.due_date),
                projects::created_by.eq(actor.uid()),
            ))
            .returning(Project::as_returning())
            .get_result(conn)?;
        upsert_member(conn, project.id, actor.uid(), ProjectRole::Manager)?;
        Ok(project)
    })
}

/// A partial update: `None` leaves a field as it is; `Some(None)` clears a date.
#[derive(Clone, Debug, Default)]
pub struct ProjectPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub status: Option<ProjectStatus>,
    pub visibility: Option<Visibility>,
    pub classification: Option<Classification>,
    pub workspace: Option<Option<WorkspaceId>>,
    pub start_date: Option<Option<NaiveDate>>,
    pub due_date: Option<Option<NaiveDate>>,
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = projects)]
struct ProjectChanges {
    name: Option<String>,
    description: Option<String>,
    status: Option<String>,
    visibility: Option<String>,
    classification: Option<String>,
    workspace_id: Option<Option<Uuid>>,
    start_date: Option<Option<NaiveDate>>,
    due_date: Option<Option<NaiveDate>>,
}

pub fn update(
    conn: &mut PgConnection,
    actor: &Actor,
    id: ProjectId,
    patch: ProjectPatch,
) -> DalResult<Project> {
    conn.transaction(|conn| {
        let project = authorize(
            conn,
            actor,
            id,
            Action::UpdateProject,
            "change this project",
        )?;
        need_to_know::lock_org(conn, OrgId(project.org_id))?;
        let changes = ProjectChanges {
            name: patch
                .name
                .as_deref()
                .map(|n| crust_domain::validate::name("name", n))
                .transpose()?,
            description: patch
                .description
                .as_deref()
                .map(|d| crust_domain::validate::description("description", d))
                .transpose()?,
            status: patch.status.map(|s| s.as_str().to_owned()),
            visibility: patch.visibility.map(|v| v.as_str().to_owned()),
            classification: patch.classification.map(|c| c.as_str().to_owned()),
            workspace_id: patch.workspace.map(|w| w.map(|w| w.0)),
            start_date: patch.start_date,
            due_date: patch.due_date,
        };
        crust_domain::schedule::dates(
            patch.start_date.unwrap_or(project.start_date),
            patch.due_date.unwrap_or(project.due_date),
            None,
        )?;
        if let Some(Some(ws)) = patch.workspace {
            check_workspace(conn, OrgId(project.org_id), ws)?;
        }
        if patch.classification == Some(Classification::Secret) {
            // Whoever marks a project SECRET stays on its access list.
            upsert_member(conn, project.id, actor.uid(), ProjectRole::Manager)?;
        }
        let updated = diesel::update(projects::table.find(id.0))
            .set((changes, projects::updated_at.eq(diesel::dsl::now)))
            .returning(Project::as_returning())
            .get_result(conn)?;
        // Making a project SECRET takes org admins' implied rights over its SECRET tasks.
        need_to_know::ensure_managed(conn, OrgId(project.org_id))?;
        Ok(updated)
    })
}

pub fn delete(conn: &mut PgConnection, actor: &Actor, id: ProjectId) -> DalResult<()> {
    conn.transaction(|conn| {
        authorize(
            conn,
            actor,
            id,
            Action::DeleteProject,
            "delete this project",
        )?;
        diesel::delete(projects::table.find(id.0)).execute(conn)?;
        Ok(())
    })
}

/// The project's members (its access list when SECRET), by name.
pub fn members(
    conn: &mut PgConnection,
    actor: &Actor,
    id: ProjectId,
    page: Page,
) -> DalResult<Paged<ProjectMember>> {
    let project = get(conn, actor, id)?;
    let total = project_members::table
        .filter(project_members::project_id.eq(project.id))
        .count()
        .get_result(conn)?;
    let rows: Vec<(User, String)> = project_members::table
        .inner_join(users::table)
        .filter(project_members::project_id.eq(project.id))
        .order((users::name, users::id))
        .offset(page.offset)
        .limit(page.limit)
        .select((User::as_select(), project_members::role))
        .load(conn)?;
    let items = rows
        .into_iter()
        .map(|(user, role)| ProjectMember {
            project_id: project.id,
            user,
            role: parse_project_role(&role),
        })
        .collect();
    Ok(Paged::new(items, total, page))
}

fn upsert_member(
    conn: &mut PgConnection,
    project: Uuid,
    user: Uuid,
    role: ProjectRole,
) -> DalResult<()> {
    diesel::insert_into(project_members::table)
        .values((
            project_members::project_id.eq(project),
            project_members::user_id.eq(user),
            project_members::role.eq(role.as_str()),
        ))
        .on_conflict((project_members::project_id, project_members::user_id))
        .do_update()
        .set(project_members::role.eq(role.as_str()))
        .execute(conn)?;
    Ok(())
}

/// Adds a member to the project, or changes the role of one who already is.
/// The user must belong to the project's organization (otherwise `NotFound`), and not
/// as a GUEST: guests work through task grants.
pub fn add_member(
    conn: &mut PgConnection,
    actor: &Actor,
    id: ProjectId,
    user: UserId,
    role: ProjectRole,
) -> DalResult<ProjectMember> {
    conn.transaction(|conn| {
        let project = authorize(
            conn,
            actor,
            id,
            Action::ManageProjectMembers,
            "manage this project's members",
        )?;
        let org_role =
            crate::orgs::role_of(conn, OrgId(project.org_id), user.0)?.ok_or(DalError::NotFound)?;
        if org_role == OrgRole::Guest {
            return Err(DalError::Invalid(
                "userId: guests cannot be project members; grant them access to single tasks"
                    .into(),
            ));
        }
        need_to_know::lock_org(conn, OrgId(project.org_id))?;
        upsert_member(conn, project.id, user.0, role)?;
        need_to_know::ensure_managed(conn, OrgId(project.org_id))?;
        let user = crate::users::by_id(conn, user)?;
        Ok(ProjectMember {
            project_id: project.id,
            user,
            role,
        })
    })
}

/// Removes a member (a member may remove themselves).
pub fn remove_member(
    conn: &mut PgConnection,
    actor: &Actor,
    id: ProjectId,
    user: UserId,
) -> DalResult<()> {
    conn.transaction(|conn| {
        let project = if user == actor.user_id {
            get(conn, actor, id)?
        } else {
            authorize(
                conn,
                actor,
                id,
                Action::ManageProjectMembers,
                "manage this project's members",
            )?
        };
        if member_role(conn, project.id, user.0)?.is_none() {
            return Err(DalError::NotFound);
        }
        need_to_know::lock_org(conn, OrgId(project.org_id))?;
        diesel::delete(project_members::table.find((project.id, user.0))).execute(conn)?;
        need_to_know::ensure_managed(conn, OrgId(project.org_id))
    })
}

/// Which of these projects are SECRET (for recording reads of need-to-know objects;
/// the caller has already been served them).
pub fn classified_secret(conn: &mut PgConnection, ids: &[Uuid]) -> DalResult<Vec<(Uuid, bool)>> {
    Ok(projects::table
        .filter(projects::id.eq_any(ids))
        .select((
            projects::id,
            projects::classification.eq(Classification::Secret.as_str()),
        ))
        .load(conn)?)
}
