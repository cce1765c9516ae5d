//! Hostile access tokens: every one is sent and must be refused with UNAUTHENTICATED,
//! while the honest token of the same session keeps working.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use crust_e2e::{error_code, Session, TestApp, TEST_JWT_SECRET};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

const ME: &str = "{ me { id } }";

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

fn parts(token: &str) -> (Value, Value, String) {
    let mut it = token.split('.');
    let header =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(it.next().unwrap()).unwrap()).unwrap();
    let claims =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(it.next().unwrap()).unwrap()).unwrap();
    (header, claims, it.next().unwrap().to_owned())
}

/// Signs header.claims with HS256 under `key`, whatever the header says.
fn sign(header: &Value, claims: &Value, key: &[u8]) -> String {
    let input = format!("{}.{}", b64(header), b64(claims));
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(input.as_bytes());
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

async fn assert_refused(app: &TestApp, token: &str, what: &str) {
    let body = app.gql(Some(token), ME, json!({})).await;
    assert_eq!(
        error_code(&body),
        Some("UNAUTHENTICATED"),
        "{what} must be refused: {body}"
    );
    assert!(body["data"].is_null(), "{what}: no data: {body}");
}

async fn setup() -> (TestApp, Session, Value, Value) {
    let app = TestApp::start().await;
    let user = app.user("target").await;
    let (header, claims, _) = parts(&user.access);
    // The honest token works: every refusal below is about the forgery.
    assert!(app.gql(Some(&user.access), ME, json!({})).await["errors"].is_null());
    (app, user, header, claims)
}

#[tokio::test]
async fn the_real_token_is_correctly_formed() {
    let (_app, _user, header, claims) = setup().await;
    assert_eq!(header["alg"], "HS256");
    assert_eq!(header["kid"], "k1");
    for claim in ["sub", "sid", "iss", "aud", "exp", "iat", "nbf"] {
        assert!(!claims[claim].is_null(), "claim {claim} present");
    }
    let ttl = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(ttl, 15 * 60, "access tokens live 15 minutes");
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let (app, _user, header, mut claims) = setup().await;
    claims["iat"] = json!(now() - 3600);
    claims["nbf"] = json!(now() - 3600);
    claims["exp"] = json!(now() - 31); // just past the 30 s leeway
    assert_refused(
        &app,
        &sign(&header, &claims, TEST_JWT_SECRET.as_bytes()),
        "an expired token",
    )
    .await;
}

#[tokio::test]
async fn a_re_dated_token_is_refused() {
    let (app, user, _header, mut claims) = setup().await;
    // Keep the genuine signature, push exp a day ahead.
    let (h, _, sig) = parts(&user.access);
    claims["exp"] = json!(now() + 86_400);
    let token = format!("{}.{}.{sig}", b64(&h), b64(&claims));
    assert_refused(&app, &token, "a re-dated token").await;
}

#[tokio::test]
async fn a_tampered_subject_is_refused() {
    let (app, user, _header, mut claims) = setup().await;
    let other = app.user("victim").await;
    let (h, _, sig) = parts(&user.access);
    claims["sub"] = json!(other.id);
    assert_refused(
        &app,
        &format!("{}.{}.{sig}", b64(&h), b64(&claims)),
        "a tampered sub",
    )
    .await;
    // Flipping one character of the signature is enough to be refused too.
    let mut bad = user.access.clone();
    let last = bad.pop().unwrap();
    bad.push(if last == 'A' { 'B' } else { 'A' });
    assert_refused(&app, &bad, "a token with a broken signature").await;
}

#[tokio::test]
async fn alg_none_is_refused() {
    let (app, _user, _header, claims) = setup().await;
    for alg in ["none", "None", "NONE"] {
        let token = format!(
            "{}.{}.",
            b64(&json!({ "alg": alg, "typ": "JWT", "kid": "k1" })),
            b64(&claims)
        );
        assert_refused(&app, &token, &format!("alg {alg}")).await;
    }
}

#[tokio::test]
async fn hs256_signed_with_another_key_is_refused() {
    let (app, _user, header, claims) = setup().await;
    assert_refused(
        &app,
        &sign(
            &header,
            &claims,
            b"some-other-secret-of-sufficient-length!!",
        ),
        "another key",
    )
    .await;
    // Same claims, right key, but an algorithm we never use.
    let hs512 = json!({ "alg": "HS512", "typ": "JWT", "kid": "k1" });
    assert_refused(
        &app,
        &sign(&hs512, &claims, TEST_JWT_SECRET.as_bytes()),
        "HS512 header",
    )
    .await;
}

#[tokio::test]
async fn exp_never_is_refused() {
    let (app, _user, header, mut claims) = setup().await;
    claims["exp"] = json!("never");
    assert_refused(
        &app,
        &sign(&header, &claims, TEST_JWT_SECRET.as_bytes()),
        "exp: never",
    )
    .await;
    claims["exp"] = json!(format!("{}", now() + 600));
    assert_refused(
        &app,
        &sign(&header, &claims, TEST_JWT_SECRET.as_bytes()),
        "exp as a string",
    )
    .await;
    claims.as_object_mut().unwrap().remove("exp");
    assert_refused(
        &app,
        &sign(&header, &claims, TEST_JWT_SECRET.as_bytes()),
        "no exp",
    )
    .await;
}

#[tokio::test]
async fn a_kid_that_is_a_path_is_refused() {
    let (app, _user, mut header, claims) = setup().await;
    header["kid"] = json!("../../dev/null");
    // The classic attack signs with the (empty) content of /dev/null …
    assert_refused(
        &app,
        &sign(&header, &claims, b""),
        "kid ../../dev/null with an empty key",
    )
    .await;
    // … and even the real key does not make an unknown kid acceptable.
    assert_refused(
        &app,
        &sign(&header, &claims, TEST_JWT_SECRET.as_bytes()),
        "kid ../../dev/null with the real key",
    )
    .await;
    header.as_object_mut().unwrap().remove("kid");
    assert_refused(
        &app,
        &sign(&header, &claims, TEST_JWT_SECRET.as_bytes()),
        "no kid",
    )
    .await;
}

#[tokio::test]
async fn wrong_issuer_or_audience_is_refused() {
    let (app, _user, header, claims) = setup().await;
    let mut c = claims.clone();
    c["iss"] = json!("someone-else");
    assert_refused(
        &app,
        &sign(&header, &c, TEST_JWT_SECRET.as_bytes()),
        "wrong iss",
    )
    .await;
    let mut c = claims.clone();
    c["aud"] = json!("another-api");
    assert_refused(
        &app,
        &sign(&header, &c, TEST_JWT_SECRET.as_bytes()),
        "wrong aud",
    )
    .await;
}

#[tokio::test]
async fn a_forged_session_id_is_refused() {
    // Right key and claims, but a session that does not exist (or was never issued).
    let (app, _user, header, mut claims) = setup().await;
    claims["sid"] = json!(uuid::Uuid::new_v4());
    assert_refused(
        &app,
        &sign(&header, &claims, TEST_JWT_SECRET.as_bytes()),
        "unknown sid",
    )
    .await;
}

#[tokio::test]
async fn a_previous_key_still_verifies_during_rotation() {
    let mut app = TestApp::start().await;
    let user = app.user("rotation").await;
    // Rotate: a new current key, the old one kept as "k1" for verification only.
    app.restart_with(|c| {
        c.auth
            .jwt_previous
            .insert("k1".into(), c.auth.jwt_secret.clone());
        c.auth.jwt_kid = "k2".into();
        c.auth.jwt_secret = crust_e2e::secret("test-only-rotated-secret-0123456789abcdef012");
    });
    assert!(app.gql(Some(&user.access), ME, json!({})).await["errors"].is_null());
    let login = app.login(&user.email, crust_e2e::TEST_PASSWORD).await;
    let (header, _, _) = parts(login["data"]["login"]["accessToken"].as_str().unwrap());
    assert_eq!(header["kid"], "k2");
}

#[tokio::test]
async fn malformed_authorization_headers_are_refused() {
    let (app, user, _, _) = setup().await;
    for value in [
        format!("Basic {}", user.access),
        user.access.clone(),
        "Bearer".into(),
        "Bearer not.a.jwt".into(),
    ] {
        let res = app
            .http
            .post(app.url("/graphql"))
            .header("authorization", value.clone())
            .json(&json!({ "query": ME }))
            .send()
            .await
            .unwrap();
        let body: Value = res.json().await.unwrap();
        assert_eq!(
            error_code(&body),
            Some("UNAUTHENTICATED"),
            "{value}: {body}"
        );
    }
}

#[tokio::test]
async fn a_token_not_yet_valid_is_refused() {
    let (app, _user, header, mut claims) = setup().await;
    claims["nbf"] = json!(now() + 120);
    claims["iat"] = json!(now() + 120);
    assert_refused(
        &app,
        &sign(&header, &claims, TEST_JWT_SECRET.as_bytes()),
        "nbf in the future",
    )
    .await;
}

#[tokio::test]
async fn clock_leeway_is_at_most_thirty_seconds() {
    let (app, _user, header, mut claims) = setup().await;
    // Ten seconds past expiry is within the leeway: accepted (clocks drift) …
    claims["exp"] = json!(now() - 10);
    let body = app
        .gql(
            Some(&sign(&header, &claims, TEST_JWT_SECRET.as_bytes())),
            ME,
            json!({}),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    // … forty seconds past is not.
    claims["exp"] = json!(now() - 40);
    assert_refused(
        &app,
        &sign(&header, &claims, TEST_JWT_SECRET.as_bytes()),
        "40 s past exp",
    )
    .await;
}
