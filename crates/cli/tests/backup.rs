//! `crust backup` and `crust restore`, run as an operator runs them: a database seeded
//! through the real server is backed up, dropped, restored elsewhere and compared
//! table by table; encrypted backups open only with the right identity; truncated,
//! changed or foreign files are refused before anything touches the target.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use age::secrecy::ExposeSecret;
use crust_e2e::db::try_texts;
use crust_e2e::{TestApp, TestDb, TEST_PASSWORD};
use diesel::{Connection, RunQueryDsl};
use serde_json::json;
use sha2::{Digest, Sha256};

const ADD_COMMENT: &str =
    "mutation($t: ID!, $b: String!) { addComment(input: {taskId: $t, body: $b}) { comment { id } } }";
const TRAILER_LEN: usize = 103;

fn crust() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_crust"));
    for (key, _) in std::env::vars() {
        if key.starts_with("CRUST_") || key.starts_with("PG") || key == "DATABASE_URL" {
            c.env_remove(key);
        }
    }
    c.env("RUST_LOG", "warn");
    c
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn run(mut cmd: Command) -> Run {
    let out = cmd.output().unwrap();
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn backup(source_url: &str, out: &Path, extra: &[&str]) -> Run {
    let mut c = crust();
    c.arg("backup")
        .arg("--out")
        .arg(out)
        .args(extra)
        .env("DATABASE_URL", source_url);
    run(c)
}

fn restore(file: &Path, into: &str, scratch: &Path, extra: &[&str]) -> Run {
    let mut c = crust();
    c.arg("restore")
        .arg(file)
        .arg("--into")
        .arg(into)
        .arg("--temp-dir")
        .arg(scratch.join("tmp"))
        .args(extra);
    run(c)
}

/// A directory of the test's own under target/, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../target/test-backups")
            .join(uuid::Uuid::new_v4().simple().to_string());
        std::fs::create_dir_all(dir.join("tmp")).unwrap();
        Scratch(dir)
    }

    /// The restore's staging directory holds nothing once it is done.
    fn assert_staging_empty(&self) {
        let left: Vec<_> = std::fs::read_dir(self.0.join("tmp"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        assert!(left.is_empty(), "the restore left {left:?} behind");
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every table of the application's schemas: its row count and an MD5 of its rows.
fn fingerprint(url: &str) -> BTreeMap<String, String> {
    let mut conn = diesel::PgConnection::establish(url).unwrap();
    let tables = try_texts(
        &mut conn,
        "SELECT format('%I.%I', n.nspname, c.relname) AS v FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
            AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1",
    )
    .unwrap();
    assert!(tables.len() > 10, "the application's tables: {tables:?}");
    tables
        .into_iter()
        .map(|t| {
            let v = try_texts(
                &mut conn,
                &format!(
                    "SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, '' ORDER BY t::text)), '-') AS v FROM {t} t"
                ),
            )
            .unwrap()
            .remove(0);
            (t, v)
        })
        .collect()
}

fn rows(url: &str, table: &str) -> usize {
    let mut conn = diesel::PgConnection::establish(url).unwrap();
    try_texts(
        &mut conn,
        &format!("SELECT count(*)::text AS v FROM {table}"),
    )
    .unwrap()[0]
        .parse()
        .unwrap()
}

/// What a database holds outside PostgreSQL's own schemas.
fn objects(url: &str) -> Vec<String> {
    let mut conn = diesel::PgConnection::establish(url).unwrap();
    try_texts(
        &mut conn,
        "SELECT format('%I.%I', n.nspname, c.relname) AS v FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
            AND n.nspname NOT LIKE 'pg\\_%'
         UNION ALL SELECT nspname FROM pg_namespace
          WHERE nspname NOT IN ('public', 'pg_catalog', 'information_schema', 'pg_toast')
            AND nspname NOT LIKE 'pg\\_%'",
    )
    .unwrap()
}

fn database_exists(name: &str) -> bool {
    let mut conn = diesel::PgConnection::establish(&crust_e2e::db::admin_url()).unwrap();
    !try_texts(
        &mut conn,
        &format!("SELECT datname::text AS v FROM pg_database WHERE datname = '{name}'"),
    )
    .unwrap()
    .is_empty()
}

/// Users, an organization with members, projects (one SECRET), tasks, a grant and
/// comments, all through the API, so the audit log has events in several chains.
/// Returns the owner's email.
async fn seed(app: &TestApp, tasks: usize) -> String {
    let owner = app.user("owner").await;
    let member = app.user("member").await;
    let guest = app.user("guest").await;
    let org = app.create_org(&owner, "Acme").await;
    app.add_org_member(&owner, &org, &member, "MEMBER").await;
    app.add_org_member(&owner, &org, &guest, "GUEST").await;
    let open = app
        .create_project(&owner, &org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    let secret = app.create_project(&owner, &org, "MEMBERS", "SECRET").await;
    app.add_project_member(&owner, &secret, &member, "EDITOR")
        .await;
    for i in 0..tasks {
        let project = if i % 3 == 2 { &secret } else { &open };
        let task = app.create_task(&owner, project, None, "CONFIDENTIAL").await;
        app.ok(
            &owner,
            ADD_COMMENT,
            json!({ "t": task, "b": format!("comment {i} with *markdown* and 'quotes'") }),
        )
        .await;
        if i == 0 {
            app.grant(&owner, &task, &guest, "VIEW").await;
        }
    }
    let _ = app.create_org(&member, "Other org").await;
    owner.email
}

/// The number in the restore's "audit log intact: N events …" line.
fn audit_events(stdout: &str) -> u64 {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("audit log intact: "))
        .unwrap_or_else(|| panic!("no audit line in {stdout}"));
    line["audit log intact: ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

async fn sign_in(url: &str, email: &str) -> serde_json::Value {
    let config = crust_e2e::test_config(url);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server = crust_api::server::spawn(&config, listener, 1).unwrap();
    let body: serde_json::Value = reqwest::Client::new()
        .post(format!("http://{}/graphql", server.addr))
        .json(&json!({
            "query": "mutation($i: LoginInput!) { login(input: $i) { accessToken user { email } } }",
            "variables": { "i": { "email": email, "password": TEST_PASSWORD } },
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    server.stop();
    body
}

#[tokio::test]
async fn a_backup_restored_after_the_source_is_dropped_holds_every_row_and_serves() {
    let app = TestApp::start().await;
    let email = seed(&app, 6).await;
    let scratch = Scratch::new();
    let file = scratch.0.join("crust.backup");
    // As `crust bi grant` leaves it: a dump without --create does not carry this.
    {
        let mut conn = diesel::PgConnection::establish(&app.db.url).unwrap();
        diesel::sql_query(format!(
            "REVOKE TEMPORARY ON DATABASE {} FROM PUBLIC",
            app.db.name
        ))
        .execute(&mut conn)
        .unwrap();
    }

    let b = backup(&app.db.url, &file, &[]);
    assert!(b.ok, "backup failed: {}{}", b.stdout, b.stderr);
    assert!(b.stdout.contains("backup written:"), "{}", b.stdout);
    assert!(b.stdout.contains("NOT encrypted"), "{}", b.stdout);
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(!scratch.0.join("crust.backup.partial").exists());
    let bytes = std::fs::read(&file).unwrap();
    assert!(bytes.starts_with(b"CRUST-BACKUP 1\n"));

    // An existing file is kept unless --force.
    let again = backup(&app.db.url, &file, &[]);
    assert!(!again.ok);
    assert!(again.stderr.contains("exists"), "{}", again.stderr);
    assert_eq!(std::fs::read(&file).unwrap(), bytes);
    let again = backup(&app.db.url, &file, &["--force"]);
    assert!(again.ok, "{}", again.stderr);

    // The "before" figures, then the source goes: server stopped, database dropped.
    let before = fingerprint(&app.db.url);
    assert!(before["public.audit_events"] != "0 -", "{before:?}");
    let source = app.db.name.clone();
    drop(app);
    assert!(!database_exists(&source), "the source database is dropped");

    let target = TestDb::empty().await;
    let r = restore(&file, &target.url, &scratch.0, &[]);
    assert!(r.ok, "restore failed: {}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("verified "), "{}", r.stdout);
    assert!(r.stdout.contains("restored: "), "{}", r.stdout);
    assert!(audit_events(&r.stdout) > 10, "{}", r.stdout);
    scratch.assert_staging_empty();
    assert_eq!(fingerprint(&target.url), before);

    // Owners and grants came along: the BI views still belong to crust_bi_reader (so
    // row-level security applies to them) and the server's role may use the tables.
    let mut conn = diesel::PgConnection::establish(&target.url).unwrap();
    let owners = try_texts(
        &mut conn,
        "SELECT DISTINCT viewowner::text AS v FROM pg_views WHERE schemaname = 'bi'",
    )
    .unwrap();
    assert_eq!(owners, ["crust_bi_reader"]);
    let app_rights = try_texts(
        &mut conn,
        "SELECT has_table_privilege('crust_app', 'public.tasks', 'INSERT')::text AS v",
    )
    .unwrap();
    assert_eq!(app_rights, ["true"]);
    let temporary = try_texts(
        &mut conn,
        "SELECT has_database_privilege('public', current_database(), 'TEMPORARY')::text AS v",
    )
    .unwrap();
    assert_eq!(
        temporary,
        ["false"],
        "PUBLIC lost TEMPORARY as on the source"
    );
    drop(conn);

    // The server runs on the restored database (as crust_app) and a seeded user signs in.
    let body = sign_in(&target.url, &email).await;
    assert!(
        body["data"]["login"]["accessToken"].as_str().is_some(),
        "{body}"
    );
    assert_eq!(body["data"]["login"]["user"]["email"], email.as_str());
}

#[tokio::test]
async fn an_encrypted_backup_opens_only_with_one_of_its_identities() {
    let app = TestApp::start().await;
    let email = seed(&app, 2).await;
    let scratch = Scratch::new();
    let file = scratch.0.join("crust.backup.age");

    let first = age::x25519::Identity::generate();
    let second = age::x25519::Identity::generate();
    let stranger = age::x25519::Identity::generate();
    let write_identity = |name: &str, id: &age::x25519::Identity| {
        let path = scratch.0.join(name);
        std::fs::write(
            &path,
            format!("# an age identity\n{}\n", id.to_string().expose_secret()),
        )
        .unwrap();
        path
    };
    let second_key = write_identity("second.key", &second);
    let stranger_key = write_identity("stranger.key", &stranger);
    let recipients = scratch.0.join("recipients.txt");
    std::fs::write(
        &recipients,
        format!("# the second key\n\n{}\n", second.to_public()),
    )
    .unwrap();

    let b = backup(
        &app.db.url,
        &file,
        &[
            "--encrypt-to",
            &first.to_public().to_string(),
            "--recipients-file",
            recipients.to_str().unwrap(),
        ],
    );
    assert!(b.ok, "backup failed: {}{}", b.stdout, b.stderr);
    assert!(
        b.stdout.contains("encrypted to 2 age recipient(s)"),
        "{}",
        b.stdout
    );
    let bytes = std::fs::read(&file).unwrap();
    assert!(bytes.starts_with(b"age-encryption.org/v1\n"));
    let needle = email.as_bytes();
    assert!(
        !bytes.windows(needle.len()).any(|w| w == needle),
        "the encrypted file shows a user's email"
    );
    assert!(!bytes.windows(12).any(|w| w == b"CRUST-BACKUP"));

    // A recipient that is not an age X25519 key is refused before anything is written.
    let bad = backup(
        &app.db.url,
        &scratch.0.join("other.backup"),
        &["--encrypt-to", "ssh-ed25519 AAAAC3Nza"],
    );
    assert!(!bad.ok);
    assert!(
        bad.stderr.contains("is not an age X25519 recipient"),
        "{}",
        bad.stderr
    );
    assert!(!scratch.0.join("other.backup").exists());

    let target = TestDb::empty().await;
    let none = restore(&file, &target.url, &scratch.0, &[]);
    assert!(!none.ok);
    assert!(
        none.stderr
            .contains("this backup is encrypted (age): pass --identity FILE"),
        "{}",
        none.stderr
    );
    let wrong = restore(
        &file,
        &target.url,
        &scratch.0,
        &["--identity", stranger_key.to_str().unwrap()],
    );
    assert!(!wrong.ok);
    assert!(
        wrong
            .stderr
            .contains("none of the --identity keys opens it"),
        "{}",
        wrong.stderr
    );
    let not_a_key = restore(
        &file,
        &target.url,
        &scratch.0,
        &["--identity", recipients.to_str().unwrap()],
    );
    assert!(!not_a_key.ok);
    assert!(
        not_a_key.stderr.contains("is not an age identity file"),
        "{}",
        not_a_key.stderr
    );

    // Truncated or changed ciphertext fails age's authentication.
    let cut = scratch.0.join("cut.age");
    std::fs::write(&cut, &bytes[..bytes.len() - 40]).unwrap();
    let r = restore(
        &cut,
        &target.url,
        &scratch.0,
        &["--identity", second_key.to_str().unwrap()],
    );
    assert!(!r.ok);
    assert!(r.stderr.contains("the backup is truncated"), "{}", r.stderr);
    let mut changed = bytes.clone();
    let at = changed.len() / 2;
    changed[at] ^= 0x20;
    let flipped = scratch.0.join("flipped.age");
    std::fs::write(&flipped, &changed).unwrap();
    let r = restore(
        &flipped,
        &target.url,
        &scratch.0,
        &["--identity", second_key.to_str().unwrap()],
    );
    assert!(!r.ok);
    assert!(r.stderr.contains("fails authentication"), "{}", r.stderr);
    assert!(objects(&target.url).is_empty(), "nothing was restored yet");
    scratch.assert_staging_empty();

    let before = fingerprint(&app.db.url);
    let r = restore(
        &file,
        &target.url,
        &scratch.0,
        &["--identity", second_key.to_str().unwrap()],
    );
    assert!(r.ok, "restore failed: {}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("age-encrypted"), "{}", r.stdout);
    assert!(audit_events(&r.stdout) > 0);
    assert_eq!(fingerprint(&target.url), before);
    scratch.assert_staging_empty();
}

/// The container's parts: magic and header line, dump, trailer.
fn parts(bytes: &[u8]) -> (usize, usize) {
    let header_end = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(1)
        .unwrap()
        .0
        + 1;
    (header_end, bytes.len() - TRAILER_LEN)
}

/// The same backup with its header changed by `change` and its trailer made anew.
fn rewrite_header(bytes: &[u8], change: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let (dump_start, dump_end) = parts(bytes);
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[15..dump_start - 1]).unwrap();
    change(&mut header);
    let mut body = b"CRUST-BACKUP 1\n".to_vec();
    body.extend(serde_json::to_vec(&header).unwrap());
    body.push(b'\n');
    body.extend(&bytes[dump_start..dump_end]);
    let sha: String = Sha256::digest(&body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    body.extend(format!("CRUST-BACKUP-END {:020} {sha}\n", dump_end - dump_start).bytes());
    body
}

#[tokio::test]
async fn damaged_foreign_or_newer_backups_and_full_targets_are_refused() {
    let app = TestApp::start().await;
    seed(&app, 2).await;
    let scratch = Scratch::new();
    let file = scratch.0.join("crust.backup");
    let b = backup(&app.db.url, &file, &[]);
    assert!(b.ok, "backup failed: {}{}", b.stdout, b.stderr);
    let bytes = std::fs::read(&file).unwrap();
    let (dump_start, dump_end) = parts(&bytes);
    assert!(bytes[dump_end..].starts_with(b"CRUST-BACKUP-END "));
    let target = TestDb::empty().await;

    let mut flipped = bytes.clone();
    flipped[(dump_start + dump_end) / 2] ^= 0x01;
    // Backups whose header asks for more than this server or binary has, with a
    // correct checksum.
    let newer = rewrite_header(&bytes, |h| {
        h["migrations"]
            .as_array_mut()
            .unwrap()
            .push(json!("29991231000000"));
        h["newest_migration"] = json!("29991231000000");
    });
    let ghost = rewrite_header(&bytes, |h| {
        h["roles"]
            .as_array_mut()
            .unwrap()
            .push(json!("crust_ghost"));
    });
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "cut in the middle",
            bytes[..bytes.len() / 2].to_vec(),
            "the backup is truncated: ",
        ),
        (
            "cut before its trailer",
            bytes[..dump_end].to_vec(),
            "the backup is truncated: ",
        ),
        (
            "cut inside its trailer",
            bytes[..bytes.len() - 10].to_vec(),
            "the backup is truncated: ",
        ),
        (
            "one byte of the dump changed",
            flipped,
            "the backup does not match its checksum: ",
        ),
        (
            "a text file",
            b"just some notes\n".to_vec(),
            "this file is not a crust backup",
        ),
        ("an empty file", Vec::new(), "the backup is truncated: "),
        (
            "a backup of a newer crust",
            newer,
            "the backup's schema is newer than this crust knows",
        ),
        (
            "a backup naming a role this server lacks",
            ghost,
            "lacks roles the backup's objects belong to or are granted to: crust_ghost",
        ),
    ];
    for (what, content, message) in cases {
        let path = scratch.0.join("damaged.backup");
        std::fs::write(&path, &content).unwrap();
        let r = restore(&path, &target.url, &scratch.0, &[]);
        assert!(!r.ok, "{what}: restored");
        assert!(
            r.stderr.contains(message),
            "{what}: expected `{message}` in: {}",
            r.stderr
        );
        assert!(
            objects(&target.url).is_empty(),
            "{what}: the target was written"
        );
        scratch.assert_staging_empty();
    }

    // A plain pg_dump archive is not a crust backup either.
    let plain = scratch.0.join("plain.dump");
    let status = Command::new("pg_dump")
        .args(["--format=custom", "--schema-only", "--file"])
        .arg(&plain)
        .arg("--dbname")
        .arg(&app.db.url)
        .status()
        .unwrap();
    assert!(status.success());
    let r = restore(&plain, &target.url, &scratch.0, &[]);
    assert!(!r.ok);
    assert!(
        r.stderr
            .contains("this file is not a crust backup: it is a plain pg_dump archive"),
        "{}",
        r.stderr
    );
    assert!(objects(&target.url).is_empty());

    // Into a database that is not empty: refused without --force, replaced with it.
    let before = fingerprint(&app.db.url);
    let r = restore(&file, &target.url, &scratch.0, &[]);
    assert!(r.ok, "restore failed: {}{}", r.stdout, r.stderr);
    {
        let mut conn = diesel::PgConnection::establish(&target.url).unwrap();
        try_texts(&mut conn, "DELETE FROM comments RETURNING id::text AS v").unwrap();
    }
    assert_eq!(rows(&target.url, "comments"), 0);
    let r = restore(&file, &target.url, &scratch.0, &[]);
    assert!(!r.ok);
    assert!(
        r.stderr.contains("the target database is not empty"),
        "{}",
        r.stderr
    );
    assert_eq!(rows(&target.url, "comments"), 0, "nothing was restored");
    let r = restore(&file, &target.url, &scratch.0, &["--force"]);
    assert!(r.ok, "restore --force failed: {}{}", r.stdout, r.stderr);
    assert_eq!(fingerprint(&target.url), before);
    scratch.assert_staging_empty();
}

/// A backup is data from storage an attacker may reach: one whose dump loosens the
/// database's protection (a grant, a disabled trigger) restores, but is refused before
/// anyone serves it, naming each difference from what the migrations make.
#[tokio::test]
async fn a_backup_that_loosens_the_protection_is_refused_by_name() {
    let app = TestApp::start().await;
    seed(&app, 1).await;
    {
        let mut conn = diesel::PgConnection::establish(&app.db.url).unwrap();
        for sql in [
            "GRANT UPDATE ON audit_events TO crust_app",
            "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_or_delete",
        ] {
            diesel::sql_query(sql).execute(&mut conn).unwrap();
        }
    }
    let scratch = Scratch::new();
    let file = scratch.0.join("crust.backup");
    let b = backup(&app.db.url, &file, &[]);
    assert!(b.ok, "backup failed: {}{}", b.stdout, b.stderr);
    let target = TestDb::empty().await;
    let r = restore(&file, &target.url, &scratch.0, &[]);
    assert!(
        !r.ok,
        "a loosened database was restored silently: {}",
        r.stdout
    );
    assert!(
        r.stderr
            .contains("its protection differs from what the migrations make")
            && r.stderr.contains("do not serve it"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("not made by the migrations: grant public.audit_events to crust_app UPDATE"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("audit_events.audit_events_no_update_or_delete enabled=D"),
        "{}",
        r.stderr
    );
    // The scratch database it compared with is gone (other tests' restores make theirs
    // for a moment: wait for them).
    let mut admin = diesel::PgConnection::establish(&crust_e2e::db::admin_url()).unwrap();
    let started = std::time::Instant::now();
    loop {
        let left = try_texts(
            &mut admin,
            "SELECT datname AS v FROM pg_database WHERE datname LIKE 'crust_restore_check_%'",
        )
        .unwrap();
        if left.is_empty() {
            break;
        }
        assert!(started.elapsed().as_secs() < 60, "{left:?}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    scratch.assert_staging_empty();
}
