//! Who may attach, read and delete; deletion shreds; audit; nested lists' statements.

use crust_e2e::scenario::Scenario;
use crust_e2e::{error_code, TestApp};
use serde_json::json;

use super::*;

const DELETE: &str =
    "mutation($a: ID!) { deleteAttachment(input: {attachmentId: $a}) { deletedAttachmentId } }";

#[tokio::test]
async fn only_editors_upload_and_hidden_or_foreign_files_answer_like_missing_ones() {
    let app = TestApp::start().await;
    let w = Scenario::new(&app)
        .await
        .with_member("guest", "GUEST")
        .await
        .with_project("ORGANIZATION", "CONFIDENTIAL")
        .await
        .with_project_member("viewer", "VIEWER")
        .await
        .with_project_member("editor", "EDITOR")
        .await
        .with_task("CONFIDENTIAL")
        .await
        .with_task("SECRET")
        .await;
    let (task, secret) = (w.task_id().to_owned(), w.task_ids()[1].clone());
    let outsider = app.user("outsider").await;
    app.create_org(&outsider, "Elsewhere").await;

    let id = uploaded(&app, w.user("editor"), &task, "e.png", png(500, 1)).await;
    let secret_file = uploaded(&app, &w.owner, &secret, "s.png", png(500, 2)).await;

    // A VIEWER may read but not attach.
    let res = upload(&app, w.user("viewer"), &task, "v.png", png(500, 3)).await;
    assert_eq!(res.status(), 403);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    assert_eq!(
        download(&app, w.user("viewer"), &id, None).await.status(),
        200
    );

    // Missing, foreign, guest without a grant, SECRET without being on its list: the
    // same 404, body and all, for upload and download.
    let missing = uuid::Uuid::new_v4().to_string();
    let reference_up = upload(&app, &outsider, &missing, "x.png", png(100, 1)).await;
    assert_eq!(reference_up.status(), 404);
    let reference_up = reference_up.text().await.unwrap();
    let reference_down = download(&app, &outsider, &missing, None).await;
    assert_eq!(reference_down.status(), 404);
    let reference_down = reference_down.text().await.unwrap();
    for (who, t, file) in [
        (&outsider, &task, &id),
        (w.user("guest"), &task, &id),
        (w.user("editor"), &secret, &secret_file),
        (w.user("viewer"), &secret, &secret_file),
    ] {
        let res = upload(&app, who, t, "x.png", png(100, 1)).await;
        assert_eq!(res.status(), 404, "{}", who.email);
        assert_eq!(res.text().await.unwrap(), reference_up);
        let res = download(&app, who, file, None).await;
        assert_eq!(res.status(), 404, "{}", who.email);
        assert_eq!(res.text().await.unwrap(), reference_down);
    }
    // Not signed in: 401, nothing stored.
    let res = app
        .http
        .post(format!("{}/tasks/{task}/attachments?name=a.png", app.base))
        .body(png(100, 1))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = app
        .http
        .get(format!("{}/attachments/{id}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // A guest granted the task reads its files.
    app.grant(&w.owner, &task, w.user("guest"), "VIEW").await;
    assert_eq!(
        download(&app, w.user("guest"), &id, None).await.status(),
        200
    );
    // Nested lists show the SECRET task's file to no one off its list.
    let d = app
        .gql(
            Some(&w.user("editor").access),
            "query($t: ID!) { task(id: $t) { attachments { totalCount } } }",
            json!({ "t": secret }),
        )
        .await;
    assert_eq!(error_code(&d), Some("NOT_FOUND"), "{d}");
    assert_eq!(blobs(&app).len(), 2);
}

#[tokio::test]
async fn uploaders_and_managers_delete_and_deleting_shreds_the_file() {
    let app = TestApp::start().await;
    let w = Scenario::new(&app)
        .await
        .with_project("ORGANIZATION", "CONFIDENTIAL")
        .await
        .with_project_member("editor", "EDITOR")
        .await
        .with_project_member("other", "EDITOR")
        .await
        .with_task("CONFIDENTIAL")
        .await
        .with_task("CONFIDENTIAL")
        .await;
    let task = w.task_id().to_owned();
    let mine = uploaded(&app, w.user("editor"), &task, "mine.png", png(70_000, 1)).await;
    let theirs = uploaded(&app, w.user("editor"), &task, "theirs.png", png(70_000, 2)).await;
    let (blob_mine, blob_theirs) = (blob_of(&app, &mine), blob_of(&app, &theirs));

    // Another editor may not delete it.
    let d = app
        .gql(Some(&w.user("other").access), DELETE, json!({ "a": mine }))
        .await;
    assert_eq!(error_code(&d), Some("FORBIDDEN"), "{d}");
    // Its uploader may: the row (with the data key) goes at once, the blob right after.
    let d = app.ok(w.user("editor"), DELETE, json!({ "a": mine })).await;
    assert_eq!(d["deleteAttachment"]["deletedAttachmentId"], mine.as_str());
    assert_eq!(
        download(&app, w.user("editor"), &mine, None).await.status(),
        404
    );
    assert_eq!(
        one(
            &app,
            "SELECT count(*)::text AS v FROM attachments WHERE id = $1::uuid",
            &mine
        ),
        "0"
    );
    eventually("the deleted file's blob to go", || !blob_mine.exists()).await;
    // The project MANAGER (the owner made it) may delete anyone's.
    app.ok(&w.owner, DELETE, json!({ "a": theirs })).await;
    eventually("the second blob to go", || !blob_theirs.exists()).await;

    // Deleting a task or a project removes its files' keys, then their blobs.
    let on_task = uploaded(&app, &w.owner, &task, "t.png", png(1000, 3)).await;
    let on_other = uploaded(&app, &w.owner, &w.task_ids()[1], "p.png", png(1000, 4)).await;
    let (b1, b2) = (blob_of(&app, &on_task), blob_of(&app, &on_other));
    app.ok(
        &w.owner,
        "mutation($t: ID!) { deleteTask(input: {taskId: $t}) { deletedTaskId } }",
        json!({ "t": task }),
    )
    .await;
    assert_eq!(
        one(
            &app,
            "SELECT count(*)::text AS v FROM attachments WHERE id = $1::uuid",
            &on_task
        ),
        "0"
    );
    eventually("the deleted task's blob to go", || !b1.exists()).await;
    app.ok(
        &w.owner,
        "mutation($p: ID!) { deleteProject(input: {projectId: $p}) { deletedProjectId } }",
        json!({ "p": w.project() }),
    )
    .await;
    assert_eq!(rows(&app, "attachments"), "0");
    eventually("the deleted project's blob to go", || !b2.exists()).await;
    assert!(blobs(&app).is_empty(), "{:?}", blobs(&app));
    assert_eq!(rows(&app, "blob_purges"), "0");
}

#[tokio::test]
async fn uploads_downloads_and_deletes_are_audited_and_secret_downloads_are_need_to_know() {
    let app = TestApp::start().await;
    let w = Scenario::new(&app)
        .await
        .with_project("ORGANIZATION", "CONFIDENTIAL")
        .await
        .with_task("CONFIDENTIAL")
        .await
        .with_task("SECRET")
        .await;
    let plain = uploaded(&app, &w.owner, w.task_id(), "a.png", png(100, 1)).await;
    let secret = uploaded(&app, &w.owner, &w.task_ids()[1], "b.png", png(100, 2)).await;
    download(&app, &w.owner, &plain, None)
        .await
        .bytes()
        .await
        .unwrap();
    download(&app, &w.owner, &secret, None)
        .await
        .bytes()
        .await
        .unwrap();
    app.ok(&w.owner, DELETE, json!({ "a": plain })).await;
    let events = |action: &str| {
        let mut conn = app.db.connect();
        crust_e2e::db::texts(
            &mut conn,
            "SELECT target_type || ' ' || target_id || ' ' || need_to_know || ' ' || coalesce(variables, '') AS v FROM audit_events WHERE action = $1 ORDER BY seq",
            action,
        )
    };
    let up = events("uploadAttachment");
    assert_eq!(up.len(), 2, "{up:?}");
    assert!(
        up[0].starts_with(&format!("Task {} false", w.task_id())),
        "{up:?}"
    );
    assert!(
        up[1].starts_with(&format!("Task {} true", w.task_ids()[1])),
        "{up:?}"
    );
    let down = events("downloadAttachment");
    assert_eq!(down.len(), 2, "{down:?}");
    assert!(
        down[0].contains(" false ") && down[0].contains(&plain),
        "{down:?}"
    );
    // The SECRET task's download is a need-to-know read.
    assert!(
        down[1].contains(" true ") && down[1].contains(&secret),
        "{down:?}"
    );
    let deleted = events("deleteAttachment");
    assert_eq!(deleted.len(), 1, "{deleted:?}");
    assert!(
        deleted[0].starts_with(&format!("Attachment {plain}")),
        "{deleted:?}"
    );
}

#[tokio::test]
async fn nested_attachment_lists_cost_a_fixed_number_of_statements() {
    let app = TestApp::start_with(|c| c.diagnostics.report_sql_statements = true).await;
    let w = Scenario::new(&app)
        .await
        .with_project("ORGANIZATION", "CONFIDENTIAL")
        .await;
    let mut w = w;
    for _ in 0..6 {
        w = w.with_task("CONFIDENTIAL").await;
    }
    let tasks = w.task_ids().to_vec();
    const Q: &str = "query($p: ID!) { project(id: $p) { tasks(first: 50) { nodes { id attachments { totalCount nodes { name uploader { email } } } } } } }";
    uploaded(&app, &w.owner, &tasks[0], "one.png", png(100, 1)).await;
    let count = || async {
        let body = app
            .gql(Some(&w.owner.access), Q, json!({ "p": w.project() }))
            .await;
        assert!(body["errors"].is_null(), "{body}");
        body["extensions"]["sqlStatements"].as_u64().unwrap()
    };
    let few = count().await;
    for (i, t) in tasks.iter().enumerate() {
        for j in 0..3 {
            uploaded(
                &app,
                &w.owner,
                t,
                &format!("{i}-{j}.png"),
                png(100, (i * 3 + j) as u64),
            )
            .await;
        }
    }
    let many = count().await;
    assert_eq!(
        few, many,
        "statements must not grow with the number of files"
    );
}

#[tokio::test]
async fn secret_files_stay_hidden_through_fragments_aliases_batches_and_get() {
    let app = TestApp::start_with(|c| c.graphql.max_batch = 3).await;
    let w = Scenario::new(&app)
        .await
        .with_project("ORGANIZATION", "CONFIDENTIAL")
        .await
        .with_project_member("editor", "EDITOR")
        .await
        .with_task("CONFIDENTIAL")
        .await
        .with_task("SECRET")
        .await;
    uploaded(&app, &w.owner, w.task_id(), "shared.png", png(100, 1)).await;
    let secret = uploaded(
        &app,
        &w.owner,
        &w.task_ids()[1],
        "merger-plan.png",
        png(100, 2),
    )
    .await;
    let editor = w.user("editor");
    const Q: &str = "query($p: ID!) { project(id: $p) { tasks(first: 50) { nodes { ...F ... on Task { x: attachments { nodes { id name } } } } } } }
        fragment F on Task { a: attachments { totalCount nodes { name } } b: attachments(first: 1) { totalCount } }";
    let check = |body: &serde_json::Value| {
        assert!(body["errors"].is_null(), "{body}");
        let text = body.to_string();
        assert!(text.contains("shared.png"), "{text}");
        assert!(
            !text.contains("merger-plan") && !text.contains(&secret),
            "{text}"
        );
        let total: u64 = body["data"]["project"]["tasks"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                t["a"]["totalCount"].as_u64().unwrap() + t["b"]["totalCount"].as_u64().unwrap()
            })
            .sum();
        assert_eq!(total, 2, "only the visible file counts: {text}");
    };
    let vars = json!({ "p": w.project() });
    check(&app.gql(Some(&editor.access), Q, vars.clone()).await);
    // Over GET.
    let got: serde_json::Value = app
        .http
        .get(app.url("/graphql"))
        .query(&[("query", Q), ("variables", &vars.to_string())])
        .bearer_auth(&editor.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    check(&got);
    // In a batch, beside an aliased delete of the SECRET file: NOT_FOUND, and it stays.
    let batch: serde_json::Value = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(&editor.access)
        .json(&json!([
            { "query": Q, "variables": vars },
            { "query": "mutation($a: ID!) { gone: deleteAttachment(input: {attachmentId: $a}) { deletedAttachmentId } }", "variables": { "a": secret } },
        ]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    check(&batch[0]);
    assert_eq!(error_code(&batch[1]), Some("NOT_FOUND"), "{batch}");
    assert_eq!(
        one(
            &app,
            "SELECT count(*)::text AS v FROM attachments WHERE id = $1::uuid",
            &secret
        ),
        "1"
    );
}
