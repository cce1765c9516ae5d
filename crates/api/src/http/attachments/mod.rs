//! Attachments over REST, beside GraphQL: `POST /tasks/{taskId}/attachments` streams a
//! file in, `GET /attachments/{id}` streams one out. Both take the bearer access token
//! (a browser app holds it in memory, from `/auth/login` or `/auth/refresh`; the
//! refresh cookie is only ever sent to `/auth`, so no cookie authenticates these
//! routes and a cross-site form carries no credential to them).

mod download;
mod range;
mod upload;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};

use super::rate_limit::{Bucket, Verdict};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;
use crust_dal::Actor;

pub use download::download;
pub use upload::upload;

/// An answer that ends a request early (boxed: responses are large).
type Refusal = Box<HttpResponse>;

/// An early answer. Uploads close the connection with it: the body was not read, and
/// must not be.
fn refuse(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    let mut res = super::error_response(status, code, message);
    res.head_mut()
        .set_connection_type(actix_web::http::ConnectionType::Close);
    res
}

fn api_refusal(e: &ApiError) -> HttpResponse {
    let status = match e {
        ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
        ApiError::NotFound => StatusCode::NOT_FOUND,
        ApiError::BadUserInput(_) => StatusCode::BAD_REQUEST,
        ApiError::Conflict(_) => StatusCode::CONFLICT,
        ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ApiError::Internal(cause) => {
            tracing::error!(cause = %cause, "internal error");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    let mut res = refuse(status, e.code(), &e.message());
    if status == StatusCode::SERVICE_UNAVAILABLE {
        res.headers_mut().insert(
            actix_web::http::header::RETRY_AFTER,
            actix_web::http::header::HeaderValue::from_static("1"),
        );
    }
    res
}

/// The signed-in caller, within their rate limit.
async fn caller(state: &AppState, req: &HttpRequest) -> Result<(Principal, Actor), Refusal> {
    let token = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let Some(token) = token else {
        let ip = super::client_ip(req, &state.trusted_proxies)
            .map(|ip| ip.to_string())
            .unwrap_or_default();
        if let Verdict::Limited { limit, retry_after } =
            state.rate_limits.check(Bucket::Anonymous, &ip)
        {
            super::record_rate_limited(
                state,
                &super::recorder(state, req, None),
                Bucket::Anonymous,
                &ip,
            )
            .await;
            let mut res = super::rate_limit::too_many_requests(limit, retry_after);
            res.head_mut()
                .set_connection_type(actix_web::http::ConnectionType::Close);
            return Err(Box::new(res));
        }
        return Err(Box::new(refuse(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "sign in: send `Authorization: Bearer <access token>`",
        )));
    };
    let (principal, actor) = state.auth.authenticate(token).await.map_err(|e| {
        if let ApiError::Unauthenticated(reason) = &e {
            tracing::info!(reason, "bearer token refused");
        }
        Box::new(api_refusal(&e))
    })?;
    let key = principal.user_id().to_string();
    if let Verdict::Limited { limit, retry_after } = state.rate_limits.check(Bucket::User, &key) {
        super::record_rate_limited(
            state,
            &super::recorder(state, req, Some(&principal)),
            Bucket::User,
            &key,
        )
        .await;
        let mut res = super::rate_limit::too_many_requests(limit, retry_after);
        res.head_mut()
            .set_connection_type(actix_web::http::ConnectionType::Close);
        return Err(Box::new(res));
    }
    Ok((principal, actor))
}

/// A path id; anything that is not one names nothing.
fn path_id(text: &str) -> Result<uuid::Uuid, Refusal> {
    uuid::Uuid::parse_str(text)
        .map_err(|_| Box::new(refuse(StatusCode::NOT_FOUND, "NOT_FOUND", "not found")))
}

/// The URL a file is downloaded from, relative to the API's origin.
pub fn download_path(id: uuid::Uuid) -> String {
    format!("/attachments/{id}")
}

pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    use actix_web::web;
    cfg.route("/tasks/{task_id}/attachments", web::post().to(upload))
        .route("/attachments/{id}", web::get().to(download));
}
