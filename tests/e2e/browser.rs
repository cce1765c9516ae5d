//! Browser sessions: the refresh token only in an HttpOnly, Secure, SameSite=Strict
//! cookie scoped to /auth; cookie-authenticated calls need the CSRF token; JSON only.

use crust_e2e::{error_code, TestApp, TEST_PASSWORD};
use serde_json::{json, Value};

fn cookie_of(res: &reqwest::Response) -> (String, String) {
    let header = res
        .headers()
        .get("set-cookie")
        .expect("a cookie is set")
        .to_str()
        .unwrap()
        .to_owned();
    let value = header
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("crust_refresh=")
        .to_owned();
    (value, header)
}

async fn login(app: &TestApp, email: &str) -> (Value, String, String) {
    let res = app
        .http
        .post(app.url("/auth/login"))
        .json(&json!({ "email": email, "password": TEST_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (cookie, header) = cookie_of(&res);
    (res.json().await.unwrap(), cookie, header)
}

async fn call(
    app: &TestApp,
    path: &str,
    cookie: Option<&str>,
    csrf: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .http
        .post(app.url(path))
        .header("content-type", "application/json")
        .body("{}");
    if let Some(c) = cookie {
        req = req.header("cookie", format!("crust_refresh={c}"));
    }
    if let Some(t) = csrf {
        req = req.header("x-csrf-token", t);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn login_puts_the_refresh_token_in_a_locked_down_cookie() {
    let app = TestApp::start().await;
    let user = app.user("browser").await;
    let (body, cookie, header) = login(&app, &user.email).await;
    for attribute in [
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/auth",
        "Max-Age=",
    ] {
        assert!(header.contains(attribute), "{attribute} missing: {header}");
    }
    assert!(body["refreshToken"].is_null(), "never in the body: {body}");
    assert!(body["accessToken"].is_string() && body["csrfToken"].is_string());
    assert_eq!(cookie.len(), 43);
    let me = app
        .gql(
            Some(body["accessToken"].as_str().unwrap()),
            "{ me { id } }",
            json!({}),
        )
        .await;
    assert_eq!(me["data"]["me"]["id"], user.id.as_str());
}

#[tokio::test]
async fn refresh_and_logout_need_the_csrf_token() {
    let app = TestApp::start().await;
    let user = app.user("browser").await;
    let other = app.user("other").await;
    let (body, cookie, _) = login(&app, &user.email).await;
    let csrf = body["csrfToken"].as_str().unwrap().to_owned();
    let (other_body, _, _) = login(&app, &other.email).await;
    // A forged cross-site request carries the cookie (if the browser sent it at all)
    // but cannot know the token.
    for bad in [None, Some("forged"), other_body["csrfToken"].as_str()] {
        let res = call(&app, "/auth/refresh", Some(&cookie), bad).await;
        assert_eq!(res.status(), 403, "csrf {bad:?}");
        let res = call(&app, "/auth/logout", Some(&cookie), bad).await;
        assert_eq!(res.status(), 403, "csrf {bad:?}");
    }
    // With the token: a new access token, a rotated cookie, a new CSRF token.
    let res = call(&app, "/auth/refresh", Some(&cookie), Some(&csrf)).await;
    assert_eq!(res.status(), 200);
    let (rotated, _) = cookie_of(&res);
    assert_ne!(rotated, cookie);
    let refreshed: Value = res.json().await.unwrap();
    assert!(refreshed["accessToken"].is_string());
    // The old cookie is spent: presenting it again ends the session.
    let res = call(&app, "/auth/refresh", Some(&cookie), Some(&csrf)).await;
    assert_eq!(res.status(), 401);
    let res = call(&app, "/auth/refresh", Some(&rotated), Some(&csrf)).await;
    assert_eq!(res.status(), 401, "the family was revoked");
    let body: Value = res.json().await.unwrap();
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
}

#[tokio::test]
async fn logout_revokes_and_clears_the_cookie() {
    let app = TestApp::start().await;
    let user = app.user("browser").await;
    let (body, cookie, _) = login(&app, &user.email).await;
    let access = body["accessToken"].as_str().unwrap().to_owned();
    let res = call(
        &app,
        "/auth/logout",
        Some(&cookie),
        body["csrfToken"].as_str(),
    )
    .await;
    assert_eq!(res.status(), 200);
    let (cleared, header) = cookie_of(&res);
    assert!(
        cleared.is_empty() && header.contains("Max-Age=0"),
        "{header}"
    );
    assert_eq!(
        error_code(&app.gql(Some(&access), "{ me { id } }", json!({})).await),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        call(
            &app,
            "/auth/refresh",
            Some(&cookie),
            body["csrfToken"].as_str()
        )
        .await
        .status(),
        401
    );
}

#[tokio::test]
async fn the_auth_routes_take_json_only() {
    let app = TestApp::start().await;
    let user = app.user("browser").await;
    let form = app
        .http
        .post(app.url("/auth/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("email={}&password={TEST_PASSWORD}", user.email))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 415);
    assert!(form.headers().get("set-cookie").is_none());
    let res = app
        .http
        .post(app.url("/auth/refresh"))
        .header("content-type", "text/plain")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    assert_eq!(
        call(&app, "/auth/refresh", None, None).await.status(),
        401,
        "no cookie"
    );
    let wrong = app
        .http
        .post(app.url("/auth/login"))
        .json(&json!({ "email": user.email, "password": "nope-nope-nope" }))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());
}
