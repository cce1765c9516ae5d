//! The audit log, end to end: what each request leaves in `audit_events` (read raw,
//! as the database holds it), who may read it over GraphQL, and the database role's
//! inability to change it.

use crust_e2e::{error_code, Session, TestApp, TEST_PASSWORD};
use diesel::prelude::*;
use serde_json::{json, Value};

use crate::operations::{all, Ids};

/// Sends a GraphQL request with extra headers; returns the body and the request id.
async fn send(
    app: &TestApp,
    token: Option<&str>,
    headers: &[(&str, &str)],
    query: &str,
    variables: Value,
) -> (Value, String) {
    let mut req = app
        .http
        .post(app.url("/graphql"))
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert!(status == 200 || status == 429, "{status}: {body}");
    (body, id)
}

#[derive(QueryableByName)]
struct Json {
    #[diesel(sql_type = diesel::sql_types::Text)]
    j: String,
}

/// Raw rows of `audit_events` matching a condition, oldest first, as JSON objects.
fn rows(app: &TestApp, condition: &str) -> Vec<Value> {
    let mut conn = app.db.connect();
    diesel::sql_query(format!(
        "SELECT row_to_json(e)::text AS j FROM audit_events e WHERE {condition} ORDER BY occurred_at, seq"
    ))
    .load::<Json>(&mut conn)
    .unwrap()
    .into_iter()
    .map(|r| serde_json::from_str(&r.j).unwrap())
    .collect()
}

fn by_request(app: &TestApp, request_id: &str) -> Vec<Value> {
    rows(app, &format!("request_id = '{request_id}'"))
}

/// One column of some events, as text.
fn column(events: &[Value], key: &str) -> Vec<String> {
    events
        .iter()
        .map(|e| e[key].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn one(app: &TestApp, request_id: &str) -> Value {
    let found = by_request(app, request_id);
    assert_eq!(
        found.len(),
        1,
        "one event for request {request_id}: {found:#?}"
    );
    found.into_iter().next().unwrap()
}

const LOGIN: &str = "mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken } }";
const UA: &str = "AuditProbe/1.0 (e2e)";

#[tokio::test]
async fn sign_in_events_carry_actor_session_ip_user_agent_and_request_id() {
    let app = TestApp::start_with(|c| {
        c.http.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        c.login.max_failures = 3;
    })
    .await;
    let user = app.user("alice").await;
    let proxied = [("x-forwarded-for", "203.0.113.50"), ("user-agent", UA)];

    // A successful login: actor, new session, the forwarded client, its user agent.
    let (body, rid) = send(
        &app,
        None,
        &proxied,
        LOGIN,
        json!({ "i": { "email": user.email, "password": TEST_PASSWORD } }),
    )
    .await;
    let refresh = body["data"]["login"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let e = one(&app, &rid);
    assert_eq!(e["action"], "login");
    assert_eq!(e["outcome"], "ok");
    assert_eq!(e["actor_id"], user.id.as_str());
    assert_eq!(e["subject_user_id"], user.id.as_str());
    assert!(e["session_id"].is_string());
    assert_eq!(e["ip"], "203.0.113.50");
    assert_eq!(e["user_agent"], UA);
    assert!(
        e["organization_id"].is_null(),
        "sign-ins join the global chain"
    );
    let session = e["session_id"].as_str().unwrap().to_owned();

    // A wrong password, then an unknown account: refusals with their reason class.
    let (_, rid) = send(
        &app,
        None,
        &proxied,
        LOGIN,
        json!({ "i": { "email": user.email, "password": "not-the-password-1" } }),
    )
    .await;
    let e = one(&app, &rid);
    assert_eq!(
        (e["action"].as_str(), e["outcome"].as_str()),
        (Some("login"), Some("forbidden"))
    );
    assert_eq!(e["reason"], "wrong_password");
    assert_eq!(e["error_code"], "UNAUTHENTICATED");
    assert!(e["actor_id"].is_null(), "an anonymous attempt");
    assert_eq!(
        e["subject_user_id"],
        user.id.as_str(),
        "against this account"
    );
    let (_, rid) = send(
        &app,
        None,
        &proxied,
        LOGIN,
        json!({ "i": { "email": "nobody@example.test", "password": "whatever-it-is" } }),
    )
    .await;
    assert_eq!(one(&app, &rid)["reason"], "unknown_account");

    // Two more failures reach the limit of three: the lockout is recorded with the
    // failure that caused it, and the next attempt (right password) is refused.
    send(
        &app,
        None,
        &proxied,
        LOGIN,
        json!({ "i": { "email": user.email, "password": "not-the-password-2" } }),
    )
    .await;
    let (_, rid) = send(
        &app,
        None,
        &proxied,
        LOGIN,
        json!({ "i": { "email": user.email, "password": "not-the-password-3" } }),
    )
    .await;
    let events = by_request(&app, &rid);
    let actions = column(&events, "action");
    assert_eq!(actions, ["login", "accountLocked"]);
    assert_eq!(events[1]["subject_user_id"], user.id.as_str());
    let (_, rid) = send(
        &app,
        None,
        &proxied,
        LOGIN,
        json!({ "i": { "email": user.email, "password": TEST_PASSWORD } }),
    )
    .await;
    assert_eq!(one(&app, &rid)["reason"], "account_locked");

    // Refresh rotates (recorded), the spent token's reuse revokes (recorded).
    let refresh_q =
        "mutation($i: RefreshSessionInput!) { refreshSession(input: $i) { accessToken } }";
    let (body, rid) = send(
        &app,
        None,
        &proxied,
        refresh_q,
        json!({ "i": { "refreshToken": refresh } }),
    )
    .await;
    assert!(body["data"]["refreshSession"].is_object(), "{body}");
    let e = one(&app, &rid);
    assert_eq!(
        (e["action"].as_str(), e["outcome"].as_str()),
        (Some("refreshSession"), Some("ok"))
    );
    assert_eq!(e["session_id"], session.as_str());
    assert_eq!(e["actor_id"], user.id.as_str());
    let (body, rid) = send(
        &app,
        None,
        &proxied,
        refresh_q,
        json!({ "i": { "refreshToken": refresh } }),
    )
    .await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
    let e = one(&app, &rid);
    assert_eq!(e["action"], "refreshTokenReused");
    assert_eq!(e["session_id"], session.as_str());
    assert_eq!(e["subject_user_id"], user.id.as_str());
    assert!(
        !e["variables"].as_str().unwrap().contains(&refresh),
        "the token is redacted"
    );

    // The request id is the one the server log carries for the same request.
    let log = std::fs::read_to_string(crust_e2e::log_file()).unwrap_or_default();
    assert!(log.contains(&rid), "the log has request {rid}");

    // The user sees their own security events, newest first: the failed attempts on
    // their account included.
    let fresh = app.user("bob").await;
    let d = app
        .ok(
            &fresh,
            "{ me { securityEvents(first: 10) { totalCount nodes { action outcome ip } } } }",
            json!({}),
        )
        .await;
    let mine = &d["me"]["securityEvents"];
    assert_eq!(mine["totalCount"], 1, "bob has only signed up: {mine}");
    assert_eq!(mine["nodes"][0]["action"], "signUp");
}

#[tokio::test]
async fn logout_and_password_change_are_recorded_and_seen_by_their_user() {
    let app = TestApp::start().await;
    let user = app.user("carol").await;
    let other =
        crust_e2e::session_from(&app.login(&user.email, TEST_PASSWORD).await["data"]["login"])
            .unwrap();

    let change =
        "mutation($i: ChangePasswordInput!) { changePassword(input: $i) { endedSessions } }";
    let (body, rid) = send(&app, Some(&user.access), &[], change, json!({ "i": { "currentPassword": "wrong-current-pass", "newPassword": "a fresh passphrase 9" } })).await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"));
    let e = one(&app, &rid);
    assert_eq!(
        (e["action"].as_str(), e["reason"].as_str()),
        (Some("changePassword"), Some("wrong_password"))
    );
    let (body, rid) = send(
        &app,
        Some(&user.access),
        &[],
        change,
        json!({ "i": { "currentPassword": TEST_PASSWORD, "newPassword": "a fresh passphrase 9" } }),
    )
    .await;
    assert_eq!(body["data"]["changePassword"]["endedSessions"], 1, "{body}");
    let e = one(&app, &rid);
    assert_eq!(
        (e["action"].as_str(), e["outcome"].as_str()),
        (Some("changePassword"), Some("ok"))
    );
    assert_eq!(e["actor_id"], user.id.as_str());
    let vars = e["variables"].as_str().unwrap();
    assert!(
        !vars.contains("fresh passphrase") && !vars.contains(TEST_PASSWORD),
        "{vars}"
    );
    // The other session ended with the change.
    let body = app
        .gql(Some(&other.access), "{ me { id } }", json!({}))
        .await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
    assert!(app.login(&user.email, "a fresh passphrase 9").await["data"]["login"].is_object());

    let (_, rid) = send(
        &app,
        Some(&user.access),
        &[],
        "mutation { logout { revoked } }",
        json!({}),
    )
    .await;
    let e = one(&app, &rid);
    assert_eq!(
        (e["action"].as_str(), e["actor_id"].as_str()),
        (Some("logout"), Some(user.id.as_str()))
    );

    let again = crust_e2e::session_from(
        &app.login(&user.email, "a fresh passphrase 9").await["data"]["login"],
    )
    .unwrap();
    let d = app
        .ok(
            &again,
            "{ me { securityEvents(first: 20) { nodes { action outcome reason } } } }",
            json!({}),
        )
        .await;
    let actions: Vec<&str> = d["me"]["securityEvents"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "login",
            "logout",
            "login",
            "changePassword",
            "changePassword",
            "login",
            "signUp"
        ],
        "newest first"
    );
}

#[tokio::test]
async fn a_forged_forwarded_for_is_ignored_unless_a_trusted_proxy_sent_it() {
    let mut app = TestApp::start().await;
    let user = app.user("dave").await;
    let vars = json!({ "i": { "email": user.email, "password": TEST_PASSWORD } });
    let (_, rid) = send(
        &app,
        None,
        &[("x-forwarded-for", "198.51.100.9")],
        LOGIN,
        vars.clone(),
    )
    .await;
    assert_eq!(
        one(&app, &rid)["ip"],
        "127.0.0.1",
        "no trusted proxy: the socket's address"
    );

    app.restart_with(|c| c.http.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]);
    // A client prepending a forged address: the right-most untrusted entry counts.
    let (_, rid) = send(
        &app,
        None,
        &[("x-forwarded-for", "192.0.2.1, 198.51.100.9")],
        LOGIN,
        vars,
    )
    .await;
    assert_eq!(one(&app, &rid)["ip"], "198.51.100.9");
}

#[tokio::test]
async fn sign_in_rate_limit_refusals_are_recorded() {
    let app = TestApp::start_with(|c| {
        c.rate_limits.sign_in_per_hour = 5;
    })
    .await;
    let vars = json!({ "i": { "email": "someone@example.test", "password": "guess-guess-1" } });
    let mut refused = Vec::new();
    for _ in 0..8 {
        let (body, rid) = send(&app, None, &[("user-agent", UA)], LOGIN, vars.clone()).await;
        if error_code(&body) == Some("RATE_LIMITED") {
            refused.push(rid);
        }
    }
    assert!(refused.len() >= 2, "the limit of 5 was reached");
    let e = one(&app, &refused[0]);
    assert_eq!(
        (e["action"].as_str(), e["outcome"].as_str()),
        (Some("loginRateLimited"), Some("forbidden"))
    );
    assert_eq!(e["error_code"], "RATE_LIMITED");
    assert_eq!(e["ip"], "127.0.0.1");
    assert_eq!(e["user_agent"], UA);
    // Further refusals within the minute are not written one by one (a flood must not
    // become a flood of writes); the event says so.
    assert!(by_request(&app, &refused[1]).is_empty());
    assert!(e["reason"].as_str().unwrap().contains("not recorded"));
}

/// An organization with a project, a task in a box, and people in every role.
struct Org {
    org: String,
    project: String,
    box_id: String,
    task: String,
    owner: Session,
    admin: Session,
    member: Session,
    guest: Session,
    viewer: Session,
}

async fn org(app: &TestApp) -> Org {
    let owner = app.user("owner").await;
    let (admin, member, guest, viewer) = (
        app.user("admin").await,
        app.user("member").await,
        app.user("guest").await,
        app.user("viewer").await,
    );
    let org = app.create_org(&owner, "Audited").await;
    app.add_org_member(&owner, &org, &admin, "ADMIN").await;
    app.add_org_member(&owner, &org, &member, "MEMBER").await;
    app.add_org_member(&owner, &org, &guest, "GUEST").await;
    app.add_org_member(&owner, &org, &viewer, "MEMBER").await;
    let project = app
        .create_project(&owner, &org, "MEMBERS", "CONFIDENTIAL")
        .await;
    app.add_project_member(&owner, &project, &viewer, "VIEWER")
        .await;
    let slice = app.create_slice(&owner, &project, "S").await;
    let box_id = app.create_box(&owner, &slice, "B").await;
    let task = app
        .create_task(&owner, &project, Some(&box_id), "CONFIDENTIAL")
        .await;
    Org {
        org,
        project,
        box_id,
        task,
        owner,
        admin,
        member,
        guest,
        viewer,
    }
}

const UPDATE: &str =
    "mutation($i: UpdateTaskInput!) { updateTask(input: $i) { task { id title } } }";

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
        "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }",
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
async fn the_app_role_may_append_but_never_update_or_delete() {
    let app = TestApp::start().await;
    let user = app.user("gina").await;
    app.login(&user.email, TEST_PASSWORD).await;
    assert!(
        app.config.database.role.as_deref() == Some("crust_app"),
        "the server runs as crust_app"
    );
    // The server's own pool switches every connection to that role.
    let url = app.db.url.clone();
    let current: String = tokio::task::spawn_blocking(move || {
        let pool = crust_dal::build_pool(
            &url,
            &crust_dal::PoolSettings {
                role: Some("crust_app".into()),
                ..Default::default()
            },
        );
        #[derive(QueryableByName)]
        struct Who {
            #[diesel(sql_type = diesel::sql_types::Text)]
            who: String,
        }
        diesel::sql_query("SELECT current_user::text AS who")
            .get_result::<Who>(&mut pool.get().unwrap())
            .unwrap()
            .who
    })
    .await
    .unwrap();
    assert_eq!(current, "crust_app");

    let mut conn = app.db.connect();
    let count = |conn: &mut PgConnection| -> i64 {
        diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT count(*) FROM audit_events)",
        ))
        .get_result(conn)
        .unwrap()
    };
    let before = count(&mut conn);
    assert!(before >= 2);
    diesel::sql_query("SET ROLE crust_app")
        .execute(&mut conn)
        .unwrap();
    for attack in [
        "UPDATE audit_events SET ip = '10.0.0.1'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
        "DELETE FROM audit_chain_heads",
        "UPDATE audit_chain_heads SET seq = 0",
        "INSERT INTO audit_chain_heads VALUES (gen_random_uuid(), 9, decode(repeat('00', 32), 'hex'))",
    ] {
        let err = diesel::sql_query(attack)
            .execute(&mut conn)
            .unwrap_err()
            .to_string();
        assert!(err.contains("permission denied"), "{attack}: {err}");
    }
    // Appending is what the role is for, and only as the next link of a chain: a copy of
    // the newest event numbered ahead, or re-linked to an older hash, is refused.
    let copy = |changes: &str| {
        format!(
            "INSERT INTO audit_events SELECT (jsonb_populate_record(NULL::audit_events, \
             to_jsonb(e) || jsonb_build_object('id', gen_random_uuid()) || {changes})).* \
             FROM audit_events e WHERE chain = '00000000-0000-0000-0000-000000000000' \
             ORDER BY seq DESC LIMIT 1"
        )
    };
    for changes in [
        "jsonb_build_object('seq', e.seq + 5)",
        "jsonb_build_object('seq', e.seq + 1)",
    ] {
        let err = diesel::sql_query(copy(changes))
            .execute(&mut conn)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("does not continue its chain"),
            "{changes}: {err}"
        );
    }
    diesel::sql_query("RESET ROLE").execute(&mut conn).unwrap();
    // Even the owner is stopped by the trigger (only a superuser switching triggers off
    // gets past it, and the hash chain shows that: see `crust audit verify`).
    for attack in [
        "UPDATE audit_events SET ip = '10.0.0.1'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ] {
        let err = diesel::sql_query(attack)
            .execute(&mut conn)
            .unwrap_err()
            .to_string();
        assert!(err.contains("append-only"), "{attack}: {err}");
    }
    // Nor can the owner pass off an edit as pruning: only the exact pseudonymization
    // goes through.
    diesel::sql_query("SET crust.audit_prune = 'on'")
        .execute(&mut conn)
        .unwrap();
    let forged = "UPDATE audit_events SET ip = '192.0.2.99', client_salt = NULL, pruned_at = now()";
    let err = diesel::sql_query(forged)
        .execute(&mut conn)
        .unwrap_err()
        .to_string();
    assert!(err.contains("append-only"), "{err}");
    diesel::sql_query("RESET crust.audit_prune")
        .execute(&mut conn)
        .unwrap();
    #[derive(QueryableByName)]
    struct Net {
        #[diesel(sql_type = diesel::sql_types::Text)]
        net: String,
    }
    for (ip, net) in [
        ("203.0.113.77", "203.0.113.0/24"),
        ("2001:db8:85a3::8a2e:370:7334", "2001:db8:85a3::/48"),
        ("2001:0:0:1::9", "2001::/48"),
        ("not an address", "unknown"),
    ] {
        let got: Net = diesel::sql_query("SELECT audit_pseudonymize_ip($1) AS net")
            .bind::<diesel::sql_types::Text, _>(ip)
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(got.net, net, "{ip}");
    }
    assert_eq!(count(&mut conn), before, "nothing changed");
}

#[tokio::test]
async fn temporary_tables_cannot_stand_in_for_the_chain_heads() {
    let app = TestApp::start().await;
    let user = app.user("tess").await;
    app.login(&user.email, TEST_PASSWORD).await;
    let global = "'00000000-0000-0000-0000-000000000000'";
    let mut conn = app.db.connect();
    diesel::sql_query("SET ROLE crust_app")
        .execute(&mut conn)
        .unwrap();
    // The link trigger runs as the owner but in this session, whose temporary schema
    // comes first on a search path that does not name it. A head of the attacker's
    // choosing, under the real head's name...
    diesel::sql_query(
        "CREATE TEMP TABLE audit_chain_heads (chain uuid PRIMARY KEY, seq bigint NOT NULL, hash bytea NOT NULL)",
    )
    .execute(&mut conn)
    .unwrap();
    diesel::sql_query(format!(
        "INSERT INTO audit_chain_heads SELECT chain, seq, decode(repeat('ff', 32), 'hex') \
         FROM public.audit_chain_heads WHERE chain = {global}"
    ))
    .execute(&mut conn)
    .unwrap();
    // ...and an event linked to it rather than to the real newest event.
    let forged = format!(
        "INSERT INTO audit_events SELECT (jsonb_populate_record(NULL::audit_events, \
         to_jsonb(e) || jsonb_build_object('id', gen_random_uuid(), 'seq', e.seq + 1, \
         'prev_hash', '\\x' || repeat('ff', 32)))).* \
         FROM public.audit_events e WHERE chain = {global} ORDER BY seq DESC LIMIT 1"
    );
    let err = diesel::sql_query(forged)
        .execute(&mut conn)
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not continue its chain"), "{err}");
    // The server appends on, and every chain verifies.
    drop(conn);
    assert!(app.login(&user.email, TEST_PASSWORD).await["data"]["login"].is_object());
    let mut conn = app.db.connect();
    let report = crust_dal::audit::verify(&crust_dal::Operator::at_console(), &mut conn).unwrap();
    assert!(report.broken.is_empty(), "{:?}", report.broken);
    assert!(report.events >= 3);
}

const AUDIT_Q: &str = "query($o: ID!, $f: AuditEventFilter, $first: Int, $after: String) { auditEvents(organizationId: $o, filter: $f, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { action outcome actorId targetType targetId requestId ip variables } } }";

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

async fn total_events(app: &TestApp, o: &Org) -> i64 {
    app.ok(&o.owner, AUDIT_Q, json!({ "o": o.org })).await["auditEvents"]["totalCount"]
        .as_i64()
        .unwrap()
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
async fn a_deployment_without_a_superuser_migrates_and_runs_as_crust_app() {
    // As a DBA would set it up: a login role that may create roles, owning the database.
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let (login, database) = (format!("deploy_{suffix}"), format!("crust_deploy_{suffix}"));
    let mut admin = PgConnection::establish(&crust_e2e::db::admin_url()).unwrap();
    diesel::sql_query(format!("CREATE ROLE {login} LOGIN CREATEROLE"))
        .execute(&mut admin)
        .unwrap();
    diesel::sql_query(format!("CREATE DATABASE {database} OWNER {login}"))
        .execute(&mut admin)
        .unwrap();
    let url = crust_e2e::db::url_for(&database).replacen("postgres@", &format!("{login}@"), 1);
    assert!(url.contains(&login), "{url}");

    let mut conn = PgConnection::establish(&url).unwrap();
    crust_dal::migrate::run_pending(&crust_dal::Operator::at_console(), &mut conn).unwrap();
    let app = TestApp::start_with(|c| c.database.url = crust_e2e::secret(&url)).await;
    let user = app.user("lee").await;
    let org = app.create_org(&user, "Owned by a plain role").await;
    let d = app.ok(&user, AUDIT_Q, json!({ "o": org })).await;
    assert_eq!(d["auditEvents"]["totalCount"], 1, "{d}");
    // The login role owns the tables, yet the server's connections cannot change the log.
    diesel::sql_query("SET ROLE crust_app")
        .execute(&mut conn)
        .unwrap();
    let err = diesel::sql_query("DELETE FROM audit_events")
        .execute(&mut conn)
        .unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
    drop(conn);
    drop(app);

    // The hardened set-up: the server logs in as a role that is only a member of
    // crust_app. Even code that ran `RESET ROLE` on its connection could neither write
    // the log nor switch its trigger off (that takes the table's owner).
    let web = format!("web_{suffix}");
    diesel::sql_query(format!("CREATE ROLE {web} LOGIN IN ROLE crust_app"))
        .execute(&mut admin)
        .unwrap();
    let web_url = url.replacen(&format!("{login}@"), &format!("{web}@"), 1);
    let app = TestApp::start_with(|c| c.database.url = crust_e2e::secret(&web_url)).await;
    let user = app.user("mo").await;
    let org = app.create_org(&user, "Served by a member login").await;
    let d = app.ok(&user, AUDIT_Q, json!({ "o": org })).await;
    assert_eq!(d["auditEvents"]["totalCount"], 1, "{d}");
    let mut conn = PgConnection::establish(&web_url).unwrap();
    for attack in [
        "UPDATE audit_events SET ip = NULL",
        "DELETE FROM audit_events",
        "ALTER TABLE audit_events DISABLE TRIGGER ALL",
        "DROP TABLE audit_events",
    ] {
        diesel::sql_query("RESET ROLE").execute(&mut conn).unwrap();
        let err = diesel::sql_query(attack)
            .execute(&mut conn)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("permission denied") || err.contains("must be owner"),
            "{attack}: {err}"
        );
    }
    drop(conn);
    drop(app);
    let _ = diesel::sql_query(format!("DROP DATABASE {database} WITH (FORCE)")).execute(&mut admin);
    for role in [&web, &login] {
        let _ = diesel::sql_query(format!("REVOKE crust_app FROM {role}")).execute(&mut admin);
        let _ = diesel::sql_query(format!("DROP ROLE {role}")).execute(&mut admin);
    }
}

#[tokio::test]
async fn a_failed_sign_in_is_told_to_the_account_owner_not_to_whoever_sent_it() {
    let app = TestApp::start().await;
    let victim = app.user("victim").await;
    let prober = app.user("prober").await;
    // A signed-in user tries a sign-in against someone else's account.
    let (body, rid) = send(
        &app,
        Some(&prober.access),
        &[],
        LOGIN,
        json!({ "i": { "email": victim.email, "password": "guessing-away-1" } }),
    )
    .await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
    let e = one(&app, &rid);
    assert!(e["actor_id"].is_null(), "a sign-in acts for nobody: {e}");
    let q = "{ me { securityEvents(first: 20) { nodes { action reason subjectUserId } } } }";
    let mine = app.ok(&prober, q, json!({})).await.to_string();
    assert!(
        !mine.contains("wrong_password") && !mine.contains(&victim.id),
        "{mine}"
    );
    let theirs = app.ok(&victim, q, json!({})).await.to_string();
    assert!(theirs.contains("wrong_password"), "{theirs}");
    // An unknown account concerns no one.
    send(
        &app,
        Some(&prober.access),
        &[],
        LOGIN,
        json!({ "i": { "email": "ghost@example.test", "password": "guessing-away-2" } }),
    )
    .await;
    let mine = app.ok(&prober, q, json!({})).await.to_string();
    assert!(!mine.contains("unknown_account"), "{mine}");
}

#[tokio::test]
async fn concurrent_appends_keep_every_chain_whole() {
    let app = TestApp::start().await;
    let o = org(&app).await;
    // Many writers in one organization at once, through the API...
    let mut writers = Vec::new();
    for i in 0..24 {
        let (app_url, token, project, box_id) = (
            app.url("/graphql"),
            o.owner.access.clone(),
            o.project.clone(),
            o.box_id.clone(),
        );
        writers.push(tokio::spawn(async move {
            reqwest::Client::new()
                .post(app_url)
                .bearer_auth(token)
                .json(&json!({ "query": "mutation($i: CreateTaskInput!) { createTask(input: $i) { task { id } } }", "variables": { "i": { "projectId": project, "boxId": box_id, "title": format!("T{i}") } } }))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }));
    }
    for w in writers {
        let body = w.await.unwrap();
        assert!(body.get("errors").is_none(), "{body}");
    }
    // ...and many first events of a brand-new chain, straight through the DAL.
    let url = app.db.url.clone();
    let fresh = uuid::Uuid::new_v4();
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut conn = PgConnection::establish(&url).unwrap();
                let mut e = crust_dal::audit::NewEvent::new(
                    "probe",
                    crust_domain::audit::Outcome::Ok,
                    Default::default(),
                );
                e.organization = Some(fresh);
                crust_dal::audit::append(&mut conn, &e).unwrap();
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let mut conn = app.db.connect();
    let report = crust_dal::audit::verify(&crust_dal::Operator::at_console(), &mut conn).unwrap();
    assert!(report.broken.is_empty(), "{:?}", report.broken);
    assert_eq!(rows(&app, &format!("chain = '{fresh}'")).len(), 8);
    let seqs: Vec<i64> = rows(&app, &format!("chain = '{}'", o.org))
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as i64).collect::<Vec<_>>(),
        "numbered without gaps or twins"
    );
    assert!(seqs.len() >= 34);
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
async fn refusals_before_authentication_are_recorded_once_a_minute_per_client() {
    let app = TestApp::start().await;
    let user = app.user("nia").await;
    // A mutation over GET (a would-be cross-site request): 405, and recorded.
    let get = |q: &'static str| {
        app.http
            .get(app.url("/graphql"))
            .query(&[("query", q)])
            .header("user-agent", UA)
            .send()
    };
    let res = get("mutation { logout { revoked } }").await.unwrap();
    assert_eq!(res.status(), 405);
    let rid = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let e = one(&app, &rid);
    assert_eq!(
        (e["action"].as_str(), e["outcome"].as_str()),
        (Some("mutation"), Some("invalid"))
    );
    assert!(e["reason"]
        .as_str()
        .unwrap()
        .starts_with("mutation_over_get"));
    assert_eq!(e["user_agent"], UA);
    // The same again within the minute: refused, not written again.
    let res = get("mutation { logout { revoked } }").await.unwrap();
    let rid = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(by_request(&app, &rid).is_empty());

    // A cookie call without its CSRF token.
    let res = app
        .http
        .post(app.url("/auth/login"))
        .json(&json!({ "email": user.email, "password": TEST_PASSWORD }))
        .send()
        .await
        .unwrap();
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let res = app
        .http
        .post(app.url("/auth/refresh"))
        .header("content-type", "application/json")
        .header("cookie", cookie)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let rid = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let e = one(&app, &rid);
    assert_eq!(
        (e["action"].as_str(), e["error_code"].as_str()),
        (Some("refreshSession"), Some("FORBIDDEN"))
    );
    assert!(e["reason"]
        .as_str()
        .unwrap()
        .starts_with("missing_or_wrong_csrf_token"));
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

#[tokio::test]
async fn guessing_the_current_password_through_change_password_locks_the_account() {
    let app = TestApp::start_with(|c| {
        c.login.max_failures = 3;
        c.login.lockout_secs = 600;
    })
    .await;
    let user = app.user("pat").await;
    let change =
        "mutation($i: ChangePasswordInput!) { changePassword(input: $i) { endedSessions } }";
    let attempt = |current: &'static str| json!({ "i": { "currentPassword": current, "newPassword": "a stolen token's new passphrase" } });
    // A stolen access token guesses the current password...
    let mut last = String::new();
    for guess in ["guess-number-one", "guess-number-two", "guess-number-three"] {
        let (body, rid) = send(&app, Some(&user.access), &[], change, attempt(guess)).await;
        assert_eq!(error_code(&body), Some("FORBIDDEN"));
        last = rid;
    }
    let actions = column(&by_request(&app, &last), "action");
    assert_eq!(actions, ["changePassword", "accountLocked"]);
    // ...and from then on even the right one is refused, here and at login.
    let (body, rid) = send(
        &app,
        Some(&user.access),
        &[],
        change,
        attempt(TEST_PASSWORD),
    )
    .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"));
    assert_eq!(one(&app, &rid)["reason"], "account_locked");
    assert_eq!(
        error_code(&app.login(&user.email, TEST_PASSWORD).await),
        Some("UNAUTHENTICATED")
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
