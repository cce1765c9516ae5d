//! Nested fields reached from visible objects never expose hidden ones; rollups follow
//! Pie's rule over what the caller may see; a guest sees its task and the least of its
//! project.

use crust_e2e::{error_code, TestApp};
use serde_json::json;

const TREE: &str = "query($p: ID!) { project(id: $p) { progress tasks { totalCount }
    slices(first: 10) { nodes { progress boxes(first: 10) { nodes { progress tasks(first: 20) { totalCount nodes { title
      assignees { id } dependsOn { task { title } } dependents { task { title } } comments(first: 3) { totalCount nodes { body } } } } } } } } } }";

#[tokio::test]
async fn rollups_and_nested_lists_leave_hidden_tasks_out() {
    let app = TestApp::start().await;
    let owner = app.user("owner").await;
    let editor = app.user("editor").await;
    let org = app.create_org(&owner, "Org").await;
    app.add_org_member(&owner, &org, &editor, "MEMBER").await;
    let p = app
        .create_project(&owner, &org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    app.add_project_member(&owner, &p, &editor, "EDITOR").await;
    let s = app.create_slice(&owner, &p, "S").await;
    let b = app.create_box(&owner, &s, "B").await;
    let mk = |title: &str, class: &str, duration: i32, progress: i32, status: &str| {
        let (app, owner, p, b) = (&app, &owner, p.clone(), b.clone());
        let (title, class, status) = (title.to_owned(), class.to_owned(), status.to_owned());
        async move {
            let id = app
                .ok(owner, "mutation($i: CreateTaskInput!) { createTask(input: $i) { task { id } } }",
                    json!({ "i": { "projectId": p, "boxId": b, "title": title, "classification": class, "durationDays": duration } }))
                .await["createTask"]["task"]["id"].as_str().unwrap().to_owned();
            let patch = if status == "IN_PROGRESS" {
                json!({ "taskId": id, "progress": progress })
            } else {
                json!({ "taskId": id, "status": status })
            };
            app.ok(
                owner,
                "mutation($i: UpdateTaskInput!) { updateTask(input: $i) { task { id } } }",
                json!({ "i": patch }),
            )
            .await;
            id
        }
    };
    // Visible: 1 day at 40 %, 3 days DONE, 5 days NOT_NEEDED (ignored) → (40 + 300) / 4 = 85.
    let open = mk("Open", "CONFIDENTIAL", 1, 40, "IN_PROGRESS").await;
    mk("Finished", "CONFIDENTIAL", 3, 0, "DONE").await;
    mk("Skipped", "CONFIDENTIAL", 5, 0, "NOT_NEEDED").await;
    // Hidden from the editor: 4 days at 0 %.
    let secret = mk("Secret", "SECRET", 4, 0, "NOT_STARTED").await;
    app.ok(&owner, "mutation($t: ID!, $o: ID!) { addTaskDependency(input: {taskId: $t, dependsOnTaskId: $o}) { task { id } } }", json!({ "t": secret, "o": open })).await;
    app.ok(&owner, "mutation($t: ID!) { addComment(input: {taskId: $t, body: \"secret note\"}) { comment { id } } }", json!({ "t": secret })).await;

    let seen = app.ok(&editor, TREE, json!({ "p": p })).await;
    assert_eq!(seen["project"]["progress"], 85.0, "{seen}");
    assert_eq!(seen["project"]["slices"]["nodes"][0]["progress"], 85.0);
    assert_eq!(
        seen["project"]["slices"]["nodes"][0]["boxes"]["nodes"][0]["progress"],
        85.0
    );
    assert_eq!(seen["project"]["tasks"]["totalCount"], 3);
    let text = seen.to_string();
    assert!(
        !text.contains("Secret") && !text.contains("secret note"),
        "{text}"
    );
    // The owner is on the SECRET task's list: (40 + 300 + 0) / 8 = 42.5.
    let full = app.ok(&owner, TREE, json!({ "p": p })).await;
    assert_eq!(full["project"]["progress"], 42.5);
    assert!(full.to_string().contains("secret note"));
}

#[tokio::test]
async fn a_guest_sees_its_task_and_only_the_name_of_its_project() {
    let app = TestApp::start().await;
    let owner = app.user("owner").await;
    let guest = app.user("guest").await;
    let org = app.create_org(&owner, "Org").await;
    app.add_org_member(&owner, &org, &guest, "GUEST").await;
    let p = app
        .create_project(&owner, &org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    let s = app.create_slice(&owner, &p, "S").await;
    let b = app.create_box(&owner, &s, "B").await;
    let t = app.create_task(&owner, &p, Some(&b), "CONFIDENTIAL").await;
    let other = app.create_task(&owner, &p, Some(&b), "CONFIDENTIAL").await;
    app.ok(&owner, "mutation($t: ID!, $o: ID!) { addTaskDependency(input: {taskId: $t, dependsOnTaskId: $o}) { task { id } } }", json!({ "t": t, "o": other })).await;
    app.grant(&owner, &t, &guest, "EDIT").await;
    let d = app
        .ok(&guest, "query($t: ID!) { task(id: $t) { title projectSummary { id name } project { id } box { id } dependsOn { task { id } } isBlocked } }", json!({ "t": t }))
        .await;
    assert_eq!(d["task"]["projectSummary"]["id"], p.as_str());
    assert_eq!(
        d["task"]["projectSummary"]["name"],
        "ORGANIZATION CONFIDENTIAL"
    );
    assert!(d["task"]["project"].is_null() && d["task"]["box"].is_null());
    assert_eq!(
        d["task"]["dependsOn"],
        json!([]),
        "the other task stays hidden"
    );
    // Status and progress yes, anything else no; commenting yes.
    let upd =
        "mutation($i: UpdateTaskInput!) { updateTask(input: $i) { task { status progress } } }";
    assert!(app
        .gql(
            Some(&guest.access),
            upd,
            json!({ "i": { "taskId": t, "progress": 30 } })
        )
        .await["errors"]
        .is_null());
    assert_eq!(
        error_code(
            &app.gql(
                Some(&guest.access),
                upd,
                json!({ "i": { "taskId": t, "title": "mine now" } })
            )
            .await
        ),
        Some("FORBIDDEN")
    );
    let c = app.gql(Some(&guest.access), "mutation($t: ID!) { addComment(input: {taskId: $t, body: \"done soon\"}) { comment { id } } }", json!({ "t": t })).await;
    assert!(c["errors"].is_null(), "{c}");
    // Nothing else of the project: its other task, the list, the search.
    assert_eq!(
        error_code(
            &app.gql(
                Some(&guest.access),
                "query($t: ID!) { task(id: $t) { id } }",
                json!({ "t": other })
            )
            .await
        ),
        Some("NOT_FOUND")
    );
    let search = app.ok(&guest, "{ tasks { totalCount } }", json!({})).await;
    assert_eq!(search["tasks"]["totalCount"], 1);
}
