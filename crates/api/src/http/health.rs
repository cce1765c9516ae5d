//! Liveness, readiness and (dev only) GraphiQL.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::state::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// Ready when the database answers and every embedded migration is applied.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let pending = state.db.run(|c| {
        crust_dal::migrate::pending_count(c)
            .map_err(|e| crust_dal::DalError::Invalid(e.to_string()))
    });
    match pending.await {
        // Migrated, but the server has not let requests through yet: a moment more.
        Ok(0) if super::startup::waiting() => HttpResponse::ServiceUnavailable()
            .json(json!({ "status": "not ready", "database": "ok", "migrations": "being applied" })),
        Ok(0) => HttpResponse::Ok().json(json!({ "status": "ready", "database": "ok", "migrations": "current" })),
        Ok(n) => HttpResponse::ServiceUnavailable()
            .json(json!({ "status": "not ready", "database": "ok", "migrations": format!("{n} pending") })),
        Err(_) => HttpResponse::ServiceUnavailable().json(json!({ "status": "not ready", "database": "unreachable" })),
    }
}

/// GraphiQL loads its scripts and styles from a CDN: its page gets the CSP it needs,
/// and it is only ever served in the dev profile.
pub async fn graphiql_page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; script-src 'unsafe-inline' https://unpkg.com; style-src 'unsafe-inline' https://unpkg.com; \
             connect-src 'self'; img-src 'self' data:; font-src https://unpkg.com; frame-ancestors 'none'; base-uri 'none'",
        ))
        .body(async_graphql::http::GraphiQLSource::build().endpoint("/graphql").finish())
}
