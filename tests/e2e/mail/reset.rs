//! Password reset: the same answer for any address, one message per address every
//! few minutes, a one-hour single-use link, every session ended, the lockout cleared,
//! a notice sent.

use crust_e2e::mail::SmtpPeer;
use crust_e2e::{error_code, TestApp, TEST_PASSWORD};
use serde_json::json;

use super::{anonymous, assert_not_in_audit, message, outbox_drained, remember};

const NEW_PASSWORD: &str = "a fresh passphrase after reset";

async fn request(app: &TestApp, email: &str) -> serde_json::Value {
    anonymous(
        app,
        "requestPasswordReset",
        "EmailInput",
        "{ accepted message }",
        json!({ "email": email }),
    )
    .await
}

async fn reset(app: &TestApp, token: &str, password: &str) -> serde_json::Value {
    anonymous(
        app,
        "resetPassword",
        "ResetPasswordInput",
        "{ endedSessions }",
        json!({ "token": token, "password": password }),
    )
    .await
}

#[tokio::test]
async fn a_reset_link_sets_a_new_password_ends_every_session_and_clears_the_lockout() {
    let peer = SmtpPeer::start();
    let (server, ca) = (peer.server(), peer.ca_file());
    let app = TestApp::start_with(move |c| {
        c.mail.smtp = Some(server);
        c.mail.smtp_ca_file = ca;
        c.login.max_failures = 3;
        c.login.lockout_secs = 600;
    })
    .await;
    let user = app.user("resetter").await;
    let other =
        crust_e2e::session_from(&app.login(&user.email, TEST_PASSWORD).await["data"]["login"])
            .unwrap();
    // Locked out of the account from this address.
    for _ in 0..3 {
        app.login(&user.email, "wrong guess number one").await;
    }
    assert_eq!(
        error_code(&app.login(&user.email, TEST_PASSWORD).await),
        Some("UNAUTHENTICATED")
    );

    assert_eq!(
        request(&app, &user.email).await,
        request(&app, "nobody@example.test").await,
        "the same answer for an unknown address"
    );
    let mail = peer
        .wait_for_subject(&user.email, "Reset your password")
        .await;
    let token = mail.token();
    remember(&token);
    assert!(mail
        .link()
        .starts_with("https://app.crust.test/reset-password#token="));

    // The policy applies, and a refused password does not spend the link.
    let weak = reset(&app, &token, "password1").await;
    assert_eq!(error_code(&weak), Some("BAD_USER_INPUT"));
    let done = reset(&app, &token, NEW_PASSWORD).await;
    assert_eq!(done["data"]["resetPassword"]["endedSessions"], 2, "{done}");

    // Every earlier session is dead, access and refresh tokens alike.
    for s in [&user, &other] {
        let me = app.gql(Some(&s.access), "{ me { id } }", json!({})).await;
        assert_eq!(error_code(&me), Some("UNAUTHENTICATED"));
        assert_eq!(
            error_code(&app.refresh(&s.refresh).await),
            Some("UNAUTHENTICATED")
        );
    }
    // The lockout is gone, the old password too.
    assert!(app.login(&user.email, NEW_PASSWORD).await["data"]["login"]["accessToken"].is_string());
    assert_eq!(
        error_code(&app.login(&user.email, TEST_PASSWORD).await),
        Some("UNAUTHENTICATED")
    );
    // Single use.
    let again = reset(&app, &token, "yet another passphrase 9").await;
    assert_eq!(
        message(&again),
        message(&reset(&app, "garbage", NEW_PASSWORD).await)
    );

    peer.wait_for_subject(&user.email, "Your password was changed")
        .await;
    assert_not_in_audit(&app, &token);
    // The record: requested (for the account), completed.
    let mut conn = app.db.connect();
    let actions = crust_e2e::db::texts(&mut conn, "SELECT action || ':' || coalesce(reason, '') AS v FROM audit_events WHERE subject_user_id::text = $1 AND action IN ('requestPasswordReset', 'resetPassword') ORDER BY occurred_at, seq", &user.id);
    assert_eq!(actions, ["requestPasswordReset:queued", "resetPassword:"]);
}

#[tokio::test]
async fn reset_requests_send_one_message_per_address_every_few_minutes() {
    let peer = SmtpPeer::start();
    let app = super::app_with(&peer).await;
    let user = app.user("flooded").await;
    for _ in 0..5 {
        request(&app, &user.email).await;
    }
    outbox_drained(&app).await;
    assert_eq!(peer.wait_for(&user.email, 1).await.len(), 1);
}

#[tokio::test]
async fn an_expired_reset_link_is_refused_like_any_bad_one() {
    let peer = SmtpPeer::start();
    let app = super::app_with(&peer).await;
    let user = app.user("late").await;
    request(&app, &user.email).await;
    let token = peer.wait_for(&user.email, 1).await[0].token();
    remember(&token);
    let mut conn = app.db.connect();
    crust_e2e::db::texts(&mut conn, "UPDATE email_tokens SET expires_at = now() - interval '1 second' WHERE user_id::text = $1 RETURNING purpose AS v", &user.id);
    let late = reset(&app, &token, NEW_PASSWORD).await;
    assert_eq!(
        message(&late),
        message(&reset(&app, "garbage", NEW_PASSWORD).await)
    );
    assert!(
        app.login(&user.email, TEST_PASSWORD).await["data"]["login"]["accessToken"].is_string()
    );
}

#[tokio::test]
async fn reset_requests_draw_from_the_sign_in_rate_limit_one_per_request() {
    let app = TestApp::start_with(|c| c.rate_limits.sign_in_per_hour = 60).await;
    // Aliases cannot pack several into one request.
    let packed = app
        .gql(None, "mutation { a: requestPasswordReset(input: {email: \"a@example.test\"}) { accepted } b: requestPasswordReset(input: {email: \"b@example.test\"}) { accepted } }", json!({}))
        .await;
    assert!(packed["errors"].is_array(), "{packed}");
    // The burst (5) spent, the next ones answer 429 RATE_LIMITED.
    let mut limited = 0;
    for i in 0..10 {
        let res = app
            .http
            .post(app.url("/graphql"))
            .json(&json!({ "query": "mutation($e: String!) { requestPasswordReset(input: {email: $e}) { accepted } }", "variables": { "e": format!("r{i}@example.test") } }))
            .send()
            .await
            .unwrap();
        if res.status() == 429 {
            let body: serde_json::Value = res.json().await.unwrap();
            assert_eq!(error_code(&body), Some("RATE_LIMITED"));
            limited += 1;
        }
    }
    assert!(limited >= 4, "only {limited} of 10 were limited");
}

#[tokio::test]
async fn a_reset_of_an_unconfirmed_sign_up_drops_the_name_typed_with_it() {
    let peer = SmtpPeer::start();
    let app = super::app_with(&peer).await;
    let email = "ann.lee@example.test";
    // Someone else signed the address up, with a name meant for its owner's inbox.
    anonymous(&app, "signUp", "SignUpInput", "{ accepted }", json!({ "email": email, "password": "the stranger's passphrase", "name": "Security Desk call 555 0100" })).await;
    request(&app, email).await;
    let token = peer
        .wait_for_subject(email, "Reset your password")
        .await
        .token();
    remember(&token);
    reset(&app, &token, NEW_PASSWORD).await;
    let notice = peer
        .wait_for_subject(email, "Your password was changed")
        .await;
    assert!(!notice.shows("Security Desk"), "{}", notice.body);
    assert!(notice.body.starts_with("Hello ann.lee,"), "{}", notice.body);
    let session =
        crust_e2e::session_from(&app.login(email, NEW_PASSWORD).await["data"]["login"]).unwrap();
    assert_eq!(
        app.ok(&session, "{ me { name } }", json!({})).await["me"]["name"],
        "ann.lee"
    );
}
