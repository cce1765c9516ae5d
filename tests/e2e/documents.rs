//! The document checks of `crust_api::graphql::document` over real HTTP: a fragment
//! bomb is refused at once, before authentication, while the server keeps answering;
//! limits hold through fragments and inline fragments; sign-ins hidden in fragments
//! draw from the sign-in bucket; "did you mean" is never told to anonymous callers.
//!
//! A test file over 400 lines: one attack per test, each built by a small generator.

use std::time::{Duration, Instant};

use crust_api::config::RateLimits;
use crust_e2e::{error_code, TestApp};
use serde_json::{json, Value};

/// 31 fragments, each spreading the next twice: 2^30 selections in about 1 KB.
fn bomb() -> String {
    let mut q = String::from("query { me { ...f0 } }");
    for i in 0..30 {
        q.push_str(&format!(
            " fragment f{i} on Me {{ ...f{n} ...f{n} }}",
            n = i + 1
        ));
    }
    q.push_str(" fragment f30 on Me { id name }");
    q
}

async fn post(
    app: &TestApp,
    token: Option<&str>,
    body: Value,
) -> (Duration, reqwest::StatusCode, Value) {
    let mut req = app.http.post(app.url("/graphql")).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let started = Instant::now();
    let res = req.send().await.unwrap();
    let status = res.status();
    let body = res.json().await.unwrap_or(Value::Null);
    (started.elapsed(), status, body)
}

/// Sends `query` and asserts it was refused as bad input saying `says`, before any
/// statement ran.
async fn refused(app: &TestApp, token: Option<&str>, query: &str, says: &str) {
    let (_, status, body) = post(app, token, json!({ "query": query })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains(says), "expected `{says}`: {body}");
    assert_eq!(body["extensions"]["sqlStatements"], 0, "{body}");
}

fn assert_bomb_refused(body: &Value) {
    assert_eq!(error_code(body), Some("BAD_USER_INPUT"), "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("once its fragments are expanded"),
        "{body}"
    );
    assert!(body["data"].is_null(), "{body}");
}

#[tokio::test]
async fn a_fragment_bomb_is_refused_at_once_and_health_answers_throughout() {
    // One worker thread: a single stalled request would stop everything.
    let app = TestApp::start_with(|c| c.diagnostics.report_sql_statements = true).await;
    let user = app.user("bomber").await;
    let q = bomb();
    assert!(q.len() < 1200, "{} bytes", q.len());

    // Anonymous, signed in, with a forged token, and over GET: refused fast, by the
    // document check (nothing ran: no statement, not even the token's session lookup).
    let mut fastest = Duration::MAX;
    for token in [
        None,
        Some(user.access.as_str()),
        Some("eyJhbGciOiJIUzI1NiJ9.e30.x"),
    ] {
        for _ in 0..5 {
            let (took, status, body) = post(&app, token, json!({ "query": q })).await;
            assert_eq!(status, 200);
            assert_bomb_refused(&body);
            assert_eq!(body["extensions"]["sqlStatements"], 0, "{body}");
            assert!(took < Duration::from_secs(2), "{took:?}");
            fastest = fastest.min(took);
        }
    }
    let started = Instant::now();
    let res = app
        .http
        .get(app.url("/graphql"))
        .query(&[("query", q.as_str())])
        .send()
        .await
        .unwrap();
    assert_bomb_refused(&res.json().await.unwrap());
    fastest = fastest.min(started.elapsed());
    // Measured from the client, so this includes loopback HTTP: the server's own time
    // is less still.
    assert!(
        fastest < Duration::from_millis(100),
        "fastest refusal {fastest:?}"
    );

    // A stream of bombs from several clients while /healthz is asked every 50 ms.
    let bombs: Vec<_> = (0..4)
        .map(|i| {
            let (http, url, q) = (app.http.clone(), app.url("/graphql"), q.clone());
            let token = (i % 2 == 0).then(|| user.access.clone());
            tokio::spawn(async move {
                for _ in 0..25 {
                    let mut req = http.post(&url).json(&json!({ "query": q }));
                    if let Some(t) = &token {
                        req = req.bearer_auth(t);
                    }
                    let body: Value = req.send().await.unwrap().json().await.unwrap();
                    assert_bomb_refused(&body);
                }
            })
        })
        .collect();
    let mut slowest_health = Duration::ZERO;
    while bombs.iter().any(|b| !b.is_finished()) {
        let started = Instant::now();
        let res = tokio::time::timeout(
            Duration::from_secs(2),
            app.http.get(app.url("/healthz")).send(),
        )
        .await
        .expect("/healthz answers while bombs arrive")
        .unwrap();
        assert_eq!(res.status(), 200);
        slowest_health = slowest_health.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for b in bombs {
        b.await.unwrap();
    }
    assert!(
        slowest_health < Duration::from_secs(2),
        "{slowest_health:?}"
    );

    // Honest traffic with fragments passes.
    let data = app
        .ok(
            &user,
            "query { me { ...Who } a: me { ...Who } } fragment Who on Me { id ...Name } fragment Name on Me { name }",
            json!({}),
        )
        .await;
    assert_eq!(data["me"]["name"], "bomber");
}

/// ~960 operations, each spreading a fragment tree just under the selection bound (no
/// key repeated more than 3 times, no aliases): each operation alone passes, together
/// they made async-graphql walk 25 million selections (5 s on one worker).
fn many_operations() -> String {
    let mut q = String::new();
    for i in 1..10 {
        q.push_str(&format!(
            "fragment F{i} on Query{{a{{...F{n}}}b{{...F{n}}}}}",
            n = i + 1
        ));
    }
    q.push_str("fragment F10 on Query{a b}fragment T on Query{...F1 ...F2 ...F4}");
    let letters: Vec<char> = ('a'..='z').chain('A'..='Z').collect();
    let mut n = 0;
    while q.len() < 14_980 {
        let name: String = [letters[n / letters.len()], letters[n % letters.len()]]
            .iter()
            .collect();
        q.push_str(&format!("query {name}{{...T}}"));
        n += 1;
    }
    q
}

#[tokio::test]
async fn a_document_of_many_operations_is_bounded_as_a_whole() {
    let app = TestApp::start_with(|c| c.diagnostics.report_sql_statements = true).await;
    let q = many_operations();
    let mut fastest = Duration::MAX;
    // The fastest of ten: a loaded machine can delay any one answer, not all of them.
    for _ in 0..10 {
        let (took, status, body) =
            post(&app, None, json!({ "query": q, "operationName": "aa" })).await;
        assert_eq!(status, 200);
        assert_bomb_refused(&body);
        fastest = fastest.min(took);
    }
    assert!(
        fastest < Duration::from_millis(100),
        "fastest refusal {fastest:?}"
    );
}

#[tokio::test]
async fn a_fragment_cycle_and_deep_nesting_are_refused_before_authentication() {
    let app = TestApp::start_with(|c| c.diagnostics.report_sql_statements = true).await;
    refused(
        &app,
        None,
        "{ me { ...a } } fragment a on Me { ...b } fragment b on Me { id ...a ...a }",
        "spreads itself",
    )
    .await;
    // Deeply nested list values would make the parser recurse thousands of times.
    let deep = format!(
        "{{ me {{ id }} tasks(filter: {{ text: {}\"a\"{} }}) {{ totalCount }} }}",
        "[".repeat(6000),
        "]".repeat(6000)
    );
    refused(&app, None, &deep, "nests brackets").await;
}

#[tokio::test]
async fn repeated_fields_are_counted_through_fragments_and_inline_fragments() {
    let app = TestApp::start_with(|c| c.diagnostics.report_sql_statements = true).await;
    let user = app.user("searcher").await;
    let token = Some(user.access.as_str());
    let search = "tasks(first: 100, filter: {text: \"a\"}) { nodes { id } }";
    // 2,500 spreads of one search: thousands of searches in one request before.
    let spreads = "...F ".repeat(2500);
    let q = format!("{{ {spreads} }} fragment F on Query {{ {search} }}");
    refused(&app, token, &q, "once its fragments are expanded").await;
    // Fewer spreads, under the selection bound: the repeat limit sees them all.
    let spreads = "...F ".repeat(50);
    let q = format!("{{ {spreads} }} fragment F on Query {{ {search} }}");
    refused(&app, token, &q, "`tasks` is repeated 50 times").await;
    // Each inline fragment used to start a fresh count.
    let inline = format!("... on Query {{ {search} }} ").repeat(40);
    refused(
        &app,
        token,
        &format!("{{ {inline} }}"),
        "`tasks` is repeated 40 times",
    )
    .await;
    // Merged parents merge their children.
    let q = format!(
        "{{ {} }}",
        "organizations { totalCount totalCount totalCount } ".repeat(4)
    );
    refused(&app, token, &q, "`totalCount` is repeated 12 times").await;
    // Honest: a fragment spread in two places, a field merged twice.
    app.ok(
        &user,
        "{ ...F me { id } } fragment F on Query { me { id name } tasks(first: 5, filter: {text: \"a\"}) { totalCount } }",
        json!({}),
    )
    .await;
}

const LOGIN_DIRECT: &str =
    "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { accessToken } }";
const LOGIN_INLINE: &str = "mutation($e: String!, $p: String!) { ... on Mutation { login(input: {email: $e, password: $p}) { accessToken } } }";
const LOGIN_FRAGMENT: &str = "mutation M($e: String!, $p: String!) { ...L } fragment L on Mutation { in: login(input: {email: $e, password: $p}) { accessToken } }";

#[tokio::test]
async fn sign_ins_hidden_in_fragments_draw_from_the_sign_in_bucket() {
    let limits = RateLimits {
        user_per_hour: 10_000_000,
        anonymous_per_hour: 10_000_000,
        // A burst of 5.
        sign_in_per_hour: 100,
    };
    for (i, form) in [LOGIN_INLINE, LOGIN_FRAGMENT, LOGIN_DIRECT]
        .iter()
        .enumerate()
    {
        let app = TestApp::start_with(|c| c.rate_limits = limits).await;
        let vars = json!({ "e": format!("someone{i}@example.test"), "p": "whatever-password" });
        for _ in 0..5 {
            let (_, status, body) =
                post(&app, None, json!({ "query": form, "variables": vars })).await;
            assert_eq!(status, 200, "{form}: {body}");
        }
        let (_, status, body) = post(&app, None, json!({ "query": form, "variables": vars })).await;
        assert_eq!(status, 429, "{form}: {body}");
        assert_eq!(error_code(&body), Some("RATE_LIMITED"), "{body}");
        // Other anonymous traffic from that address is not sign-in traffic.
        let (_, status, _) = post(&app, None, json!({ "query": "{ __typename }" })).await;
        assert_eq!(status, 200);
    }
}

#[tokio::test]
async fn suggestions_are_never_given_to_anonymous_callers() {
    let app = TestApp::start().await;
    let user = app.user("typo").await;
    for query in [
        "{ organisations { totalCount } }",
        "mutation { logn(input: {email: \"a@b.test\", password: \"x\"}) { accessToken } }",
        "mutation { login(input: {emial: \"a@b.test\", password: \"x\"}) { accessToken } }",
    ] {
        let anonymous = app.gql(None, query, json!({})).await;
        let message = anonymous["errors"][0]["message"].as_str().unwrap();
        assert!(!message.contains("Did you mean"), "{query}: {message}");
    }
    // Where introspection is on (not prod), a signed-in developer gets the hint; with
    // it off, nobody does.
    let typo = "{ organisations { totalCount } }";
    let hint = |body: &Value| {
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let signed_in = app.gql(Some(&user.access), typo, json!({})).await;
    assert!(
        hint(&signed_in).contains("Did you mean \"organizations\""),
        "{signed_in}"
    );
    let closed = TestApp::start_with(|c| c.graphql.introspection = false).await;
    let user = closed.user("typo").await;
    let body = closed.gql(Some(&user.access), typo, json!({})).await;
    assert!(!hint(&body).contains("Did you mean"), "{body}");
}

/// Without a token, whether a field or type exists cannot be told from the answer:
/// documents naming fields that need a token are refused before validation, and every
/// validation error reads the same.
#[tokio::test]
async fn anonymous_answers_say_nothing_of_the_schema() {
    let app = TestApp::start().await;
    let answer = |q: &'static str| {
        let app = &app;
        async move { app.gql(None, q, json!({})).await }
    };
    // A field that exists and one that does not.
    let real = answer("{ projects(organizationId: \"x\") { nodes { id } } }").await;
    let made_up = answer("{ projectz { id } }").await;
    assert_eq!(real, made_up);
    assert_eq!(error_code(&real), Some("UNAUTHENTICATED"), "{real}");
    // Also through fragments, and for mutations with missing arguments.
    let fragment = answer("{ ...F } fragment F on Query { projectz { id } }").await;
    assert_eq!(fragment, made_up);
    let mutation = answer("mutation { createProject(input: {}) { id } }").await;
    let made_up_mutation = answer("mutation { createProjekt(input: {}) { id } }").await;
    assert_eq!(mutation, made_up_mutation);
    assert_eq!(error_code(&mutation), Some("UNAUTHENTICATED"));
    // A type that exists and one that does not; a public field's input misspelt.
    let real_type = answer("query($x: ProjectStatus) { __typename }").await;
    let made_up_type = answer("query($x: NotAType) { __typename }").await;
    assert_eq!(real_type, made_up_type);
    let misspelt =
        answer("mutation { login(input: {email: \"a\", password: \"b\", pasword: \"c\"}) { accessToken } }")
            .await;
    for body in [&real_type, &misspelt] {
        assert_eq!(error_code(body), Some("BAD_USER_INPUT"), "{body}");
        assert_eq!(
            body["errors"][0]["message"],
            crust_api::graphql::ANONYMOUS_INVALID
        );
    }
    // Signed in, the same mistakes are explained.
    let user = app.user("dev").await;
    let body = app
        .gql(Some(&user.access), "{ projectz { id } }", json!({}))
        .await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("projectz"),
        "{body}"
    );
}

/// Two fields of one key with 500 arguments each, spread from 60 places:
/// async-graphql compared their arguments pairwise in each (4.8 s with 1,000).
fn quadratic_arguments() -> String {
    let args = |p: &str| (0..500).map(|i| format!("{p}{i}:0 ")).collect::<String>();
    let spreads: String = (0..60).map(|i| format!("...B{i} ")).collect();
    let mut q = format!(
        "{{ {spreads} }} fragment F on Query {{ a({}) a({}) }}",
        args("x"),
        args("y")
    );
    for i in 0..60 {
        q.push_str(&format!(" fragment B{i} on Query {{ ...F }}"));
    }
    q
}

/// async-graphql copies a variable's value at every use and compares a field's
/// arguments pairwise: directives, uses of variables and arguments are bounded before
/// it sees a document, in every place they can stand.
#[tokio::test]
async fn directives_variables_and_arguments_cannot_multiply_validation_work() {
    let app = TestApp::start_with(|c| c.diagnostics.report_sql_statements = true).await;
    let big: Vec<u8> = vec![0; 480_000];
    let cases = [
        // 1,200 directives on the operation, each copying a 1 MB variable (80 s before).
        (
            json!({ "query": format!("query{}{{__typename}}", "@skip(if:$v)".repeat(1200)), "variables": { "v": big } }),
            "1200 directives stand in one place",
        ),
        // Fifteen uses of that variable.
        (
            json!({ "query": format!("query($v: Boolean) {{ {} }}", (0..15).map(|i| format!("a{i}: __typename @include(if: $v) ")).collect::<String>()), "variables": { "v": big } }),
            "uses its variables in 15 places",
        ),
        (
            json!({ "query": quadratic_arguments() }),
            "takes 500 arguments",
        ),
    ];
    for (body, says) in cases {
        for token in [None, Some("not-a-token")] {
            let (took, status, answer) = post(&app, token, body.clone()).await;
            assert_eq!(status, 200, "{answer}");
            let message = answer["errors"][0]["message"].as_str().unwrap_or_default();
            assert!(message.contains(says), "expected `{says}`: {answer}");
            assert_eq!(answer["extensions"]["sqlStatements"], 0, "{answer}");
            assert!(took < Duration::from_secs(2), "{says}: {took:?}");
        }
    }
    // Without signing in, variables stay small: a sign-in sends a few hundred bytes.
    let (_, _, answer) = post(
        &app,
        None,
        json!({ "query": LOGIN_DIRECT, "variables": { "e": "a@example.test", "p": "x".repeat(20_000) } }),
    )
    .await;
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("without signing in, variables may hold at most"),
        "{answer}"
    );
}

/// The same checks hold for each operation of a batch and over GET.
#[tokio::test]
async fn batches_and_get_are_checked_like_single_posts() {
    let app = TestApp::start_with(|c| {
        c.graphql.max_batch = 3;
        c.diagnostics.report_sql_statements = true;
    })
    .await;
    let batch = json!([
        { "query": bomb() },
        { "query": "{ __typename }" },
        { "query": "{ projectz { id } }" },
    ]);
    let started = Instant::now();
    let (_, status, body) = post(&app, None, batch).await;
    assert_eq!(status, 200, "{body}");
    assert_bomb_refused(&body[0]);
    assert_eq!(body[1]["data"]["__typename"], "Query", "{body}");
    assert_eq!(error_code(&body[2]), Some("UNAUTHENTICATED"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(2));
    // Over GET, anonymous: a real and an invented field read alike, and the bomb is
    // refused like a POST.
    let get = |q: &str| {
        let req = app.http.get(app.url("/graphql")).query(&[("query", q)]);
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let real = get("{ projects(organizationId: \"x\") { nodes { id } } }").await;
    let made_up = get("{ projectz { id } }").await;
    assert_eq!(real["errors"], made_up["errors"]);
    assert_eq!(error_code(&real), Some("UNAUTHENTICATED"));
    assert_bomb_refused(&get(&bomb()).await);
}
