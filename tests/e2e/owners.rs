//! An organization always keeps at least one OWNER.

use crust_e2e::{error_code, TestApp};
use serde_json::json;

const DEMOTE: &str = "mutation($o: ID!, $u: ID!) { updateOrganizationMember(input: {organizationId: $o, userId: $u, role: ADMIN}) { member { role } } }";
const REMOVE: &str = "mutation($o: ID!, $u: ID!) { removeOrganizationMember(input: {organizationId: $o, userId: $u}) { removedUserId } }";
const OWNERS: &str =
    "query($o: ID!) { organization(id: $o) { members { nodes { role user { id } } } } }";

#[tokio::test]
async fn the_last_owner_cannot_be_demoted_or_removed() {
    let app = TestApp::start().await;
    let owner = app.user("solo").await;
    let org = app.create_org(&owner, "Solo").await;
    for q in [DEMOTE, REMOVE] {
        let body = app
            .gql(Some(&owner.access), q, json!({ "o": org, "u": owner.id }))
            .await;
        assert_eq!(error_code(&body), Some("CONFLICT"), "{body}");
        assert!(body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("at least one OWNER"));
    }
    // With a second owner, the first may step down.
    let second = app.user("second").await;
    app.add_org_member(&owner, &org, &second, "OWNER").await;
    let body = app
        .ok(&owner, DEMOTE, json!({ "o": org, "u": owner.id }))
        .await;
    assert_eq!(body["updateOrganizationMember"]["member"]["role"], "ADMIN");
    let body = app
        .gql(
            Some(&second.access),
            REMOVE,
            json!({ "o": org, "u": second.id }),
        )
        .await;
    assert_eq!(error_code(&body), Some("CONFLICT"));
}

/// Holds every membership row of `org` locked until `waiting` other backends of the
/// test database wait on a lock, then lets them all go at once: the requests sent
/// meanwhile are certain to overlap.
fn hold_memberships_until(app: &TestApp, org: &str, waiting: i64) -> std::thread::JoinHandle<()> {
    use diesel::prelude::*;
    let (mut holder, mut watcher) = (app.db.connect(), app.db.connect());
    let org = org.to_owned();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        holder
            .transaction::<_, diesel::result::Error, _>(|c| {
                diesel::sql_query("SELECT 1 FROM memberships WHERE org_id = $1::uuid FOR UPDATE")
                    .bind::<diesel::sql_types::Text, _>(&org)
                    .execute(c)?;
                locked_tx.send(()).unwrap();
                let started = std::time::Instant::now();
                loop {
                    let n = crust_e2e::db::texts(
                        &mut watcher,
                        "SELECT count(*)::text AS v FROM pg_stat_activity \
                         WHERE datname = current_database() AND wait_event_type = 'Lock' AND $1 = $1",
                        "",
                    );
                    if n.first().and_then(|v| v.parse::<i64>().ok()).unwrap_or(0) >= waiting {
                        return Ok(());
                    }
                    assert!(
                        started.elapsed() < std::time::Duration::from_secs(20),
                        "the requests never met at the lock"
                    );
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
            })
            .unwrap();
    });
    locked_rx.recv().unwrap();
    handle
}

#[tokio::test]
async fn two_owners_demoting_each_other_at_once_leave_one_owner() {
    let app = TestApp::start().await;
    let a = app.user("a").await;
    let b = app.user("b").await;
    let org = app.create_org(&a, "Race").await;
    app.add_org_member(&a, &org, &b, "OWNER").await;
    for _ in 0..3 {
        // Both try to step down while the membership rows are held, so both are in
        // flight together when they are let go: the locks must let exactly one through.
        let gate = hold_memberships_until(&app, &org, 2);
        let (ra, rb) = tokio::join!(
            app.gql(Some(&a.access), DEMOTE, json!({ "o": org, "u": a.id })),
            app.gql(Some(&b.access), DEMOTE, json!({ "o": org, "u": b.id })),
        );
        gate.join().unwrap();
        let refused: Vec<_> = [&ra, &rb]
            .iter()
            .filter_map(|r| error_code(r).map(str::to_owned))
            .collect();
        assert_eq!(refused, ["CONFLICT"], "exactly one is refused: {ra} {rb}");
        let members = app.gql(Some(&a.access), OWNERS, json!({ "o": org })).await;
        let owners = members["data"]["organization"]["members"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["role"] == "OWNER")
            .count();
        assert_eq!(owners, 1, "{members}");
        // Restore two owners for the next round.
        let current_owner = if ra["errors"].is_null() { &b } else { &a };
        let other = if ra["errors"].is_null() { &a } else { &b };
        app.ok(current_owner, "mutation($o: ID!, $u: ID!) { updateOrganizationMember(input: {organizationId: $o, userId: $u, role: OWNER}) { member { role } } }",
            json!({ "o": org, "u": other.id })).await;
    }
}

#[tokio::test]
async fn an_admin_cannot_touch_owners() {
    let app = TestApp::start().await;
    let owner = app.user("owner").await;
    let admin = app.user("admin").await;
    let org = app.create_org(&owner, "Org").await;
    app.add_org_member(&owner, &org, &admin, "ADMIN").await;
    for q in [DEMOTE, REMOVE] {
        let body = app
            .gql(Some(&admin.access), q, json!({ "o": org, "u": owner.id }))
            .await;
        assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    }
    let body = app
        .gql(Some(&admin.access), "mutation($o: ID!, $u: ID!) { updateOrganizationMember(input: {organizationId: $o, userId: $u, role: OWNER}) { member { role } } }",
            json!({ "o": org, "u": admin.id }))
        .await;
    assert_eq!(
        error_code(&body),
        Some("FORBIDDEN"),
        "no self-promotion: {body}"
    );
}

#[tokio::test]
async fn removing_a_member_removes_their_access_inside_the_org() {
    let app = TestApp::start().await;
    let owner = app.user("owner").await;
    let member = app.user("member").await;
    let org = app.create_org(&owner, "Org").await;
    app.add_org_member(&owner, &org, &member, "MEMBER").await;
    let p = app
        .create_project(&owner, &org, "MEMBERS", "CONFIDENTIAL")
        .await;
    app.add_project_member(&owner, &p, &member, "EDITOR").await;
    let t = app.create_task(&owner, &p, None, "CONFIDENTIAL").await;
    app.grant(&owner, &t, &member, "EDIT").await;
    app.ok(&owner, "mutation($t: ID!, $u: ID!) { updateTask(input: {taskId: $t, assigneeIds: [$u]}) { task { id } } }", json!({ "t": t, "u": member.id })).await;
    app.ok(&owner, REMOVE, json!({ "o": org, "u": member.id }))
        .await;
    // Re-adding them does not bring back the old project role, grant or assignment.
    app.add_org_member(&owner, &org, &member, "MEMBER").await;
    let body = app
        .gql(
            Some(&member.access),
            "query($t: ID!) { task(id: $t) { id } }",
            json!({ "t": t }),
        )
        .await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"));
    let task = app
        .ok(
            &owner,
            "query($t: ID!) { task(id: $t) { assignees { id } grants { user { id } } } }",
            json!({ "t": t }),
        )
        .await;
    assert_eq!(task["task"]["assignees"], json!([]));
    assert_eq!(task["task"]["grants"], json!([]));
}
