//! Security notices to the account's own address, and messages that carry nothing an
//! attacker put in: only fixed text, a plain name and a link.

use crust_e2e::mail::SmtpPeer;
use crust_e2e::{error_code, TestApp, TEST_PASSWORD};
use serde_json::json;

use super::{app_with, outbox_drained, remember};

fn subjects(peer: &SmtpPeer, to: &str) -> Vec<String> {
    let mut s: Vec<String> = peer.to(to).into_iter().map(|m| m.subject).collect();
    s.sort();
    s
}

async fn login_as(app: &TestApp, email: &str, password: &str, agent: &str) -> serde_json::Value {
    app.http
        .post(app.url("/graphql"))
        .header("User-Agent", agent)
        .json(&json!({ "query": "mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken user { id email } } }", "variables": { "i": { "email": email, "password": password } } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_sign_in_from_a_new_device_is_told_and_a_known_one_is_not() {
    let peer = SmtpPeer::start();
    let app = app_with(&peer).await;
    let user = app.user("traveller").await;
    // The same client again: nothing.
    app.login(&user.email, TEST_PASSWORD).await;
    outbox_drained(&app).await;
    assert!(
        peer.to(&user.email).is_empty(),
        "{:?}",
        subjects(&peer, &user.email)
    );
    // Another browser: a notice, once.
    login_as(&app, &user.email, TEST_PASSWORD, "Mozilla/5.0 (Elsewhere)").await;
    let mail = &peer.wait_for(&user.email, 1).await[0];
    assert_eq!(mail.subject, "New sign-in to your account");
    assert_eq!(mail.link(), "https://app.crust.test/account/security");
    assert!(
        !mail.shows("Elsewhere"),
        "no data in the message, not even the agent"
    );
    // A wrong password from a new device sends nothing.
    login_as(&app, &user.email, "not the password", "Another/1.0").await;
    outbox_drained(&app).await;
    assert_eq!(peer.to(&user.email).len(), 1);
}

#[tokio::test]
async fn a_reused_refresh_token_ends_the_session_and_tells_the_owner() {
    let peer = SmtpPeer::start();
    let app = app_with(&peer).await;
    let user = app.user("victim").await;
    let next = app.refresh(&user.refresh).await;
    assert!(next["data"]["refreshSession"]["accessToken"].is_string());
    let stolen = app.refresh(&user.refresh).await;
    assert_eq!(error_code(&stolen), Some("UNAUTHENTICATED"));
    let mail = &peer.wait_for(&user.email, 1).await[0];
    assert_eq!(mail.subject, "A session of yours was ended for safety");
}

#[tokio::test]
async fn a_lockout_is_told_once_an_hour_and_an_unknown_address_gets_nothing() {
    let peer = SmtpPeer::start();
    let (server, ca) = (peer.server(), peer.ca_file());
    let app = TestApp::start_with(move |c| {
        c.mail.smtp = Some(server);
        c.mail.smtp_ca_file = ca;
        c.login.max_failures = 2;
    })
    .await;
    let user = app.user("locked").await;
    for _ in 0..2 {
        app.login(&user.email, "wrong guess").await;
    }
    let mail = &peer.wait_for(&user.email, 1).await[0];
    assert_eq!(mail.subject, "Sign-ins to your account were blocked");
    // Another client address locks too: no second message within the hour.
    for _ in 0..2 {
        app.http
            .post(app.url("/graphql"))
            .header("X-Forwarded-For", "198.51.100.7")
            .json(&json!({ "query": "mutation { login(input: {email: \"x\", password: \"y\"}) { accessToken } }" }))
            .send()
            .await
            .unwrap();
    }
    outbox_drained(&app).await;
    assert_eq!(peer.to(&user.email).len(), 1);
}

#[tokio::test]
async fn changing_the_address_needs_the_password_and_the_new_inbox_and_tells_both() {
    let peer = SmtpPeer::start();
    let app = app_with(&peer).await;
    let user = app.user("mover").await;
    let other = app.user("other").await;
    let change = "mutation($i: ChangeEmailInput!) { changeEmail(input: $i) { message } }";
    let wrong = app
        .gql(
            Some(&user.access),
            change,
            json!({ "i": { "password": "not mine", "newEmail": "moved@example.test" } }),
        )
        .await;
    assert_eq!(error_code(&wrong), Some("FORBIDDEN"));
    // A taken address answers the same and sends nothing.
    let taken = app
        .gql(
            Some(&user.access),
            change,
            json!({ "i": { "password": TEST_PASSWORD, "newEmail": other.email } }),
        )
        .await;
    let free = app
        .gql(
            Some(&user.access),
            change,
            json!({ "i": { "password": TEST_PASSWORD, "newEmail": "moved@example.test" } }),
        )
        .await;
    assert_eq!(taken, free);
    let confirm = &peer.wait_for("moved@example.test", 1).await[0];
    assert_eq!(confirm.subject, "Confirm your new email address");
    outbox_drained(&app).await;
    assert!(peer.to(&other.email).is_empty());
    // Nothing changed yet.
    assert_eq!(
        app.ok(&user, "{ me { email } }", json!({})).await["me"]["email"],
        user.email.as_str()
    );
    let token = confirm.token();
    remember(&token);
    // Another account cannot confirm it, nor can nobody; that spends nothing.
    let confirm = "mutation($t: String!) { confirmEmailChange(input: {token: $t}) { changed } }";
    let foreign = app
        .gql(Some(&other.access), confirm, json!({ "t": token }))
        .await;
    assert_eq!(error_code(&foreign), Some("BAD_USER_INPUT"));
    let nobody = app.gql(None, confirm, json!({ "t": token })).await;
    assert_eq!(error_code(&nobody), Some("UNAUTHENTICATED"));
    let done = app
        .gql(
            Some(&user.access),
            "mutation($t: String!) { confirmEmailChange(input: {token: $t}) { changed } }",
            json!({ "t": token }),
        )
        .await;
    assert_eq!(
        done["data"]["confirmEmailChange"]["changed"], true,
        "{done}"
    );
    assert_eq!(
        app.ok(&user, "{ me { email } }", json!({})).await["me"]["email"],
        "moved@example.test"
    );
    let again = app
        .gql(
            Some(&user.access),
            "mutation($t: String!) { confirmEmailChange(input: {token: $t}) { changed } }",
            json!({ "t": token }),
        )
        .await;
    assert_eq!(error_code(&again), Some("BAD_USER_INPUT"));
    for address in [user.email.as_str(), "moved@example.test"] {
        peer.wait_for_subject(address, "The email address of your account was changed")
            .await;
    }
    assert!(
        app.login("moved@example.test", TEST_PASSWORD).await["data"]["login"]["accessToken"]
            .is_string()
    );
}

#[tokio::test]
async fn no_message_carries_what_an_attacker_typed() {
    let peer = SmtpPeer::start();
    let app = app_with(&peer).await;
    let hostile_name = "Eve\r\nBcc: attacker@example.test <b>";
    // The API refuses control characters in names: make the hostile ones as an operator
    // could, straight into the database.
    let eve = app
        .create_user(
            "eve@example.test",
            "Eve <script>alert(1)</script>",
            TEST_PASSWORD,
        )
        .await;
    let hostile = app
        .create_user("hostile@example.test", hostile_name, TEST_PASSWORD)
        .await;
    let org = app
        .create_org(&eve, "<img src=x onerror=alert(1)> Bcc: x@example.test")
        .await;
    let project = app
        .create_project(&eve, &org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    let task = app.create_task(&eve, &project, None, "CONFIDENTIAL").await;
    app.ok(&eve, "mutation($t: ID!, $title: String!) { updateTask(input: {taskId: $t, title: $title}) { task { id } } }", json!({ "t": task, "title": "<h1>Invoice</h1> wire money now" })).await;
    app.ok(&eve, "mutation($o: ID!, $e: String!) { inviteToOrganization(input: {organizationId: $o, email: $e, role: MEMBER}) { email } }", json!({ "o": org, "e": "invitee@example.test" })).await;
    let change =
        "mutation($i: ChangePasswordInput!) { changePassword(input: $i) { endedSessions } }";
    for who in [&eve, &hostile] {
        app.ok(who, change, json!({ "i": { "currentPassword": TEST_PASSWORD, "newPassword": "another fine passphrase 7" } })).await;
    }
    let mut all = vec![
        peer.wait_for_subject("invitee@example.test", "You are invited to Crust")
            .await,
    ];
    for who in ["eve@example.test", "hostile@example.test"] {
        all.push(
            peer.wait_for_subject(who, "Your password was changed")
                .await,
        );
    }
    for m in &all {
        for bad in [
            "<script>",
            "<img",
            "<h1>",
            "Invoice",
            "Bcc",
            "attacker@",
            "onerror",
            "wire money",
        ] {
            assert!(!m.shows(bad), "{bad} in {}", m.raw);
        }
        let raw = m.raw.replace("\r\n", "\n");
        let head = raw.split("\n\n").next().unwrap();
        let names: Vec<&str> = head
            .lines()
            .filter(|l| !l.starts_with([' ', '\t']))
            .filter_map(|l| l.split(':').next())
            .filter(|n| {
                ![
                    "X-Peer",
                    "X-MailFrom",
                    "X-RcptTo",
                    "Return-Path",
                    "Received",
                    "Delivered-To",
                ]
                .contains(n)
            })
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            [
                "Content-Transfer-Encoding",
                "Content-Type",
                "Date",
                "From",
                "MIME-Version",
                "Message-ID",
                "Subject",
                "To"
            ],
            "no extra header: {head}"
        );
    }
    // Names that are not plain names greet no one by name.
    assert!(all[1].body.starts_with("Hello,"), "{}", all[1].body);
}

#[tokio::test]
async fn a_password_change_or_reset_kills_a_pending_change_of_address() {
    let peer = SmtpPeer::start();
    let app = app_with(&peer).await;
    let user = app.user("victim").await;
    let change = "mutation($i: ChangeEmailInput!) { changeEmail(input: $i) { message } }";
    let confirm = "mutation($t: String!) { confirmEmailChange(input: {token: $t}) { changed } }";
    // Whoever knew the password starts moving the account to their address ...
    app.ok(
        &user,
        change,
        json!({ "i": { "password": TEST_PASSWORD, "newEmail": "thief@example.test" } }),
    )
    .await;
    let stolen = peer.wait_for("thief@example.test", 1).await[0].token();
    remember(&stolen);
    // ... the owner changes the password: the link dies.
    app.ok(&user, "mutation($i: ChangePasswordInput!) { changePassword(input: $i) { endedSessions } }", json!({ "i": { "currentPassword": TEST_PASSWORD, "newPassword": "a brand new passphrase 1" } })).await;
    let late = app
        .gql(Some(&user.access), confirm, json!({ "t": stolen }))
        .await;
    assert_eq!(error_code(&late), Some("BAD_USER_INPUT"), "{late}");
    assert_eq!(
        app.ok(&user, "{ me { email } }", json!({})).await["me"]["email"],
        user.email.as_str()
    );
}

#[tokio::test]
async fn an_earlier_change_link_dies_whether_the_next_address_is_free_or_taken() {
    let peer = SmtpPeer::start();
    let app = app_with(&peer).await;
    let user = app.user("prober").await;
    let taken = app.user("taken").await;
    let change = "mutation($i: ChangeEmailInput!) { changeEmail(input: $i) { message } }";
    let confirm = "mutation($t: String!) { confirmEmailChange(input: {token: $t}) { changed } }";
    let mut answers = Vec::new();
    for (probe, next) in [
        ("probe1@example.test", taken.email.as_str()),
        ("probe2@example.test", "free@example.test"),
    ] {
        app.ok(
            &user,
            change,
            json!({ "i": { "password": TEST_PASSWORD, "newEmail": probe } }),
        )
        .await;
        let link = peer.wait_for(probe, 1).await[0].token();
        remember(&link);
        app.ok(
            &user,
            change,
            json!({ "i": { "password": TEST_PASSWORD, "newEmail": next } }),
        )
        .await;
        answers.push(
            app.gql(Some(&user.access), confirm, json!({ "t": link }))
                .await,
        );
    }
    assert_eq!(
        answers[0], answers[1],
        "a taken and a free address kill the earlier link alike"
    );
    assert_eq!(error_code(&answers[0]), Some("BAD_USER_INPUT"));
    // changeEmail is one per request, like the sign-in fields: bcrypt work cannot be
    // packed into one request as aliases.
    let packed = app.gql(Some(&user.access), "mutation { a: changeEmail(input: {password: \"x\", newEmail: \"a@example.test\"}) { message } b: changeEmail(input: {password: \"y\", newEmail: \"b@example.test\"}) { message } }", json!({})).await;
    assert!(
        packed["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["message"] == "send one sign-in operation per request"),
        "{packed}"
    );
}
