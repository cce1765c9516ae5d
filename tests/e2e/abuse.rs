//! Brute force and abuse: per-account login throttling (also through aliases and
//! batches), rate limits per user, per IP and for sign-in, and the client IP taken
//! from the socket unless a trusted proxy says otherwise.
//!
//! A test file over 400 lines: one scenario per abuse, sharing the sign-in helpers.

use std::time::Duration;

use crust_api::config::RateLimits;
use crust_e2e::{error_code, TestApp, TEST_PASSWORD};
use serde_json::{json, Value};

const LOGIN: &str = "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { accessToken } }";

fn strict(c: &mut crust_api::Config) {
    c.login.max_failures = 5;
    c.login.failure_window_secs = 900;
    c.login.lockout_secs = 2;
}

/// Behind a trusted proxy (the test client's address), so each test picks its
/// clients' addresses with `X-Forwarded-For`.
fn strict_behind_proxy(c: &mut crust_api::Config) {
    strict(c);
    c.http.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
}

/// A login from `ip`; the whole answer.
async fn login_from(app: &TestApp, ip: &str, email: &str, password: &str) -> Value {
    let res = post(
        app,
        None,
        Some(ip),
        LOGIN,
        json!({ "e": email, "p": password }),
    )
    .await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

fn signed_in(body: &Value) -> bool {
    body["data"]["login"]["accessToken"].is_string()
}

#[tokio::test]
async fn five_failed_logins_lock_that_address_out_without_saying_so() {
    let app = TestApp::start_with(strict_behind_proxy).await;
    let victim = app.user("victim").await;
    let bystander = app.user("bystander").await;
    let guesser = "203.0.113.7";
    let wrong = login_from(&app, guesser, &victim.email, "not the password").await;
    for _ in 0..4 {
        login_from(&app, guesser, &victim.email, "not the password").await;
    }
    // From the guesser's address the right password is now refused, exactly like a
    // wrong one.
    let locked = login_from(&app, guesser, &victim.email, TEST_PASSWORD).await;
    assert_eq!(error_code(&locked), Some("UNAUTHENTICATED"));
    assert_eq!(
        locked["errors"][0]["message"],
        wrong["errors"][0]["message"]
    );
    assert_eq!(locked["data"], wrong["data"]);
    // Unknown emails answer the same, and other accounts are untouched, even there.
    assert_eq!(
        login_from(&app, guesser, "nobody@example.test", TEST_PASSWORD).await["errors"][0]
            ["message"],
        wrong["errors"][0]["message"]
    );
    assert!(signed_in(
        &login_from(&app, guesser, &bystander.email, TEST_PASSWORD).await
    ));
    // The owner, anywhere else, is not locked out.
    assert!(signed_in(
        &login_from(&app, "198.51.100.9", &victim.email, TEST_PASSWORD).await
    ));
    // After the cooling-off period the guesser's address may try again.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert!(signed_in(
        &login_from(&app, guesser, &victim.email, TEST_PASSWORD).await
    ));
}

#[tokio::test]
async fn guesses_from_many_addresses_slow_the_owner_down_but_never_lock_them_out() {
    let app = TestApp::start_with(|c| {
        strict_behind_proxy(c);
        c.login.lockout_secs = 600;
        c.login.max_delay_ms = 300;
    })
    .await;
    let victim = app.user("victim").await;
    let guessers: Vec<String> = (1..=6).map(|n| format!("198.51.100.{n}")).collect();
    for ip in &guessers {
        for round in 0..5 {
            let body = login_from(&app, ip, &victim.email, &format!("guess-{round}")).await;
            assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
        }
    }
    // Every guessing address is locked out...
    assert!(!signed_in(
        &login_from(&app, &guessers[5], &victim.email, TEST_PASSWORD).await
    ));
    // ...while the owner, from a seventh, gets in: slowed down, never refused.
    let started = std::time::Instant::now();
    let body = login_from(&app, "192.0.2.77", &victim.email, TEST_PASSWORD).await;
    let took = started.elapsed();
    assert!(signed_in(&body), "the owner was refused: {body}");
    assert!(
        took >= Duration::from_millis(300),
        "30 failures on the account delay every attempt on it by the cap ({took:?})"
    );
    // The delay belongs to that account only.
    let other = app.user("other").await;
    let started = std::time::Instant::now();
    assert!(signed_in(
        &login_from(&app, "192.0.2.77", &other.email, TEST_PASSWORD).await
    ));
    assert!(started.elapsed() < Duration::from_millis(300));
}

#[tokio::test]
async fn spellings_of_one_email_share_one_counter_as_postgresql_matches_them() {
    let app = TestApp::start_with(|c| {
        strict_behind_proxy(c);
        c.login.lockout_secs = 600;
    })
    .await;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let email = format!("info.{tag}@example.test");
    // PostgreSQL's lower() makes `İ` (U+0130) a plain `i`, so this spelling names the
    // same account; Rust's to_lowercase makes it `i̇` (i + U+0307), another text.
    let dotted_capital = format!("İNFO.{}@EXAMPLE.TEST", tag.to_uppercase());
    assert_ne!(dotted_capital.to_lowercase(), email);
    // And `i̇nfo` (i + U+0307) is another account to PostgreSQL, although Rust lowercases
    // `İNFO` to exactly its text.
    let combining = format!("i\u{307}nfo.{tag}@example.test");
    assert_eq!(dotted_capital.to_lowercase(), combining);
    app.create_user(&email, "Info", TEST_PASSWORD).await;
    let neighbour = app
        .create_user(&combining, "Neighbour", TEST_PASSWORD)
        .await;
    let guesser = "203.0.113.9";
    assert!(
        signed_in(&login_from(&app, "192.0.2.1", &dotted_capital, TEST_PASSWORD).await),
        "PostgreSQL finds the account under the dotted capital"
    );

    // Failures spread over spellings from one address lock that address out of the
    // account, whichever spelling it uses next.
    for _ in 0..3 {
        login_from(&app, guesser, &dotted_capital, "not the password").await;
    }
    for spelling in [format!("Info.{tag}@example.test"), email.to_uppercase()] {
        login_from(&app, guesser, &spelling, "not the password").await;
    }
    for spelling in [&email, &dotted_capital] {
        let body = login_from(&app, guesser, spelling, TEST_PASSWORD).await;
        assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{spelling}");
    }
    // The account PostgreSQL tells apart is not caught by those failures.
    let body = login_from(&app, guesser, &combining, TEST_PASSWORD).await;
    assert!(
        signed_in(&body),
        "{} was locked by another account's failures: {body}",
        neighbour.email
    );
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
        c.http.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
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

/// Forty guesses sent at once from one IPv6 /64, each from its own address: before,
/// every one was checked against the password (the lock was decided before any failure
/// was counted) and none met the sign-in rate limit (keyed by the whole address).
#[tokio::test]
async fn guesses_sent_at_once_from_a_rotating_ipv6_block_gain_nothing() {
    // With the sign-in rate limit out of the way, the pair lock alone holds.
    let app = TestApp::start_with(|c| {
        strict_behind_proxy(c);
        c.login.lockout_secs = 900;
    })
    .await;
    let victim = app.user("victim").await;
    let guesses: Vec<_> = (0..40)
        .map(|i| {
            let app_url = app.url("/graphql");
            let http = app.http.clone();
            let email = victim.email.clone();
            tokio::spawn(async move {
                http.post(app_url)
                    .header("x-forwarded-for", format!("2001:db8:1:2::{:x}", i + 1))
                    .json(&json!({ "query": LOGIN, "variables": { "e": email, "p": format!("wrong guess {i}") } }))
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    for g in guesses {
        assert_eq!(g.await.unwrap(), 200);
    }
    let mut conn = app.db.connect();
    let checked = crust_e2e::db::texts(
        &mut conn,
        "SELECT count(*)::text AS v FROM audit_events WHERE action = 'login' AND reason = $1",
        "wrong_password",
    );
    assert_eq!(checked, ["5"], "only five guesses were checked");
    // The block is locked now, whatever address of it comes next, right password or not.
    let body = login_from(&app, "2001:db8:1:2::ffff", &victim.email, TEST_PASSWORD).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{body}");
    // The owner elsewhere gets in.
    let body = login_from(&app, "2001:db8:9:9::1", &victim.email, TEST_PASSWORD).await;
    assert!(body["data"]["login"]["accessToken"].is_string(), "{body}");

    // With the default sign-in limit, a rotating block meets it like one address does.
    let limited = TestApp::start_with(|c| {
        c.http.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        c.rate_limits.sign_in_per_hour = 100;
    })
    .await;
    let mut statuses = Vec::new();
    for i in 0..8 {
        let res = post(
            &limited,
            None,
            Some(&format!("2001:db8:5:5::{:x}", i + 1)),
            LOGIN,
            json!({ "e": "someone@example.test", "p": "whatever-password" }),
        )
        .await;
        statuses.push(res.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
}

/// Refused documents draw from the anonymous bucket of the client's network, and a
/// batch draws once per operation: neither refusals nor batches are free.
#[tokio::test]
async fn refusals_and_batches_draw_from_the_rate_limits() {
    let limits = RateLimits {
        user_per_hour: 100,
        anonymous_per_hour: 100,
        sign_in_per_hour: 10_000_000,
    };
    let app = TestApp::start_with(|c| {
        c.rate_limits = limits;
        c.graphql.max_batch = 10;
        c.http.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    // A refused mutation document from addresses rotating through one /64: five are
    // answered (the burst), then 429; and the audit log holds one sampled refusal.
    let refused = "mutation { login(input: {email: \"a\", password: \"b\"}) { accessToken } } fragment U on Query { __typename }";
    let mut statuses = Vec::new();
    for i in 0..8 {
        let res = post(
            &app,
            None,
            Some(&format!("2001:db8:7:7::{:x}", i + 1)),
            refused,
            json!({}),
        )
        .await;
        statuses.push(res.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
    let mut conn = app.db.connect();
    let rows = crust_e2e::db::texts(
        &mut conn,
        "SELECT count(*)::text AS v FROM audit_events WHERE reason LIKE $1",
        "document_refused%",
    );
    assert_eq!(rows, ["1"], "one sampled record per network and minute");

    // Signed in: a batch of six operations overdraws a burst of five.
    let user = app.user("batcher").await;
    let batch = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|_| json!({ "query": "{ me { id } }" }))
            .collect()
    };
    let res = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(&user.access)
        .json(&batch(6))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
}
