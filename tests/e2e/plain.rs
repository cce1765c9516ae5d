//! Pages of tasks are answered without a future per field when every field asked is
//! at hand (`crust_api::graphql::plain`) and by the GraphQL engine otherwise. Both
//! must answer alike in every form a query can take: each query here is sent as
//! written and again with one field only the engine answers (`dependents`), and the
//! two responses must be the same but for that field — for a caller who sees every
//! task and one who does not, over POST, over GET and in a batch.

use crust_e2e::{Session, TestApp};
use serde_json::{json, Value};

const ENGINE_ONLY: &str = "zzEngine: dependents { task { id } }";

/// The query as written, and the same with `ENGINE_ONLY` beside the `@@` mark.
fn both(query: &str) -> (String, String) {
    (query.replace("@@", ""), query.replace("@@", ENGINE_ONLY))
}

fn without_engine_only(mut v: Value) -> Value {
    match &mut v {
        Value::Object(map) => {
            map.remove("zzEngine");
            for x in map.values_mut() {
                *x = without_engine_only(x.take());
            }
        }
        Value::Array(items) => {
            for x in items.iter_mut() {
                *x = without_engine_only(x.take());
            }
        }
        _ => {}
    }
    v
}

/// (variables, the `tasks` field, fragments): each is asked of a box's tasks and of
/// the project's.
const FORMS: &[(&str, &str, &str)] = &[
    // Every plain field, with variables.
    (
        ", $n: Int",
        "tasks(first: 10) { totalCount nodes { @@ id title description descriptionHtml recipeRole status progress classification
          startDate dueDate durationDays createdAt updatedAt projectId isBlocked __typename
          assignees { id name email __typename } dependsOn { type task { id title status } }
          comments(first: $n) { totalCount nodes { id taskId body bodyHtml createdAt editedAt __typename } } } }",
        "",
    ),
    // Fragments, nested fragments, inline fragments, aliases.
    (
        "",
        "tasks { nodes { @@ ...T } }",
        "fragment T on Task { t: title ... on Task { s: status } who: assignees { ...U } deps: dependsOn { task { ...Tiny } } c: comments(first: 2) { n: totalCount nodes { b: body } } }
         fragment U on User { n: name __typename }
         fragment Tiny on Task { title __typename }",
    ),
    // A key given twice (the engine merges), and a field under two aliases.
    (
        "",
        "tasks { nodes { @@ title title a: assignees { name } a: assignees { id } } }",
        "",
    ),
    // Two pages of comments under two aliases, and a cursor.
    (
        "",
        "tasks { nodes { @@ c1: comments(first: 1) { nodes { body } } c2: comments(first: 2, after: \"bzox\") { nodes { body } } } }",
        "",
    ),
    // Skipped and included fields, edges and page info beside nodes.
    (
        ", $yes: Boolean = true",
        "tasks(first: 2) { pageInfo { hasNextPage endCursor } edges { cursor node { title } } nodes { @@ title status @skip(if: $yes) progress @include(if: $yes) } }",
        "",
    ),
];

/// A form asked of the box's tasks and of the project's.
fn queries(form: &(&str, &str, &str)) -> [String; 2] {
    let (vars, tasks, fragments) = form;
    [
        format!("query($p: ID!{vars}) {{ project(id: $p) {{ slices(first: 2) {{ nodes {{ boxes(first: 2) {{ nodes {{ {tasks} }} }} }} }} }} }} {fragments}"),
        format!("query($p: ID!{vars}) {{ project(id: $p) {{ {tasks} }} }} {fragments}"),
    ]
}

#[tokio::test]
async fn pages_of_tasks_answer_alike_with_or_without_the_engine() {
    let app = TestApp::start_with(|c| c.graphql.max_batch = 2).await;
    let owner = app.user("owner").await;
    let member = app.user("member").await;
    let org = app.create_org(&owner, "Org").await;
    app.add_org_member(&owner, &org, &member, "MEMBER").await;
    let p = app
        .create_project(&owner, &org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    let s = app.create_slice(&owner, &p, "S").await;
    let b = app.create_box(&owner, &s, "B").await;
    let visible = app.create_task(&owner, &p, Some(&b), "CONFIDENTIAL").await;
    let secret = app.create_task(&owner, &p, Some(&b), "SECRET").await;
    let waiting = app.create_task(&owner, &p, Some(&b), "CONFIDENTIAL").await;
    app.create_task(&owner, &p, Some(&b), "CONFIDENTIAL").await;
    let update = "mutation($i: UpdateTaskInput!) { updateTask(input: $i) { task { id } } }";
    app.ok(
        &owner,
        update,
        json!({ "i": { "taskId": visible, "title": "Visible", "description": "Some *markdown* <b>x</b>", "assigneeIds": [owner.id], "progress": 40, "durationDays": 3 } }),
    )
    .await;
    app.ok(
        &owner,
        update,
        json!({ "i": { "taskId": secret, "title": "Secret plan" } }),
    )
    .await;
    for before in [&visible, &secret] {
        app.ok(
            &owner,
            "mutation($i: AddTaskDependencyInput!) { addTaskDependency(input: $i) { task { id } } }",
            json!({ "i": { "taskId": waiting, "dependsOnTaskId": before } }),
        )
        .await;
    }
    for n in 0..3 {
        app.ok(
            &owner,
            "mutation($i: AddCommentInput!) { addComment(input: $i) { comment { id } } }",
            json!({ "i": { "taskId": visible, "body": format!("comment **{n}**") } }),
        )
        .await;
    }
    let vars = json!({ "p": p, "n": 2 });
    let mut seen_secret = vec![];
    for who in [&owner, &member] {
        for form in FORMS.iter().flat_map(queries) {
            let (plain, engine) = both(&form);
            let by_plain = answer(&app, who, &plain, &vars).await;
            let by_engine = answer(&app, who, &engine, &vars).await;
            assert_eq!(by_plain, without_engine_only(by_engine.clone()), "{form}");
            // The same over GET, and both forms in one batch.
            assert_eq!(over_get(&app, who, &plain, &vars).await, by_plain, "{form}");
            assert_eq!(
                in_a_batch(&app, who, [&plain, &engine], &vars).await,
                [by_plain.clone(), by_engine.clone()],
                "{form}"
            );
            assert!(
                by_engine.to_string().contains("zzEngine"),
                "the engine's form really asked for the engine's field"
            );
            if by_plain.to_string().contains("Secret plan") {
                seen_secret.push(who.id.clone());
            }
        }
    }
    // Only the owner was shown the SECRET task (by title, and as a dependency).
    seen_secret.dedup();
    assert_eq!(seen_secret, vec![owner.id.clone()]);
}

pub(crate) async fn answer(app: &TestApp, who: &Session, query: &str, vars: &Value) -> Value {
    let body = app.gql(Some(&who.access), query, vars.clone()).await;
    assert!(body["errors"].is_null(), "{query}: {body}");
    body["data"].clone()
}

pub(crate) async fn over_get(app: &TestApp, who: &Session, query: &str, vars: &Value) -> Value {
    let body: Value = app
        .http
        .get(app.url("/graphql"))
        .query(&[("query", query), ("variables", &vars.to_string())])
        .bearer_auth(&who.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(body["errors"].is_null(), "{query}: {body}");
    body["data"].clone()
}

pub(crate) async fn in_a_batch(
    app: &TestApp,
    who: &Session,
    queries: [&str; 2],
    vars: &Value,
) -> [Value; 2] {
    let batch: Vec<Value> = queries
        .iter()
        .map(|q| json!({ "query": q, "variables": vars }))
        .collect();
    let body: Value = app
        .http
        .post(app.url("/graphql"))
        .json(&batch)
        .bearer_auth(&who.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(body.is_array(), "{body}");
    let answer = |i: usize| {
        assert!(body[i]["errors"].is_null(), "{body}");
        body[i]["data"].clone()
    };
    [answer(0), answer(1)]
}

/// A page asked twice under one response key (beside itself, through fragments, under a
/// parent asked twice) is answered whole: the engine merges the two answers, so neither
/// may be written as JSON that it cannot merge (found by review: one half was lost).
#[tokio::test]
async fn a_page_asked_twice_under_one_key_is_answered_whole() {
    let app = TestApp::start().await;
    let owner = app.user("owner").await;
    let org = app.create_org(&owner, "Org").await;
    let p = app
        .create_project(&owner, &org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    let s = app.create_slice(&owner, &p, "S").await;
    let b = app.create_box(&owner, &s, "B").await;
    for _ in 0..2 {
        app.create_task(&owner, &p, Some(&b), "CONFIDENTIAL").await;
    }
    let vars = json!({ "p": p });
    let tree = |tasks: &str| {
        format!(
            "query($p: ID!) {{ project(id: $p) {{ {tasks} slices {{ nodes {{ boxes {{ nodes {{ {tasks} }} }} }} }} }} }}"
        )
    };
    let once = answer(
        &app,
        &owner,
        &tree("tasks { totalCount nodes { id title } }"),
        &vars,
    )
    .await;
    let nodes = &once["project"]["tasks"]["nodes"];
    assert_eq!(nodes.as_array().map(Vec::len), Some(2), "{once}");
    assert_eq!(once["project"]["tasks"]["totalCount"], 2, "{once}");
    let twice = [
        tree("tasks { totalCount } tasks { nodes { id title } }"),
        tree("...A ...B").replace(
            "query(",
            "fragment A on Project { tasks { totalCount } } fragment B on Project { tasks { nodes { id title } } } query(",
        ),
        "query($p: ID!) { project(id: $p) { tasks { totalCount } } project(id: $p) { tasks { nodes { id title } } slices { nodes { boxes { nodes { tasks { totalCount nodes { id title } } } } } } } }"
            .to_owned(),
    ];
    // The fragment form puts its spreads on boxes too, where they do not apply: drop
    // them there.
    let twice = [
        twice[0].clone(),
        twice[1].replace(
            "boxes { nodes { ...A ...B } }",
            "boxes { nodes { tasks { totalCount } tasks { nodes { id title } } } }",
        ),
        twice[2].clone(),
    ];
    for query in &twice {
        assert_eq!(answer(&app, &owner, query, &vars).await, once, "{query}");
        assert_eq!(over_get(&app, &owner, query, &vars).await, once, "{query}");
    }
}
