//! HTTP: routes, request ids, security headers.
//!
//! Routes: `POST /graphql` (JSON only), `GET /graphql` (queries only), browser
//! sessions under `/auth`, `GET /healthz`,
//! `GET /readyz`, and GraphiQL at `/graphiql` where enabled (dev).

mod browser;
mod client_ip;
mod cors;
mod graphql;
mod headers;
mod health;
pub mod rate_limit;
mod request_id;

use actix_web::web;

pub use client_ip::client_ip;
pub use cors::cors;
pub use headers::security_headers;
pub use request_id::{request_id, RequestId};

/// An error answer outside GraphQL execution: the same `errors[].extensions.code`
/// shape a GraphQL error has.
pub(crate) fn error_response(
    status: actix_web::http::StatusCode,
    code: &str,
    message: &str,
) -> actix_web::HttpResponse {
    actix_web::HttpResponse::build(status).json(
        serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": code } }] }),
    )
}

/// Where a request comes from: the client IP (see [`client_ip`]) and its user agent.
pub(crate) fn client_info(
    req: &actix_web::HttpRequest,
    trusted: &[std::net::IpAddr],
) -> crust_dal::sessions::ClientInfo {
    crust_dal::sessions::ClientInfo {
        ip: client_ip(req, trusted).map(|ip| ip.to_string()),
        user_agent: req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}

/// The request body limit for GraphQL (JSON) requests.
pub const JSON_BODY_LIMIT: usize = 1024 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig, graphiql: bool) {
    cfg.app_data(web::PayloadConfig::new(JSON_BODY_LIMIT))
        .route("/graphql", web::post().to(graphql::post))
        .route("/graphql", web::get().to(graphql::get))
        .route("/auth/login", web::post().to(browser::login))
        .route("/auth/refresh", web::post().to(browser::refresh))
        .route("/auth/logout", web::post().to(browser::logout))
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz));
    if graphiql {
        cfg.route("/graphiql", web::get().to(health::graphiql_page));
    }
}
