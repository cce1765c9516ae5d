//! Moving slices, boxes and tasks; boards and sprints.

use crust_e2e::{error_code, Session, TestApp};
use serde_json::{json, Value};

struct Board {
    app: TestApp,
    owner: Session,
    org: String,
    project: String,
    slice: String,
    todo: String,
    doing: String,
    done: String,
}

async fn board() -> Board {
    let app = TestApp::start().await;
    let owner = app.user("owner").await;
    let org = app.create_org(&owner, "Org").await;
    let project = app
        .create_project(&owner, &org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    let slice = app.create_slice(&owner, &project, "Sprint board").await;
    let todo = app.create_column(&owner, &slice, "To do", false).await;
    let doing = app.create_column(&owner, &slice, "Doing", false).await;
    let done = app.create_column(&owner, &slice, "Done", true).await;
    Board {
        app,
        owner,
        org,
        project,
        slice,
        todo,
        doing,
        done,
    }
}

async fn task_in(b: &Board, box_id: &str, title: &str) -> String {
    b.app
        .ok(&b.owner, "mutation($p: ID!, $b: ID!, $t: String!) { createTask(input: {projectId: $p, boxId: $b, title: $t}) { task { id } } }",
            json!({ "p": b.project, "b": box_id, "t": title }))
        .await["createTask"]["task"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn box_titles(b: &Board, box_id: &str) -> Vec<String> {
    b.app.box_titles(&b.owner, &b.project, box_id).await
}

const MOVE: &str = "mutation($t: ID!, $b: ID!, $p: Int!) { moveTask(input: {taskId: $t, boxId: $b, position: $p}) { task { status progress } } }";

#[tokio::test]
async fn tasks_move_within_and_between_boxes_of_one_project() {
    let b = board().await;
    let a = task_in(&b, &b.todo, "A").await;
    task_in(&b, &b.todo, "B").await;
    let c = task_in(&b, &b.todo, "C").await;
    b.app
        .ok(&b.owner, MOVE, json!({ "t": c, "b": b.todo, "p": 0 }))
        .await;
    assert_eq!(box_titles(&b, &b.todo).await, ["C", "A", "B"]);
    b.app
        .ok(&b.owner, MOVE, json!({ "t": a, "b": b.doing, "p": 5 }))
        .await;
    assert_eq!(box_titles(&b, &b.todo).await, ["C", "B"]);
    assert_eq!(box_titles(&b, &b.doing).await, ["A"]);
    // Another project's box: refused.
    let other = b
        .app
        .create_project(&b.owner, &b.org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    let os = b.app.create_slice(&b.owner, &other, "S").await;
    let ob = b.app.create_box(&b.owner, &os, "B").await;
    let body = b
        .app
        .gql(
            Some(&b.owner.access),
            MOVE,
            json!({ "t": c, "b": ob, "p": 0 }),
        )
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("another project"));
    let body = b
        .app
        .gql(
            Some(&b.owner.access),
            MOVE,
            json!({ "t": c, "b": b.todo, "p": -1 }),
        )
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
}

#[tokio::test]
async fn concurrent_moves_keep_a_clean_order() {
    let b = board().await;
    let mut ids = Vec::new();
    for i in 0..8 {
        ids.push(task_in(&b, &b.todo, &format!("T{i}")).await);
    }
    let moves = ids.iter().enumerate().map(|(i, t)| {
        let target = if i % 2 == 0 { &b.todo } else { &b.doing };
        b.app.gql(
            Some(&b.owner.access),
            MOVE,
            json!({ "t": t, "b": target, "p": (7 - i) % 3 }),
        )
    });
    for body in join_all(moves.collect()).await {
        assert!(body["errors"].is_null(), "{body}");
    }
    let mut all = box_titles(&b, &b.todo).await;
    all.extend(box_titles(&b, &b.doing).await);
    all.sort();
    assert_eq!(
        all,
        (0..8).map(|i| format!("T{i}")).collect::<Vec<_>>(),
        "every task once"
    );
    // Positions inside each box are distinct.
    let mut conn = b.app.db.connect();
    for bx in [&b.todo, &b.doing] {
        let positions = crust_e2e::db::texts(
            &mut conn,
            "SELECT position::text AS v FROM tasks WHERE box_id = $1::uuid",
            bx,
        );
        let mut unique = positions.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len(),
            positions.len(),
            "positions collide: {positions:?}"
        );
    }
}

async fn join_all<F: std::future::Future<Output = Value>>(futures: Vec<F>) -> Vec<Value> {
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<Value>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if results[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => results[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    results.into_iter().map(Option::unwrap).collect()
}

#[tokio::test]
async fn the_done_column_finishes_tasks_and_a_sprint_archives_them() {
    let b = board().await;
    let a = task_in(&b, &b.todo, "A").await;
    let c = task_in(&b, &b.doing, "C").await;
    let d = b
        .app
        .ok(&b.owner, MOVE, json!({ "t": a, "b": b.done, "p": 0 }))
        .await;
    assert_eq!(d["moveTask"]["task"]["status"], "DONE");
    assert_eq!(d["moveTask"]["task"]["progress"], 100);
    b.app
        .ok(&b.owner, MOVE, json!({ "t": c, "b": b.done, "p": 9 }))
        .await;
    // A slice after the board, to check where "Done Sprints" lands.
    b.app.create_slice(&b.owner, &b.project, "Later").await;
    let finish = "mutation($b: ID!) { finishSprint(input: {boxId: $b}) { movedTaskCount sprintBox { id name } } }";
    let f = b.app.ok(&b.owner, finish, json!({ "b": b.todo })).await;
    assert_eq!(f["finishSprint"]["movedTaskCount"], 2);
    let today = chrono::Utc::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    assert_eq!(f["finishSprint"]["sprintBox"]["name"], today);
    assert_eq!(
        box_titles(&b, &b.done).await,
        Vec::<String>::new(),
        "the done column is empty"
    );
    let sprint_box = f["finishSprint"]["sprintBox"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(box_titles(&b, &sprint_box).await, ["A", "C"]);
    let slices = b
        .app
        .ok(
            &b.owner,
            "query($p: ID!) { project(id: $p) { slices { nodes { name } } } }",
            json!({ "p": b.project }),
        )
        .await;
    let names: Vec<&str> = slices["project"]["slices"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Sprint board", "Done Sprints", "Later"]);
    // A second sprint on the same day gets its own box in the same slice.
    let f2 = b.app.ok(&b.owner, finish, json!({ "b": b.done })).await;
    assert_eq!(
        f2["finishSprint"]["sprintBox"]["name"],
        format!("{today} (2)")
    );
    assert_eq!(f2["finishSprint"]["movedTaskCount"], 0);
    // A board without a done column cannot finish a sprint.
    let plain = b.app.create_slice(&b.owner, &b.project, "Plain").await;
    let pb = b.app.create_box(&b.owner, &plain, "Box").await;
    let body = b
        .app
        .gql(Some(&b.owner.access), finish, json!({ "b": pb }))
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
    let _ = &b.slice;
}

#[tokio::test]
async fn slices_and_boxes_move_and_one_done_column_per_board() {
    let b = board().await;
    let second = b.app.create_slice(&b.owner, &b.project, "Second").await;
    b.app.ok(&b.owner, "mutation($s: ID!) { moveSlice(input: {sliceId: $s, position: 0}) { slice { position } } }", json!({ "s": second })).await;
    let d = b
        .app
        .ok(
            &b.owner,
            "query($p: ID!) { project(id: $p) { slices { nodes { name position } } } }",
            json!({ "p": b.project }),
        )
        .await;
    assert_eq!(d["project"]["slices"]["nodes"][0]["name"], "Second");
    // Moving the done column away from its board ends its done-ness.
    b.app.ok(&b.owner, "mutation($b: ID!, $s: ID!) { moveBox(input: {boxId: $b, sliceId: $s, position: 0}) { box { doneColumn } } }", json!({ "b": b.done, "s": second })).await;
    // Making "Doing" the done column; then "To do" takes it over.
    let upd = "mutation($b: ID!) { updateBox(input: {boxId: $b, doneColumn: true}) { box { doneColumn boardColumn } } }";
    b.app.ok(&b.owner, upd, json!({ "b": b.doing })).await;
    let d = b.app.ok(&b.owner, upd, json!({ "b": b.todo })).await;
    assert_eq!(d["updateBox"]["box"]["doneColumn"], true);
    let cols = b.app.ok(&b.owner, "query($p: ID!) { project(id: $p) { slices { nodes { name boxes { nodes { name doneColumn } } } } } }", json!({ "p": b.project })).await;
    let board = cols["project"]["slices"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Sprint board")
        .unwrap()
        .clone();
    let done: Vec<&str> = board["boxes"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["doneColumn"] == true)
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(done, ["To do"]);
}
