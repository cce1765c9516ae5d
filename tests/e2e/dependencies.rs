//! Dependencies: blocking, cycles refused with their path, date shifts, sequencing,
//! and never a hidden task in sight.
//!
//! A test file over 400 lines: one scenario per dependency rule.

use crust_e2e::{error_code, Session, TestApp};
use serde_json::{json, Value};

const DEP: &str = "mutation($t: ID!, $o: ID!, $k: DependencyType!) { addTaskDependency(input: {taskId: $t, dependsOnTaskId: $o, type: $k}) { task { isBlocked dependsOn { type task { title } } } } }";
const STATUS: &str = "mutation($t: ID!, $s: TaskStatus!) { updateTask(input: {taskId: $t, status: $s}) { task { status } } }";
const SHOW: &str = "query($t: ID!) { task(id: $t) { title isBlocked startDate dueDate dependsOn { type task { title } } dependents { task { title } } } }";

struct World {
    app: TestApp,
    owner: Session,
    org: String,
    project: String,
}

async fn world() -> World {
    let app = TestApp::start().await;
    let owner = app.user("owner").await;
    let org = app.create_org(&owner, "Org").await;
    let project = app
        .create_project(&owner, &org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    World {
        app,
        owner,
        org,
        project,
    }
}

async fn task(
    w: &World,
    who: &Session,
    project: &str,
    title: &str,
    class: &str,
    dates: Value,
) -> String {
    let mut input = json!({ "projectId": project, "title": title, "classification": class });
    for (k, v) in dates.as_object().unwrap() {
        input[k] = v.clone();
    }
    w.app
        .ok(
            who,
            "mutation($i: CreateTaskInput!) { createTask(input: $i) { task { id } } }",
            json!({ "i": input }),
        )
        .await["createTask"]["task"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn predecessors_block_and_cycles_are_refused_with_their_path() {
    let w = world().await;
    let a = task(&w, &w.owner, &w.project, "A", "CONFIDENTIAL", json!({})).await;
    let b = task(&w, &w.owner, &w.project, "B", "CONFIDENTIAL", json!({})).await;
    let c = task(&w, &w.owner, &w.project, "C", "CONFIDENTIAL", json!({})).await;
    let d = w
        .app
        .ok(
            &w.owner,
            DEP,
            json!({ "t": b, "o": a, "k": "FINISH_TO_START" }),
        )
        .await;
    assert_eq!(d["addTaskDependency"]["task"]["isBlocked"], true);
    w.app
        .ok(
            &w.owner,
            DEP,
            json!({ "t": c, "o": b, "k": "START_TO_START" }),
        )
        .await;
    let cycle = w
        .app
        .gql(
            Some(&w.owner.access),
            DEP,
            json!({ "t": a, "o": c, "k": "FINISH_TO_START" }),
        )
        .await;
    assert_eq!(error_code(&cycle), Some("BAD_USER_INPUT"), "{cycle}");
    let message = cycle["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("\"A\" → \"C\" → \"B\" → \"A\""),
        "{message}"
    );
    let selfdep = w
        .app
        .gql(
            Some(&w.owner.access),
            DEP,
            json!({ "t": a, "o": a, "k": "FINISH_TO_START" }),
        )
        .await;
    assert_eq!(error_code(&selfdep), Some("BAD_USER_INPUT"));

    // C starts with B (START_TO_START): blocked while B has not started.
    assert_eq!(
        w.app.ok(&w.owner, SHOW, json!({ "t": c })).await["task"]["isBlocked"],
        true
    );
    w.app
        .ok(&w.owner, STATUS, json!({ "t": b, "s": "IN_PROGRESS" }))
        .await;
    assert_eq!(
        w.app.ok(&w.owner, SHOW, json!({ "t": c })).await["task"]["isBlocked"],
        false
    );
    // B waits for A to finish.
    assert_eq!(
        w.app.ok(&w.owner, SHOW, json!({ "t": b })).await["task"]["isBlocked"],
        true
    );
    w.app
        .ok(&w.owner, STATUS, json!({ "t": a, "s": "DONE" }))
        .await;
    let shown = w.app.ok(&w.owner, SHOW, json!({ "t": b })).await;
    assert_eq!(shown["task"]["isBlocked"], false);
    assert_eq!(
        shown["task"]["dependents"],
        json!([{ "task": { "title": "C" } }])
    );
    // Removing a link.
    let rm = "mutation($t: ID!, $o: ID!) { removeTaskDependency(input: {taskId: $t, dependsOnTaskId: $o}) { task { dependsOn { task { title } } } } }";
    let d = w.app.ok(&w.owner, rm, json!({ "t": b, "o": a })).await;
    assert_eq!(d["removeTaskDependency"]["task"]["dependsOn"], json!([]));
}

#[tokio::test]
async fn dependencies_cross_projects_of_one_org_with_edit_rights_on_both() {
    let w = world().await;
    let viewer = w.app.user("viewer").await;
    w.app
        .add_org_member(&w.owner, &w.org, &viewer, "MEMBER")
        .await;
    let other = w
        .app
        .create_project(&w.owner, &w.org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    let a = task(&w, &w.owner, &w.project, "A", "CONFIDENTIAL", json!({})).await;
    let x = task(&w, &w.owner, &other, "X", "CONFIDENTIAL", json!({})).await;
    w.app
        .ok(
            &w.owner,
            DEP,
            json!({ "t": x, "o": a, "k": "FINISH_TO_START" }),
        )
        .await;
    // An org MEMBER reads both projects but may edit neither.
    let body = w
        .app
        .gql(
            Some(&viewer.access),
            DEP,
            json!({ "t": a, "o": x, "k": "FINISH_TO_START" }),
        )
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"));
}

#[tokio::test]
async fn hidden_tasks_never_show_through_dependencies() {
    let w = world().await;
    let editor = w.app.user("editor").await;
    w.app
        .add_org_member(&w.owner, &w.org, &editor, "MEMBER")
        .await;
    w.app
        .add_project_member(&w.owner, &w.project, &editor, "EDITOR")
        .await;
    let open = task(&w, &w.owner, &w.project, "Open", "CONFIDENTIAL", json!({})).await;
    let secret = task(
        &w,
        &w.owner,
        &w.project,
        "Secret merger",
        "SECRET",
        json!({}),
    )
    .await;
    w.app
        .ok(
            &w.owner,
            DEP,
            json!({ "t": secret, "o": open, "k": "FINISH_TO_START" }),
        )
        .await;
    w.app.ok(&w.owner, DEP, json!({ "t": open, "o": task(&w, &w.owner, &w.project, "Visible pred", "CONFIDENTIAL", json!({})).await, "k": "FINISH_TO_START" })).await;
    let seen = w.app.ok(&editor, SHOW, json!({ "t": open })).await;
    assert_eq!(
        seen["task"]["dependents"],
        json!([]),
        "the SECRET successor is invisible: {seen}"
    );
    assert!(!seen.to_string().contains("Secret merger"));
    // The owner listed on it sees the link.
    let owner_view = w.app.ok(&w.owner, SHOW, json!({ "t": open })).await;
    assert_eq!(
        owner_view["task"]["dependents"][0]["task"]["title"],
        "Secret merger"
    );
    // A cycle through the hidden task is refused without naming it.
    let cyc = w
        .app
        .gql(
            Some(&w.owner.access),
            DEP,
            json!({ "t": open, "o": secret, "k": "FINISH_TO_START" }),
        )
        .await;
    assert_eq!(error_code(&cyc), Some("BAD_USER_INPUT"));
    let hidden_pred = task(&w, &w.owner, &w.project, "Hidden pred", "SECRET", json!({})).await;
    w.app
        .ok(
            &w.owner,
            DEP,
            json!({ "t": open, "o": hidden_pred, "k": "FINISH_TO_START" }),
        )
        .await;
    let seen = w.app.ok(&editor, SHOW, json!({ "t": open })).await;
    assert_eq!(
        seen["task"]["dependsOn"],
        json!([{ "type": "FINISH_TO_START", "task": { "title": "Visible pred" } }])
    );
    assert_eq!(
        seen["task"]["isBlocked"], true,
        "blocked by the visible predecessor"
    );
}

#[tokio::test]
async fn shifting_dates_moves_successors_and_sequencing_chains_a_box() {
    let w = world().await;
    let dates = |s: &str, d: &str| json!({ "startDate": s, "dueDate": d });
    let a = task(
        &w,
        &w.owner,
        &w.project,
        "A",
        "CONFIDENTIAL",
        dates("2027-01-04", "2027-01-06"),
    )
    .await;
    let b = task(
        &w,
        &w.owner,
        &w.project,
        "B",
        "CONFIDENTIAL",
        dates("2027-01-07", "2027-01-08"),
    )
    .await;
    let c = task(
        &w,
        &w.owner,
        &w.project,
        "C",
        "CONFIDENTIAL",
        dates("2027-01-09", "2027-01-12"),
    )
    .await;
    w.app
        .ok(
            &w.owner,
            DEP,
            json!({ "t": b, "o": a, "k": "FINISH_TO_START" }),
        )
        .await;
    w.app
        .ok(
            &w.owner,
            DEP,
            json!({ "t": c, "o": b, "k": "FINISH_TO_START" }),
        )
        .await;
    let shift = "mutation($t: ID!, $d: Int!, $p: Boolean!) { shiftDates(input: {taskId: $t, days: $d, propagate: $p}) { tasks { title startDate dueDate } } }";
    let d = w
        .app
        .ok(&w.owner, shift, json!({ "t": a, "d": 3, "p": true }))
        .await;
    let moved: Vec<&str> = d["shiftDates"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert_eq!(moved, ["A", "B", "C"]);
    assert_eq!(
        w.app.ok(&w.owner, SHOW, json!({ "t": c })).await["task"]["dueDate"],
        "2027-01-15"
    );
    let d = w
        .app
        .ok(&w.owner, shift, json!({ "t": a, "d": -1, "p": false }))
        .await;
    assert_eq!(d["shiftDates"]["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(
        w.app.ok(&w.owner, SHOW, json!({ "t": a })).await["task"]["startDate"],
        "2027-01-06"
    );
    assert_eq!(
        w.app.ok(&w.owner, SHOW, json!({ "t": b })).await["task"]["startDate"],
        "2027-01-10"
    );

    let s = w.app.create_slice(&w.owner, &w.project, "S").await;
    let bx = w.app.create_box(&w.owner, &s, "Box").await;
    let mut ids = Vec::new();
    for t in ["one", "two", "three"] {
        ids.push(
            w.app
                .ok(&w.owner, "mutation($p: ID!, $b: ID!, $t: String!) { createTask(input: {projectId: $p, boxId: $b, title: $t}) { task { id } } }",
                    json!({ "p": w.project, "b": bx, "t": t }))
                .await["createTask"]["task"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let d = w
        .app
        .ok(
            &w.owner,
            "mutation($b: ID!) { sequenceBox(input: {boxId: $b}) { linkCount } }",
            json!({ "b": bx }),
        )
        .await;
    assert_eq!(d["sequenceBox"]["linkCount"], 2);
    let three = w.app.ok(&w.owner, SHOW, json!({ "t": ids[2] })).await;
    assert_eq!(
        three["task"]["dependsOn"],
        json!([{ "type": "FINISH_TO_START", "task": { "title": "two" } }])
    );
}

#[tokio::test]
async fn hidden_tasks_are_neither_described_nor_walked_through() {
    let w = world().await;
    let editor = w.app.user("editor").await;
    w.app
        .add_org_member(&w.owner, &w.org, &editor, "MEMBER")
        .await;
    w.app
        .add_project_member(&w.owner, &w.project, &editor, "EDITOR")
        .await;
    let dates = json!({ "startDate": "2027-01-04", "dueDate": "2027-01-05" });
    let v1 = task(
        &w,
        &w.owner,
        &w.project,
        "Visible one",
        "CONFIDENTIAL",
        dates.clone(),
    )
    .await;
    let hidden = task(
        &w,
        &w.owner,
        &w.project,
        "Hidden middle",
        "SECRET",
        dates.clone(),
    )
    .await;
    let v2 = task(
        &w,
        &w.owner,
        &w.project,
        "Visible two",
        "CONFIDENTIAL",
        dates.clone(),
    )
    .await;
    // v2 → hidden → v1, linked by the owner, who sees all three.
    w.app
        .ok(
            &w.owner,
            DEP,
            json!({ "t": hidden, "o": v1, "k": "FINISH_TO_START" }),
        )
        .await;
    w.app
        .ok(
            &w.owner,
            DEP,
            json!({ "t": v2, "o": hidden, "k": "FINISH_TO_START" }),
        )
        .await;
    // The editor closes the loop: refused, and the message says nothing about the hop.
    let cyc = w
        .app
        .gql(
            Some(&editor.access),
            DEP,
            json!({ "t": v1, "o": v2, "k": "FINISH_TO_START" }),
        )
        .await;
    assert_eq!(error_code(&cyc), Some("BAD_USER_INPUT"));
    let message = cyc["errors"][0]["message"].as_str().unwrap();
    assert_eq!(
        message,
        "dependsOnTaskId: this would create a cycle through tasks you cannot see"
    );
    // Shifting v1 does not reach v2 through the task the editor cannot see.
    let shift =
        "mutation($t: ID!) { shiftDates(input: {taskId: $t, days: 2}) { tasks { title } } }";
    let d = w.app.ok(&editor, shift, json!({ "t": v1 })).await;
    assert_eq!(
        d["shiftDates"]["tasks"],
        json!([{ "title": "Visible one" }])
    );
    assert_eq!(
        w.app.ok(&w.owner, SHOW, json!({ "t": v2 })).await["task"]["startDate"],
        "2027-01-04"
    );
    assert_eq!(
        w.app.ok(&w.owner, SHOW, json!({ "t": hidden })).await["task"]["startDate"],
        "2027-01-04"
    );
}
