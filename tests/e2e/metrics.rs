//! `/metrics`: scraped on its own address (never the API's), counting what the server
//! did with labels only the server chooses.

use std::time::Duration;

use crust_e2e::TestApp;
use serde_json::json;

fn free_addr() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

async fn scrape(app: &TestApp, addr: std::net::SocketAddr) -> String {
    let res = app
        .http
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let kind = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    res.text().await.unwrap()
}

/// The value of one sample line (`name{labels} value`), 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

#[tokio::test]
async fn metrics_are_scraped_on_their_own_address_with_server_chosen_labels() {
    let addr = free_addr();
    let app = TestApp::start_with(move |c| {
        c.diagnostics.metrics_bind = Some(addr);
        c.rate_limits.sign_in_per_hour = 3;
    })
    .await;
    let before = scrape(&app, addr).await;
    let ok = "crust_graphql_requests_total{kind=\"query\",field=\"me\",outcome=\"ok\"}";
    let user = app.user("metered").await;
    for _ in 0..3 {
        app.ok(&user, "{ me { id } }", json!({})).await;
    }
    // A field the schema does not have is never a label of its own.
    let madeup = app
        .gql(Some(&user.access), "{ zz9PluralZAlpha }", json!({}))
        .await;
    assert!(madeup.get("errors").is_some());
    // Over the sign-in limit (3 an hour here): refused and counted.
    let mut refused = 0;
    for _ in 0..5 {
        let res = app
            .http
            .post(app.url("/graphql"))
            .json(&json!({
                "query": "mutation($i: LoginInput!) { login(input: $i) { accessToken } }",
                "variables": { "i": { "email": user.email, "password": "wrong password" } },
            }))
            .send()
            .await
            .unwrap();
        if res.status() == 429 {
            refused += 1;
        }
    }
    assert!(refused >= 1);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let after = scrape(&app, addr).await;

    assert!(sample(&after, ok) >= sample(&before, ok) + 3.0, "{after}");
    assert!(
        after.lines().any(
            |l| l.starts_with("crust_graphql_request_duration_seconds_bucket{le=\"")
                && l.contains(",kind=\"query\",field=\"me\"}")
        ),
        "{after}"
    );
    assert!(!after.contains("zz9PluralZAlpha"));
    assert!(after.contains("field=\"other\""), "{after}");
    let limited = "crust_rate_limited_total{bucket=\"SignIn\"}";
    assert!(
        sample(&after, limited) >= sample(&before, limited) + 1.0,
        "{after}"
    );
    assert_eq!(sample(&after, "crust_db_pool_max_connections"), 4.0);
    let appended = "crust_audit_events_appended_total";
    assert!(
        sample(&after, appended) > sample(&before, appended),
        "{after}"
    );
    for family in [
        "crust_db_pool_connections",
        "crust_db_pool_idle_connections",
        "crust_database_unavailable_total",
        "crust_outbox_messages",
    ] {
        assert!(after.contains(family), "{family} missing:\n{after}");
    }
    // Not on the API's own address.
    let res = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn metrics_are_off_unless_configured() {
    let app = TestApp::start().await;
    assert!(app.config.diagnostics.metrics_bind.is_none());
    let res = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 404);
}
