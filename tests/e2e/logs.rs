//! Nothing secret reaches the log: this test runs the sign-in flows (including failures
//! and hostile tokens) and searches this process's whole log; `.ci/run` then searches
//! the logs of every test process of the suite the same way.

use crust_e2e::{TestApp, TEST_PASSWORD};
use serde_json::json;

#[tokio::test]
async fn the_log_holds_no_password_or_token() {
    let app = TestApp::start().await;
    let user = app.user("logged").await;
    app.login(&user.email, TEST_PASSWORD).await;
    app.login(&user.email, "wrong password entirely").await;
    app.refresh(&user.refresh).await;
    app.refresh(&user.refresh).await; // reuse
    app.gql(
        Some("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."),
        "{ me { id } }",
        json!({}),
    )
    .await;
    app.gql(Some(&user.access), "{ me { id } }", json!({}))
        .await;
    app.gql(
        Some(&user.access),
        "mutation { logout { revoked } }",
        json!({}),
    )
    .await;
    // A denial, logged with the request's id.
    let other = app.user("other").await;
    let org = app.create_org(&other, "Theirs").await;
    let prober = app.user("prober").await;
    let denied = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(&prober.access)
        .json(&json!({ "query": "query($o: ID!) { organization(id: $o) { name } }", "variables": { "o": org } }))
        .send()
        .await
        .unwrap();
    let request_id = denied.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let log = std::fs::read_to_string(crust_e2e::log_file()).unwrap();
    assert!(
        log.lines().any(|l| l.contains(&request_id)
            && l.contains("request denied")
            && l.contains("NOT_FOUND")),
        "the denial of request {request_id} is not in the log"
    );
    assert!(
        log.contains("login"),
        "the log was written: {} bytes",
        log.len()
    );
    for secret in [
        TEST_PASSWORD,
        "wrong password entirely",
        "eyJ",
        &user.refresh,
        crust_e2e::TEST_JWT_SECRET,
    ] {
        assert!(!log.contains(secret), "the log contains {secret:?}");
    }
}
