//! The email side, end to end against a real SMTP server (aiosmtpd, started per test):
//! each test reads the message the server received, follows its link through the API
//! and checks the result.

mod invitations;
mod notices;
mod notifications;
mod outbox;
mod reset;
mod sign_up;
mod timing;

use crust_e2e::mail::SmtpPeer;
use crust_e2e::{error_code, TestApp};
use serde_json::{json, Value};

/// A server whose mail goes to `peer`.
pub async fn app_with(peer: &SmtpPeer) -> TestApp {
    let (server, ca) = (peer.server(), peer.ca_file());
    TestApp::start_with(move |c| {
        c.mail.smtp = Some(server);
        c.mail.smtp_ca_file = ca;
    })
    .await
}

/// Every token a test saw in a message goes to `target/test-secrets/`: `.ci/run`
/// searches everything the servers logged during the suite for them.
pub fn remember(token: &str) {
    use std::io::Write;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-secrets");
    std::fs::create_dir_all(&dir).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{}.txt", std::process::id())))
        .unwrap();
    writeln!(f, "{token}").unwrap();
}

/// An anonymous mutation with one input object.
pub async fn anonymous(
    app: &TestApp,
    field: &str,
    input_type: &str,
    select: &str,
    input: Value,
) -> Value {
    app.gql(
        None,
        &format!("mutation($i: {input_type}!) {{ {field}(input: $i) {select} }}"),
        json!({ "i": input }),
    )
    .await
}

/// The answer's error message, or panics.
pub fn message(body: &Value) -> String {
    assert!(error_code(body).is_some(), "expected an error: {body}");
    body["errors"][0]["message"].as_str().unwrap().to_owned()
}

/// The audit log must never hold a token of a link.
pub fn assert_not_in_audit(app: &TestApp, token: &str) {
    let mut conn = app.db.connect();
    let hits = crust_e2e::db::texts(
        &mut conn,
        "SELECT id::text AS v FROM audit_events WHERE strpos(coalesce(variables, '') || coalesce(reason, ''), $1) > 0",
        token,
    );
    assert!(hits.is_empty(), "a token is in audit rows {hits:?}");
}

/// Waits until the outbox has nothing left to send.
pub async fn outbox_drained(app: &TestApp) {
    let started = std::time::Instant::now();
    loop {
        let mut conn = app.db.connect();
        let queued = crust_e2e::db::texts(
            &mut conn,
            "SELECT count(*)::text AS v FROM outbox WHERE status = 'QUEUED' AND $1 = $1",
            "",
        );
        if queued == ["0"] {
            return;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(15),
            "outbox never drained"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
