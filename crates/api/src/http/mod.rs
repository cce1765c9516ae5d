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

/// The audit recorder of a request: its id, and the client IP (by the trusted-proxy
/// rule) and user agent.
pub(crate) fn recorder(
    state: &crate::server::AppState,
    req: &actix_web::HttpRequest,
) -> crate::audit::Recorder {
    use actix_web::HttpMessage;
    let client = client_info(req, &state.trusted_proxies);
    let id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    crate::audit::Recorder::new(state.audit_enabled, &id, client.ip, client.user_agent)
}

/// Records a rate-limit refusal (sampled, see [`crate::audit::RefusalSampler`]). A
/// failure to record is logged: the refusal stands either way.
pub(crate) async fn record_rate_limited(
    state: &crate::server::AppState,
    rec: &crate::audit::Recorder,
    bucket: rate_limit::Bucket,
    key: &str,
) {
    if !rec.enabled() || !state.refusals.should_record(&format!("{bucket:?}:{key}")) {
        return;
    }
    let action = match bucket {
        rate_limit::Bucket::SignIn => "loginRateLimited",
        _ => "rateLimited",
    };
    let mut event = rec.event(action, crust_domain::audit::Outcome::Forbidden);
    event.error_code = Some("RATE_LIMITED".into());
    event.reason = Some(format!(
        "{bucket:?} limit; further refusals for this client within a minute are not recorded"
    ));
    let rec = rec.clone();
    if let Err(e) = state.db.run(move |c| rec.append(c, &event)).await {
        tracing::error!(error = e.message(), "could not record a rate-limit refusal");
    }
}

/// Records a refusal made before authentication and rate limiting (a mutation over
/// GET or too long, a cookie call without its CSRF token). Anyone can send these for
/// free, so they are sampled like rate-limit refusals: the first per client and kind
/// each minute.
pub(crate) async fn record_early_refusal(
    state: &crate::server::AppState,
    req: &actix_web::HttpRequest,
    action: &str,
    outcome: crust_domain::audit::Outcome,
    code: &str,
    reason: &str,
) {
    let rec = recorder(state, req);
    let client = client_ip(req, &state.trusted_proxies)
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    if !rec.enabled()
        || !state
            .refusals
            .should_record(&format!("{action}:{reason}:{client}"))
    {
        return;
    }
    let mut event = rec.event(action, outcome);
    event.error_code = Some(code.to_owned());
    event.reason = Some(format!(
        "{reason}; further refusals of this kind for this client within a minute are not recorded"
    ));
    if let Err(e) = state.db.run(move |c| rec.append(c, &event)).await {
        tracing::error!(error = e.message(), "could not record a refusal");
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
