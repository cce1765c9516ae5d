//! TLS with rustls: HTTPS with HSTS, plain HTTP refused on the TLS port, and the plain
//! listener that only redirects to HTTPS.

use std::sync::Arc;

use crust_e2e::TestApp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn certificate(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, Vec<u8>) {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, signing_key.serialize_pem()).unwrap();
    (cert_path, key_path, cert.der().to_vec())
}

/// One HTTPS request, trusting only our certificate; returns the raw response.
async fn https_get(addr: &str, der: &[u8], path: &str) -> String {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(der.to_vec()))
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    tls.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn https_is_served_with_hsts_and_plain_http_redirects() {
    let dir = std::env::temp_dir().join(format!("crust-tls-{}", uuid::Uuid::new_v4().simple()));
    let (cert, key, der) = certificate(&dir);
    let app = TestApp::start_with(|c| {
        c.http.tls_cert = Some(cert);
        c.http.tls_key = Some(key);
    })
    .await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let response = https_get(&addr, &der, "/healthz").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let lower = response.to_lowercase();
    assert!(
        lower.contains("strict-transport-security: max-age=31536000; includesubdomains"),
        "{response}"
    );
    assert!(lower.contains("content-security-policy"), "{response}");
    // Plain HTTP on the TLS port gets nothing useful.
    let plain = app.http.get(app.url("/healthz")).send().await;
    assert!(
        plain.is_err(),
        "plain HTTP on the TLS port must not be answered: {plain:?}"
    );

    // The plain listener only redirects, keeping path and query.
    let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
    let redirect = crust_api::server::spawn_redirect(
        std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
        port,
    )
    .unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = client
        .get(format!(
            "http://{}/graphql?query=%7B__typename%7D",
            redirect.addr
        ))
        .header("host", "localhost")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 308);
    assert_eq!(
        res.headers()["location"],
        format!("https://localhost:{port}/graphql?query=%7B__typename%7D")
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn tls_settings_are_checked() {
    let mut config = crust_e2e::test_config("postgres://postgres@127.0.0.1:5432/postgres");
    config.http.tls_cert = Some("/nonexistent/cert.pem".into());
    assert!(
        config.validate().is_err(),
        "a certificate without its key is refused"
    );
    config.http.tls_key = Some("/nonexistent/key.pem".into());
    config.validate().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let started = crust_api::server::spawn(&config, listener, 1);
    assert!(
        started.is_err(),
        "unreadable certificate files stop the start"
    );
}
