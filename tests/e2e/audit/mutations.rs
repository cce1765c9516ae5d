//! Every mutation, succeeded or refused, leaves one event in its own transaction, with
//! its arguments redacted.

use super::*;

#[tokio::test]
async fn every_mutation_is_recorded_with_target_outcome_and_redacted_arguments() {
    let app = TestApp::start().await;
    let o = org(&app).await;
    let outsider = app.user("outsider").await;

    // Succeeded: actor, session, organization, target, the arguments sent.
    let (_, rid) = send(
        &app,
        Some(&o.owner.access),
        &[("user-agent", UA)],
        UPDATE,
        json!({ "i": { "taskId": o.task, "title": "Renamed" } }),
    )
    .await;
    let e = one(&app, &rid);
    assert_eq!(
        (e["action"].as_str(), e["outcome"].as_str()),
        (Some("updateTask"), Some("ok"))
    );
    assert_eq!(e["actor_id"], o.owner.id.as_str());
    assert!(e["session_id"].is_string());
    assert_eq!(e["organization_id"], o.org.as_str());
    assert_eq!(
        (e["target_type"].as_str(), e["target_id"].as_str()),
        (Some("Task"), Some(o.task.as_str()))
    );
    let sent: Value = serde_json::from_str(e["variables"].as_str().unwrap()).unwrap();
    assert_eq!(sent["input"]["title"], "Renamed");
    assert_eq!(
        (e["ip"].as_str(), e["user_agent"].as_str()),
        (Some("127.0.0.1"), Some(UA))
    );

    // Refused for the role: forbidden, in the organization's chain.
    let (body, rid) = send(
        &app,
        Some(&o.viewer.access),
        &[],
        UPDATE,
        json!({ "i": { "taskId": o.task, "title": "Viewer was here" } }),
    )
    .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"));
    let e = one(&app, &rid);
    assert_eq!(
        (e["outcome"].as_str(), e["error_code"].as_str()),
        (Some("forbidden"), Some("FORBIDDEN"))
    );
    assert_eq!(e["actor_id"], o.viewer.id.as_str());
    assert_eq!(e["organization_id"], o.org.as_str());

    // Refused for the input: invalid.
    let (body, rid) = send(
        &app,
        Some(&o.owner.access),
        &[],
        UPDATE,
        json!({ "i": { "taskId": o.task, "progress": 150 } }),
    )
    .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
    let e = one(&app, &rid);
    assert_eq!(
        (e["outcome"].as_str(), e["error_code"].as_str()),
        (Some("invalid"), Some("BAD_USER_INPUT"))
    );

    // Another tenant's task: NOT_FOUND to the caller, recorded for the victim's admins.
    let (body, rid) = send(
        &app,
        Some(&outsider.access),
        &[],
        UPDATE,
        json!({ "i": { "taskId": o.task, "title": "Pwned" } }),
    )
    .await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"));
    let e = one(&app, &rid);
    assert_eq!(
        (e["outcome"].as_str(), e["error_code"].as_str()),
        (Some("forbidden"), Some("NOT_FOUND"))
    );
    assert_eq!(e["actor_id"], outsider.id.as_str());
    assert_eq!(e["organization_id"], o.org.as_str());

    // No token at all: refused by the gate, recorded as anonymous.
    let (body, rid) = send(
        &app,
        None,
        &[],
        UPDATE,
        json!({ "i": { "taskId": o.task, "title": "Anon" } }),
    )
    .await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
    let e = one(&app, &rid);
    assert!(e["actor_id"].is_null());
    assert_eq!(e["error_code"], "UNAUTHENTICATED");
    assert!(
        e["organization_id"].is_null(),
        "an anonymous caller cannot write into an organization's log"
    );
    assert_eq!(e["target_id"], o.task.as_str());

    // A creation names the object it made; a deletion the object it removed.
    let (body, rid) = send(
        &app,
        Some(&o.owner.access),
        &[],
        "mutation($i: CreateTaskInput!) { createTask(input: $i) { task { id } } }",
        json!({ "i": { "projectId": o.project, "boxId": o.box_id, "title": "New" } }),
    )
    .await;
    let created = body["data"]["createTask"]["task"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let e = one(&app, &rid);
    assert_eq!(
        (e["target_type"].as_str(), e["target_id"].as_str()),
        (Some("Task"), Some(created.as_str()))
    );
    let (_, rid) = send(
        &app,
        Some(&o.owner.access),
        &[],
        "mutation($i: DeleteTaskInput!) { deleteTask(input: $i) { deletedTaskId } }",
        json!({ "i": { "taskId": created } }),
    )
    .await;
    let e = one(&app, &rid);
    assert_eq!(
        (e["action"].as_str(), e["organization_id"].as_str()),
        (Some("deleteTask"), Some(o.org.as_str()))
    );

    // Two mutations in one request: two events, in order.
    let (_, rid) = send(&app, Some(&o.owner.access), &[], "mutation($t: ID!) { a: updateTask(input: {taskId: $t, title: \"A\"}) { task { id } } b: updateTask(input: {taskId: $t, progress: 120}) { task { id } } }", json!({ "t": o.task })).await;
    let events = by_request(&app, &rid);
    let outcomes: Vec<&str> = events
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["ok", "invalid"]);
}

#[tokio::test]
async fn every_mutation_field_leaves_exactly_one_event() {
    let app = TestApp::start().await;
    for op in all()
        .into_iter()
        .filter(|o| o.query.trim_start().starts_with("mutation"))
    {
        let caller = app.user("prober").await;
        let (_, rid) = send(
            &app,
            Some(&caller.access),
            &[],
            op.query,
            (op.vars)(&Ids::missing()),
        )
        .await;
        let events = by_request(&app, &rid);
        assert_eq!(events.len(), 1, "{}: {events:#?}", op.field);
        assert_eq!(events[0]["action"], op.field);
    }
}

#[tokio::test]
async fn a_mutation_refused_before_it_runs_is_recorded_with_its_variables_redacted() {
    let app = TestApp::start().await;
    let user = app.user("kim").await;
    let vars = json!({ "password": "pw-never-stored-123", "input": { "authToken": "tok-never-stored", "title": "kept" } });
    let (body, rid) = send(
        &app,
        Some(&user.access),
        &[],
        "mutation($input: String) { noSuchField(x: $input) }",
        vars,
    )
    .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
    let e = one(&app, &rid);
    assert_eq!(
        (e["action"].as_str(), e["outcome"].as_str()),
        (Some("mutation"), Some("invalid"))
    );
    assert_eq!(e["actor_id"], user.id.as_str());
    assert!(e["reason"].as_str().unwrap().contains("noSuchField"), "{e}");
    let sent: Value = serde_json::from_str(e["variables"].as_str().unwrap()).unwrap();
    assert_eq!(
        sent,
        json!({ "password": "[REDACTED]", "input": { "authToken": "[REDACTED]", "title": "kept" } })
    );
    // A query refused the same way is not a mutation and leaves nothing.
    let (_, rid) = send(&app, Some(&user.access), &[], "{ noSuchField }", json!({})).await;
    assert!(by_request(&app, &rid).is_empty());
}

#[tokio::test]
async fn passwords_and_tokens_in_arguments_never_reach_the_table() {
    let app = TestApp::start().await;
    let user = app.user("erin").await;
    let secrets = [
        "Sup3r-Secret-Passw0rd-for-audit",
        "nested-refresh-token-value-abcdef",
        "shortpw",
        "change-me-new-passphrase-42",
    ];
    // A password at the top of an input, a token nested in one, refused sign-ups and
    // a refused password change: all of them with secrets in their arguments.
    app.login(&user.email, secrets[0]).await;
    app.refresh(secrets[1]).await;
    app.gql(
        None,
        "mutation($i: SignUpInput!) { signUp(input: $i) { accepted } }",
        json!({ "i": { "email": "frank@example.test", "password": secrets[2], "name": "Frank" } }),
    )
    .await;
    let (_, rid) = send(
        &app,
        Some(&user.access),
        &[],
        "mutation($i: ChangePasswordInput!) { changePassword(input: $i) { endedSessions } }",
        json!({ "i": { "currentPassword": TEST_PASSWORD, "newPassword": "short" } }),
    )
    .await;
    let e = one(&app, &rid);
    assert_eq!(
        e["outcome"], "invalid",
        "the new password breaks the policy"
    );
    send(&app, Some(&user.access), &[], "mutation($i: ChangePasswordInput!) { changePassword(input: $i) { endedSessions } }", json!({ "i": { "currentPassword": secrets[3], "newPassword": "another fine passphrase 7" } })).await;
    let sent: Value = serde_json::from_str(e["variables"].as_str().unwrap()).unwrap();
    assert_eq!(sent["input"]["currentPassword"], "[REDACTED]");
    assert_eq!(sent["input"]["newPassword"], "[REDACTED]");
    let signup = rows(&app, "action = 'signUp' AND outcome = 'invalid'");
    let sent: Value = serde_json::from_str(signup[0]["variables"].as_str().unwrap()).unwrap();
    assert_eq!(sent["input"]["password"], "[REDACTED]");
    assert_eq!(
        sent["input"]["email"], "frank@example.test",
        "the rest is kept"
    );
    let refresh = rows(&app, "action = 'refreshSession'");
    let sent: Value = serde_json::from_str(refresh[0]["variables"].as_str().unwrap()).unwrap();
    assert_eq!(sent["input"]["refreshToken"], "[REDACTED]", "nested");

    // The whole table, every column, as text: no secret anywhere.
    let everything = rows(&app, "true");
    assert!(everything.len() >= 6);
    let text = serde_json::to_string(&everything).unwrap();
    for s in secrets
        .iter()
        .chain([TEST_PASSWORD, user.refresh.as_str(), user.access.as_str()].iter())
    {
        assert!(!text.contains(s), "`{s}` reached audit_events");
    }
}

#[tokio::test]
async fn a_change_without_its_event_is_rolled_back_and_only_the_refusal_stays() {
    let app = TestApp::start().await;
    let o = org(&app).await;
    // Make every successful event fail to insert, as a full disk or a broken chain
    // would: the change it describes must not happen.
    let mut conn = app.db.connect();
    diesel::sql_query(
        "CREATE FUNCTION refuse_ok() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         IF NEW.outcome = 'ok' AND NEW.action = 'updateTask' THEN RAISE EXCEPTION 'no room'; END IF; RETURN NEW; END $$",
    )
    .execute(&mut conn)
    .unwrap();
    diesel::sql_query("CREATE TRIGGER refuse_ok BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_ok()")
        .execute(&mut conn)
        .unwrap();
    let (body, rid) = send(
        &app,
        Some(&o.owner.access),
        &[],
        UPDATE,
        json!({ "i": { "taskId": o.task, "title": "Never saved" } }),
    )
    .await;
    assert_eq!(error_code(&body), Some("INTERNAL"), "{body}");
    let title: Value = app
        .ok(
            &o.owner,
            "query($id: ID!) { task(id: $id) { title } }",
            json!({ "id": o.task }),
        )
        .await;
    assert_eq!(
        title["task"]["title"], "A task",
        "the change was rolled back"
    );
    let e = one(&app, &rid);
    assert_eq!(
        (e["outcome"].as_str(), e["error_code"].as_str()),
        (Some("error"), Some("INTERNAL"))
    );
    assert_eq!(e["target_id"], o.task.as_str());
}

#[tokio::test]
async fn a_mutation_whose_resolver_panics_is_recorded_as_an_error() {
    let app = TestApp::start_with(|c| c.diagnostics.test_hooks = true).await;
    let user = app.user("oz").await;
    let res = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(&user.access)
        .json(&json!({ "query": "mutation { crustTestPanic: logout { revoked } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 500);
    let rid = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let e = one(&app, &rid);
    assert_eq!(
        (
            e["action"].as_str(),
            e["outcome"].as_str(),
            e["error_code"].as_str()
        ),
        (Some("logout"), Some("error"), Some("INTERNAL"))
    );
    // The session was not ended: the panic came before the work.
    assert!(app
        .gql(Some(&user.access), "{ me { id } }", json!({}))
        .await["data"]["me"]
        .is_object());
}
