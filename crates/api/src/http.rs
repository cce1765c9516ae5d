//! HTTP routes: `POST /graphql` (JSON only), `GET /graphql` (queries only),
//! `GET /healthz`, `GET /readyz`, and GraphiQL at `/graphiql` when enabled.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use async_graphql::parser::types::OperationType;
use async_graphql::{ErrorExtensions, Request};
use crust_dal::sessions::ClientInfo;
use serde_json::json;

use crate::error::ApiError;
use crate::graphql::RequestCtx;
use crate::server::AppState;

/// The request body limit for GraphQL (JSON) requests.
pub const JSON_BODY_LIMIT: usize = 1024 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig, graphiql: bool) {
    cfg.app_data(web::PayloadConfig::new(JSON_BODY_LIMIT))
        .route("/graphql", web::post().to(graphql_post))
        .route("/graphql", web::get().to(graphql_get))
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz));
    if graphiql {
        cfg.route("/graphiql", web::get().to(graphiql_page));
    }
}

fn error_response(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "errors": [{ "message": message, "extensions": { "code": code } }] }))
}

async fn graphql_post(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_USER_INPUT",
            "send GraphQL requests as Content-Type: application/json",
        );
    }
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return error_response(
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            "batched requests are disabled; send one operation per request",
        );
    }
    let request: Request =
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(_) => return error_response(
                StatusCode::BAD_REQUEST,
                "BAD_USER_INPUT",
                "the body is not a GraphQL request: expected JSON {\"query\": …, \"variables\": …}",
            ),
        };
    execute(&state, &req, request).await
}

async fn graphql_get(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let request = match async_graphql::http::parse_query_string(req.query_string()) {
        Ok(r) => r,
        Err(_) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "BAD_USER_INPUT",
                "the query string is not a GraphQL request",
            )
        }
    };
    // GET must never change anything (it is a "simple" cross-site request).
    if is_mutation(&request) {
        return error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "BAD_USER_INPUT",
            "mutations must be sent with POST and Content-Type: application/json",
        )
        .customize_allow();
    }
    execute(&state, &req, request).await
}

trait AllowPost {
    fn customize_allow(self) -> HttpResponse;
}

impl AllowPost for HttpResponse {
    fn customize_allow(mut self) -> HttpResponse {
        self.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        self
    }
}

fn is_mutation(request: &Request) -> bool {
    let Ok(doc) = async_graphql::parser::parse_query(&request.query) else {
        return false; // execution will report the syntax error
    };
    doc.operations.iter().any(|(name, op)| {
        let selected = match (&request.operation_name, name) {
            (Some(wanted), Some(name)) => wanted.as_str() == name.as_str(),
            (Some(_), None) => false,
            (None, _) => true,
        };
        selected && op.node.ty != OperationType::Query
    })
}

async fn execute(state: &AppState, req: &HttpRequest, request: Request) -> HttpResponse {
    let ctx = match request_ctx(state, req).await {
        Ok(ctx) => ctx,
        Err(e) => {
            let err = e.extend();
            let code = err
                .extensions
                .as_ref()
                .and_then(|x| x.get("code"))
                .map(|c| c.to_string());
            return error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                code.as_deref()
                    .map(|c| c.trim_matches('"'))
                    .unwrap_or("INTERNAL"),
                &err.message,
            );
        }
    };
    // Per request: a database handle that counts statements, and the DataLoaders.
    let (db, statements) = state.db.counting();
    let mut request = request.data(db.clone());
    if let Some((_, actor)) = &ctx.caller {
        request = request.data(crate::graphql::loaders(db, actor.clone()));
    }
    let mut response = state.schema.execute(request.data(ctx)).await;
    let statements = statements.load(std::sync::atomic::Ordering::Relaxed);
    tracing::debug!(sql_statements = statements, "graphql request");
    if state.report_sql_statements {
        response.extensions.insert(
            "sqlStatements".into(),
            async_graphql::Value::from(statements),
        );
    }
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(response)
}

/// Who is calling. A missing or refused bearer token leaves the caller anonymous
/// (the gate then answers UNAUTHENTICATED for anything but sign-in); only a database
/// outage is an error here.
async fn request_ctx(state: &AppState, req: &HttpRequest) -> Result<RequestCtx, ApiError> {
    let client = ClientInfo {
        ip: req.peer_addr().map(|a| a.ip().to_string()),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    let mut ctx = RequestCtx {
        client,
        ..RequestCtx::default()
    };
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(ctx);
    };
    let bearer = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let Some(token) = bearer else {
        ctx.auth_error = Some("the Authorization header must be `Bearer <access token>`");
        return Ok(ctx);
    };
    match state.auth.authenticate(token).await {
        Ok(caller) => ctx.caller = Some(caller),
        Err(ApiError::Unauthenticated(reason)) => {
            tracing::info!(reason, "bearer token refused");
            ctx.auth_error = Some(reason);
        }
        Err(other) => return Err(other),
    }
    Ok(ctx)
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// Ready when the database answers and every embedded migration is applied.
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let pending = state.db.run(|c| {
        crust_dal::migrate::pending_count(c)
            .map_err(|e| crust_dal::DalError::Invalid(e.to_string()))
    });
    match pending.await {
        Ok(0) => HttpResponse::Ok().json(json!({ "status": "ready", "database": "ok", "migrations": "current" })),
        Ok(n) => HttpResponse::ServiceUnavailable()
            .json(json!({ "status": "not ready", "database": "ok", "migrations": format!("{n} pending") })),
        Err(_) => HttpResponse::ServiceUnavailable().json(json!({ "status": "not ready", "database": "unreachable" })),
    }
}

async fn graphiql_page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(
            async_graphql::http::GraphiQLSource::build()
                .endpoint("/graphql")
                .finish(),
        )
}
