//! The audit log, end to end: what each request leaves in `audit_events` (read raw,
//! as the database holds it), who may read it over GraphQL, and the database role's
//! inability to change it.
//!
//! By theme: `sign_in`, `mutations`, `storage` (the database's part) and `reading`;
//! the helpers every theme uses are here.

use crate::operations::{all, Ids};
use crust_e2e::scenario::Scenario;
use crust_e2e::{error_code, Session, TestApp, TEST_PASSWORD};
use diesel::prelude::*;
use serde_json::{json, Value};

mod mutations;
mod reading;
mod sign_in;
mod storage;

/// Sends a GraphQL request with extra headers; returns the body and the request id.
pub(crate) async fn send(
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
pub(crate) struct Json {
    #[diesel(sql_type = diesel::sql_types::Text)]
    j: String,
}

/// Raw rows of `audit_events` matching a condition, oldest first, as JSON objects.
pub(crate) fn rows(app: &TestApp, condition: &str) -> Vec<Value> {
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

pub(crate) fn by_request(app: &TestApp, request_id: &str) -> Vec<Value> {
    rows(app, &format!("request_id = '{request_id}'"))
}

/// One column of some events, as text.
pub(crate) fn column(events: &[Value], key: &str) -> Vec<String> {
    events
        .iter()
        .map(|e| e[key].as_str().unwrap_or_default().to_owned())
        .collect()
}

pub(crate) fn one(app: &TestApp, request_id: &str) -> Value {
    let found = by_request(app, request_id);
    assert_eq!(
        found.len(),
        1,
        "one event for request {request_id}: {found:#?}"
    );
    found.into_iter().next().unwrap()
}

pub(crate) const LOGIN: &str =
    "mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken } }";

pub(crate) const UA: &str = "AuditProbe/1.0 (e2e)";

/// An organization with a project, a task in a box, and people in every role.
pub(crate) struct Org {
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

pub(crate) async fn org(app: &TestApp) -> Org {
    let w = Scenario::new(app)
        .await
        .with_member("admin", "ADMIN")
        .await
        .with_member("member", "MEMBER")
        .await
        .with_member("guest", "GUEST")
        .await
        .with_project("MEMBERS", "CONFIDENTIAL")
        .await
        .with_project_member("viewer", "VIEWER")
        .await
        .with_task("CONFIDENTIAL")
        .await;
    Org {
        org: w.org.clone(),
        project: w.project().to_owned(),
        box_id: w.box_id().to_owned(),
        task: w.task_id().to_owned(),
        admin: w.user("admin").clone(),
        member: w.user("member").clone(),
        guest: w.user("guest").clone(),
        viewer: w.user("viewer").clone(),
        owner: w.owner,
    }
}

pub(crate) const UPDATE: &str =
    "mutation($i: UpdateTaskInput!) { updateTask(input: $i) { task { id title } } }";

pub(crate) const AUDIT_Q: &str = "query($o: ID!, $f: AuditEventFilter, $first: Int, $after: String) { auditEvents(organizationId: $o, filter: $f, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { action outcome actorId targetType targetId requestId ip variables } } }";

pub(crate) async fn total_events(app: &TestApp, o: &Org) -> i64 {
    app.ok(&o.owner, AUDIT_Q, json!({ "o": o.org })).await["auditEvents"]["totalCount"]
        .as_i64()
        .unwrap()
}
