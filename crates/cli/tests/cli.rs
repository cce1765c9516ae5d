//! The `crust` binary, run as a user runs it.
//!
//! A test file over 400 lines: each test runs the real binary; they share its helpers
//! (spawning, reading output, waiting for a port).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crust_e2e::{TestDb, TEST_PEPPER};
use diesel::prelude::*;
use serde_json::{json, Value};

fn crust() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_crust"));
    // A clean environment: only what each test sets.
    for (key, _) in std::env::vars() {
        if key.starts_with("CRUST_") || key == "DATABASE_URL" {
            c.env_remove(key);
        }
    }
    c.env("RUST_LOG", "warn");
    // Servers started here write their mail as files under target/, not the source tree.
    c.env(
        "CRUST_MAIL_DIR",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/test-mail/cli"),
    );
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads the child's stdout until `marker`, returning every line read.
fn read_until(child: &mut Child, marker: &str) -> Vec<String> {
    let stdout = child.stdout.take().unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let done = line.contains(marker);
        lines.push(line);
        if done {
            return lines;
        }
    }
    panic!("`{marker}` never printed; output: {lines:#?}");
}

/// `crust dev ARGS` on `db`, on a free port, read until it serves: the port, what it
/// printed, and the guard that stops it.
fn serve_dev(db: &TestDb, args: &[&str]) -> (u16, Vec<String>, Killed) {
    let port = free_port();
    let mut child = crust()
        .arg("dev")
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("CRUST_BIND", format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = tokio::task::block_in_place(|| read_until(&mut child, "Serving"));
    (port, lines, Killed(child))
}

/// Waits until the server at `base` accepts requests.
async fn wait_ready(http: &reqwest::Client, base: &str) {
    let start = Instant::now();
    while http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "server never became ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn password_of(lines: &[String], email_prefix: &str) -> String {
    let line = lines
        .iter()
        .find(|l| l.contains(email_prefix))
        .unwrap_or_else(|| panic!("{email_prefix} in {lines:#?}"));
    line.split_whitespace().last().unwrap().to_owned()
}

async fn gql(
    http: &reqwest::Client,
    base: &str,
    token: Option<&str>,
    query: &str,
    vars: Value,
) -> Value {
    let mut req = http
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": query, "variables": vars }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap().json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crust_dev_prepares_demo_data_and_serves_it() {
    let db = TestDb::empty().await;
    let (port, lines, _guard) = serve_dev(&db, &[]);
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("http://127.0.0.1:{port}/graphql"))),
        "{lines:#?}"
    );
    // It says where mail goes without an SMTP server.
    assert!(
        lines.iter().any(|l| l.starts_with("Mail:")
            && l.contains(".eml files to")
            && l.contains("test-mail/cli")),
        "{lines:#?}"
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    wait_ready(&http, &base).await;
    let login = |email: &'static str, password: String| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let body = gql(&http, &base, None, "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { accessToken } }",
                json!({ "e": email, "p": password })).await;
            body["data"]["login"]["accessToken"]
                .as_str()
                .unwrap_or_else(|| panic!("{email}: {body}"))
                .to_owned()
        }
    };
    let owner = login(
        "olivia.owner@demo.crust.test",
        password_of(&lines, "olivia.owner"),
    )
    .await;
    let guest = login(
        "gina.guest@demo.crust.test",
        password_of(&lines, "gina.guest"),
    )
    .await;
    let mine = gql(&http, &base, Some(&owner), "{ organizations { nodes { name projects { totalCount nodes { name classification } } } } }", json!({})).await;
    assert_eq!(
        mine["data"]["organizations"]["nodes"][0]["name"],
        "Acme (demo)"
    );
    assert_eq!(
        mine["data"]["organizations"]["nodes"][0]["projects"]["totalCount"],
        3
    );
    let theirs = gql(
        &http,
        &base,
        Some(&guest),
        "{ organizations { nodes { id projects { totalCount } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        theirs["data"]["organizations"]["nodes"][0]["projects"]["totalCount"], 0,
        "the guest sees no project"
    );

    // The server's connections log in as a role that is only a member of crust_app:
    // not a superuser, not the tables' owner (the owner migrated and seeded).
    #[derive(QueryableByName, Debug)]
    struct Login {
        #[diesel(sql_type = diesel::sql_types::Text)]
        usename: String,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        rolsuper: bool,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        owns_tables: bool,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        in_crust_app: bool,
    }
    let mut admin = PgConnection::establish(&db.url).unwrap();
    let logins: Vec<Login> = diesel::sql_query(
        "SELECT DISTINCT a.usename::text AS usename, r.rolsuper,
                EXISTS (SELECT 1 FROM pg_tables t WHERE t.tableowner = a.usename) AS owns_tables,
                pg_has_role(a.usename, 'crust_app', 'MEMBER') AS in_crust_app
           FROM pg_stat_activity a JOIN pg_roles r ON r.rolname = a.usename
          WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()",
    )
    .load(&mut admin)
    .unwrap();
    let expected = format!("{}_server", db.name);
    assert!(!logins.is_empty(), "the server holds pooled connections");
    for login in &logins {
        assert_eq!(login.usename, expected, "{logins:?}");
        assert!(
            !login.rolsuper && !login.owns_tables && login.in_crust_app,
            "{login:?}"
        );
    }
    let owner: String = diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
        "(SELECT tableowner::text FROM pg_tables WHERE tablename = 'audit_events')",
    ))
    .get_result(&mut admin)
    .unwrap();
    assert_ne!(owner, expected);
    assert!(
        lines.iter().any(|l| l.contains(&expected)),
        "crust dev says which login serves: {lines:#?}"
    );
    drop(admin);
    drop(_guard);
    forget_dev_database(&db);
}

/// Drops what `crust dev` made in a test's database: the database and its server login.
fn forget_dev_database(db: &TestDb) {
    let mut server = PgConnection::establish(&crust_e2e::db::admin_url()).unwrap();
    let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", db.name))
        .execute(&mut server);
    let _ =
        diesel::sql_query(format!("DROP ROLE IF EXISTS {}_server", db.name)).execute(&mut server);
}

/// `crust dev --spa DIR` serves a built app at `/` beside the API, says where, and
/// refuses a directory that holds no built app, saying how to build one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crust_dev_serves_a_built_app_beside_the_api() {
    let app = std::env::temp_dir().join(format!("crust-dev-spa-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&app);
    std::fs::create_dir_all(app.join("assets")).unwrap();
    std::fs::write(
        app.join("index.html"),
        "<!doctype html><div id=root>the app</div>",
    )
    .unwrap();
    std::fs::write(app.join("assets/app.js"), "console.log('the app')").unwrap();

    let out = crust()
        .args(["dev", "--no-serve", "--spa"])
        .arg(app.join("assets"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("no index.html there; build the app first"),
        "{stderr}"
    );

    let db = TestDb::empty().await;
    let spa = app.to_str().unwrap();
    let (port, lines, _guard) = serve_dev(&db, &["--spa", spa]);
    let base = format!("http://127.0.0.1:{port}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("The app:") && l.ends_with(&format!("{base}/"))),
        "{lines:#?}"
    );
    let http = reqwest::Client::new();
    wait_ready(&http, &base).await;
    let index = http.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(index.status(), 200);
    let csp = index.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(index.text().await.unwrap().contains("the app"));
    let script = http
        .get(format!("{base}/assets/app.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    assert_eq!(script.text().await.unwrap(), "console.log('the app')");
    // The API is still the API beside it.
    let body = gql(&http, &base, None, "{ me { id } }", json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{body}"
    );
    drop(_guard);
    forget_dev_database(&db);
    let _ = std::fs::remove_dir_all(&app);
}

#[test]
fn crust_dev_provisions_a_private_cluster_when_asked() {
    let dir = std::env::temp_dir().join(format!("crust-dev-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = crust()
        .args(["dev", "--private-cluster", "--no-serve", "--data-dir"])
        .arg(&dir)
        .env("CRUST_BIND", "127.0.0.1:0")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let pid = std::fs::read_to_string(dir.join("postgres/data/postmaster.pid")).ok();
    if let Some(pid) = pid.as_deref().and_then(|p| p.lines().next()) {
        // Stop the private cluster whatever happened.
        let _ = Command::new("kill").arg(pid).status();
    }
    assert!(
        out.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Started a private PostgreSQL cluster"),
        "{stdout}"
    );
    assert!(stdout.contains("olivia.owner@demo.crust.test"), "{stdout}");
    assert!(dir.join("postgres/data/PG_VERSION").is_file());
    std::thread::sleep(Duration::from_millis(500));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn crust_dev_says_how_to_get_postgres_when_there_is_none() {
    let out = crust()
        .args([
            "dev",
            "--private-cluster",
            "--no-serve",
            "--pg-bin-dir",
            "/nonexistent",
            "--data-dir",
        ])
        .arg(std::env::temp_dir().join("crust-no-pg"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("No PostgreSQL server could be found"),
        "{stderr}"
    );
    assert!(
        stderr.contains("apt-get install postgresql") && stderr.contains("DATABASE_URL="),
        "{stderr}"
    );
}

#[tokio::test]
async fn migrate_user_create_and_revert() {
    let db = TestDb::empty().await;
    let run = |args: &[&str], stdin: &str| {
        let mut child = crust()
            .args(args)
            .env("DATABASE_URL", &db.url)
            .env("CRUST_PASSWORD_PEPPER", TEST_PEPPER)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, out) = run(&["migrate"], "");
    assert!(ok && out.contains("applied"), "{out}");
    let (ok, out) = run(&["migrate"], "");
    assert!(ok && out.contains("up to date"), "{out}");

    let (ok, out) = run(
        &[
            "user",
            "create",
            "--email",
            "ops@example.test",
            "--name",
            "Ops",
            "--password-stdin",
        ],
        "tangerine-orbit-lantern-42\n",
    );
    assert!(ok, "{out}");
    let (ok, out) = run(
        &[
            "user",
            "create",
            "--email",
            "OPS@example.test",
            "--name",
            "Ops",
            "--password-stdin",
        ],
        "tangerine-orbit-lantern-42\n",
    );
    assert!(!ok && out.contains("already exists"), "{out}");
    let (ok, out) = run(
        &[
            "user",
            "create",
            "--email",
            "weak@example.test",
            "--name",
            "Weak",
            "--password-stdin",
        ],
        "password\n",
    );
    assert!(!ok && out.contains("common"), "{out}");
    let (ok, out) = run(
        &[
            "user",
            "create",
            "--email",
            "gen@example.test",
            "--name",
            "Gen",
        ],
        "",
    );
    assert!(ok && out.contains("password (shown once): "), "{out}");

    let mut conn = db.connect();
    let hash = crust_e2e::db::texts(
        &mut conn,
        "SELECT password_hash AS v FROM users WHERE email = $1",
        "ops@example.test",
    )
    .pop()
    .unwrap();
    assert!(
        hash.starts_with("p1:$2b$12$"),
        "the CLI hashes at the configured cost: {hash}"
    );
    drop(conn);

    let (ok, out) = run(&["migrate", "--revert-all"], "n\n");
    assert!(!ok && out.contains("cancelled"), "{out}");
    let (ok, out) = run(&["migrate", "--revert-all", "--yes"], "");
    let reverted = format!(
        "reverted {} migration",
        crust_dal::migrate::embedded_count()
    );
    assert!(ok && out.contains(&reverted), "{out}");
}

#[test]
fn export_schema_prints_the_committed_schema() {
    let out = crust().arg("export-schema").output().unwrap();
    assert!(out.status.success());
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../schema.graphql"))
            .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), committed);
}

#[test]
fn serve_refuses_prod_with_default_secrets() {
    let out = crust()
        .arg("serve")
        .env("CRUST_PROFILE", "prod")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("prod profile refuses") && stderr.contains("CRUST_JWT_SECRET"),
        "{stderr}"
    );
}

/// `crust bench` at a small scale: every row of the report is there and holds figures
/// that make sense (the release-build figures are in the README).
#[test]
fn bench_prints_its_report() {
    let out = crust()
        .args([
            "bench",
            "--seconds",
            "1",
            "--clients",
            "2,3",
            "--scale",
            "0.02",
        ])
        .env("DATABASE_URL", crust_e2e::db::admin_url())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for column in [
        "req/s",
        "p50 ms",
        "p99 ms",
        "ceiling",
        "SQL",
        "trips",
        "hops",
        "SQL CPU",
        "fields",
        "CPU ms",
        "µs/field",
        "client ms",
    ] {
        assert!(stdout.contains(column), "{column}: {stdout}");
    }
    // Two read scenarios at each number of clients, each against its ceiling, the two
    // taking turns.
    assert!(stdout.contains("taking turns of"), "{stdout}");
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .filter(|l| l.starts_with("project:") || l.starts_with("board:"))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 4, "{stdout}");
    for row in &rows {
        let from_end = |i: usize| row[row.len() - 1 - i];
        let number = |i: usize| -> f64 {
            from_end(i)
                .trim_end_matches('%')
                .parse()
                .unwrap_or_else(|_| panic!("{row:?}"))
        };
        let (client, per_field, cpu, fields) = (number(0), number(1), number(2), number(3));
        let (sql_ms, hops, trips, statements) = (number(4), number(5), number(6), number(7));
        let (of_ceiling, ceiling) = (number(8), number(9));
        assert!(client >= 0.0, "{row:?}");
        assert!(sql_ms > 0.0, "{row:?}");
        assert!(statements > 0.0 && statements <= 12.0, "{row:?}");
        // No ping per checkout: round trips are the statements plus at most two prepares.
        assert!(trips >= statements && trips <= statements + 2.0, "{row:?}");
        // The tree comes with the project's read: a hop, and one more for the owner's
        // record of need-to-know reads.
        assert!((1.0..=2.0).contains(&hops), "{row:?}");
        assert!(fields > 100.0 && cpu > 0.0 && per_field > 0.0, "{row:?}");
        assert!(ceiling > 0.0 && of_ceiling > 0.0, "{row:?}");
    }
    assert!(
        !stdout.contains("no longer mirrors the request"),
        "the ceiling's replay must run the request's statements: {stdout}"
    );
    let memory = stdout
        .lines()
        .find(|l| l.starts_with("server memory (RSS):"))
        .unwrap_or_else(|| panic!("{stdout}"));
    // At start, peak, idle, the code within idle, and idle later: all read.
    let mib: Vec<f64> = memory
        .split(" MiB")
        .filter_map(|before| before.rsplit([' ', '(']).next()?.parse().ok())
        .collect();
    assert_eq!(mib.len(), 5, "{memory}");
    assert!(
        mib[3] > 0.0 && mib[3] <= mib[2],
        "code within idle: {memory}"
    );
    let storm = stdout
        .lines()
        .find(|l| l.starts_with("sign-in storm:"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        storm.contains("ratio") && storm.contains("sign-ins done"),
        "{storm}"
    );
    let mutations = stdout
        .lines()
        .filter(|l| l.starts_with("updateTask, audit on") || l.starts_with("updateTask, audit off"))
        .count();
    assert_eq!(mutations, 2, "{stdout}");
    assert!(
        stdout.contains("mutation throughput with the audit log on is"),
        "{stdout}"
    );
    // The BI views of one organization among ten: one statement each, through an index.
    for view in ["bi.project_progress: 1 statement", "bi.tasks: 1 statement"] {
        assert!(stdout.contains(view), "{stdout}");
    }
    assert_eq!(
        stdout.matches("; no full scan of tasks").count(),
        2,
        "{stdout}"
    );
}

#[test]
fn check_deploy_reports_every_finding() {
    let out = crust()
        .args(["check", "--deploy"])
        .env("CRUST_PROFILE", "prod")
        .env("CRUST_CORS_ORIGINS", "*")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    for finding in [
        "CRUST_JWT_SECRET",
        "CRUST_PASSWORD_PEPPER",
        "any origin",
        "no TLS",
        "sslmode",
        "CRUST_SMTP_URL is not set",
        "CRUST_PUBLIC_URL is not https",
        "CRUST_FILE_KEY is the development default",
    ] {
        assert!(
            stdout.contains(finding),
            "{finding} missing from:\n{stdout}"
        );
    }
    assert!(stdout.contains("SERIOUS") && stdout.contains("WARNING"));
    let strong = "a-production-secret-of-more-than-32-bytes";
    let out = crust()
        .args(["check", "--deploy"])
        .env("CRUST_PROFILE", "prod")
        .env("CRUST_JWT_SECRET", strong)
        .env("CRUST_PASSWORD_PEPPER", strong)
        .env(
            "CRUST_FILE_KEY",
            "dGVzdC1vbmx5LWZpbGUta2V5LW9mLTMyLWJ5dGVzISE=",
        )
        .env("CRUST_BEHIND_TLS_PROXY", "true")
        .env("CRUST_CORS_ORIGINS", "https://app.example.com")
        .env("CRUST_TRUSTED_PROXIES", "10.0.0.1")
        .env(
            "CRUST_SMTP_URL",
            "smtps://mailer:s3cret%40pw@smtp.example.com",
        )
        .env("CRUST_PUBLIC_URL", "https://app.example.com")
        .env("DATABASE_URL", "postgres://crust@db/crust?sslmode=require")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("0 serious"), "{stdout}");
    assert!(
        stdout.contains("does not check the database's certificate"),
        "sslmode=require is named for what it lacks: {stdout}"
    );
    assert!(
        !stdout.contains("s3cret"),
        "the SMTP password is never printed"
    );
    // Plaintext SMTP is serious in prod.
    let out = crust()
        .args(["check", "--deploy"])
        .env("CRUST_PROFILE", "prod")
        .env("CRUST_SMTP_URL", "smtp://smtp.example.com:25")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("without TLS"), "{stdout}");
}

/// Runs `crust` against a database; returns (success, stdout, stderr).
fn crust_on(url: &str, args: &[&str]) -> (bool, String, String) {
    let out = crust()
        .args(args)
        .env("DATABASE_URL", url)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    diesel::sql_query(sql).get_result::<Count>(conn).unwrap().n
}

/// Some audited activity in one organization: sign-ups, logins, mutations.
async fn audited_org(app: &crust_e2e::TestApp) -> String {
    let owner = app.user("owner").await;
    let member = app.user("member").await;
    let org = app.create_org(&owner, "Forensics").await;
    app.add_org_member(&owner, &org, &member, "MEMBER").await;
    let project = app
        .create_project(&owner, &org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    for _ in 0..3 {
        app.create_task(&owner, &project, None, "CONFIDENTIAL")
            .await;
    }
    app.login(&owner.email, "a wrong password!").await;
    org
}

#[tokio::test]
async fn audit_verify_finds_every_kind_of_tampering() {
    let app = crust_e2e::TestApp::start().await;
    let org = audited_org(&app).await;
    let url = app.db.url.clone();
    let (ok, out, err) = crust_on(&url, &["audit", "verify"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("intact") && out.contains("2 chains"), "{out}");

    let mut conn = app.db.connect();
    // A superuser gets past the trigger by switching triggers off; the chain still
    // shows what they did. First: an edited event in the middle of the org's chain.
    superuser_edit(
        &mut conn,
        &format!("UPDATE audit_events SET variables = '{{}}' WHERE chain = '{org}' AND seq = 3"),
    );
    let (ok, out, err) = crust_on(&url, &["audit", "verify"]);
    assert!(!ok, "tampering must fail the command: {out}");
    assert!(
        out.contains(&format!("chain of organization {org} at event #3")),
        "{out}"
    );
    assert!(out.contains("does not match its hash"), "{out}");
    assert!(err.contains("1 of 2 chains are broken"), "{err}");
    // Rewriting the hash too does not help: the next link names the old one.
    superuser_edit(
        &mut conn,
        &format!("UPDATE audit_events SET hash = sha256(hash) WHERE chain = '{org}' AND seq = 3"),
    );
    let (_, out, _) = crust_on(&url, &["audit", "verify"]);
    assert!(out.contains("at event #3"), "{out}");

    // On a fresh log each: a changed IP, a deleted event, the newest event cut off.
    let out = tampered(|org| {
        format!("UPDATE audit_events SET ip = '10.9.9.9' WHERE chain = '{org}' AND seq = 2")
    })
    .await;
    assert!(
        out.contains("at event #2") && out.contains("IP address"),
        "{out}"
    );
    let out =
        tampered(|org| format!("DELETE FROM audit_events WHERE chain = '{org}' AND seq = 4")).await;
    assert!(out.contains("event 4 is missing"), "{out}");
    let out = tampered(|org| {
        format!(
            "DELETE FROM audit_events WHERE chain = '{org}' \
             AND seq = (SELECT max(seq) FROM audit_events WHERE chain = '{org}')"
        )
    })
    .await;
    assert!(out.contains("missing from the end"), "{out}");
}

/// Changes the audit log as a superuser would (triggers off), on a fresh audited
/// database; returns what a failing `crust audit verify` printed.
async fn tampered(sql: impl Fn(&str) -> String) -> String {
    let app = crust_e2e::TestApp::start().await;
    let org = audited_org(&app).await;
    superuser_edit(&mut app.db.connect(), &sql(&org));
    let (ok, out, _) = crust_on(&app.db.url, &["audit", "verify"]);
    assert!(!ok, "verify must fail: {out}");
    out
}

fn superuser_edit(conn: &mut PgConnection, sql: &str) {
    use diesel::connection::SimpleConnection;
    conn.batch_execute(&format!(
        "BEGIN; SET LOCAL session_replication_role = replica; {sql}; COMMIT;"
    ))
    .unwrap();
}

#[tokio::test]
async fn audit_prune_pseudonymizes_and_export_writes_a_verifiable_copy() {
    let app = crust_e2e::TestApp::start().await;
    let org = audited_org(&app).await;
    let url = app.db.url.clone();
    let mut conn = app.db.connect();
    let total = count(&mut conn, "SELECT count(*) AS n FROM audit_events");
    let in_org = count(
        &mut conn,
        &format!("SELECT count(*) AS n FROM audit_events WHERE chain = '{org}'"),
    );

    // Nothing is old enough under the default retention.
    let (ok, out, err) = crust_on(&url, &["audit", "prune"]);
    assert!(
        ok && out.contains("pruned 0 events older than 90 days"),
        "{out}{err}"
    );
    // Everything is, with a zero-day period: IPs keep their network, user agents go,
    // and the chain still verifies.
    let (ok, out, _) = crust_on(&url, &["audit", "prune", "--older-than-days", "0"]);
    assert!(
        ok && out.contains(&format!("pruned {total} events")),
        "{out}"
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM audit_events WHERE (ip = '127.0.0.0/24' OR ip IS NULL) AND client_salt IS NULL AND pruned_at IS NOT NULL"
        ),
        total
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM audit_events WHERE user_agent IS NOT NULL AND user_agent <> '[pruned]'"
        ),
        0
    );
    let (ok, out, _) = crust_on(&url, &["audit", "verify"]);
    assert!(
        ok && out.contains("intact"),
        "pruning keeps the chain: {out}"
    );

    // The export: one JSON line per event of the organization, oldest first, with what
    // an investigator needs to check the links.
    let file = std::env::temp_dir().join(format!("crust-export-{}.jsonl", uuid::Uuid::new_v4()));
    let (ok, _, err) = crust_on(
        &url,
        &[
            "audit",
            "export",
            "--org",
            &org,
            "--out",
            file.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    assert!(err.contains(&format!("exported {in_org} events")), "{err}");
    let text = std::fs::read_to_string(&file).unwrap();
    let _ = std::fs::remove_file(&file);
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len() as i64, in_org);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["sequence"], i as i64 + 1);
        assert_eq!(line["organizationId"], org.as_str());
        assert_eq!(line["hash"].as_str().unwrap().len(), 64);
        if i > 0 {
            assert_eq!(line["prevHash"], lines[i - 1]["hash"], "linked");
        }
    }
    assert_eq!(lines[0]["action"], "createOrganization");

    // A time window: nothing in the future; and bad input is explained.
    let (ok, _, err) = crust_on(
        &url,
        &["audit", "export", "--org", &org, "--from", "2999-01-01"],
    );
    assert!(ok && err.contains("exported 0 events"), "{err}");
    let (ok, _, err) = crust_on(
        &url,
        &["audit", "export", "--org", &org, "--from", "yesterday"],
    );
    assert!(!ok && err.contains("neither RFC 3339"), "{err}");
    let (ok, _, err) = crust_on(&url, &["audit", "export"]);
    assert!(!ok && err.contains("--org"), "{err}");
    let (ok, out, _) = crust_on(&url, &["audit", "export", "--global"]);
    assert!(ok && out.contains("\"action\":\"login\""), "{out}");
}

/// `crust serve` on a fresh database with test hooks and a one-second grace period.
/// An account as `crust user create` makes it (verified), with the test password.
fn create_verified_user(db: &TestDb, email: &str) {
    let hash = crust_dal::password::PasswordHasher::new(TEST_PEPPER, 4)
        .unwrap()
        .hash(crust_e2e::TEST_PASSWORD)
        .unwrap();
    crust_dal::users::create_verified(
        &crust_dal::Operator::at_console(),
        &mut db.connect(),
        email,
        "Stall",
        &hash,
    )
    .unwrap();
}

fn serve_with_hooks(url: &str, port: u16) -> Killed {
    Killed(
        crust()
            .args(["serve", "--no-migrate"])
            .env("CRUST_PROFILE", "test")
            .env("DATABASE_URL", url)
            .env("CRUST_BIND", format!("127.0.0.1:{port}"))
            .env("CRUST_JWT_SECRET", crust_e2e::TEST_JWT_SECRET)
            .env("CRUST_PASSWORD_PEPPER", TEST_PEPPER)
            .env("CRUST_BCRYPT_COST", "4")
            .env("CRUST_TEST_HOOKS", "true")
            .env("CRUST_SHUTDOWN_GRACE_SECS", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

async fn wait_healthy(http: &reqwest::Client, base: &str) {
    let started = Instant::now();
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "never healthy");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sends SIGTERM and returns how long the process took to exit, and its status.
fn terminate(server: &mut Killed) -> (Duration, std::process::ExitStatus) {
    let started = Instant::now();
    let pid = server.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            return (started.elapsed(), status);
        }
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "still running 40 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_is_graceful_and_has_a_hard_deadline() {
    let db = TestDb::migrated().await;
    let http = reqwest::Client::new();

    // Nothing in flight: SIGTERM stops the server at once, cleanly.
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = serve_with_hooks(&db.url, port);
    wait_healthy(&http, &base).await;
    let (took, status) = terminate(&mut server);
    assert!(status.success(), "{status}");
    assert!(took < Duration::from_secs(5), "{took:?}");

    // A request stuck on every worker thread (each blocks it for a minute) cannot hold
    // the process: it exits by the grace period plus the margin.
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = serve_with_hooks(&db.url, port);
    wait_healthy(&http, &base).await;
    create_verified_user(&db, "stall@example.test");
    let signed = gql(
        &http,
        &base,
        None,
        "mutation($i: LoginInput!) { login(input: $i) { accessToken } }",
        json!({ "i": { "email": "stall@example.test", "password": crust_e2e::TEST_PASSWORD } }),
    )
    .await;
    let token = signed["data"]["login"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{signed}"))
        .to_owned();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    for _ in 0..workers {
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        tokio::spawn(async move {
            let _ = gql(
                &http,
                &base,
                Some(&token),
                "{ crustTestStall: me { id } }",
                json!({}),
            )
            .await;
        });
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (took, status) = terminate(&mut server);
    let deadline = Duration::from_secs(1) + crust_api::server::SHUTDOWN_MARGIN;
    assert!(!status.success(), "a forced exit says so: {status}");
    assert!(
        took >= deadline - Duration::from_millis(500) && took < deadline + Duration::from_secs(5),
        "exited {took:?} after SIGTERM; the deadline is {deadline:?}"
    );
}

#[tokio::test]
async fn mail_test_sends_through_smtp_and_says_so_when_it_cannot() {
    let mut peer = crust_e2e::mail::SmtpPeer::start();
    let url = format!("smtp://127.0.0.1:{}", peer.port);
    let out = crust()
        .args(["mail", "test", "--to", "ops@example.test"])
        .env("CRUST_SMTP_URL", &url)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!(
            "sent a test message to ops@example.test via SMTP 127.0.0.1:{} (plaintext)",
            peer.port
        )),
        "{stdout}"
    );
    let mail = peer
        .wait_for_subject("ops@example.test", "Crust test message")
        .await;
    assert!(mail.body.contains("your mail settings work"));

    peer.stop();
    let out = crust()
        .args(["mail", "test", "--to", "ops@example.test"])
        .env("CRUST_SMTP_URL", &url)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("not sent"), "{stderr}");
    let (ok, _, err) = crust_on(
        "postgres://unused@127.0.0.1/unused",
        &["mail", "test", "--to", "not an address"],
    );
    assert!(!ok && err.contains("valid email"), "{err}");
}

#[tokio::test]
async fn mail_outbox_lists_queued_retrying_and_dead_messages() {
    // A server that queues but does not send: its worker is off.
    let app = crust_e2e::TestApp::start_with(|c| c.mail.worker = false).await;
    let (ok, out, _) = crust_on(&app.db.url, &["mail", "outbox"]);
    assert!(ok && out.contains("the outbox is empty"), "{out}");
    let owner = app.user("owner").await;
    let org = app.create_org(&owner, "Acme").await;
    for who in ["a@example.test", "b@example.test", "c@example.test"] {
        app.ok(&owner, "mutation($o: ID!, $e: String!) { inviteToOrganization(input: {organizationId: $o, email: $e, role: MEMBER}) { email } }", json!({ "o": org, "e": who })).await;
    }
    let mut conn = app.db.connect();
    diesel::sql_query("UPDATE outbox SET attempts = 2, last_error = 'connection refused' WHERE recipient = 'b@example.test'").execute(&mut conn).unwrap();
    diesel::sql_query("UPDATE outbox SET status = 'DEAD', token = NULL, attempts = 10, last_error = '550 mailbox unavailable' WHERE recipient = 'c@example.test'").execute(&mut conn).unwrap();
    let (ok, out, err) = crust_on(&app.db.url, &["mail", "outbox"]);
    assert!(ok, "{err}");
    let line = |who: &str| {
        out.lines()
            .find(|l| l.contains(who))
            .unwrap_or_else(|| panic!("{who} missing: {out}"))
            .to_owned()
    };
    assert!(
        line("a@example.test").starts_with("queued")
            && line("a@example.test").contains("INVITATION"),
        "{out}"
    );
    assert!(
        line("b@example.test").starts_with("retrying")
            && line("b@example.test").contains("connection refused"),
        "{out}"
    );
    assert!(
        line("c@example.test").starts_with("dead") && line("c@example.test").contains("550"),
        "{out}"
    );
    assert!(out.contains("3 message(s)"), "{out}");
    let (ok, _, err) = crust_on(&app.db.url, &["mail", "outbox", "--limit", "0"]);
    assert!(!ok && err.contains("--limit"), "{err}");
}

#[tokio::test]
async fn org_create_list_and_add_member_from_the_console() {
    let db = TestDb::migrated().await;
    create_verified_user(&db, "boss@example.test");
    create_verified_user(&db, "hire@example.test");
    let (ok, out, err) = crust_on(
        &db.url,
        &[
            "org",
            "create",
            "--name",
            "Console Co",
            "--owner",
            "boss@example.test",
        ],
    );
    assert!(ok, "{err}");
    let id = out.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{out}");
    let (ok, out, err) = crust_on(
        &db.url,
        &[
            "org",
            "add-member",
            "--org",
            &id,
            "--email",
            "hire@example.test",
            "--role",
            "admin",
        ],
    );
    assert!(ok && out.contains("is now ADMIN"), "{out}{err}");
    let (ok, out, _) = crust_on(&db.url, &["org", "list"]);
    assert!(
        ok && out.contains("Console Co") && out.contains("2 member(s)"),
        "{out}"
    );
    // Clear refusals: a second time, an unknown address, a bad role.
    let (ok, _, err) = crust_on(
        &db.url,
        &[
            "org",
            "add-member",
            "--org",
            &id,
            "--email",
            "hire@example.test",
            "--role",
            "MEMBER",
        ],
    );
    assert!(!ok && err.contains("already a member"), "{err}");
    let (ok, _, err) = crust_on(
        &db.url,
        &[
            "org",
            "add-member",
            "--org",
            &id,
            "--email",
            "ghost@example.test",
            "--role",
            "MEMBER",
        ],
    );
    assert!(
        !ok && err.contains("no account uses ghost@example.test"),
        "{err}"
    );
    let (ok, _, err) = crust_on(
        &db.url,
        &[
            "org",
            "add-member",
            "--org",
            &id,
            "--email",
            "hire@example.test",
            "--role",
            "king",
        ],
    );
    assert!(!ok && err.contains("OWNER, ADMIN, MEMBER, GUEST"), "{err}");
    // The console's addition is in the organization's audit log.
    let mut conn = db.connect();
    assert_eq!(
        count(&mut conn, &format!("SELECT count(*) AS n FROM audit_events WHERE chain = '{id}' AND action = 'addOrganizationMember' AND reason = 'console'")),
        1
    );
}

/// docker-compose.yml cannot be run here (no Docker engine), so it is read: its services
/// are the topology the README describes, every setting it gives is one the binary
/// reads, its commands are commands the binary has, and the API does not run as the
/// tables' owner.
#[test]
fn the_compose_file_matches_what_the_binary_reads() {
    use yaml_rust2::{Yaml, YamlLoader};
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docker-compose.yml"
    ))
    .unwrap();
    let doc = &YamlLoader::load_from_str(&text).unwrap()[0];
    let services = &doc["services"];
    let names: Vec<&str> = services
        .as_hash()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap())
        .collect();
    for wanted in ["migrate", "api", "db-primary", "db-replica", "mail"] {
        assert!(names.contains(&wanted), "{wanted} missing from {names:?}");
    }
    // Images that exist today: the official postgres image (bitnami's tags were withdrawn).
    for db in ["db-primary", "db-replica"] {
        let image = services[db]["image"].as_str().unwrap();
        assert!(image.starts_with("postgres:"), "{db}: {image}");
    }
    let known: Vec<&str> = crust_api::Config::settings()
        .iter()
        .map(|s| s.env)
        .collect();
    let env_of = |service: &str| -> Vec<(String, String)> {
        services[service]["environment"]
            .as_hash()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().unwrap().to_owned(),
                    v.as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    };
    for service in ["migrate", "api"] {
        for (key, _) in env_of(service) {
            assert!(
                key == "DATABASE_URL" || known.contains(&key.as_str()),
                "{service} sets {key}, which the binary does not read"
            );
        }
        // Its command is one the binary has.
        let command: Vec<String> = services[service]["command"]
            .as_vec()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        let out = crust().args(&command).arg("--help").output().unwrap();
        assert!(
            out.status.success(),
            "{service}: `crust {}` is not a command",
            command.join(" ")
        );
    }
    let user_of = |url: &str| {
        url.split("://")
            .nth(1)
            .and_then(|r| r.split(':').next())
            .unwrap()
            .to_owned()
    };
    let url = |service: &str| {
        env_of(service)
            .into_iter()
            .find(|(k, _)| k == "DATABASE_URL")
            .unwrap()
            .1
    };
    assert_eq!(
        user_of(&url("migrate")),
        "crust",
        "migrations run as the tables' owner"
    );
    assert_eq!(
        user_of(&url("api")),
        "crust_server",
        "the API does not run as the owner"
    );
    assert_eq!(services["api"]["command"][1].as_str(), Some("--no-migrate"));
    assert_eq!(
        services["api"]["depends_on"]["migrate"]["condition"].as_str(),
        Some("service_completed_successfully"),
        "the API starts once the migrations ran"
    );
    // The replica: TLS on, our pg_hba with no line but TLS ones (and the local superuser).
    let replica = &services["db-replica"];
    let mounts: Vec<&str> = replica["volumes"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        mounts
            .iter()
            .any(|m| m.starts_with("./deploy/replica/pg_hba.conf:")),
        "{mounts:?}"
    );
    let start = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/replica/start.sh"
    ))
    .unwrap();
    for flag in [
        "ssl=on",
        "hba_file=/etc/crust/pg_hba.conf",
        "pg_basebackup",
        "-R",
    ] {
        assert!(start.contains(flag), "start.sh lacks {flag}");
    }
    let hba = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/replica/pg_hba.conf"
    ))
    .unwrap();
    for line in hba
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
    {
        assert!(
            line.starts_with("hostssl ") || line == "local all postgres peer",
            "{line}"
        );
    }
    assert!(matches!(services["mail"]["image"], Yaml::String(ref s) if s.contains("mailpit")));
}
