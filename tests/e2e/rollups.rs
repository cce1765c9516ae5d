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
