//! Limits in front of the resolvers, each shown with the hostile request (graphql-cop's
//! checks among them) and with honest traffic still passing.
//!
//! A test file over 400 lines: one hostile request per limit, each with its honest
//! counterpart.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crust_api::Profile;
use crust_e2e::{error_code, Session, TestApp};
use serde_json::{json, Value};

async fn counted() -> (TestApp, Session) {
    let app = TestApp::start_with(|c| c.diagnostics.report_sql_statements = true).await;
    let user = app.user("limits").await;
    (app, user)
}

/// Sends a query and returns the body; asserts nothing ran in the database.
async fn refused_before_resolvers(app: &TestApp, user: &Session, query: &str) -> Value {
    let body = app.gql(Some(&user.access), query, json!({})).await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    assert!(body["data"].is_null(), "{body}");
    assert_eq!(
        body["extensions"]["sqlStatements"], 0,
        "no resolver ran: {body}"
    );
    body
}

#[tokio::test]
async fn aliases_are_limited() {
    let (app, user) = counted().await;
    let many: String = (0..101).map(|i| format!("a{i}: me {{ id }} ")).collect();
    let body = refused_before_resolvers(&app, &user, &format!("{{ {many} }}")).await;
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("101 aliases"));
    // Hidden in a fragment, they count all the same.
    let body = refused_before_resolvers(
        &app,
        &user,
        &format!("query {{ ...F }} fragment F on Query {{ {many} }}"),
    )
    .await;
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("aliases"));
    // Fifteen are fine.
    let fine: String = (0..15).map(|i| format!("a{i}: me {{ id }} ")).collect();
    assert!(app
        .gql(Some(&user.access), &format!("{{ {fine} }}"), json!({}))
        .await["errors"]
        .is_null());
}

#[tokio::test]
async fn duplicated_fields_and_directives_are_limited() {
    let (app, user) = counted().await;
    let dup = format!("{{ me {{ {} }} }}", "id ".repeat(500));
    let body = refused_before_resolvers(&app, &user, &dup).await;
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("repeated 500 times"));
    let directives = format!("{{ me {{ id {} }} }}", "@skip(if: false) ".repeat(10));
    refused_before_resolvers(&app, &user, &directives).await;
}

#[tokio::test]
async fn deep_wide_and_circular_queries_are_refused() {
    let (app, user) = counted().await;
    // Deep: projects → organization → projects → … past the depth limit.
    let mut deep = String::from("id");
    for _ in 0..10 {
        deep = format!("organization {{ projects {{ nodes {{ {deep} }} }} }}");
    }
    refused_before_resolvers(
        &app,
        &user,
        &format!("{{ organizations {{ nodes {{ projects {{ nodes {{ {deep} }} }} }} }} }}"),
    )
    .await;
    // Wide: within the depth limit but far over the complexity ceiling.
    let wide = "{ organizations(first: 100) { nodes { projects(first: 100) { nodes { slices(first: 100) { nodes { boxes(first: 100) { nodes { tasks(first: 100) { nodes { id title } } } } } } } } } } }";
    let body = refused_before_resolvers(&app, &user, wide).await;
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("more than this server's ceiling of 2,000,000"),
        "{body}"
    );
    // The outermost list costs the whole query (see `over_http` for the rest).
    assert_eq!(
        body["errors"][0]["extensions"]["costliest"][0]["path"],
        "organizations"
    );
    // Circular introspection past the depth limit (in prod introspection is off
    // altogether: see `production_hides_the_schema`).
    let mut circular = String::from("name");
    for _ in 0..8 {
        circular = format!("fields {{ type {{ {circular} }} }}");
    }
    refused_before_resolvers(
        &app,
        &user,
        &format!("{{ __schema {{ types {{ {circular} }} }} }}"),
    )
    .await;
    // An honest board query passes.
    let org = app.create_org(&user, "Org").await;
    let p = app
        .create_project(&user, &org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    let board = "query($p: ID!) { project(id: $p) { slices(first: 20) { nodes { boxes(first: 20) { nodes {
        tasks(first: 50) { nodes { id title status progress assignees { name } dependsOn { task { title } } } } } } } } } }";
    let body = app.gql(Some(&user.access), board, json!({ "p": p })).await;
    assert!(body["errors"].is_null(), "{body}");
}

#[tokio::test]
async fn batching_is_off_and_query_text_is_bounded() {
    let (app, user) = counted().await;
    let batch: Vec<Value> = (0..10)
        .map(|_| json!({ "query": "{ me { id } }" }))
        .collect();
    let res = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(&user.access)
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let long = format!("{{ me {{ id }} }} #{}", "x".repeat(15_000));
    let res = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(&user.access)
        .json(&json!({ "query": long }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    let res = app
        .http
        .get(app.url("/graphql"))
        .query(&[("query", long.as_str())])
        .bearer_auth(&user.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    // A body over 1 MiB never reaches the parser.
    let huge =
        json!({ "query": "{ me { id } }", "variables": { "x": "y".repeat(2 * 1024 * 1024) } });
    let res = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(&user.access)
        .json(&huge)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
}

#[tokio::test]
async fn a_configured_batch_is_bounded_and_counts_sign_ins_together() {
    let app = TestApp::start_with(|c| c.graphql.max_batch = 3).await;
    let user = app.user("batcher").await;
    let ok: Vec<Value> = (0..3)
        .map(|_| json!({ "query": "{ me { id } }" }))
        .collect();
    let res = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(&user.access)
        .json(&ok)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body.as_array().unwrap().len(), 3);
    let too_many: Vec<Value> = (0..4)
        .map(|_| json!({ "query": "{ me { id } }" }))
        .collect();
    let res = app
        .http
        .post(app.url("/graphql"))
        .json(&too_many)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // Three password guesses in one batch: only the first is tried.
    let guesses: Vec<Value> = (0..3)
        .map(|i| json!({ "query": "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { accessToken } }",
                          "variables": { "e": user.email, "p": format!("guess-number-{i}") } }))
        .collect();
    let body: Value = app
        .http
        .post(app.url("/graphql"))
        .json(&guesses)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refused = body
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["errors"][0]["message"] == "send one sign-in operation per request")
        .count();
    assert_eq!(refused, 2, "{body}");
}

#[tokio::test]
async fn production_hides_the_schema() {
    let app = TestApp::start_with(|c| {
        c.profile = Profile::Prod;
        c.auth.bcrypt_cost = 12;
        c.graphql.introspection = false;
        c.http.behind_tls_proxy = true;
        // Prod sends mail only over TLS and links only to https.
        c.mail.smtp = Some(crust_api::config::SmtpServer {
            host: "smtp.invalid".into(),
            port: 465,
            security: crust_api::config::SmtpSecurity::ImplicitTls,
            user: None,
            password: None,
        });
        c.mail.public_url = "https://app.example.com".into();
        // Attachments' master key of its own (test value).
        c.files.key =
            crust_api::config::Secret::new("cHJvZC10ZXN0LWZpbGUta2V5LW9mLTMyLWJ5dGVzISE=");
    })
    .await;
    let user = app.user("prod").await;
    // Refused once per document, however the field is reached: aliased, through an
    // inline fragment or a named one, or beside an allowed field.
    for q in [
        "{ __schema { types { name } } }",
        "{ __type(name: \"User\") { name } }",
        "{ s: __schema { queryType { name } } }",
        "{ me { id } ... on Query { t: __type(name: \"User\") { fields { name } } } }",
        "query { ...F } fragment F on Query { __schema { types { name } } }",
    ] {
        let body = app.gql(Some(&user.access), q, json!({})).await;
        assert!(
            body["errors"].is_array() && body["data"].is_null(),
            "{q}: {body}"
        );
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{q}: {body}"
        );
        assert_eq!(
            body["errors"][0]["message"], "introspection is disabled on this server",
            "{q}: {body}"
        );
    }
    // Over GET too (the same check, before anything runs).
    let res = app
        .http
        .get(app.url("/graphql"))
        .query(&[(
            "query",
            "{ ... on Query { s: __schema { types { name } } } }",
        )])
        .bearer_auth(&user.access)
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(body["data"].is_null(), "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    // A document that asks for the schema beside a mutation is refused whole, and the
    // refused mutation is recorded like every refusal made before a document runs.
    let res = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(&user.access)
        .json(&json!({
            "operationName": "M",
            "query": "query Q { __schema { queryType { name } } } mutation M { logout { revoked } }",
        }))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    let mut conn = app.db.connect();
    let recorded = crust_e2e::db::texts(
        &mut conn,
        "SELECT count(*)::text AS v FROM audit_events WHERE reason LIKE $1",
        "introspection_disabled%",
    );
    assert_eq!(recorded, ["1"], "{body}");
    // No "did you mean …?" that would map the schema.
    let body = app
        .gql(Some(&user.access), "{ me { nmae } }", json!({}))
        .await;
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        !message.to_lowercase().contains("did you mean"),
        "{message}"
    );
    // While the dev/test profiles do help.
    let dev = TestApp::start().await;
    let u = dev.user("dev").await;
    let body = dev.gql(Some(&u.access), "{ me { nam } }", json!({})).await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Did you mean"),
        "{body}"
    );
}

#[tokio::test]
async fn a_panic_becomes_internal_with_a_request_id() {
    let app = TestApp::start_with(|c| c.diagnostics.test_hooks = true).await;
    let user = app.user("panicky").await;
    let res = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(&user.access)
        .json(&json!({ "query": "{ crustTestPanic: me { id } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 500);
    let header = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    assert_eq!(error_code(&body), Some("INTERNAL"));
    assert_eq!(
        body["errors"][0]["extensions"]["requestId"],
        header.as_str()
    );
    assert_eq!(body["errors"][0]["message"], "internal error");
    assert!(
        !body.to_string().contains("secret_path") && !body.to_string().contains("panicked"),
        "{body}"
    );
    // The same request id is in the server log, next to the panic.
    let log = std::fs::read_to_string(crust_e2e::log_file()).unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains(&header) && l.contains("resolver panicked")),
        "request id {header} not logged with the panic"
    );
    // The server lives on.
    assert!(app
        .gql(Some(&user.access), "{ me { id } }", json!({}))
        .await["errors"]
        .is_null());
}

fn assert_security_headers(res: &reqwest::Response, what: &str) {
    let h = res.headers();
    assert_eq!(
        h["content-security-policy"], "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
        "{what}"
    );
    assert_eq!(h["x-frame-options"], "DENY", "{what}");
    assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(h["referrer-policy"], "no-referrer", "{what}");
    assert_eq!(h["cache-control"], "no-store", "{what}");
    assert!(h.contains_key("x-request-id"), "{what}");
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = TestApp::start().await;
    let user = app.user("headers").await;
    let ok = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(&user.access)
        .json(&json!({ "query": "{ me { id } }" }))
        .send()
        .await
        .unwrap();
    assert_security_headers(&ok, "a GraphQL response");
    let err = app
        .http
        .post(app.url("/graphql"))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(err.status(), 415);
    assert_security_headers(&err, "an error response");
    let missing = app.http.get(app.url("/no-such-page")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_security_headers(&missing, "a 404");
    assert!(
        !ok.headers().contains_key("strict-transport-security"),
        "no HSTS over plain HTTP"
    );
    let behind_proxy = TestApp::start_with(|c| c.http.behind_tls_proxy = true).await;
    let res = behind_proxy
        .http
        .get(behind_proxy.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
}

#[tokio::test]
async fn a_slow_client_is_dropped() {
    let app = TestApp::start_with(|c| c.http.client_timeout_ms = 1000).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let started = Instant::now();
    let closed = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: crust\r\n")
            .unwrap();
        // Slowloris: one more header line every 300 ms, never finishing the head.
        for i in 0..30 {
            let mut buf = [0u8; 256];
            match stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => return true, // the server answered (408) and is closing
                Err(_) => {}
            }
            if stream
                .write_all(format!("X-Slow-{i}: y\r\n").as_bytes())
                .is_err()
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    })
    .await
    .unwrap();
    assert!(closed, "the slow client was never dropped");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "dropped after {:?}",
        started.elapsed()
    );
    // Honest clients are served meanwhile and after.
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn an_exhausted_pool_answers_503_quickly() {
    let app = TestApp::start_with(|c| {
        c.database.pool_size = 1;
        c.database.checkout_timeout_ms = 500;
        c.database.statement_timeout_ms = 4000;
    })
    .await;
    let user = app.user("pool").await;
    let held = app.lock_table("sessions", Duration::from_secs(3));
    // The first request takes the only connection and waits on the lock …
    let first = app.gql(Some(&user.access), "{ me { id } }", json!({}));
    let second = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = Instant::now();
        let res = app
            .http
            .post(app.url("/graphql"))
            .bearer_auth(&user.access)
            .json(&json!({ "query": "{ me { id } }" }))
            .send()
            .await
            .unwrap();
        (
            res.status(),
            res.headers().get("retry-after").cloned(),
            started.elapsed(),
            res.json::<Value>().await.unwrap(),
        )
    };
    // … so the second finds none within the checkout timeout: 503, not a hang.
    let (_, (status, retry_after, took, body)) = tokio::join!(first, second);
    assert_eq!(status, 503, "{body}");
    assert!(retry_after.is_some());
    assert!(
        took < Duration::from_millis(2500),
        "answered after {took:?}"
    );
    assert!(!body.to_string().to_lowercase().contains("pool"), "{body}");
    held.join().unwrap();
    assert!(
        app.gql(Some(&user.access), "{ me { id } }", json!({}))
            .await["errors"]
            .is_null(),
        "recovered"
    );
}

#[tokio::test]
async fn a_request_past_its_deadline_is_stopped() {
    let app = TestApp::start_with(|c| {
        c.http.request_timeout_ms = 700;
        c.database.statement_timeout_ms = 10_000;
    })
    .await;
    let user = app.user("slow").await;
    let org = app.create_org(&user, "Org").await;
    let held = app.lock_table("projects", Duration::from_secs(3));
    let started = Instant::now();
    let res = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(&user.access)
        .json(&json!({ "query": "query($o: ID!) { projects(organizationId: $o) { totalCount } }", "variables": { "o": org } }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    held.join().unwrap();
}

#[tokio::test]
async fn cors_only_for_configured_origins() {
    let app =
        TestApp::start_with(|c| c.http.cors_origins = vec!["https://app.example.com".into()]).await;
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, app.url("/graphql"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };
    let ok = preflight("https://app.example.com").await.unwrap();
    assert!(ok.status().is_success(), "{}", ok.status());
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(ok.headers()["access-control-allow-credentials"], "true");
    for hostile in [
        "https://evil.example.net",
        "null",
        "https://app.example.com.evil.net",
    ] {
        let res = preflight(hostile).await.unwrap();
        assert!(
            !res.headers().contains_key("access-control-allow-origin"),
            "{hostile} was allowed"
        );
    }
    // A simple cross-origin POST from elsewhere gets no CORS grant either.
    let res = app
        .http
        .post(app.url("/graphql"))
        .header("origin", "https://evil.example.net")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert!(!res.headers().contains_key("access-control-allow-origin"));
    // No origins configured: nobody.
    let closed = TestApp::start().await;
    let res = closed
        .http
        .request(reqwest::Method::OPTIONS, closed.url("/graphql"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(!res.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn every_pooled_connection_cuts_slow_statements() {
    let db = crust_e2e::TestDb::migrated().await;
    let url = db.url.clone();
    let (setting, took, failed) = tokio::task::spawn_blocking(move || {
        use diesel::RunQueryDsl;
        let pool = crust_dal::build_pool(
            &url,
            &crust_dal::PoolSettings {
                max_size: 1,
                checkout_timeout: Duration::from_secs(2),
                statement_timeout: Duration::from_millis(700),
                role: None,
            },
        );
        let mut conn = pool.get().unwrap();
        #[derive(diesel::QueryableByName)]
        struct Setting {
            #[diesel(sql_type = diesel::sql_types::Text)]
            statement_timeout: String,
        }
        let setting: Setting = diesel::sql_query("SHOW statement_timeout")
            .get_result(&mut conn)
            .unwrap();
        let started = Instant::now();
        let failed = diesel::sql_query("SELECT pg_sleep(5)")
            .execute(&mut conn)
            .is_err();
        (setting.statement_timeout, started.elapsed(), failed)
    })
    .await
    .unwrap();
    assert_eq!(setting, "700ms");
    assert!(failed, "the slow statement was cancelled");
    assert!(took < Duration::from_secs(3), "cancelled after {took:?}");
}

/// Sends `body` (with `token`, if any) after `delay`; asserts it succeeded and returns
/// when it finished, counted from `since`.
async fn finished_at(
    app: &TestApp,
    token: Option<&str>,
    body: serde_json::Value,
    delay: std::time::Duration,
    since: std::time::Instant,
) -> std::time::Duration {
    tokio::time::sleep(delay).await;
    let mut req = app.http.post(app.url("/graphql")).json(&body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let answer: serde_json::Value = req.send().await.unwrap().json().await.unwrap();
    assert!(answer.get("errors").is_none(), "{body}: {answer}");
    since.elapsed()
}

/// At most `CRUST_GRAPHQL_CONCURRENCY` operations execute at once; the others wait for
/// a turn. A document of sign-in fields only waits for the hashing pool instead (a
/// sign-in storm must not take the reads' turns), but naming a sign-in field beside a
/// read does not let the read skip the queue.
#[tokio::test]
async fn operations_take_turns_and_only_sign_ins_skip_them() {
    let app = TestApp::start_with(|c| {
        c.graphql.concurrency = 1;
        c.diagnostics.test_hooks = true;
    })
    .await;
    let user = app.user("turns").await;
    let token = Some(user.access.as_str());
    let since = std::time::Instant::now();
    let (now, later) = (
        std::time::Duration::ZERO,
        std::time::Duration::from_millis(300),
    );
    let login = format!(
        "mutation {{ login(input: {{email: \"{}\", password: \"{}\"}}) {{ accessToken }} }}",
        user.email,
        crust_e2e::TEST_PASSWORD
    );
    let (slow, sign_in, read, decoy) = tokio::join!(
        // Holds the only turn for two seconds.
        finished_at(
            &app,
            token,
            json!({ "query": "{ crustTestSlow: me { id } }" }),
            now,
            since
        ),
        finished_at(&app, None, json!({ "query": login }), later, since),
        finished_at(
            &app,
            token,
            json!({ "query": "{ me { id } }" }),
            later,
            since
        ),
        finished_at(
            &app,
            token,
            json!({
                "operationName": "Read",
                "query": "query Read { me { id } } mutation Decoy { login(input: {email: \"a@b.c\", password: \"x\"}) { accessToken } }",
            }),
            later,
            since,
        ),
    );
    let two_seconds = std::time::Duration::from_secs(2);
    assert!(slow >= two_seconds, "{slow:?}");
    assert!(
        sign_in < slow,
        "the sign-in waited for a turn: {sign_in:?} {slow:?}"
    );
    assert!(
        read >= two_seconds,
        "the read skipped the queue: {read:?} {slow:?}"
    );
    assert!(
        decoy >= two_seconds,
        "a decoy sign-in let a read skip the queue: {decoy:?} {slow:?}"
    );
}

/// Work waiting for a pooled connection waits as a parked task, not as a parked
/// thread: twenty queries behind a pool of one take turns on a thread or two, where
/// each waiter used to hold a blocking thread of its own in the pool's checkout.
#[test]
fn work_waiting_for_a_connection_holds_no_thread() {
    use std::collections::HashSet;
    use std::sync::{Arc, Mutex};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let test_db = crust_e2e::TestDb::migrated().await;
        let db = crust_api::db::Db::new(crust_dal::build_pool(
            &test_db.url,
            &crust_dal::PoolSettings {
                max_size: 1,
                checkout_timeout: Duration::from_secs(20),
                statement_timeout: Duration::from_secs(5),
                role: None,
            },
        ));
        let threads = Arc::new(Mutex::new(HashSet::new()));
        let runs = (0..20).map(|_| {
            let threads = threads.clone();
            db.run(move |conn| {
                use diesel::RunQueryDsl;
                threads.lock().unwrap().insert(std::thread::current().id());
                diesel::sql_query("SELECT pg_sleep(0.02)").execute(conn)?;
                Ok(())
            })
        });
        for done in futures_util::future::join_all(runs).await {
            assert!(done.is_ok());
        }
        let threads = threads.lock().unwrap().len();
        assert!(
            (1..=3).contains(&threads),
            "twenty waiters used {threads} threads"
        );
    });
}
