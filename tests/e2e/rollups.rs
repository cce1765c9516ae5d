//! Progress rollups are summed in SQL by the domain's rule (`crust_domain::progress`):
//! on the same rows, what the server answers equals what `progress::rollup` computes —
//! NOT_NEEDED left out, DONE counted full, a missing or zero duration weighing one day,
//! and only the tasks the caller may see.

use crust_domain::progress::{rollup, Weighed};
use crust_domain::TaskStatus;
use crust_e2e::{Session, TestApp};
use serde_json::json;

async fn task(
    app: &TestApp,
    who: &Session,
    project: &str,
    box_id: &str,
    classification: &str,
) -> String {
    app.create_task(who, project, Some(box_id), classification)
        .await
}

async fn set(app: &TestApp, who: &Session, task: &str, patch: serde_json::Value) {
    let mut input = patch;
    input["taskId"] = json!(task);
    app.ok(
        who,
        "mutation($i: UpdateTaskInput!) { updateTask(input: $i) { task { id } } }",
        json!({ "i": input }),
    )
    .await;
}

fn weighed(status: TaskStatus, progress: i16, duration_days: Option<i32>) -> Weighed {
    Weighed {
        status,
        progress,
        duration_days,
    }
}

#[tokio::test]
async fn rollups_summed_in_sql_agree_with_the_domain_rule() {
    use TaskStatus::*;
    let app = TestApp::start().await;
    let owner = app.user("owner").await;
    let member = app.user("member").await;
    let org = app.create_org(&owner, "Acme").await;
    app.add_org_member(&owner, &org, &member, "MEMBER").await;
    let project = app
        .create_project(&owner, &org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    let slice = app.create_slice(&owner, &project, "Build").await;
    let mixed = app.create_box(&owner, &slice, "Mixed").await;
    let skipped = app.create_box(&owner, &slice, "Skipped").await;

    // (status, progress, duration) and what the domain reads of each.
    let rows = [
        (
            json!({ "status": "DONE", "durationDays": 3 }),
            weighed(Done, 100, Some(3)),
        ),
        (
            json!({ "status": "NOT_NEEDED", "durationDays": 10 }),
            weighed(NotNeeded, 0, Some(10)),
        ),
        (json!({ "progress": 40 }), weighed(InProgress, 40, None)),
        (
            json!({ "durationDays": 2 }),
            weighed(NotStarted, 0, Some(2)),
        ),
        (
            json!({ "progress": 73, "durationDays": 5 }),
            weighed(InProgress, 73, Some(5)),
        ),
        (
            json!({ "progress": 1, "durationDays": 7 }),
            weighed(InProgress, 1, Some(7)),
        ),
    ];
    for (patch, _) in &rows {
        let t = task(&app, &owner, &project, &mixed, "CONFIDENTIAL").await;
        set(&app, &owner, &t, patch.clone()).await;
    }
    // A SECRET task the member may not see: it counts for the owner only.
    let secret = task(&app, &owner, &project, &mixed, "SECRET").await;
    set(
        &app,
        &owner,
        &secret,
        json!({ "progress": 90, "durationDays": 4 }),
    )
    .await;
    let hidden = weighed(InProgress, 90, Some(4));
    // A box whose only task does not count.
    let t = task(&app, &owner, &project, &skipped, "CONFIDENTIAL").await;
    set(&app, &owner, &t, json!({ "status": "NOT_NEEDED" })).await;

    let query = "query($p: ID!) { project(id: $p) { progress slices { nodes { progress boxes { nodes { name progress } } } } } }";
    let seen = |who: &Session| {
        let app = &app;
        let project = project.clone();
        let who = who.clone();
        async move { app.ok(&who, query, json!({ "p": project })).await }
    };
    let visible: Vec<Weighed> = rows.iter().map(|(_, w)| *w).collect();
    let mut all = visible.clone();
    all.push(hidden);
    let not_needed = weighed(NotNeeded, 0, None);
    for (who, tasks) in [(&owner, &all), (&member, &visible)] {
        let d = seen(who).await;
        let expected = rollup(tasks.iter().copied());
        let mut project_tasks = tasks.clone();
        project_tasks.push(not_needed);
        assert_eq!(
            d["project"]["progress"].as_f64(),
            rollup(project_tasks.iter().copied()),
            "{d}"
        );
        assert_eq!(
            d["project"]["slices"]["nodes"][0]["progress"].as_f64(),
            rollup(project_tasks)
        );
        let boxes = d["project"]["slices"]["nodes"][0]["boxes"]["nodes"]
            .as_array()
            .unwrap();
        let of =
            |name: &str| boxes.iter().find(|b| b["name"] == name).unwrap()["progress"].as_f64();
        assert_eq!(of("Mixed"), expected, "{d}");
        assert_eq!(of("Skipped"), None, "{d}");
    }
    // The two callers really see different figures: the filter is in the sums.
    assert_ne!(rollup(all), rollup(visible));
}

/// Every project's, slice's and box's figures of the tree query: (progress, tasks).
fn figures(d: &serde_json::Value) -> Vec<(String, Option<f64>, Option<i64>)> {
    let mut out = vec![];
    for slice in d["project"]["slices"]["nodes"].as_array().unwrap() {
        out.push((slice["name"].to_string(), slice["progress"].as_f64(), None));
        for b in slice["boxes"]["nodes"].as_array().unwrap() {
            out.push((
                b["name"].to_string(),
                b["progress"].as_f64(),
                b["tasks"]["totalCount"].as_i64(),
            ));
        }
    }
    out
}

/// Asking a project's progress runs one pass over its tasks that also answers its
/// slices' and boxes' rollups and the boxes' task counts: the figures are the ones the
/// levels' own statements give — for each caller, with hidden tasks, NOT_NEEDED ones,
/// an unboxed task, a box of hidden tasks only, an empty box and a slice without boxes
/// — and the levels below run no statements of their own.
#[tokio::test]
async fn one_pass_over_a_project_answers_the_levels_below_alike() {
    let app = TestApp::start_with(|c| c.diagnostics.report_sql_statements = true).await;
    let owner = app.user("owner").await;
    let member = app.user("member").await;
    let org = app.create_org(&owner, "Acme").await;
    app.add_org_member(&owner, &org, &member, "MEMBER").await;
    let project = app
        .create_project(&owner, &org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    let build = app.create_slice(&owner, &project, "Build").await;
    let ship = app.create_slice(&owner, &project, "Ship").await;
    app.create_slice(&owner, &project, "Later").await;
    let mixed = app.create_box(&owner, &build, "Mixed").await;
    let secret_only = app.create_box(&owner, &build, "Secret only").await;
    app.create_box(&owner, &build, "Empty").await;
    let skipped = app.create_box(&owner, &ship, "Skipped").await;
    for (classification, patch) in [
        (
            "CONFIDENTIAL",
            json!({ "status": "DONE", "durationDays": 3 }),
        ),
        ("CONFIDENTIAL", json!({ "progress": 40 })),
        (
            "CONFIDENTIAL",
            json!({ "status": "NOT_NEEDED", "durationDays": 9 }),
        ),
        ("SECRET", json!({ "progress": 90, "durationDays": 4 })),
    ] {
        let t = task(&app, &owner, &project, &mixed, classification).await;
        set(&app, &owner, &t, patch).await;
    }
    let t = task(&app, &owner, &project, &secret_only, "SECRET").await;
    set(&app, &owner, &t, json!({ "progress": 10 })).await;
    let t = task(&app, &owner, &project, &skipped, "CONFIDENTIAL").await;
    set(&app, &owner, &t, json!({ "status": "NOT_NEEDED" })).await;
    let unboxed = app
        .create_task(&owner, &project, None, "CONFIDENTIAL")
        .await;
    set(&app, &owner, &unboxed, json!({ "progress": 20 })).await;

    let levels = "slices { nodes { name progress boxes { nodes { name progress tasks(first: 1) { totalCount nodes { id } } } } } }";
    let with_pass = format!("query($p: ID!) {{ project(id: $p) {{ progress {levels} }} }}");
    let without = format!("query($p: ID!) {{ project(id: $p) {{ {levels} }} }}");
    let run = |who: &Session, query: String| {
        let (app, project, token) = (&app, project.clone(), who.access.clone());
        async move {
            let body = app.gql(Some(&token), &query, json!({ "p": project })).await;
            assert!(body["errors"].is_null(), "{body}");
            let statements = body["extensions"]["sqlStatements"].as_u64().unwrap();
            (body["data"].clone(), statements)
        }
    };
    let mut seen = vec![];
    // The owner's reads of CONFIDENTIAL tasks are recorded (five statements more).
    for (who, expected) in [(&owner, 10), (&member, 5)] {
        // (The caller's first request also loads what it is allowed: counted after.)
        let (by_levels, _) = run(who, without.clone()).await;
        let (by_pass, statements) = run(who, with_pass.clone()).await;
        assert_eq!(figures(&by_pass), figures(&by_levels), "{by_pass}");
        seen.push(figures(&by_pass));
        // The empty box, the slice without boxes and (for the member) the box of
        // hidden tasks are answered by the pass too: project, the pass, slices, boxes
        // and the page; no rollup or count of their own.
        assert_eq!(statements, expected, "{by_pass}");
    }
    // The callers really see different figures, and the member's hidden box is empty.
    assert_ne!(seen[0], seen[1]);
    let secret_box = |f: &Vec<(String, Option<f64>, Option<i64>)>| {
        f.iter()
            .find(|x| x.0 == "\"Secret only\"")
            .cloned()
            .unwrap()
    };
    assert_eq!(secret_box(&seen[0]).1, Some(10.0));
    assert_eq!(secret_box(&seen[0]).2, Some(1));
    assert_eq!(secret_box(&seen[1]).1, None);
    assert_eq!(secret_box(&seen[1]).2, Some(0));

    // Statements: on a project whose every box has tasks, the levels below the pass
    // run none for their rollups and counts (the pass, not three rollups and a count),
    // every time — the levels wait for the pass instead of racing it.
    let small = app
        .create_project(&owner, &org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    let s = app.create_slice(&owner, &small, "S").await;
    let b = app.create_box(&owner, &s, "B").await;
    for _ in 0..3 {
        task(&app, &owner, &small, &b, "CONFIDENTIAL").await;
    }
    let count = |query: String| {
        let (app, small, token) = (&app, small.clone(), owner.access.clone());
        async move {
            let body = app.gql(Some(&token), &query, json!({ "p": small })).await;
            assert!(body["errors"].is_null(), "{body}");
            body["extensions"]["sqlStatements"].as_u64().unwrap()
        }
    };
    let by_levels = count(without.clone()).await;
    for _ in 0..5 {
        let by_pass = count(with_pass.clone()).await;
        // project, the pass, slices, boxes, the page: a statement fewer than project,
        // slices, slice rollups, boxes, box rollups, the count and the page, with a
        // rollup more answered.
        assert_eq!((by_pass, by_levels), (5, 7));
    }
}

/// Mutation fields run one after another: a rollup or count read after a change in the
/// same request reflects it (no pass is kept from before it). Likewise across the items
/// of a batch.
#[tokio::test]
async fn a_later_mutation_field_reads_figures_after_an_earlier_change() {
    let app = TestApp::start_with(|c| c.graphql.max_batch = 3).await;
    let owner = app.user("owner").await;
    let org = app.create_org(&owner, "Acme").await;
    let project = app
        .create_project(&owner, &org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    let slice = app.create_slice(&owner, &project, "S").await;
    let b = app.create_box(&owner, &slice, "B").await;
    let kept = task(&app, &owner, &project, &b, "CONFIDENTIAL").await;
    let gone = task(&app, &owner, &project, &b, "CONFIDENTIAL").await;
    set(&app, &owner, &gone, json!({ "status": "DONE" })).await;
    let d = app
        .ok(
            &owner,
            "mutation($k: ID!, $g: ID!) {
               a: updateTask(input: {taskId: $k, title: \"a\"}) { task { project { progress } box { progress tasks { totalCount } } } }
               b: deleteTask(input: {taskId: $g}) { deletedTaskId }
               c: updateTask(input: {taskId: $k, title: \"c\"}) { task { box { progress tasks { totalCount } } } }
             }",
            json!({ "k": kept, "g": gone }),
        )
        .await;
    let figures = |k: &str| {
        let t = &d[k]["task"];
        (
            t["project"]["progress"].as_f64(),
            t["box"]["progress"].as_f64(),
            t["box"]["tasks"]["totalCount"].as_i64(),
        )
    };
    assert_eq!(figures("a"), (Some(50.0), Some(50.0), Some(2)), "{d}");
    assert_eq!(figures("c"), (None, Some(0.0), Some(1)), "{d}");

    // A batch's items are requests of their own: a query's pass is not read by a later
    // item, after a mutation in between.
    let later = task(&app, &owner, &project, &b, "CONFIDENTIAL").await;
    set(&app, &owner, &later, json!({ "status": "DONE" })).await;
    let tree = "query($p: ID!) { project(id: $p) { progress slices { nodes { boxes { nodes { progress tasks { totalCount } } } } } } }";
    let boxed = "query($p: ID!) { project(id: $p) { slices { nodes { boxes { nodes { progress tasks { totalCount } } } } } } }";
    let batch = json!([
        { "query": tree, "variables": { "p": project } },
        { "query": "mutation($g: ID!) { deleteTask(input: {taskId: $g}) { deletedTaskId } }", "variables": { "g": later } },
        { "query": boxed, "variables": { "p": project } },
    ]);
    let body: serde_json::Value = app
        .http
        .post(app.url("/graphql"))
        .json(&batch)
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let of_box = |i: usize| {
        let b = &body[i]["data"]["project"]["slices"]["nodes"][0]["boxes"]["nodes"][0];
        (b["progress"].as_f64(), b["tasks"]["totalCount"].as_i64())
    };
    assert_eq!(of_box(0), (Some(50.0), Some(2)), "{body}");
    assert!(body[1]["errors"].is_null(), "{body}");
    assert_eq!(of_box(2), (Some(0.0), Some(1)), "{body}");
}
