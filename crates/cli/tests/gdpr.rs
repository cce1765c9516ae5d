//! A person's own data: `exportMyData` / `crust user export` and `deleteMyAccount` /
//! `crust user erase`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crust_e2e::{error_code, Session, TestApp, TEST_PASSWORD};
use diesel::prelude::*;
use serde_json::{json, Value};

fn crust(app: &TestApp, args: &[&str]) -> (bool, String) {
    crust_e2e::run_crust(env!("CARGO_BIN_EXE_crust"), &app.db.url, args)
}

async fn comment(app: &TestApp, who: &Session, task: &str, body: &str) -> String {
    let d = app
        .ok(
            who,
            "mutation($i: AddCommentInput!) { addComment(input: $i) { comment { id } } }",
            json!({ "i": { "taskId": task, "body": body } }),
        )
        .await;
    d["addComment"]["comment"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// An OWNER, a MEMBER ("me") of their organization, and a project open to it.
async fn member_of_a_project(app: &TestApp) -> (Session, Session, String) {
    let owner = app.user("owner").await;
    let me = app.user("me").await;
    let org = app.create_org(&owner, "Acme").await;
    app.add_org_member(&owner, &org, &me, "MEMBER").await;
    let project = app
        .create_project(&owner, &org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    (owner, me, project)
}

async fn export(app: &TestApp, who: &Session) -> Value {
    let d = app.ok(who, "{ exportMyData }", json!({})).await;
    serde_json::from_str(d["exportMyData"].as_str().unwrap()).unwrap()
}

fn count(app: &TestApp, sql: &str, arg: &str) -> i64 {
    let mut conn = app.db.connect();
    crust_e2e::db::texts(&mut conn, sql, arg)[0]
        .parse()
        .unwrap()
}

#[tokio::test]
async fn my_export_holds_my_data_and_withholds_what_i_may_no_longer_see() {
    let app = TestApp::start().await;
    let (owner, me, project) = member_of_a_project(&app).await;
    let mine = app
        .create_task(&owner, &project, None, "CONFIDENTIAL")
        .await;
    let secret = app.create_task(&owner, &project, None, "SECRET").await;
    app.grant(&owner, &secret, &me, "EDIT").await;
    for task in [&mine, &secret] {
        app.ok(
            &owner,
            "mutation($i: UpdateTaskInput!) { updateTask(input: $i) { task { id } } }",
            json!({ "i": { "taskId": task, "assigneeIds": [me.id] } }),
        )
        .await;
    }
    comment(&app, &me, &mine, "my visible remark").await;
    comment(&app, &me, &secret, "my remark on the secret plan").await;
    // A task I made, later made SECRET without me on its list.
    app.add_project_member(&owner, &project, &me, "EDITOR")
        .await;
    let made = app.create_task(&me, &project, None, "CONFIDENTIAL").await;
    app.ok(
        &owner,
        "mutation($i: UpdateTaskInput!) { updateTask(input: $i) { task { id } } }",
        json!({ "i": { "taskId": made, "classification": "SECRET" } }),
    )
    .await;
    // A failed sign-in against my account from someone else's address.
    let _ = app.login(&me.email, "someone guessing").await;
    // Then my access to the SECRET task ends.
    app.ok(
        &owner,
        "mutation($i: RevokeTaskAccessInput!) { revokeTaskAccess(input: $i) { revokedUserId } }",
        json!({ "i": { "taskId": secret, "userId": me.id } }),
    )
    .await;

    let data = export(&app, &me).await;
    assert_eq!(data["format"], 1);
    assert_eq!(data["profile"]["email"], me.email.as_str());
    assert_eq!(data["memberships"][0]["organization"], "Acme");
    assert_eq!(data["memberships"][0]["role"], "MEMBER");
    assert!(!data["sessions"].as_array().unwrap().is_empty());
    let tasks: Vec<&str> = data["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(tasks, vec![mine.as_str()]);
    assert_eq!(data["tasks"][0]["assignedToYou"], true);
    let text = data.to_string();
    assert!(text.contains("my visible remark"));
    assert!(!text.contains("secret plan") && !text.contains(&secret));
    // The task I made is withheld (only my own record of making it names its id).
    assert!(!data["tasks"].to_string().contains(&made));
    assert_eq!(data["withheld"]["comments"], 1);
    assert_eq!(data["withheld"]["tasks"], 1);
    // Nobody else's data: not the owner's address, not the guesser's client details.
    assert!(!text.contains(&owner.email));
    let events = data["auditEvents"].as_array().unwrap();
    assert!(events
        .iter()
        .any(|e| e["action"] == "login" && e["byYou"] == true));
    let failed = events
        .iter()
        .find(|e| e["action"] == "login" && e["outcome"] != "ok")
        .expect("the failed sign-in against my account");
    assert!(
        failed["ip"].is_null() && failed["userAgent"].is_null(),
        "{failed}"
    );
    assert_eq!(
        data["auditEventsTotal"].as_u64().unwrap() as usize,
        events.len()
    );
    // Not anyone else's export: the owner's own holds the owner's address, not mine.
    let theirs = export(&app, &owner).await;
    assert!(!theirs["profile"].to_string().contains(&me.email));

    // The operator's export holds everything, to a file.
    let dir = tempdir();
    let file = dir.join("me.json");
    let (ok, out) = crust(
        &app,
        &[
            "user",
            "export",
            &me.email,
            "--out",
            file.to_str().unwrap(),
            "--full",
        ],
    );
    assert!(ok, "{out}");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let full: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert!(full.to_string().contains("my remark on the secret plan"));
    assert_eq!(full["withheld"]["comments"], 0);
    assert_eq!(
        // Mine and the one I made (revoking my grant ended my assignment to the
        // SECRET one, so it is no longer mine to export).
        full["tasks"].as_array().unwrap().len(),
        2,
        "{}",
        full["tasks"]
    );
    // Without --full the console withholds what the person may no longer see, like
    // exportMyData; and it never writes into an existing file.
    let (ok, out) = crust(&app, &["user", "export", &me.email]);
    assert!(ok, "{out}");
    assert!(
        !out.contains("secret plan") && out.contains("my visible remark"),
        "{out}"
    );
    let (ok, out) = crust(
        &app,
        &["user", "export", &me.email, "--out", file.to_str().unwrap()],
    );
    assert!(!ok && out.contains("must not exist yet"), "{out}");
    // One export per request: aliases cannot multiply its work.
    let body = app
        .gql(
            Some(&me.access),
            "{ a: exportMyData b: exportMyData }",
            json!({}),
        )
        .await;
    let refused = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["message"] == "send one sign-in operation per request")
        .count();
    assert_eq!(refused, 1, "{body}");
    let _ = std::fs::remove_dir_all(dir);
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("crust-gdpr-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const DELETE: &str = "mutation($p: String!) { deleteMyAccount(input: {password: $p}) { message } }";

#[tokio::test]
async fn deleting_my_account_erases_me_keeps_shared_work_and_the_audit_chain() {
    let app = TestApp::start().await;
    let (owner, me, project) = member_of_a_project(&app).await;
    let task = app
        .create_task(&owner, &project, None, "CONFIDENTIAL")
        .await;
    let remark = comment(&app, &me, &task, "shared remark").await;
    let before = count(
        &app,
        "SELECT count(*)::text AS v FROM audit_events WHERE actor_id = $1::uuid",
        &me.id,
    );
    assert!(before > 0);

    // The wrong password changes nothing.
    let body = app
        .gql(Some(&me.access), DELETE, json!({ "p": "not my password" }))
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    assert!(app
        .gql(Some(&me.access), "{ me { id } }", json!({}))
        .await
        .get("errors")
        .is_none());

    // Guesses cannot be packed: aliases and a fragment carry one attempt, not two.
    let packed = app
        .gql(
            Some(&me.access),
            "mutation($a: String!, $b: String!) { x: deleteMyAccount(input: {password: $a}) { message } \
             ... on Mutation { y: deleteMyAccount(input: {password: $b}) { message } } }",
            json!({ "a": "guess one", "b": "guess two" }),
        )
        .await;
    let messages: Vec<&str> = packed["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 2, "{packed}");
    assert!(
        messages.contains(&"send one sign-in operation per request")
            && messages.contains(&"the current password is incorrect"),
        "{packed}"
    );
    let body = app
        .gql(Some(&me.access), DELETE, json!({ "p": TEST_PASSWORD }))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    // Gone at once: the token, the refresh token, the sign-in, the address.
    let body = app.gql(Some(&me.access), "{ me { id } }", json!({})).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{body}");
    assert!(app.refresh(&me.refresh).await["data"]["refreshSession"].is_null());
    assert!(app.login(&me.email, TEST_PASSWORD).await["data"]["login"].is_null());
    assert_eq!(
        count(
            &app,
            "SELECT count(*)::text AS v FROM users WHERE lower(email) = lower($1)",
            &me.email
        ),
        0
    );
    for table in ["sessions", "memberships", "email_tokens", "notifications"] {
        let sql = format!("SELECT count(*)::text AS v FROM {table} WHERE user_id = $1::uuid");
        assert_eq!(count(&app, &sql, &me.id), 0, "{table}");
    }
    // Shared work stays, attributed to "deleted user".
    let d = app
        .ok(
            &owner,
            "query($t: ID!) { task(id: $t) { comments { nodes { id body author { name } } } } }",
            json!({ "t": task }),
        )
        .await;
    let c = &d["task"]["comments"]["nodes"][0];
    assert_eq!(c["id"], remark.as_str());
    assert_eq!(c["body"], "shared remark");
    // Shown as no one (the SPA writes "deleted user"); the row keeps that name.
    assert!(c["author"].is_null(), "{c}");
    assert_eq!(
        count(
            &app,
            "SELECT count(*)::text AS v FROM users WHERE id = $1::uuid AND name = 'deleted user'",
            &me.id
        ),
        1
    );
    // The audit log keeps every event, pseudonymized, and its chains still verify.
    assert!(
        count(
            &app,
            "SELECT count(*)::text AS v FROM audit_events WHERE actor_id = $1::uuid",
            &me.id
        ) >= before
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*)::text AS v FROM audit_events \
             WHERE actor_id = $1::uuid AND pruned_at IS NULL",
            &me.id
        ),
        0
    );
    let (ok, out) = crust(&app, &["audit", "verify"]);
    assert!(ok, "{out}");
}

#[tokio::test]
async fn the_last_owner_cannot_delete_their_account_and_no_one_pseudonymizes_a_live_one() {
    let app = TestApp::start().await;
    let owner = app.user("owner").await;
    let other = app.user("other").await;
    let org = app.create_org(&owner, "Solo").await;
    app.add_org_member(&owner, &org, &other, "MEMBER").await;
    let body = app
        .gql(Some(&owner.access), DELETE, json!({ "p": TEST_PASSWORD }))
        .await;
    assert_eq!(error_code(&body), Some("CONFLICT"), "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("last OWNER of \"Solo\""), "{message}");
    assert!(app
        .gql(Some(&owner.access), "{ me { id } }", json!({}))
        .await
        .get("errors")
        .is_none());
    let (ok, out) = crust(&app, &["user", "erase", &owner.email]);
    assert!(!ok && out.contains("last OWNER"), "{out}");

    // Something the member did, on the record under their name.
    app.ok(
        &other,
        "mutation { updateNotificationSettings(input: {taskReadyEmail: false}) { settings { taskReadyEmail } } }",
        json!({}),
    )
    .await;
    // The server's own login may not pseudonymize a live account's events.
    let mut conn = diesel::PgConnection::establish(app.config.database.url.expose()).unwrap();
    // As every pooled connection of the server is (CRUST_DB_ROLE).
    diesel::sql_query("SET ROLE crust_app")
        .execute(&mut conn)
        .unwrap();
    let refused = diesel::sql_query(format!(
        "SELECT audit_pseudonymize_erased_user('{}'::uuid)",
        other.id
    ))
    .execute(&mut conn)
    .unwrap_err()
    .to_string();
    assert!(refused.contains("only an erased account"), "{refused}");
    // Nor mark a live account erased for a moment to reach it: erasure is final.
    use diesel::Connection;
    let undone = conn
        .transaction::<(), diesel::result::Error, _>(|c| {
            diesel::sql_query(format!(
                "UPDATE users SET active = false, erased_at = now() WHERE id = '{}'",
                other.id
            ))
            .execute(c)?;
            diesel::sql_query(format!(
                "SELECT audit_pseudonymize_erased_user('{}'::uuid)",
                other.id
            ))
            .execute(c)?;
            diesel::sql_query(format!(
                "UPDATE users SET active = true, erased_at = NULL WHERE id = '{}'",
                other.id
            ))
            .execute(c)?;
            Ok(())
        })
        .unwrap_err()
        .to_string();
    assert!(undone.contains("erasure cannot be undone"), "{undone}");
    assert!(
        count(
            &app,
            "SELECT count(*)::text AS v FROM audit_events WHERE actor_id = $1::uuid AND pruned_at IS NULL",
            &other.id
        ) > 0,
        "a live account's events were pseudonymized"
    );
    // Nor change an event by itself.
    let refused = diesel::sql_query("UPDATE audit_events SET ip = NULL")
        .execute(&mut conn)
        .unwrap_err()
        .to_string();
    assert!(refused.contains("permission denied"), "{refused}");

    // The console erases the member; their name becomes "deleted user".
    let (ok, out) = crust(&app, &["user", "erase", &other.email]);
    assert!(ok && out.contains("erased"), "{out}");
    assert_eq!(
        count(
            &app,
            "SELECT count(*)::text AS v FROM users WHERE id = $1::uuid AND name = 'deleted user' AND erased_at IS NOT NULL",
            &other.id
        ),
        1
    );
    let (ok, out) = crust(&app, &["user", "erase", &other.email]);
    assert!(!ok && out.contains("no account has the address"), "{out}");
    let (ok, out) = crust(&app, &["audit", "verify"]);
    assert!(ok, "{out}");
}
