//! Every BAD_USER_INPUT says what to do: one bad request per kind of mistake an SPA
//! developer makes, sent over HTTP, and the answer must name the fix — not only what
//! is wrong. (The cost, depth and rate-limit refusals have their own tests in
//! `documents`, `limits` and `abuse`; this is the catalogue of the rest.)

use crust_e2e::{error_code, TestApp};
use serde_json::{json, Value};

/// One mistake: the request, and the words of the remedy its refusal must carry.
struct Mistake {
    what: &'static str,
    query: String,
    variables: Value,
    signed_in: bool,
    remedy: &'static str,
}

fn mistake(
    what: &'static str,
    query: impl Into<String>,
    variables: Value,
    remedy: &'static str,
) -> Mistake {
    Mistake {
        what,
        query: query.into(),
        variables,
        signed_in: true,
        remedy,
    }
}

#[tokio::test]
async fn every_bad_user_input_says_what_to_do() {
    let app = TestApp::start_with(|c| c.graphql.max_batch = 3).await;
    let ann = app.user("Ann").await;
    let org = app.create_org(&ann, "Acme").await;
    let project = app
        .create_project(&ann, &org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    let slice = app.create_slice(&ann, &project, "Sprint").await;
    let done = app.create_column(&ann, &slice, "Done", true).await;
    let task = app.create_task(&ann, &project, None, "CONFIDENTIAL").await;
    let max_chars = crust_e2e::test_config("postgres://unused")
        .graphql
        .max_query_chars;

    let mut mistakes = vec![
        mistake(
            "an id that is not one",
            "query($p: ID!) { project(id: $p) { id } }",
            json!({ "p": "project-1" }),
            "pass an `id` value this API returned",
        ),
        mistake(
            "a page too large",
            "{ organizations(first: 5000) { nodes { id } } }",
            json!({}),
            "as `after:`",
        ),
        mistake(
            "a cursor made up",
            "{ organizations(after: \"page-2\") { nodes { id } } }",
            json!({}),
            "leave `after` out to start at the beginning",
        ),
        mistake(
            "an audit range backwards",
            "query($o: ID!) { auditEvents(organizationId: $o, filter: {from: \"2026-02-01T00:00:00Z\", to: \"2026-01-01T00:00:00Z\"}) { nodes { action } } }",
            json!({ "o": org }),
            "swap the two times",
        ),
        mistake(
            "a subscription sent to /graphql",
            "subscription($t: ID!) { taskChanged(taskId: $t) { kind } }",
            json!({ "t": task }),
            "a WebSocket at /graphql/ws",
        ),
        mistake(
            "a search phrase too long",
            "query($t: String!) { tasks(filter: {text: $t}) { nodes { id } } }",
            json!({ "t": "word ".repeat(50) }),
            "search for a shorter phrase",
        ),
        mistake(
            "the done column taken off the board",
            "mutation($b: ID!) { updateBox(input: {boxId: $b, boardColumn: false}) { box { id } } }",
            json!({ "b": done }),
            "send doneColumn: false with it",
        ),
        mistake(
            "a progress that is no percentage",
            "mutation($t: ID!) { updateTask(input: {taskId: $t, progress: 150}) { task { id } } }",
            json!({ "t": task }),
            "must be between 0 and 100",
        ),
        mistake(
            "a DONE task at 40 %",
            "mutation($t: ID!) { updateTask(input: {taskId: $t, status: DONE, progress: 40}) { task { id } } }",
            json!({ "t": task }),
            "must be 100 when status is DONE",
        ),
        mistake(
            "a title of spaces",
            "mutation($p: ID!) { createTask(input: {projectId: $p, title: \"   \"}) { task { id } } }",
            json!({ "p": project }),
            "title: must not be empty",
        ),
        mistake(
            "a query longer than the limit",
            format!("{{ organizations {{ nodes {{ id }} }} }} #{}", "x".repeat(max_chars)),
            json!({}),
            "send it by hash as a trusted document",
        ),
        mistake(
            "a field that does not exist",
            "{ organizations { nodes { colour } } }",
            json!({}),
            "Unknown field \"colour\" on type \"Organization\"; ask only for fields schema.graphql lists",
        ),
        mistake(
            "a variable of the wrong type",
            "query($p: ID!) { project(id: $p) { id } }",
            json!({ "p": { "id": 1 } }),
            "Invalid value for argument",
        ),
        Mistake {
            signed_in: false,
            ..mistake(
                "an address without a domain, at sign-up",
                "mutation { signUp(input: {email: \"ann\", password: \"long enough phrase\", name: \"Ann\"}) { accepted } }",
                json!({}),
                "write it as name@example.com",
            )
        },
        Mistake {
            signed_in: false,
            ..mistake(
                "large variables without signing in",
                "mutation($e: String!) { requestPasswordReset(input: {email: $e}) { accepted } }",
                json!({ "e": "x".repeat(20_000) }),
                "send smaller variables",
            )
        },
    ];
    // A selection so wide it is refused before it runs (counted after expansion): each
    // fragment spreads the one before twice, 2^13 fields in a few hundred characters.
    let mut wide =
        String::from("{ organizations { nodes { ...F13 } } } fragment F0 on Organization { id }");
    for i in 1..=13 {
        wide.push_str(&format!(
            " fragment F{i} on Organization {{ ...F{0} ...F{0} }}",
            i - 1
        ));
    }
    mistakes.push(mistake(
        "too many fields",
        wide,
        json!({}),
        "split the query into several requests",
    ));

    let mut vague = Vec::new();
    for m in &mistakes {
        let token = m.signed_in.then_some(ann.access.as_str());
        // Not `app.gql`: a refusal may come with a 4xx status (a query too long is 413).
        let mut req = app
            .http
            .post(app.url("/graphql"))
            .json(&json!({ "query": m.query, "variables": m.variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let body: Value = req.send().await.unwrap().json().await.unwrap();
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        if error_code(&body) != Some("BAD_USER_INPUT") || !message.contains(m.remedy) {
            vague.push(format!("{}: {body}", m.what));
        }
        // A query reads the same over GET (mutations are POST only).
        if !m.query.starts_with("mutation") && m.query.len() < 4000 {
            let mut req = app.http.get(app.url("/graphql")).query(&[
                ("query", m.query.as_str()),
                ("variables", &m.variables.to_string()),
            ]);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let got: Value = req.send().await.unwrap().json().await.unwrap();
            if got["errors"][0]["message"] != body["errors"][0]["message"] {
                vague.push(format!("{} over GET: {got}", m.what));
            }
        }
    }
    assert!(
        vague.is_empty(),
        "refusals that do not say what to do:\n{}",
        vague.join("\n")
    );

    // The transport's own refusals: a batch over the limit, and a body that is no JSON.
    let batch = json!([{ "query": "{ me { id } }" }, { "query": "{ me { id } }" }, { "query": "{ me { id } }" }, { "query": "{ me { id } }" }]);
    for (body, remedy) in [
        (
            batch.to_string(),
            "(this one holds 4); send the rest in another request",
        ),
        ("{ me { id } }".to_owned(), "send a JSON object"),
    ] {
        let res = app
            .http
            .post(app.url("/graphql"))
            .bearer_auth(&ann.access)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let body: Value = res.json().await.unwrap();
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(
            error_code(&body) == Some("BAD_USER_INPUT") && message.contains(remedy),
            "{body}"
        );
    }
}
