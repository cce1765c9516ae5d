//! The outbox: nothing is lost while the SMTP server is down, two servers never send
//! one message twice, a message that keeps failing is marked dead with its link
//! erased, and TLS to the SMTP server is verified.

use std::net::TcpListener;

use crust_e2e::mail::{PeerTls, SmtpPeer};
use crust_e2e::{Session, TestApp};
use serde_json::json;

use super::{app_with, outbox_drained};

const INVITE: &str = "mutation($o: ID!, $e: String!) { inviteToOrganization(input: {organizationId: $o, email: $e, role: MEMBER}) { email } }";

async fn invite_many(
    app: &TestApp,
    owner: &Session,
    org: &str,
    prefix: &str,
    n: usize,
) -> Vec<String> {
    let mut sent = Vec::new();
    for i in 0..n {
        let email = format!("{prefix}{i}@example.test");
        app.ok(owner, INVITE, json!({ "o": org, "e": email })).await;
        sent.push(email);
    }
    sent
}

fn outbox(app: &TestApp, sql_where: &str) -> Vec<String> {
    let mut conn = app.db.connect();
    crust_e2e::db::texts(
        &mut conn,
        &format!("SELECT status || ' ' || attempts || ' ' || coalesce(last_error, '-') || ' ' || (token IS NULL) AS v FROM outbox WHERE {sql_where} AND $1 = $1 ORDER BY created_at"),
        "",
    )
}

#[tokio::test]
async fn while_the_smtp_server_is_down_nothing_is_lost_and_each_message_arrives_once() {
    let mut peer = SmtpPeer::start();
    peer.stop();
    let app = app_with(&peer).await;
    let owner = app.user("owner").await;
    let org = app.create_org(&owner, "Acme").await;
    // Requests answer at once although no message can go out.
    let started = std::time::Instant::now();
    let sent = invite_many(&app, &owner, &org, "down", 5).await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "a request never waits on SMTP"
    );
    // The worker tried and will retry.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while outbox(&app, "template = 'INVITATION' AND attempts > 0").len() < 5 {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            outbox(&app, "true")
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for row in outbox(&app, "template = 'INVITATION'") {
        assert!(row.starts_with("QUEUED"), "{row}");
        assert!(
            row.ends_with(" false"),
            "the link is kept until sent: {row}"
        );
    }
    peer.resume();
    for email in &sent {
        peer.wait_for(email, 1).await;
    }
    outbox_drained(&app).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    for email in &sent {
        assert_eq!(
            peer.to(email).len(),
            1,
            "{email} got its message exactly once"
        );
    }
    for row in outbox(&app, "template = 'INVITATION'") {
        assert!(
            row.starts_with("SENT") && row.ends_with(" true"),
            "sent, link erased: {row}"
        );
    }
}

#[tokio::test]
async fn two_servers_share_one_outbox_and_never_send_a_message_twice() {
    let peer = SmtpPeer::start();
    let app = app_with(&peer).await;
    // A second server process on the same database, its own worker polling too.
    let mut config = app.config.clone();
    config.mail.poll_ms = 10;
    let second =
        crust_api::server::spawn(&config, TcpListener::bind("127.0.0.1:0").unwrap(), 1).unwrap();
    let owner = app.user("owner").await;
    let org = app.create_org(&owner, "Acme").await;
    let sent = invite_many(&app, &owner, &org, "shared", 30).await;
    for email in &sent {
        peer.wait_for(email, 1).await;
    }
    outbox_drained(&app).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let total = peer.messages().len();
    assert_eq!(total, 30, "30 invitations, 30 messages");
    for email in &sent {
        assert_eq!(peer.to(email).len(), 1, "{email}");
    }
    second.stop();
}

#[tokio::test]
async fn a_message_that_keeps_failing_is_marked_dead_with_its_link_erased() {
    let mut peer = SmtpPeer::start();
    peer.stop();
    let (server, ca) = (peer.server(), peer.ca_file());
    let app = TestApp::start_with(move |c| {
        c.mail.smtp = Some(server);
        c.mail.smtp_ca_file = ca;
        c.mail.max_attempts = 2;
        c.mail.retry_base_ms = 50;
    })
    .await;
    let owner = app.user("owner").await;
    let org = app.create_org(&owner, "Acme").await;
    invite_many(&app, &owner, &org, "dead", 1).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let rows = outbox(&app, "template = 'INVITATION'");
        if rows.iter().any(|r| r.starts_with("DEAD")) {
            let row = &rows[0];
            assert!(row.starts_with("DEAD 2 "), "{row}");
            assert!(row.ends_with(" true"), "the link is erased: {row}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{rows:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let log = std::fs::read_to_string(crust_e2e::log_file()).unwrap_or_default();
    assert!(
        log.contains("mail given up after the last attempt"),
        "the dead message is logged"
    );
}

#[tokio::test]
async fn starttls_and_implicit_tls_to_a_server_with_a_generated_certificate() {
    for implicit in [false, true] {
        let dir =
            std::env::temp_dir().join(format!("crust-smtp-tls-{}", uuid::Uuid::new_v4().simple()));
        let peer = SmtpPeer::start_with(Some(PeerTls::generate(&dir, implicit)));
        let app = app_with(&peer).await;
        let owner = app.user("owner").await;
        let org = app.create_org(&owner, "Acme").await;
        let sent = invite_many(&app, &owner, &org, "tls", 1).await;
        let mail = &peer.wait_for(&sent[0], 1).await[0];
        assert_eq!(
            mail.subject, "You are invited to Crust",
            "implicit TLS: {implicit}"
        );
        super::remember(&mail.token());

        // Without the CA file the certificate is not trusted: nothing is sent.
        let mut untrusting = app.config.clone();
        untrusting.mail.smtp_ca_file = None;
        drop(app);
        let app = TestApp::start_with(move |c| {
            c.mail = untrusting.mail;
        })
        .await;
        let owner = app.user("owner").await;
        let org = app.create_org(&owner, "Acme").await;
        let sent = invite_many(&app, &owner, &org, "untrusted", 1).await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while outbox(&app, "template = 'INVITATION' AND last_error IS NOT NULL").is_empty() {
            assert!(std::time::Instant::now() < deadline);
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let rows = outbox(&app, "template = 'INVITATION'");
        assert!(rows[0].starts_with("QUEUED"), "{rows:?}");
        assert!(
            rows[0].to_lowercase().contains("certificate")
                || rows[0].to_lowercase().contains("tls"),
            "{rows:?}"
        );
        assert!(peer.to(&sent[0]).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[tokio::test]
async fn without_an_smtp_server_messages_are_written_as_eml_files() {
    let app = TestApp::start().await;
    assert!(app.config.mail.smtp.is_none());
    let dir = app.config.mail.dir.clone();
    let owner = app.user("owner").await;
    let org = app.create_org(&owner, "Acme").await;
    invite_many(&app, &owner, &org, "file", 1).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let eml = loop {
        let found: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(p) = found.first() {
            break std::fs::read_to_string(p).unwrap();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no .eml in {}",
            dir.display()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(eml.contains("To: file0@example.test"), "{eml}");
    assert!(eml.contains("Subject: You are invited to Crust"), "{eml}");
    let _ = std::fs::remove_dir_all(&dir);
}
