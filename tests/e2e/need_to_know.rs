//! SECRET items keep someone who can manage their access list, whatever path would
//! take the last one away; only those who could manage a SECRET item may create one;
//! nobody raises their own grant; assignments never point at hidden tasks.

use crust_e2e::scenario::Scenario;
use crust_e2e::{error_code, Session, TestApp};
use serde_json::{json, Value};

struct Org {
    app: TestApp,
    org: String,
    owner: Session,
    admin: Session,
    alice: Session,
    bob: Session,
}

async fn org() -> Org {
    let app = TestApp::start().await;
    let w = Scenario::new(&app)
        .await
        .with_member("admin", "ADMIN")
        .await
        .with_member("alice", "MEMBER")
        .await
        .with_member("bob", "MEMBER")
        .await;
    let (org, owner) = (w.org.clone(), w.owner.clone());
    let (admin, alice, bob) = (
        w.user("admin").clone(),
        w.user("alice").clone(),
        w.user("bob").clone(),
    );
    drop(w);
    Org {
        app,
        org,
        owner,
        admin,
        alice,
        bob,
    }
}

async fn send(o: &Org, who: &Session, query: &str, vars: Value) -> Value {
    o.app.gql(Some(&who.access), query, vars).await
}

fn conflict(body: &Value, what: &str) {
    assert_eq!(error_code(body), Some("CONFLICT"), "{what}: {body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("SECRET item"), "{message}");
}

const REMOVE_PM: &str = "mutation($p: ID!, $u: ID!) { removeProjectMember(input: {projectId: $p, userId: $u}) { removedUserId } }";
const SET_PM: &str = "mutation($p: ID!, $u: ID!, $r: ProjectRole!) { addProjectMember(input: {projectId: $p, userId: $u, role: $r}) { member { role } } }";
const REMOVE_OM: &str = "mutation($o: ID!, $u: ID!) { removeOrganizationMember(input: {organizationId: $o, userId: $u}) { removedUserId } }";
const SET_OM: &str = "mutation($o: ID!, $u: ID!, $r: OrgRole!) { updateOrganizationMember(input: {organizationId: $o, userId: $u, role: $r}) { member { role } } }";

#[tokio::test]
async fn a_secret_project_keeps_a_manager() {
    let o = org().await;
    // Alice creates a SECRET project: she is its only MANAGER; Bob is an EDITOR on it.
    let p = o
        .app
        .create_project(&o.alice, &o.org, "MEMBERS", "SECRET")
        .await;
    o.app
        .add_project_member(&o.alice, &p, &o.bob, "EDITOR")
        .await;
    conflict(
        &send(&o, &o.alice, REMOVE_PM, json!({ "p": p, "u": o.alice.id })).await,
        "leaving it",
    );
    conflict(
        &send(
            &o,
            &o.alice,
            SET_PM,
            json!({ "p": p, "u": o.alice.id, "r": "VIEWER" }),
        )
        .await,
        "stepping down",
    );
    conflict(
        &send(
            &o,
            &o.admin,
            REMOVE_OM,
            json!({ "o": o.org, "u": o.alice.id }),
        )
        .await,
        "removing her from the org",
    );
    conflict(
        &send(
            &o,
            &o.admin,
            SET_OM,
            json!({ "o": o.org, "u": o.alice.id, "r": "GUEST" }),
        )
        .await,
        "making her a guest",
    );
    conflict(
        &send(
            &o,
            &o.alice,
            REMOVE_OM,
            json!({ "o": o.org, "u": o.alice.id }),
        )
        .await,
        "leaving the org",
    );
    // With a second manager, each of these works.
    o.app
        .add_project_member(&o.alice, &p, &o.bob, "MANAGER")
        .await;
    let body = send(&o, &o.alice, REMOVE_PM, json!({ "p": p, "u": o.alice.id })).await;
    assert!(body["errors"].is_null(), "{body}");
}

#[tokio::test]
async fn a_secret_task_keeps_someone_who_manages_it() {
    let o = org().await;
    // An ORGANIZATION project whose SECRET task lists only the org ADMIN (manager by
    // org role, not by membership) and Bob (VIEW).
    let p = o
        .app
        .create_project(&o.owner, &o.org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    let t = o.app.create_task(&o.admin, &p, None, "SECRET").await;
    o.app.grant(&o.admin, &t, &o.bob, "VIEW").await;
    let revoke = "mutation($t: ID!, $u: ID!) { revokeTaskAccess(input: {taskId: $t, userId: $u}) { revokedUserId } }";
    conflict(
        &send(&o, &o.admin, revoke, json!({ "t": t, "u": o.admin.id })).await,
        "the admin delisting themselves",
    );
    conflict(
        &send(
            &o,
            &o.owner,
            SET_OM,
            json!({ "o": o.org, "u": o.admin.id, "r": "MEMBER" }),
        )
        .await,
        "demoting the admin",
    );
    // Making the project SECRET would take the admin's implied MANAGER rights away.
    let secret = "mutation($p: ID!) { updateProject(input: {projectId: $p, classification: SECRET}) { project { id } } }";
    conflict(
        &send(&o, &o.owner, secret, json!({ "p": p })).await,
        "making the project SECRET",
    );
    // Bob can be delisted: the admin still manages the task.
    let body = send(&o, &o.admin, revoke, json!({ "t": t, "u": o.bob.id })).await;
    assert!(body["errors"].is_null(), "{body}");
}

#[tokio::test]
async fn only_project_managers_create_secret_tasks() {
    let o = org().await;
    let p = o
        .app
        .create_project(&o.owner, &o.org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    o.app
        .add_project_member(&o.owner, &p, &o.bob, "EDITOR")
        .await;
    let create = "mutation($p: ID!, $c: Classification!) { createTask(input: {projectId: $p, title: \"T\", classification: $c}) { task { id } } }";
    assert_eq!(
        error_code(&send(&o, &o.bob, create, json!({ "p": p, "c": "SECRET" })).await),
        Some("FORBIDDEN")
    );
    assert!(
        send(&o, &o.bob, create, json!({ "p": p, "c": "CONFIDENTIAL" })).await["errors"].is_null()
    );
}

#[tokio::test]
async fn resending_secret_does_not_raise_ones_own_grant() {
    let o = org().await;
    let p = o
        .app
        .create_project(&o.owner, &o.org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    o.app
        .add_project_member(&o.owner, &p, &o.bob, "EDITOR")
        .await;
    let t = o.app.create_task(&o.owner, &p, None, "SECRET").await;
    o.app.grant(&o.owner, &t, &o.bob, "VIEW").await;
    // Bob (EDITOR, listed with VIEW) edits the task and says SECRET again.
    let upd = "mutation($t: ID!) { updateTask(input: {taskId: $t, title: \"Edited\", classification: SECRET}) { task { title } } }";
    let body = send(&o, &o.bob, upd, json!({ "t": t })).await;
    assert!(body["errors"].is_null(), "{body}");
    let grants = o
        .app
        .ok(
            &o.owner,
            "query($t: ID!) { task(id: $t) { grants { access user { id } } } }",
            json!({ "t": t }),
        )
        .await;
    let bob = grants["task"]["grants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["user"]["id"] == o.bob.id.as_str())
        .cloned();
    assert_eq!(bob.unwrap()["access"], "VIEW");
}

#[tokio::test]
async fn assignees_must_be_able_to_see_the_task() {
    let o = org().await;
    let guest = o.app.user("guest").await;
    o.app
        .add_org_member(&o.owner, &o.org, &guest, "GUEST")
        .await;
    let p = o
        .app
        .create_project(&o.owner, &o.org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    let secret = o.app.create_task(&o.owner, &p, None, "SECRET").await;
    let open = o.app.create_task(&o.owner, &p, None, "CONFIDENTIAL").await;
    let assign = "mutation($t: ID!, $u: ID!) { updateTask(input: {taskId: $t, assigneeIds: [$u]}) { task { assignees { id } } } }";
    let body = send(
        &o,
        &o.owner,
        assign,
        json!({ "t": secret, "u": o.alice.id }),
    )
    .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    let body = send(&o, &o.owner, assign, json!({ "t": open, "u": guest.id })).await;
    assert_eq!(
        error_code(&body),
        Some("BAD_USER_INPUT"),
        "a guest without a grant: {body}"
    );
    o.app.grant(&o.owner, &open, &guest, "EDIT").await;
    assert!(
        send(&o, &o.owner, assign, json!({ "t": open, "u": guest.id })).await["errors"].is_null()
    );
    assert!(
        send(&o, &o.owner, assign, json!({ "t": open, "u": o.alice.id })).await["errors"].is_null()
    );
    // Revoking the grant that let the guest see the task ends their assignment too;
    // alice, who sees the task as a member, stays assigned elsewhere.
    o.app.grant(&o.owner, &secret, &o.alice, "EDIT").await;
    assert!(send(
        &o,
        &o.owner,
        assign,
        json!({ "t": secret, "u": o.alice.id })
    )
    .await["errors"]
        .is_null());
    let both = "mutation($t: ID!, $a: ID!, $b: ID!) { updateTask(input: {taskId: $t, assigneeIds: [$a, $b]}) { task { id } } }";
    assert!(send(
        &o,
        &o.owner,
        both,
        json!({ "t": open, "a": o.alice.id, "b": guest.id })
    )
    .await["errors"]
        .is_null());
    let revoke = "mutation($t: ID!, $u: ID!) { revokeTaskAccess(input: {taskId: $t, userId: $u}) { revokedUserId } }";
    for (task, who) in [(&secret, &o.alice), (&open, &guest)] {
        let body = send(&o, &o.owner, revoke, json!({ "t": task, "u": who.id })).await;
        assert!(body["errors"].is_null(), "{body}");
    }
    let assignees = "query($t: ID!) { task(id: $t) { assignees { id } } }";
    let on_secret = send(&o, &o.owner, assignees, json!({ "t": secret })).await;
    assert_eq!(
        on_secret["data"]["task"]["assignees"],
        json!([]),
        "{on_secret}"
    );
    let on_open = send(&o, &o.owner, assignees, json!({ "t": open })).await;
    assert_eq!(
        on_open["data"]["task"]["assignees"],
        json!([{ "id": o.alice.id }]),
        "{on_open}"
    );
}
