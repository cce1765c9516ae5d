//! Brute force and abuse: per-account login throttling (also through aliases and
//! batches), rate limits per user, per IP and for sign-in, and the client IP taken
//! from the socket unless a trusted proxy says otherwise.

use std::time::Duration;

use crust_api::config::RateLimits;
use crust_e2e::{error_code, TestApp, TEST_PASSWORD};
use serde_json::{json, Value};

const LOGIN: &str = "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { accessToken } }";

fn strict(c: &mut crust_api::Config) {
    c.login_max_failures = 5;
    c.login_failure_window_secs = 900;
    c.login_lockout_secs = 2;
}

#[tokio::test]
async fn five_failed_logins_lock_the_account_without_saying_so() {
    let app = TestApp::start_with(strict).await;
    let victim = app.user("victim").await;
    let bystander = app.user("bystander").await;
    let wrong = app.login(&victim.email, "not the password").await;
    for _ in 0..4 {
        app.login(&victim.email, "not the password").await;
    }
    // The right password is now refused, exactly like a wrong one.
    let locked = app.login(&victim.email, TEST_PASSWORD).await;
    assert_eq!(error_code(&locked), Some("UNAUTHENTICATED"));
    assert_eq!(
        locked["errors"][0]["message"],
        wrong["errors"][0]["message"]
    );
    // Unknown emails answer the same, and other accounts are untouched.
    assert_eq!(
        app.login("nobody@example.test", TEST_PASSWORD).await["errors"][0]["message"],
        wrong["errors"][0]["message"]
    );
    assert!(app.login(&bystander.email, TEST_PASSWORD).await["data"]["login"].is_object());
    // After the cooling-off period the owner gets in.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert!(app.login(&victim.email, TEST_PASSWORD).await["data"]["login"].is_object());
}

#[tokio::test]
async fn guesses_packed_in_aliases_or_batches_gain_nothing() {
    let app = TestApp::start_with(|c| {
        strict(c);
        c.graphql.max_batch = 5;
    })
    .await;
    let victim = app.user("victim").await;
    // Five requests of ten aliased guesses each: one guess per request is tried, so
    // the account locks after five tries, and the other forty-five never ran.
    for round in 0..5 {
        let aliases: String = (0..10)
            .map(|i| format!("g{i}: login(input: {{email: \"{}\", password: \"guess-{round}-{i}\"}}) {{ accessToken }} ", victim.email))
            .collect();
        let body = app
            .gql(None, &format!("mutation {{ {aliases} }}"), json!({}))
            .await;
        let untried = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["message"] == "send one sign-in operation per request")
            .count();
        assert_eq!(untried, 9);
    }
    let batch: Vec<Value> = (0..5)
        .map(|_| json!({ "query": LOGIN, "variables": { "e": victim.email, "p": TEST_PASSWORD } }))
        .collect();
    let answers: Value = app
        .http
        .post(app.url("/graphql"))
        .json(&batch)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for answer in answers.as_array().unwrap() {
        assert!(
            answer["data"].is_null() || answer["data"]["login"].is_null(),
            "locked even with the right password: {answer}"
        );
    }
}

async fn post(
    app: &TestApp,
    token: Option<&str>,
    forwarded: Option<&str>,
    query: &str,
    vars: Value,
) -> reqwest::Response {
    let mut req = app
        .http
        .post(app.url("/graphql"))
        .json(&json!({ "query": query, "variables": vars }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(ip) = forwarded {
        req = req.header("x-forwarded-for", ip);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn users_are_rate_limited_with_429_and_headers() {
    // 100/hour gives a burst of 5.
    let app = TestApp::start_with(|c| {
        c.rate_limits = RateLimits {
            user_per_hour: 100,
            anonymous_per_hour: 10_000_000,
            sign_in_per_hour: 10_000_000,
        }
    })
    .await;
    let greedy = app.user("greedy").await;
    let honest = app.user("honest").await;
    let mut remaining = Vec::new();
    for _ in 0..5 {
        let res = post(&app, Some(&greedy.access), None, "{ me { id } }", json!({})).await;
        assert_eq!(res.status(), 200);
        remaining.push(
            res.headers()["ratelimit-remaining"]
                .to_str()
                .unwrap()
                .parse::<u32>()
                .unwrap(),
        );
    }
    assert_eq!(remaining, [4, 3, 2, 1, 0]);
    let res = post(&app, Some(&greedy.access), None, "{ me { id } }", json!({})).await;
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry));
    assert_eq!(res.headers()["ratelimit-limit"], "5");
    assert_eq!(res.headers()["ratelimit-remaining"], "0");
    let body: Value = res.json().await.unwrap();
    assert_eq!(error_code(&body), Some("RATE_LIMITED"));
    // Someone else is not affected.
    assert_eq!(
        post(&app, Some(&honest.access), None, "{ me { id } }", json!({}))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn sign_in_is_limited_per_client_ip_and_forged_forwarding_does_not_help() {
    let limits = RateLimits {
        user_per_hour: 10_000_000,
        anonymous_per_hour: 10_000_000,
        sign_in_per_hour: 100,
    };
    let app = TestApp::start_with(|c| c.rate_limits = limits).await;
    let vars = json!({ "e": "someone@example.test", "p": "whatever-password" });
    for _ in 0..5 {
        assert_eq!(
            post(&app, None, None, LOGIN, vars.clone()).await.status(),
            200
        );
    }
    assert_eq!(
        post(&app, None, None, LOGIN, vars.clone()).await.status(),
        429
    );
    // Not behind a trusted proxy: a forged X-Forwarded-For changes nothing.
    assert_eq!(
        post(&app, None, Some("203.0.113.7"), LOGIN, vars.clone())
            .await
            .status(),
        429
    );

    // Behind a trusted proxy, each forwarded client has its own bucket.
    let proxied = TestApp::start_with(|c| {
        c.rate_limits = limits;
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    for _ in 0..5 {
        assert_eq!(
            post(&proxied, None, Some("203.0.113.7"), LOGIN, vars.clone())
                .await
                .status(),
            200
        );
    }
    assert_eq!(
        post(&proxied, None, Some("203.0.113.7"), LOGIN, vars.clone())
            .await
            .status(),
        429
    );
    assert_eq!(
        post(&proxied, None, Some("198.51.100.9"), LOGIN, vars.clone())
            .await
            .status(),
        200
    );
    // A client cannot pose as another by prepending to the header: the right-most
    // untrusted entry counts.
    assert_eq!(
        post(
            &proxied,
            None,
            Some("198.51.100.9, 203.0.113.7"),
            LOGIN,
            vars.clone()
        )
        .await
        .status(),
        429
    );
}

#[tokio::test]
async fn honest_traffic_never_sees_a_429() {
    let app = TestApp::start_with(|c| {
        c.rate_limits = RateLimits {
            user_per_hour: 5_000,
            anonymous_per_hour: 1_000,
            sign_in_per_hour: 60,
        }
    })
    .await;
    let user = app.user("steady").await;
    for _ in 0..100 {
        assert_eq!(
            post(&app, Some(&user.access), None, "{ me { id } }", json!({}))
                .await
                .status(),
            200
        );
    }
}
