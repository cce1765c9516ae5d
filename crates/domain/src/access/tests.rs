//! The access rules as tables. Each row is one situation; the last column holds one
//! letter per action, in the order of the table's `ACTIONS`: A = allow, F = forbidden,
//! N = not found (the actor may not know the object exists).

use super::*;
use crate::roles::{Classification, OrgRole, ProjectRole, TaskAccess, Visibility};

fn opt<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s == "-" {
        None
    } else {
        s.parse().ok()
    }
}

fn letter(d: Decision) -> char {
    match d {
        Decision::Allow => 'A',
        Decision::Forbidden => 'F',
        Decision::NotFound => 'N',
    }
}

const ORG_ACTIONS: [Action; 7] = [
    Action::ReadOrg,
    Action::ReadOrgDirectory,
    Action::CreateProject,
    Action::ManageOrg,
    Action::ManageOrgMembers,
    Action::ManageOrgOwners,
    Action::ReadAuditLog,
];

#[rustfmt::skip]
const ORG_TABLE: &[(&str, &str)] = &[
    ("-",      "NNNNNNN"),
    ("GUEST",  "AFFFFFF"),
    ("MEMBER", "AAAFFFF"),
    ("ADMIN",  "AAAAAFA"),
    ("OWNER",  "AAAAAAA"),
];

#[test]
fn organization_table() {
    for (role, expected) in ORG_TABLE {
        let facts = OrgFacts { role: opt(role) };
        let got: String = ORG_ACTIONS
            .iter()
            .map(|a| letter(decide(*a, Object::Org(facts))))
            .collect();
        assert_eq!(&got, expected, "org role {role}");
    }
}

const PROJECT_ACTIONS: [Action; 5] = [
    Action::ReadProject,
    Action::EditProjectStructure,
    Action::UpdateProject,
    Action::ManageProjectMembers,
    Action::DeleteProject,
];

/// (org role, project membership, visibility, classification, outcomes)
#[rustfmt::skip]
const PROJECT_TABLE: &[(&str, &str, &str, &str, &str)] = &[
    ("-", "-", "ORGANIZATION", "CONFIDENTIAL", "NNNNN"),
    ("-", "-", "ORGANIZATION", "SECRET", "NNNNN"),
    ("-", "-", "MEMBERS", "CONFIDENTIAL", "NNNNN"),
    ("-", "-", "MEMBERS", "SECRET", "NNNNN"),
    ("-", "VIEWER", "ORGANIZATION", "CONFIDENTIAL", "NNNNN"),
    ("-", "VIEWER", "ORGANIZATION", "SECRET", "NNNNN"),
    ("-", "VIEWER", "MEMBERS", "CONFIDENTIAL", "NNNNN"),
    ("-", "VIEWER", "MEMBERS", "SECRET", "NNNNN"),
    ("-", "EDITOR", "ORGANIZATION", "CONFIDENTIAL", "NNNNN"),
    ("-", "EDITOR", "ORGANIZATION", "SECRET", "NNNNN"),
    ("-", "EDITOR", "MEMBERS", "CONFIDENTIAL", "NNNNN"),
    ("-", "EDITOR", "MEMBERS", "SECRET", "NNNNN"),
    ("-", "MANAGER", "ORGANIZATION", "CONFIDENTIAL", "NNNNN"),
    ("-", "MANAGER", "ORGANIZATION", "SECRET", "NNNNN"),
    ("-", "MANAGER", "MEMBERS", "CONFIDENTIAL", "NNNNN"),
    ("-", "MANAGER", "MEMBERS", "SECRET", "NNNNN"),
    ("GUEST", "-", "ORGANIZATION", "CONFIDENTIAL", "NNNNN"),
    ("GUEST", "-", "ORGANIZATION", "SECRET", "NNNNN"),
    ("GUEST", "-", "MEMBERS", "CONFIDENTIAL", "NNNNN"),
    ("GUEST", "-", "MEMBERS", "SECRET", "NNNNN"),
    ("GUEST", "VIEWER", "ORGANIZATION", "CONFIDENTIAL", "NNNNN"),
    ("GUEST", "VIEWER", "ORGANIZATION", "SECRET", "NNNNN"),
    ("GUEST", "VIEWER", "MEMBERS", "CONFIDENTIAL", "NNNNN"),
    ("GUEST", "VIEWER", "MEMBERS", "SECRET", "NNNNN"),
    ("GUEST", "EDITOR", "ORGANIZATION", "CONFIDENTIAL", "NNNNN"),
    ("GUEST", "EDITOR", "ORGANIZATION", "SECRET", "NNNNN"),
    ("GUEST", "EDITOR", "MEMBERS", "CONFIDENTIAL", "NNNNN"),
    ("GUEST", "EDITOR", "MEMBERS", "SECRET", "NNNNN"),
    ("GUEST", "MANAGER", "ORGANIZATION", "CONFIDENTIAL", "NNNNN"),
    ("GUEST", "MANAGER", "ORGANIZATION", "SECRET", "NNNNN"),
    ("GUEST", "MANAGER", "MEMBERS", "CONFIDENTIAL", "NNNNN"),
    ("GUEST", "MANAGER", "MEMBERS", "SECRET", "NNNNN"),
    ("MEMBER", "-", "ORGANIZATION", "CONFIDENTIAL", "AFFFF"),
    ("MEMBER", "-", "ORGANIZATION", "SECRET", "NNNNN"),
    ("MEMBER", "-", "MEMBERS", "CONFIDENTIAL", "NNNNN"),
    ("MEMBER", "-", "MEMBERS", "SECRET", "NNNNN"),
    ("MEMBER", "VIEWER", "ORGANIZATION", "CONFIDENTIAL", "AFFFF"),
    ("MEMBER", "VIEWER", "ORGANIZATION", "SECRET", "AFFFF"),
    ("MEMBER", "VIEWER", "MEMBERS", "CONFIDENTIAL", "AFFFF"),
    ("MEMBER", "VIEWER", "MEMBERS", "SECRET", "AFFFF"),
    ("MEMBER", "EDITOR", "ORGANIZATION", "CONFIDENTIAL", "AAFFF"),
    ("MEMBER", "EDITOR", "ORGANIZATION", "SECRET", "AAFFF"),
    ("MEMBER", "EDITOR", "MEMBERS", "CONFIDENTIAL", "AAFFF"),
    ("MEMBER", "EDITOR", "MEMBERS", "SECRET", "AAFFF"),
    ("MEMBER", "MANAGER", "ORGANIZATION", "CONFIDENTIAL", "AAAAA"),
    ("MEMBER", "MANAGER", "ORGANIZATION", "SECRET", "AAAAA"),
    ("MEMBER", "MANAGER", "MEMBERS", "CONFIDENTIAL", "AAAAA"),
    ("MEMBER", "MANAGER", "MEMBERS", "SECRET", "AAAAA"),
    ("ADMIN", "-", "ORGANIZATION", "CONFIDENTIAL", "AAAAA"),
    ("ADMIN", "-", "ORGANIZATION", "SECRET", "NNNNN"),
    ("ADMIN", "-", "MEMBERS", "CONFIDENTIAL", "AAAAA"),
    ("ADMIN", "-", "MEMBERS", "SECRET", "NNNNN"),
    ("ADMIN", "VIEWER", "ORGANIZATION", "CONFIDENTIAL", "AAAAA"),
    ("ADMIN", "VIEWER", "ORGANIZATION", "SECRET", "AFFFF"),
    ("ADMIN", "VIEWER", "MEMBERS", "CONFIDENTIAL", "AAAAA"),
    ("ADMIN", "VIEWER", "MEMBERS", "SECRET", "AFFFF"),
    ("ADMIN", "EDITOR", "ORGANIZATION", "CONFIDENTIAL", "AAAAA"),
    ("ADMIN", "EDITOR", "ORGANIZATION", "SECRET", "AAFFF"),
    ("ADMIN", "EDITOR", "MEMBERS", "CONFIDENTIAL", "AAAAA"),
    ("ADMIN", "EDITOR", "MEMBERS", "SECRET", "AAFFF"),
    ("ADMIN", "MANAGER", "ORGANIZATION", "CONFIDENTIAL", "AAAAA"),
    ("ADMIN", "MANAGER", "ORGANIZATION", "SECRET", "AAAAA"),
    ("ADMIN", "MANAGER", "MEMBERS", "CONFIDENTIAL", "AAAAA"),
    ("ADMIN", "MANAGER", "MEMBERS", "SECRET", "AAAAA"),
    ("OWNER", "-", "ORGANIZATION", "CONFIDENTIAL", "AAAAA"),
    ("OWNER", "-", "ORGANIZATION", "SECRET", "NNNNN"),
    ("OWNER", "-", "MEMBERS", "CONFIDENTIAL", "AAAAA"),
    ("OWNER", "-", "MEMBERS", "SECRET", "NNNNN"),
    ("OWNER", "VIEWER", "ORGANIZATION", "CONFIDENTIAL", "AAAAA"),
    ("OWNER", "VIEWER", "ORGANIZATION", "SECRET", "AFFFF"),
    ("OWNER", "VIEWER", "MEMBERS", "CONFIDENTIAL", "AAAAA"),
    ("OWNER", "VIEWER", "MEMBERS", "SECRET", "AFFFF"),
    ("OWNER", "EDITOR", "ORGANIZATION", "CONFIDENTIAL", "AAAAA"),
    ("OWNER", "EDITOR", "ORGANIZATION", "SECRET", "AAFFF"),
    ("OWNER", "EDITOR", "MEMBERS", "CONFIDENTIAL", "AAAAA"),
    ("OWNER", "EDITOR", "MEMBERS", "SECRET", "AAFFF"),
    ("OWNER", "MANAGER", "ORGANIZATION", "CONFIDENTIAL", "AAAAA"),
    ("OWNER", "MANAGER", "ORGANIZATION", "SECRET", "AAAAA"),
    ("OWNER", "MANAGER", "MEMBERS", "CONFIDENTIAL", "AAAAA"),
    ("OWNER", "MANAGER", "MEMBERS", "SECRET", "AAAAA"),];

fn project_facts(org: &str, member: &str, vis: &str, class: &str) -> ProjectFacts {
    ProjectFacts {
        org_role: opt::<OrgRole>(org),
        member_role: opt::<ProjectRole>(member),
        visibility: vis.parse::<Visibility>().unwrap_or(Visibility::Members),
        classification: class
            .parse::<Classification>()
            .unwrap_or(Classification::Secret),
    }
}

#[test]
fn project_table_is_complete_and_holds() {
    // 5 org roles (incl. none) × 4 memberships × 2 visibilities × 2 classifications.
    assert_eq!(PROJECT_TABLE.len(), 80);
    for (org, member, vis, class, expected) in PROJECT_TABLE {
        let facts = project_facts(org, member, vis, class);
        let got: String = PROJECT_ACTIONS
            .iter()
            .map(|a| letter(decide(*a, Object::Project(facts))))
            .collect();
        assert_eq!(&got, expected, "org {org}, member {member}, {vis}, {class}");
    }
}

const TASK_ACTIONS: [Action; 5] = [
    Action::ReadTask,
    Action::UpdateTaskProgress,
    Action::UpdateTask,
    Action::DeleteTask,
    Action::ManageTaskAccess,
];

/// (task classification, task grant, effective project role, outcomes)
#[rustfmt::skip]
const TASK_TABLE: &[(&str, &str, &str, &str)] = &[
    ("CONFIDENTIAL", "-", "-", "NNNNN"),
    ("CONFIDENTIAL", "-", "VIEWER", "AFFFF"),
    ("CONFIDENTIAL", "-", "EDITOR", "AAAAF"),
    ("CONFIDENTIAL", "-", "MANAGER", "AAAAA"),
    ("CONFIDENTIAL", "VIEW", "-", "AFFFF"),
    ("CONFIDENTIAL", "VIEW", "VIEWER", "AFFFF"),
    ("CONFIDENTIAL", "VIEW", "EDITOR", "AAAAF"),
    ("CONFIDENTIAL", "VIEW", "MANAGER", "AAAAA"),
    ("CONFIDENTIAL", "EDIT", "-", "AAFFF"),
    ("CONFIDENTIAL", "EDIT", "VIEWER", "AAFFF"),
    ("CONFIDENTIAL", "EDIT", "EDITOR", "AAAAF"),
    ("CONFIDENTIAL", "EDIT", "MANAGER", "AAAAA"),
    ("SECRET", "-", "-", "NNNNN"),
    ("SECRET", "-", "VIEWER", "NNNNN"),
    ("SECRET", "-", "EDITOR", "NNNNN"),
    ("SECRET", "-", "MANAGER", "NNNNN"),
    ("SECRET", "VIEW", "-", "AFFFF"),
    ("SECRET", "VIEW", "VIEWER", "AFFFF"),
    ("SECRET", "VIEW", "EDITOR", "AAAAF"),
    ("SECRET", "VIEW", "MANAGER", "AAAAA"),
    ("SECRET", "EDIT", "-", "AAFFF"),
    ("SECRET", "EDIT", "VIEWER", "AAFFF"),
    ("SECRET", "EDIT", "EDITOR", "AAAAF"),
    ("SECRET", "EDIT", "MANAGER", "AAAAA"),];

/// Project facts that yield the wanted effective role for an org MEMBER on a
/// members-only project (or no role at all).
fn member_with(role: Option<ProjectRole>) -> ProjectFacts {
    ProjectFacts {
        org_role: Some(OrgRole::Member),
        member_role: role,
        visibility: Visibility::Members,
        classification: Classification::Confidential,
    }
}

#[test]
fn task_table_is_complete_and_holds() {
    assert_eq!(TASK_TABLE.len(), 24);
    for (class, grant, role, expected) in TASK_TABLE {
        let project = member_with(opt(role));
        assert_eq!(effective_project_role(project), opt(role));
        let facts = TaskFacts {
            project,
            grant: opt::<TaskAccess>(grant),
            classification: class.parse().unwrap_or(Classification::Secret),
        };
        let got: String = TASK_ACTIONS
            .iter()
            .map(|a| letter(decide(*a, Object::Task(facts))))
            .collect();
        assert_eq!(
            &got, expected,
            "{class} task, grant {grant}, project role {role}"
        );
    }
}

#[test]
fn org_owner_does_not_see_secret_task_without_grant() {
    let project = ProjectFacts {
        org_role: Some(OrgRole::Owner),
        member_role: None,
        visibility: Visibility::Organization,
        classification: Classification::Confidential,
    };
    let secret = TaskFacts {
        project,
        grant: None,
        classification: Classification::Secret,
    };
    assert_eq!(
        decide(Action::ReadTask, Object::Task(secret)),
        Decision::NotFound
    );
    let listed = TaskFacts {
        grant: Some(TaskAccess::View),
        ..secret
    };
    // Listed and org owner (so project MANAGER): may manage the task's list.
    assert_eq!(
        decide(Action::ManageTaskAccess, Object::Task(listed)),
        Decision::Allow
    );
}

#[test]
fn a_grant_never_reaches_across_tenants() {
    let project = ProjectFacts {
        org_role: None,
        ..member_with(Some(ProjectRole::Manager))
    };
    let facts = TaskFacts {
        project,
        grant: Some(TaskAccess::Edit),
        classification: Classification::Confidential,
    };
    for action in TASK_ACTIONS {
        assert_eq!(decide(action, Object::Task(facts)), Decision::NotFound);
    }
}

#[test]
fn guest_works_only_through_grants() {
    let project = ProjectFacts {
        org_role: Some(OrgRole::Guest),
        member_role: Some(ProjectRole::Manager),
        visibility: Visibility::Organization,
        classification: Classification::Confidential,
    };
    assert_eq!(
        decide(Action::ReadProject, Object::Project(project)),
        Decision::NotFound
    );
    let granted = TaskFacts {
        project,
        grant: Some(TaskAccess::Edit),
        classification: Classification::Confidential,
    };
    assert_eq!(
        decide(Action::UpdateTaskProgress, Object::Task(granted)),
        Decision::Allow
    );
    assert_eq!(
        decide(Action::UpdateTask, Object::Task(granted)),
        Decision::Forbidden
    );
}

#[test]
fn only_managers_create_secret_tasks() {
    for (role, expected) in [
        (ProjectRole::Viewer, Decision::Forbidden),
        (ProjectRole::Editor, Decision::Forbidden),
        (ProjectRole::Manager, Decision::Allow),
    ] {
        let facts = member_with(Some(role));
        assert_eq!(
            decide(Action::CreateSecretTask, Object::Project(facts)),
            expected,
            "{role}"
        );
    }
}

#[test]
fn actions_of_another_layer_are_forbidden() {
    let org = OrgFacts {
        role: Some(OrgRole::Owner),
    };
    assert_eq!(
        decide(Action::ReadTask, Object::Org(org)),
        Decision::Forbidden
    );
    let project = member_with(Some(ProjectRole::Manager));
    assert_eq!(
        decide(Action::ManageOrg, Object::Project(project)),
        Decision::Forbidden
    );
}
