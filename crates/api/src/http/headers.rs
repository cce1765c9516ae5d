//! Security headers on every response (a handler that sets its own keeps it: GraphiQL
//! relaxes the CSP in dev).

use actix_web::middleware::DefaultHeaders;

/// The API serves JSON only: nothing may be framed, scripted, sniffed or cached.
pub const CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/// The pages of a single-page app served from the API's origin (`CRUST_SPA_DIR`): its
/// own scripts, styles and connections (HTTP and WebSocket) only; nothing inline, and
/// nothing may frame it.
pub const SPA_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

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
