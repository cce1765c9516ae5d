//! When a task becomes DONE, the assignees of its successors who may see them are told:
//! in the app with the task, by email with only a link.

use crust_e2e::mail::SmtpPeer;
use serde_json::json;

use super::{app_with, outbox_drained};

const DEPEND: &str = "mutation($t: ID!, $d: ID!) { addTaskDependency(input: {taskId: $t, dependsOnTaskId: $d}) { task { id } } }";
const ASSIGN: &str = "mutation($t: ID!, $a: [ID!]!) { updateTask(input: {taskId: $t, assigneeIds: $a}) { task { id } } }";
const DONE: &str =
    "mutation($t: ID!) { updateTask(input: {taskId: $t, status: DONE}) { task { status } } }";
const INBOX: &str =
    "{ me { notifications(first: 10) { totalCount nodes { id kind readAt task { id title } } } } }";

#[tokio::test]
async fn finishing_a_task_tells_the_assignees_of_its_successors_who_may_see_them() {
    let peer = SmtpPeer::start();
    let app = app_with(&peer).await;
    let owner = app.user("owner").await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    let quiet = app.user("quiet").await;
    let org = app.create_org(&owner, "Acme").await;
    for m in [&bob, &carol, &quiet] {
        app.add_org_member(&owner, &org, m, "MEMBER").await;
    }
    let project = app
        .create_project(&owner, &org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    let first = app
        .create_task(&owner, &project, None, "CONFIDENTIAL")
        .await;
    let next = app
        .create_task(&owner, &project, None, "CONFIDENTIAL")
        .await;
    let secret = app.create_task(&owner, &project, None, "SECRET").await;
    app.ok(&owner, "mutation($t: ID!, $title: String!) { updateTask(input: {taskId: $t, title: $title}) { task { id } } }", json!({ "t": next, "title": "Pour the concrete" })).await;
    app.ok(&owner, DEPEND, json!({ "t": next, "d": first }))
        .await;
    app.ok(&owner, DEPEND, json!({ "t": secret, "d": first }))
        .await;
    app.ok(
        &owner,
        ASSIGN,
        json!({ "t": next, "a": [bob.id, quiet.id] }),
    )
    .await;
    // Carol was on the SECRET task's list and assigned, then taken off the list.
    app.grant(&owner, &secret, &carol, "EDIT").await;
    app.ok(&owner, ASSIGN, json!({ "t": secret, "a": [carol.id] }))
        .await;
    app.ok(&owner, "mutation($t: ID!, $u: ID!) { revokeTaskAccess(input: {taskId: $t, userId: $u}) { revokedUserId } }", json!({ "t": secret, "u": carol.id })).await;
    // Quiet turned the emails off.
    let settings = app.ok(&quiet, "mutation { updateNotificationSettings(input: {taskReadyEmail: false}) { settings { taskReadyEmail } } }", json!({})).await;
    assert_eq!(
        settings["updateNotificationSettings"]["settings"]["taskReadyEmail"],
        false
    );

    app.ok(&owner, DONE, json!({ "t": first })).await;

    let bob_inbox = app.ok(&bob, INBOX, json!({})).await;
    let n = &bob_inbox["me"]["notifications"];
    assert_eq!(n["totalCount"], 1, "{n}");
    assert_eq!(n["nodes"][0]["kind"], "TASK_READY");
    assert_eq!(
        n["nodes"][0]["task"]["title"], "Pour the concrete",
        "in the app, the task"
    );
    let mail = &peer.wait_for(&bob.email, 1).await[0];
    assert_eq!(mail.subject, "A task of yours is ready to start");
    assert_eq!(mail.link(), "https://app.crust.test/notifications");
    assert!(
        !mail.shows("Pour the concrete"),
        "the email carries no task data"
    );

    assert_eq!(
        app.ok(&quiet, INBOX, json!({})).await["me"]["notifications"]["totalCount"],
        1
    );
    let carol_inbox = app.ok(&carol, INBOX, json!({})).await;
    assert_eq!(
        carol_inbox["me"]["notifications"]["totalCount"], 0,
        "a task Carol cannot see tells her nothing"
    );
    outbox_drained(&app).await;
    assert!(peer.to(&quiet.email).is_empty(), "quiet chose no email");
    assert!(peer.to(&carol.email).is_empty());

    // Finishing it again while Bob has not read the news adds nothing.
    app.ok(&owner, "mutation($t: ID!) { updateTask(input: {taskId: $t, status: IN_PROGRESS, progress: 10}) { task { id } } }", json!({ "t": first })).await;
    app.ok(&owner, DONE, json!({ "t": first })).await;
    assert_eq!(
        app.ok(&bob, INBOX, json!({})).await["me"]["notifications"]["totalCount"],
        1
    );
    // Read: one, then all.
    let id = n["nodes"][0]["id"].clone();
    let marked = app
        .ok(
            &bob,
            "mutation($i: [ID!]) { markNotificationsRead(input: {ids: $i}) { marked } }",
            json!({ "i": [id] }),
        )
        .await;
    assert_eq!(marked["markNotificationsRead"]["marked"], 1);
    let unread = app
        .ok(
            &bob,
            "{ me { notifications(unreadOnly: true) { totalCount } } }",
            json!({}),
        )
        .await;
    assert_eq!(unread["me"]["notifications"]["totalCount"], 0);
    // Someone else's ids are ignored.
    let theirs = app
        .ok(
            &quiet,
            "mutation($i: [ID!]) { markNotificationsRead(input: {ids: $i}) { marked } }",
            json!({ "i": [n["nodes"][0]["id"]] }),
        )
        .await;
    assert_eq!(theirs["markNotificationsRead"]["marked"], 0);
    // The task becomes SECRET and Quiet is not on its list: neither the list, its
    // total, nor the count of "mark all read" tells of it any longer.
    app.ok(&owner, "mutation($t: ID!) { updateTask(input: {taskId: $t, classification: SECRET}) { task { id } } }", json!({ "t": next })).await;
    assert_eq!(
        app.ok(&quiet, INBOX, json!({})).await["me"]["notifications"]["totalCount"],
        0
    );
    let all = app
        .ok(
            &quiet,
            "mutation { markNotificationsRead(input: {}) { marked } }",
            json!({}),
        )
        .await;
    assert_eq!(all["markNotificationsRead"]["marked"], 0);
}

#[tokio::test]
async fn finishing_a_task_someone_may_not_see_tells_them_nothing() {
    let peer = SmtpPeer::start();
    let app = app_with(&peer).await;
    let owner = app.user("owner").await;
    let bob = app.user("bob").await;
    let org = app.create_org(&owner, "Acme").await;
    app.add_org_member(&owner, &org, &bob, "MEMBER").await;
    let project = app
        .create_project(&owner, &org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    let hidden = app.create_task(&owner, &project, None, "SECRET").await;
    let next = app
        .create_task(&owner, &project, None, "CONFIDENTIAL")
        .await;
    app.ok(&owner, DEPEND, json!({ "t": next, "d": hidden }))
        .await;
    app.ok(&owner, ASSIGN, json!({ "t": next, "a": [bob.id] }))
        .await;
    app.ok(&owner, DONE, json!({ "t": hidden })).await;
    assert_eq!(
        app.ok(&bob, INBOX, json!({})).await["me"]["notifications"]["totalCount"],
        0
    );
    outbox_drained(&app).await;
    assert!(peer.to(&bob.email).is_empty(), "no email either");
}
