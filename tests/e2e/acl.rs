//! Every role × action pair of PRODUCT.md's access table, sent over GraphQL.
//!
//! One organization holds a user for each situation. Each table row names a target
//! and, per role, one letter per action: A = allowed, F = FORBIDDEN, N = NOT_FOUND
//! (the object is hidden). Destructive actions run on a fresh copy of the target.
//!
//! A test file over 400 lines: the role × action tables are long by nature.

use crust_e2e::{error_code, Session, TestApp};
use serde_json::{json, Value};

struct World {
    app: TestApp,
    org: String,
    /// owner, admin, member, viewer, editor, manager, guest, outsider
    users: Vec<(&'static str, Session)>,
    /// An org member none of the rows test: the object of membership and grant actions.
    bystander: Session,
}

const ROLES: [&str; 8] = [
    "owner", "admin", "member", "viewer", "editor", "manager", "guest", "outsider",
];

impl World {
    fn user(&self, role: &str) -> &Session {
        &self.users.iter().find(|(r, _)| *r == role).unwrap().1
    }
}

async fn world() -> World {
    let app = TestApp::start().await;
    let mut users = Vec::new();
    for role in ROLES {
        users.push((role, app.user(role).await));
    }
    let bystander = app.user("bystander").await;
    let owner = users[0].1.clone();
    let org = app.create_org(&owner, "ACL").await;
    for (role, org_role) in [
        ("admin", "ADMIN"),
        ("member", "MEMBER"),
        ("viewer", "MEMBER"),
        ("editor", "MEMBER"),
        ("manager", "MEMBER"),
        ("guest", "GUEST"),
    ] {
        let who = users.iter().find(|(r, _)| *r == role).unwrap().1.clone();
        app.add_org_member(&owner, &org, &who, org_role).await;
    }
    app.add_org_member(&owner, &org, &bystander, "MEMBER").await;
    let outsider = users
        .iter()
        .find(|(r, _)| *r == "outsider")
        .unwrap()
        .1
        .clone();
    app.create_org(&outsider, "Elsewhere").await;
    World {
        app,
        org,
        users,
        bystander,
    }
}

/// Project kinds of the table. SECRET projects are created by `manager` (so the org
/// owner is not on the list); the others by the org owner.
async fn project(w: &World, kind: &str) -> String {
    let (vis, class) = match kind {
        "ORG" => ("ORGANIZATION", "CONFIDENTIAL"),
        "MEMBERS" => ("MEMBERS", "CONFIDENTIAL"),
        _ => ("ORGANIZATION", "SECRET"),
    };
    let creator = if class == "SECRET" {
        w.user("manager")
    } else {
        w.user("owner")
    };
    let p = w.app.create_project(creator, &w.org, vis, class).await;
    for (role, project_role) in [
        ("viewer", "VIEWER"),
        ("editor", "EDITOR"),
        ("manager", "MANAGER"),
    ] {
        if !(class == "SECRET" && role == "manager") {
            w.app
                .add_project_member(creator, &p, w.user(role), project_role)
                .await;
        }
    }
    p
}

/// Task kinds: a normal task in each project kind (granted EDIT to the guest in the
/// ORG project), and a SECRET task in the ORG project listing only the manager and
/// (VIEW) the guest.
async fn task(w: &World, kind: &str) -> String {
    let (project_kind, class) = match kind {
        "ORG_SECRET" => ("ORG", "SECRET"),
        other => (other, "CONFIDENTIAL"),
    };
    let p = project(w, project_kind).await;
    let creator = if class == "SECRET" || project_kind == "SECRET" {
        w.user("manager")
    } else {
        w.user("owner")
    };
    let t = w.app.create_task(creator, &p, None, class).await;
    match kind {
        "ORG" => w.app.grant(creator, &t, w.user("guest"), "EDIT").await,
        "ORG_SECRET" => w.app.grant(creator, &t, w.user("guest"), "VIEW").await,
        _ => {}
    }
    t
}

fn outcome(body: &Value) -> char {
    match error_code(body) {
        None => 'A',
        Some("FORBIDDEN") => 'F',
        Some("NOT_FOUND") => 'N',
        Some(other) => panic!("unexpected code {other}: {body}"),
    }
}

async fn run(w: &World, who: &Session, query: &str, vars: Value) -> char {
    outcome(&w.app.gql(Some(&who.access), query, vars).await)
}

async fn project_action(w: &World, who: &Session, action: usize, p: &str) -> char {
    let q = match action {
        0 => "query($p: ID!) { project(id: $p) { id name slices { totalCount } tasks { totalCount } members { totalCount } } }",
        1 => "mutation($p: ID!) { createSlice(input: {projectId: $p, name: \"S\"}) { slice { id } } }",
        2 => "mutation($p: ID!) { updateProject(input: {projectId: $p, description: \"changed\"}) { project { id } } }",
        3 => "mutation($p: ID!, $u: ID!) { addProjectMember(input: {projectId: $p, userId: $u, role: VIEWER}) { member { role } } }",
        _ => "mutation($p: ID!) { deleteProject(input: {projectId: $p}) { deletedProjectId } }",
    };
    run(w, who, q, json!({ "p": p, "u": w.bystander.id })).await
}

async fn task_action(w: &World, who: &Session, action: usize, t: &str) -> char {
    let q = match action {
        0 => "query($t: ID!) { task(id: $t) { id title assignees { id } } }",
        1 => "mutation($t: ID!) { updateTask(input: {taskId: $t, progress: 50}) { task { progress } } }",
        2 => "mutation($t: ID!) { updateTask(input: {taskId: $t, title: \"Renamed\"}) { task { title } } }",
        3 => "mutation($t: ID!) { deleteTask(input: {taskId: $t}) { deletedTaskId } }",
        _ => "mutation($t: ID!, $u: ID!) { grantTaskAccess(input: {taskId: $t, userId: $u, access: VIEW}) { grant { access } } }",
    };
    run(w, who, q, json!({ "t": t, "u": w.bystander.id })).await
}

/// (project kind, per role: read, edit structure, update, manage members, delete)
#[rustfmt::skip]
const PROJECT_TABLE: &[(&str, [&str; 8])] = &[
    //           owner    admin    member   viewer   editor   manager  guest    outsider
    ("ORG",     ["AAAAA", "AAAAA", "AFFFF", "AFFFF", "AAFFF", "AAAAA", "NNNNN", "NNNNN"]),
    ("MEMBERS", ["AAAAA", "AAAAA", "NNNNN", "AFFFF", "AAFFF", "AAAAA", "NNNNN", "NNNNN"]),
    ("SECRET",  ["NNNNN", "NNNNN", "NNNNN", "AFFFF", "AAFFF", "AAAAA", "NNNNN", "NNNNN"]),
];

/// (task kind, per role: read, update progress, update, delete, manage access)
#[rustfmt::skip]
const TASK_TABLE: &[(&str, [&str; 8])] = &[
    //              owner    admin    member   viewer   editor   manager  guest    outsider
    ("ORG",        ["AAAAA", "AAAAA", "AFFFF", "AFFFF", "AAAAF", "AAAAA", "AAFFF", "NNNNN"]),
    ("MEMBERS",    ["AAAAA", "AAAAA", "NNNNN", "AFFFF", "AAAAF", "AAAAA", "NNNNN", "NNNNN"]),
    ("SECRET",     ["NNNNN", "NNNNN", "NNNNN", "AFFFF", "AAAAF", "AAAAA", "NNNNN", "NNNNN"]),
    ("ORG_SECRET", ["NNNNN", "NNNNN", "NNNNN", "NNNNN", "NNNNN", "AAAAA", "AFFFF", "NNNNN"]),
];

#[tokio::test]
async fn project_role_action_table() {
    let w = world().await;
    let mut failures = Vec::new();
    for (kind, row) in PROJECT_TABLE {
        let shared = project(&w, kind).await;
        for (role, expected) in ROLES.iter().zip(row) {
            let mut got = String::new();
            for action in 0..5 {
                // Deleting needs its own copy, or the first success hides it from the rest.
                let target = if action == 4 {
                    project(&w, kind).await
                } else {
                    shared.clone()
                };
                got.push(project_action(&w, w.user(role), action, &target).await);
            }
            if got != *expected {
                failures.push(format!(
                    "{kind} project, {role}: expected {expected}, got {got}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn task_role_action_table() {
    let w = world().await;
    let mut failures = Vec::new();
    for (kind, row) in TASK_TABLE {
        let shared = task(&w, kind).await;
        for (role, expected) in ROLES.iter().zip(row) {
            let mut got = String::new();
            for action in 0..5 {
                let target = if action == 3 {
                    task(&w, kind).await
                } else {
                    shared.clone()
                };
                got.push(task_action(&w, w.user(role), action, &target).await);
            }
            if got != *expected {
                failures.push(format!(
                    "{kind} task, {role}: expected {expected}, got {got}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Per role: read org, read members, create project, manage (workspace), invite a
/// member, make someone OWNER.
#[rustfmt::skip]
const ORG_TABLE: &[(&str, &str)] = &[
    ("owner", "AAAAAA"), ("admin", "AAAAAF"), ("member", "AAAFFF"), ("viewer", "AAAFFF"),
    ("editor", "AAAFFF"), ("manager", "AAAFFF"), ("guest", "AFFFFF"), ("outsider", "NNNNNN"),
];

#[tokio::test]
async fn organization_role_action_table() {
    let w = world().await;
    let mut failures = Vec::new();
    for (i, (role, expected)) in ORG_TABLE.iter().enumerate() {
        let who = w.user(role);
        // Fresh accounts to add (and to promote) so each allowed call has its own target.
        let newcomer = w.app.user("newcomer").await;
        let promotee = w.app.user("promotee").await;
        w.app
            .add_org_member(w.user("owner"), &w.org, &promotee, "MEMBER")
            .await;
        let o = json!({ "o": w.org });
        let mut got = String::new();
        got.push(
            run(
                &w,
                who,
                "query($o: ID!) { organization(id: $o) { id name viewerRole } }",
                o.clone(),
            )
            .await,
        );
        got.push(
            run(
                &w,
                who,
                "query($o: ID!) { organization(id: $o) { members { totalCount } } }",
                o.clone(),
            )
            .await,
        );
        got.push(run(&w, who, "mutation($o: ID!) { createProject(input: {organizationId: $o, name: \"P\"}) { project { id } } }", o.clone()).await);
        got.push(run(&w, who, "mutation($o: ID!, $n: String!) { createWorkspace(input: {organizationId: $o, name: $n}) { workspace { id } } }",
            json!({ "o": w.org, "n": format!("WS {i}") })).await);
        got.push(run(&w, who, "mutation($o: ID!, $e: String!) { inviteToOrganization(input: {organizationId: $o, email: $e, role: MEMBER}) { email } }",
            json!({ "o": w.org, "e": newcomer.email })).await);
        got.push(run(&w, who, "mutation($o: ID!, $u: ID!) { updateOrganizationMember(input: {organizationId: $o, userId: $u, role: OWNER}) { member { role } } }",
            json!({ "o": w.org, "u": promotee.id })).await);
        if got != *expected {
            failures.push(format!("{role}: expected {expected}, got {got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn secret_items_are_left_out_of_lists_and_counts() {
    let w = world().await;
    let org_project = project(&w, "ORG").await;
    project(&w, "SECRET").await;
    w.app
        .create_task(w.user("owner"), &org_project, None, "CONFIDENTIAL")
        .await;
    let secret_task = w
        .app
        .create_task(w.user("manager"), &org_project, None, "SECRET")
        .await;
    let query = |who: Session| {
        let (org, project) = (w.org.clone(), org_project.clone());
        let app = &w.app;
        async move {
            app.ok(
            &who,
            "query($o: ID!, $p: ID!) { projects(organizationId: $o) { totalCount nodes { classification } } project(id: $p) { tasks { totalCount nodes { id } } } }",
            json!({ "o": org, "p": project }),
        ).await
        }
    };
    let owner = query(w.user("owner").clone()).await;
    assert_eq!(
        owner["projects"]["totalCount"], 1,
        "the org owner is not on the SECRET project's list"
    );
    assert_eq!(
        owner["project"]["tasks"]["totalCount"], 1,
        "nor on the SECRET task's"
    );
    let manager = query(w.user("manager").clone()).await;
    assert_eq!(manager["projects"]["totalCount"], 2);
    assert_eq!(manager["project"]["tasks"]["totalCount"], 2);
    assert!(manager["project"]["tasks"]["nodes"]
        .to_string()
        .contains(&secret_task));
}

#[tokio::test]
async fn a_guest_sees_only_the_granted_task() {
    let w = world().await;
    let t = task(&w, "ORG").await;
    let guest = w.user("guest");
    let body = w
        .app
        .ok(
            guest,
            "query($t: ID!) { task(id: $t) { id project { id } } }",
            json!({ "t": t }),
        )
        .await;
    assert_eq!(body["task"]["id"], t.as_str());
    assert!(
        body["task"]["project"].is_null(),
        "the project itself stays hidden"
    );
    let lists = w.app.ok(guest, "query($o: ID!) { projects(organizationId: $o) { totalCount } organization(id: $o) { name } }", json!({ "o": w.org })).await;
    assert_eq!(lists["projects"]["totalCount"], 0);
    let body = w
        .app
        .gql(
            Some(&guest.access),
            "query($o: ID!) { workspaces(organizationId: $o) { totalCount } }",
            json!({ "o": w.org }),
        )
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"));
}

#[tokio::test]
async fn making_a_project_secret_keeps_the_marker_on_its_list() {
    let w = world().await;
    // An org admin marks an ORG project SECRET: they stay on its access list, while
    // the org owner (not a member) loses sight of it.
    let p = project(&w, "ORG").await;
    let admin = w.user("admin");
    w.app.ok(admin, "mutation($p: ID!) { updateProject(input: {projectId: $p, classification: SECRET}) { project { id } } }", json!({ "p": p })).await;
    let seen = w
        .app
        .ok(
            admin,
            "query($p: ID!) { project(id: $p) { members { nodes { role user { id } } } } }",
            json!({ "p": p }),
        )
        .await;
    assert!(seen.to_string().contains(&admin.id));
    let body = w
        .app
        .gql(
            Some(&w.user("owner").access),
            "query($p: ID!) { project(id: $p) { id } }",
            json!({ "p": p }),
        )
        .await;
    // The org owner created it and so is still a MANAGER member: visible.
    assert_eq!(error_code(&body), None);
    let member = w
        .app
        .gql(
            Some(&w.user("member").access),
            "query($p: ID!) { project(id: $p) { id } }",
            json!({ "p": p }),
        )
        .await;
    assert_eq!(error_code(&member), Some("NOT_FOUND"));
}

#[tokio::test]
async fn grants_lists_are_visible_only_to_those_who_manage_them() {
    let w = world().await;
    let t = task(&w, "ORG").await;
    let q = "query($t: ID!) { task(id: $t) { grants { access user { id } } } }";
    let manager = w.app.ok(w.user("manager"), q, json!({ "t": t })).await;
    assert_eq!(manager["task"]["grants"][0]["access"], "EDIT");
    for role in ["viewer", "editor", "guest"] {
        let body = w
            .app
            .gql(Some(&w.user(role).access), q, json!({ "t": t }))
            .await;
        assert_eq!(error_code(&body), Some("FORBIDDEN"), "{role}");
    }
}

/// Per role, on an ORGANIZATION project with a board whose task T the guest holds an
/// EDIT grant on: save as recipe, project from recipe, move T, update a box, finish
/// the sprint, link T2 → T, shift T's dates, sequence the box, comment on T, delete
/// someone else's comment on T, create a recipe, move a box, move a slice, unlink
/// T2 → T.
#[rustfmt::skip]
const PIE_TABLE: &[(&str, &str)] = &[
    ("owner",   "AAAAAAAAAAAAAA"),
    ("admin",   "AAAAAAAAAAAAAA"),
    ("member",  "FAFFFFFFAFAFFF"),
    ("viewer",  "FAFFFFFFAFAFFF"),
    ("editor",  "AAAAAAAAAFAAAA"),
    ("manager", "AAAAAAAAAAAAAA"),
    ("guest",   "NNFNNNFNAFFNNN"),
    ("outsider","NNNNNNNNNNNNNN"),
];

#[tokio::test]
async fn pie_role_action_table() {
    let w = world().await;
    let owner = w.user("owner").clone();
    let p = project(&w, "ORG").await;
    let board = w.app.create_slice(&owner, &p, "Board").await;
    let todo = w
        .app
        .ok(&owner, "mutation($s: ID!) { createBox(input: {sliceId: $s, name: \"To do\", boardColumn: true}) { box { id } } }", json!({ "s": board }))
        .await["createBox"]["box"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    w.app
        .ok(&owner, "mutation($s: ID!) { createBox(input: {sliceId: $s, name: \"Done\", doneColumn: true}) { box { id } } }", json!({ "s": board }))
        .await;
    let t = w
        .app
        .create_task(&owner, &p, Some(&todo), "CONFIDENTIAL")
        .await;
    let t2 = w
        .app
        .create_task(&owner, &p, Some(&todo), "CONFIDENTIAL")
        .await;
    w.app.grant(&owner, &t, w.user("guest"), "EDIT").await;
    let recipe = w
        .app
        .ok(&owner, "mutation($o: ID!) { createRecipe(input: {organizationId: $o, name: \"R\"}) { recipe { id } } }", json!({ "o": w.org }))
        .await["createRecipe"]["recipe"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut failures = Vec::new();
    for (role, expected) in PIE_TABLE {
        let who = w.user(role);
        // Someone else's comment for this row's delete attempt.
        let comment = w
            .app
            .ok(&w.bystander, "mutation($t: ID!) { addComment(input: {taskId: $t, body: \"x\"}) { comment { id } } }", json!({ "t": t }))
            .await;
        let comment = comment["addComment"]["comment"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let v = json!({ "p": p, "t": t, "t2": t2, "b": todo, "s": board, "o": w.org, "r": recipe, "c": comment });
        let mut got = String::new();
        for q in [
            "mutation($p: ID!) { saveProjectAsRecipe(input: {projectId: $p, name: \"Copy\"}) { recipe { id } } }",
            "mutation($r: ID!) { createProjectFromRecipe(input: {recipeId: $r, name: \"New\", startDate: \"2027-01-04\"}) { project { id } } }",
            "mutation($t: ID!, $b: ID!) { moveTask(input: {taskId: $t, boxId: $b, position: 0}) { task { id } } }",
            "mutation($b: ID!) { updateBox(input: {boxId: $b, name: \"To do\"}) { box { id } } }",
            "mutation($b: ID!) { finishSprint(input: {boxId: $b}) { movedTaskCount } }",
            "mutation($t: ID!, $t2: ID!) { addTaskDependency(input: {taskId: $t2, dependsOnTaskId: $t}) { task { id } } }",
            "mutation($t: ID!) { shiftDates(input: {taskId: $t, days: 1}) { tasks { id } } }",
            "mutation($b: ID!) { sequenceBox(input: {boxId: $b}) { linkCount } }",
            "mutation($t: ID!) { addComment(input: {taskId: $t, body: \"hello\"}) { comment { id } } }",
            "mutation($c: ID!) { deleteComment(input: {commentId: $c}) { deletedCommentId } }",
            "mutation($o: ID!) { createRecipe(input: {organizationId: $o, name: \"Mine\"}) { recipe { id } } }",
            "mutation($b: ID!, $s: ID!) { moveBox(input: {boxId: $b, sliceId: $s, position: 0}) { box { id } } }",
            "mutation($s: ID!) { moveSlice(input: {sliceId: $s, position: 0}) { slice { id } } }",
            "mutation($t: ID!, $t2: ID!) { removeTaskDependency(input: {taskId: $t2, dependsOnTaskId: $t}) { task { id } } }",
        ] {
            got.push(run(&w, who, q, v.clone()).await);
        }
        if got != *expected {
            failures.push(format!("{role}: expected {expected}, got {got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
