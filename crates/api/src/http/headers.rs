//! Security headers on every response (a handler that sets its own keeps it: GraphiQL
//! relaxes the CSP in dev).

use actix_web::middleware::DefaultHeaders;

/// The API serves JSON only: nothing may be framed, scripted, sniffed or cached.
pub const CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

pub fn security_headers(hsts: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add(("Content-Security-Policy", CSP))
        .add(("X-Frame-Options", "DENY"))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("Cache-Control", "no-store"));
    if hsts {
        headers.add((
            "Strict-Transport-Security",
            "max-age=31536000; includeSubDomains",
        ))
    } else {
        headers
    }
}
