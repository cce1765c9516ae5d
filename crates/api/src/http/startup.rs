//! A server started before its database could be migrated answers every request but
//! the health checks with 503 and `Retry-After` until the migrations are applied: code
//! must never run against a schema older than it (a missing REVOKE, trigger or policy
//! would be a missing protection).

use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderValue, RETRY_AFTER};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;

static WAITING_FOR_MIGRATIONS: AtomicBool = AtomicBool::new(false);

/// From now on, hold requests until [`migrated`] (`crust serve` with its database down).
pub fn hold_until_migrated() {
    WAITING_FOR_MIGRATIONS.store(true, Ordering::SeqCst);
}

/// Whether requests are held (readiness says not ready meanwhile).
pub fn waiting() -> bool {
    WAITING_FOR_MIGRATIONS.load(Ordering::SeqCst)
}

/// The migrations are applied: serve.
pub fn migrated() {
    WAITING_FOR_MIGRATIONS.store(false, Ordering::SeqCst);
}

pub async fn gate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let health = matches!(req.path(), "/healthz" | "/readyz");
    if health || !WAITING_FOR_MIGRATIONS.load(Ordering::SeqCst) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let mut res = super::error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        "INTERNAL",
        "the server is starting: its database is not ready yet; retry shortly",
    );
    res.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    Ok(req.into_response(res).map_into_right_body())
}
