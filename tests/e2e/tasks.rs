//! Task behaviour over the API: status/progress consistency, assignees, validation,
//! pagination.

use crust_e2e::{error_code, TestApp};
use serde_json::json;

const UPDATE: &str = "mutation($i: UpdateTaskInput!) { updateTask(input: $i) { task { status progress dueDate assignees { id } } } }";

#[tokio::test]
async fn status_and_progress_stay_consistent() {
    let app = TestApp::start().await;
    let owner = app.user("owner").await;
    let org = app.create_org(&owner, "Org").await;
    let p = app
        .create_project(&owner, &org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    let t = app.create_task(&owner, &p, None, "CONFIDENTIAL").await;
    let upd = |i: serde_json::Value| {
        let mut i = i;
        i["taskId"] = json!(t);
        app.gql(Some(&owner.access), UPDATE, json!({ "i": i }))
    };
    let b = upd(json!({ "progress": 40 })).await;
    assert_eq!(b["data"]["updateTask"]["task"]["status"], "IN_PROGRESS");
    let b = upd(json!({ "status": "DONE" })).await;
    assert_eq!(b["data"]["updateTask"]["task"]["progress"], 100);
    let b = upd(json!({ "status": "NOT_STARTED" })).await;
    assert_eq!(b["data"]["updateTask"]["task"]["progress"], 0);
    let b = upd(json!({ "status": "DONE", "progress": 30 })).await;
    assert_eq!(error_code(&b), Some("BAD_USER_INPUT"));
    let b = upd(json!({ "progress": 101 })).await;
    assert_eq!(error_code(&b), Some("BAD_USER_INPUT"));
    let b = upd(json!({ "dueDate": "2027-01-31" })).await;
    assert_eq!(b["data"]["updateTask"]["task"]["dueDate"], "2027-01-31");
    let b = upd(json!({ "dueDate": null })).await;
    assert!(b["data"]["updateTask"]["task"]["dueDate"].is_null());
}

#[tokio::test]
async fn assignees_must_be_org_members() {
    let app = TestApp::start().await;
    let owner = app.user("owner").await;
    let member = app.user("member").await;
    let stranger = app.user("stranger").await;
    let org = app.create_org(&owner, "Org").await;
    app.add_org_member(&owner, &org, &member, "MEMBER").await;
    let p = app
        .create_project(&owner, &org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    let t = app.create_task(&owner, &p, None, "CONFIDENTIAL").await;
    let b = app
        .ok(
            &owner,
            UPDATE,
            json!({ "i": { "taskId": t, "assigneeIds": [member.id, member.id] } }),
        )
        .await;
    assert_eq!(
        b["updateTask"]["task"]["assignees"],
        json!([{ "id": member.id }])
    );
    let b = app
        .gql(
            Some(&owner.access),
            UPDATE,
            json!({ "i": { "taskId": t, "assigneeIds": [stranger.id] } }),
        )
        .await;
    assert_eq!(error_code(&b), Some("NOT_FOUND"));
    let b = app
        .ok(
            &owner,
            UPDATE,
            json!({ "i": { "taskId": t, "assigneeIds": [] } }),
        )
        .await;
    assert_eq!(b["updateTask"]["task"]["assignees"], json!([]));
}

#[tokio::test]
async fn structure_keeps_its_order_and_lists_paginate() {
    let app = TestApp::start().await;
    let owner = app.user("owner").await;
    let org = app.create_org(&owner, "Org").await;
    let p = app
        .create_project(&owner, &org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    let s = app.create_slice(&owner, &p, "Plan").await;
    let b = app.create_box(&owner, &s, "Todo").await;
    let mut ids = Vec::new();
    for _ in 0..7 {
        ids.push(app.create_task(&owner, &p, Some(&b), "CONFIDENTIAL").await);
    }
    let q = "query($p: ID!, $after: String) { project(id: $p) { slices { nodes { boxes { nodes { tasks(first: 3, after: $after) {
               totalCount pageInfo { hasNextPage hasPreviousPage endCursor } nodes { id } } } } } } } }";
    let mut seen = Vec::new();
    let mut after = serde_json::Value::Null;
    loop {
        let d = app.ok(&owner, q, json!({ "p": p, "after": after })).await;
        let tasks = &d["project"]["slices"]["nodes"][0]["boxes"]["nodes"][0]["tasks"];
        assert_eq!(tasks["totalCount"], 7);
        for n in tasks["nodes"].as_array().unwrap() {
            seen.push(n["id"].as_str().unwrap().to_owned());
        }
        if tasks["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = tasks["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen, ids, "every task once, in creation (position) order");
    let bad = app
        .gql(
            Some(&owner.access),
            q,
            json!({ "p": p, "after": "garbage" }),
        )
        .await;
    assert_eq!(error_code(&bad), Some("BAD_USER_INPUT"));
}

#[tokio::test]
async fn input_is_validated_with_clear_messages() {
    let app = TestApp::start().await;
    let owner = app.user("owner").await;
    let org = app.create_org(&owner, "Org").await;
    let cases = [
        (
            json!({ "organizationId": org, "name": "x".repeat(201) }),
            "at most 200 characters",
        ),
        (
            json!({ "organizationId": org, "name": "ok", "startDate": "2027-02-01", "dueDate": "2027-01-01" }),
            "dueDate",
        ),
        (
            json!({ "organizationId": org, "name": "ok", "description": "d".repeat(100_001) }),
            "at most 100000",
        ),
    ];
    for (input, expected) in cases {
        let b = app
            .gql(
                Some(&owner.access),
                "mutation($i: CreateProjectInput!) { createProject(input: $i) { project { id } } }",
                json!({ "i": input }),
            )
            .await;
        assert_eq!(error_code(&b), Some("BAD_USER_INPUT"), "{b}");
        assert!(
            b["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains(expected),
            "{b}"
        );
    }
    // A description at the limit is stored whole, not truncated.
    let long = "d".repeat(100_000);
    let b = app
        .ok(&owner, "mutation($i: CreateProjectInput!) { createProject(input: $i) { project { description } } }",
            json!({ "i": { "organizationId": org, "name": "Long", "description": long } }))
        .await;
    assert_eq!(
        b["createProject"]["project"]["description"]
            .as_str()
            .unwrap()
            .len(),
        100_000
    );
}
