//! HTTP settings: where to listen, TLS, time limits, browser origins, proxies.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use super::setting::settings;

/// `*`, or `scheme://host[:port]` with no path; `null` never (sandboxed documents
/// and `file:` pages send it, so allowing it would allow them all).
// A setting's `check` takes a reference to the field's own type.
#[allow(clippy::ptr_arg)]
fn check_origins(origins: &Vec<String>) -> Result<(), String> {
    let bad = origins.iter().any(|origin| {
        let well_formed = origin == "*"
            || ((origin.starts_with("https://") || origin.starts_with("http://"))
                && !origin[origin.find("://").map_or(0, |i| i + 3)..].contains('/'));
        origin.eq_ignore_ascii_case("null") || !well_formed
    });
    if bad {
        Err("each origin must look like https://host[:port] (never `null`)".into())
    } else {
        Ok(())
    }
}

/// A built app's directory (`CRUST_SPA_DIR`, `crust dev --spa`): it must hold an
/// `index.html`, and must not be the file system's root (everything beneath it would be
/// served).
pub fn check_spa_dir(dir: &std::path::Path) -> Result<(), String> {
    if dir.parent().is_none() {
        return Err("must be the directory of a built app, never the file system's root".into());
    }
    if !dir.join("index.html").is_file() {
        return Err(format!(
            "{}: no index.html there; build the app first (in examples/spa: npm ci && npm run build)",
            dir.display()
        ));
    }
    Ok(())
}

fn check_spa_setting(dir: &Option<PathBuf>) -> Result<(), String> {
    dir.as_deref().map_or(Ok(()), check_spa_dir)
}

settings! {
    /// The listener, TLS, time limits, CORS and proxies.
    pub struct HttpConfig {
        pub bind: SocketAddr {
            env: "CRUST_BIND",
            default: Is("127.0.0.1:8080"),
            doc: "Address to listen on.",
        },
        pub request_timeout_ms: u64 {
            env: "CRUST_REQUEST_TIMEOUT_MS",
            default: Is("30000"),
            range: 100..=600_000,
            doc: "A GraphQL request still running after this is stopped (503 with Retry-After).",
        },
        pub shutdown_grace_secs: u64 {
            env: "CRUST_SHUTDOWN_GRACE_SECS",
            default: Is("10"),
            range: 1..=600,
            doc: "On SIGTERM or SIGINT the server stops accepting, lets requests in flight finish for this long, then stops them; the process exits at the latest 5 s after that, even if a request is stuck.",
        },
        pub client_timeout_ms: u64 {
            env: "CRUST_CLIENT_TIMEOUT_MS",
            default: Is("5000"),
            range: 100..=60_000,
            doc: "A client that has not sent its request head by then is dropped (slowloris).",
        },
        pub tls_cert: Option<PathBuf> {
            env: "CRUST_TLS_CERT",
            default: Unset("none"),
            doc: "PEM certificate chain (with `CRUST_TLS_KEY`): the server speaks HTTPS (rustls with ring) and sends HSTS (one year, includeSubDomains). Also `crust serve --tls-cert F --tls-key F`.",
        },
        pub tls_key: Option<PathBuf> {
            env: "CRUST_TLS_KEY",
            default: Unset("none"),
            doc: "PEM private key of `CRUST_TLS_CERT`; set both or neither.",
        },
        pub http_redirect_bind: Option<SocketAddr> {
            env: "CRUST_HTTP_REDIRECT_BIND",
            default: Unset("none"),
            doc: "With TLS: a plain-HTTP listener (e.g. `0.0.0.0:80`) that answers every request with a 308 to the same path over HTTPS.",
        },
        pub behind_tls_proxy: bool {
            env: "CRUST_BEHIND_TLS_PROXY",
            default: Is("false"),
            doc: "A proxy in front terminates TLS: responses carry HSTS (one year, includeSubDomains).",
        },
        pub cors_origins: Vec<String> {
            env: "CRUST_CORS_ORIGINS",
            default: Unset("none"),
            check: check_origins,
            doc: "Comma-separated browser origins (`https://app.example.com`) allowed to call the API, with credentials. `*` allows any origin without credentials and is **refused in prod**; `null` is never accepted.",
        },
        pub spa_dir: Option<PathBuf> {
            env: "CRUST_SPA_DIR",
            default: Unset("none"),
            check: check_spa_setting,
            doc: "A built single-page app (its `index.html` and assets) to serve at `/` on the API's own origin, so the app needs no CORS; `crust dev --spa DIR` sets it. Its pages get a CSP that allows only the origin's own scripts, styles and connections; dotfiles and paths leading out of the directory are not served.",
        },
        pub trusted_proxies: Vec<IpAddr> {
            env: "CRUST_TRUSTED_PROXIES",
            default: Unset("none"),
            doc: "Comma-separated IPs of reverse proxies. Only from these is `X-Forwarded-For` believed (its right-most address that is not a trusted proxy is the client); anyone else's is ignored.",
        },
    }
}

impl HttpConfig {
    /// HTTPS is in front of clients (served here, or by the proxy): send HSTS.
    pub fn hsts(&self) -> bool {
        self.behind_tls_proxy || self.tls_cert.is_some()
    }
}
