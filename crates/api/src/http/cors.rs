//! CORS: only configured origins, credentials only for them, never `null`; `*` (dev
//! only, refused in prod) allows reading without credentials.

use actix_cors::Cors;
use actix_web::http::header;

pub fn cors(origins: &[String]) -> Cors {
    let base = Cors::default()
        .allowed_methods(["GET", "POST"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::HeaderName::from_static("x-csrf-token"),
        ])
        .expose_headers([
            "x-request-id",
            "retry-after",
            "ratelimit-limit",
            "ratelimit-remaining",
            "ratelimit-reset",
        ])
        .max_age(600);
    if origins.iter().any(|o| o == "*") {
        return base.allowed_origin_fn(|origin, _| origin.as_bytes() != b"null");
    }
    let mut cors = base.supports_credentials();
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}
