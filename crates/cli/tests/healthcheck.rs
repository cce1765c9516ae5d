//! `crust healthcheck`, the image's HEALTHCHECK, run as Docker runs it: against a real
//! server, a closed port, a server that never answers, a wrong path, and a configuration
//! that serves HTTPS.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crust_e2e::TestApp;

fn crust() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_crust"));
    // A clean environment: only what each test sets.
    for (key, _) in std::env::vars() {
        if key.starts_with("CRUST_") || key == "DATABASE_URL" {
            c.env_remove(key);
        }
    }
    c.arg("healthcheck");
    c
}

fn run(command: &mut Command) -> (bool, String) {
    let Output { status, stderr, .. } = command.output().unwrap();
    (
        status.success(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A failure is one line on stderr.
fn one_line(err: &str) -> &str {
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line of error: {err:?}");
    lines[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_when_the_server_answers_its_healthz() {
    let app = TestApp::start().await;
    let port = app.base.rsplit(':').next().unwrap().to_owned();
    tokio::task::block_in_place(|| {
        // --url
        let (ok, err) = run(crust().args(["--url", &app.url("/healthz")]));
        assert!(ok, "{err}");
        assert!(err.is_empty(), "{err}");
        // The bind address of the configuration, as the image sets it: a wildcard bind is
        // asked on loopback.
        for bind in [format!("127.0.0.1:{port}"), format!("0.0.0.0:{port}")] {
            let (ok, err) = run(crust().env("CRUST_BIND", &bind));
            assert!(ok, "CRUST_BIND={bind}: {err}");
        }
        // Not /healthz: a 404 is not healthy.
        let (ok, err) = run(crust().args(["--url", &app.url("/no-such-path")]));
        assert!(!ok);
        assert!(one_line(&err).contains("answered 404"), "{err}");
    });
}

#[test]
fn unhealthy_when_nothing_listens() {
    let port = closed_port();
    for command in [
        crust().args(["--url", &format!("http://127.0.0.1:{port}/healthz")]),
        crust().env("CRUST_BIND", format!("127.0.0.1:{port}")),
    ] {
        let started = Instant::now();
        let (ok, err) = run(command);
        assert!(!ok, "healthy with nothing on port {port}");
        let line = one_line(&err);
        assert!(
            line.contains(&format!("127.0.0.1:{port}/healthz"))
                && line.contains("connection failed"),
            "{err}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}

#[test]
fn unhealthy_when_the_server_never_answers() {
    // The kernel accepts the connection; nobody ever reads the request.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/healthz", listener.local_addr().unwrap());
    let started = Instant::now();
    let (ok, err) = run(crust().args(["--url", &url]));
    let took = started.elapsed();
    assert!(!ok);
    assert!(one_line(&err).contains("no answer within 3 s"), "{err}");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(8),
        "{took:?}"
    );
    drop(listener);
}

#[test]
fn says_it_cannot_check_https() {
    // The server of this configuration serves HTTPS: the check says it cannot, in one line.
    let dir = std::env::temp_dir();
    let (ok, err) = run(crust()
        .env("CRUST_BIND", "127.0.0.1:8443")
        .env("CRUST_TLS_CERT", dir.join("cert.pem"))
        .env("CRUST_TLS_KEY", dir.join("key.pem")));
    assert!(!ok);
    let line = one_line(&err);
    assert!(line.contains("HTTPS") && line.contains("--url"), "{err}");
    let (ok, err) = run(crust().args(["--url", "https://127.0.0.1:8443/healthz"]));
    assert!(!ok);
    assert!(one_line(&err).contains("plain http://"), "{err}");
}

#[test]
fn a_configuration_it_cannot_read_is_one_line_too() {
    let (ok, err) = run(crust()
        .env("CRUST_BIND", "not an address")
        .env("CRUST_CLIENT_TIMEOUT_MS", "soon"));
    assert!(!ok);
    let line = one_line(&err);
    assert!(
        line.contains("cannot read the configuration")
            && line.contains("CRUST_BIND")
            && line.contains("CRUST_CLIENT_TIMEOUT_MS"),
        "{err}"
    );
}
