//! Ending someone's access: `crust user offboard|deactivate|reactivate|list` and the
//! API's `deactivateMember`. Every token of the person is refused on the very next
//! request; their open work is handed over or listed; the last OWNER needs a successor.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crust_e2e::{error_code, Session, TestApp, TEST_PASSWORD};
use serde_json::{json, Value};

fn crust_user(app: &TestApp, args: &[&str]) -> (bool, String) {
    let args: Vec<&str> = std::iter::once("user")
        .chain(args.iter().copied())
        .collect();
    crust_e2e::run_crust(env!("CARGO_BIN_EXE_crust"), &app.db.url, &args)
}

async fn me(app: &TestApp, access: &str) -> Value {
    app.gql(Some(access), "{ me { id } }", json!({})).await
}

/// Everything a token of `who` can be presented to: the access token to GraphQL and to
/// the REST file routes, the refresh token to `refreshSession`.
async fn assert_every_token_refused(app: &TestApp, access: &[&str], refresh: &[&str]) {
    for token in access {
        let body = me(app, token).await;
        assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{body}");
        let res = app
            .http
            .get(format!("{}/attachments/{}", app.base, uuid::Uuid::new_v4()))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "the file routes still take the token");
    }
    for token in refresh {
        let body = app.refresh(token).await;
        assert!(
            body["data"]["refreshSession"].is_null() && body.get("errors").is_some(),
            "a refresh token still works: {body}"
        );
    }
}

async fn assign(app: &TestApp, who: &Session, task: &str, assignees: &[&str]) {
    app.ok(
        who,
        "mutation($i: UpdateTaskInput!) { updateTask(input: $i) { task { id } } }",
        json!({ "i": { "taskId": task, "assigneeIds": assignees } }),
    )
    .await;
}

async fn assignees(app: &TestApp, who: &Session, task: &str) -> Vec<String> {
    let d = app
        .ok(
            who,
            "query($t: ID!) { task(id: $t) { assignees { email } } }",
            json!({ "t": task }),
        )
        .await;
    d["task"]["assignees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["email"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn offboarding_refuses_every_token_at_once_and_hands_over_open_work() {
    let app = TestApp::start().await;
    let owner = app.user("owner").await;
    let leaver = app.user("leaver").await;
    let heir = app.user("heir").await;
    let org = app.create_org(&owner, "Acme").await;
    app.add_org_member(&owner, &org, &leaver, "ADMIN").await;
    app.add_org_member(&owner, &org, &heir, "MEMBER").await;
    let project = app
        .create_project(&owner, &org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    let open = app
        .create_task(&owner, &project, None, "CONFIDENTIAL")
        .await;
    let secret = app.create_task(&owner, &project, None, "SECRET").await;
    let done = app
        .create_task(&owner, &project, None, "CONFIDENTIAL")
        .await;
    app.grant(&owner, &secret, &leaver, "EDIT").await;
    for task in [&open, &secret, &done] {
        assign(&app, &owner, task, &[&leaver.id]).await;
    }
    app.ok(
        &owner,
        "mutation($i: UpdateTaskInput!) { updateTask(input: $i) { task { id } } }",
        json!({ "i": { "taskId": done, "status": "DONE" } }),
    )
    .await;
    // A second session (another device) and both sessions' tokens work before.
    let second =
        crust_e2e::session_from(&app.login(&leaver.email, TEST_PASSWORD).await["data"]["login"])
            .unwrap();
    for token in [&leaver.access, &second.access] {
        assert!(me(&app, token).await.get("errors").is_none());
    }

    // An invitation the leaver sent must not let anyone in after they are gone.
    app.ok(
        &leaver,
        "mutation($i: InviteToOrganizationInput!) { inviteToOrganization(input: $i) { email } }",
        json!({ "i": { "organizationId": org, "email": "accomplice@example.test", "role": "ADMIN" } }),
    )
    .await;

    let (ok, out) = crust_user(
        &app,
        &["offboard", &leaver.email, "--reassign-to", &heir.email],
    );
    assert!(ok, "{out}");
    assert!(out.contains("2 open session(s) ended"), "{out}");
    assert!(
        out.contains("1 open invitation(s) they sent revoked"),
        "{out}"
    );
    assert!(out.contains("removed from Acme (was ADMIN)"), "{out}");
    assert!(out.contains(&format!("reassigned task {open}")), "{out}");
    assert!(
        out.contains(&format!("left unassigned: task {secret}")) && out.contains("may not see"),
        "{out}"
    );
    assert!(
        !out.contains(&done.to_string()),
        "a DONE task is not open work: {out}"
    );
    assert!(
        out.contains("1 task(s) reassigned, 1 left unassigned"),
        "{out}"
    );

    // The very next request with any of their tokens is refused, and so is a new login.
    assert_every_token_refused(
        &app,
        &[&leaver.access, &second.access],
        &[&leaver.refresh, &second.refresh],
    )
    .await;
    let body = app.login(&leaver.email, TEST_PASSWORD).await;
    assert!(body["data"]["login"].is_null(), "{body}");

    // Open work went to the heir where they may see it; nothing of the leaver is left.
    assert_eq!(
        assignees(&app, &owner, &open).await,
        vec![heir.email.clone()]
    );
    assert!(assignees(&app, &owner, &secret).await.is_empty());
    let members = app
        .ok(
            &owner,
            "query($o: ID!) { organization(id: $o) { members { nodes { user { email } } } } }",
            json!({ "o": org }),
        )
        .await;
    assert!(!members.to_string().contains(&leaver.email), "{members}");
    let mut conn = app.db.connect();
    let grants = crust_e2e::db::texts(
        &mut conn,
        "SELECT count(*)::text AS v FROM task_grants WHERE user_id = $1::uuid",
        &leaver.id,
    );
    assert_eq!(grants, vec!["0"]);
    let invitations = crust_e2e::db::texts(
        &mut conn,
        "SELECT count(*)::text AS v FROM invitations WHERE invited_by = $1::uuid AND revoked_at IS NULL",
        &leaver.id,
    );
    assert_eq!(invitations, vec!["0"]);
    let actions = crust_e2e::db::texts(
        &mut conn,
        "SELECT action AS v FROM audit_events WHERE subject_user_id = $1::uuid \
         AND reason LIKE 'console%' ORDER BY chain, seq",
        &leaver.id,
    );
    assert!(
        actions.contains(&"offboardUser".to_owned())
            && actions.contains(&"deactivateUser".to_owned()),
        "{actions:?}"
    );
    let handed = crust_e2e::db::texts(
        &mut conn,
        "SELECT action AS v FROM audit_events WHERE target_id = $1::uuid AND action = 'reassignTask'",
        &open,
    );
    assert_eq!(handed.len(), 1);

    // The console's view, and a reactivation that gives back sign-in only.
    let (ok, out) = crust_user(&app, &["list"]);
    assert!(ok, "{out}");
    let line = out.lines().find(|l| l.contains(&leaver.email)).unwrap();
    assert!(line.contains("deactivated"), "{line}");
    let (ok, out) = crust_user(&app, &["list", "--org", &org]);
    assert!(
        ok && !out.contains(&leaver.email) && out.contains(&heir.email),
        "{out}"
    );
    let (ok, out) = crust_user(&app, &["reactivate", &leaver.email]);
    assert!(ok, "{out}");
    let back =
        crust_e2e::session_from(&app.login(&leaver.email, TEST_PASSWORD).await["data"]["login"])
            .unwrap();
    let orgs = app
        .ok(&back, "{ organizations { nodes { id } } }", json!({}))
        .await;
    assert_eq!(orgs["organizations"]["nodes"], json!([]));
    // The old tokens stay dead: their sessions ended for good.
    assert_every_token_refused(&app, &[&leaver.access], &[&leaver.refresh]).await;
}

#[tokio::test]
async fn the_last_owner_cannot_be_offboarded_without_naming_a_successor() {
    let app = TestApp::start().await;
    let owner = app.user("owner").await;
    let member = app.user("member").await;
    let org = app.create_org(&owner, "Solo").await;
    app.add_org_member(&owner, &org, &member, "MEMBER").await;

    let (ok, out) = crust_user(&app, &["offboard", &owner.email]);
    assert!(!ok);
    assert!(
        out.contains("last OWNER of \"Solo\"") && out.contains("--successor"),
        "{out}"
    );
    // Refused as a whole: nothing changed.
    assert!(me(&app, &owner.access).await.get("errors").is_none());

    let (ok, out) = crust_user(
        &app,
        &["offboard", &owner.email, "--successor", &owner.email],
    );
    assert!(!ok && out.contains("someone else"), "{out}");

    let (ok, out) = crust_user(
        &app,
        &["offboard", &owner.email, "--successor", &member.email],
    );
    assert!(ok, "{out}");
    assert!(out.contains("the successor now owns Solo"), "{out}");
    assert_every_token_refused(&app, &[&owner.access], &[&owner.refresh]).await;
    let role = app
        .ok(
            &member,
            "query($o: ID!) { organization(id: $o) { viewerRole } }",
            json!({ "o": org }),
        )
        .await;
    assert_eq!(role["organization"]["viewerRole"], "OWNER");
}

const DEACTIVATE: &str =
    "mutation($i: DeactivateMemberInput!) { deactivateMember(input: $i) { deactivatedUserId } }";

async fn deactivate_member(app: &TestApp, who: &Session, org: &str, user: &Session) -> Value {
    app.gql(
        Some(&who.access),
        DEACTIVATE,
        json!({ "i": { "organizationId": org, "userId": user.id } }),
    )
    .await
}

#[tokio::test]
async fn admins_deactivate_only_accounts_that_are_theirs_alone() {
    let app = TestApp::start().await;
    let owner = app.user("owner").await;
    let admin = app.user("admin").await;
    let member = app.user("member").await;
    let shared = app.user("shared").await;
    let outsider = app.user("outsider").await;
    let org = app.create_org(&owner, "Acme").await;
    let other = app.create_org(&outsider, "Other").await;
    app.add_org_member(&owner, &org, &admin, "ADMIN").await;
    app.add_org_member(&owner, &org, &member, "MEMBER").await;
    app.add_org_member(&owner, &org, &shared, "MEMBER").await;
    app.add_org_member(&outsider, &other, &shared, "MEMBER")
        .await;

    // Who may not: a member, an outsider, an admin for an owner, anyone for themselves.
    let body = deactivate_member(&app, &member, &org, &admin).await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    let body = deactivate_member(&app, &outsider, &org, &member).await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");
    let body = deactivate_member(&app, &admin, &org, &owner).await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    let body = deactivate_member(&app, &admin, &org, &admin).await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    // Someone of another organization is not found here, like any foreign id.
    let body = deactivate_member(&app, &owner, &org, &outsider).await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");
    // An account shared with another organization: remove the membership instead.
    let body = deactivate_member(&app, &admin, &org, &shared).await;
    assert_eq!(error_code(&body), Some("CONFLICT"), "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("removeOrganizationMember"), "{message}");
    assert!(me(&app, &shared.access).await.get("errors").is_none());
    for who in [&owner, &admin, &member, &outsider] {
        assert!(me(&app, &who.access).await.get("errors").is_none());
    }

    // An admin deactivates a member: that member's tokens fail on the next request.
    let body = deactivate_member(&app, &admin, &org, &member).await;
    assert_eq!(
        body["data"]["deactivateMember"]["deactivatedUserId"], member.id,
        "{body}"
    );
    assert_every_token_refused(&app, &[&member.access], &[&member.refresh]).await;
    let body = deactivate_member(&app, &admin, &org, &member).await;
    assert_eq!(error_code(&body), Some("CONFLICT"), "{body}");

    // The console's `deactivate` does the same for anyone.
    let (ok, out) = crust_user(&app, &["deactivate", &shared.email]);
    assert!(ok && out.contains("1 open session(s) ended"), "{out}");
    assert_every_token_refused(&app, &[&shared.access], &[&shared.refresh]).await;
    let (ok, out) = crust_user(&app, &["deactivate", "nobody@example.test"]);
    assert!(!ok && out.contains("no account has the address"), "{out}");
}

#[tokio::test]
async fn deactivated_accounts_neither_own_nor_manage() {
    let app = TestApp::start().await;
    let owner = app.user("owner").await;
    let second = app.user("second").await;
    let manager = app.user("manager").await;
    let org = app.create_org(&owner, "Acme").await;
    app.add_org_member(&owner, &org, &second, "OWNER").await;
    app.add_org_member(&owner, &org, &manager, "MEMBER").await;

    // The other OWNER deactivated: the one left is the last one who can act.
    let body = deactivate_member(&app, &owner, &org, &second).await;
    assert!(body.get("errors").is_none(), "{body}");
    let body = app
        .gql(
            Some(&owner.access),
            "mutation($i: RemoveOrganizationMemberInput!) { removeOrganizationMember(input: $i) { removedUserId } }",
            json!({ "i": { "organizationId": org, "userId": owner.id } }),
        )
        .await;
    assert_eq!(error_code(&body), Some("CONFLICT"), "{body}");
    let (ok, out) = crust_user(&app, &["offboard", &owner.email]);
    assert!(!ok && out.contains("last OWNER"), "{out}");

    // The only manager of a SECRET project may not be deactivated: nobody could reach it.
    let project = app.create_project(&owner, &org, "MEMBERS", "SECRET").await;
    app.add_project_member(&owner, &project, &manager, "MANAGER")
        .await;
    app.ok(
        &owner,
        "mutation($i: RemoveProjectMemberInput!) { removeProjectMember(input: $i) { removedUserId } }",
        json!({ "i": { "projectId": project, "userId": owner.id } }),
    )
    .await;
    let body = deactivate_member(&app, &owner, &org, &manager).await;
    assert_eq!(error_code(&body), Some("CONFLICT"), "{body}");
    assert!(body.to_string().contains("SECRET item"), "{body}");
    assert!(me(&app, &manager.access).await.get("errors").is_none());
}
