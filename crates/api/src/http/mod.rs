//! HTTP: routes, request ids, security headers.
//!
//! Routes: `POST /graphql` (JSON only), `GET /graphql` (queries only), browser
//! sessions under `/auth`, attachments (`POST /tasks/{id}/attachments`,
//! `GET /attachments/{id}`), `GET /healthz`,
//! `GET /readyz`, and GraphiQL at `/graphiql` where enabled (dev).

pub mod attachments;
mod browser;
pub(crate) mod client_ip;
mod cors;
mod graphql;
mod headers;
mod health;
mod live;
pub mod rate_limit;
mod request_id;
pub mod startup;
mod wire;

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

/// The audit recorder of a request: its id, the client IP (by the trusted-proxy rule)
/// and user agent, and the signed-in caller if any.
pub(crate) fn recorder(
    state: &crate::state::AppState,
    req: &actix_web::HttpRequest,
    caller: Option<&crate::auth::Principal>,
) -> crate::audit::Recorder {
    use actix_web::HttpMessage;
    let client = client_info(req, &state.trusted_proxies);
    let origin = crust_dal::audit::Origin {
        request_id: req
            .extensions()
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .filter(|id| !id.is_empty()),
        ip: client.ip,
        user_agent: client.user_agent,
    };
    crate::audit::Recorder::new(
        state.audit_enabled,
        origin,
        caller.map(|p| (p.user_id(), p.session_id())),
    )
}

/// Records a refusal made before GraphQL runs: a rate limit, or what is refused before
/// authentication (a mutation over GET or too long, a cookie call without its CSRF
/// token); the outcome follows from `code`. Anyone can send these in floods, and a
/// flood of refusals must not become a flood of writes, so they are sampled: the first
/// per `client` (IP or user id) and kind each minute — the event says so, the server
/// log has every one. A failure to record is logged: the refusal stands either way.
pub(crate) async fn record_early_refusal(
    state: &crate::state::AppState,
    rec: &crate::audit::Recorder,
    action: &str,
    code: &str,
    reason: &str,
    client: &str,
) {
    // An IP counts as its network (an IPv6 client's /64), as in the rate limits.
    let client = match client.parse::<std::net::IpAddr>() {
        Ok(ip) => client_ip::network(ip).to_string(),
        Err(_) => client.to_owned(),
    };
    if !rec.enabled()
        || !state
            .refusals
            .should_record(&format!("{action}:{reason}:{client}"))
    {
        return;
    }
    let mut event = rec.event(action, crust_domain::audit::Outcome::of_error_code(code));
    event.error_code = Some(code.to_owned());
    event.reason = Some(format!(
        "{reason}; further refusals of this kind for this client within a minute are not recorded"
    ));
    let rec = rec.clone();
    if let Err(e) = state.db.run(move |c| rec.append(c, &event)).await {
        tracing::error!(error = e.message(), "could not record a refusal");
    }
}

/// Records a rate-limit refusal of `bucket` for `key` (a user id or an IP).
pub(crate) async fn record_rate_limited(
    state: &crate::state::AppState,
    rec: &crate::audit::Recorder,
    bucket: rate_limit::Bucket,
    key: &str,
) {
    let action = match bucket {
        rate_limit::Bucket::SignIn => "loginRateLimited",
        _ => "rateLimited",
    };
    let reason = format!("{bucket:?} limit");
    record_early_refusal(state, rec, action, "RATE_LIMITED", &reason, key).await;
}

/// Records a refusal of an anonymous request, sampled per client IP.
pub(crate) async fn record_refused_request(
    state: &crate::state::AppState,
    req: &actix_web::HttpRequest,
    action: &str,
    code: &str,
    reason: &str,
) {
    let client = client_ip(req, &state.trusted_proxies)
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    let rec = recorder(state, req, None);
    record_early_refusal(state, &rec, action, code, reason, &client).await;
}

/// The request body limit for GraphQL (JSON) requests.
pub const JSON_BODY_LIMIT: usize = 1024 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig, graphiql: bool) {
    cfg.app_data(web::PayloadConfig::new(JSON_BODY_LIMIT))
        .route("/graphql", web::post().to(graphql::post))
        .route("/graphql", web::get().to(graphql::get))
        .route("/graphql/ws", web::get().to(live::socket))
        .route("/auth/login", web::post().to(browser::login))
        .route("/auth/refresh", web::post().to(browser::refresh))
        .route("/auth/logout", web::post().to(browser::logout))
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .configure(attachments::routes);
    if graphiql {
        cfg.route("/graphiql", web::get().to(health::graphiql_page));
    }
}

/// A built single-page app, served at `/` after every API route (`CRUST_SPA_DIR`).
pub fn spa(cfg: &mut web::ServiceConfig, dir: &std::path::Path) {
    cfg.service(
        web::scope("")
            .wrap(
                actix_web::middleware::DefaultHeaders::new()
                    .add(("Content-Security-Policy", headers::SPA_CSP)),
            )
            .service(
                actix_files::Files::new("/", dir)
                    .index_file("index.html")
                    // Nothing reached through a link that leads out of the directory.
                    .path_filter(within(dir.to_path_buf())),
            ),
    );
}

/// Does a path of the app's directory stay inside it once links are followed?
fn within(
    dir: std::path::PathBuf,
) -> impl Fn(&std::path::Path, &actix_web::dev::RequestHead) -> bool + 'static {
    let root = dir.canonicalize().unwrap_or(dir);
    move |path, _| {
        root.join(path)
            .canonicalize()
            .is_ok_and(|real| real.starts_with(&root))
    }
}
