//! What a caller cannot see must not change what it is told, nor be changed by them:
//! bulk operations touch only the rows their caller may see (and edit), their answers
//! count only those, and a refusal caused by a hidden item reads exactly like one
//! caused by a visible item.

use crust_e2e::{error_code, Session, TestApp};
use serde_json::{json, Value};

/// An ORGANIZATION project managed by Alice, with Bob as EDITOR, a board (To do, Done)
/// and, in the done column, Alice's SECRET task (Bob is not on its list) and a task
/// Bob may see.
pub(crate) struct Board {
    pub(crate) app: TestApp,
    pub(crate) alice: Session,
    pub(crate) bob: Session,
    pub(crate) org: String,
    pub(crate) project: String,
    pub(crate) todo: String,
    pub(crate) done: String,
    secret: String,
    plain: String,
}

async fn board() -> Board {
    board_on(TestApp::start().await).await
}

/// [`board`] on a server of the caller's.
pub(crate) async fn board_on(app: TestApp) -> Board {
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let org = app.create_org(&alice, "Org").await;
    app.add_org_member(&alice, &org, &bob, "MEMBER").await;
    let project = app
        .create_project(&alice, &org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    app.add_project_member(&alice, &project, &bob, "EDITOR")
        .await;
    let slice = app.create_slice(&alice, &project, "Board").await;
    let todo = app.create_column(&alice, &slice, "To do", false).await;
    let done = app.create_column(&alice, &slice, "Done", true).await;
    let secret = task(&app, &alice, &project, &done, "Secret", "SECRET").await;
    let plain = task(&app, &bob, &project, &done, "Plain", "CONFIDENTIAL").await;
    Board {
        app,
        alice,
        bob,
        org,
        project,
        todo,
        done,
        secret,
        plain,
    }
}

pub(crate) async fn task(
    app: &TestApp,
    who: &Session,
    project: &str,
    box_id: &str,
    title: &str,
    classification: &str,
) -> String {
    app.ok(
        who,
        "mutation($i: CreateTaskInput!) { createTask(input: $i) { task { id } } }",
        json!({ "i": { "projectId": project, "boxId": box_id, "title": title, "classification": classification,
                       "startDate": "2030-01-01", "dueDate": "2030-01-10" } }),
    )
    .await["createTask"]["task"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The titles of a box's tasks, in order, as `who` sees them.
async fn titles(app: &TestApp, who: &Session, box_id: &str, project: &str) -> Vec<String> {
    app.box_titles(who, project, box_id).await
}

const TASK: &str = "query($t: ID!) { task(id: $t) { title status startDate dueDate box { id } dependsOn { task { id } } dependents { task { id } } } }";

async fn seen(app: &TestApp, who: &Session, id: &str) -> Value {
    app.ok(who, TASK, json!({ "t": id })).await["task"].clone()
}

const FINISH: &str =
    "mutation($b: ID!) { finishSprint(input: {boxId: $b}) { movedTaskCount sprintBox { id } } }";

#[tokio::test]
async fn finishing_a_sprint_moves_and_counts_only_what_the_caller_sees() {
    let b = board().await;
    let f = b.app.ok(&b.bob, FINISH, json!({ "b": b.todo })).await;
    assert_eq!(
        f["finishSprint"]["movedTaskCount"], 1,
        "the hidden task is not counted"
    );
    let sprint = f["finishSprint"]["sprintBox"]["id"].as_str().unwrap();
    assert_eq!(titles(&b.app, &b.bob, sprint, &b.project).await, ["Plain"]);
    assert_eq!(
        titles(&b.app, &b.bob, &b.done, &b.project).await,
        Vec::<String>::new(),
        "for Bob, the done column is empty"
    );
    // The SECRET task stayed where it was, as Alice (on its list) sees.
    assert_eq!(
        titles(&b.app, &b.alice, &b.done, &b.project).await,
        ["Secret"]
    );
    assert_eq!(
        titles(&b.app, &b.alice, sprint, &b.project).await,
        ["Plain"]
    );
    let s = seen(&b.app, &b.alice, &b.secret).await;
    assert_eq!(s["box"]["id"], b.done.as_str());
    // Alice's sprint takes it.
    let f = b.app.ok(&b.alice, FINISH, json!({ "b": b.done })).await;
    assert_eq!(f["finishSprint"]["movedTaskCount"], 1);
    let sprint = f["finishSprint"]["sprintBox"]["id"].as_str().unwrap();
    assert_eq!(
        titles(&b.app, &b.alice, sprint, &b.project).await,
        ["Secret"]
    );
    let _ = &b.plain;
}

#[tokio::test]
async fn date_shifts_and_sequencing_leave_hidden_tasks_alone() {
    let b = board().await;
    // The SECRET task depends on the plain one (Alice sees both).
    let link = "mutation($t: ID!, $o: ID!) { addTaskDependency(input: {taskId: $t, dependsOnTaskId: $o}) { task { id } } }";
    b.app
        .ok(&b.alice, link, json!({ "t": b.secret, "o": b.plain }))
        .await;
    let shift = "mutation($t: ID!) { shiftDates(input: {taskId: $t, days: 5, propagate: true}) { tasks { id startDate } } }";
    let d = b.app.ok(&b.bob, shift, json!({ "t": b.plain })).await;
    assert_eq!(
        d["shiftDates"]["tasks"],
        json!([{ "id": b.plain, "startDate": "2030-01-06" }]),
        "only the visible task moved"
    );
    let s = seen(&b.app, &b.alice, &b.secret).await;
    assert_eq!(
        (&s["startDate"], &s["dueDate"]),
        (&json!("2030-01-01"), &json!("2030-01-10")),
        "the hidden successor kept its dates"
    );
    // Alice's own shift does reach it.
    let d = b.app.ok(&b.alice, shift, json!({ "t": b.plain })).await;
    assert_eq!(d["shiftDates"]["tasks"].as_array().unwrap().len(), 2);

    // Sequencing a box with a hidden task in the middle links only the visible ones.
    let first = task(&b.app, &b.bob, &b.project, &b.todo, "First", "CONFIDENTIAL").await;
    let hidden = task(&b.app, &b.alice, &b.project, &b.todo, "Hidden", "SECRET").await;
    let last = task(&b.app, &b.bob, &b.project, &b.todo, "Last", "CONFIDENTIAL").await;
    let seq = "mutation($b: ID!) { sequenceBox(input: {boxId: $b}) { linkCount } }";
    let d = b.app.ok(&b.bob, seq, json!({ "b": b.todo })).await;
    assert_eq!(d["sequenceBox"]["linkCount"], 1);
    let h = seen(&b.app, &b.alice, &hidden).await;
    assert_eq!(
        (&h["dependsOn"], &h["dependents"]),
        (&json!([]), &json!([])),
        "no link was made to or from the hidden task"
    );
    assert_eq!(
        seen(&b.app, &b.alice, &last).await["dependsOn"],
        json!([{ "task": { "id": first } }])
    );
}

#[tokio::test]
async fn moving_tasks_keeps_hidden_tasks_in_their_box_and_order() {
    let b = board().await;
    let a = task(&b.app, &b.bob, &b.project, &b.todo, "A", "CONFIDENTIAL").await;
    task(&b.app, &b.alice, &b.project, &b.todo, "S", "SECRET").await;
    let c = task(&b.app, &b.bob, &b.project, &b.todo, "C", "CONFIDENTIAL").await;
    let mv = "mutation($t: ID!, $b: ID!, $p: Int!) { moveTask(input: {taskId: $t, boxId: $b, position: $p}) { task { id } } }";
    b.app
        .ok(&b.bob, mv, json!({ "t": c, "b": b.todo, "p": 0 }))
        .await;
    assert_eq!(
        titles(&b.app, &b.bob, &b.todo, &b.project).await,
        ["C", "A"]
    );
    // The hidden task keeps its place after its visible neighbour.
    assert_eq!(
        titles(&b.app, &b.alice, &b.todo, &b.project).await,
        ["C", "A", "S"]
    );
    // Moving a visible task into the done column finishes it alone.
    b.app
        .ok(&b.bob, mv, json!({ "t": a, "b": b.done, "p": 0 }))
        .await;
    assert_eq!(
        titles(&b.app, &b.alice, &b.done, &b.project).await,
        ["Secret", "A", "Plain"]
    );
    assert_eq!(
        seen(&b.app, &b.alice, &b.secret).await["status"],
        "NOT_STARTED"
    );
}

#[tokio::test]
async fn a_project_deleted_by_its_manager_goes_with_everything_in_it() {
    let b = board().await;
    // Bob becomes a MANAGER of the project but is still not on the SECRET task's list.
    b.app
        .add_project_member(&b.alice, &b.project, &b.bob, "MANAGER")
        .await;
    let del = "mutation($p: ID!) { deleteProject(input: {projectId: $p}) { deletedProjectId } }";
    let d = b.app.ok(&b.bob, del, json!({ "p": b.project })).await;
    assert_eq!(d["deleteProject"]["deletedProjectId"], b.project.as_str());
    let body = b
        .app
        .gql(Some(&b.alice.access), TASK, json!({ "t": b.secret }))
        .await;
    assert_eq!(
        error_code(&body),
        Some("NOT_FOUND"),
        "the SECRET task went with its project"
    );
}

const REMOVE: &str = "mutation($p: ID!, $u: ID!) { removeProjectMember(input: {projectId: $p, userId: $u}) { removedUserId } }";

#[tokio::test]
async fn a_refused_member_removal_reads_the_same_whether_its_reason_is_hidden_or_visible() {
    let b = board().await;
    let carol = b.app.user("carol").await;
    let org = b.org.clone();
    b.app.add_org_member(&b.alice, &org, &carol, "MEMBER").await;
    let p = b
        .app
        .create_project(&b.alice, &org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    b.app
        .add_project_member(&b.alice, &p, &carol, "MANAGER")
        .await;
    let slice = b.app.create_slice(&b.alice, &p, "S").await;
    let bx = b.app.create_box(&b.alice, &slice, "B").await;
    // Carol is the only one who manages her SECRET task; Alice cannot see it.
    task(&b.app, &carol, &p, &bx, "Carol's", "SECRET").await;
    let hidden = b
        .app
        .gql(
            Some(&b.alice.access),
            REMOVE,
            json!({ "p": p, "u": carol.id }),
        )
        .await;
    // The same refusal for a reason the caller sees: Carol leaving it herself.
    let visible = b
        .app
        .gql(
            Some(&carol.access),
            REMOVE,
            json!({ "p": p, "u": carol.id }),
        )
        .await;
    assert_eq!(error_code(&hidden), Some("CONFLICT"), "{hidden}");
    assert_eq!(hidden, visible, "nothing tells the hidden case apart");
    // And for a visible SECRET project Alice is the only manager of.
    let sp = b
        .app
        .create_project(&b.alice, &org, "MEMBERS", "SECRET")
        .await;
    let own = b
        .app
        .gql(
            Some(&b.alice.access),
            REMOVE,
            json!({ "p": sp, "u": b.alice.id }),
        )
        .await;
    assert_eq!(hidden, own);
    // Honest traffic: a member with nothing to hand over is removed.
    b.app
        .add_project_member(&b.alice, &p, &b.bob, "EDITOR")
        .await;
    let d = b
        .app
        .ok(&b.alice, REMOVE, json!({ "p": p, "u": b.bob.id }))
        .await;
    assert_eq!(d["removeProjectMember"]["removedUserId"], b.bob.id.as_str());
}

/// A board's counts, pages and rollups (each level read for many tasks at once, with the
/// projects' readability decided once per statement) count exactly the tasks the
/// caller may see: a SECRET task only once it is granted.
#[tokio::test]
async fn a_boards_counts_pages_and_rollups_take_only_what_the_caller_sees() {
    let b = board().await;
    let hidden = task(&b.app, &b.alice, &b.project, &b.todo, "Hidden", "SECRET").await;
    let shown = task(&b.app, &b.bob, &b.project, &b.todo, "Shown", "CONFIDENTIAL").await;
    b.app
        .ok(
            &b.bob,
            "mutation($t: ID!) { updateTask(input: {taskId: $t, progress: 50}) { task { id } } }",
            json!({ "t": shown }),
        )
        .await;
    // Alice sees all four tasks (one at 50 %, three not started, all of one duration):
    // the first card of To do is her hidden one.
    assert_eq!(
        board_as(&b, &b.alice).await,
        (
            Some(12.5),
            Some(12.5),
            Some(25.0),
            Some(2),
            Some("Hidden".into())
        )
    );
    // Bob sees three: the SECRET one is absent from the count, the page and every rollup.
    assert_eq!(
        board_as(&b, &b.bob).await,
        (
            Some(25.0),
            Some(25.0),
            Some(50.0),
            Some(1),
            Some("Shown".into())
        )
    );
    // Granted it, he sees it in To do as Alice does (and still not the done column's
    // SECRET task: three tasks in the project's rollups).
    b.app.grant(&b.alice, &hidden, &b.bob, "VIEW").await;
    assert_eq!(
        board_as(&b, &b.bob).await,
        (
            Some(50.0 / 3.0),
            Some(50.0 / 3.0),
            Some(25.0),
            Some(2),
            Some("Hidden".into())
        )
    );
}

type BoardFigures = (
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<i64>,
    Option<String>,
);

/// The project's, the slice's and To do's progress, To do's count and its first card.
async fn board_as(b: &Board, who: &Session) -> BoardFigures {
    let d = b
        .app
        .ok(
            who,
            "query($p: ID!) { project(id: $p) { progress slices { nodes { progress boxes { nodes { id progress tasks(first: 1) { totalCount nodes { title } } } } } } } }",
            json!({ "p": b.project }),
        )
        .await;
    let project = &d["project"];
    let slice = &project["slices"]["nodes"][0];
    let todo = slice["boxes"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == b.todo.as_str())
        .unwrap();
    (
        project["progress"].as_f64(),
        slice["progress"].as_f64(),
        todo["progress"].as_f64(),
        todo["tasks"]["totalCount"].as_i64(),
        todo["tasks"]["nodes"][0]["title"]
            .as_str()
            .map(str::to_owned),
    )
}
