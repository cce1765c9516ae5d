//! Sign-up with verification: the same answer for every address, a link that signs in
//! once, and no sign-in before it is followed.

use crust_e2e::mail::SmtpPeer;
use crust_e2e::{error_code, session_from, TEST_PASSWORD};
use serde_json::json;

use super::{anonymous, app_with, assert_not_in_audit, message, outbox_drained, remember};

const SIGN_UP: (&str, &str, &str) = ("signUp", "SignUpInput", "{ accepted message }");

async fn verify(app: &crust_e2e::TestApp, token: &str, password: &str) -> serde_json::Value {
    anonymous(
        app,
        "verifyEmail",
        "VerifyEmailInput",
        "{ accessToken refreshToken user { id email name } }",
        json!({ "token": token, "password": password }),
    )
    .await
}

#[tokio::test]
async fn sign_up_verifies_the_address_through_the_link_in_a_real_message() {
    let peer = SmtpPeer::start();
    let app = app_with(&peer).await;
    let email = "newcomer@example.test";
    let (f, t, s) = SIGN_UP;
    let body = anonymous(
        &app,
        f,
        t,
        s,
        json!({ "email": email, "password": TEST_PASSWORD, "name": "Nora" }),
    )
    .await;
    assert_eq!(body["data"]["signUp"]["accepted"], true, "{body}");

    let mail = &peer.wait_for(email, 1).await[0];
    assert_eq!(mail.subject, "Confirm your email address");
    let token = mail.token();
    remember(&token);
    assert!(mail
        .link()
        .starts_with("https://app.crust.test/verify-email#token="));
    assert!(
        !mail.body.contains("Nora"),
        "a name typed at sign-up is not mailed to the address"
    );

    // Before the link is followed the right password is told to verify; a wrong one
    // gets the usual answer.
    // Before the link is followed the account cannot sign in, and is told so in the
    // words every failed login gets (telling it apart would say the address is taken).
    let early = app.login(email, TEST_PASSWORD).await;
    assert_eq!(error_code(&early), Some("UNAUTHENTICATED"));
    assert!(
        message(&early).contains("must first be confirmed with the link"),
        "{early}"
    );
    let wrong = app.login(email, "not the password at all").await;
    assert_eq!(message(&wrong), message(&early));
    let unknown = app.login("nobody-at-all@example.test", TEST_PASSWORD).await;
    assert_eq!(message(&unknown), message(&early));

    // The link alone is not enough: the password chosen at sign-up goes with it.
    let without = verify(&app, &token, "not the password at all").await;
    assert_eq!(error_code(&without), Some("BAD_USER_INPUT"));
    assert_eq!(
        message(&without),
        message(&verify(&app, "garbage", TEST_PASSWORD).await)
    );

    let verified = verify(&app, &token, TEST_PASSWORD).await;
    let session =
        session_from(&verified["data"]["verifyEmail"]).unwrap_or_else(|| panic!("{verified}"));
    let me = app.ok(&session, "{ me { email name } }", json!({})).await;
    assert_eq!(me["me"]["name"], "Nora");

    // Single use.
    let again = verify(&app, &token, TEST_PASSWORD).await;
    assert_eq!(error_code(&again), Some("BAD_USER_INPUT"));
    let garbage = verify(&app, "not-a-token", TEST_PASSWORD).await;
    assert_eq!(
        message(&again),
        message(&garbage),
        "a spent token answers like any bad one"
    );
    assert!(app.login(email, TEST_PASSWORD).await["data"]["login"]["accessToken"].is_string());
    assert_not_in_audit(&app, &token);
}

#[tokio::test]
async fn sign_up_answers_the_same_for_new_and_taken_addresses() {
    let peer = SmtpPeer::start();
    let app = app_with(&peer).await;
    let taken = app.user("owner").await;
    let (f, t, s) = SIGN_UP;
    let fresh = anonymous(
        &app,
        f,
        t,
        s,
        json!({ "email": "free@example.test", "password": TEST_PASSWORD, "name": "X" }),
    )
    .await;
    let dup = anonymous(
        &app,
        f,
        t,
        s,
        json!({ "email": taken.email.to_uppercase(), "password": TEST_PASSWORD, "name": "X" }),
    )
    .await;
    assert_eq!(fresh, dup, "the caller cannot tell a taken address");

    // The owner of the taken address is told, with no link to verify anything.
    let notice = &peer.wait_for(&taken.email, 1).await[0];
    assert_eq!(notice.subject, "Someone tried to sign up with your address");
    assert_eq!(notice.link(), "https://app.crust.test/sign-in");
    // Asking again and again does not flood the owner's inbox.
    for _ in 0..3 {
        anonymous(
            &app,
            f,
            t,
            s,
            json!({ "email": taken.email, "password": TEST_PASSWORD, "name": "X" }),
        )
        .await;
    }
    outbox_drained(&app).await;
    assert_eq!(peer.to(&taken.email).len(), 1);
    // The owner's password did not change.
    assert!(
        app.login(&taken.email, TEST_PASSWORD).await["data"]["login"]["accessToken"].is_string()
    );
}

#[tokio::test]
async fn signing_up_again_before_verifying_sends_a_new_link_each_with_its_own_password() {
    let peer = SmtpPeer::start();
    let app = app_with(&peer).await;
    let email = "twice@example.test";
    let (f, t, s) = SIGN_UP;
    anonymous(
        &app,
        f,
        t,
        s,
        json!({ "email": email, "password": "first passphrase 111", "name": "First" }),
    )
    .await;
    let first = peer.wait_for(email, 1).await[0].token();
    remember(&first);
    // Within the minute nothing more is sent.
    anonymous(
        &app,
        f,
        t,
        s,
        json!({ "email": email, "password": "second passphrase 222", "name": "Second" }),
    )
    .await;
    outbox_drained(&app).await;
    assert_eq!(peer.to(email).len(), 1);
    // A minute later (moved back in the database) a new link replaces the first.
    let mut conn = app.db.connect();
    crust_e2e::db::texts(&mut conn, "UPDATE outbox SET created_at = created_at - interval '2 minutes' WHERE recipient = $1 RETURNING id::text AS v", email);
    anonymous(
        &app,
        f,
        t,
        s,
        json!({ "email": email, "password": "second passphrase 222", "name": "Second" }),
    )
    .await;
    let mails = peer.wait_for(email, 2).await;
    let second = mails
        .iter()
        .map(|m| m.token())
        .find(|t| *t != first)
        .unwrap();
    remember(&second);
    // Each link carries its own password: the first one does not take the second's.
    let crossed = verify(&app, &first, "second passphrase 222").await;
    assert_eq!(error_code(&crossed), Some("BAD_USER_INPUT"));
    // Asking for the link again carries the second sign-up's password and name on.
    crust_e2e::db::texts(&mut conn, "UPDATE outbox SET created_at = created_at - interval '2 minutes' WHERE recipient = $1 RETURNING id::text AS v", email);
    anonymous(
        &app,
        "resendVerification",
        "EmailInput",
        "{ accepted }",
        json!({ "email": email }),
    )
    .await;
    let mails = peer.wait_for(email, 3).await;
    let third = mails
        .iter()
        .map(|m| m.token())
        .find(|t| *t != first && *t != second)
        .unwrap();
    remember(&third);
    let new = verify(&app, &third, "second passphrase 222").await;
    assert_eq!(
        new["data"]["verifyEmail"]["user"]["name"], "Second",
        "{new}"
    );
    // Verifying kills every other link, whatever password it carries.
    for (token, password) in [
        (&first, "first passphrase 111"),
        (&second, "second passphrase 222"),
    ] {
        let dead = verify(&app, token, password).await;
        assert_eq!(error_code(&dead), Some("BAD_USER_INPUT"), "{dead}");
    }
    // Whoever followed the link set the password chosen with it.
    assert!(
        app.login(email, "second passphrase 222").await["data"]["login"]["accessToken"].is_string()
    );
    assert_eq!(
        error_code(&app.login(email, "first passphrase 111").await),
        Some("UNAUTHENTICATED")
    );
}

#[tokio::test]
async fn resend_verification_answers_the_same_for_any_address() {
    let peer = SmtpPeer::start();
    let app = app_with(&peer).await;
    let verified = app.user("verified").await;
    let (f, t, s) = SIGN_UP;
    anonymous(
        &app,
        f,
        t,
        s,
        json!({ "email": "pending@example.test", "password": TEST_PASSWORD, "name": "P" }),
    )
    .await;
    peer.wait_for("pending@example.test", 1).await;
    let mut conn = app.db.connect();
    crust_e2e::db::texts(&mut conn, "UPDATE outbox SET created_at = created_at - interval '2 minutes' WHERE recipient = $1 RETURNING id::text AS v", "pending@example.test");
    let answers: Vec<_> = futures_answers(
        &app,
        &[
            "pending@example.test",
            "nobody@example.test",
            &verified.email,
        ],
    )
    .await;
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    let mails = peer.wait_for("pending@example.test", 2).await;
    assert_eq!(mails.len(), 2, "the unverified address got a new link");
    outbox_drained(&app).await;
    assert!(
        peer.to(&verified.email).is_empty(),
        "a verified address gets nothing"
    );
}

async fn futures_answers(app: &crust_e2e::TestApp, emails: &[&str]) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for e in emails {
        out.push(
            anonymous(
                app,
                "resendVerification",
                "EmailInput",
                "{ accepted message }",
                json!({ "email": e }),
            )
            .await,
        );
    }
    out
}

#[tokio::test]
async fn a_sign_up_by_someone_else_cannot_take_the_address() {
    let peer = SmtpPeer::start();
    let app = app_with(&peer).await;
    let email = "target@example.test";
    let (f, t, s) = SIGN_UP;
    let mine = "the owner's own passphrase";
    let theirs = "the attacker's passphrase";
    anonymous(
        &app,
        f,
        t,
        s,
        json!({ "email": email, "password": mine, "name": "Owner" }),
    )
    .await;
    let first = peer.wait_for(email, 1).await[0].token();
    remember(&first);
    // A minute later the attacker signs up the same address with their password.
    let mut conn = app.db.connect();
    crust_e2e::db::texts(&mut conn, "UPDATE outbox SET created_at = created_at - interval '2 minutes' WHERE recipient = $1 RETURNING id::text AS v", email);
    anonymous(
        &app,
        f,
        t,
        s,
        json!({ "email": email, "password": theirs, "name": "Support at evil.example" }),
    )
    .await;
    let mails = peer.wait_for(email, 2).await;
    let planted = mails
        .iter()
        .map(|m| m.token())
        .find(|t| *t != first)
        .unwrap();
    remember(&planted);
    // The owner follows the newest link with their own password: refused, nothing set.
    let followed = verify(&app, &planted, mine).await;
    assert_eq!(error_code(&followed), Some("BAD_USER_INPUT"), "{followed}");
    assert_eq!(
        error_code(&app.login(email, theirs).await),
        Some("UNAUTHENTICATED")
    );
    // The attacker's sign-up did not kill the owner's own link.
    let own = verify(&app, &first, mine).await;
    assert!(
        own["data"]["verifyEmail"]["accessToken"].is_string(),
        "{own}"
    );
    let planted_now = verify(&app, &planted, theirs).await;
    assert_eq!(
        error_code(&planted_now),
        Some("BAD_USER_INPUT"),
        "verified: every other link is dead"
    );
    // A reset proves the inbox too: the owner's password, and every older link dies,
    // even for someone who would hold it with the attacker's password.
    anonymous(
        &app,
        "requestPasswordReset",
        "EmailInput",
        "{ accepted }",
        json!({ "email": email }),
    )
    .await;
    let reset = peer
        .wait_for_subject(email, "Reset your password")
        .await
        .token();
    remember(&reset);
    let done = anonymous(
        &app,
        "resetPassword",
        "ResetPasswordInput",
        "{ endedSessions }",
        json!({ "token": reset, "password": mine }),
    )
    .await;
    assert!(done.get("errors").is_none(), "{done}");
    assert_eq!(
        error_code(&verify(&app, &planted, theirs).await),
        Some("BAD_USER_INPUT")
    );
    assert_eq!(
        error_code(&app.login(email, theirs).await),
        Some("UNAUTHENTICATED")
    );
    assert!(app.login(email, mine).await["data"]["login"]["accessToken"].is_string());
}
