//! The HTTP surface: authentication on every field, JSON-only POST, queries-only GET,
//! health and readiness, GraphiQL only where enabled.

use crust_e2e::{error_code, TestApp};
use serde_json::{json, Value};

use crate::operations::{all, Ids};

#[tokio::test]
async fn every_field_but_sign_in_requires_a_bearer_token() {
    let app = TestApp::start().await;
    let mut checked = 0;
    for op in all() {
        let body = app.gql(None, op.query, (op.vars)(&Ids::missing())).await;
        if crust_api::graphql::is_public(op.field) {
            // Public fields answer on their own terms (a failed login is UNAUTHENTICATED
            // too, but with its own message), never with the gate's refusal.
            let message = body["errors"][0]["message"].as_str().unwrap_or("");
            assert!(
                !message.starts_with("sign in first"),
                "{} is public: {body}",
                op.field
            );
        } else {
            assert_eq!(
                error_code(&body),
                Some("UNAUTHENTICATED"),
                "{} needs a token: {body}",
                op.field
            );
            assert!(
                body["data"].is_null() || body["data"][op.field].is_null(),
                "{}: no data",
                op.field
            );
            checked += 1;
        }
    }
    assert!(checked >= 25);
    // __typename is open; introspection is not.
    assert_eq!(
        app.gql(None, "{ __typename }", json!({})).await["data"]["__typename"],
        "Query"
    );
    for q in [
        "{ __schema { types { name } } }",
        "{ __type(name: \"User\") { name } }",
    ] {
        assert_eq!(
            error_code(&app.gql(None, q, json!({})).await),
            Some("UNAUTHENTICATED"),
            "{q}"
        );
    }
}

#[tokio::test]
async fn post_must_be_json() {
    let app = TestApp::start().await;
    let query = "mutation { createOrganization(input: {name: \"CSRF\"}) { organization { id } } }";
    for (content_type, body) in [
        (
            "application/x-www-form-urlencoded",
            format!("query={query}"),
        ),
        ("text/plain", json!({ "query": query }).to_string()),
        ("multipart/form-data; boundary=x", "--x\r\n".to_string()),
    ] {
        let res = app
            .http
            .post(app.url("/graphql"))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 415, "{content_type}");
    }
    let res = app
        .http
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = app
        .http
        .post(app.url("/graphql"))
        .json(&json!([{ "query": "{ __typename }" }]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "batching is off");
    let res = app
        .http
        .post(app.url("/graphql"))
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn get_serves_queries_and_refuses_mutations() {
    let app = TestApp::start().await;
    let user = app.user("getter").await;
    let get = |q: &str| {
        app.http
            .get(app.url("/graphql"))
            .query(&[("query", q)])
            .bearer_auth(&user.access)
            .send()
    };
    let res = get("{ me { id } }").await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"]["me"]["id"], user.id.as_str());
    let res =
        get("mutation { createOrganization(input: {name: \"via GET\"}) { organization { id } } }")
            .await
            .unwrap();
    assert_eq!(res.status(), 405);
    let orgs = app
        .ok(&user, "{ organizations { totalCount } }", json!({}))
        .await;
    assert_eq!(
        orgs["organizations"]["totalCount"], 0,
        "the GET mutation changed nothing"
    );
}

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::start().await;
    let res = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["migrations"], "current");

    // A database without the migrations: alive, but not ready.
    let bare = TestApp::start_unmigrated().await;
    assert_eq!(
        bare.http
            .get(bare.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let res = bare.http.get(bare.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["migrations"],
        format!("{} pending", crust_dal::migrate::embedded_count())
    );

    // An unreachable database: alive, not ready, and no hang.
    let gone = TestApp::start_with(|c| {
        c.database.url =
            crust_e2e::secret("postgres://postgres@127.0.0.1:1/none?connect_timeout=1");
        c.database.checkout_timeout_ms = 1000;
    })
    .await;
    assert_eq!(
        gone.http
            .get(gone.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        gone.http
            .get(gone.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
}

#[tokio::test]
async fn graphiql_only_where_enabled() {
    let app = TestApp::start().await;
    assert_eq!(
        app.http
            .get(app.url("/graphiql"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let dev = TestApp::start_with(|c| c.diagnostics.graphiql = true).await;
    let res = dev.http.get(dev.url("/graphiql")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    // GraphiQL gets the CSP it needs, and still cannot be framed.
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert!(res.text().await.unwrap().contains("graphiql"));
}

#[tokio::test]
async fn errors_carry_codes_and_no_internals() {
    let app = TestApp::start().await;
    let user = app.user("errs").await;
    let body = app
        .gql(
            Some(&user.access),
            "query($id: ID!) { project(id: $id) { id } }",
            json!({ "id": "not-a-uuid" }),
        )
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
    let body = app
        .gql(
            Some(&user.access),
            "{ organizations(first: 1000) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("between 1 and 100"));
    let body = app
        .gql(
            Some(&user.access),
            "mutation { createOrganization(input: {name: \"   \"}) { organization { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
    let text = body.to_string().to_lowercase();
    for leak in ["sql", "diesel", "postgres", "constraint", ".rs", "panicked"] {
        assert!(!text.contains(leak), "error leaks {leak}: {body}");
    }
}

#[tokio::test]
async fn one_request_carries_one_sign_in_attempt() {
    let app = TestApp::start().await;
    let user = app.user("target").await;
    // Guesses packed as aliases (within the alias limit): only the first is even tried.
    let mut query = String::from("mutation {");
    for i in 0..10 {
        query.push_str(&format!(" a{i}: login(input: {{email: \"{}\", password: \"guess-{i}-xxxx\"}}) {{ accessToken }}", user.email));
    }
    query.push_str(" }");
    let body = app.gql(None, &query, json!({})).await;
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 10);
    let refused = errors
        .iter()
        .filter(|e| e["message"] == "send one sign-in operation per request")
        .count();
    assert_eq!(refused, 9, "{body}");
    assert!(errors
        .iter()
        .all(|e| e["extensions"]["code"] == "BAD_USER_INPUT"
            || e["extensions"]["code"] == "UNAUTHENTICATED"));
    // One honest login per request still works.
    assert!(app.login(&user.email, crust_e2e::TEST_PASSWORD).await["data"]["login"].is_object());
}

#[tokio::test]
async fn database_failures_answer_internal_without_details() {
    let app = TestApp::start().await;
    let user = app.user("victim").await;
    let org = app.create_org(&user, "Org").await;
    let p = app
        .create_project(&user, &org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    let t = app.create_task(&user, &p, None, "CONFIDENTIAL").await;
    // Break the database under the server's feet.
    use diesel::RunQueryDsl;
    diesel::sql_query("DROP TABLE task_assignees CASCADE")
        .execute(&mut app.db.connect())
        .unwrap();
    let body = app
        .gql(
            Some(&user.access),
            "query($t: ID!) { task(id: $t) { title assignees { id } } }",
            json!({ "t": t }),
        )
        .await;
    assert_eq!(error_code(&body), Some("INTERNAL"), "{body}");
    assert_eq!(body["errors"][0]["message"], "internal error");
    let text = body.to_string().to_lowercase();
    for leak in [
        "task_assignees",
        "relation",
        "sql",
        "diesel",
        "does not exist",
        ".rs",
    ] {
        assert!(!text.contains(leak), "error leaks {leak}: {body}");
    }
}
