//! The access decision: may this actor do this action on this object?
//!
//! [`decide`] is the one pure function every layer trusts. The DAL gathers the facts
//! (the actor's org role, project role, task grant and the object's visibility and
//! classification) and asks; its SQL visibility filters implement the `NotFound`
//! half of the same rules so hidden rows never leave PostgreSQL. The tables in the
//! tests below are the specification.
//!
//! Outcomes: `NotFound` when the actor may not even know the object exists (another
//! tenant, a project they cannot read, a SECRET item they are not listed on);
//! `Forbidden` when they can see it but not do this; `Allow` otherwise.

use crate::roles::{Classification, OrgRole, ProjectRole, TaskAccess, Visibility};

/// What the actor is and has in one organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrgFacts {
    /// The actor's role in the organization; `None` when not a member.
    pub role: Option<OrgRole>,
}

/// What the actor is and has on one project, and what the project is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProjectFacts {
    pub org_role: Option<OrgRole>,
    /// Explicit project membership. For a SECRET project, membership *is* its access list.
    pub member_role: Option<ProjectRole>,
    pub visibility: Visibility,
    pub classification: Classification,
}

/// What the actor is and has on one task, and what the task is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskFacts {
    pub project: ProjectFacts,
    /// A task-level grant. For a SECRET task, grants *are* its access list.
    pub grant: Option<TaskAccess>,
    pub classification: Classification,
}

/// The object an action is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Object {
    Org(OrgFacts),
    Project(ProjectFacts),
    Task(TaskFacts),
}

/// Everything the API can ask permission for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// See that the organization exists (id, name, own role). Any member, guests too.
    ReadOrg,
    /// List members and workspaces.
    ReadOrgDirectory,
    /// Rename the organization, manage workspaces.
    ManageOrg,
    /// Add, change and remove ADMIN / MEMBER / GUEST members.
    ManageOrgMembers,
    /// Grant, change or take away the OWNER role.
    ManageOrgOwners,
    /// Read the organization's audit log.
    ReadAuditLog,
    /// Create a project in the organization.
    CreateProject,
    ReadProject,
    /// Create and change slices, boxes and tasks of the project.
    EditProjectStructure,
    /// Change the project's own fields (name, status, visibility, classification …).
    UpdateProject,
    ManageProjectMembers,
    DeleteProject,
    /// Create a task that starts SECRET: its creator must be able to manage its list.
    CreateSecretTask,
    ReadTask,
    /// Change a task's status and progress (what an EDIT grant allows).
    UpdateTaskProgress,
    /// Change everything else on a task (title, description, dates, assignees).
    UpdateTask,
    DeleteTask,
    /// Grant and revoke task access (for a SECRET task: manage its access list).
    ManageTaskAccess,
}

/// The answer of [`decide`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Forbidden,
    NotFound,
}

impl Decision {
    pub fn is_allowed(self) -> bool {
        self == Decision::Allow
    }
}

/// May the actor described by `object`'s facts perform `action` on it?
///
/// An action that does not apply to the kind of object given is `Forbidden`.
pub fn decide(action: Action, object: Object) -> Decision {
    match object {
        Object::Org(org) => decide_org(action, org),
        Object::Project(project) => decide_project(action, project),
        Object::Task(task) => decide_task(action, task),
    }
}

fn decide_org(action: Action, org: OrgFacts) -> Decision {
    let Some(role) = org.role else {
        return Decision::NotFound;
    };
    let needed = match action {
        Action::ReadOrg => OrgRole::Guest,
        Action::ReadOrgDirectory | Action::CreateProject => OrgRole::Member,
        Action::ManageOrg | Action::ManageOrgMembers | Action::ReadAuditLog => OrgRole::Admin,
        Action::ManageOrgOwners => OrgRole::Owner,
        _ => return Decision::Forbidden,
    };
    allow_if(role >= needed)
}

/// The role the actor effectively holds on a project, or `None` when it is hidden.
///
/// Guests never act through projects (only through task grants). On a SECRET project
/// only explicit members (its access list) count, whatever their org role. Otherwise
/// org OWNER/ADMIN act as MANAGER, members keep their project role, and any org MEMBER
/// reads an ORGANIZATION-visible project.
pub fn effective_project_role(p: ProjectFacts) -> Option<ProjectRole> {
    let org_role = p.org_role?;
    if org_role == OrgRole::Guest {
        return None;
    }
    if p.classification == Classification::Secret {
        return p.member_role;
    }
    if org_role >= OrgRole::Admin {
        return Some(ProjectRole::Manager);
    }
    match (p.member_role, p.visibility) {
        (Some(role), _) => Some(role),
        (None, Visibility::Organization) => Some(ProjectRole::Viewer),
        (None, Visibility::Members) => None,
    }
}

fn decide_project(action: Action, p: ProjectFacts) -> Decision {
    let Some(role) = effective_project_role(p) else {
        return Decision::NotFound;
    };
    let needed = match action {
        Action::ReadProject => ProjectRole::Viewer,
        Action::EditProjectStructure => ProjectRole::Editor,
        Action::UpdateProject
        | Action::ManageProjectMembers
        | Action::DeleteProject
        | Action::CreateSecretTask => ProjectRole::Manager,
        _ => return Decision::Forbidden,
    };
    allow_if(role >= needed)
}

/// What the actor may do to a task, in increasing order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum TaskLevel {
    Read,
    Progress,
    Edit,
    Manage,
}

fn task_level(t: TaskFacts) -> Option<TaskLevel> {
    t.project.org_role?;
    let from_grant = t.grant.map(|g| match g {
        TaskAccess::View => TaskLevel::Read,
        TaskAccess::Edit => TaskLevel::Progress,
    });
    // A SECRET task is invisible to anyone not on its list, project managers included.
    if t.classification == Classification::Secret && t.grant.is_none() {
        return None;
    }
    let from_role = effective_project_role(t.project).map(|r| match r {
        ProjectRole::Viewer => TaskLevel::Read,
        ProjectRole::Editor => TaskLevel::Edit,
        ProjectRole::Manager => TaskLevel::Manage,
    });
    from_grant.max(from_role)
}

fn decide_task(action: Action, t: TaskFacts) -> Decision {
    let Some(level) = task_level(t) else {
        return Decision::NotFound;
    };
    let needed = match action {
        Action::ReadTask => TaskLevel::Read,
        Action::UpdateTaskProgress => TaskLevel::Progress,
        Action::UpdateTask | Action::DeleteTask => TaskLevel::Edit,
        Action::ManageTaskAccess => TaskLevel::Manage,
        _ => return Decision::Forbidden,
    };
    allow_if(level >= needed)
}

fn allow_if(ok: bool) -> Decision {
    if ok {
        Decision::Allow
    } else {
        Decision::Forbidden
    }
}

#[cfg(test)]
mod tests;
