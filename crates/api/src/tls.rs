//! TLS with rustls (the `ring` provider): the server's certificate chain and key from
//! PEM files, and the plain-HTTP listener that only redirects to HTTPS.

use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use actix_web::{http::header, HttpRequest, HttpResponse};

/// A rustls server configuration for the PEM certificate chain and private key.
pub fn server_config(cert: &Path, key: &Path) -> std::io::Result<rustls::ServerConfig> {
    let open = |path: &Path| {
        std::fs::File::open(path).map(BufReader::new).map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot read {}: {e}", path.display()))
        })
    };
    let certs = rustls_pemfile::certs(&mut open(cert)?).collect::<Result<Vec<_>, _>>()?;
    if certs.is_empty() {
        return Err(std::io::Error::other(format!(
            "{} holds no certificate",
            cert.display()
        )));
    }
    let key = rustls_pemfile::private_key(&mut open(key)?)?
        .ok_or_else(|| std::io::Error::other(format!("{} holds no private key", key.display())))?;
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(std::io::Error::other)
}

/// Answers every plain-HTTP request with a permanent redirect to the same path over
/// HTTPS on `https_port`.
pub async fn redirect(req: HttpRequest, https_port: actix_web::web::Data<u16>) -> HttpResponse {
    let host = req.connection_info().host().to_owned();
    let name = host_name(&host);
    let port = if **https_port == 443 {
        String::new()
    } else {
        format!(":{}", **https_port)
    };
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, format!("https://{name}{port}{path}")))
        .finish()
}

/// The host without its port (an IPv6 literal keeps its brackets).
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.find(']').map_or(host, |i| &host[..i + 2]);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

#[cfg(test)]
mod tests {
    #[test]
    fn host_names_lose_their_ports() {
        assert_eq!(super::host_name("example.com:8080"), "example.com");
        assert_eq!(super::host_name("example.com"), "example.com");
        assert_eq!(super::host_name("[::1]:80"), "[::1]");
    }
}
