//! Sign-ins, sign-outs, refreshes and password changes: what each leaves in the log,
//! and who is told.
//!
//! A test file over 400 lines: one scenario per sign-in path, sharing the audit helpers
//! of `audit/mod.rs`.

use super::*;

#[tokio::test]
async fn sign_in_events_carry_actor_session_ip_user_agent_and_request_id() {
    let app = TestApp::start_with(|c| {
        c.http.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        c.login.max_failures = 3;
    })
    .await;
    let user = app.user("alice").await;
    let proxied = [("x-forwarded-for", "203.0.113.50"), ("user-agent", UA)];

    // A successful login: actor, new session, the forwarded client, its user agent.
    let (body, rid) = send(
        &app,
        None,
        &proxied,
        LOGIN,
        json!({ "i": { "email": user.email, "password": TEST_PASSWORD } }),
    )
    .await;
    let refresh = body["data"]["login"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let e = one(&app, &rid);
    assert_eq!(e["action"], "login");
    assert_eq!(e["outcome"], "ok");
    assert_eq!(e["actor_id"], user.id.as_str());
    assert_eq!(e["subject_user_id"], user.id.as_str());
    assert!(e["session_id"].is_string());
    assert_eq!(e["ip"], "203.0.113.50");
    assert_eq!(e["user_agent"], UA);
    assert!(
        e["organization_id"].is_null(),
        "sign-ins join the global chain"
    );
    let session = e["session_id"].as_str().unwrap().to_owned();

    // A wrong password, then an unknown account: refusals with their reason class.
    let (_, rid) = send(
        &app,
        None,
        &proxied,
        LOGIN,
        json!({ "i": { "email": user.email, "password": "not-the-password-1" } }),
    )
    .await;
    let e = one(&app, &rid);
    assert_eq!(
        (e["action"].as_str(), e["outcome"].as_str()),
        (Some("login"), Some("forbidden"))
    );
    assert_eq!(e["reason"], "wrong_password");
    assert_eq!(e["error_code"], "UNAUTHENTICATED");
    assert!(e["actor_id"].is_null(), "an anonymous attempt");
    assert_eq!(
        e["subject_user_id"],
        user.id.as_str(),
        "against this account"
    );
    let (_, rid) = send(
        &app,
        None,
        &proxied,
        LOGIN,
        json!({ "i": { "email": "nobody@example.test", "password": "whatever-it-is" } }),
    )
    .await;
    assert_eq!(one(&app, &rid)["reason"], "unknown_account");

    // Two more failures reach the limit of three: the lockout is recorded with the
    // failure that caused it, and the next attempt (right password) is refused.
    send(
        &app,
        None,
        &proxied,
        LOGIN,
        json!({ "i": { "email": user.email, "password": "not-the-password-2" } }),
    )
    .await;
    let (_, rid) = send(
        &app,
        None,
        &proxied,
        LOGIN,
        json!({ "i": { "email": user.email, "password": "not-the-password-3" } }),
    )
    .await;
    let events = by_request(&app, &rid);
    let actions = column(&events, "action");
    assert_eq!(actions, ["login", "accountLocked"]);
    assert_eq!(events[1]["subject_user_id"], user.id.as_str());
    let (_, rid) = send(
        &app,
        None,
        &proxied,
        LOGIN,
        json!({ "i": { "email": user.email, "password": TEST_PASSWORD } }),
    )
    .await;
    assert_eq!(one(&app, &rid)["reason"], "account_locked");

    // Refresh rotates (recorded), the spent token's reuse revokes (recorded).
    let refresh_q =
        "mutation($i: RefreshSessionInput!) { refreshSession(input: $i) { accessToken } }";
    let (body, rid) = send(
        &app,
        None,
        &proxied,
        refresh_q,
        json!({ "i": { "refreshToken": refresh } }),
    )
    .await;
    assert!(body["data"]["refreshSession"].is_object(), "{body}");
    let e = one(&app, &rid);
    assert_eq!(
        (e["action"].as_str(), e["outcome"].as_str()),
        (Some("refreshSession"), Some("ok"))
    );
    assert_eq!(e["session_id"], session.as_str());
    assert_eq!(e["actor_id"], user.id.as_str());
    let (body, rid) = send(
        &app,
        None,
        &proxied,
        refresh_q,
        json!({ "i": { "refreshToken": refresh } }),
    )
    .await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
    let e = one(&app, &rid);
    assert_eq!(e["action"], "refreshTokenReused");
    assert_eq!(e["session_id"], session.as_str());
    assert_eq!(e["subject_user_id"], user.id.as_str());
    assert!(
        !e["variables"].as_str().unwrap().contains(&refresh),
        "the token is redacted"
    );

    // The request id is the one the server log carries for the same request.
    let log = std::fs::read_to_string(crust_e2e::log_file()).unwrap_or_default();
    assert!(log.contains(&rid), "the log has request {rid}");

    // The user sees their own security events, newest first: the failed attempts on
    // their account included.
    let fresh = app.user("bob").await;
    let d = app
        .ok(
            &fresh,
            "{ me { securityEvents(first: 10) { totalCount nodes { action outcome ip } } } }",
            json!({}),
        )
        .await;
    let mine = &d["me"]["securityEvents"];
    assert_eq!(mine["totalCount"], 1, "bob has only signed in: {mine}");
    assert_eq!(mine["nodes"][0]["action"], "login");
}

#[tokio::test]
async fn logout_and_password_change_are_recorded_and_seen_by_their_user() {
    let app = TestApp::start().await;
    let user = app.user("carol").await;
    let other =
        crust_e2e::session_from(&app.login(&user.email, TEST_PASSWORD).await["data"]["login"])
            .unwrap();

    let change =
        "mutation($i: ChangePasswordInput!) { changePassword(input: $i) { endedSessions } }";
    let (body, rid) = send(&app, Some(&user.access), &[], change, json!({ "i": { "currentPassword": "wrong-current-pass", "newPassword": "a fresh passphrase 9" } })).await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"));
    let e = one(&app, &rid);
    assert_eq!(
        (e["action"].as_str(), e["reason"].as_str()),
        (Some("changePassword"), Some("wrong_password"))
    );
    let (body, rid) = send(
        &app,
        Some(&user.access),
        &[],
        change,
        json!({ "i": { "currentPassword": TEST_PASSWORD, "newPassword": "a fresh passphrase 9" } }),
    )
    .await;
    assert_eq!(body["data"]["changePassword"]["endedSessions"], 1, "{body}");
    let e = one(&app, &rid);
    assert_eq!(
        (e["action"].as_str(), e["outcome"].as_str()),
        (Some("changePassword"), Some("ok"))
    );
    assert_eq!(e["actor_id"], user.id.as_str());
    let vars = e["variables"].as_str().unwrap();
    assert!(
        !vars.contains("fresh passphrase") && !vars.contains(TEST_PASSWORD),
        "{vars}"
    );
    // The other session ended with the change.
    let body = app
        .gql(Some(&other.access), "{ me { id } }", json!({}))
        .await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
    assert!(app.login(&user.email, "a fresh passphrase 9").await["data"]["login"].is_object());

    let (_, rid) = send(
        &app,
        Some(&user.access),
        &[],
        "mutation { logout { revoked } }",
        json!({}),
    )
    .await;
    let e = one(&app, &rid);
    assert_eq!(
        (e["action"].as_str(), e["actor_id"].as_str()),
        (Some("logout"), Some(user.id.as_str()))
    );

    let again = crust_e2e::session_from(
        &app.login(&user.email, "a fresh passphrase 9").await["data"]["login"],
    )
    .unwrap();
    let d = app
        .ok(
            &again,
            "{ me { securityEvents(first: 20) { nodes { action outcome reason } } } }",
            json!({}),
        )
        .await;
    let actions: Vec<&str> = d["me"]["securityEvents"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "login",
            "logout",
            "login",
            "changePassword",
            "changePassword",
            "login",
            "login"
        ],
        "newest first"
    );
}

#[tokio::test]
async fn a_forged_forwarded_for_is_ignored_unless_a_trusted_proxy_sent_it() {
    let mut app = TestApp::start().await;
    let user = app.user("dave").await;
    let vars = json!({ "i": { "email": user.email, "password": TEST_PASSWORD } });
    let (_, rid) = send(
        &app,
        None,
        &[("x-forwarded-for", "198.51.100.9")],
        LOGIN,
        vars.clone(),
    )
    .await;
    assert_eq!(
        one(&app, &rid)["ip"],
        "127.0.0.1",
        "no trusted proxy: the socket's address"
    );

    app.restart_with(|c| c.http.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]);
    // A client prepending a forged address: the right-most untrusted entry counts.
    let (_, rid) = send(
        &app,
        None,
        &[("x-forwarded-for", "192.0.2.1, 198.51.100.9")],
        LOGIN,
        vars,
    )
    .await;
    assert_eq!(one(&app, &rid)["ip"], "198.51.100.9");
}

#[tokio::test]
async fn sign_in_rate_limit_refusals_are_recorded() {
    let app = TestApp::start_with(|c| {
        c.rate_limits.sign_in_per_hour = 5;
    })
    .await;
    let vars = json!({ "i": { "email": "someone@example.test", "password": "guess-guess-1" } });
    let mut refused = Vec::new();
    for _ in 0..8 {
        let (body, rid) = send(&app, None, &[("user-agent", UA)], LOGIN, vars.clone()).await;
        if error_code(&body) == Some("RATE_LIMITED") {
            refused.push(rid);
        }
    }
    assert!(refused.len() >= 2, "the limit of 5 was reached");
    let e = one(&app, &refused[0]);
    assert_eq!(
        (e["action"].as_str(), e["outcome"].as_str()),
        (Some("loginRateLimited"), Some("forbidden"))
    );
    assert_eq!(e["error_code"], "RATE_LIMITED");
    assert_eq!(e["ip"], "127.0.0.1");
    assert_eq!(e["user_agent"], UA);
    // Further refusals within the minute are not written one by one (a flood must not
    // become a flood of writes); the event says so.
    assert!(by_request(&app, &refused[1]).is_empty());
    assert!(e["reason"].as_str().unwrap().contains("not recorded"));
}

#[tokio::test]
async fn a_failed_sign_in_is_told_to_the_account_owner_not_to_whoever_sent_it() {
    let app = TestApp::start().await;
    let victim = app.user("victim").await;
    let prober = app.user("prober").await;
    // A signed-in user tries a sign-in against someone else's account.
    let (body, rid) = send(
        &app,
        Some(&prober.access),
        &[],
        LOGIN,
        json!({ "i": { "email": victim.email, "password": "guessing-away-1" } }),
    )
    .await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
    let e = one(&app, &rid);
    assert!(e["actor_id"].is_null(), "a sign-in acts for nobody: {e}");
    let q = "{ me { securityEvents(first: 20) { nodes { action reason subjectUserId } } } }";
    let mine = app.ok(&prober, q, json!({})).await.to_string();
    assert!(
        !mine.contains("wrong_password") && !mine.contains(&victim.id),
        "{mine}"
    );
    let theirs = app.ok(&victim, q, json!({})).await.to_string();
    assert!(theirs.contains("wrong_password"), "{theirs}");
    // An unknown account concerns no one.
    send(
        &app,
        Some(&prober.access),
        &[],
        LOGIN,
        json!({ "i": { "email": "ghost@example.test", "password": "guessing-away-2" } }),
    )
    .await;
    let mine = app.ok(&prober, q, json!({})).await.to_string();
    assert!(!mine.contains("unknown_account"), "{mine}");
}

#[tokio::test]
async fn refusals_before_authentication_are_recorded_once_a_minute_per_client() {
    let app = TestApp::start().await;
    let user = app.user("nia").await;
    // A mutation over GET (a would-be cross-site request): 405, and recorded.
    let get = |q: &'static str| {
        app.http
            .get(app.url("/graphql"))
            .query(&[("query", q)])
            .header("user-agent", UA)
            .send()
    };
    let res = get("mutation { logout { revoked } }").await.unwrap();
    assert_eq!(res.status(), 405);
    let rid = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let e = one(&app, &rid);
    assert_eq!(
        (e["action"].as_str(), e["outcome"].as_str()),
        (Some("mutation"), Some("invalid"))
    );
    assert!(e["reason"]
        .as_str()
        .unwrap()
        .starts_with("mutation_over_get"));
    assert_eq!(e["user_agent"], UA);
    // The same again within the minute: refused, not written again.
    let res = get("mutation { logout { revoked } }").await.unwrap();
    let rid = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(by_request(&app, &rid).is_empty());

    // A cookie call without its CSRF token.
    let res = app
        .http
        .post(app.url("/auth/login"))
        .json(&json!({ "email": user.email, "password": TEST_PASSWORD }))
        .send()
        .await
        .unwrap();
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let res = app
        .http
        .post(app.url("/auth/refresh"))
        .header("content-type", "application/json")
        .header("cookie", cookie)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let rid = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let e = one(&app, &rid);
    assert_eq!(
        (e["action"].as_str(), e["error_code"].as_str()),
        (Some("refreshSession"), Some("FORBIDDEN"))
    );
    assert!(e["reason"]
        .as_str()
        .unwrap()
        .starts_with("missing_or_wrong_csrf_token"));
}

#[tokio::test]
async fn guessing_the_current_password_through_change_password_locks_the_account() {
    let app = TestApp::start_with(|c| {
        c.login.max_failures = 3;
        c.login.lockout_secs = 600;
    })
    .await;
    let user = app.user("pat").await;
    let change =
        "mutation($i: ChangePasswordInput!) { changePassword(input: $i) { endedSessions } }";
    let attempt = |current: &'static str| json!({ "i": { "currentPassword": current, "newPassword": "a stolen token's new passphrase" } });
    // A stolen access token guesses the current password...
    let mut last = String::new();
    for guess in ["guess-number-one", "guess-number-two", "guess-number-three"] {
        let (body, rid) = send(&app, Some(&user.access), &[], change, attempt(guess)).await;
        assert_eq!(error_code(&body), Some("FORBIDDEN"));
        last = rid;
    }
    let actions = column(&by_request(&app, &last), "action");
    assert_eq!(actions, ["changePassword", "accountLocked"]);
    // ...and from then on even the right one is refused, here and at login.
    let (body, rid) = send(
        &app,
        Some(&user.access),
        &[],
        change,
        attempt(TEST_PASSWORD),
    )
    .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"));
    assert_eq!(one(&app, &rid)["reason"], "account_locked");
    assert_eq!(
        error_code(&app.login(&user.email, TEST_PASSWORD).await),
        Some("UNAUTHENTICATED")
    );
}
