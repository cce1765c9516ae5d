//! Login, sign-up, reset and verification requests answer in the same time for an
//! address with an account and one without: medians measured from the client side.

use std::time::{Duration, Instant};

use crust_e2e::{TestApp, TEST_PASSWORD};
use serde_json::{json, Value};

/// Rounds of each pair, alternating so drift hits both alike.
const ROUNDS: usize = 15;
/// How far apart the medians may be: the same order of time, not the same ms.
const MAX_RATIO: f64 = 2.0;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn timed(app: &TestApp, query: &str, vars: Value) -> Duration {
    let started = Instant::now();
    let body = app.gql(None, query, vars).await;
    let took = started.elapsed();
    assert!(
        body["data"].is_object() || body["errors"].is_array(),
        "{body}"
    );
    took
}

#[tokio::test]
async fn addresses_with_and_without_accounts_answer_in_the_same_time() {
    // A realistic hashing cost: the password work is most of a sign-in's time.
    let app = TestApp::start_with(|c| c.auth.bcrypt_cost = 8).await;
    let known = app.user("known").await;
    // Fresh accounts for every round, so each request for one does the whole work (a
    // link made and a message queued), not the short path of "asked a moment ago".
    let mut verified = Vec::new();
    let mut pending = Vec::new();
    for i in 0..ROUNDS {
        verified.push(app.user(&format!("reset{i}")).await.email);
        let email = format!("pending-{i}-{}@example.test", uuid::Uuid::new_v4().simple());
        app.gql(
            None,
            "mutation($i: SignUpInput!) { signUp(input: $i) { accepted } }",
            json!({ "i": { "email": email, "password": TEST_PASSWORD, "name": "P" } }),
        )
        .await;
        pending.push(email);
    }
    // Their sign-up links went out more than a minute ago, as far as the server knows.
    let mut conn = app.db.connect();
    crust_e2e::db::texts(&mut conn, "UPDATE outbox SET created_at = created_at - interval '2 minutes' WHERE $1 = $1 RETURNING id::text AS v", "");

    let login = "mutation($i: LoginInput!) { login(input: $i) { accessToken } }";
    let sign_up = "mutation($i: SignUpInput!) { signUp(input: $i) { accepted } }";
    let reset = "mutation($i: EmailInput!) { requestPasswordReset(input: $i) { accepted } }";
    let resend = "mutation($i: EmailInput!) { resendVerification(input: $i) { accepted } }";
    let mut report = Vec::new();
    for flow in [
        "login",
        "signUp",
        "requestPasswordReset",
        "resendVerification",
    ] {
        let (mut with, mut without) = (Vec::new(), Vec::new());
        for i in 0..ROUNDS {
            let unknown = format!("nobody-{i}-{}@example.test", uuid::Uuid::new_v4().simple());
            let (q, existing, missing) = match flow {
                "login" => (
                    login,
                    json!({ "i": { "email": known.email, "password": "not the password" } }),
                    json!({ "i": { "email": unknown, "password": "not the password" } }),
                ),
                "signUp" => (
                    sign_up,
                    json!({ "i": { "email": known.email, "password": TEST_PASSWORD, "name": "X" } }),
                    json!({ "i": { "email": unknown, "password": TEST_PASSWORD, "name": "X" } }),
                ),
                "requestPasswordReset" => (
                    reset,
                    json!({ "i": { "email": verified[i] } }),
                    json!({ "i": { "email": unknown } }),
                ),
                _ => (
                    resend,
                    json!({ "i": { "email": pending[i] } }),
                    json!({ "i": { "email": unknown } }),
                ),
            };
            with.push(timed(&app, q, existing).await);
            without.push(timed(&app, q, missing).await);
        }
        let (a, b) = (median(with), median(without));
        let ratio = a.max(b).as_secs_f64() / a.min(b).as_secs_f64().max(1e-6);
        report.push(format!(
            "{flow}: account {a:?}, none {b:?}, ratio {ratio:.2}"
        ));
        assert!(ratio < MAX_RATIO, "{}", report.join("\n"));
    }
    println!("{}", report.join("\n"));
}
