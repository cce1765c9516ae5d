//! Sign-up's input checks, login, refresh rotation, logout and session expiry (the
//! email side of sign-up is in `mail`).

use std::time::{Duration, Instant};

use crust_e2e::{error_code, session_from, TestApp, TEST_PASSWORD};
use diesel::prelude::*;
use serde_json::json;

const ME: &str = "{ me { id email name } }";

#[tokio::test]
async fn login_then_me() {
    let app = TestApp::start().await;
    let alice = app
        .create_user("Alice@Example.test", "Alice", TEST_PASSWORD)
        .await;
    let me = app.ok(&alice, ME, json!({})).await;
    assert_eq!(me["me"]["email"], "Alice@Example.test");

    // Email is case-insensitive at login; the answer carries the user and an expiry.
    let body = app.login("alice@example.TEST", TEST_PASSWORD).await;
    let login = &body["data"]["login"];
    assert_eq!(login["user"]["id"], alice.id.as_str());
    assert!(login["expiresAt"].as_str().is_some());
    let session = session_from(login).unwrap();
    assert_eq!(app.ok(&session, ME, json!({})).await["me"]["name"], "Alice");
}

#[tokio::test]
async fn sign_up_refuses_bad_input_with_clear_messages() {
    let app = TestApp::start().await;
    let cases = [
        ("a@example.test", "short", "at least 8 characters"),
        ("b@example.test", "password1", "most common passwords"),
        ("c@example.test", &"x".repeat(129), "at most 128 characters"),
        ("not-an-email", TEST_PASSWORD, "not a valid email"),
    ];
    for (email, password, expected) in cases {
        let body = app
            .gql(
                None,
                "mutation($i: SignUpInput!) { signUp(input: $i) { accepted } }",
                json!({ "i": { "email": email, "password": password, "name": "X" } }),
            )
            .await;
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{email}: {body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.contains(expected),
            "{message} should say {expected}"
        );
    }
    // A taken address is not an error: sign-up answers the same for every address
    // (see `mail::sign_up_answers_the_same_for_new_and_taken_addresses`).
    app.create_user("dup@example.test", "Dup", TEST_PASSWORD)
        .await;
    let body = app
        .gql(None, "mutation($i: SignUpInput!) { signUp(input: $i) { accepted message } }", json!({ "i": { "email": "DUP@example.test", "password": TEST_PASSWORD, "name": "Dup" } }))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["signUp"]["accepted"], true);
}

#[tokio::test]
async fn sign_up_can_be_disabled() {
    let app = TestApp::start_with(|c| c.auth.signup_enabled = false).await;
    let body = app
        .gql(
            None,
            "mutation($i: SignUpInput!) { signUp(input: $i) { accepted } }",
            json!({ "i": { "email": "x@example.test", "password": TEST_PASSWORD, "name": "X" } }),
        )
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"));
}

#[tokio::test]
async fn a_long_passphrase_works_and_its_first_72_bytes_do_not() {
    let app = TestApp::start().await;
    let passphrase = "correct horse battery staple, then the quiet orbit of a tangerine lantern";
    let passphrase = format!("{passphrase} {}", "z".repeat(100 - passphrase.len() - 1));
    assert_eq!(passphrase.chars().count(), 100);
    app.create_user("long@example.test", "Long", &passphrase)
        .await;
    assert!(
        app.login("long@example.test", &passphrase).await["data"]["login"]["accessToken"]
            .is_string()
    );
    let truncated = app.login("long@example.test", &passphrase[..72]).await;
    assert_eq!(error_code(&truncated), Some("UNAUTHENTICATED"));
}

#[tokio::test]
async fn passwords_are_stored_peppered_and_hashed_with_bcrypt() {
    let app = TestApp::start().await;
    let user = app.user("hashcheck").await;
    let mut conn = app.db.connect();
    let hash = password_hash(&mut conn, &user.email);
    // `<pepper id>:<bcrypt hash>`.
    assert!(
        hash.starts_with("p1:$2b$04$"),
        "test profile cost 4: {hash}"
    );
    assert!(!hash.contains(TEST_PASSWORD));
    // Without the pepper the stored hash does not match the plain password.
    let bcrypt_part = hash.trim_start_matches("p1:");
    assert!(!bcrypt::verify(TEST_PASSWORD, bcrypt_part).unwrap_or(false));
}

#[tokio::test]
async fn login_rehashes_when_the_cost_changes() {
    let mut app = TestApp::start().await;
    let user = app.user("rehash").await;
    app.restart_with(|c| c.auth.bcrypt_cost = 5);
    assert!(app.login(&user.email, TEST_PASSWORD).await["data"]["login"].is_object());
    let mut conn = app.db.connect();
    let hash = password_hash(&mut conn, &user.email);
    assert!(
        hash.starts_with("p1:$2b$05$"),
        "rehashed at the new cost: {hash}"
    );
    assert!(app.login(&user.email, TEST_PASSWORD).await["data"]["login"].is_object());
}

#[tokio::test]
async fn login_failures_do_not_tell_whether_the_account_exists() {
    // A real cost so bcrypt dominates the timing, as in production.
    let app = TestApp::start_with(|c| c.auth.bcrypt_cost = 10).await;
    let user = app.user("known").await;
    let unknown = app.login("nobody@example.test", TEST_PASSWORD).await;
    let wrong = app.login(&user.email, "wrong password entirely").await;
    assert_eq!(error_code(&unknown), Some("UNAUTHENTICATED"));
    assert_eq!(
        unknown["errors"][0]["message"],
        wrong["errors"][0]["message"]
    );
    assert_eq!(unknown["data"], wrong["data"]);

    // Same time order: both spend one bcrypt verification. Tries alternate so that
    // load from other tests falls on both sides alike; medians of 7.
    let (mut t_unknown, mut t_wrong) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        let t = Instant::now();
        app.login("nobody@example.test", "wrong password entirely")
            .await;
        t_unknown.push(t.elapsed());
        let t = Instant::now();
        app.login(&user.email, "wrong password entirely").await;
        t_wrong.push(t.elapsed());
    }
    t_unknown.sort();
    t_wrong.sort();
    let (t_unknown, t_wrong) = (t_unknown[3], t_wrong[3]);
    let ratio = t_unknown.as_secs_f64() / t_wrong.as_secs_f64();
    assert!(
        (0.4..2.5).contains(&ratio),
        "unknown {t_unknown:?} vs wrong password {t_wrong:?}"
    );
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_session() {
    let app = TestApp::start().await;
    let first = app.user("rotor").await;

    let body = app.refresh(&first.refresh).await;
    let second = session_from(&body["data"]["refreshSession"]).unwrap_or_else(|| panic!("{body}"));
    assert_ne!(second.refresh, first.refresh);
    assert_eq!(
        app.ok(&second, ME, json!({})).await["me"]["id"],
        first.id.as_str()
    );

    // The spent token comes back (a thief raced the owner): refused, and the whole
    // session is revoked, including the tokens issued after it.
    let reuse = app.refresh(&first.refresh).await;
    assert_eq!(error_code(&reuse), Some("UNAUTHENTICATED"));
    assert_eq!(
        error_code(&app.refresh(&second.refresh).await),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        error_code(&app.gql(Some(&second.access), ME, json!({})).await),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        error_code(&app.refresh("not-a-token").await),
        Some("UNAUTHENTICATED")
    );
}

#[tokio::test]
async fn concurrent_use_of_one_refresh_token_succeeds_once() {
    let app = TestApp::start().await;
    let user = app.user("racer").await;
    let (a, b) = tokio::join!(app.refresh(&user.refresh), app.refresh(&user.refresh));
    let wins = [&a, &b]
        .iter()
        .filter(|r| r["data"]["refreshSession"].is_object())
        .count();
    assert_eq!(wins, 1, "{a} {b}");
}

#[tokio::test]
async fn logout_revokes_at_once() {
    let app = TestApp::start().await;
    let user = app.user("leaver").await;
    let other =
        session_from(&app.login(&user.email, TEST_PASSWORD).await["data"]["login"]).unwrap();
    let body = app
        .ok(&user, "mutation { logout { revoked } }", json!({}))
        .await;
    assert_eq!(body["logout"]["revoked"], true);
    // The very next request with the same (unexpired) access token is refused.
    assert_eq!(
        error_code(&app.gql(Some(&user.access), ME, json!({})).await),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        error_code(&app.refresh(&user.refresh).await),
        Some("UNAUTHENTICATED")
    );
    // Other sessions of the same user are untouched.
    assert!(app.gql(Some(&other.access), ME, json!({})).await["errors"].is_null());
}

#[tokio::test]
async fn refresh_tokens_expire_when_idle() {
    let app = TestApp::start_with(|c| c.auth.refresh_idle_ttl_secs = 1).await;
    let user = app.user("idle").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        error_code(&app.refresh(&user.refresh).await),
        Some("UNAUTHENTICATED")
    );
}

#[tokio::test]
async fn sessions_end_at_their_absolute_expiry() {
    let app = TestApp::start_with(|c| {
        c.auth.refresh_idle_ttl_secs = 5;
        c.auth.refresh_absolute_ttl_secs = 6;
    })
    .await;
    let user = app.user("absolute").await;
    // Margins of seconds on both sides, so a loaded machine cannot flip the outcome.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let body = app.refresh(&user.refresh).await;
    let next = session_from(&body["data"]["refreshSession"])
        .unwrap_or_else(|| panic!("within both limits: {body}"));
    tokio::time::sleep(Duration::from_millis(3300)).await;
    // Refreshed recently (not idle) but past the absolute limit: both tokens are dead.
    assert_eq!(
        error_code(&app.refresh(&next.refresh).await),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        error_code(&app.gql(Some(&next.access), ME, json!({})).await),
        Some("UNAUTHENTICATED")
    );
}

#[tokio::test]
async fn a_deactivated_user_is_refused_at_once() {
    let app = TestApp::start().await;
    let user = app.user("inactive").await;
    let mut conn = app.db.connect();
    diesel::sql_query("UPDATE users SET active = false WHERE email = $1")
        .bind::<diesel::sql_types::Text, _>(&user.email)
        .execute(&mut conn)
        .unwrap();
    assert_eq!(
        error_code(&app.gql(Some(&user.access), ME, json!({})).await),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        error_code(&app.refresh(&user.refresh).await),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        error_code(&app.login(&user.email, TEST_PASSWORD).await),
        Some("UNAUTHENTICATED")
    );
}

#[tokio::test]
async fn refresh_tokens_are_stored_only_as_hashes() {
    use sha2::{Digest, Sha256};
    let app = TestApp::start().await;
    let user = app.user("stored").await;
    let mut conn = app.db.connect();
    let stored = crust_e2e::db::texts(
        &mut conn,
        "SELECT encode(token_hash, 'hex') AS v FROM refresh_tokens WHERE $1 = $1",
        "",
    );
    let expected: String = Sha256::digest(user.refresh.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(stored, vec![expected]);
    // 256 bits of randomness, URL-safe base64 without padding.
    assert_eq!(user.refresh.len(), 43);
}

#[tokio::test]
async fn password_hashing_does_not_block_the_server() {
    // One worker thread: if bcrypt ran on it, nothing else could be answered meanwhile.
    let app = TestApp::start_with(|c| c.auth.bcrypt_cost = 14).await;
    let slow_login = app.login("nobody@example.test", "a wrong password"); // ≈1 s of bcrypt
    let health = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let t = Instant::now();
        let status = app
            .http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status();
        (status, t.elapsed())
    };
    let started = Instant::now();
    let (login, (status, health_took)) = tokio::join!(slow_login, health);
    let login_took = started.elapsed();
    assert_eq!(error_code(&login), Some("UNAUTHENTICATED"));
    assert_eq!(status, 200);
    assert!(
        health_took * 3 < login_took,
        "health answered in {health_took:?} while a {login_took:?} login was hashing"
    );
}

fn password_hash(conn: &mut diesel::PgConnection, email: &str) -> String {
    let mut rows = crust_e2e::db::texts(
        conn,
        "SELECT password_hash AS v FROM users WHERE email = $1",
        email,
    );
    rows.pop().expect("the user's row")
}
