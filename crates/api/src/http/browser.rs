//! Browser sessions: `POST /auth/login`, `/auth/refresh`, `/auth/logout` for the SPA.
//!
//! The refresh token travels only in a cookie the page's scripts cannot read
//! (`HttpOnly; Secure; SameSite=Strict; Path=/auth`); the access token in the JSON
//! body. Calls authenticated by the cookie (refresh, logout) must carry the session's
//! CSRF token in `X-CSRF-Token`: an HMAC of the session id that another site can
//! neither read nor make. Every route takes JSON only, so no "simple" cross-site form
//! can reach it.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{TimeZone, Utc};
use serde::Deserialize;
use serde_json::json;

use super::error_response as problem;
use super::rate_limit::{Bucket, Verdict};
use crate::auth::SignedIn;
use crate::error::ApiError;
use crate::state::AppState;

pub const REFRESH_COOKIE: &str = "crust_refresh";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A response that ends the request early (boxed: responses are large).
type Refusal = Box<HttpResponse>;

fn refusal(status: StatusCode, code: &str, message: &str) -> Refusal {
    Box::new(problem(status, code, message))
}

fn api_error(e: ApiError) -> HttpResponse {
    let status = match e {
        ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
        ApiError::BadUserInput(_) => StatusCode::BAD_REQUEST,
        ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let mut res = problem(status, e.code(), &e.message());
    if status == StatusCode::SERVICE_UNAVAILABLE {
        res.headers_mut().insert(
            actix_web::http::header::RETRY_AFTER,
            actix_web::http::header::HeaderValue::from_static("1"),
        );
    }
    res
}

fn refresh_cookie(token: &str, max_age_secs: i64) -> Cookie<'static> {
    Cookie::build(REFRESH_COOKIE, token.to_owned())
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .path("/auth")
        .max_age(CookieDuration::seconds(max_age_secs))
        .finish()
}

fn signed_in(state: &AppState, s: SignedIn) -> HttpResponse {
    let csrf = state.auth.csrf_token(s.session);
    let expires_at = Utc
        .timestamp_opt(s.expires_at, 0)
        .single()
        .map(|t| t.to_rfc3339());
    HttpResponse::Ok()
        .cookie(refresh_cookie(
            &s.refresh_token,
            state.refresh_cookie_max_age,
        ))
        .json(json!({
            "accessToken": s.access_token,
            "expiresAt": expires_at,
            "csrfToken": csrf,
            "user": { "id": s.user.id, "email": s.user.email, "name": s.user.name },
        }))
}

/// JSON only, and within the sign-in rate limit of the client's IP.
async fn admit(state: &AppState, req: &HttpRequest) -> Result<(), Refusal> {
    if !super::graphql::is_json(req) {
        return Err(Box::new(problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_USER_INPUT",
            "send Content-Type: application/json",
        )));
    }
    let ip = super::client_ip(req, &state.trusted_proxies)
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    if let Verdict::Limited { limit, retry_after } = state.rate_limits.check(Bucket::SignIn, &ip) {
        super::record_rate_limited(
            state,
            &super::recorder(state, req, None),
            Bucket::SignIn,
            &ip,
        )
        .await;
        return Err(Box::new(super::rate_limit::too_many_requests(
            limit,
            retry_after,
        )));
    }
    Ok(())
}

#[derive(Deserialize)]
pub struct LoginBody {
    email: String,
    password: String,
}

pub async fn login(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    if let Err(refusal) = admit(&state, &req).await {
        return *refusal;
    }
    let Ok(input) = serde_json::from_slice::<LoginBody>(&body) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            "expected JSON {\"email\": …, \"password\": …}",
        );
    };
    let rec = super::recorder(&state, &req, None);
    match state.auth.login(&input.email, input.password, &rec).await {
        Ok(s) => signed_in(&state, s),
        Err(e) => api_error(e),
    }
}

/// The session behind the request's refresh cookie, once its CSRF token checks out.
async fn cookie_session(
    state: &AppState,
    req: &HttpRequest,
) -> Result<(String, crust_dal::sessions::TokenHolder), Refusal> {
    let Some(cookie) = req.cookie(REFRESH_COOKIE) else {
        return Err(refusal(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "no session cookie; sign in again",
        ));
    };
    let token = cookie.value().to_owned();
    let session = match state.auth.session_of(&token).await {
        Ok(Some(session)) => session,
        Ok(None) => {
            return Err(refusal(
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                "the session is over; sign in again",
            ))
        }
        Err(e) => return Err(Box::new(api_error(e))),
    };
    let presented = req
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !state.auth.csrf_matches(session.session_id(), presented) {
        tracing::warn!("cookie request without a valid CSRF token refused");
        let action = if req.path().ends_with("/logout") {
            "logout"
        } else {
            "refreshSession"
        };
        super::record_refused_request(
            state,
            req,
            action,
            "FORBIDDEN",
            "missing_or_wrong_csrf_token",
        )
        .await;
        return Err(Box::new(problem(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "missing or wrong X-CSRF-Token",
        )));
    }
    Ok((token, session))
}

pub async fn refresh(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    if let Err(refusal) = admit(&state, &req).await {
        return *refusal;
    }
    let (token, _) = match cookie_session(&state, &req).await {
        Ok(found) => found,
        Err(refusal) => return *refusal,
    };
    match state
        .auth
        .refresh(&token, &super::recorder(&state, &req, None))
        .await
    {
        Ok(s) => signed_in(&state, s),
        Err(e) => api_error(e),
    }
}

pub async fn logout(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    if !super::graphql::is_json(&req) {
        return problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_USER_INPUT",
            "send Content-Type: application/json",
        );
    }
    let (_, session) = match cookie_session(&state, &req).await {
        Ok(found) => found,
        Err(refusal) => return *refusal,
    };
    let rec = super::recorder(&state, &req, None);
    if let Err(e) = state.auth.logout(session, &rec).await {
        return api_error(e);
    }
    HttpResponse::Ok()
        .cookie(refresh_cookie("", 0))
        .json(json!({ "revoked": true }))
}
