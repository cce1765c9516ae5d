//! Reading the log: who may, what they see of need-to-know objects, and a user's own
//! sessions.
//!
//! A test file of about 400 lines: one scenario per reader.

use super::*;

#[tokio::test]
async fn only_owners_and_admins_read_their_organizations_log() {
    let app = TestApp::start().await;
    let o = org(&app).await;
    let other = org(&app).await;
    for who in [&o.owner, &o.admin] {
        let d = app.ok(who, AUDIT_Q, json!({ "o": o.org })).await;
        let n = d["auditEvents"]["totalCount"].as_i64().unwrap();
        assert!(n >= 9, "the setup's mutations: {d}");
    }
    for who in [&o.member, &o.guest, &o.viewer] {
        let body = app
            .gql(Some(&who.access), AUDIT_Q, json!({ "o": o.org }))
            .await;
        assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    }
    // Another tenant's log, and a made-up organization: not found, alike.
    let foreign = app
        .gql(Some(&o.owner.access), AUDIT_Q, json!({ "o": other.org }))
        .await;
    let missing = app
        .gql(
            Some(&o.owner.access),
            AUDIT_Q,
            json!({ "o": uuid::Uuid::new_v4() }),
        )
        .await;
    assert_eq!(error_code(&foreign), Some("NOT_FOUND"));
    assert_eq!(
        foreign["errors"][0]["message"],
        missing["errors"][0]["message"]
    );
    // The other organization's log holds none of this one's events.
    let d = app
        .ok(
            &other.owner,
            AUDIT_Q,
            json!({ "o": other.org, "first": 100 }),
        )
        .await;
    let text = d.to_string();
    assert!(!text.contains(&o.task) && !text.contains(&o.project));

    // Filters: by actor, action, target and time.
    let (_, rid) = send(
        &app,
        Some(&o.admin.access),
        &[],
        UPDATE,
        json!({ "i": { "taskId": o.task, "title": "By the admin" } }),
    )
    .await;
    let d = app
        .ok(
            &o.owner,
            AUDIT_Q,
            json!({ "o": o.org, "f": { "actorId": o.admin.id } }),
        )
        .await;
    let nodes = d["auditEvents"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0]["requestId"], rid.as_str());
    let d = app
        .ok(
            &o.owner,
            AUDIT_Q,
            json!({ "o": o.org, "f": { "action": "updateTask", "targetId": o.task } }),
        )
        .await;
    assert_eq!(d["auditEvents"]["totalCount"], 1);
    let later = chrono::Utc::now() + chrono::Duration::minutes(1);
    let d = app
        .ok(
            &o.owner,
            AUDIT_Q,
            json!({ "o": o.org, "f": { "from": later } }),
        )
        .await;
    assert_eq!(d["auditEvents"]["totalCount"], 0);
    let body = app
        .gql(
            Some(&o.owner.access),
            AUDIT_Q,
            json!({ "o": o.org, "f": { "from": later, "to": chrono::Utc::now() } }),
        )
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));

    // Pages: newest first, every event once.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let d = app
            .ok(
                &o.owner,
                AUDIT_Q,
                json!({ "o": o.org, "first": 4, "after": after }),
            )
            .await;
        let conn = &d["auditEvents"];
        seen.extend(
            conn["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["requestId"].clone()),
        );
        if !conn["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = conn["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen.len() as i64, total_events(&app, &o).await);
    assert_eq!(seen[0], json!(rid), "newest first");
}

#[tokio::test]
async fn reads_of_need_to_know_objects_are_recorded_and_listed_only_to_those_on_the_list() {
    let app = TestApp::start().await;
    let o = org(&app).await;
    // The member keeps a SECRET task in an ORGANIZATION project; the org's admin is not
    // on its list.
    let open = app
        .create_project(&o.member, &o.org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    let secret = app.create_task(&o.member, &open, None, "SECRET").await;
    let plain = app
        .create_task(&o.member, &open, None, "CONFIDENTIAL")
        .await;

    let (_, rid) = send(
        &app,
        Some(&o.member.access),
        &[],
        "query($id: ID!) { task(id: $id) { title } }",
        json!({ "id": secret }),
    )
    .await;
    let e = one(&app, &rid);
    assert_eq!(
        (e["action"].as_str(), e["target_id"].as_str()),
        (Some("read"), Some(secret.as_str()))
    );
    assert_eq!(e["need_to_know"], true);
    assert_eq!(e["actor_id"], o.member.id.as_str());
    // Listing the project's tasks reads it too; a plain task leaves no read event.
    let (_, rid) = send(
        &app,
        Some(&o.member.access),
        &[],
        "query($p: ID!) { project(id: $p) { tasks(first: 10) { nodes { id } } } }",
        json!({ "p": open }),
    )
    .await;
    let reads = column(&by_request(&app, &rid), "target_id");
    assert_eq!(reads, vec![secret.clone()]);
    let (_, rid) = send(
        &app,
        Some(&o.member.access),
        &[],
        "query($id: ID!) { task(id: $id) { title } }",
        json!({ "id": plain }),
    )
    .await;
    assert!(by_request(&app, &rid).is_empty());

    // A SECRET task served only as another's dependency is read too, whether the task
    // pages answer plainly (read with the project, `ahead`) or through the engine (a
    // field the plain walk leaves to the engine, first, so that it never starts).
    let board = app.create_slice(&o.member, &open, "Board").await;
    let first = app.create_column(&o.member, &board, "First", false).await;
    let second = app.create_column(&o.member, &board, "Second", false).await;
    let waiting = app
        .create_task(&o.member, &open, Some(&first), "CONFIDENTIAL")
        .await;
    let held = app
        .create_task(&o.member, &open, Some(&second), "SECRET")
        .await;
    app.ok(
        &o.member,
        "mutation($i: AddTaskDependencyInput!) { addTaskDependency(input: $i) { task { id } } }",
        json!({ "i": { "taskId": waiting, "dependsOnTaskId": held } }),
    )
    .await;
    for deps in [
        "dependsOn { task { id } }",
        "projectSummary { name } dependsOn { task { id } }",
    ] {
        let query = format!(
            "query($p: ID!) {{ project(id: $p) {{ slices(first: 1) {{ nodes {{ boxes(first: 1) {{ nodes {{ tasks(first: 5) {{ nodes {{ id {deps} }} }} }} }} }} }} }} }}"
        );
        let (body, rid) = send(
            &app,
            Some(&o.member.access),
            &[],
            &query,
            json!({ "p": open }),
        )
        .await;
        assert!(body.to_string().contains(&held), "{body}");
        let reads = column(&by_request(&app, &rid), "target_id");
        assert_eq!(reads, vec![held.clone()], "{deps}");
    }

    // A SECRET project: reading it and its tasks is recorded.
    let hidden = app
        .create_project(&o.owner, &o.org, "MEMBERS", "SECRET")
        .await;
    let inside = app
        .create_task(&o.owner, &hidden, None, "CONFIDENTIAL")
        .await;
    let (_, rid) = send(
        &app,
        Some(&o.owner.access),
        &[],
        "query($p: ID!) { project(id: $p) { name tasks(first: 5) { nodes { id } } } }",
        json!({ "p": hidden }),
    )
    .await;
    let mut reads = column(&by_request(&app, &rid), "target_id");
    reads.sort();
    let mut expected = vec![hidden.clone(), inside.clone()];
    expected.sort();
    assert_eq!(reads, expected);

    // Work inside the SECRET project: a slice, and a comment on one of its tasks.
    let slice = app.create_slice(&o.owner, &hidden, "Hidden slice").await;
    let d = app
        .ok(
            &o.owner,
            "mutation($i: AddCommentInput!) { addComment(input: $i) { comment { id } } }",
            json!({ "i": { "taskId": inside, "body": "psst" } }),
        )
        .await;
    let comment = d["addComment"]["comment"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The admin reads the org's log: nothing about the member's SECRET task or the
    // owner's SECRET project (nor its slices and comments) shows. The owner sees their
    // SECRET project and what is in it, not the member's task.
    let d = app
        .ok(&o.admin, AUDIT_Q, json!({ "o": o.org, "first": 100 }))
        .await;
    let text = d.to_string();
    assert!(!text.contains(&secret), "hidden from the admin: {text}");
    // Left out of the count too, not only of the page.
    let listed = d["auditEvents"]["nodes"].as_array().unwrap().len() as i64;
    assert!(listed < 100, "one page holds them all");
    assert_eq!(d["auditEvents"]["totalCount"], listed);
    let in_table = rows(&app, &format!("chain = '{}'", o.org)).len() as i64;
    assert!(
        in_table > listed,
        "the table holds what the admin is not shown"
    );
    assert!(!text.contains(&hidden) && !text.contains(&slice) && !text.contains(&comment));
    let d = app
        .ok(&o.owner, AUDIT_Q, json!({ "o": o.org, "first": 100 }))
        .await;
    let text = d.to_string();
    assert!(!text.contains(&secret));
    assert!(
        text.contains(&hidden) && text.contains(&slice) && text.contains(&comment),
        "the owner is on the SECRET project's list: {text}"
    );
    // The member who holds the SECRET task but is no admin may not read the log at all;
    // the rows are in the table, for `crust audit export`.
    assert!(rows(&app, &format!("target_id = '{secret}'")).len() >= 3);
}

#[tokio::test]
async fn users_list_their_sessions_and_end_one_they_do_not_recognize() {
    let app = TestApp::start().await;
    let user = app.user("hank").await;
    let stolen =
        crust_e2e::session_from(&app.login(&user.email, TEST_PASSWORD).await["data"]["login"])
            .unwrap();
    let neighbour = app.user("ivy").await;
    let q = "{ me { sessions { id current ip userAgent createdAt expiresAt } } }";
    let d = app.ok(&user, q, json!({})).await;
    let list = d["me"]["sessions"].as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1);
    let other = list.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let revoke = "mutation($s: ID!) { revokeSession(input: {sessionId: $s}) { revokedSessionId } }";
    // Someone else's session id is not found, and stays open.
    let body = app
        .gql(Some(&neighbour.access), revoke, json!({ "s": other }))
        .await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"));
    assert!(app
        .gql(Some(&stolen.access), "{ me { id } }", json!({}))
        .await["data"]["me"]
        .is_object());

    let (body, rid) = send(&app, Some(&user.access), &[], revoke, json!({ "s": other })).await;
    assert_eq!(
        body["data"]["revokeSession"]["revokedSessionId"],
        other.as_str()
    );
    let e = one(&app, &rid);
    assert_eq!(
        (
            e["action"].as_str(),
            e["target_type"].as_str(),
            e["target_id"].as_str()
        ),
        (Some("revokeSession"), Some("Session"), Some(other.as_str()))
    );
    // Its tokens are refused from the next request on; the list shows one session.
    assert_eq!(
        error_code(
            &app.gql(Some(&stolen.access), "{ me { id } }", json!({}))
                .await
        ),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        error_code(&app.refresh(&stolen.refresh).await),
        Some("UNAUTHENTICATED")
    );
    let d = app.ok(&user, q, json!({})).await;
    assert_eq!(d["me"]["sessions"].as_array().unwrap().len(), 1);
    let d = app
        .ok(
            &user,
            "{ me { securityEvents(first: 1) { nodes { action } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        d["me"]["securityEvents"]["nodes"][0]["action"],
        "revokeSession"
    );
}

#[tokio::test]
async fn making_a_task_secret_hides_that_change_from_admins_not_on_its_list() {
    let app = TestApp::start().await;
    let o = org(&app).await;
    let (_, rid) = send(&app, Some(&o.owner.access), &[], UPDATE, json!({ "i": { "taskId": o.task, "classification": "SECRET", "title": "Acquisition of Initech" } })).await;
    let events = by_request(&app, &rid);
    let actions = column(&events, "action");
    assert_eq!(
        actions,
        ["updateTask", "read"],
        "the payload served a SECRET task"
    );
    assert_eq!(
        events[0]["need_to_know"], true,
        "it is SECRET after the change"
    );
    let d = app
        .ok(&o.admin, AUDIT_Q, json!({ "o": o.org, "first": 100 }))
        .await
        .to_string();
    assert!(!d.contains("Initech"), "{d}");
    let d = app
        .ok(&o.owner, AUDIT_Q, json!({ "o": o.org, "first": 100 }))
        .await
        .to_string();
    assert!(
        d.contains("Initech"),
        "the owner made it SECRET and is on its list"
    );
}

#[tokio::test]
async fn a_secret_task_named_as_a_secondary_argument_hides_the_event_from_admins_not_on_its_list() {
    let app = TestApp::start().await;
    let o = org(&app).await;
    let link = "mutation($t: ID!, $o: ID!) { addTaskDependency(input: {taskId: $t, dependsOnTaskId: $o}) { task { id } } }";
    let secret = app
        .create_task(&o.owner, &o.project, Some(&o.box_id), "SECRET")
        .await;
    let plain = app
        .create_task(&o.owner, &o.project, Some(&o.box_id), "CONFIDENTIAL")
        .await;
    let before = total_events(&app, &o).await;
    let admin_before = app
        .ok(&o.admin, AUDIT_Q, json!({ "o": o.org, "first": 100 }))
        .await["auditEvents"]["totalCount"]
        .as_i64()
        .unwrap();
    // The main target is a plain task; the SECRET one is only the second argument.
    let (body, rid) = send(
        &app,
        Some(&o.owner.access),
        &[],
        link,
        json!({ "t": o.task, "o": secret }),
    )
    .await;
    assert!(body["errors"].is_null(), "{body}");
    let e = one(&app, &rid);
    assert_eq!(e["target_id"], o.task.as_str());
    assert_eq!(e["need_to_know"], true, "it names a SECRET task");
    assert_eq!(e["need_to_know_ids"], json!([secret]));

    let admin = app
        .ok(&o.admin, AUDIT_Q, json!({ "o": o.org, "first": 100 }))
        .await;
    let text = admin.to_string();
    assert!(!text.contains(&secret), "{text}");
    assert!(!text.contains("addTaskDependency"), "{text}");
    assert_eq!(
        admin["auditEvents"]["totalCount"].as_i64().unwrap(),
        admin_before,
        "nor is it counted"
    );
    // The owner, on its list, sees it.
    let owner = app
        .ok(&o.owner, AUDIT_Q, json!({ "o": o.org, "first": 100 }))
        .await;
    assert!(owner.to_string().contains(&secret));
    assert_eq!(total_events(&app, &o).await, before + 1);

    // Honest traffic: a link between tasks the admin may see is listed to them.
    app.ok(&o.owner, link, json!({ "t": plain, "o": o.task }))
        .await;
    let links_seen_by_admin = || {
        app.ok(
            &o.admin,
            AUDIT_Q,
            json!({ "o": o.org, "first": 100, "f": { "action": "addTaskDependency" } }),
        )
    };
    let admin = links_seen_by_admin().await;
    assert_eq!(admin["auditEvents"]["totalCount"], 1);
    assert_eq!(admin["auditEvents"]["nodes"][0]["targetId"], plain.as_str());
    // Someone added to the SECRET task's list later sees the first one too.
    app.grant(&o.owner, &secret, &o.admin, "VIEW").await;
    let admin = links_seen_by_admin().await;
    assert_eq!(admin["auditEvents"]["totalCount"], 2);
}
